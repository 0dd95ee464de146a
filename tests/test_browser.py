"""Real-browser smoke test: the app served by Streamlit, driven by Playwright in Debian's headless Chromium.

Opens every page (the first request is a deep link, the case Streamlit's legacy pages/ handling gets wrong),
starts a training job, sees it finish, and finds no exception anywhere. On CI (CI=true) a missing Chromium
is a failure, not a skip.

Isolation: every test gets its own app server with its own empty GENLAB_HOME (so no test sees the jobs, runs or
caches of another) and its own browser context; only the Chromium process is shared, and one server for the formula
tour, whose tests only open pages. No test waits a fixed
time: each waits for what it needs to see (Playwright's waiting, or the app's own "script not running" state),
with SAFETY_TIMEOUT as the limit.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from conftest import SAFETY_TIMEOUT

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]
WAIT_MS = int(SAFETY_TIMEOUT * 1000)   # Playwright's waits, in ms: a safety net, not a measurement

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        pytest.fail("CI needs /usr/bin/chromium for the browser test (make test installs it)", pytrace=False)
    pytest.skip("no /usr/bin/chromium: install Debian's chromium to run the browser test", allow_module_level=True)

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def _stopping_servers() -> Iterator[list]:
    """Servers whose test is over: told to stop, and reaped here (Streamlit takes 1-2 s to shut down, which the
    next test need not wait for); their logs are read once more after the exit."""
    stopping: list[tuple[subprocess.Popen, Path]] = []
    yield stopping
    for proc, log in stopping:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for _, log in stopping:
        text = log.read_text()
        assert "Traceback" not in text, text[-3000:]


@pytest.fixture
def server_env() -> dict[str, str]:
    """Extra environment for the test's server; a test parametrizes it (a classroom server, say)."""
    return {}


@pytest.fixture
def server(tmp_path: Path, _stopping_servers: list, server_env: dict[str, str]) -> Iterator[str]:
    """A fresh ``streamlit run app.py`` for this test alone, on its own empty GENLAB_HOME; returns its URL once
    Streamlit's health endpoint answers. After the test: told to stop, and its log must hold no traceback."""
    yield from _serve(tmp_path, _stopping_servers, server_env)


@pytest.fixture(scope="module")
def tour_server(tmp_path_factory: pytest.TempPathFactory, _stopping_servers: list) -> Iterator[str]:
    """One server for the formula tour: its tests only open pages (no job, no stored run), so they may share it,
    which keeps each one to two page loads."""
    yield from _serve(tmp_path_factory.mktemp("tour"), _stopping_servers, {})


