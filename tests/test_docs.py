"""The documents stay true to the code: ODD parameter tables, phases and README commands."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from quartiersim.model import QuarterModel
from quartiersim.outputs import INDICATORS
from quartiersim.parameters import PARAMS, markdown_tables

ROOT = Path(__file__).resolve().parents[1]


def test_odd_parameter_tables_match_declarations():
    odd = (ROOT / "docs" / "ODD.md").read_text(encoding="utf-8")
    block = odd.split("<!-- parameters:begin -->\n")[1].split("<!-- parameters:end -->")[0]
    assert block == markdown_tables(), "run `python docs/update_odd.py`"
    for p in PARAMS:
        assert f"`{p.name}`" in block


def test_odd_names_every_phase_and_indicator():
    odd = (ROOT / "docs" / "ODD.md").read_text(encoding="utf-8")
    for phase in QuarterModel.PHASES:
        assert f"**{phase}**" in odd
    for indicator in INDICATORS:
        assert f"`{indicator}`" in odd


def test_readme_explains_every_dependency_and_has_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    deps = re.findall(r'^\s+"([A-Za-z0-9_.-]+)[><=]', pyproject, flags=re.M)
    assert {"mesa", "numba", "pydantic", "pytest"} <= set(deps)
    for dep in deps:
        assert f"**{dep}**" in readme, f"README does not explain {dep}"
    assert "quartiersim run" in readme and "python -m pytest" in readme


def test_package_import_changes_no_global_state():
    # dependencies (scipy through Mesa) add warning filters of their own: import them first
    # the sweep modules too: no start method, numba thread count or dask client is set, and dask and SALib are
    # imported only when a sweep asks for them. (Not the CLI: rich draws from the random module on import.)
    code = ("import numpy as np, random, sys, warnings, multiprocessing, mesa, numba, pandas, pydantic, scipy.stats;"
            "s = np.random.get_state()[1][:4].tolist(); r = random.getstate(); t = numba.get_num_threads();"
            "m = multiprocessing.get_start_method(allow_none=True);"
            "f = list(warnings.filters); import quartiersim, quartiersim.sweeps, quartiersim.experiments; "
            "assert np.random.get_state()[1][:4].tolist() == s and random.getstate() == r; "
            "assert list(warnings.filters) == f; assert numba.get_num_threads() == t; "
            "assert multiprocessing.get_start_method(allow_none=True) == m; "
            "assert not {'distributed', 'dask', 'SALib'} & set(sys.modules), sorted(sys.modules); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


LAYERS = {  # module -> its layer; a module may import only from its own layer or lower ones
    "errors": 0, "files": 0, "data": 0, "parameters": 0, "rng": 0, "spec": 0, "areas": 0, "strategies": 0,
    "threads": 0,
    "kernels": 1,
    "population": 2, "outputs": 2, "agents": 2, "funding": 2, "model": 2,
    "run": 3, "mesa_baseline": 3, "executors": 3, "compare": 3, "experiments": 3, "posterior": 0,
    "pilot": 2, "abc_model": 3, "calibration": 4, "evaluation": 4, "plots": 4, "patterns": 4,
    "sweeps": 4, "ema": 4, "optimise": 4,
    "cli": 9, "app": 9,
}


#: the one import circle left, and why: a scenario is checked before it runs by making its strategies' plan
#: (spec.check_inputs imports strategies.plan inside the function), while the strategies read the scenario's types
ALLOWED_CYCLES = [["spec", "strategies"]]


def test_no_import_circles():
    """No two modules import each other, directly or round a circle, even for type hints only."""
    import ast

    import networkx as nx

    src = ROOT / "src" / "quartiersim"
    graph = nx.DiGraph()
    for path in src.rglob("*.py"):
        module = path.relative_to(src).parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module else
                     [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                if name.startswith("quartiersim.") and name.split(".")[1] != module:
                    graph.add_edge(module, name.split(".")[1])
    cycles = sorted(sorted(c) for c in nx.simple_cycles(graph))
    assert cycles == ALLOWED_CYCLES


def test_imports_run_one_way():
    """data and parameters -> kernels -> agents and model -> run -> CLI; kernels import nothing of the package."""
    import ast

    src = ROOT / "src" / "quartiersim"
    for path in src.rglob("*.py"):
        rel = path.relative_to(src).with_suffix("")
        module = rel.parts[0] if rel.parts[0] != "__init__" else None
        if module is None:
            continue
        layer = LAYERS[module]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                # relative imports: only within one subpackage (e.g. kernels/core.py -> kernels/random.py)
                assert node.level == 1 and len(rel.parts) > 1, f"{rel} imports from outside its subpackage"
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("quartiersim"):
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("quartiersim")]
            for name in names:
                target = name.split(".")[1] if "." in name else None
                assert target is not None and LAYERS[target] <= layer, f"{rel} imports {name}"
                if module == "kernels":
                    raise AssertionError(f"kernel module {rel} imports {name} from the package")
