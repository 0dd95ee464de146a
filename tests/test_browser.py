"""Real-browser smoke test: the app served by Streamlit, driven by Playwright in Debian's headless Chromium.

Opens every page (the first request is a deep link, the case Streamlit's legacy pages/ handling gets wrong),
starts a training job, sees it finish, and finds no exception anywhere. On CI (CI=true) a missing Chromium
is a failure, not a skip.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        pytest.fail("CI needs /usr/bin/chromium for the browser test (make test installs it)", pytrace=False)
    pytest.skip("no /usr/bin/chromium: install Debian's chromium to run the browser test", allow_module_level=True)

playwright_api = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    env = dict(os.environ, GENLAB_HOME=str(tmp_path_factory.mktemp("browser_home")))
    log = tmp_path_factory.mktemp("browser_log") / "streamlit.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                 "--server.headless", "true"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early:\n{log.read_text()}")
            time.sleep(0.3)
    else:
        proc.kill()
        raise RuntimeError(f"streamlit did not start:\n{log.read_text()}")
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]


@pytest.fixture(scope="module")
def page(server: str):
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(30_000)
        yield pg
        browser.close()


def _assert_no_exception(pg) -> None:
    assert pg.locator('[data-testid="stException"]').count() == 0, pg.locator('[data-testid="stException"]').first.inner_text()


def test_every_page_opens_and_a_job_trains_to_done(server: str, page) -> None:
    pg = page
    # 1. a deep link as the very first request: must come up inside the app shell (navigation + monitor)
    pg.goto(f"{server}/train")
    pg.get_by_role("heading", name="Train a model").wait_for()
    pg.get_by_text("Training jobs").wait_for()
    assert pg.get_by_role("link", name="Runs").count() >= 1
    _assert_no_exception(pg)

    # 2. every page renders
    for path, heading in [("/", "GenLab"), ("/runs", "Runs"), ("/train", "Train a model")]:
        pg.goto(server + path)
        pg.get_by_role("heading", name=heading, exact=True).first.wait_for()
        time.sleep(1.0)
        _assert_no_exception(pg)

    # 3. start a short VAE job and watch it finish, live, without reloading the page
    pg.get_by_text("Training settings").click()
    steps = pg.get_by_label("steps", exact=True)
    steps.fill("300")
    steps.press("Enter")
    time.sleep(1.0)
    pg.get_by_role("button", name="Start training").click()
    pg.get_by_text("done · step 300/300").first.wait_for(timeout=120_000)
    pg.get_by_text("Samples vs real data").wait_for(timeout=30_000)
    _assert_no_exception(pg)

    # 4. the run is in the store and the Runs page shows it
    pg.get_by_role("link", name="Runs").first.click()
    pg.get_by_role("heading", name="Runs", exact=True).wait_for()
    pg.get_by_text("vae").first.wait_for()
    pg.get_by_text("Download checkpoint").wait_for(timeout=30_000)
    _assert_no_exception(pg)


def test_compare_page_table_updates_live_while_two_models_train(server: str, page) -> None:
    pg = page
    pg.goto(f"{server}/compare")
    pg.get_by_role("heading", name="Compare models").wait_for()
    _assert_no_exception(pg)
    steps = pg.get_by_role("spinbutton", name="steps (iterative models)")
    steps.fill("400")
    steps.press("Enter")
    period = pg.get_by_role("spinbutton", name="rescore every (s)")
    period.fill("1")
    period.press("Enter")
    time.sleep(1.0)
    pg.get_by_role("button", name="Start 3 run(s)").click()
    # while they train, the summary line and the table are redrawn every second without a reload
    summary = pg.get_by_text("refreshed", exact=False).first
    summary.wait_for(timeout=30_000)
    first = summary.inner_text()
    pg.wait_for_timeout(2500)
    assert summary.inner_text() != first, "the live table refreshes on its own"
    pg.locator('[data-testid="stDataFrame"]').first.wait_for()
    # every run on this dataset done (the summary lists a single status)
    pg.get_by_text(re.compile(r"run\(s\): \d+ done · refreshed")).first.wait_for(timeout=180_000)
    pg.get_by_text("Side by side").wait_for()
    pg.get_by_role("button", name="Download table (CSV)").wait_for()
    _assert_no_exception(pg)


def test_lorenz_lab_draws_the_butterfly_and_switches_sections(server: str, page) -> None:
    pg = page
    pg.goto(f"{server}/lorenz")
    pg.get_by_role("heading", name="Lorenz attractor lab").wait_for()
    pg.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=60_000)
    pg.get_by_text("Sensitive dependence on initial conditions").wait_for()
    _assert_no_exception(pg)
    pg.get_by_text("2 · Lyapunov exponent").click()
    pg.get_by_text("λ₁ (Benettin)").wait_for(timeout=60_000)
    pg.get_by_text("From data alone: Rosenstein's method").wait_for()
    _assert_no_exception(pg)


def test_latent_explorer_projects_with_umap_and_lasso_selection_decodes(server: str, page) -> None:
    pg = page
    pg.goto(f"{server}/latent")
    pg.get_by_role("heading", name="Latent-space explorer").wait_for()
    pg.get_by_text("Do the codes separate the classes?").wait_for(timeout=60_000)
    _assert_no_exception(pg)
    pg.get_by_role("button", name="Project").click()
    pg.get_by_text(re.compile(r"UMAP: (fitted in|from the cache)")).wait_for(timeout=120_000)
    pg.wait_for_timeout(2000)  # let Plotly finish drawing before dragging on it
    chart = pg.locator('[data-testid="stPlotlyChart"]').nth(1)  # scree plot, then the PCA | UMAP pair
    chart.scroll_into_view_if_needed()
    pg.wait_for_timeout(1000)
    box = chart.bounding_box()
    assert box is not None
    # a lasso over the UMAP panel (right half): the points inside are selected, then decoded below the chart
    x0, y0, w, h = box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.3, box["width"] * 0.3, box["height"] * 0.4
    pg.mouse.move(x0, y0)
    pg.mouse.down()
    for fx, fy in ((1, 0), (1, 1), (0, 1), (0, 0.05)):
        pg.mouse.move(x0 + fx * w, y0 + fy * h, steps=8)
    pg.mouse.up()
    pg.get_by_text(re.compile(r"\d+ selected")).wait_for(timeout=60_000)
    _assert_no_exception(pg)


def test_density_page_shows_the_latent_gmm_and_the_toy_densities(server: str, page) -> None:
    pg = page
    pg.goto(f"{server}/density")
    pg.get_by_role("heading", name="Density", exact=True).wait_for()
    pg.get_by_text(re.compile(r"log ε = .* rows below it")).wait_for(timeout=60_000)
    _assert_no_exception(pg)
    pg.get_by_text("2 · Densities on 2-D toy data").click()
    pg.get_by_text("Held-out log-likelihood").wait_for(timeout=60_000)
    pg.get_by_role("button", name="Train the gan").click()
    pg.get_by_text(re.compile(r"gan on moons — (running|done)")).first.wait_for(timeout=60_000)
    pg.locator('[data-testid="stPlotlyChart"]').nth(2).wait_for(timeout=60_000)
    _assert_no_exception(pg)


def test_anomaly_page_trains_a_wgan_and_shows_scores(server: str, page) -> None:
    pg = page
    pg.goto(f"{server}/anomaly")
    pg.get_by_role("heading", name="Anomaly scoring").wait_for()
    _assert_no_exception(pg)
    steps = pg.get_by_role("spinbutton", name="steps")
    steps.fill("300")
    steps.press("Enter")
    pg.wait_for_timeout(1000)
    pg.get_by_role("button", name="Train", exact=True).click()
    pg.get_by_text("Against simple detectors, same split").wait_for(timeout=240_000)
    pg.get_by_text("AUROC").first.wait_for(timeout=120_000)
    pg.get_by_text("The top anomalies").wait_for()
    _assert_no_exception(pg)


def test_simulator_page_fits_poisson_live_and_compares_with_the_exact_fit(server: str, page) -> None:
    pg = page
    pg.goto(f"{server}/simulator")
    pg.get_by_role("heading", name="Simulator fitting (AVO)").wait_for()
    _assert_no_exception(pg)
    for label, value in (("proposal steps", "80"), ("critic warm-up steps", "20")):
        box = pg.get_by_role("spinbutton", name=label)
        box.fill(value)
        box.press("Enter")
        pg.wait_for_timeout(500)
    pg.get_by_role("button", name="Start", exact=True).click()
    pg.get_by_text(re.compile(r"done · step 80/80 · [\d,]+ simulations")).wait_for(timeout=120_000)
    pg.get_by_text("lambda: estimate").wait_for(timeout=30_000)
    assert pg.locator('[data-testid="stPlotlyChart"]').count() >= 3   # ψ trace, critic, histogram
    pg.get_by_role("button", name="Maximum likelihood").click()
    pg.get_by_text("maximum likelihood (x̄)").first.wait_for(state="attached", timeout=30_000)  # a grid cell
    pg.get_by_role("button", name="History (CSV)").wait_for()
    _assert_no_exception(pg)