def _serve(tmp_path: Path, _stopping_servers: list, server_env: dict[str, str]) -> Iterator[str]:
    home, log = tmp_path / "genlab_home", tmp_path / "streamlit.log"
    home.mkdir()
    port = _free_port()
    env = dict(os.environ, GENLAB_HOME=str(home), **server_env)
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                 "--server.headless", "true", "--server.fileWatcherType", "none",
                                 "--browser.gatherUsageStats", "false"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SAFETY_TIMEOUT   # a safety net against a server that never comes up
        while not _healthy(url):
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early:\n{log.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        _stopping_servers.append((proc, log))
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server: str):
    """A page in a fresh browser context (no cookies, storage or session shared with another test)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(WAIT_MS)
    yield pg
    context.close()


def _idle(pg) -> None:
    """Wait until the app's script run has ended (Streamlit marks it on its root element), so what a page draws
    late in its run, an exception included, is on the screen."""
    pg.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()


def _assert_no_exception(pg) -> None:
    _idle(pg)
    assert pg.locator('[data-testid="stException"]').count() == 0, pg.locator('[data-testid="stException"]').first.inner_text()


def test_every_page_opens_and_a_job_trains_to_done(server: str, page, tmp_path: Path) -> None:
    pg = page
    # 1. a deep link as the very first request: must come up inside the app shell (navigation + monitor)
    pg.goto(f"{server}/train")
    pg.get_by_role("heading", name="Train a model").wait_for()
    pg.get_by_text("Jobs", exact=True).wait_for()
    pg.get_by_role("link", name="Runs").first.wait_for()   # GenLab's own page links (the first-paint test: only those)
    _assert_no_exception(pg)

    # 2. every page renders (to the end of its script run)
    for path, heading in [("/", "GenLab"), ("/runs", "Runs"), ("/train", "Train a model")]:
        pg.goto(server + path)
        pg.get_by_role("heading", name=heading, exact=True).first.wait_for()
        _assert_no_exception(pg)   # after the page's script run has ended

    # 3. start a short VAE job and watch it finish, live, without reloading the page. (No pause after Enter:
    # the button's rerun carries every widget's current value; "step 300/300" below proves the 300 was used.)
    pg.get_by_text("Training settings").click()
    steps = pg.get_by_label("training steps", exact=True)
    steps.fill("300")
    steps.press("Enter")
    pg.get_by_role("button", name="Start training").click()
    # A cold machine (a fresh virtual environment, a busy CI runner) can time the probe slow enough that the page
    # asks before starting (estimate above 5 minutes, issue 19): confirm then, as a user would; the estimate itself
    # is tested in test_estimate. The job must still train to the end.
    done, anyway = pg.get_by_text("done · step 300/300").first, pg.get_by_role("button", name="Start anyway")
    try:
        done.or_(anyway).first.wait_for()
        if anyway.count():
            print("the page asked before starting (its estimate was above 5 minutes)")
            anyway.click()
        done.wait_for()
    except Exception:   # an intermittent hang seen once in a while: say what the page showed, then fail
        sidebar = pg.locator('[data-testid="stSidebar"]').inner_text()
        main = pg.locator('[data-testid="stMain"]').inner_text()
        log = (tmp_path / "streamlit.log").read_text()[-3000:]   # the server's own log (the server fixture's file)
        raise AssertionError(f"the job did not reach 'done · step 300/300'.\nSidebar:\n{sidebar}\n\nPage (end):\n"
                             f"{main[-1500:]}\n\nServer log (end):\n{log}\n\nload average: {os.getloadavg()}") from None
    pg.get_by_text("Samples vs real data").wait_for()
    _assert_no_exception(pg)

    # 4. the run is in the store and the Runs page shows it
    pg.get_by_role("link", name="Runs").first.click()
    pg.get_by_role("heading", name="Runs", exact=True).wait_for()
    pg.get_by_text("vae").first.wait_for()
    pg.get_by_text("Download checkpoint").wait_for()
    _assert_no_exception(pg)


def test_compare_page_table_updates_live_while_two_models_train(server: str, page) -> None:
    """The default three runs (copula, vae, nsf); the two iterative ones get the field's largest step budget, so
    they are still training whatever the machine's speed when the test looks for a live redraw, and then the
    test stops them from the sidebar."""
    pg = page
    pg.goto(f"{server}/compare")
    pg.get_by_role("heading", name="Compare models").wait_for()
    _assert_no_exception(pg)
    steps = pg.get_by_role("spinbutton", name="steps (iterative models)")
    steps.fill("200000")
    steps.press("Enter")
    period = pg.get_by_role("spinbutton", name="rescore every (s)")
    period.fill("1")
    period.press("Enter")
    pg.get_by_role("button", name="Start 3 run(s)").click()
    # while they train, the summary line ("… · refreshed HH:MM:SS") and the table are redrawn without a reload
    summary = pg.get_by_text(re.compile(r"run\(s\): 2 running, 1 done · refreshed")).first
    first = summary.inner_text()
    expect(summary).not_to_have_text(first, timeout=WAIT_MS)   # the live table refreshes on its own
    pg.locator('[data-testid="stDataFrame"]').first.wait_for()
    stop = pg.get_by_role("button", name="Stop", exact=True)   # the sidebar's, one per unfinished job
    for left in (1, 0):
        stop.first.click()
        expect(stop).to_have_count(left, timeout=WAIT_MS)
    # every run on this dataset finished: the summary lists no running or queued run
    pg.get_by_text(re.compile(r"run\(s\): 2 stopped, 1 done · refreshed")).first.wait_for()
    pg.get_by_text("Side by side").wait_for()
    pg.get_by_role("tab", name="Histograms").wait_for()   # the finished runs are sampled and plotted
    pg.get_by_role("button", name="Download table (CSV)").wait_for()
    _assert_no_exception(pg)


def test_lorenz_lab_draws_the_butterfly_and_switches_sections(server: str, page) -> None:
    pg = page
    pg.goto(f"{server}/lorenz")
    pg.get_by_role("heading", name="Lorenz attractor lab").wait_for()
    pg.locator('[data-testid="stPlotlyChart"]').first.wait_for()
    pg.get_by_text("Sensitive dependence on initial conditions").wait_for()
    _assert_no_exception(pg)
    pg.get_by_text("2 · Lyapunov exponent").click()
    pg.get_by_text("λ₁ (Benettin)").wait_for()
    pg.get_by_text("From data alone: Rosenstein's method").wait_for()
    _assert_no_exception(pg)


def test_latent_explorer_projects_with_umap_and_lasso_selection_decodes(server: str, page) -> None:
    pg = page
    pg.goto(f"{server}/latent")
    pg.get_by_role("heading", name="Latent-space explorer").wait_for()
    pg.get_by_text("Do the codes separate the classes?").wait_for()
    _assert_no_exception(pg)
    pg.get_by_role("button", name="Project").click()
    pg.get_by_text(re.compile(r"UMAP: (fitted in|from the cache)")).wait_for()
    # The page's script run has ended (nothing below the chart can still move it or rerun the page), and Plotly
    # has added its drag layer, what a lasso is drawn on, which it does last, once the traces are drawn.
    _idle(pg)
    chart = pg.locator('[data-testid="stPlotlyChart"]').nth(1)  # scree plot, then the PCA | UMAP pair
    chart.scroll_into_view_if_needed()
    chart.locator(".nsewdrag").first.wait_for()
    box = chart.bounding_box()
    assert box is not None
    # a lasso over the UMAP panel (right half): the points inside are selected, then decoded below the chart
    x0, y0, w, h = box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.3, box["width"] * 0.3, box["height"] * 0.4
    pg.mouse.move(x0, y0)
    pg.mouse.down()
    for fx, fy in ((1, 0), (1, 1), (0, 1), (0, 0.05)):
        pg.mouse.move(x0 + fx * w, y0 + fy * h, steps=8)
    pg.mouse.up()
    pg.get_by_text(re.compile(r"\d+ selected")).wait_for()
    _assert_no_exception(pg)


def test_density_page_shows_the_latent_gmm_and_the_toy_densities(server: str, page) -> None:
    pg = page
    pg.goto(f"{server}/density")
    pg.get_by_role("heading", name="Density", exact=True).wait_for()
    pg.get_by_text(re.compile(r"log ε = .* rows below it")).wait_for()
    _assert_no_exception(pg)
    pg.get_by_text("2 · Densities on 2-D toy data").click()
    pg.get_by_text("Held-out log-likelihood").wait_for()
    pg.get_by_role("button", name="Train the gan").click()
    pg.get_by_text(re.compile(r"gan on moons — (running|done)")).first.wait_for()
    pg.locator('[data-testid="stPlotlyChart"]').nth(2).wait_for()
    _assert_no_exception(pg)


def _auroc(pg) -> str:
    metric = pg.locator('[data-testid="stMetric"]').filter(has_text="AUROC")
    return metric.locator('[data-testid="stMetricValue"]').inner_text()


def test_anomaly_page_trains_scores_and_keeps_the_result_on_reload_and_in_a_new_browser(server: str, browser,
                                                                                         page) -> None:
    """Train a tiny WGAN, score with it: both runs' ids go into the URL, so a reload (F5) and the same link in a
    fresh browser context (no cookies, a new session) show the same AUROC and gallery, without retraining."""
    pg = page
    pg.goto(f"{server}/anomaly")
    pg.get_by_role("heading", name="Anomaly scoring").wait_for()
    _assert_no_exception(pg)
    steps = pg.get_by_role("spinbutton", name="training steps", exact=True)
    steps.fill("100")   # the field's minimum: here the page's flow is tested (test_anomaly_page: its scores)
    steps.press("Enter")
    # the Train button's job is built in the run that drew it: on a busy machine a click before the run with 100
    # steps ends trains the default 3,000 (seen in tests/test_browser_anomaly.py); the address shows when it ran
    pg.wait_for_url(re.compile(r"[?&]an_steps=100(&|$)"))
    _idle(pg)
    pg.get_by_role("button", name="Train", exact=True).click()
    score = pg.get_by_role("button", name="Score", exact=True)
    expect(score).to_be_enabled(timeout=WAIT_MS)   # the GAN is trained
    assert "gan=" in pg.url
    enc_steps = pg.get_by_role("spinbutton", name="encoder training steps")   # the default method: an encoder
    enc_steps.fill("100")
    enc_steps.press("Enter")
    _idle(pg)
    score.click()
    pg.get_by_text("Against simple detectors, same split").wait_for()
    pg.locator(".st-key-an_gallery").wait_for()
    _assert_no_exception(pg)
    auroc, url = _auroc(pg), pg.url
    assert "gan=" in url and "run=" in url and float(auroc) > 0

    pg.reload()
    pg.locator(".st-key-an_gallery").wait_for()
    _assert_no_exception(pg)
    assert _auroc(pg) == auroc and pg.url == url

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        other = context.new_page()
        other.set_default_timeout(WAIT_MS)
        other.goto(url)
        other.locator(".st-key-an_gallery").wait_for()
        _assert_no_exception(other)
        assert _auroc(other) == auroc
        assert other.get_by_role("button", name="Score", exact=True).is_enabled()   # the stored GAN is trained
    finally:
        context.close()


def test_simulator_page_fits_poisson_live_and_compares_with_the_exact_fit(server: str, page) -> None:
    pg = page
    pg.goto(f"{server}/simulator")
    pg.get_by_role("heading", name="Simulator fitting (AVO)").wait_for()
    _assert_no_exception(pg)
    for label, value in (("proposal steps", "80"), ("critic warm-up steps", "20")):
        box = pg.get_by_role("spinbutton", name=label)
        box.fill(value)
        box.press("Enter")
    pg.get_by_role("button", name="Start", exact=True).click()   # "step 80/80" below: the values were used
    pg.get_by_text(re.compile(r"done · step 80/80 · [\d,]+ simulations")).wait_for()
    pg.get_by_text("lambda: estimate").wait_for()
    assert pg.locator('[data-testid="stPlotlyChart"]').count() >= 3   # ψ trace, critic, histogram
    pg.get_by_role("button", name="Maximum likelihood").click()
    pg.get_by_text("maximum likelihood (x̄)").first.wait_for(state="attached")  # a grid cell
    pg.get_by_role("button", name="History (CSV)").wait_for()
    _assert_no_exception(pg)
    assert "run=" in pg.url                     # the fit's run is in the URL: a reload shows it again, not refitted
    pg.reload()
    pg.get_by_text(re.compile(r"done · step 80/80 · [\d,]+ simulations")).wait_for()
    pg.get_by_text("lambda: estimate").wait_for()
    _assert_no_exception(pg)


CLASSROOM = {"GENLAB_MODE": "classroom", "GENLAB_TEACHER_TOKEN": "browser-test-token"}


@pytest.mark.parametrize("server_env", [CLASSROOM], ids=["classroom"])
def test_classroom_browsers_keep_to_their_own_work_and_the_teacher_sees_all(server: str, browser, tmp_path: Path) -> None:
    """Three browser contexts (three cookie jars) on one classroom server: Ana trains; a second browser that joins
    under the same name sees none of it and can stop nothing, before and after a reload; Ana's reload finds her job
    again (the identity is in her cookie, not in her name); the teacher's token shows Ana's job, and stops it."""
    contexts = []

    def join(name: str):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        contexts.append(context)
        pg = context.new_page()
        pg.set_default_timeout(WAIT_MS)
        pg.goto(f"{server}/train")
        pg.get_by_role("heading", name="Welcome to GenLab").wait_for()
        pg.get_by_label("Your name", exact=True).fill(name)
        pg.get_by_role("button", name="Join").click()
        pg.get_by_role("heading", name="Train a model").wait_for()
        _assert_no_exception(pg)
        deadline = time.monotonic() + SAFETY_TIMEOUT   # the browser keeps its secret (a cookie) once the page ran
        while not any(c["name"].startswith("genlab_user") for c in context.cookies()):
            assert time.monotonic() < deadline, "no identity cookie was set"
            pg.wait_for_timeout(50)
        return pg

    def sidebar(pg):
        return pg.locator('[data-testid="stSidebar"]')

    try:
        ana = join("Ana")
        ana.get_by_text("Training settings").click()
        steps = ana.get_by_label("training steps", exact=True)
        steps.fill("200000")
        steps.press("Enter")
        # the Start button's job is built in the run that drew it: clicked before the run with 200,000 steps has
        # ended, it trains the default 15,000 (diagnosed 2026-12-03 from this test's printed sidebar: "vae on
        # finance — running · 10030/15000"), and 'running · N/200000' never appears
        ana.wait_for_url(re.compile(r"[?&]train_steps=200000(&|$)"))
        _idle(ana)
        ana.get_by_role("button", name="Start training").click()
        stop = sidebar(ana).get_by_role("button", name="Stop", exact=True)
        anyway = ana.get_by_role("button", name="Start anyway")   # 200,000 steps: estimated above five minutes
        stop.or_(anyway).first.wait_for()
        if anyway.count():
            anyway.click()
        stop.wait_for()
        running = ana.get_by_text(re.compile(r"running · \d+/200000")).first

        def state() -> str:
            log = (tmp_path / "streamlit.log").read_text()[-4000:]
            main = ana.locator('[data-testid="stMain"]').inner_text()[-2000:]
            return (f"Sidebar:\n{sidebar(ana).inner_text()}\n\nPage:\n{main}\n\nServer log:\n{log}\n\n"
                    f"load average: {os.getloadavg()}")

        try:
            running.wait_for(timeout=90_000)
        except Exception:
            # Seen in about one run in three on this VM (2026-12-02): the job had started with the default steps
            # (the race the wait for the URL above now closes). This test is about isolation (the live refresh is tested by the
            # job and Compare tests), so it prints what the browser showed, reloads as a user would, and fails only
            # if the job still does not read 'running'.
            print(f"Ana's job did not read 'running' within 90 s; reloading.\n{state()}")
            ana.reload()
            try:
                running.wait_for()
            except Exception:
                raise AssertionError(f"Ana's job never read 'running'.\n{state()}") from None

        other = join("Ana")                          # the same name, another browser
        for reload in (False, True):
            if reload:
                other.reload()                       # its own cookie: still the second "Ana", not asked again
                other.get_by_role("heading", name="Train a model").wait_for()
            _idle(other)
            expect(sidebar(other).get_by_text("No jobs yet", exact=False)).to_be_visible()
            assert other.get_by_role("button", name="Stop", exact=True).count() == 0
            assert other.get_by_role("button", name="Cancel", exact=True).count() == 0
            assert other.get_by_label("Your name", exact=True).count() == 0
        ana.reload()                                  # Ana's cookie brings her job back
        ana.get_by_role("heading", name="Train a model").wait_for()
        sidebar(ana).get_by_role("button", name="Stop", exact=True).wait_for()
        assert ana.get_by_label("Your name", exact=True).count() == 0

        teacher = join("Mr. Keating")
        sidebar(teacher).get_by_text("You", exact=True).click()
        sidebar(teacher).get_by_role("textbox", name="Teacher token").fill(CLASSROOM["GENLAB_TEACHER_TOKEN"])
        sidebar(teacher).get_by_role("button", name="Enter as teacher").click()
        sidebar(teacher).get_by_text("teacher", exact=False).first.wait_for()
        sidebar(teacher).get_by_text("(Ana)", exact=False).first.wait_for()
        sidebar(teacher).get_by_role("button", name="Stop", exact=True).click()
        ana.get_by_text(re.compile(r"stopped · \d+/200000")).first.wait_for()
        for pg in (ana, other, teacher):
            _assert_no_exception(pg)
    finally:
        for context in contexts:
            context.close()


# --- the app shell: the first paint, and formulas that fit (presentation mode) ------------------------------------
GENLAB_PAGES = ["Home", "Train", "Compare", "Lorenz lab", "Latent explorer", "Density", "Anomalies",
                "Simulator fitting", "Runs", "Sources"]
#: What Streamlit's legacy pages/ navigation would list: app.py and every module under pages/, as it names them.
MODULE_NAMES = {"app"} | {p.stem.replace("_", " ") for p in (ROOT / "pages").glob("*.py")}

#: Installed before any page script: records, at every change of the document from the very first one, the label
#: of every link (icon ligatures left out) and whether Streamlit's own navigation was ever drawn.
_RECORD_NAVIGATION = """
window.__genlabLinks = new Set();
window.__genlabStreamlitNav = false;
const record = () => {
  if (document.querySelector('[data-testid="stSidebarNav"], [data-testid="stSidebarNavItems"], '
                             + '[data-testid="stTopNavLink"]')) window.__genlabStreamlitNav = true;
  for (const a of document.querySelectorAll('a')) {
    const copy = a.cloneNode(true);
    copy.querySelectorAll('[data-testid="stIconMaterial"], [data-testid="stIconEmoji"]').forEach(i => i.remove());
    const label = copy.textContent.trim();
    if (label) window.__genlabLinks.add(label);
  }
};
new MutationObserver(record).observe(document, {childList: true, subtree: true, characterData: true});
"""


@pytest.mark.parametrize("path, heading", [("", "GenLab"), ("/train", "Train a model")], ids=["home", "deep-link"])
def test_a_fresh_server_shows_genlab_pages_from_the_first_paint(server: str, browser, path: str,
                                                                heading: str) -> None:
    """The ``server`` fixture is a fresh process nobody has visited (its first script run is the legacy pages/ run,
    the case the issue saw; a deep link goes through pages/common.ensure_app_shell): every link ever drawn, from the
    first DOM change until the page is drawn, is one of GenLab's pages (no module name), Streamlit's own navigation
    is never drawn, and the ten page links are there."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        pg = context.new_page()
        pg.set_default_timeout(WAIT_MS)
        pg.add_init_script(_RECORD_NAVIGATION)
        pg.goto(server + path)
        pg.get_by_role("heading", name=heading, exact=True).first.wait_for()
        sidebar = pg.locator('[data-testid="stSidebar"]')
        for title in GENLAB_PAGES:        # the heading can be drawn before the sidebar's links: wait for them first
            expect(sidebar.get_by_role("link", name=title, exact=False).first).to_be_attached()
        _assert_no_exception(pg)
        seen = set(pg.evaluate("[...window.__genlabLinks]"))   # read once every link is in, not at the heading
        assert not seen & MODULE_NAMES, f"module names in the navigation: {sorted(seen & MODULE_NAMES)}"
        assert not pg.evaluate("window.__genlabStreamlitNav"), "Streamlit's own navigation was drawn"
        assert set(GENLAB_PAGES) <= seen, sorted(set(GENLAB_PAGES) - seen)
    finally:
        context.close()


