"""How long a move of the Anomalies page's λ slider takes, click → page idle, in headless Chromium (issue 19, pt 7).

Both paths are measured in the same run, on the same stored scores, alternately: the page as it is (λ and what
depends on it in a fragment, figures from dicts) and the page of an older commit (``--old``, default the commit
before this work: every move reruns the whole page), each served by its own ``streamlit run`` on one GENLAB_HOME.
A move is a mouse click on the slider's track; "idle" is the app's own script-state attribute back at
``notRunning`` after a run (a MutationObserver in the page timestamps it, so a run too short to catch by polling
still counts). Prints each path's median and p90, their ratio, and the machine load (``uptime``).

    python benchmarks/anomaly_lambda.py [--moves 10] [--warmup 3] [--old 45c6e77] [--home DIR --gan ID --run ID]

Moves start once both servers are idle (a fresh server compiles UMAP's kernels in the background for 10-30 s)
and after ``--warmup`` unmeasured moves per path (the browser's first drawing of each figure, V8's compiling).

Without ``--home`` it first trains a tiny WGAN (100 steps) on digits and scores it (10 iterations per row), ~2 min
on 2 busy cores. Needs /usr/bin/chromium and playwright.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]

#: Installed before a move: records (time, state) each time Streamlit's script-state attribute changes.
OBSERVE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__states = [];
  window.__obs && window.__obs.disconnect();
  window.__obs = new MutationObserver(() => window.__states.push(
      [performance.now(), app.getAttribute('data-test-script-state')]));
  window.__obs.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  window.__t0 = performance.now();
}"""
#: True once a run started after the move has ended.
DONE = """() => { const s = window.__states || []; const i = s.findIndex(e => e[1] === 'running');
  return i >= 0 && s.slice(i).some(e => e[1] === 'notRunning'); }"""
#: Seconds from the move to the last notRunning (a move may give more than one run).
ELAPSED = "() => (window.__states.filter(e => e[1] === 'notRunning').pop()[0] - window.__t0) / 1000"


def make_scores(home: Path) -> tuple[str, str]:
    """A tiny WGAN on digits (digit 0 held out) and its scoring run, in the store at ``home``."""
    from genlib import anomaly as an
    from genlib.store import RunStore
    from genlib.train import JobManager, TrainSpec

    store = RunStore(home)
    manager = JobManager(store=store)
    try:
        ds = an.scenario_dataset(an.load_scenario("digits", k=0))
        gan = manager.submit(TrainSpec(model="wgan_gp", dataset=ds, config={"latent_dim": 16}, steps=100,
                                       batch_size=128, eval_period_s=None, device="cpu"))
        assert gan.wait(900) and gan.snapshot().status.value == "done", gan.snapshot().error
        job = manager.submit(an.AnomalyScoringTask(gan=partial(store.load, gan.run_id), gan_run=gan.run_id,
                                                   scenario_name="digits", scenario_params={"k": 0}, method="optimise", iters=10,
                                                   device="cpu"))
        assert job.wait(900) and job.snapshot().status.value == "done", job.snapshot().error
        return gan.run_id, job.run_id
    finally:
        manager.shutdown(timeout=30)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app_dir: Path, home: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """``streamlit run app.py`` from ``app_dir`` on GENLAB_HOME=``home``; returns (process, URL) once healthy."""
    port = _port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.headless", "true", "--server.fileWatcherType", "none",
                             "--browser.gatherUsageStats", "false"], cwd=app_dir,
                            env=dict(os.environ, GENLAB_HOME=str(home)), stdout=log.open("w"),
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5):
                return proc, url
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    raise RuntimeError(f"streamlit did not start:\n{log.read_text()[-2000:]}")


def open_page(browser, url: str):
    """The page on the stored scores, fully drawn (gallery and all), its script run ended."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(240_000)
    page.goto(url)
    page.locator(".st-key-an_gallery").wait_for()
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()
    return page


def wait_until_idle(pids: list[int], busy_below: float = 0.1, window_s: float = 2.0, limit_s: float = 180.0) -> float:
    """Wait until the processes ``pids`` together use under ``busy_below`` of a core over ``window_s`` (a fresh
    server compiles UMAP's numba kernels in a background thread for 10-30 s: a move measured then measures that);
    returns the seconds waited. Linux only (/proc)."""
    def cpu_s() -> float:
        total = 0
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])   # utime + stime, in clock ticks
        return total / os.sysconf("SC_CLK_TCK")

    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        before = cpu_s()
        time.sleep(window_s)
        if (cpu_s() - before) / window_s < busy_below:
            break
    return time.monotonic() - start


def move_lambda(page, fraction: float) -> float:
    """Click the λ slider's track at ``fraction`` of its width; seconds until the page is idle again."""
    track = page.locator('.st-key-an_lam [role="group"] > [data-rac]').first
    track.scroll_into_view_if_needed()
    box = track.bounding_box()
    page.evaluate(OBSERVE)
    page.mouse.click(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)
    page.wait_for_function(DONE, timeout=240_000)
    return float(page.evaluate(ELAPSED))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=10, help="moves per path (alternating between the paths)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured moves per path first (at most 3)")
    parser.add_argument("--old", default="45c6e77", help="commit of the old page (every move reruns the page)")
    parser.add_argument("--home", type=Path, help="a GENLAB_HOME holding --gan and --run (skips the training)")
    parser.add_argument("--gan")
    parser.add_argument("--run")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        if args.home is None:
            home = tmp_path / "home"
            home.mkdir()
            t = time.perf_counter()
            gan, run = make_scores(home)
            print(f"trained and scored in {time.perf_counter() - t:.0f} s: gan {gan}, run {run}")
        else:
            home, gan, run = args.home, args.gan, args.run
        old_dir = tmp_path / "old"
        old_dir.mkdir()
        archive = subprocess.run(["git", "archive", args.old], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old_dir)], input=archive, check=True)
        servers = {"new (fragment)": serve(ROOT, home, tmp_path / "new.log"),
                   f"old ({args.old}, whole page)": serve(old_dir, home, tmp_path / "old.log")}
        times: dict[str, list[float]] = {name: [] for name in servers}
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                pages = {name: open_page(browser, f"{url}/anomaly?gan={gan}&run={run}")
                         for name, (_, url) in servers.items()}
                waited = wait_until_idle([proc.pid for proc, _ in servers.values()])
                print(f"servers idle after {waited:.0f} s (UMAP's warm-up)")
                for name, page in pages.items():
                    # warm-up: first figures, first imports; it ends at 0.3 so the first measured click (0.7) moves
                    for fraction in [0.5, 0.7, 0.3][3 - max(1, min(args.warmup, 3)):]:
                        move_lambda(page, fraction)
                for i in range(args.moves):
                    for name, page in pages.items():
                        times[name].append(move_lambda(page, 0.3 if i % 2 else 0.7))
                browser.close()
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(30)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"\nλ moves, click → page idle, {args.moves} per path, headless Chromium; {load}")
    print("| path | median s | p90 s | min s | max s |\n|---|---|---|---|---|")
    for name, ts in times.items():
        p90 = statistics.quantiles(ts, n=10)[-1] if len(ts) > 1 else ts[0]
        print(f"| {name} | {statistics.median(ts):.2f} | {p90:.2f} | {min(ts):.2f} | {max(ts):.2f} |")
    new, old = (statistics.median(ts) for ts in times.values())
    print(f"old/new median: {old / new:.1f}×; target: under 0.5 s on a quiet machine")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
