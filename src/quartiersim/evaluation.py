"""The evaluator's comparison of an ensemble of runs with pilot data: ``quartiersim evaluate``.

The runs are a sweep store kept by reporting period (``resolution = "report"``), typically the ensemble a
calibration writes (``ensemble.toml``: the calibrated scenario with parameter sets drawn from the posterior).
For each observation (:mod:`quartiersim.pilot`) every run gives the simulated value: on a day, the report whose
period holds that day; over a period, the sum of the reports ending in it for flows and their mean for stocks.

Across the runs: the median and the 50 % and 90 % intervals of the simulated values. The *predictive*
distribution adds each observation's own error (normal with its standard error) to every run, because an
observation would scatter around the truth even if the model were right; coverage, the z-score and the score
use it:

* **coverage**: the share of observations inside the predictive 90 % interval (near 0.9 when model and
  uncertainties are right; far lower: the model misses or the uncertainties are too small);
* **bias**: the mean of simulated median minus observation, in the indicator's unit;
* **CRPS**: the continuous ranked probability score of the predictive ensemble (scoringrules), in the
  indicator's unit; 0 for a perfect, sharp forecast, lower is better.

The report (HTML with the figures embedded, or Markdown) explains this for readers who never opened Python; the
figures and a CSV of every observation with its simulated values are written beside it.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quartiersim.compare import RejectedRunWarning
from quartiersim.errors import InputError
from quartiersim.files import check_run_file, write_atomic
from quartiersim.outputs import CITY, FLOWS, indicator_table
from quartiersim.pilot import read_pilot_data
from quartiersim.plots import GROUP_LABELS
from quartiersim.sweeps import RUNS, open_store

DRAWS = 200  # draws of an observation's error per run in the predictive ensemble


@dataclass
class Evaluation:
    """Observations beside the ensemble, the summary per indicator, and the report's path."""

    observations: pd.DataFrame
    summary: pd.DataFrame
    report: Path
    runs: int


def read_series(files: list[Path], keys: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], pd.DataFrame]:
    """Dates x runs of each (Stadtteil, indicator, group) in ``keys``, reading the run files one at a time.

    Only the rows the observations need are read from each file (pyarrow filters), so memory grows with the
    observations and the runs, not with everything a store holds (all Stadtteile, indicators and groups).
    """
    import pyarrow.parquet as pq

    places, indicators, groups = (sorted({k[i] for k in keys}) for i in range(3))
    columns: dict[tuple[str, str, str], list[pd.Series]] = {key: [] for key in keys}
    for k, path in enumerate(files):
        part = pq.read_table(path, columns=["date", "stadtteil", "indicator", "group", "value"],
                             filters=[("stadtteil", "in", places), ("indicator", "in", indicators),
                                      ("group", "in", groups)]).to_pandas()
        for col in ("stadtteil", "indicator", "group"):
            part[col] = part[col].astype(str)
        for key, rows in part.groupby(["stadtteil", "indicator", "group"], sort=False):
            if key in columns:
                columns[key].append(rows.set_index("date")["value"].rename(k))
    return {key: pd.concat(cols, axis=1).sort_index() if cols else pd.DataFrame()
            for key, cols in columns.items()}


def _simulated_places(path: Path) -> list[str]:
    """The Stadtteile a run file holds (read from its Stadtteil column alone)."""
    import pyarrow.parquet as pq

    column = pq.read_table(path, columns=["stadtteil"]).column("stadtteil")
    return sorted(set(column.unique().to_pylist() if not hasattr(column.type, "value_type") else
                      column.combine_chunks().dictionary_decode().unique().to_pylist()) - {CITY})


def simulated_values(series: pd.DataFrame, start: dt.date, end: dt.date, flow: bool) -> np.ndarray:
    """Each run's value for an observation on a day (start == end) or over a period."""
    dates = pd.DatetimeIndex(series.index)
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    if start == end:
        after = np.flatnonzero(dates >= t0)
        return series.iloc[after[0]].to_numpy(dtype=float) if len(after) else np.full(series.shape[1], np.nan)
    inside = series[(dates >= t0) & (dates <= t1)]
    if not len(inside):  # a period shorter than a report: the report holding its end
        return simulated_values(series, end, end, flow)
    return (inside.sum() if flow else inside.mean()).to_numpy(dtype=float)


