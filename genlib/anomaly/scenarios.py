"""Anomaly-detection scenarios: "normal" rows to train on, and a labelled test set to score.

Seed 003's recipe needs a model of p(x) fitted on normal data only, then a score on new objects. Each scenario
here says exactly which rows are normal and which test rows are anomalies (``test_y == 1``), so detectors can
be compared on the same footing (AUROC, precision@k):

- ``digits``: one digit class ``k`` is held out. Train = training rows of the other nine classes; test = every
  held-out test row of all ten classes, anomalous iff its label is ``k``.
- ``finance``: train = the finance training split. Test = the 144-row test split in which a fraction of rows
  (``frac``, default 10 %, chosen at random with ``seed``) is corrupted: the first half of them has every value
  multiplied by ``scale`` (default ×5: "extreme" rows), the second half has its four values written in reverse
  column order (f1..f4 → f4..f1: a "column-swap" corruption; the columns have scales 0.01–0.05, so this moves
  mass to where each column rarely is, without producing values outside any column's range).
- ``lorenz_windows``: train = windows of Lorenz-63 at (σ=10, ρ=28); test = held-out normal windows plus windows
  of the same length from a perturbed system (``rho=35`` or ``sigma=14``), anomalous; ``frac`` sets the share of
  anomalies in the test set.
- :func:`from_arrays` / :func:`from_csv`: your own normal and test tables (test labels optional).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from genlib.data.base import DataError, Dataset
from genlib.params import config_dict, make_config

from .settings import SCENARIO_SETTINGS

__all__ = ["Scenario", "digits_holdout", "finance_injected", "lorenz_perturbed", "from_arrays", "from_csv",
           "SCENARIOS", "load_scenario", "scenario_dataset", "gan_transform"]


@dataclass
class Scenario:
    """Normal training rows + labelled test rows (1 = anomaly), all in the data's own units."""

    name: str
    normal_train: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray | None
    columns: list[str]
    image_shape: tuple[int, ...] | None = None
    description: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        return int(self.normal_train.shape[1])

    @property
    def n_anomalies(self) -> int:
        return 0 if self.test_y is None else int(np.sum(self.test_y))


def gan_transform(image_shape: tuple[int, ...] | None) -> str:
    """The preprocessing the anomaly GAN trains with: "none" for images, "auto" for tables.

    Why: an image's pixels share one unit, and "auto" picks rank-Gauss per pixel for digits, which stretches the
    nearly blank border pixels; the encoder then learns to rebuild those instead of the strokes. Trained on raw
    pixels, the encoder's loss and the residual G are the same quantity. Measured on digits with class 1 held out
    (3,000 steps, two seeds): AUROC 0.73-0.76 with rank-Gauss, 0.87-0.93 on raw pixels (benchmarks/RESULTS.md)."""
    return "none" if image_shape is not None else "auto"


def scenario_dataset(sc: Scenario, holdout: float = 0.2, seed: int = 0) -> Dataset:
    """The normal rows as a genlib ``Dataset`` (train/test split of the NORMAL rows only), so any genlib model
    can be trained on them with ``genlib.train`` without seeing an anomaly."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(sc.normal_train))
    n_te = max(1, int(round(holdout * len(perm))))
    return Dataset(name=f"{sc.name}-normal", description=f"normal rows of the scenario '{sc.name}'",
                   columns=list(sc.columns), train=np.ascontiguousarray(sc.normal_train[perm[n_te:]]),
                   test=np.ascontiguousarray(sc.normal_train[perm[:n_te]]), image_shape=sc.image_shape,
                   params=dict(sc.params))


def digits_holdout(k: int = 0, seed: int = 0) -> Scenario:
    """Digit ``k`` is the anomaly: train on the other nine classes' training rows, test on all test rows."""
    from genlib.data.digits import load_digits

    if not 0 <= int(k) <= 9:
        raise DataError(f"the held-out digit must be 0..9 (got {k!r}).")
    ds = load_digits(seed=seed)
    assert ds.labels_train is not None and ds.labels_test is not None
    normal = ds.train[ds.labels_train != k]
    y = (ds.labels_test == k).astype(np.int64)
    return Scenario("digits", np.ascontiguousarray(normal), ds.test.copy(), y, list(ds.columns), ds.image_shape,
                    f"digits: train on the nine classes other than {k}; test on all {len(y)} held-out test images, "
                    f"the {int(y.sum())} images of {k} are the anomalies.", {"k": int(k), "seed": int(seed)})


def finance_injected(frac: float = 0.1, scale: float = 5.0, seed: int = 0) -> Scenario:
    """Finance test split with ``frac`` of its rows corrupted (half ×``scale``, half in reversed column order)."""
    from genlib.data.finance import load_finance

    if not 0.0 < frac < 1.0:
        raise DataError(f"frac must be between 0 and 1 (got {frac!r}).")
    ds = load_finance(seed=seed)
    test = ds.test.copy()
    rng = np.random.default_rng((int(seed), 3))
    n_anom = max(2, int(round(frac * len(test))))
    idx = rng.choice(len(test), n_anom, replace=False)
    half = n_anom // 2
    test[idx[:half]] *= scale
    test[idx[half:]] = test[idx[half:]][:, ::-1]
    y = np.zeros(len(test), dtype=np.int64)
    y[idx] = 1
    return Scenario("finance", ds.train.copy(), test, y, list(ds.columns), None,
                    f"finance: {half} test rows multiplied by {scale:g} and {n_anom - half} rows with their columns "
                    f"in reverse order, among {len(test)} test rows.",
                    {"frac": float(frac), "scale": float(scale), "seed": int(seed)})


