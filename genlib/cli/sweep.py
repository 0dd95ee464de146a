"""``python -m genlib sweep``: train one model on a grid of settings and write a table of the metric suite.

    genlib sweep --model vae --data finance --grid sigma=0.05,0.1,0.2 --grid enc_width=32,128 --steps 500 --out DIR

Every grid point is an ordinary training run (one per point, recorded in the run store with its owner, its folder
under ``DIR/runs/``), run by the engine with its fair shares; ``DIR/table.csv`` and ``DIR/table.json`` hold each
point's settings, its run id and status, and the metric suite. Ctrl-C stops every run and keeps what each learned.
``--executor local`` (the default) trains the points in worker processes of this machine (genlib.train.workers),
``--executor ray`` as actors of a Ray cluster (``GENLAB_RAY_ADDRESS``, default a Ray started on this machine; the
points fan out over the cluster's CPUs, and the table and runs are written here; genlib.train.on_ray),
``--executor thread`` in threads of this process.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from pathlib import Path
from typing import Any

#: The most points one command-line sweep may train (each is a full training run).
MAX_POINTS = 200


def add_parser(sub: Any) -> None:
    s = sub.add_parser("sweep", help="train a model on a grid of settings; a table of the metric suite per point")
    s.add_argument("--model", required=True, help="model name (see 'genlib models')")
    s.add_argument("--data", required=True, help="built-in dataset name or a CSV path")
    s.add_argument("--param", action="append", default=[], metavar="K=V", help="dataset parameter, repeatable")
    s.add_argument("--grid", action="append", default=[], metavar="K=V1,V2,…", required=True,
                   help="a model setting and its values, repeatable: every combination is trained")
    s.add_argument("--set", action="append", default=[], metavar="K=V", help="a fixed model setting, repeatable")
    s.add_argument("--steps", type=int, help="optimiser steps per point (default: the model's)")
    s.add_argument("--batch-size", type=int, default=256)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    s.add_argument("--jobs", type=int, default=None,
                   help="points trained at once (default: GENLAB_MAX_JOBS, else half the CPUs, or the cluster's "
                        "CPUs with --executor ray)")
    s.add_argument("--executor", default=None, choices=["local", "ray", "thread"],
                   help="where the points train: 'local' in worker processes on this machine (the default, or "
                        "'ray' when GENLAB_RAY_ADDRESS is set), 'ray' on a Ray cluster, 'thread' in threads here")
    s.add_argument("--out", required=True, help="folder to create: runs/ (one run per point) and table.csv/.json")
    s.add_argument("--quiet", action="store_true", help="no progress bar")


def grid_points(items: list[str]) -> tuple[list[str], list[dict[str, str]]]:
    """``["sigma=0.1,0.2", "enc_width=32,128"]`` → the setting names and every combination, in order.

    >>> grid_points(["a=1,2", "b=x"])
    (['a', 'b'], [{'a': '1', 'b': 'x'}, {'a': '2', 'b': 'x'}])
    """
    from genlib.params import parse_pairs
    axes: dict[str, list[str]] = {}
    for item in items:
        ((key, values),) = parse_pairs([item], flag="--grid").items()
        if key in axes:
            raise ValueError(f"--grid {key} is given twice; list all its values in one --grid")
        axes[key] = [v.strip() for v in values.split(",") if v.strip()]
        if not axes[key]:
            raise ValueError(f"--grid {key}= has no values; write e.g. {key}=1,2,3")
    names = list(axes)
    return names, [dict(zip(names, combo)) for combo in itertools.product(*axes.values())]


def run(args: argparse.Namespace) -> int:
    from genlib.access import cli_user
    from genlib.data import csv_safe, load_any
    from genlib.models import check_model_memory, model_config
    from genlib.params import parse_pairs
    from genlib.store import RunStore
    from genlib.train import JobManager, JobStatus, TrainSpec, resolve_device

    from .main import CliError

    out = Path(args.out)
    if out.is_file() or (out.is_dir() and any(out.iterdir())):
        raise CliError(f"--out {out} already exists and is not empty; choose a new folder")
    if args.steps is not None and args.steps < 1:
        raise CliError("--steps must be at least 1")
    if args.batch_size < 1:
        raise CliError("--batch-size must be at least 1")
    if args.jobs is not None and args.jobs < 1:
        raise CliError("--jobs must be at least 1")
    try:
        names, points = grid_points(args.grid)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if len(points) > MAX_POINTS:
        raise CliError(f"the grid has {len(points)} points; at most {MAX_POINTS} per sweep")
    base = parse_pairs(args.set, flag="--set")
    both = sorted(set(base) & set(names))
    if both:
        raise CliError(f"{', '.join(both)} is both fixed (--set) and swept (--grid); keep one")
    dataset = load_any(args.data, **parse_pairs(args.param, flag="--param"))
    typed = []             # every point's settings are checked before any training starts (and kept typed)
    for point in points:
        config = model_config(args.model, {**base, **point})
        check_model_memory(args.model, dataset.train.shape[1], config, args.batch_size, len(dataset.train))
        typed.append({k: getattr(config, k) for k in {**base, **point}})
    resolve_device(args.device)
    try:
        (out / "runs").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create --out {out}: {exc.strerror or exc}") from None

    from genlib.train.jobs import default_executor
    manager = JobManager(**({} if args.jobs is None else {"max_concurrent": args.jobs}), store=RunStore(),
                         executor=args.executor or default_executor())
    specs = [TrainSpec(model=args.model, dataset=dataset, config=settings, steps=args.steps,
                       batch_size=args.batch_size, seed=args.seed, device=args.device, eval_period_s=None,
                       name=f"{args.model} " + ", ".join(f"{k}={v}" for k, v in point.items()),
                       out_dir=str(out / "runs" / f"point-{i:03d}"))
             for i, (point, settings) in enumerate(zip(points, typed))]
    jobs = manager.submit_all(specs, owner=cli_user())
    _follow(manager, jobs, args.quiet)

    rows = []
    for i, (settings, job) in enumerate(zip(typed, jobs)):
        point = {k: settings[k] for k in names}
        snap = job.snapshot()
        rows.append({"point": i, **point, "run": snap.run_id or "", "status": snap.status.value, "steps": snap.step,
                     "elapsed_s": round(snap.elapsed, 2), "error": snap.error,
                     **{k: (v if math.isfinite(v) else None) for k, v in snap.metrics.items()}})
    _write_table(out, rows, csv_safe)
    failed = [r for r in rows if r["status"] == JobStatus.FAILED.value]
    for r in failed:
        print(f"genlib: point {r['point']} ({', '.join(f'{k}={r[k]}' for k in names)}) failed: {r['error']}",
              file=sys.stderr)
    done = sum(r["status"] == JobStatus.DONE.value for r in rows)
    print(f"{done} of {len(rows)} points done; table in {out / 'table.csv'} and {out / 'table.json'}",
          file=sys.stderr)
    print(out / "table.csv")
    return 1 if failed else 0


def _follow(manager: Any, jobs: list[Any], quiet: bool) -> None:
    """One progress bar over every point's steps; Ctrl-C stops them all (each keeps what it learned)."""
    from tqdm import tqdm
    bar = None if quiet else tqdm(total=1, unit="step", file=sys.stderr, dynamic_ncols=True, desc="sweep")
    try:
        pending = list(jobs)
        while pending:
            pending[0].wait(0.25)
            pending = [j for j in jobs if not j.wait(0.0)]
            if bar is not None:
                snaps = [j.snapshot() for j in jobs]
                bar.total = max(1, sum(max(s.total, 1) for s in snaps))
                bar.n = sum(s.step for s in snaps)
                bar.set_postfix(done=sum(s.status.finished for s in snaps), refresh=False)
                bar.refresh()
    except KeyboardInterrupt:
        for job in jobs:
            job.stop()
        manager.wait_all()
    finally:
        if bar is not None:
            bar.close()


def _write_table(out: Path, rows: list[dict[str, Any]], csv_safe: Any) -> None:
    import pandas as pd
    frame = pd.DataFrame(rows)
    csv_safe(frame).to_csv(out / "table.csv", index=False)
    (out / "table.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