def _run_files(store: Any, skipped: list[tuple[str, str]]) -> list[Path]:
    """The store's run files that are what their names say; the others go to ``skipped``.

    Only each file's run information and its point and seed columns are read here; the values are read later,
    one file at a time and only the rows the observations need (:func:`read_series`).
    """
    files = []
    for f in sorted((store.path / RUNS).glob("p*_s*.parquet")):
        name = re.fullmatch(r"p(\d+)_s(\d+)", f.stem)
        if name is None:
            skipped.append((str(f), "its name is not a run's (pNNNNN_sN.parquet)"))
            continue
        point, seed = int(name.group(1)), int(name.group(2))
        why = check_run_file(f, {"point": point, "seed": seed, "design": store.design_id,
                                 "version": store.manifest.get("version")}, columns={"point": point, "seed": seed})
        if why is None:
            files.append(f)
        else:
            skipped.append((str(f), why))
    return files


def evaluate(runs: str | Path, pilot_data: str | Path, out: str | Path, seed: int = 0) -> Evaluation:
    """Compare a store of runs with pilot data and write the report (``.html`` or ``.md``).

    Raises:
        InputError: the runs are not a store by reporting period, or the pilot data have bad rows (all listed).

    """
    import scoringrules

    store = open_store(runs)
    out = Path(out)
    if out.suffix not in (".html", ".md"):
        raise InputError("argument", "--out", "a report file ending in .html or .md", str(out))
    if store.manifest.get("experiment", {}).get("resolution", "yearly") != "report":
        raise InputError(store.path, "resolution", "a sweep store kept by reporting period (resolution = "
                         "'report' in the experiment, as in the ensemble.toml that calibrate writes)")
    skipped: list[tuple[str, str]] = []
    files = _run_files(store, skipped)
    for file, why in skipped:
        warnings.warn(f"{file}: {why}; it is left out (the next 'quartiersim sweep' on the store moves it aside and "
                      "runs it again)", RejectedRunWarning, stacklevel=2)
    if not files:
        raise InputError(store.path, RUNS, "finished runs (run the sweep first)")
    base = store.manifest["base_scenario"]
    start, end = dt.date.fromisoformat(str(base["start"])), dt.date.fromisoformat(str(base["end"]))
    obs = read_pilot_data(pilot_data, start, end, simulated=_simulated_places(files[0]))
    ensembles = read_series(files, set(zip(obs["stadtteil"], obs["indicator"], obs["group"], strict=True)))
    rng = np.random.default_rng(seed)
    rows = []
    for _, o in obs.iterrows():
        key = (o["stadtteil"], o["indicator"], o["group"])
        sim = simulated_values(ensembles[key], o["start"], o["end"], o["indicator"] in FLOWS)
        sim = sim[np.isfinite(sim)]
        if not len(sim):
            rows.append({**o.to_dict(), "runs": 0})
            continue
        # the predictive ensemble: every run with DRAWS draws of the observation's error
        predictive = (sim[:, None] + rng.normal(0.0, o["std_error"], size=(len(sim), DRAWS))).ravel()
        q = np.quantile(sim, [0.05, 0.25, 0.5, 0.75, 0.95])
        pq = np.quantile(predictive, [0.05, 0.25, 0.75, 0.95])
        spread = np.sqrt(np.var(sim) + o["std_error"] ** 2)
        rows.append({**o.to_dict(), "runs": len(sim), "sim_median": q[2], "sim_q05": q[0], "sim_q25": q[1],
                     "sim_q75": q[3], "sim_q95": q[4], "pred_q05": pq[0], "pred_q95": pq[3],
                     "inside_90": bool(pq[0] <= o["value"] <= pq[3]), "inside_50": bool(pq[1] <= o["value"] <= pq[2]),
                     "error": q[2] - o["value"], "z": (q[2] - o["value"]) / spread if spread > 0 else np.nan,
                     "crps": float(scoringrules.crps_ensemble(o["value"], predictive))})
    table = pd.DataFrame(rows)
    summary = (table.groupby(["indicator", "group"], sort=False)
               .agg(observations=("value", "size"), coverage_90=("inside_90", "mean"),
                    coverage_50=("inside_50", "mean"), bias=("error", "mean"),
                    mean_abs_error=("error", lambda e: float(np.mean(np.abs(e)))), crps=("crps", "mean"))
               .reset_index())
    figures = {f"{ind}_{grp}": _figure(table[(table["indicator"] == ind) & (table["group"] == grp)], ind, grp)
               for ind, grp in summary[["indicator", "group"]].itertuples(index=False)}
    figures["coverage"] = _coverage_figure(summary)
    fig_dir = out.with_name(out.stem + "_figures")
    pngs = {}
    for name, fig in figures.items():
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        pngs[name] = buf.getvalue()
        write_atomic(fig_dir / f"{name}.png", lambda p, data=pngs[name]: p.write_bytes(data))
    csv = out.with_name(out.stem + "_observations.csv")
    write_atomic(csv, lambda p: table.to_csv(p, index=False))
    text = _report(out.suffix, store, pilot_data, len(files), table, summary, pngs)
    write_atomic(out, lambda p: p.write_text(text, encoding="utf-8"))
    return Evaluation(table, summary, out, len(files))


