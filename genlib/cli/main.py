"""``python -m genlib``: the app's functions without Streamlit.

Every failure a user can cause (bad arguments, bad files, unknown runs) exits with status 2 and one line on
stderr; a bug exits with status 1 and "internal error — see LOG", its traceback in the log under
``$GENLAB_HOME/logs/``. Nothing prints a traceback unless ``GENLAB_DEBUG=1``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from genlib.transforms import TRANSFORM_KINDS, TRANSFORMS

EXIT_USAGE = 2  # the user's mistake: one line on stderr
EXIT_BUG = 1    # an internal error: the traceback is in the log


class CliError(Exception):
    """Raised for user errors; main() prints it as one line and exits 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line instead of usage + error
        raise CliError(f"{self.prog}: {message}")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="genlib", description="GenLab: train, sample and evaluate generative models.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("datasets", help="list built-in datasets")
    mo = sub.add_parser("models", help="list models and their capabilities")
    mo.add_argument("--json", action="store_true", help="one JSON object per model: name, label, family, "
                                                        "capabilities")

    t = sub.add_parser("train", help="train a model and save the run")
    t.add_argument("--model", required=True, help="model name (see 'genlib models')")
    t.add_argument("--data", required=True, help="built-in dataset name or a CSV path")
    t.add_argument("--param", action="append", default=[], metavar="K=V", help="dataset parameter, repeatable")
    t.add_argument("--set", action="append", default=[], metavar="K=V", help="model setting, repeatable")
    t.add_argument("--steps", type=int, help="optimiser steps (default: the model's)")
    t.add_argument("--batch-size", type=int, default=256)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    t.add_argument("--transform", default="auto", choices=TRANSFORM_KINDS,
                   help="preprocessing, fitted on the training split: " + "; ".join(
                       f"{t.kind}: {t.help}" for t in TRANSFORMS.values()))
    t.add_argument("--out", default=None,
                   help="run folder to create (checkpoint + run.json); default: a new folder in the run store")
    t.add_argument("--checkpoint-every", type=float, default=30.0, metavar="SECONDS",
                   help="write a checkpoint this often while training, so a killed run can be continued (default 30)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--executor", default=None, choices=["thread", "local", "ray"],
                   help="where it trains: 'thread' in this process (the default: the command is its own process), "
                        "'local' in a worker process, 'ray' on a Ray cluster (the default when GENLAB_RAY_ADDRESS "
                        "is set)")

    c = sub.add_parser("continue", help="continue a stopped or interrupted run from its last checkpoint")
    c.add_argument("run", help="run id from 'genlib runs'")
    c.add_argument("--steps", type=int, required=True, help="how many more optimiser steps")
    c.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    c.add_argument("--out", default=None, help="run folder to create (default: a new folder in the run store)")
    c.add_argument("--checkpoint-every", type=float, default=30.0, metavar="SECONDS")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.add_argument("--executor", default=None, choices=["thread", "local", "ray"],
                   help="where it trains: 'thread' in this process (the default: the command is its own process), "
                        "'local' in a worker process, 'ray' on a Ray cluster (the default when GENLAB_RAY_ADDRESS "
                        "is set)")

    s = sub.add_parser("sample", help="draw samples from a saved run into a CSV")
    s.add_argument("run", help="run folder, checkpoint file, or run id from 'genlib runs'")
    s.add_argument("-n", type=int, required=True, help="number of rows")
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--out", required=True, help="CSV file to write")

    e = sub.add_parser("evaluate", help="GenHack metrics of a fake CSV against a real CSV (JSON on stdout)")
    e.add_argument("real")
    e.add_argument("fake")
    e.add_argument("--suite", action="store_true",
                   help="also every metric of the Compare page (W1, MMD, energy, C2ST AUC, precision/recall/density/"
                        "coverage, correlation distances) on at most 1000 rows")
    e.add_argument("--train", default=None, metavar="TRAIN.csv",
                   help="with --suite: the model's training data, for the memorisation check (dcr_ratio) and "
                        "the oracle floor (real vs train)")

    r = sub.add_parser("runs", help="list stored runs")
    r.add_argument("--json", action="store_true", help="machine-readable output")
    r.add_argument("--kind", default=None, help="only runs of this kind (train, avo, anomaly, generation, sweep)")
    r.add_argument("--owner", default=None, metavar="TEXT",
                   help="only runs whose owner's id or name contains TEXT (a student's name on a classroom server)")
    r.add_argument("--check", action="store_true",
                   help="check the store's integrity (database and run folders); exit status 3 when damaged")
    r.add_argument("--rename", nargs=2, metavar=("RUN", "NAME"),
                   help="give run RUN a name, shown in every table, legend and download (\"\" for the name built "
                        "from its settings)")
    r.add_argument("--note", nargs=2, metavar=("RUN", "TEXT"), help="write a note on run RUN (\"\" to clear it)")

    from . import anomaly, lorenz, sweep
    lorenz.add_parser(sub)
    sweep.add_parser(sub)
    anomaly.add_score_parser(sub)
    return p


