"""The interactive app: its levers, its figures, its command, and the real page in headless Chromium.

The browser test starts ``quartiersim app`` on 127.0.0.1, opens it in Debian's ``chromium`` through Playwright,
steps the model, moves a slider, changes the strategy, resets, and checks that the three plots are shown and
change. Its screenshots go to ``$QUARTIERSIM_ARTIFACTS`` (default ``artifacts/`` in the repository), which CI
keeps. Without a Chromium the test is skipped, unless ``QUARTIERSIM_REQUIRE_BROWSER=1`` (set by ``.ci/run``) makes
that a failure.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from quartiersim import app
from quartiersim.cli import main
from quartiersim.model import QuarterModel
from quartiersim.spec import build_scenario

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("QUARTIERSIM_ARTIFACTS", REPO / "artifacts"))
SCALE = 0.5


@pytest.fixture(scope="module")
def spec():
    return app.app_scenario("neckarvorstadt", scale=SCALE)


@pytest.fixture(scope="module")
def model_class(spec):
    return app.app_model_class(spec)


def test_sliders_start_at_the_scenario_as_written(spec):
    params = app.model_params(spec)
    hours = {f"hours_{i}": role.fte * spec.params.hours_per_fte for i, role in enumerate(spec.roles)}
    assert {k: params[k].value for k in hours} == pytest.approx(hours)
    assert [params[k].label for k in hours] == ["Vernetzungsstelle h/week", "Gesundheitsförderung h/week",
                                                "Gemeinwesenarbeit h/week", "Stadtteilassistenz h/week"]
    assert all(params[k].max >= max(2 * v, 39) for k, v in hours.items())
    assert params["strategy"]["value"] == spec.verstetigung.strategy
    assert set(params) == set(hours) | {"strategy", "seed"}


def test_default_levers_reproduce_a_plain_run(spec, model_class):
    """The app's model with the sliders where they start is the scenario as written: the reference run."""
    model = model_class(**app.default_levers(app.model_params(spec)))
    table = model.run()
    plain = QuarterModel(spec, rng=model.seed).run()
    assert table.equals(plain)
    assert model.reference().equals(plain)
    assert model.reference() is model.reference()  # cached per seed, a few seeds at most
    for seed in range(app.REFERENCES_KEPT + 2):
        model_class(seed=seed).reference()
    assert len(model_class._references) == app.REFERENCES_KEPT
    assert model.seed not in model_class._references


def test_levers_change_the_roles_and_strategy(spec, model_class):
    model = model_class(strategy="permanent_posts", seed=2, hours_2=78.0, hours_3=0.0)
    assert model.spec.verstetigung.strategy == "permanent_posts"
    assert [r.fte for r in model.spec.roles] == pytest.approx([0.5, 0.5, 2.0, 0.0])
    while model.date < dt.date(2026, 1, 5):
        model.step()
    hours = {r.name: r.hours_per_week for r in model.roles}
    assert hours["Gemeinwesenarbeit Neckarvorstadt"] == pytest.approx(78.0)
    assert hours["Stadtteilassistenz Neckarvorstadt"] == 0.0
    lines = app.status_lines(model)
    assert any("Gemeinwesenarbeit Neckarvorstadt: 78.0 h" in line and "now 78.0 h" in line for line in lines)
    assert any(line.endswith(": Permanent posts") for line in lines)
    # the roles as the strategy continues them, not as the scenario ends them in 2027
    gwa = next(line for line in lines if "Gemeinwesenarbeit Neckarvorstadt:" in line)
    assert "to 2035-12-31 (to 2027-12-31 in the scenario; continued by the strategy)" in gwa
    while model.date < dt.date(2028, 3, 6):
        model.step()
    after = next(line for line in app.status_lines(model) if "Gemeinwesenarbeit Neckarvorstadt:" in line)
    assert after.endswith("now 78.0 h")  # still working after the pilot, as the results show


def test_dated_changes_scale_with_the_slider(spec):
    data = spec.as_data()
    data["roles"][0]["changes"] = [{"date": dt.date(2026, 1, 1), "fte": 0.25, "note": "halved"}]
    with_change = build_scenario(data)
    levered = app.with_levers(with_change, hours_0=39.0)  # 0.5 -> 1.0 posts: the later 0.25 becomes 0.5
    assert levered.roles[0].fte == pytest.approx(1.0)
    assert levered.roles[0].changes[0].fte == pytest.approx(0.5)
    assert app.with_levers(with_change, hours_0=19.5) == with_change  # the slider where it starts
    with pytest.raises(ValueError, match="unknown lever 'hours_9'"):
        app.with_levers(spec, hours_9=1.0)


def test_lever_figure_grows_with_the_steps(spec, model_class, tmp_path):
    model = model_class(seed=3)
    fig = app.lever_figure(model, "lonely_share", "Lonely adults")  # before the first step: the reference only
    assert [line.get_label() for line in fig.axes[0].get_lines()][:1] == [f"{app.REFERENCE} (1 run)"]
    for _ in range(10):
        model.step()
    for indicator, title in app.PLOTS:
        fig = app.lever_figure(model, indicator, title)
        ax = fig.axes[0]
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert len(lines[f"{app.CURRENT} (1 run)"].get_xdata()) == 10
        assert len(lines[f"{app.REFERENCE} (1 run)"].get_xdata()) == model.n_weeks
        assert ax.get_title() == f"{title}, Neckarvorstadt"
        assert "[" in ax.get_ylabel() and "_" not in ax.get_ylabel()  # a label with its unit, not a column name
        if indicator.endswith("_share"):  # shares in per cent
            fig.canvas.draw() if hasattr(fig.canvas, "draw") else None
            assert "% of" in ax.get_ylabel()
            assert ax.yaxis.get_major_formatter().__class__.__name__ == "PercentFormatter"
        fig.savefig(tmp_path / f"{indicator}.png")
        assert (tmp_path / f"{indicator}.png").stat().st_size > 5_000


