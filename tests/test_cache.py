"""numba's cache of compiled kernels follows the modules they compile in, not only their own file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_A = """from numba import njit


@njit(inline="always")
def step(x):
    return x + {by}
"""
_B = """from pathlib import Path

from numba import njit

from quartiersim.kernels.cache import drop_if_changed

from .a import step


@njit(cache=True)
def kernel(x):
    return step(x)


DROPPED = drop_if_changed(kernel, "b", [Path(__file__).with_name("a.py")])
"""


def _run(root: Path) -> str:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    code = "import pkg.b as b; print(b.kernel(1), b.DROPPED)"
    return subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def test_a_kernel_cached_before_a_module_it_inlines_changed_is_compiled_anew(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text(_A.format(by=1))
    (pkg / "b.py").write_text(_B)
    assert _run(tmp_path) == "2 False"  # compiled and cached; nothing to drop
    assert list((pkg / "__pycache__").glob("b.kernel-*.nbi")), "numba cached the kernel"
    assert _run(tmp_path) == "2 False"  # from the cache, sources unchanged
    (pkg / "a.py").write_text(_A.format(by=2))  # only the inlined module changes, b.py is untouched
    assert _run(tmp_path) == "3 True"
    assert _run(tmp_path) == "3 False"


def test_the_model_kernels_keep_a_digest_of_what_they_compile_in():
    from quartiersim.kernels import core

    folder = Path(core.week_step._cache._cache_path)
    assert (folder / "core.sources-digest").is_file()