def _figure(rows: pd.DataFrame, indicator: str, group: str) -> Any:
    """Each observation beside the runs aggregated to its own period, as the table compares them.

    A flow observed over half a year is set beside each run's sum over that half year (and a stock over a
    period beside each run's mean over it): the runs' monthly values would lie several times below a
    half-year count and look far off while the table says they agree. Bars span the observation's period
    (a day: a short bar around it).
    """
    from matplotlib.figure import Figure

    info = indicator_table()[indicator]
    places = list(dict.fromkeys(rows["stadtteil"]))
    fig = Figure(figsize=(6.5, 2.8 * len(places)), layout="constrained")
    axes = fig.subplots(len(places), 1, squeeze=False)
    scale = 100.0 if info["unit"].startswith("share") else 1.0
    unit = f"% ({info['unit']})" if scale == 100.0 else info["unit"]
    for ax, place in zip(axes[:, 0], places, strict=True):
        mine = rows[(rows["stadtteil"] == place) & (rows["runs"] > 0)]
        left = [pd.Timestamp(s) - (pd.Timedelta(days=10) if s == e else pd.Timedelta(0))
                for s, e in zip(mine["start"], mine["end"], strict=True)]
        right = [pd.Timestamp(e) + (pd.Timedelta(days=10) if s == e else pd.Timedelta(days=1))
                 for s, e in zip(mine["start"], mine["end"], strict=True)]
        for k, (x0, x1) in enumerate(zip(left, right, strict=True)):
            r = mine.iloc[k]
            ax.fill_between([x0, x1], scale * r["sim_q05"], scale * r["sim_q95"], color="#4477aa", alpha=0.2,
                            linewidth=0, label="runs: 90 % interval" if k == 0 else None)
            ax.fill_between([x0, x1], scale * r["sim_q25"], scale * r["sim_q75"], color="#4477aa", alpha=0.35,
                            linewidth=0, label="runs: 50 % interval" if k == 0 else None)
        ax.hlines(scale * mine["sim_median"], left, right, color="#4477aa", label="runs: median", gid="median")
        mid = [pd.Timestamp(s) + (pd.Timestamp(e) - pd.Timestamp(s)) / 2 for s, e in zip(mine["start"], mine["end"],
                                                                                           strict=True)]
        ax.errorbar(mid, scale * mine["value"], yerr=scale * 1.645 * mine["std_error"], fmt="o", color="#ee6677",
                    capsize=3, label="observed (90 % of its error)", gid="observed")
        flow = indicator in FLOWS
        ax.set_title(f"{info['label']}, {GROUP_LABELS.get(group, group)}: {place}\n(runs "
                     f"{'summed' if flow else 'averaged'} over each observation's period)", fontsize=9)
        ax.set_ylabel(f"{info['label']} [{unit}]", fontsize=8)
        ax.legend(fontsize=7, loc="best")
    return fig


def _coverage_figure(summary: pd.DataFrame) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 0.4 * len(summary) + 1.2), layout="constrained")
    ax = fig.subplots()
    labels = [f"{i} ({g})" for i, g in zip(summary["indicator"], summary["group"], strict=True)]
    ax.barh(labels, summary["coverage_90"], color="#4477aa")
    ax.axvline(0.9, color="#ee6677", linestyle="--", label="expected: 0.9")
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of observations inside the predictive 90 % interval")
    ax.legend(fontsize=7)
    return fig