def _pairs(items: list[str], flag: str = "--set") -> dict[str, str]:
    from genlib.params import parse_pairs
    return parse_pairs(items, flag=flag)


def cmd_datasets(args: argparse.Namespace) -> int:
    from genlib.data import list_datasets
    for info in list_datasets():
        params = ", ".join(f"{p.name}={p.default}" for p in info.params)
        print(f"{info.name:10s} {info.description}" + (f"  [{params}]" if params else ""))
    print(f"{'<file>.csv':10s} any numeric CSV with a header row (validated)")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from genlib.models import REGISTRY, capability_table
    if args.json:
        print(json.dumps([{"name": name, "label": cls.label, "family": cls.family,
                           "capabilities": sorted(c.value for c in cls.capabilities)}
                          for name, cls in sorted(REGISTRY.items())]))
        return 0
    for row in capability_table():
        caps = [k for k in ("sample", "exact log-likelihood", "ELBO", "encoder", "conditional") if row[k]]
        print(f"{row['model']:10s} {row['family']:10s} {row['description']}  ({', '.join(caps)})")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from genlib.data import load_any
    from genlib.models import check_model_memory, model_config
    from genlib.store import RunStore
    from genlib.train import TrainSpec, resolve_device

    out = None if args.out is None else Path(args.out)
    if out is not None and (out.is_file() or (out.is_dir() and any(out.iterdir()))):
        raise CliError(f"--out {out} already exists and is not empty; choose a new folder")
    dataset = load_any(args.data, **_pairs(args.param, "--param"))
    overrides = _pairs(args.set)
    config = model_config(args.model, overrides)  # fail fast on bad settings
    if args.steps is not None and args.steps < 1:
        raise CliError("--steps must be at least 1")
    if args.batch_size < 1:
        raise CliError("--batch-size must be at least 1")
    # Bounded work: a model whose memory estimate exceeds half of what the machine has is refused before it starts.
    check_model_memory(args.model, dataset.train.shape[1], config, args.batch_size, len(dataset.train))
    _check_every(args.checkpoint_every)
    resolve_device(args.device)  # fail fast: a missing GPU must not leave a failed run in --out
    data_ref = None if Path(args.data).name == args.data and not Path(args.data).is_file() \
        else str(Path(args.data).resolve())
    spec = TrainSpec(model=args.model, dataset=dataset, config=overrides, steps=args.steps,
                     batch_size=args.batch_size, seed=args.seed, device=args.device, transform=args.transform,
                     eval_period_s=None, out_dir=None if out is None else str(out),
                     checkpoint_every_s=args.checkpoint_every, data_ref=data_ref)
    return _run_to_end(spec, RunStore(), args.quiet, args.executor)


def cmd_continue(args: argparse.Namespace) -> int:
    from genlib.store import RunStore
    from genlib.train import continue_spec, resolve_device

    if args.steps < 1:
        raise CliError("--steps must be at least 1")
    _check_every(args.checkpoint_every)
    resolve_device(args.device)
    store = RunStore()
    spec = continue_spec(store, args.run, args.steps, device=args.device, checkpoint_every_s=args.checkpoint_every,
                         out_dir=args.out, eval_period_s=None)
    return _run_to_end(spec, store, args.quiet, args.executor)


def _check_every(seconds: float) -> None:
    if not seconds > 0:
        raise CliError("--checkpoint-every must be a positive number of seconds")


