"""Regenerate the fixed-seed regression baseline (run on purpose after an intended model change)."""

from pathlib import Path

import quartiersim
from quartiersim.outputs import CITY
from test_model import SMALL

if __name__ == "__main__":
    table = quartiersim.simulate("neckarvorstadt", seed=2024, **SMALL)
    out = Path(__file__).parent / "data" / "regression_baseline.csv"
    out.parent.mkdir(exist_ok=True)
    table[table["stadtteil"] == CITY].to_csv(out, index=False, float_format="%.17g")
    print(f"wrote {out}")
