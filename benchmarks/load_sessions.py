"""Load: N browser sessions on one GenLab server, page switches while idle and while their jobs train.

One ``streamlit run app.py`` on a fresh temporary GENLAB_HOME, one headless Chromium with N browser contexts (separate
cookies, so N Streamlit sessions), driven concurrently with Playwright's async API:

- warm-up: every browser opens each page of the rotation once (cold in that session; timed, kept out of the ratios);
- phase "idle": every browser switches pages M times (sidebar link → the new page drawn and idle);
- every browser opens Train, sets the steps and presses "Start training" K times (VAE on finance, the page's
  defaults otherwise); the server's JobManager runs two jobs at a time and queues the rest;
- phase "loaded": the same M switches per browser while those jobs train;
- then (unless --no-wait-jobs) the jobs are left to finish, and the run store and the server log are read.

A switch is timed from the click on the sidebar's navigation link until the URL names the new page, its title is
drawn in the main area and the app's script run has ended (``data-test-script-state="notRunning"``), the state
tests/test_browser.py waits for. The baseline is the idle phase of the same run: the report gives loaded / idle.

In classroom mode (GENLAB_MODE=classroom) a browser's first visit may ask for "Your name" and a "Join" button; the
script answers "student-<i>" when it sees that prompt and carries on as usual when there is none.

    python benchmarks/load_sessions.py                                   # 5 browsers × 3 runs, ~5 min on 2 cores
    python benchmarks/load_sessions.py --browsers 2 --runs-per-browser 1 --switches 3   # a quick look
    python benchmarks/load_sessions.py --mode classroom --json load.json
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
#: Sidebar title → (address path, the page's st.title): what a finished switch shows.
PAGES = {
    "Home": ("/", "GenLab"),
    "Train": ("/train", "Train a model"),
    "Compare": ("/compare", "Compare models"),
    "Lorenz lab": ("/lorenz", "Lorenz attractor lab"),
    "Latent explorer": ("/latent", "Latent-space explorer"),
    "Density": ("/density", "Density"),
    "Anomalies": ("/anomaly", "Anomaly scoring"),
    "Simulator fitting": ("/simulator", "Simulator fitting (AVO)"),
    "Runs": ("/runs", "Runs"),
}
DEFAULT_ROTATION = "Home,Train,Compare,Runs,Density"
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
EXCEPTION = '[data-testid="stException"]'
WAIT_S = 90.0            # the longest wait for one thing (a page, a click's rerun): a safety net, not a measurement
SHUTDOWN_RESERVE_S = 25  # of the budget, kept for closing the browser and stopping the server


@dataclass
class Switch:
    phase: str
    browser: int
    page: str
    start: float                 # seconds since the benchmark started
    seconds: float | None        # None: not finished (timeout or error)
    error: str | None = None
    jobs_running: int | None = None   # the store's running rows at the switch's start (None: not read yet)


@dataclass
class Bench:
    args: argparse.Namespace
    url: str
    home: Path
    t0: float
    deadline: float
    switches: list[Switch] = field(default_factory=list)
    exceptions: list[dict] = field(default_factory=list)   # {"phase", "browser", "page", "first_line"}
    problems: list[str] = field(default_factory=list)      # the benchmark's own failures (a click that did nothing)
    submitted: int = 0
    joined: int = 0
    budget_hit: bool = False
    running_now: int | None = None                         # last poll of the store

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def wait_ms(self) -> float:
        """Playwright's timeout for one wait: the safety net, or what is left of the budget."""
        return max(1.0, min(WAIT_S, self.left())) * 1000

    def now(self) -> float:
        return time.monotonic() - self.t0


# --- the server ----------------------------------------------------------------------------------------------------
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