#: The pages with formulas (path, heading), and two screens: a 1280×720 projector, and the same window at 150 %
#: browser zoom. Chromium's zoom is a larger device pixel ratio: 1280×720 device pixels at 150 % are an 853×480
#: CSS-pixel layout viewport with devicePixelRatio 1.5, which is what the second context is (CSS media queries and
#: layout see exactly what they see under Ctrl +; document.body.style.zoom would not change the layout viewport).
FORMULA_PAGES = [("/density", "Density"), ("/latent", "Latent-space explorer"), ("/anomaly", "Anomaly scoring"),
                 ("/simulator", "Simulator fitting (AVO)"), ("/lorenz", "Lorenz attractor lab"), ("/", "GenLab"), ("/sources", "Sources")]
SCREENS = {"1280x720": ({"width": 1280, "height": 720}, 1.0), "zoom150": ({"width": 853, "height": 480}, 1.5)}

#: For every visible display formula: its box, the box's scroll and client widths, the box around the pieces KaTeX
#: drew (its "ink"), and how far its markdown container overflows.
_FORMULA_BOXES = """() => [...document.querySelectorAll('[data-testid="stMarkdownContainer"] .katex-display')]
  .filter(e => e.getClientRects().length).map(e => {
    const box = e.getBoundingClientRect();
    const pieces = [...e.querySelectorAll('.katex-html > .base, .katex-html > .tag')].map(b => b.getBoundingClientRect());
    const ink = [Math.min(...pieces.map(r => r.left)), Math.min(...pieces.map(r => r.top)),
                 Math.max(...pieces.map(r => r.right)), Math.max(...pieces.map(r => r.bottom))];
    return {text: e.textContent.slice(0, 60), scroll: e.scrollWidth, client: e.clientWidth,
            box: [box.left, box.top, box.right, box.bottom], ink,
            outer: e.closest('[data-testid="stMarkdownContainer"]').scrollWidth
                   - e.closest('[data-testid="stMarkdownContainer"]').clientWidth};
  })"""


