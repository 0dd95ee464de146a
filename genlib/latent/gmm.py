r"""Seed 003's "AE + GMM": model the codes of an autoencoder with a Gaussian mixture (scikit-learn's
``GaussianMixture``), then sample new codes from it and decode them, and flag points of low density.

    p(z) = Σ_k π_k N(z; μ_k, Σ_k),    new rows: z ~ p(z), x = f(z),    outliers: p(z_i) < ε

Both sampling and evaluating are straightforward with GMMs, but they scale poorly with dimension and depend on
their start (seed 003): keep the latent space small, and pick the number of components with BIC/AIC
(:func:`bic_aic_curve`). Densities here are in *code space*: their scale depends on the encoder's units, so an
ε is only comparable across points encoded by the same model; a quantile threshold avoids choosing its units.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import pandas as pd
from sklearn.mixture import GaussianMixture

from ..data.base import DataError
from .codes import AnyEncoder, as_encoder

__all__ = ["COVARIANCE_TYPES", "fit_gmm", "bic_aic_curve", "best_k", "log_likelihood", "outlier_threshold",
           "outliers", "sample_codes", "sample_and_decode", "DensityGrid", "fit_view_density", "grid_limits",
           "density_grid"]

COVARIANCE_TYPES: tuple[str, ...] = ("full", "diag", "tied", "spherical")
CovType = Literal["full", "diag", "tied", "spherical"]


def _codes(codes: np.ndarray, min_rows: int = 2) -> np.ndarray:
    arr = np.asarray(codes, dtype=np.float64)
    if arr.ndim != 2:
        raise DataError(f"codes must be a 2-D array (points × dimensions), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise DataError("codes contain NaN or infinite values; the model may have diverged")
    if len(arr) < min_rows:
        raise DataError(f"need at least {min_rows} codes, got {len(arr)}")
    return arr


def fit_gmm(codes: np.ndarray, n_components: int = 10, covariance_type: CovType = "full", seed: int = 0,
            n_init: int = 1, reg_covar: float = 1e-6) -> GaussianMixture:
    """Fit p(z) to the codes. ``reg_covar`` is added to every covariance's diagonal so a component on a few
    nearly collinear codes stays invertible."""
    arr = _codes(codes)
    if covariance_type not in COVARIANCE_TYPES:
        raise DataError(f"covariance_type must be one of {', '.join(COVARIANCE_TYPES)}, got {covariance_type!r}")
    if not 1 <= n_components <= len(arr):
        raise DataError(f"n_components must be between 1 and the number of codes ({len(arr)}), got {n_components}")
    return GaussianMixture(n_components=int(n_components), covariance_type=covariance_type, n_init=int(n_init),
                           reg_covar=float(reg_covar), random_state=int(seed)).fit(arr)


def bic_aic_curve(codes: np.ndarray, ks: Sequence[int] = tuple(range(1, 16)), covariance_type: CovType = "full",
                  seed: int = 0) -> pd.DataFrame:
    """BIC and AIC of a mixture fitted for each k (columns ``k``, ``bic``, ``aic``; lower is better).

    BIC = −2 log L + p log n penalises the p free parameters harder than AIC = −2 log L + 2p, so it picks
    fewer components; both are in ``df.attrs`` as ``best_k_bic`` / ``best_k_aic`` (also :func:`best_k`)."""
    arr = _codes(codes)
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1 or ks[-1] > len(arr):
        raise DataError(f"every k must be between 1 and the number of codes ({len(arr)})")
    rows = []
    for k in ks:
        g = fit_gmm(arr, k, covariance_type, seed)
        rows.append({"k": k, "bic": float(g.bic(arr)), "aic": float(g.aic(arr))})
    df = pd.DataFrame(rows, columns=["k", "bic", "aic"])
    df.attrs.update(best_k_bic=best_k(df, "bic"), best_k_aic=best_k(df, "aic"))
    return df


def best_k(curve: pd.DataFrame, criterion: Literal["bic", "aic"] = "bic") -> int:
    """The k with the lowest criterion in a :func:`bic_aic_curve` table."""
    if criterion not in ("bic", "aic"):
        raise DataError(f"criterion must be bic or aic, got {criterion!r}")
    return int(curve["k"].to_numpy()[int(np.argmin(curve[criterion].to_numpy()))])


def log_likelihood(gmm: GaussianMixture, codes: np.ndarray) -> np.ndarray:
    """log p(z) per code, shape (n,), in nats (exactly sklearn's ``score_samples``)."""
    return np.asarray(gmm.score_samples(_codes(codes, 1)), dtype=np.float64)


def outlier_threshold(loglik: np.ndarray, epsilon: float | None = None, quantile: float | None = None) -> float:
    """The log-density below which a point is an outlier: log ε (seed 003's p(x) < ε), or the ``quantile``
    of the given log-likelihoods (0.01 = flag the lowest 1%). Give exactly one of the two."""
    if (epsilon is None) == (quantile is None):
        raise DataError("give exactly one of epsilon (a density) or quantile (a share of points)")
    if epsilon is not None:
        if not epsilon > 0:
            raise DataError(f"epsilon is a density and must be > 0, got {epsilon}")
        return float(np.log(epsilon))
    assert quantile is not None
    if not 0.0 < quantile < 1.0:
        raise DataError(f"quantile must be between 0 and 1, got {quantile}")
    ll = np.asarray(loglik, dtype=np.float64)
    return float(np.quantile(ll[np.isfinite(ll)], quantile))


def outliers(loglik: np.ndarray, epsilon: float | None = None, quantile: float | None = None) -> np.ndarray:
    """Boolean mask of points with log p < the threshold of :func:`outlier_threshold`."""
    ll = np.asarray(loglik, dtype=np.float64)
    return ll < outlier_threshold(ll, epsilon, quantile)


def sample_codes(gmm: GaussianMixture, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(codes (n, d), component of each) drawn from the mixture with this seed, rows in random order.

    sklearn's ``sample`` draws with the ``random_state`` given at fit time, so every call would return the same
    rows, sorted by component; a copy with ``random_state=seed`` and a seeded shuffle fix both."""
    if n < 1:
        raise DataError("number of samples must be at least 1")
    g = copy.copy(gmm)
    g.random_state = int(seed)
    z, comp = g.sample(int(n))
    order = np.random.default_rng(seed).permutation(int(n))
    return np.asarray(z, dtype=np.float64)[order], np.asarray(comp)[order]


def sample_and_decode(gmm: GaussianMixture, encoder: AnyEncoder, n: int, seed: int = 0,
                      labels: np.ndarray | None = None,
                      clip: tuple[float | np.ndarray, float | np.ndarray] | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """AE + GMM generation: (codes z ~ p(z), rows f(z) in data units). A conditional encoder decodes with
    ``labels`` (default: the classes in turn, as FittedModel.sample does). ``clip`` as in codes.decode."""
    enc = as_encoder(encoder)
    z, _ = sample_codes(gmm, n, seed)
    if z.shape[1] != enc.latent_dim:
        raise DataError(f"the mixture has {z.shape[1]} dimensions but {enc.name}'s codes have {enc.latent_dim}")
    if labels is None and enc.conditional:
        labels = np.arange(n) % enc.n_classes
    x = enc.decode(z, labels)
    return z, (x if clip is None else np.clip(x, clip[0], clip[1]))


# ----------------------------------------------------------------------------- contours over a 2-D view

@dataclass(frozen=True)
class DensityGrid:
    """log p on a regular grid for a contour plot: ``logp[i, j]`` is at (xs[j], ys[i])."""

    xs: np.ndarray
    ys: np.ndarray
    logp: np.ndarray


def fit_view_density(view: np.ndarray, n_components: int = 10, covariance_type: CovType = "full",
                     seed: int = 0) -> GaussianMixture:
    """A separate 2-D mixture fitted to the 2-D embedding itself, for contours drawn over it.

    Why not the code-space GMM: UMAP is non-linear and has no inverse, so the d-dimensional p(z) cannot be
    mapped onto the picture (even a PCA view would need the mixture's marginal, not its slice). The 2-D mixture
    is honest about what it is: the density of the points *as drawn*, a reading aid, not the model."""
    arr = _codes(view)
    if arr.shape[1] != 2:
        raise DataError(f"contours need a 2-D view, got {arr.shape[1]} dimensions")
    return fit_gmm(arr, n_components, covariance_type, seed)


def grid_limits(view: np.ndarray, pad: float = 0.1) -> tuple[tuple[float, float], tuple[float, float]]:
    """(xlim, ylim) around a 2-D view, widened by ``pad`` × range on each side."""
    arr = _codes(view, 1)
    lo, hi = arr[:, :2].min(axis=0), arr[:, :2].max(axis=0)
    margin = pad * np.maximum(hi - lo, 1e-9)
    return (float(lo[0] - margin[0]), float(hi[0] + margin[0])), (float(lo[1] - margin[1]), float(hi[1] + margin[1]))


def density_grid(gmm_2d: GaussianMixture, xlim: tuple[float, float], ylim: tuple[float, float],
                 n: int = 100) -> DensityGrid:
    """log p of a 2-D mixture (see :func:`fit_view_density`) on an n × n grid over xlim × ylim."""
    if gmm_2d.means_.shape[1] != 2:
        raise DataError(f"density_grid needs a mixture fitted in 2-D, got {gmm_2d.means_.shape[1]} dimensions")
    if n < 2:
        raise DataError(f"grid size must be at least 2, got {n}")
    xs, ys = np.linspace(*xlim, int(n)), np.linspace(*ylim, int(n))
    gx, gy = np.meshgrid(xs, ys)
    logp = gmm_2d.score_samples(np.column_stack([gx.ravel(), gy.ravel()])).reshape(gy.shape)
    return DensityGrid(xs, ys, logp)
