"""Cold start of the app: from ``streamlit run app.py`` to the Home page rendered in headless Chromium.

Baseline, measured in the same run: a one-line Streamlit app (``st.title``) started and rendered the same way,
so the ratio shows what GenLab's imports (torch, scikit-learn, plotly) and first page add to Streamlit itself.

    python benchmarks/app_cold_start.py [--repeats 3]
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cold_start(script: Path, heading: str, browser) -> float:
    """Seconds from process launch to ``heading`` visible in the browser."""
    port = _free_port()
    env = dict(os.environ, GENLAB_HOME=tempfile.mkdtemp(prefix="genlab_bench_"))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
                             "--server.headless", "true"], cwd=script.parent, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"{script} exited early")
                time.sleep(0.05)
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
        page.get_by_role("heading", name=heading, exact=True).first.wait_for(timeout=120_000)
        elapsed = time.perf_counter() - t0
        page.close()
        return elapsed
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        hello = Path(tmp) / "hello.py"
        hello.write_text("import streamlit as st\nst.title('Hello')\n")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            base, app = [], []
            for _ in range(args.repeats):  # alternate so both see the same machine load
                base.append(cold_start(hello, "Hello", browser))
                app.append(cold_start(ROOT / "app.py", "GenLab", browser))
            browser.close()
    b, a = statistics.median(base), statistics.median(app)
    print(f"cores={os.cpu_count()} python={sys.version.split()[0]} repeats={args.repeats}")
    print(f"{'':28s} {'median s':>9s}  all")
    print(f"{'baseline: one-line app':28s} {b:9.2f}  {', '.join(f'{x:.2f}' for x in base)}")
    print(f"{'GenLab Home page':28s} {a:9.2f}  {', '.join(f'{x:.2f}' for x in app)}")
    print(f"ratio GenLab / baseline: {a / b:.2f}  (extra {a - b:.2f} s: torch, scikit-learn, plotly imports "
          "and the first page's dataset and figures)")


if __name__ == "__main__":
    main()