def _formula_problems(boxes: list[dict]) -> list[str]:
    """What is wrong with these formula boxes: one wider inside than its box (a scrollbar or clipping), ink outside
    its box, or two boxes overlapping."""
    problems = []
    for f in boxes:
        if f["scroll"] > f["client"] or f["outer"] > 0:
            problems.append(f"overflows its box ({f['scroll']} > {f['client']} px): {f['text']}")
        if f["ink"][0] < f["box"][0] - 1 or f["ink"][2] > f["box"][2] + 1:
            problems.append(f"drawn outside its box: {f['text']}")
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            w = min(a["box"][2], b["box"][2]) - max(a["box"][0], b["box"][0])
            h = min(a["box"][3], b["box"][3]) - max(a["box"][1], b["box"][1])
            if w > 1 and h > 1:
                problems.append(f"overlap: {a['text']} / {b['text']}")
    return problems


@pytest.mark.parametrize("path, heading", FORMULA_PAGES, ids=[p.strip("/") or "home" for p, _ in FORMULA_PAGES])
@pytest.mark.parametrize("screen", list(SCREENS))
def test_formulas_fit_their_boxes_on_a_projector_in_both_modes(tour_server: str, browser, screen: str, path: str,
                                                               heading: str, tmp_path: Path) -> None:
    """A page with formulas, in normal mode (every formula of the section it opens on, or of every section) and in
    presentation mode (its first section, larger type, the sidebar folded), on the screen's viewport: no formula is
    wider than its box (scrollWidth ≤ clientWidth: a scrollbar does not count as fitting), none is drawn outside its
    box, no two overlap. Screenshots of the window go to the test's tmp dir."""
    viewport, scale = SCREENS[screen]
    context = browser.new_context(viewport=viewport, device_scale_factor=scale)
    problems, counted = [], 0
    try:
        pg = context.new_page()
        pg.set_default_timeout(WAIT_MS)
        for present in (False, True):
            pg.goto(f"{tour_server}{path}" + ("?present=1" if present else ""))
            pg.get_by_role("heading", name=heading, exact=True).first.wait_for()
            _assert_no_exception(pg)
            if present:
                expect(pg.locator('[data-testid="stSidebar"]')).to_have_attribute("data-collapsed", "true")
            pg.evaluate("document.fonts.ready.then(() => true)")   # KaTeX's fonts, which set the formulas' widths
            for _ in range(6):   # the settled layout: a box measured while the page still lays out may be off by a px
                boxes = pg.evaluate(_FORMULA_BOXES)
                found = _formula_problems(boxes)
                if not found:
                    break
                pg.wait_for_timeout(500)
            counted += len(boxes)
            name = f"{screen}_{'present' if present else 'normal'}_{path.strip('/') or 'home'}.png"
            pg.screenshot(path=str(tmp_path / name))   # the window (Streamlit scrolls inside it, not the page)
            problems += [f"{name}: {p}" for p in found]
    finally:
        context.close()
    assert counted >= 2, f"only {counted} formulas seen: the page no longer shows its own, or the selector is stale"
    assert not problems, "\n".join(problems)