_READ_ME = (
    "Each observation from the pilot quarters is set beside what the model's runs give for the same quarter, "
    "indicator, group and date. The runs differ in their parameters (drawn from the calibration's posterior) and "
    "in chance, so they give a range rather than one number. <b>Coverage</b> is the share of observations inside "
    "the range where 90 % of the runs fall once each observation's own measurement error is added: near 0.9 is "
    "what a sound model should show; much lower means the model misses what was observed. <b>Bias</b> is how far "
    "the runs' middle value lies above (positive) or below (negative) the observations on average, in the "
    "indicator's own unit. <b>CRPS</b> (continuous ranked probability score) combines both how close and how "
    "sharp the runs are, in the indicator's unit; lower is better and 0 is perfect.")


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        if np.isnan(v):
            return "n/a"
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return html.escape(str(v))


#: The report's column headings and what each means (the glossary); the CSV beside it keeps the short names.
SUMMARY_COLUMNS = {
    "indicator": ("indicator", "what was observed (see the indicators below)"),
    "unit": ("unit", "the indicator's unit; bias, mean absolute error and CRPS are in it too"),
    "group": ("group", "the residents the value is about"),
    "observations": ("observations", "how many observations of this indicator and group"),
    "coverage_90": ("inside 90 % (share)", "share of observations inside the predictive 90 % interval; about "
                                           "0.9 is right"),
    "coverage_50": ("inside 50 % (share)", "share inside the predictive 50 % interval; about 0.5 is right"),
    "bias": ("bias", "runs' median minus observation, on average (positive: the runs lie above)"),
    "mean_abs_error": ("mean absolute error", "the typical distance between runs' median and observation"),
    "crps": ("CRPS", "continuous ranked probability score: closeness and sharpness together; lower is better"),
}
OBSERVATION_COLUMNS = {
    "stadtteil": ("Stadtteil", "where it was observed"),
    "start": ("from", "first day of the observation (a day, or a period to 'to')"),
    "end": ("to", "last day of the observation"),
    "indicator": ("indicator", "what was observed"),
    "unit": ("unit", "the unit of the values in this row"),
    "group": ("group", "the residents the value is about"),
    "value": ("observed", "the observed value"),
    "std_error": ("its standard error", "the observation's own uncertainty (given, or from its sample size)"),
    "sim_median": ("runs: median", "the middle of the runs' values for the same place, period and group"),
    "sim_q05": ("runs: 5th percentile", "5 % of the runs lie below"),
    "sim_q95": ("runs: 95th percentile", "5 % of the runs lie above"),
    "pred_q05": ("expected range: low", "5th percentile of the runs plus the observation's error (predictive)"),
    "pred_q95": ("expected range: high", "95th percentile of the runs plus the observation's error"),
    "inside_90": ("inside?", "whether the observation lies in the expected (predictive 90 %) range"),
    "crps": ("CRPS", "the score of this observation; lower is better"),
}