def _run_to_end(spec, store, quiet: bool, executor: str | None = None) -> int:
    """Run one job (in this process unless ``executor`` says otherwise), with a progress bar; print its run id on
    stdout. A failure (including a run that could not be saved) exits non-zero with its reason."""
    from genlib.logs import log_file
    from genlib.metrics.sanity import run_warnings
    from genlib.access import cli_user
    from genlib.train import JobManager, JobStatus

    if executor is None:   # one training: this command's own process is already out of everyone's way
        executor = os.environ.get("GENLAB_EXECUTOR") or ("ray" if os.environ.get("GENLAB_RAY_ADDRESS") else "thread")
    manager = JobManager(max_concurrent=1, store=store, executor=executor)
    job = manager.submit(spec, owner=cli_user())   # the store records who ran it
    _follow(job, quiet=quiet)
    snap = job.snapshot()
    if snap.status is JobStatus.FAILED:
        if snap.traceback:  # a bug, already in the log with its traceback
            print(f"genlib: training failed with an internal error — see {log_file()}", file=sys.stderr)
            return EXIT_BUG
        raise CliError(f"training failed: {snap.error}")
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in snap.metrics.items())
    print(f"{snap.status.value}: {snap.step} steps in {snap.elapsed:.1f}s on {snap.device}; {metrics}",
          file=sys.stderr)
    for warning in run_warnings(job.result.summary if job.result is not None else {}):
        print(f"genlib: warning: {warning}", file=sys.stderr)  # the run is kept (exit 0); its row keeps these too
    print(snap.run_id)
    return 0


def _follow(job, quiet: bool) -> None:
    """Progress bar until the job ends (drawn once it is training: a run that fails at once prints only its reason);
    Ctrl-C stops it and keeps what it learned."""
    from tqdm import tqdm

    from genlib.train import JobStatus
    bar = None
    try:
        while not job.wait(0.2):
            snap = job.snapshot()
            if bar is None and not quiet and snap.status is JobStatus.RUNNING and snap.step > 0:
                bar = tqdm(total=max(snap.total, 1), unit="step", file=sys.stderr, dynamic_ncols=True)
            if bar is not None:
                bar.total = max(snap.total, 1)
                bar.n = snap.step
                if snap.last_loss is not None:
                    bar.set_postfix(loss=f"{snap.last_loss:.4g}", refresh=False)
                bar.refresh()
    except KeyboardInterrupt:
        job.stop()
        job.wait()
    finally:
        if bar is not None:
            snap = job.snapshot()
            bar.total = max(snap.total, 1)
            bar.n = snap.step
            bar.close()


def load_run(ref: str):
    """A trained model from a run folder, a checkpoint file or a stored run id; a clear CliError otherwise."""
    from genlib.store import RunStore, StoreError, read_run_dir
    path = Path(ref)
    if path.exists():
        return read_run_dir(path)[1]
    store = RunStore()
    try:
        store.get(ref)
    except StoreError:
        raise CliError(f"{ref} is neither a run folder, a checkpoint file nor a stored run id") from None
    return store.load(ref)  # a known run: its own reason (failed run, missing or corrupt checkpoint)


def cmd_sample(args: argparse.Namespace) -> int:
    import pandas as pd

    from genlib.data import csv_safe
    from genlib.limits import SAMPLE_ROWS
    if args.n < 1:
        raise CliError("-n must be at least 1")
    SAMPLE_ROWS.check(args.n, "-n")  # before loading the run: a 25 GB draw is refused, not attempted
    out = Path(args.out)
    if out.is_dir():  # checked before sampling: a long draw must not end in "Is a directory"
        raise CliError(f"--out {out} is a folder; give a file name, e.g. {out / 'samples.csv'}")
    fitted = load_run(args.run)
    try:
        rows = fitted.sample(args.n, seed=args.seed)
    except FloatingPointError as exc:  # the model diverged: its samples are NaN/inf, nothing worth writing
        raise CliError(f"cannot sample: {exc}") from None
    bad = ~np.isfinite(rows)
    if bad.any():  # finite in model space, overflowed by the inverse transform (e.g. exp of a huge value)
        cols = [c for c, b in zip(fitted.columns, bad.any(axis=0)) if b]
        raise CliError(f"cannot sample: {int(bad.any(axis=1).sum())} of {args.n} rows are not finite (NaN or ±inf, "
                       f"in column(s) {', '.join(map(repr, cols))}); the model has diverged, nothing was written")
    table = csv_safe(pd.DataFrame(rows, columns=fitted.columns))  # column names from a user's CSV
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index=False)
    except OSError as exc:
        raise CliError(f"cannot write --out {out}: {exc.strerror or exc}") from None
    print(f"wrote {args.n} rows × {len(fitted.columns)} columns to {out}", file=sys.stderr)
    return 0


