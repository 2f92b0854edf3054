"""quartiersim: agent-based simulation of social quarter development in Stuttgart's 152 Stadtteile.

The small public API:

* :func:`simulate` runs a scenario and returns the tidy table ``date, stadtteil, indicator, group, value``;
* :class:`QuarterModel` is the Mesa model (build, ``step()``, ``results()``);
* :func:`load_scenario` reads and validates a scenario file; :data:`PARAMS` declares every parameter;
* :func:`outcome` takes one number from a run's table (an indicator in a year, or summed over years);
* :mod:`quartiersim.ema` (optional extra ``ema``) makes an EMA Workbench model of a scenario.

Importing the package changes no global state.
"""

import sys

if sys.version_info < (3, 12):  # noqa: UP036 - running from a source tree on an older Python: say so before anything else fails
    raise ImportError(f"quartiersim needs Python 3.12 or newer (Mesa 3.4+ does); this is Python "
                      f"{sys.version.split()[0]}. Create the virtual environment with python3.12.")

from quartiersim.experiments import outcome  # noqa: E402
from quartiersim.model import QuarterModel
from quartiersim.parameters import PARAMS, ParameterSet
from quartiersim.run import read_results, simulate
from quartiersim.spec import Scenario, load_scenario

__all__ = ["PARAMS", "ParameterSet", "QuarterModel", "Scenario", "load_scenario", "outcome", "read_results",
           "simulate"]
__version__ = "0.1.0"
