"""Sanity checks of a model's samples against its training data: what a run that ends "done" must still say.

A model can finish without a NaN loss and still emit samples no metric can score (NaN/inf), or samples orders of
magnitude outside anything it was trained on (a flow trained with a huge learning rate, a log-space model whose
tail runs to 1e300). ``sample_warnings`` turns those into one-sentence warnings naming the column; the training job
keeps them in its run's ``summary["warnings"]``, and the pages and the CLI show them.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

#: The far-out rule: a sample value is "far outside the training range" of its column when it lies outside
#: [min − FAR_OUT_K·range, max + FAR_OUT_K·range] of that column's training values (range = max − min).
#: 10 ranges is far beyond any honest tail (a Gaussian fitted to the data would need a ~40-sigma draw to get there)
#: yet still catches a diverged model long before float64 overflows.
FAR_OUT_K = 10.0
#: At most this many per-column warnings (the last one counts the rest).
MAX_WARNINGS = 6


def _name(columns: Sequence[str] | None, j: int) -> str:
    return f"'{columns[j]}'" if columns is not None and j < len(columns) else f"{j}"


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def sample_warnings(samples: np.ndarray, train: np.ndarray, columns: Sequence[str] | None = None,
                    k: float = FAR_OUT_K) -> list[str]:
    """One-sentence warnings about ``samples`` (data units) next to the ``train`` split they imitate: non-finite
    values, and values outside [min − k·range, max + k·range] of a column's training values; one sentence per
    column at fault (each names the column). Empty when the samples look sane."""
    x = np.asarray(samples, dtype=np.float64)
    t = np.asarray(train, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if t.ndim == 1:
        t = t[:, None]
    out: list[str] = []
    if x.size == 0 or t.size == 0 or x.shape[1] != t.shape[1]:
        return out
    lo, hi = np.nanmin(t, axis=0), np.nanmax(t, axis=0)
    with np.errstate(over="ignore", invalid="ignore"):
        span = hi - lo
        low, high = lo - k * span, hi + k * span
    n = len(x)
    for j in range(x.shape[1]):
        col = x[:, j]
        bad = ~np.isfinite(col)
        if bad.any():
            out.append(f"Column {_name(columns, j)}: {int(bad.sum())} of {n} samples are not finite (NaN or ±inf); "
                       "the model has diverged or its preprocessing overflowed.")
            col = col[~bad]
        far = (col < low[j]) | (col > high[j])
        if far.any():
            out.append(f"Column {_name(columns, j)}: {int(far.sum())} of {n} samples lie more than {k:g} training "
                       f"ranges outside the training data ({_fmt(lo[j])} to {_fmt(hi[j])}; samples reach "
                       f"{_fmt(float(col.min()))} to {_fmt(float(col.max()))}).")
    if len(out) > MAX_WARNINGS:  # an image model at fault in 64 pixel columns: a few examples and a count
        out = out[:MAX_WARNINGS - 1] + [f"… and {len(out) - MAX_WARNINGS + 1} more such column warnings."]
    return out


def metric_warnings(metrics: Mapping[str, float], titles: Mapping[str, str] | None = None) -> list[str]:
    """A warning naming every metric whose value is NaN/inf: "Metric X could not be computed (…)" (one sentence for
    all of them, so fifteen NaN metrics are one line, not fifteen)."""
    failed = []
    for key, value in metrics.items():
        try:
            ok = math.isfinite(float(value))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            failed.append((titles or {}).get(key, key))
    if not failed:
        return []
    names = ", ".join(failed[:-1]) + (" and " if len(failed) > 1 else "") + failed[-1]
    return [f"{'Metric' if len(failed) == 1 else 'Metrics'} {names} could not be computed (NaN): the samples are not "
            "finite or too large for float64 arithmetic."]


def run_warnings(summary: Mapping[str, Any] | None) -> list[str]:
    """The warnings a run left in its summary (``summary["warnings"]``, written by the training job); [] when none."""
    found = (summary or {}).get("warnings") or []
    return [str(w) for w in found] if isinstance(found, (list, tuple)) else [str(found)]