def lorenz_perturbed(perturbed: str = "rho", value: float | None = None, frac: float = 0.2, n_traj: int = 32,
                     seed: int = 0) -> Scenario:
    """Windows of Lorenz-63 (σ=10, ρ=28) are normal; windows of a system with ρ=35 (or σ=14) are anomalous."""
    from genlib.data.lorenz_images import load_lorenz_windows

    if perturbed not in ("rho", "sigma"):
        raise DataError(f"the perturbed parameter must be 'rho' or 'sigma' (got {perturbed!r}).")
    value = float(value if value is not None else (35.0 if perturbed == "rho" else 14.0))
    normal = load_lorenz_windows(n_traj=n_traj, seed=seed)
    other = load_lorenz_windows(n_traj=n_traj, seed=seed + 1, **{perturbed: value})
    n_norm = len(normal.test)
    n_anom = max(1, int(round(frac / (1.0 - frac) * n_norm)))
    rng = np.random.default_rng((int(seed), 4))
    anom = other.test[rng.choice(len(other.test), min(n_anom, len(other.test)), replace=False)]
    x = np.concatenate([normal.test, anom])
    y = np.concatenate([np.zeros(n_norm, np.int64), np.ones(len(anom), np.int64)])
    perm = rng.permutation(len(x))
    return Scenario("lorenz_windows", normal.train.copy(), x[perm], y[perm], list(normal.columns), None,
                    f"Lorenz windows: normal σ=10, ρ=28; {len(anom)} of {len(x)} test windows come from {perturbed}="
                    f"{value:g}.", {"perturbed": perturbed, "value": value, "frac": float(frac), "n_traj": int(n_traj),
                                     "seed": int(seed)})


def from_arrays(normal: np.ndarray, test_x: np.ndarray, test_y: np.ndarray | None = None,
                columns: list[str] | None = None, image_shape: tuple[int, ...] | None = None,
                name: str = "custom") -> Scenario:
    """Wrap user arrays, checking shapes and finiteness (a bad table is a ``DataError``, not a crash later)."""
    a = np.asarray(normal, dtype=np.float64)
    b = np.asarray(test_x, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise DataError(f"normal and test data need the same number of columns (got shapes {a.shape} and {b.shape}).")
    if len(a) < 10:
        raise DataError(f"need at least 10 normal rows to learn from (got {len(a)}).")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise DataError("the data contain NaN or infinite values.")
    y = None
    if test_y is not None:
        y = np.asarray(test_y).astype(np.int64).reshape(-1)
        if len(y) != len(b) or not np.isin(y, (0, 1)).all():
            raise DataError("test labels must be one 0/1 value per test row (1 = anomaly).")
    cols = list(columns) if columns is not None else [f"x{i}" for i in range(a.shape[1])]
    return Scenario(name, a, b, y, cols, image_shape, f"{name}: {len(a)} normal rows, {len(b)} test rows.")


def from_csv(normal_path: str | Path, test_path: str | Path, label_column: str | None = None) -> Scenario:
    """Normal CSV + test CSV (same numeric columns; the test file may add a 0/1 ``label_column``)."""
    def read(path: str | Path) -> pd.DataFrame:
        p = Path(path)
        if not p.is_file():
            raise DataError(f"{p} not found.")
        try:
            return pd.read_csv(p)
        except Exception as exc:  # parser errors of every kind: one sentence for the user
            raise DataError(f"{p.name} is not a readable CSV ({type(exc).__name__}).") from None

    normal, test = read(normal_path), read(test_path)
    y = None
    if label_column is not None:
        if label_column not in test.columns:
            raise DataError(f"label column '{label_column}' is not in {Path(test_path).name}.")
        y = test.pop(label_column).to_numpy()
        normal = normal.drop(columns=[label_column], errors="ignore")
    missing = [c for c in normal.columns if c not in test.columns]
    if missing:
        raise DataError(f"{Path(test_path).name} lacks the column(s) {', '.join(map(str, missing[:5]))}.")
    cols = [str(c) for c in normal.columns]
    bad = [c for c in cols if not pd.api.types.is_numeric_dtype(normal[c]) or not pd.api.types.is_numeric_dtype(test[c])]
    if bad:
        raise DataError(f"column(s) {', '.join(bad[:5])} are not numeric.")
    return from_arrays(normal[cols].to_numpy(float), test[cols].to_numpy(float), y, cols, None,
                       Path(normal_path).stem)


SCENARIOS: dict[str, Callable[..., Scenario]] = {
    "digits": digits_holdout,
    "finance": finance_injected,
    "lorenz_windows": lorenz_perturbed,
}


def load_scenario(name: str, **params: Any) -> Scenario:
    """A built-in scenario by name (``digits``, ``finance``, ``lorenz_windows``) with its keyword parameters, each
    checked against the scenario's declared settings (:data:`genlib.anomaly.settings.SCENARIO_SETTINGS`)."""
    if name not in SCENARIOS:
        raise DataError(f"unknown anomaly scenario '{name}'; choose one of: {', '.join(SCENARIOS)}.")
    config = make_config(SCENARIO_SETTINGS[name], params, where=f"scenario '{name}': ", error=DataError)
    return SCENARIOS[name](**config_dict(config))
