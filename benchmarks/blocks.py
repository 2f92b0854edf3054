"""The week kernel's blocks of Stadtteile against one Stadtteil at a time, in the same run.

    python benchmarks/blocks.py [--repeats 5] [--scales 0.03 0.12 1.0]

``week_step`` takes each block of neighbouring Stadtteile (``kernels.core.stadtteil_blocks``: at most
``BLOCK_RESIDENTS`` agents, or one larger Stadtteil) through the week phase by phase. Blocks of a single
Stadtteil give the order the kernel had before: each Stadtteil through all eight phases before the next. For the
whole city at each scale (the calibration's small runs are at 0.03, about 120 agents a Stadtteil), one thread,
no spin-up, this times a year of weeks (half a year for the whole city) with the default blocks and with single
Stadtteile, in turns with the same seeds, checks that both end in the same state, and prints the median
milliseconds a week (the whole step: the kernel, the roles, the books and the reports) and their ratio (above 1:
the blocks are faster).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import statistics
import time

import numba
import numpy as np

from quartiersim.kernels import core
from quartiersim.model import QuarterModel


def _state(model: QuarterModel) -> str:
    """A digest of the residents', ties' and initiatives' arrays and the week's counts."""
    digest = hashlib.sha256()
    for bundle in (model.pop, model.ties, model.inits):
        for name, arr in zip(bundle._fields, bundle, strict=True):
            if isinstance(arr, np.ndarray) and name != "order":
                digest.update(np.ascontiguousarray(arr).tobytes())
    digest.update(model.counts.tobytes())
    return digest.hexdigest()


def _week_ms(scale: float, seed: int, single: bool) -> tuple[float, str, int]:
    """Milliseconds a week, the final state's digest and the blocks, for one run."""
    end = dt.date(2024, 12, 31) if scale < 0.5 else dt.date(2024, 6, 30)
    model = QuarterModel("baseline", rng=seed, scale=scale, end=end, spinup_weeks=0, report="yearly")
    if single:
        model._blocks = core.stadtteil_blocks(model.pop.st_off, 1)
    t0 = time.perf_counter()
    model.run()
    return (time.perf_counter() - t0) / model.n_weeks * 1e3, _state(model), len(model._blocks) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scales", type=float, nargs="+", default=[0.03, 0.12, 1.0])
    args = parser.parse_args()
    numba.set_num_threads(1)
    QuarterModel("baseline", rng=0, scale=0.01, end="2024-03-01", spinup_weeks=2).run()  # loads the kernels
    print(f"blocks of at most {core.BLOCK_RESIDENTS:,} agents against single Stadtteile, one thread, "
          f"median of {args.repeats}:")
    for scale in args.scales:
        times: dict[bool, list[float]] = {False: [], True: []}
        same = True
        n_blocks = 0
        for seed in range(args.repeats):
            digests = {}
            for single in ((False, True) if seed % 2 == 0 else (True, False)):  # in turns, either first
                ms, digests[single], blocks = _week_ms(scale, seed, single)
                times[single].append(ms)
                n_blocks = blocks if not single else n_blocks
            same &= digests[False] == digests[True]
        blocked, single = statistics.median(times[False]), statistics.median(times[True])
        print(f"  scale {scale}: {n_blocks} blocks {blocked:.3f} ms a week, single Stadtteile {single:.3f} ms; "
              f"ratio {single / blocked:.3f}; same state: {'yes' if same else 'NO'}", flush=True)


if __name__ == "__main__":
    main()