def _read_table(path: str) -> tuple[list[str], np.ndarray]:
    from genlib.data import load_csv
    from genlib.data.csv_loader import MIN_TEST_ROWS
    # Whole tables are compared here (no split): a short fake file is fine down to what the metrics need.
    ds = load_csv(path, min_rows=MIN_TEST_ROWS)
    return ds.columns, np.vstack([ds.train, ds.test])


def cmd_evaluate(args: argparse.Namespace) -> int:
    if args.train is not None and not args.suite:
        raise CliError("--train only makes sense with --suite")
    from genlib.metrics import evaluate, subsample_message, subsample_pair
    real_cols, real = _read_table(args.real)
    fake_cols, fake = _read_table(args.fake)
    if real.shape[1] != fake.shape[1]:
        raise CliError(f"column count differs: {args.real} has {real.shape[1]}, {args.fake} has {fake.shape[1]}")
    if set(real_cols) == set(fake_cols) and real_cols != fake_cols:
        fake = fake[:, [fake_cols.index(c) for c in real_cols]]  # same columns, other order: align by name
    elif set(real_cols) != set(fake_cols):
        print(f"genlib: warning: column names differ ({', '.join(real_cols)} vs {', '.join(fake_cols)}); "
              "comparing by position", file=sys.stderr)
    n_real, n_fake = int(len(real)), int(len(fake))
    # Bounded work: above $GENLAB_EVAL_ROWS rows a side, a fixed seeded subsample is compared (and the output says so).
    real, fake, note = subsample_pair(real, fake)
    if note is not None:
        print(f"genlib: {subsample_message(note)}", file=sys.stderr)
    result = evaluate(real, fake)
    result = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in result.items()}
    if note is not None:
        result["subsampled"] = note
    if args.suite:
        result["suite"] = _suite(real, fake, real_cols, args.train)
    result.update({"columns": real_cols, "n_real": n_real, "n_fake": n_fake})
    print(json.dumps(_nan_to_none(result)))
    return 0


