"""Array indexing in the kernels without numba's wrap-around of negative indices.

numba follows Python in reading ``a[-1]`` as the last element. For every index of a signed type (and the
kernels' indices are signed: resident ids, slots, ages) it therefore compiles a test for a negative value and
a select that adds the array's length, at every read and every write. numba has no option to leave this out
(its bounds checks are off by default; this rule is not). The kernels of this package never index with a
negative number: the -1 that marks a free tie slot or "no venue" is tested or clamped (``max(j, 0)``) before
it is used as an index, and the last element is written ``a[a.shape[0] - 1]``. For them the test is dead
code, but LLVM cannot prove it, and the selects on every index keep it from simplifying the loops: leaving
them out made the week kernel 12 to 14 % faster and a small run's spin-up 17 % faster, with the same numbers
(benchmarks/README.md, section 14).

:func:`install` wraps numba's fix-up of an integer index (``numba.np.arrayobj.fix_integer_index``) so that
the functions of ``quartiersim.kernels``, told apart by the name numba gives their machine code (it spells the
function's module), take a signed index as it is, as they take an unsigned one. Every other function, the
user's own and numba's included, keeps numba's rule. If a numba version no longer has that function with
that signature, nothing is wrapped and the kernels run with numba's rule, slower but with the same results.

A negative index in a kernel would now read or write outside the array instead of wrapping around, the
same as an index past the end does in numba's default mode. ``tests/test_kernels.py`` runs the kernels with
numba's bounds checks on (``NUMBA_BOUNDSCHECK=1``), under which any negative index raises ``IndexError``.
"""

from __future__ import annotations

import inspect
from typing import Any

from numba.core import types
from numba.np import arrayobj

#: how numba's mangled machine-code names spell functions of the package ``quartiersim.kernels``
KERNELS_MANGLED = "11quartiersim7kernels"

_SIGNATURE = ["context", "builder", "idxty", "idx", "size"]


def install() -> bool:
    """Make the kernels of ``quartiersim.kernels`` index without wrap-around; whether that is in effect.

    Idempotent. Must run before the kernels are compiled (``core`` calls it on import); kernels already in
    numba's cache were compiled under it, since every version of ``core`` that caches them installs it first.
    """
    numba_fix = getattr(arrayobj, "fix_integer_index", None)
    if numba_fix is None:
        return False
    if getattr(numba_fix, "_quartiersim_numba_fix", None) is not None:
        return True
    if list(inspect.signature(numba_fix).parameters) != _SIGNATURE:
        return False

    def fix_integer_index(context: Any, builder: Any, idxty: Any, idx: Any, size: Any) -> Any:
        if idxty.signed and KERNELS_MANGLED in builder.function.name:
            return context.cast(builder, idx, idxty, types.intp)
        return numba_fix(context, builder, idxty, idx, size)

    fix_integer_index._quartiersim_numba_fix = numba_fix  # type: ignore[attr-defined]
    arrayobj.fix_integer_index = fix_integer_index
    return True


def installed() -> bool:
    """Whether the kernels index without wrap-around in this process."""
    return getattr(arrayobj.fix_integer_index, "_quartiersim_numba_fix", None) is not None
