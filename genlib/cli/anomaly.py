"""``python -m genlib score RUN_DIR --data FILE.csv --out scores.csv``: the GAN anomaly score of each row, as in
the astronomy lecture.

Wiring (done in ``genlib/cli/main.py``): ``add_score_parser(sub)`` in the parser, ``COMMANDS["score"] = run_score``.
Every user problem raises a ``UserError`` (``DataError``, ``ModelError``…) with one sentence; ``genlib.cli.main``
turns those into one line on stderr and exit code 2.

``--method encoder`` uses ``anomaly_encoder.pt`` next to the run's checkpoint; when there is none, it trains one
(f-AnoGAN's izi) on ``--normal FILE.csv`` or, by default, on the training split of the run's built-in dataset,
and saves it there for the next call.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from genlib.data.base import DataError

from genlib.anomaly.settings import ScoreSettings
from genlib.params import add_arguments, make_config

# genlib.anomaly.reconstruct and .scoring load torch: imported inside the functions, so `genlib --help` stays fast.

__all__ = ["add_score_parser", "run_score", "read_rows"]


def add_score_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``score`` sub-command to ``python -m genlib``'s sub-parsers."""
    p = subparsers.add_parser("score", help="anomaly score of each CSV row under a trained GAN run (as in the astronomy lecture)")
    p.add_argument("run", help="run folder made by 'genlib train --out' (or its checkpoint .pt file)")
    p.add_argument("--data", required=True, help="CSV of rows to score, with the run's column names")
    p.add_argument("--out", required=True, help="CSV to write: one row per input row with score, G, C")
    p.add_argument("--normal", default=None,
                   help="CSV of normal rows to train the encoder on when the run has none saved")
    add_arguments(p, ScoreSettings)  # --lam, --method, --iters, --encoder-steps, --seed: declared once
    return p


def read_rows(path: str | Path, columns: list[str]) -> np.ndarray:
    """The ``columns`` of a CSV, in file order (extra columns such as a label are ignored); DataError if unusable."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p} not found.")
    try:
        df = pd.read_csv(p)
    except Exception as exc:  # empty file, bad quoting, binary data…
        raise DataError(f"{p.name} is not a readable CSV ({type(exc).__name__}).") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        shown = ", ".join(f"'{c}'" for c in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DataError(f"{p.name} lacks the run's column(s) {shown}; the run was trained on "
                        f"{len(columns)} columns named like '{columns[0]}'.")
    if len(df) == 0:
        raise DataError(f"{p.name} has no rows to score.")
    sub = df[columns]
    text = [c for c in columns if not pd.api.types.is_numeric_dtype(sub[c])]
    if text:
        raise DataError(f"column(s) {', '.join(text[:5])} of {p.name} are non-numeric (text).")
    x = sub.to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(x)):
        bad = int(np.argmax(~np.isfinite(x).all(axis=1)))
        raise DataError(f"{p.name} has NaN or infinite values (first at data row {bad + 1}).")
    return x


def settings_from(args: argparse.Namespace) -> ScoreSettings:
    """The score's settings given on the command line, checked like the page's (one sentence when wrong)."""
    given = {name: getattr(args, name) for name in ScoreSettings.__dataclass_fields__ if hasattr(args, name)}
    return make_config(ScoreSettings, given, error=DataError)


def _encoder_for(fitted, ckpt_dir: Path, args: argparse.Namespace, settings: ScoreSettings):
    from genlib.anomaly.reconstruct import ENCODER_FILE, load_encoder, save_encoder, train_encoder

    path = ckpt_dir / ENCODER_FILE
    if path.is_file():
        return load_encoder(path, fitted)
    if args.normal:
        normal = read_rows(args.normal, list(fitted.columns))
    else:
        from genlib.data import DATASETS, load_dataset
        name = fitted.info.get("dataset")
        if name not in DATASETS:
            raise DataError(f"the run has no {ENCODER_FILE} and was not trained on a built-in dataset; pass "
                            "--normal NORMAL.csv to train an encoder, or use --method optimise")
        normal = load_dataset(name, **dict(fitted.info.get("dataset_params") or {})).train
    enc = train_encoder(fitted, normal, steps=settings.encoder_steps, seed=settings.seed)
    save_encoder(enc, path)
    return enc


def run_score(args: argparse.Namespace) -> int:
    """Load the run, score every row of ``--data`` and write ``--out`` (columns: score, G, C). Returns 0."""
    from genlib.store import read_run_dir

    from genlib.anomaly.scoring import combine, parts_for

    settings = settings_from(args)
    _, fitted = read_run_dir(args.run)
    run_path = Path(args.run)
    ckpt_dir = run_path if run_path.is_dir() else run_path.parent
    x = read_rows(args.data, list(fitted.columns))
    encoder = _encoder_for(fitted, ckpt_dir, args, settings) if settings.method == "encoder" else None
    parts = parts_for(fitted, x, method=settings.method, encoder=encoder, iters=settings.iters, seed=settings.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"score": combine(parts, settings.lam), "G": parts.G, "C": parts.C}).to_csv(out, index=False)
    print(f"scored {len(parts)} rows → {out} (λ = {settings.lam:g}, method {settings.method})")
    if fitted.model.image_shape is not None and fitted.transform.kind != "none":
        print(f"note: this image run was trained with transform '{fitted.transform.kind}'; GAN anomaly scores on "
              "images are better from a run trained on raw pixels (genlib train ... --transform none; see "
              "benchmarks/RESULTS.md)")
    return 0