def test_inputs_say_their_value_range_and_unit(spec):
    params = app.model_params(spec)
    assert app.input_label("hours_2", params["hours_2"], 39.0) == "Gemeinwesenarbeit: 39.0 h/week (0 to 78)"
    assert app.input_label("seed", params["seed"], 1) == "Seed: 1 (0 to 99)"
    assert set(app.STRATEGY_LABELS) == set(params["strategy"]["values"])


def test_app_refuses_bad_scenarios_before_starting(tmp_path, capsys):
    assert main(["app", "default"]) == 2
    err = capsys.readouterr().err
    assert "field 'stadtteile'" in err and "at most 12 Stadtteile" in err and "152" in err
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\nscale = -1\n')
    assert main(["app", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "scale" in err


# ---------------------------------------------------------------------------------------------------------------
# the real page in headless Chromium
# ---------------------------------------------------------------------------------------------------------------

CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("QUARTIERSIM_REQUIRE_BROWSER"):
            pytest.fail("no chromium on PATH (install Debian's chromium package; .ci/run does)")
        pytest.skip("no chromium on PATH")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``quartiersim app neckarvorstadt`` on 127.0.0.1 at a free port, stopped (with its children) afterwards."""
    port = _free_port()
    log = tmp_path_factory.mktemp("app") / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "quartiersim.cli", "app", "neckarvorstadt", "--scale",
                                 str(SCALE), "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(600):  # readiness, not speed: a cold start imports numba and solara
            if proc.poll() is not None:
                pytest.fail(f"the app exited with status {proc.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"the app did not answer at {url}:\n{log.read_text()}")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _plot_sources(page) -> list[str]:
    return page.evaluate("() => Array.from(document.images).filter(i => i.complete && i.naturalWidth > 300)"
                         ".map(i => i.src)")


def test_the_page_shows_the_plots_and_steps(server):
    chromium = _chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(60_000)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server)
            step = page.get_by_role("button", name="Step")
            step.wait_for()
            page.get_by_text("Week 0 of").wait_for()
            page.wait_for_function("() => Array.from(document.images).filter(i => i.complete && "
                                   "i.naturalWidth > 300).length >= 3")
            before = _plot_sources(page)
            assert len(before) == 3
            for k in range(1, 6):
                step.click()
                page.get_by_text(f"Week {k} of").wait_for()
            page.wait_for_function("(old) => { const now = Array.from(document.images).filter(i => i.complete && "
                                   "i.naturalWidth > 300).map(i => i.src); return now.length >= 3 && "
                                   "now.every(s => !old.includes(s)); }", arg=before)
            page.screenshot(path=ARTIFACTS / "app_stepped.png", full_page=True)

            # what a planner reads: values, ranges and units in view; labels, not ids; no Mesa internals
            body = page.inner_text("body")
            for text in ("Gemeinwesenarbeit: 39.0 h/week (0 to 78)", "Seed: 1 (0 to 99)",
                         "Verstetigung after 2027-12-31: Funding ends"):
                assert text in body, text
            for text in app.MESA_CONTROLS:
                assert text.casefold() not in body.casefold(), text
            # the text column and the first plot side by side, not on top of each other
            status = page.locator(".quartiersim-status").bounding_box()
            first = page.evaluate("() => { const i = Array.from(document.images).filter(i => i.naturalWidth > 300)"
                                  "[0].getBoundingClientRect(); return {x: i.x, y: i.y, width: i.width, "
                                  "height: i.height}; }")
            apart = (first["x"] >= status["x"] + status["width"] or status["x"] >= first["x"] + first["width"]
                     or first["y"] >= status["y"] + status["height"] or status["y"] >= first["y"] + first["height"])
            assert apart, (status, first)

            # a lever: no Gemeinwesenarbeit, permanent posts after the pilot; Reset rebuilds the model with them
            slider = page.locator(".quartiersim-input-label", has_text="Gemeinwesenarbeit:").locator(
                "xpath=following::*[@role='slider'][1]")
            slider.focus()
            slider.press("Home")
            page.get_by_text("Gemeinwesenarbeit: 0.0 h/week (0 to 78)").wait_for()
            page.locator(".v-select").first.click()
            assert page.get_by_role("option", name="permanent_posts").count() == 0
            page.get_by_role("option", name="Permanent posts").click()
            page.get_by_role("button", name="Reset").click()
            page.get_by_text("Verstetigung after 2027-12-31: Permanent posts").wait_for()
            page.get_by_text("Gemeinwesenarbeit Neckarvorstadt: 0.0 h").wait_for()
            page.get_by_text("continued by the strategy").first.wait_for()  # the roles the strategy keeps
            page.get_by_text("Week 0 of").wait_for()
            page.wait_for_function("() => Array.from(document.images).filter(i => i.complete && "
                                   "i.naturalWidth > 300).length >= 3")
            page.screenshot(path=ARTIFACTS / "app_levers.png", full_page=True)
        finally:
            browser.close()
    assert errors == []
    for name in ("app_stepped.png", "app_levers.png"):
        assert (ARTIFACTS / name).stat().st_size > 50_000
