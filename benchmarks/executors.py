"""Where jobs run: threads of this process vs worker processes of the local pool vs actors of a local Ray.

    python benchmarks/executors.py [--steps N] [--repeats R] [--no-ray]

(a) four concurrent small jobs (a VAE on ``finance``, N steps each, four slots): wall time until all four are done
    and their summed steps/s, with ``executor="thread"`` and with ``executor="local"``. Threads share the
    interpreter lock (and one process's torch); workers each get their own interpreter and torch threads;
(b) a 4-point sweep (VAE, sigma x latent_dim, N steps each, slots = CPUs) through the local pool and through a Ray
    started on this machine (``ray.init(num_cpus=CPUs)``, its start-up timed apart): Ray's overhead on one machine.

The variants alternate over R repeats (order reversed every other repeat) and medians are compared; each ratio is
measured in this run, against a baseline of this run. Everything is printed as one markdown table.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from genlib.data import load_dataset
from genlib.train import JobManager, JobStatus, TrainSpec

CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _spec(steps: int, seed: int, **config) -> TrainSpec:
    return TrainSpec("vae", load_dataset("finance"), config=config, steps=steps, seed=seed, eval_period_s=None,
                     eval_samples=500)


def _run_all(executor: str, specs: list[TrainSpec], slots: int) -> tuple[float, float]:
    """Wall seconds until every job is done, and their summed steps over that time."""
    manager = JobManager(max_concurrent=slots, executor=executor)
    t0 = time.perf_counter()
    jobs = manager.submit_all(specs)
    assert manager.wait_all(1800), "timed out"
    wall = time.perf_counter() - t0
    snaps = [j.snapshot() for j in jobs]
    bad = [s.error for s in snaps if s.status is not JobStatus.DONE]
    assert not bad, bad
    return wall, sum(s.step for s in snaps) / wall


def concurrent_jobs(steps: int, repeats: int) -> dict[str, list[float]]:
    walls: dict[str, list[float]] = {"thread": [], "local": []}
    _run_all("local", [_spec(20, 0)], 1)   # warm-up: the pool's first worker, the data cache
    _run_all("thread", [_spec(20, 0)], 1)
    for r in range(repeats):
        order = ("thread", "local") if r % 2 == 0 else ("local", "thread")
        for executor in order:
            wall, _ = _run_all(executor, [_spec(steps, seed) for seed in range(4)], 4)
            walls[executor].append(wall)
            print(f"  four jobs, {executor}: {wall:.1f} s", flush=True)
    return walls


def sweep(steps: int, repeats: int) -> tuple[dict[str, list[float]], float]:
    from genlib.train.on_ray import connect
    t0 = time.perf_counter()
    os.environ.setdefault("GENLAB_RAY_CPUS", str(CPUS))
    connect("local")
    ray_start = time.perf_counter() - t0
    grid = [dict(sigma=s, latent_dim=d) for s in (0.1, 0.5) for d in (2, 4)]
    walls: dict[str, list[float]] = {"local": [], "ray": []}
    _run_all("ray", [_spec(20, 0)], 1)      # warm-up: Ray's first worker processes
    for r in range(repeats):
        order = ("local", "ray") if r % 2 == 0 else ("ray", "local")
        for executor in order:
            wall, _ = _run_all(executor, [_spec(steps, 0, **point) for point in grid], CPUS)
            walls[executor].append(wall)
            print(f"  4-point sweep, {executor}: {wall:.1f} s", flush=True)
    return walls, ray_start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-ray", action="store_true", help="skip (b), e.g. without the optional Ray extra")
    args = parser.parse_args()
    print(f"# executors: {platform.node()}, {CPUS} CPUs, torch {torch.__version__}, load "
          f"{os.getloadavg()[0]:.2f}, {args.steps} steps per job, {args.repeats} repeats", flush=True)
    med = statistics.median
    four = concurrent_jobs(args.steps, args.repeats)
    rows = [("four concurrent VAE jobs: wall s (median)", f"{med(four['thread']):.1f}", f"{med(four['local']):.1f}",
             f"workers/threads throughput {med(four['thread']) / med(four['local']):.2f}")]
    if not args.no_ray:
        try:
            import ray  # noqa: F401
        except ImportError:
            print("Ray is not installed: (b) skipped (pip install -r requirements-ray.txt)")
        else:
            walls, ray_start = sweep(args.steps, args.repeats)
            rows.append(("4-point sweep: wall s (median), local pool vs Ray", f"{med(walls['local']):.1f}",
                         f"{med(walls['ray']):.1f}",
                         f"Ray/local wall {med(walls['ray']) / med(walls['local']):.2f}; Ray start {ray_start:.1f} s"))
    print("\n| measurement | baseline | variant | ratio |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
