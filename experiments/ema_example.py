"""EMA Workbench on quartiersim: which Verstetigung strategy and how many Gemeinwesenarbeit posts, under uncertainty.

Needs the ``ema`` extra (``pip install -e ".[ema]"``). Run it from the repository:

    .venv/bin/python experiments/ema_example.py

20 uncertainty samples (visiting and loneliness contagion within their declared ranges) x 4 policies (the
Verstetigung strategy and the posts of Gemeinwesenarbeit in Neckarvorstadt) x 2 seeds = 160 runs of the
Neckarvorstadt pilot quarter at scale 0.2 (about a minute on 2 cores). Each outcome is the mean over the seeds.
``QUARTIERSIM_EXAMPLE_SMALL=1`` (the tests) runs 2 x 2 experiments of one seed at scale 0.05.
"""

import os

from ema_workbench import MultiprocessingEvaluator, SequentialEvaluator

from quartiersim.ema import ema_model

SMALL = bool(os.environ.get("QUARTIERSIM_EXAMPLE_SMALL"))
N_SCENARIOS, N_POLICIES = (2, 2) if SMALL else (20, 4)

model = ema_model(
    "verstetigung_funding_ends",
    uncertainties=["visit_base", "lonely_contagion"],  # their declared ranges (quartiersim params)
    levers={"verstetigung.strategy": ["funding_ends", "permanent_posts", "meeting_places"],
            "roles.Gemeinwesenarbeit Neckarvorstadt.fte": (0.5, 2.0)},
    outcomes=[{"indicator": "lonely_adults", "year": 2030},
              {"indicator": "cost_eur", "years": [2028, 2030], "aggregate": "sum"}],
    seeds=1 if SMALL else 2,
    stadtteile=["Neckarvorstadt"], bezirke=None, scale=0.05 if SMALL else 0.2, end="2030-12-31",
)

if __name__ == "__main__":
    # worker processes use one numba thread each by themselves (quartiersim.threads), so both evaluators suit
    Evaluator = SequentialEvaluator if SMALL else MultiprocessingEvaluator
    with Evaluator(model) as evaluator:
        experiments, outcomes = evaluator.perform_experiments(scenarios=N_SCENARIOS, policies=N_POLICIES)
    table = experiments[["strategy", "fte_gemeinwesenarbeit_neckarvorstadt"]].assign(**outcomes)
    print(table.groupby("strategy")[list(outcomes)].mean())
