"""The calibration's simulator as a pyabc model that stops a simulation once it can no longer be accepted.

ABC-SMC accepts a simulation when its distance to the targets is at most the generation's threshold, and in the
later generations it rejects most of them. The distance (:class:`quartiersim.calibration.Distance`) is the root
mean square of the targets' z-scores, so the targets whose years are already over bound it from below: the
terms still missing are squares and cannot make it smaller. :class:`EarlyRejection` runs a simulation year by
year up to each year in which some targets' statistics become final (:func:`quartiersim.calibration.stages`),
and stops it as soon as that bound exceeds the threshold. A simulation it lets run to the end is judged by
pyabc's own distance and acceptor, exactly as without it, and one it stops would have been rejected anyway, so
the accepted particles, their weights and the thresholds are the same (tested with one worker, where a
calibration is reproducible). Only time changes: in the shipped calibration Weilimdorf's loneliness targets are
final after 2025, and a simulation they already rule out does not run Neckarvorstadt on to 2030.

This module imports pyabc, so :mod:`quartiersim.calibration` imports it only when a calibration runs.
"""

from __future__ import annotations

import math
from typing import Any

import pyabc
from pyabc.model import ModelResult

#: The bound must exceed the threshold by this share before a simulation is stopped: far more than the rounding
#: by which the bound and pyabc's distance can differ (a few units in the 16th digit), far less than any
#: distance a threshold tells apart.
MARGIN = 1e-9


class EarlyRejection(pyabc.Model):
    """The simulator (on the sampler's scale) as a pyabc model with early rejection.

    Args:
        simulator: a :class:`quartiersim.calibration.OnNormalScale`.
        distance: the calibration's :class:`quartiersim.calibration.Distance`.
        enabled: False runs every simulation to its end (``[abc] early_rejection = false``).
        counted: called with the number of simulations this model has run, after each (one worker's progress).

    """

    def __init__(self, simulator: Any, distance: Any, enabled: bool = True, counted: Any = None):
        super().__init__(name="quartiersim")
        self.simulator, self.distance, self.enabled, self.counted = simulator, distance, enabled, counted
        self.simulations = 0
        self.stopped = 0  # simulations stopped early (counted in this process only)

    def sample(self, pars: Any) -> dict[str, float]:
        """A whole simulation: the targets' statistics (pyabc's first sample, which sets the first threshold)."""
        return self._done(self.simulator(dict(pars)))

    def beyond(self, partial: dict[str, float], observed: dict[str, float], eps: float) -> bool:
        """Whether the statistics so far put a simulation beyond the threshold ``eps``, whatever comes."""
        return self.distance.lower_bound(partial, observed) > eps * (1.0 + MARGIN)

    def _judged_by_the_bound(self, distance_calculator: Any, acceptor: Any) -> bool:
        """Whether pyabc judges with this model's distance and accepts at ``d <= eps``: what the bound assumes."""
        return (getattr(distance_calculator, "fun", None) is self.distance
                and type(acceptor) is pyabc.UniformAcceptor and not acceptor.use_complete_history)

    def accept(self, t: int, pars: Any, sum_stat_calculator: Any, distance_calculator: Any, eps_calculator: Any,
               acceptor: Any, x_0: dict) -> ModelResult:
        """Simulate, stopping early where the bound exceeds the threshold; otherwise judge as pyabc does."""
        eps = float(eps_calculator(t))
        if self.enabled and math.isfinite(eps) and self._judged_by_the_bound(distance_calculator, acceptor):
            stats = self.simulator(dict(pars), reject=lambda partial: self.beyond(partial, x_0, eps))
            if stats is None:
                self.stopped += 1
                self._done(None)
                return ModelResult(accepted=False)
            self._done(stats)
        else:
            stats = self.sample(pars)
        # as pyabc.Model.accept does with the whole run's statistics
        result = ModelResult(sum_stat=sum_stat_calculator(stats))
        judged = acceptor(distance_function=distance_calculator, eps=eps_calculator, x=result.sum_stat, x_0=x_0,
                          t=t, par=pars)
        result.distance, result.accepted, result.weight = judged.distance, judged.accept, judged.weight
        return result

    def _done(self, stats: Any) -> Any:
        self.simulations += 1
        if self.counted is not None:
            self.counted(self.simulations)
        return stats

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["counted"] = None  # the progress callback stays in the process that shows it
        return state