def _report(kind: str, store: Any, pilot: str | Path, n_runs: int, table: pd.DataFrame, summary: pd.DataFrame,
            pngs: dict[str, bytes]) -> str:
    info = indicator_table()
    name = str(store.manifest["name"])
    title = f"quartiersim evaluation: {name} against {Path(pilot).name}"
    facts = [f"Runs: {n_runs} of the experiment <code>{html.escape(name)}</code> (scenario "
             f"{html.escape(str(store.manifest['base_scenario']['name']))}).",
             f"Pilot data: {len(table)} observations from <code>{html.escape(Path(pilot).name)}</code>; sources: "
             + "; ".join(html.escape(s) for s in dict.fromkeys(table["source"])) + ".",
             f"Written {dt.date.today()} by quartiersim."]
    readable = table.assign(unit=table["indicator"].map(lambda i: info[i]["unit"]),
                            indicator=table["indicator"].map(lambda i: info[i]["label"]),
                            group=table["group"].map(lambda g: GROUP_LABELS.get(g, g)))
    readable["inside_90"] = readable["inside_90"].map({True: "yes", False: "no"}).fillna("n/a")
    summary = summary.assign(unit=summary["indicator"].map(lambda i: info[i]["unit"]),
                             indicator=summary["indicator"].map(lambda i: info[i]["label"]),
                             group=summary["group"].map(lambda g: GROUP_LABELS.get(g, g)))
    sum_cols = [c for c in SUMMARY_COLUMNS if c in summary.columns]
    obs_cols = [c for c in OBSERVATION_COLUMNS if c in readable.columns]
    used = list(dict.fromkeys(table["indicator"]))
    glossary_ind = [(info[i]["label"], f"<code>{i}</code>", info[i]["unit"], info[i]["meaning"]) for i in used]
    glossary_cols = [(SUMMARY_COLUMNS[c][0], SUMMARY_COLUMNS[c][1]) for c in sum_cols] + \
        [(OBSERVATION_COLUMNS[c][0], OBSERVATION_COLUMNS[c][1]) for c in obs_cols if c not in SUMMARY_COLUMNS]
    images = {k: base64.b64encode(v).decode() for k, v in pngs.items()}
    if kind == ".md":
        def md_table(frame: pd.DataFrame, cols: list[str], heads: dict) -> str:
            lines = ["| " + " | ".join(heads[c][0] for c in cols) + " |", "|" + " --- |" * len(cols)]
            lines += ["| " + " | ".join(_fmt(r[c]) for c in cols) + " |" for _, r in frame.iterrows()]
            return "\n".join(lines)

        def md_rows(rows: list[tuple]) -> str:
            return "\n".join("| " + " | ".join(str(x).replace("<code>", "`").replace("</code>", "`") for x in r)
                             + " |" for r in rows)

        parts = [f"# {title}", "", *[f"- {f}".replace("<code>", "`").replace("</code>", "`") for f in facts], "",
                 "## How to read this", "", _READ_ME.replace("<b>", "**").replace("</b>", "**"), "",
                 "## Per indicator", "", md_table(summary, sum_cols, SUMMARY_COLUMNS), "", "## Figures", ""]
        parts += [f"![{k}](data:image/png;base64,{v})\n" for k, v in images.items()]
        parts += ["## Every observation", "", md_table(readable, obs_cols, OBSERVATION_COLUMNS), "",
                  "## Glossary", "", "| indicator | in the files | unit | meaning |", "| --- | --- | --- | --- |",
                  md_rows(glossary_ind), "", "| column | meaning |", "| --- | --- |", md_rows(glossary_cols), ""]
        return "\n".join(parts)

    def html_table(frame: pd.DataFrame, cols: list[str], heads: dict) -> str:
        head = "".join(f"<th title=\"{html.escape(heads[c][1])}\">{html.escape(heads[c][0])}</th>" for c in cols)
        body = "".join("<tr>" + "".join(f"<td>{_fmt(r[c])}</td>" for c in cols) + "</tr>" for _, r in frame.iterrows())
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def html_rows(heads: list[str], rows: list[tuple]) -> str:
        head = "".join(f"<th>{h}</th>" for h in heads)
        body = "".join("<tr>" + "".join(f"<td>{x}</td>" for x in r) + "</tr>" for r in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    figs = "".join(f'<figure><img alt="{html.escape(k)}" src="data:image/png;base64,{v}"></figure>'
                   for k, v in images.items())
    style = ("body{font-family:sans-serif;max-width:70em;margin:2em auto;line-height:1.45}"
             "table{border-collapse:collapse;font-size:0.9em}td,th{border:1px solid #bbb;padding:0.2em 0.5em}"
             "th{background:#eee}img{max-width:100%}")
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1><ul>"
            + "".join(f"<li>{f}</li>" for f in facts) + f"</ul><h2>How to read this</h2><p>{_READ_ME}</p>"
            f"<h2>Per indicator</h2>{html_table(summary, sum_cols, SUMMARY_COLUMNS)}<h2>Figures</h2>{figs}"
            f"<h2>Every observation</h2>{html_table(readable, obs_cols, OBSERVATION_COLUMNS)}"
            f"<h2>Glossary</h2><h3>Indicators</h3>"
            f"{html_rows(['indicator', 'in the files', 'unit', 'meaning'], glossary_ind)}"
            f"<h3>Columns</h3>{html_rows(['column', 'meaning'], glossary_cols)}</body></html>\n")
