r"""Parametric vs non-parametric density estimates on 2-D data (seed 000), next to a flow (seed 003).

- a single Gaussian: two moments, cannot bend around a moon or split into blobs;
- a Gaussian mixture with K components: parametric, but flexible as K grows;
- a kernel density estimate with bandwidth h: no shape assumed, h trades variance (too small: a spike on every
  training point, held-out points fall between them) against bias (too large: the shape is blurred away);
- a trained normalizing flow, passed in as a FittedModel.

The classical models are fitted through the model registry and :func:`genlib.train.loop.build` (the transform
fitted on the training rows, the seeded model), then ``model.fit``: the code path the app's jobs run, so what
this module draws is what a Train-page run of ``gaussian``/``gmm``/``kde`` would give.

Scores are held-out mean log-likelihoods in DATA units (nats per point and per dimension; higher is better),
from :func:`genlib.density.grid.log_density`, i.e. the same change of variables as
:func:`genlib.metrics.likelihood.held_out_log_likelihood`.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.neighbors import KernelDensity

from genlib.data import Dataset
from genlib.models.base import NonFiniteLossError
from genlib.models.classical import rule_of_thumb_bandwidth
from genlib.models.fitted import FittedModel
from genlib.train.loop import TrainSpec, build, resolve_device

from .grid import DensityEstimator, Grid, density_on_grid, integral, log_density

__all__ = ["CLASSICAL", "best_bandwidth", "default_bandwidths", "fit_classical", "fit_density_models",
           "heldout_table", "kde_bandwidth_sweep"]

#: kde_bandwidth_sweep sums kernels exactly (no tree pruning) up to this many (train, scored row) pairs per h.
MAX_EXACT_PAIRS = 20_000_000
#: Training rows scored for the sweep's training curve.
MAX_TRAIN_SCORED = 2_000

#: The registry's classical models that have a density (the copula has none on continuous space).
CLASSICAL: tuple[str, ...] = ("gaussian", "gmm", "kde")


def _as_2d(x: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or len(arr) == 0:
        raise ValueError(f"{name} must be a non-empty (rows, columns) array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def fit_classical(train: np.ndarray, name: str, config: Mapping[str, Any] | None = None, transform: str = "none",
                  seed: int = 0, device: str = "cpu", columns: Sequence[str] | None = None) -> FittedModel:
    """Fit one of the registry's one-call models (``gaussian``, ``gmm``, ``kde``…) on ``train`` (data units).

    ``transform`` defaults to "none" so a KDE bandwidth is in data units (the units of
    :func:`kde_bandwidth_sweep` and of the plot axes); "auto"/"standardize" work too and the densities stay in
    data units either way (the log-determinant is added back)."""
    arr = _as_2d(train, "train")
    cols = list(columns) if columns is not None else [f"x{j}" for j in range(arr.shape[1])]
    if arr.shape[1] == 2 and columns is None:
        cols = ["x", "y"]
    dataset = Dataset(name="density", description="rows passed to genlib.density", columns=cols, train=arr,
                      test=arr[:0])
    spec = TrainSpec(model=name, dataset=dataset, config=dict(config or {}), seed=seed, device=device,
                     transform=transform, eval_period_s=None)
    fitted = build(spec, resolve_device(device))
    if fitted.model.iterative:
        raise ValueError(f"{name} is trained step by step; train it as a job and pass the FittedModel instead")
    losses = fitted.model.fit(fitted.to_model_space(arr))
    bad = [k for k, v in losses.items() if not np.isfinite(v)]
    if bad:
        raise NonFiniteLossError(f"{name} fit gave a non-finite {bad[0]}")
    fitted.info["fit"] = {k: float(v) for k, v in losses.items()}
    return fitted


def _kde_config(bandwidth: float | str) -> dict[str, Any]:
    if isinstance(bandwidth, str):
        return {"bandwidth_rule": bandwidth}
    return {"bandwidth_rule": "manual", "bandwidth": float(bandwidth)}


def fit_density_models(train: np.ndarray, n_components: int = 8, bandwidth: float | str = "scott",
                       transform: str = "none", seed: int = 0) -> dict[str, FittedModel]:
    """{"Gaussian", "GMM", "KDE"} fitted on ``train``; add a trained flow to the dict to compare it too.

    ``bandwidth``: a number (model-space units, = data units with transform "none") or "scott"/"silverman".
    Fit the KDE again with :func:`fit_classical` at a small and a large h to show under-/over-smoothing."""
    return {
        "Gaussian": fit_classical(train, "gaussian", transform=transform, seed=seed),
        "GMM": fit_classical(train, "gmm", {"n_components": n_components, "seed": seed}, transform=transform,
                             seed=seed),
        "KDE": fit_classical(train, "kde", _kde_config(bandwidth), transform=transform, seed=seed),
    }


def heldout_table(models: Mapping[str, FittedModel | DensityEstimator], test: np.ndarray, grid: Grid | None = None,
                  train: np.ndarray | None = None) -> pd.DataFrame:
    """One row per model: held-out mean log-likelihood (nats per point and per dimension, data units) and the
    mass its density puts on ``grid`` (a sanity check: ≈ 1 on a grid covering the data; a KDE with a tiny h
    falls short when its spikes are narrower than a cell).

    ``grid`` defaults to ``Grid.around(test, n=200, margin=0.5)``; the grid integral is NaN for data that
    are not 2-D. With ``train``, a ``train_ll`` column shows the train/test gap (over-fitting: a KDE with a
    tiny bandwidth scores very high on its own training points).
    """
    x = _as_2d(test, "test")
    d = x.shape[1]
    if grid is None and d == 2:
        grid = Grid.around(x, n=200, margin=0.5)
    rows = []
    for label, model in models.items():
        ll = log_density(model, x)
        row: dict[str, Any] = {"model": label,
                               "heldout_ll": float(np.mean(ll)),
                               "heldout_ll_per_dim": float(np.mean(ll) / d)}
        if train is not None:
            row["train_ll"] = float(np.mean(log_density(model, _as_2d(train, "train"))))
        row["grid_integral"] = integral(density_on_grid(model, grid), grid) if grid is not None else float("nan")
        rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs["n_test"] = len(x)
    return table


def default_bandwidths(train: np.ndarray, n: int = 25, span: float = 30.0) -> np.ndarray:
    """``n`` log-spaced bandwidths from h_Scott/span to h_Scott·span (data units): both ends are clearly
    under- and over-smoothed, Scott's rule sits in the middle."""
    h = rule_of_thumb_bandwidth(_as_2d(train, "train"), "scott")
    return np.geomspace(h / span, h * span, int(n))


