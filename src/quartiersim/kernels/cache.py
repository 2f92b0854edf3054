"""Keeping numba's cache of compiled kernels true to the source they were compiled from.

numba keys a cached function to its own source file only (its modification time and size). The kernels of
:mod:`.core` also compile in code and constants from other modules: the counter-based draws of :mod:`.random`
are inlined, and :data:`.state.NEVER` is frozen into the machine code. After a change to one of those files
alone, numba would load the old machine code and a run would silently follow the old rules.
:func:`drop_if_changed` closes that gap: it keeps a digest of the files a module's kernels compile in beside
numba's cache, and when the digest differs it removes the module's cache index, so every kernel of the module
is compiled anew on its first call.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any


def drop_if_changed(dispatcher: Any, module: str, sources: list[Path]) -> bool:
    """Remove module ``module``'s cached kernels if ``sources`` changed since they were cached.

    Args:
        dispatcher: one ``@njit(cache=True)`` function of the module (its cache folder is the module's).
        module: the module's file name without ``.py`` (numba names its cache files after it).
        sources: the files its kernels compile in besides their own.

    Returns:
        Whether cached kernels were removed. Nothing happens where numba keeps no cache folder or it cannot be
        written (numba then compiles anyway, or falls back to a folder of its own).

    """
    digest = hashlib.sha256(b"".join(Path(p).read_bytes() for p in sources)).hexdigest()
    try:
        folder = Path(dispatcher._cache._cache_path)  # numba's chosen cache folder for the module
    except AttributeError:  # not a caching dispatcher, or numba's internals changed: keep numba's own behaviour
        return False
    stamp = folder / f"{module}.sources-digest"
    try:
        if stamp.is_file() and stamp.read_text() == digest:
            return False
        dropped = False
        for index in folder.glob(f"{module}.*.nbi"):
            index.unlink(missing_ok=True)
            dropped = True
        folder.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest)
    except OSError:
        return False
    return dropped
