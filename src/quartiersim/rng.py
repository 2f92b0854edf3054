"""Random streams: one seed per run, one stream per random process, counter-based draws.

A run's seed feeds one :class:`numpy.random.SeedSequence`. Each named random process (population synthesis,
visits, encounters, loneliness, ...) gets its own 64-bit stream key from it. Inside the weekly kernels a
uniform number is a pure function of ``(stream key, week, counter, draw)``, computed with the splitmix64
finaliser. That gives three properties the project relies on:

* **common random numbers**: resident 17's loneliness draw in week 40 is the same in every scenario run with
  the same seed, so adding an intervention does not shift other processes and scenario differences are paired;
* **order independence**: kernels may run their Stadtteile in any order or in parallel and still draw the
  same numbers, so serial, parallel and distributed runs give identical results;
* **exact references**: the plain-Python kernel references compute the same numbers bit for bit
  (:func:`quartiersim.kernels.random.uniform_py`), so the numba kernels can be held to them exactly.
"""

from __future__ import annotations

import hashlib

import numpy as np

STREAMS: tuple[str, ...] = (
    "population",
    "places",
    "ties_init",
    "demography",
    "awareness",
    "visits",
    "encounters",
    "ties",
    "loneliness",
    "participation",
    "initiatives",
    "initiatives_init",
)


def _stream_id(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


class RunStreams:
    """The random streams of one run, all derived from one seed.

    Args:
        seed: a non-negative integer.

    """

    def __init__(self, seed: int):
        if int(seed) < 0:
            raise ValueError("seed must be a non-negative integer")
        self.seed = int(seed)

    def _sequence(self, name: str) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.seed, spawn_key=(_stream_id(name),))

    def key(self, name: str) -> int:
        """The 64-bit key of a counter-based stream."""
        return int(self._sequence(name).generate_state(1, dtype=np.uint64)[0])

    def generator(self, name: str) -> np.random.Generator:
        """A numpy Generator for vectorised draws of one process (population synthesis and set-up)."""
        return np.random.Generator(np.random.PCG64(self._sequence(name)))

    def keys(self) -> dict[str, int]:
        """Keys of all the model's streams."""
        return {name: self.key(name) for name in STREAMS}
