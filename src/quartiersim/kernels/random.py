"""Counter-based uniform numbers for the kernels, and their plain-Python twins.

A draw is a pure function of ``(week key, counter, draw)`` through the splitmix64 finaliser, so kernels can
visit residents in any order (or in parallel) and still see the same numbers, and the plain-Python
references reproduce them bit for bit. Kernel code imports nothing else from the package.
"""

from __future__ import annotations

from numba import njit, uint64

MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
_STRIDE = 0xD1B54A32D192ED03
_INV53 = 1.0 / 9007199254740992.0  # 2**-53

@njit(cache=True, inline="always")
def mix64(z):
    """Splitmix64 finaliser: a bijective 64-bit mix (uint64 in, uint64 out)."""
    z = uint64(z)
    z = (z ^ (z >> uint64(30))) * uint64(_M1)
    z = (z ^ (z >> uint64(27))) * uint64(_M2)
    return z ^ (z >> uint64(31))


@njit(cache=True)
def week_key(stream_key, week):
    """The key of one stream in one week (computed once per kernel call)."""
    return mix64(uint64(stream_key) ^ mix64(uint64(week) * uint64(_GOLDEN) + uint64(1)))


@njit(cache=True)
def week_keys(stream_keys, week, out):
    """The week keys of several streams at once: ``out[k]`` is ``week_key(stream_keys[k], week)``."""
    for k in range(stream_keys.shape[0]):
        out[k] = week_key(stream_keys[k], week)


@njit(cache=True, inline="always")
def uniform(wkey, counter, draw):
    """A uniform number in [0, 1) for (week key, counter, draw); counters are resident or Stadtteil ids."""
    h = mix64(wkey ^ (uint64(counter) * uint64(_STRIDE) + uint64(draw) * uint64(_GOLDEN)))
    return float(h >> uint64(11)) * _INV53


def mix64_py(z: int) -> int:
    """Plain-Python :func:`mix64`."""
    z &= MASK64
    z = ((z ^ (z >> 30)) * _M1) & MASK64
    z = ((z ^ (z >> 27)) * _M2) & MASK64
    return z ^ (z >> 31)


def week_key_py(stream_key: int, week: int) -> int:
    """Plain-Python :func:`week_key`."""
    return mix64_py(int(stream_key) ^ mix64_py((int(week) * _GOLDEN + 1) & MASK64))


def uniform_py(wkey: int, counter: int, draw: int) -> float:
    """Plain-Python :func:`uniform`, bit-identical to the numba version."""
    h = mix64_py(int(wkey) ^ ((int(counter) * _STRIDE + int(draw) * _GOLDEN) & MASK64))
    return float(h >> 11) * _INV53