def start_server(home: Path, log: Path, mode: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = dict(os.environ, GENLAB_HOME=str(home), GENLAB_MODE=mode)
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                 "--server.headless", "true", "--server.fileWatcherType", "none",
                                 "--browser.gatherUsageStats", "false"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while not _healthy(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"streamlit did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    return proc, url


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class StorePoller(threading.Thread):
    """Reads the run store once a second: how many runs are running now (what "loaded" means at each switch)."""

    def __init__(self, bench: Bench):
        super().__init__(daemon=True)
        self.bench, self.halt = bench, threading.Event()
        self.samples: list[tuple[float, dict[str, int]]] = []
        self._store = None

    def records(self) -> list:
        if self._store is None:   # opened once: opening writes (schema check), reading does not
            from genlib.store import RunStore
            self._store = RunStore(self.bench.home, reconcile=False)
        return self._store.list(kinds=None)

    def counts(self) -> dict[str, int]:
        return dict(collections.Counter(r.status for r in self.records()))

    def run(self) -> None:
        while not self.halt.wait(1.0):
            try:
                c = self.counts()
            except Exception:  # the store is not there yet, or busy: the next poll will do
                continue
            self.samples.append((self.bench.now(), c))
            self.bench.running_now = c.get("running", 0)


# --- one browser ---------------------------------------------------------------------------------------------------
async def idle(bench: Bench, pg) -> None:
    await pg.locator(IDLE).wait_for(timeout=bench.wait_ms())


async def note_exceptions(bench: Bench, pg, i: int, state: dict) -> None:
    """Count the exceptions drawn on the page now (called when leaving a page, so what its fragments drew after the
    switch counts too), under the phase in which the page was opened."""
    phase, page = state["phase"], state["page"]
    boxes = pg.locator(EXCEPTION)
    for k in range(await boxes.count()):
        try:
            text = (await boxes.nth(k).inner_text(timeout=5000)).strip()
        except Exception as exc:   # redrawn meanwhile
            text = f"(unreadable: {type(exc).__name__})"
        bench.exceptions.append({"phase": phase, "browser": i, "page": page,
                                 "first_line": text.splitlines()[0] if text else ""})


async def join_if_asked(bench: Bench, pg, i: int) -> None:
    """Classroom mode: the first visit asks for "Your name" and a "Join" button before anything else. Answer it when
    it is there; in personal mode the Home page comes straight away and nothing is done."""
    name_box = pg.get_by_label("Your name", exact=True)   # not the sidebar's "Change your name" once joined
    home = pg.locator('[data-testid="stMain"]').get_by_role("heading", name=PAGES["Home"][1], exact=True)
    await name_box.or_(home).first.wait_for(timeout=bench.wait_ms())
    await idle(bench, pg)
    if await name_box.count() == 0:
        return
    await name_box.first.fill(f"student-{i}")
    await pg.get_by_role("button", name="Join", exact=True).first.click()   # submits the form with the name
    await home.first.wait_for(timeout=bench.wait_ms())
    await idle(bench, pg)
    bench.joined += 1


def nav_link(bench: Bench, pg, name: str):
    return pg.locator(f'[data-testid="stSidebarNav"] a[href="{bench.url}{PAGES[name][0]}"]')


async def open_page(bench: Bench, pg, name: str) -> None:
    """Click the sidebar link of ``name`` and wait until the page is drawn and idle (what one switch measures)."""
    path, heading = PAGES[name]
    await nav_link(bench, pg, name).click(timeout=bench.wait_ms())
    await pg.wait_for_url(lambda u: urlparse(u).path.rstrip("/") == path.rstrip("/"), timeout=bench.wait_ms())
    await pg.locator('[data-testid="stMain"]').get_by_role("heading", name=heading, exact=True).first.wait_for(
        timeout=bench.wait_ms())
    await idle(bench, pg)


async def switches(bench: Bench, pg, i: int, phase: str, rotation: list[str], count: int, state: dict) -> None:
    """``count`` timed switches along the rotation (each browser starts at its own offset)."""
    for _ in range(count):
        if bench.left() < SHUTDOWN_RESERVE_S:
            bench.budget_hit = True
            return
        nxt = rotation[(rotation.index(state["page"]) + 1) % len(rotation)] if state["page"] in rotation \
            else rotation[i % len(rotation)]
        await timed_switch(bench, pg, i, phase, nxt, state)


async def timed_switch(bench: Bench, pg, i: int, phase: str, name: str, state: dict) -> None:
    """One measured switch to ``name``; a failure (timeout, a broken page) is recorded, and the next one goes on."""
    await note_exceptions(bench, pg, i, state)
    sw = Switch(phase, i, name, bench.now(), None, jobs_running=bench.running_now)
    t = time.perf_counter()
    try:
        await open_page(bench, pg, name)
        sw.seconds = time.perf_counter() - t
    except Exception as exc:
        sw.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:200]
    bench.switches.append(sw)
    state["page"], state["phase"] = name, phase



async def _choice(box) -> str | None:
    """The option a selectbox shows (its input's value: the selectbox's inner text is only its label)."""
    if not await box.count():
        return None
    return await box.first.locator("input").first.input_value()

async def start_runs(bench: Bench, pg, i: int, state: dict) -> None:
    """Open Train, set the steps, press "Start training" K times; after each press, wait until the page shows the
    new job (its "Run" choice changes to it) and the rerun has ended."""
    if state["page"] != "Train":
        await note_exceptions(bench, pg, i, state)
        await open_page(bench, pg, "Train")
    state["page"], state["phase"] = "Train", "loaded"
    steps = pg.get_by_label("steps", exact=True)
    if not await steps.is_visible():
        await pg.get_by_text("Training settings", exact=True).click(timeout=bench.wait_ms())
    await steps.fill(str(bench.args.steps), timeout=bench.wait_ms())
    await steps.press("Enter")
    await idle(bench, pg)
    run_choice = pg.locator('[data-testid="stSelectbox"]').filter(has=pg.get_by_text("Run", exact=True))
    start = pg.get_by_role("button", name="Start training")
    for _ in range(bench.args.runs_per_browser):
        if bench.left() < SHUTDOWN_RESERVE_S:
            bench.budget_hit = True
            return
        before = await _choice(run_choice)
        await start.click(timeout=bench.wait_ms())
        t_end = time.monotonic() + bench.wait_ms() / 1000
        while True:
            now = await _choice(run_choice)
            if now is not None and now != before:
                break
            if time.monotonic() > t_end:
                bench.problems.append(f"browser {i}: no new job shown after 'Start training'")
                break
            await asyncio.sleep(0.1)
        await idle(bench, pg)
        bench.submitted += 1


async def run_phase(bench: Bench, name: str, coros: list) -> None:
    """Run one coroutine per browser together; past the budget they are cancelled and what they measured is kept."""
    timeout = bench.left() - SHUTDOWN_RESERVE_S
    if timeout <= 0:
        bench.budget_hit = True
        for c in coros:
            c.close()
        return
    try:
        results = await asyncio.wait_for(asyncio.gather(*coros, return_exceptions=True), timeout)
    except asyncio.TimeoutError:
        bench.budget_hit = True
        return
    for i, r in enumerate(results):
        if isinstance(r, BaseException):
            first = str(r).splitlines()[0] if str(r) else ""
            bench.problems.append(f"{name}, browser {i}: {type(r).__name__}: {first}"[:300])


async def drive(bench: Bench, poller: StorePoller) -> dict:
    from playwright.async_api import async_playwright

    args = bench.args
    rotation = args.pages.split(",")
    timings = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        contexts = [await browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(args.browsers)]
        pages = [await c.new_page() for c in contexts]
        states = [{"page": "Home", "phase": "warm-up"} for _ in pages]

        async def first_visit(i: int) -> None:
            await pages[i].goto(bench.url + "/", timeout=bench.wait_ms())
            await join_if_asked(bench, pages[i], i)

        async def warm_up(i: int) -> None:   # every page once (cold in this session), from each browser's offset
            order = rotation[i % len(rotation):] + rotation[:i % len(rotation)]
            for name in order:
                if name != states[i]["page"]:
                    await timed_switch(bench, pages[i], i, "warm-up", name, states[i])

        steps = [("first visit", first_visit), ("warm-up", warm_up),
                 ("idle", lambda i: switches(bench, pages[i], i, "idle", rotation, args.switches, states[i])),
                 ("start runs", lambda i: start_runs(bench, pages[i], i, states[i])),
                 ("loaded", lambda i: switches(bench, pages[i], i, "loaded", rotation, args.switches, states[i]))]
        for name, step in steps:
            t = time.monotonic()
            await run_phase(bench, name, [step(i) for i in range(args.browsers)])
            timings[name] = round(time.monotonic() - t, 1)
            if name == "first visit" and not poller.is_alive():
                poller.start()   # the server has made its store by now
            if bench.budget_hit:
                break

        if not args.no_wait_jobs and not bench.budget_hit:   # browsers stay open on their pages meanwhile
            t = time.monotonic()
            while bench.left() > SHUTDOWN_RESERVE_S:
                c = await asyncio.to_thread(poller.counts)
                if sum(c.values()) >= bench.submitted and not c.get("running"):
                    break
                await asyncio.sleep(1.0)
            else:
                bench.budget_hit = True
            timings["jobs finishing"] = round(time.monotonic() - t, 1)
        for i, pg in enumerate(pages):   # the page each browser ends on
            try:
                await note_exceptions(bench, pg, i, states[i])
            except Exception:
                pass
        for c in contexts:
            await c.close()
        await browser.close()
    return timings


# --- report --------------------------------------------------------------------------------------------------------
def stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "p50": None, "p90": None, "max": None}
    a = np.asarray(values)
    return {"n": len(values), "p50": float(np.percentile(a, 50)), "p90": float(np.percentile(a, 90)),
            "max": float(a.max())}


def fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--browsers", type=int, default=5)
    parser.add_argument("--runs-per-browser", type=int, default=3)
    parser.add_argument("--switches", type=int, default=10, help="timed page switches per browser per phase")
    parser.add_argument("--steps", type=int, default=3000, help="steps of each training run (VAE on finance)")
    parser.add_argument("--pages", default=DEFAULT_ROTATION, help=f"rotation, from: {', '.join(PAGES)}")
    parser.add_argument("--mode", choices=("personal", "classroom"), default="personal", help="GENLAB_MODE")
    parser.add_argument("--budget-s", type=float, default=600, help="stop cleanly after this long, report what ran")
    parser.add_argument("--no-wait-jobs", action="store_true", help="do not wait for the jobs to finish at the end")
    parser.add_argument("--keep", action="store_true", help="keep the temporary GENLAB_HOME and server log")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    args.pages = ",".join(p.strip() for p in args.pages.split(","))
    unknown = [p for p in args.pages.split(",") if p not in PAGES]
    if unknown or len(args.pages.split(",")) < 2:
        parser.error(f"--pages: two or more of {', '.join(PAGES)} (unknown: {', '.join(unknown)})")

    if not Path(CHROMIUM).exists():
        print(f"SKIPPED: no {CHROMIUM} (Debian's chromium; Playwright drives it)")
        return
    load = os.getloadavg()
    t0 = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="genlab_load_"))
    home, log = tmp / "home", tmp / "streamlit.log"
    home.mkdir()
    proc, url = start_server(home, log, args.mode)
    server_s = time.monotonic() - t0
    bench = Bench(args, url, home, t0, t0 + args.budget_s)
    poller = StorePoller(bench)
    try:
        timings = asyncio.run(drive(bench, poller))
    finally:
        poller.halt.set()
        try:
            records = poller.records()
            final = dict(collections.Counter(r.status for r in records))
            failed = [r for r in records if r.status == "failed"]
        except Exception as exc:
            records, final, failed = [], {"(store unreadable)": 1}, []
            print(f"store unreadable: {exc}")
        tracebacks_live = log.read_text(errors="replace").count("Traceback")
        stop_server(proc)
    text = log.read_text(errors="replace")
    tracebacks = text.count("Traceback")
    total_s = time.monotonic() - t0

    # --- numbers
    phases = {}
    for phase in ("warm-up", "idle", "loaded"):
        rows = [s for s in bench.switches if s.phase == phase]
        ok = [s.seconds for s in rows if s.seconds is not None]
        loaded = [s for s in rows if s.jobs_running]
        phases[phase] = stats(ok) | {"switches": len(rows), "failed": len(rows) - len(ok),
                                     "with_jobs_running": len(loaded)}
    per_page = {phase: {name: stats([s.seconds for s in bench.switches if s.phase == phase and s.page == name
                                     and s.seconds is not None]) for name in args.pages.split(",")}
                for phase in ("warm-up", "idle", "loaded")}
    rates = [r.steps / r.elapsed for r in records if r.status == "done" and r.elapsed]
    rate = float(np.median(rates)) if rates else None   # each job's own rate, while the browsers drove the app
    exc_lines = collections.Counter(e["first_line"] for e in bench.exceptions)
    exc_by_phase = collections.Counter(e["phase"] for e in bench.exceptions)
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"), "cores": os.cpu_count(), "loadavg_start": load,
        "python": platform.python_version(), "args": {k: (str(v) if isinstance(v, Path) else v)
                                                      for k, v in vars(args).items()},
        "server_start_s": round(server_s, 1), "step_s": timings, "total_s": round(total_s, 1),
        "budget_hit": bench.budget_hit, "joined": bench.joined, "phases": phases, "per_page": per_page,
        "exceptions": len(bench.exceptions), "exceptions_by_phase": dict(exc_by_phase),
        "exception_lines": dict(exc_lines), "jobs_submitted": bench.submitted, "store_status": final,
        "train_steps_per_s_median": rate, "failed_jobs": len(failed),
        "failed_errors": [f"{r.id}: {r.error}" for r in failed],
        "server_tracebacks": tracebacks, "server_tracebacks_before_shutdown": tracebacks_live,
        "problems": bench.problems, "switches": [asdict(s) for s in bench.switches],
    }

    # --- report
    a = args
    print(f"cores={os.cpu_count()} python={platform.python_version()} load average at start "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min)")
    print(f"{a.browsers} browsers × {a.runs_per_browser} runs ({a.steps} VAE steps each) × {a.switches} switches per "
          f"phase, mode {a.mode}, pages {' → '.join(a.pages.split(','))}")
    print(f"server up in {server_s:.1f} s; " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
          + f"; total {total_s:.0f} s" + (" — STOPPED BY THE BUDGET" if bench.budget_hit else ""))
    if a.mode == "classroom" or bench.joined:
        print(f"joined as student-<i>: {bench.joined} of {a.browsers} browsers")
    print()
    print(f"{'phase':8s} {'switches':>8s} {'failed':>6s} {'p50 s':>6s} {'p90 s':>6s} {'max s':>6s}  jobs running")
    for phase, r in phases.items():
        print(f"{phase:8s} {r['switches']:8d} {r['failed']:6d} {fmt(r['p50']):>6s} {fmt(r['p90']):>6s} "
              f"{fmt(r['max']):>6s}  during {r['with_jobs_running']}/{r['switches']} switches")
    i_, l_ = phases["idle"], phases["loaded"]
    if i_["p50"] and l_["p50"]:
        print(f"loaded / idle: p50 {l_['p50'] / i_['p50']:.2f}×, p90 {l_['p90'] / i_['p90']:.2f}×, "
              f"max {l_['max'] / i_['max']:.2f}×")
    print("(warm-up: each session's first visit to each page, not in the ratios)")
    print("per page, p50 / max s:")
    for name in a.pages.split(","):
        print(f"  {name:18s} " + "   ".join(f"{phase} {fmt(per_page[phase][name]['p50'])} / "
                                            f"{fmt(per_page[phase][name]['max'])}" for phase in per_page))
    print()
    print(f"exceptions on pages: {len(bench.exceptions)}"
          + (f" ({', '.join(f'{k} {v}' for k, v in exc_by_phase.items())})" if bench.exceptions else ""))
    for line, n in exc_lines.most_common(10):
        print(f"  {n}× {line[:160]}")
    print(f"jobs: {bench.submitted} submitted; store: "
          + (", ".join(f"{k} {v}" for k, v in sorted(final.items())) or "empty")
          + f"; failed {len(failed)}" + (f"; median {rate:.0f} steps/s per done run" if rate else ""))
    for r in failed[:5]:
        print(f"  failed {r.id}: {str(r.error)[:160]}")
    print(f"server log: {tracebacks} traceback(s)" + (f" ({tracebacks_live} before shutdown)"
                                                       if tracebacks != tracebacks_live else ""))
    if tracebacks:
        last = [ln for ln in text.splitlines() if re.match(r"^\w+(\.\w+)*(Error|Exception)\b", ln)]
        for ln in list(dict.fromkeys(last))[:5]:
            print(f"  {ln[:160]}")
    for problem in bench.problems[:10]:
        print(f"benchmark problem: {problem}")
    slow = sorted((s for s in bench.switches if s.seconds is not None), key=lambda s: -s.seconds)[:3]
    if slow:
        print("slowest switches: " + "; ".join(f"{s.phase} browser {s.browser} → {s.page} {s.seconds:.2f} s "
                                               f"(t={s.start:.0f} s)" for s in slow))
    failed_sw = [s for s in bench.switches if s.error]
    for s in failed_sw[:5]:
        print(f"failed switch: {s.phase} browser {s.browser} → {s.page}: {s.error}")
    if a.json:
        a.json.write_text(json.dumps(result, indent=1))
        print(f"wrote {a.json}")
    if a.keep:
        print(f"kept {tmp} (GENLAB_HOME and streamlit.log)")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