def _nan_to_none(obj: Any) -> Any:
    """Strict JSON has no NaN: a metric that could not be computed is written as null."""
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_nan_to_none(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def _suite(real: np.ndarray, fake: np.ndarray, real_cols: list[str], train_path: str | None) -> dict[str, Any]:
    """The Compare page's metrics; without training data, the train-dependent ones are left out (not faked)."""
    from genlib.metrics.suite import floor, score_arrays
    if train_path is None:
        ref, metrics = score_arrays(real, fake)
        return {"n_rows": ref.n_rows, "metrics": metrics}
    train_cols, train = _read_table(train_path)
    if train.shape[1] != real.shape[1]:
        raise CliError(f"column count differs: {train_path} has {train.shape[1]}, the real data {real.shape[1]}")
    ref, metrics = score_arrays(real, fake, train)
    return {"n_rows": ref.n_rows, "metrics": metrics, "oracle_floor": floor(ref)}


def cmd_runs(args: argparse.Namespace) -> int:
    from genlib.logs import configure_logging
    from genlib.metrics.sanity import run_warnings
    from genlib.store import RunKind, RunStore
    configure_logging()  # the store's warnings (damaged rows, repairs) go to the log; stderr gets one line
    store = RunStore()   # opening it reconciles: runs whose process died are listed as interrupted
    if args.rename or args.note:   # the command line runs on the server: its user may manage every run
        from genlib.store import run_label
        run_id = (args.rename or args.note)[0]
        if args.rename:
            store.rename(args.rename[0], args.rename[1])
        if args.note:
            if args.rename and args.note[0] != run_id:
                raise CliError("--rename and --note name two different runs; change one run at a time")
            store.set_note(args.note[0], args.note[1])
        print(run_label(store.get(run_id)))
        return 0
    if args.check:
        problems = store.verify()
        for line in problems:
            print(line)
        print(f"{store.root}: " + (f"{len(problems)} problem(s)" if problems else "ok"), file=sys.stderr)
        return 3 if problems else 0
    kinds = {k.value for k in RunKind}
    if args.kind is not None and args.kind not in kinds:
        raise CliError(f"--kind must be one of {', '.join(sorted(kinds))}")
    records = store.list(kinds=args.kind)
    if args.owner:
        wanted = args.owner.lower()
        records = [r for r in records if wanted in (r.owner or "").lower() or wanted in (r.owner_name or "").lower()]
    damaged = store.damaged_ids()
    if damaged:
        shown = ", ".join(damaged[:3]) + (", …" if len(damaged) > 3 else "")
        print(f"genlib: warning: skipped {len(damaged)} damaged row(s) of {store.db_path} ({shown}); "
              "'genlib runs --check' says what is wrong", file=sys.stderr)
    if args.json:
        print(json.dumps([_nan_to_none(json.loads(r.to_json())) for r in records]))
        return 0
    if not records:
        print(f"no runs yet in {store.root}", file=sys.stderr)
        return 0
    print(f"{'id':24s} {'kind':10s} {'model':8s} {'dataset':14s} {'status':11s} {'steps':>6s} {'AD':>8s} "
          f"{'Kendall':>8s}  {'created':16s}  owner")
    warned = 0
    for r in records:
        ad = r.metrics.get("anderson_darling", float("nan"))
        ke = r.metrics.get("kendall_error", float("nan"))
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created))
        status = r.status + ("*" if run_warnings(r.summary) else "")  # same column, one character more
        warned += status.endswith("*")
        owner = (r.owner_name or r.owner or "—") + (" (shared)" if r.shared else "")
        print(f"{r.id:24s} {r.kind:10s} {r.model:8s} {r.dataset[:14]:14s} {status:11s} {r.steps:6d} {ad:8.3f} "
              f"{ke:8.3f}  {when:16s}  {owner}")
    if warned:  # on stderr, like every remark: stdout stays one row per run for scripts that parse it
        print(f"* {warned} run(s) finished with warnings (non-finite or far-out samples, metrics that could not be "
              "computed): 'genlib runs --json' lists them under summary.warnings", file=sys.stderr)
    return 0


def cmd_lorenz(args: argparse.Namespace) -> int:
    from . import lorenz
    return lorenz.run(args)


def cmd_sweep(args: argparse.Namespace) -> int:
    from .sweep import run
    return run(args)


def cmd_score(args: argparse.Namespace) -> int:
    from .anomaly import run_score
    return run_score(args)


COMMANDS = {"sweep": cmd_sweep, "score": cmd_score, "lorenz": cmd_lorenz, "datasets": cmd_datasets, "models": cmd_models, "train": cmd_train, "continue": cmd_continue,
            "sample": cmd_sample,
            "evaluate": cmd_evaluate, "runs": cmd_runs}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. A user's mistake (a :class:`~genlib.errors.UserError`, a bad argument, a file that cannot
    be read or written) prints one line and exits 2; anything else is a bug: its traceback goes to the log and
    the exit status is 1. ``GENLAB_DEBUG=1`` re-raises instead, for a debugger."""
    from genlib.errors import UserError
    try:
        args = _parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except BrokenPipeError:  # `genlib runs | head`: the reader has gone; nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (CliError, UserError, OSError) as exc:
        if os.environ.get("GENLAB_DEBUG"):
            raise
        print(_one_line(exc), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("genlib: interrupted", file=sys.stderr)
        return 130
    except Exception:
        if os.environ.get("GENLAB_DEBUG"):
            raise
        import logging

        from genlib.logs import configure_logging
        path = configure_logging()
        words = " ".join(sys.argv[1:] if argv is None else argv)
        if path is None:  # the log cannot be written: the traceback goes to the terminal instead
            import traceback
            traceback.print_exc()
            print("genlib: internal error (the log under $GENLAB_HOME/logs could not be written)", file=sys.stderr)
            return EXIT_BUG
        logging.getLogger("genlib.cli").exception("internal error in 'genlib %s'", words)
        print(f"genlib: internal error — see {path} (set GENLAB_DEBUG=1 to get the traceback here)", file=sys.stderr)
        return EXIT_BUG


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:  # e.g. --out in a folder that is not writable
        where = f"{exc.filename}: " if exc.filename else ""
        return f"genlib: error: {where}{exc.strerror}"
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return message if message.startswith("genlib") else f"genlib: error: {message}"
