"""Why `.streamlit/config.toml` sets ``runner.postScriptGC = false``: a training job's speed while a page refreshes.

    python benchmarks/ui_gc_pause.py [--steps 1500] [--refresh-hz 2] [--repeats 3] [--check]

Streamlit runs ``gc.collect(2)`` after every script run, fragments included. A page with live fragments (the
Compare table and the sidebar job monitor, each at 1 Hz) therefore runs a full collection about twice a second,
and each one holds the GIL for as long as it walks every tracked object of a process that has torch, pandas,
plotly, scikit-learn and Streamlit loaded. A training thread needs the GIL between every small torch op, so it
stalls for the whole pause.

Same run, same job (VAE on ``finance``, same seed), three ways, alternated:

| variant | beside the training job |
|---|---|
| alone | nothing |
| ui, no gc | a thread that, ``--refresh-hz`` times a second, does what a fragment run does without the GC: a job snapshot |
| ui + gc | the same, plus ``gc.collect(2)`` after each (Streamlit's default ``postScriptGC = true``) |

Prints the median pause of one ``gc.collect(2)`` and each variant's steps/s as a ratio to ``alone``. Target: the
"ui, no gc" ratio ≥ 0.9 (the setting GenLab ships). ``--check`` exits 1 when it is missed.
"""
from __future__ import annotations

import argparse
import gc
import statistics
import sys
import threading
import time



def load_app_heap() -> None:
    """Import what the app process has loaded, so the collector walks a realistic heap."""
    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import sklearn.mixture  # noqa: F401
    import streamlit  # noqa: F401
    import torch  # noqa: F401

    import genlib.compare  # noqa: F401
    import genlib.figures.samples  # noqa: F401


def gc_pause(repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        gc.collect(2)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run_job(steps: int, refresh_hz: float, with_gc: bool | None) -> float:
    """Train one job to the end; ``with_gc`` None = no UI thread. Returns the job's own steps/s."""
    from genlib.data import load_dataset
    from genlib.train import TrainSpec
    from genlib.train.jobs import JobManager

    manager = JobManager(max_concurrent=1, store=None)
    spec = TrainSpec(model="vae", dataset=load_dataset("finance"), steps=steps, seed=0, device="cpu",
                     eval_period_s=None)
    job = manager.submit(spec)
    stop = threading.Event()

    def ui() -> None:
        while not stop.wait(1.0 / refresh_hz):
            job.snapshot()
            if with_gc:
                gc.collect(2)

    ui_thread = threading.Thread(target=ui, daemon=True) if with_gc is not None else None
    if ui_thread:
        ui_thread.start()
    job.wait(600)
    stop.set()
    snap = job.snapshot()
    if snap.status.value != "done":
        raise SystemExit(f"job ended {snap.status.value}: {snap.error}")
    return snap.steps_per_s


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--refresh-hz", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)

    load_app_heap()
    pause = gc_pause()
    print(f"gc.collect(2) with the app's modules loaded: {pause * 1000:.0f} ms, median "
          f"of 7 calls; {len(gc.get_objects())} objects tracked")
    run_job(100, args.refresh_hz, None)  # warm-up: first-use costs out of the timings
    rates: dict[str, list[float]] = {"alone": [], "ui, no gc": [], "ui + gc": []}
    for _ in range(args.repeats):
        rates["alone"].append(run_job(args.steps, args.refresh_hz, None))
        rates["ui, no gc"].append(run_job(args.steps, args.refresh_hz, False))
        rates["ui + gc"].append(run_job(args.steps, args.refresh_hz, True))
    base = statistics.median(rates["alone"])
    print(f"\nVAE on finance, {args.steps} steps, UI refresh {args.refresh_hz:g} Hz, {args.repeats} repeats (medians)")
    print(f"{'variant':<12} {'steps/s':>8} {'ratio':>6}")
    for name, values in rates.items():
        med = statistics.median(values)
        print(f"{name:<12} {med:8.1f} {med / base:6.2f}")
    ok = statistics.median(rates["ui, no gc"]) / base >= 0.9
    print(f"\ntarget: 'ui, no gc' ≥ 0.9 × alone → {'PASS' if ok else 'FAIL'}")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