def kde_bandwidth_sweep(train: np.ndarray, test: np.ndarray, bandwidths: Sequence[float] | None = None,
                        kernel: str = "gaussian") -> pd.DataFrame:
    """Held-out (and training) mean log-likelihood of a KDE for each bandwidth h, in data units.

    The KDE is scikit-learn's ``KernelDensity`` (the library does the kernel sums; we only loop over h and score
    held-out rows), with an isotropic bandwidth in data units: fine for toy data whose columns share a scale, not
    for columns of very different spreads (standardise first there).

    Exact sums: the tree's pruning bounds make ``score_samples`` wrong far out in the tails even with
    rtol = atol = 0 (scikit-learn issues #7492, #25799): on moons at h = 1e-3 it gave a mean held-out score of
    −350 nats instead of −325, off by up to 34 nats on single points with log p > −100. One leaf holding every
    training row (``leaf_size`` = n) turns the tree into plain sums, exact to 1e-12, at O(n_train · n_test) per h,
    which is what toy data can afford; above ``MAX_EXACT_PAIRS`` pairs the default tree is used.

    Columns: bandwidth, heldout_ll, heldout_ll_per_dim, train_ll, train_ll_per_dim, best (True on the row of
    the highest held-out score). ``train_ll`` grows without bound as h → 0 (each point scores its own spike) while
    ``heldout_ll`` falls: the gap between the two curves is over-fitting made visible.
    """
    tr, te = _as_2d(train, "train"), _as_2d(test, "test")
    if tr.shape[1] != te.shape[1]:
        raise ValueError(f"train has {tr.shape[1]} columns, test {te.shape[1]}")
    hs = default_bandwidths(tr) if bandwidths is None else np.asarray(bandwidths, dtype=np.float64).ravel()
    if not len(hs) or np.any(~np.isfinite(hs)) or np.any(hs <= 0):
        raise ValueError("bandwidths must be positive numbers")
    exact = len(tr) * max(len(te), min(len(tr), MAX_TRAIN_SCORED)) <= MAX_EXACT_PAIRS
    leaf = {"leaf_size": max(40, len(tr))} if exact else {}
    # Training rows scored: at most MAX_TRAIN_SCORED, evenly spaced (the training curve costs n² otherwise).
    tr_scored = tr[:: max(1, len(tr) // MAX_TRAIN_SCORED)][:MAX_TRAIN_SCORED]
    rows = []
    for h in hs:
        kde = KernelDensity(kernel=kernel, bandwidth=float(h), **leaf).fit(tr)
        held = kde.score_samples(te)
        rows.append({"bandwidth": float(h), "heldout_ll": float(np.mean(held)),
                     "heldout_ll_per_dim": float(np.mean(held) / te.shape[1]),
                     "train_ll": float(np.mean(kde.score_samples(tr_scored)))})
        rows[-1]["train_ll_per_dim"] = rows[-1]["train_ll"] / tr.shape[1]
    table = pd.DataFrame(rows)
    # A tophat kernel gives -inf to held-out points outside every box: such an h can never be the best.
    table["best"] = False
    finite = np.isfinite(table["heldout_ll"].to_numpy())
    if finite.any():
        table.loc[table["heldout_ll"].where(finite).idxmax(), "best"] = True
    return table


def best_bandwidth(sweep: pd.DataFrame) -> float:
    """The bandwidth of the sweep's best held-out row."""
    best = sweep.loc[sweep["best"]]
    if best.empty:
        raise ValueError("no bandwidth of the sweep gave a finite held-out log-likelihood")
    return float(best["bandwidth"].iloc[0])
