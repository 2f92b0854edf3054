"""How numba compiles the kernels: no wrap-around of negative indices, and arrays that do not overlap.

numba compiles every function under two rules that cost the kernels time without serving them:

* **Wrap-around.** numba follows Python in reading ``a[-1]`` as the last element. For every index of a signed
  type (and the kernels' indices are signed: resident ids, slots, ages) it compiles a test for a negative value
  and a select that adds the array's length, at every read and every write. numba has no option to leave this
  out (its bounds checks are off by default; this rule is not). The kernels never index with a negative
  number: the -1 that marks a free tie slot or "no venue" is tested or clamped (``max(j, 0)``) before it is
  used as an index, and the last element is written ``a[a.shape[0] - 1]``. For them the test is dead code that
  LLVM cannot prove dead, and the selects on every index keep it from simplifying the loops.
* **Aliasing.** numba lets any two arrays a function is given overlap in memory, so LLVM must assume that a
  write to one may change what another holds: it reloads values and leaves loops unvectorised. numba tells
  LLVM otherwise (``noalias``) only for the loops of ``parallel=True`` it has checked itself; the option is
  not offered for other functions. The kernels' arrays are the model's own, each allocated on its own
  (:func:`check_separate` holds the model to it when it builds its bundles).

:func:`install` changes both for the functions of ``quartiersim.kernels`` only, told apart by the name numba
gives their machine code (it spells the function's module): it wraps numba's fix-up of an integer index
(``numba.np.arrayobj.fix_integer_index``) so that they take a signed index as it is, as they take an unsigned
one, and numba's decoration of a compiled function's arguments (``CPUCallConv.decorate_function``) so that
their array arguments are marked ``noalias``, as numba marks those of its checked parallel loops. Every other
function, the user's own and numba's included, keeps numba's rules. Together they made the week kernel about
20 % faster with the same numbers (benchmarks/README.md, section 14). If a numba version no longer has those
functions with those signatures, nothing is wrapped and the kernels run under numba's rules, slower, with the
same results.

A negative index in a kernel would now read or write outside the array instead of wrapping around, the same as
an index past the end does in numba's default mode. ``tests/test_kernels.py`` runs the kernel tests again with
numba's bounds checks on (``NUMBA_BOUNDSCHECK=1``), under which any negative index raises ``IndexError``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numba.core import callconv, types
from numba.np import arrayobj
from numpy.lib.array_utils import byte_bounds

#: how numba's mangled machine-code names spell functions of the package ``quartiersim.kernels``
KERNELS_MANGLED = "11quartiersim7kernels"

_MARK = "_quartiersim_wraps"  # set on a wrapper: the numba function it wraps

_Wrapping = Callable[[Callable[..., Any]], Callable[..., Any]]


def _wrap(owner: Any, name: str, parameters: list[str], make: _Wrapping) -> None:
    """Replace ``owner.name`` by ``make(numba's function)``, once, if numba's function has ``parameters``."""
    numba_function = getattr(owner, name, None)
    if numba_function is None or getattr(numba_function, _MARK, None) is not None:
        return
    if list(inspect.signature(numba_function).parameters) != parameters:
        return
    wrapper = make(numba_function)
    setattr(wrapper, _MARK, numba_function)
    setattr(owner, name, wrapper)


def _index_as_given(numba_fix: Callable[..., Any]) -> Callable[..., Any]:
    def fix_integer_index(context: Any, builder: Any, idxty: Any, idx: Any, size: Any) -> Any:
        if idxty.signed and KERNELS_MANGLED in builder.function.name:
            return context.cast(builder, idx, idxty, types.intp)
        return numba_fix(context, builder, idxty, idx, size)

    return fix_integer_index


def _arrays_noalias(numba_decorate: Callable[..., Any]) -> Callable[..., Any]:
    def decorate_function(self: Any, fn: Any, args: Any, fe_argtypes: Any, noalias: bool = False) -> Any:
        return numba_decorate(self, fn, args, fe_argtypes, noalias or KERNELS_MANGLED in fn.name)

    return decorate_function


def install() -> dict[str, bool]:
    """Compile the kernels of ``quartiersim.kernels`` without wrap-around and with ``noalias`` arrays.

    Idempotent. Must run before the kernels are compiled (``core`` calls it on import); kernels already in
    numba's cache were compiled under it, since every version of ``core`` that caches them installs it first.
    Returns which of the two is in effect (see :func:`installed`).
    """
    _wrap(arrayobj, "fix_integer_index", ["context", "builder", "idxty", "idx", "size"], _index_as_given)
    conv = getattr(callconv, "CPUCallConv", None)
    if conv is not None:
        _wrap(conv, "decorate_function", ["self", "fn", "args", "fe_argtypes", "noalias"], _arrays_noalias)
    return installed()


def installed() -> dict[str, bool]:
    """Whether the kernels index without wrap-around, and whether their arrays are marked ``noalias``."""
    conv = getattr(callconv, "CPUCallConv", None)
    return {"no_wraparound": getattr(getattr(arrayobj, "fix_integer_index", None), _MARK, None) is not None,
            "noalias": getattr(getattr(conv, "decorate_function", None), _MARK, None) is not None}


def check_separate(named: Mapping[str, Any]) -> None:
    """Raise ``RuntimeError`` if two arrays among ``named`` share memory.

    ``named`` maps names to bundles (named tuples of arrays) or arrays. The kernels' arrays are marked
    ``noalias`` (see above): two of them that overlapped would give wrong numbers, not an error. The model
    checks its bundles once they are built; sorting the arrays' byte ranges makes it cheap (an overlap, if any,
    is between neighbours in that order).
    """
    spans = []
    for label, value in named.items():
        fields = zip(value._fields, value, strict=True) if hasattr(value, "_fields") else [(None, value)]
        for field, a in fields:
            if isinstance(a, np.ndarray) and a.nbytes > 0:
                lo, hi = byte_bounds(a)
                spans.append((lo, hi, label if field is None else f"{label}.{field}"))
    spans.sort()
    for (_, hi, first), (lo, _, second) in zip(spans, spans[1:], strict=False):
        if lo < hi:
            raise RuntimeError(f"the kernels' arrays {first} and {second} share memory; each must have its own "
                               "(quartiersim.kernels.codegen)")
