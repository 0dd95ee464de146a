r"""A regular 2-D grid around the data, and densities p(x) evaluated on it in DATA units.

Why data units: every model lives in its own model space z = T(x) (a fitted column-wise transform), so the
density a page can draw, compare across models and integrate is the one of the data itself,

    p_X(x) = p_Z(T(x)) · |det dT/dx (x)|,

exactly what :func:`genlib.metrics.likelihood.held_out_log_likelihood` scores. The log-determinant comes from
that module's :func:`~genlib.metrics.likelihood.log_abs_det_jacobian` (not re-derived here), so a heatmap and the
held-out number in the table can never disagree.

The grid is cell-centred: n cells per side cover [x0, x1] × [y0, y1] exactly, and Σ p · cell area is the
midpoint rule for ∫ p over that box, ≈ 1 when the box holds (almost) all of the model's mass.

Example:
    >>> import genlib
    >>> moons = genlib.load_dataset("toy2d", shape="moons", n=1000)
    >>> gmm = genlib.fit("gmm", moons, n_components=8)
    >>> grid = Grid.around(moons.train, n=200, margin=0.5)
    >>> p = density_on_grid(gmm, grid)                  # (200, 200), p[iy, ix] at (grid.xs[ix], grid.ys[iy])
    >>> round(integral(p, grid), 2)                     # ≈ 1: the box holds (almost) all of the mass
    1.0
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from genlib.metrics.likelihood import log_abs_det_jacobian
from genlib.models.base import Capability, ModelError, models_with
from genlib.models.fitted import FittedModel

__all__ = ["BATCH_ROWS", "DensityEstimator", "Grid", "density_on_grid", "integral", "log_density"]

#: Rows per model call: bounds memory (a 200×200 grid is 40,000 rows; a KDE or a wide flow would otherwise
#: build one huge intermediate array) while keeping the per-call overhead negligible.
BATCH_ROWS = 16_384


@runtime_checkable
class DensityEstimator(Protocol):
    """Anything with scikit-learn's ``score_samples(x) -> log p(x)`` (KernelDensity, GaussianMixture…), in the
    units of the x it is given."""

    def score_samples(self, x: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Grid:
    """n × n cell centres covering ``xlim`` × ``ylim``.

    Arrays on the grid have shape (n, n) and are indexed ``[iy, ix]`` (rows are y), which is what
    ``plotly.graph_objects.Heatmap(x=grid.xs, y=grid.ys, z=values)`` expects.
    """

    xlim: tuple[float, float]
    ylim: tuple[float, float]
    n: int = 200

    def __post_init__(self) -> None:
        object.__setattr__(self, "xlim", (float(self.xlim[0]), float(self.xlim[1])))
        object.__setattr__(self, "ylim", (float(self.ylim[0]), float(self.ylim[1])))
        object.__setattr__(self, "n", int(self.n))
        if self.n < 2:
            raise ValueError(f"a grid needs at least 2 cells per side, got n={self.n}")
        for name, (lo, hi) in (("xlim", self.xlim), ("ylim", self.ylim)):
            if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
                raise ValueError(f"{name} must be a finite interval (lo < hi), got ({lo}, {hi})")

    @classmethod
    def around(cls, *data: np.ndarray, n: int = 200, margin: float = 0.25, square: bool = False) -> "Grid":
        """The bounding box of all given (m, 2) arrays, widened on every side by ``margin`` × its range.

        A density's tails reach beyond the data, so a grid meant to integrate to 1 needs a margin: a
        Gaussian fitted to moons needs ≈ 0.4 (3σ past the data's edge), KDEs and flows less. ``square`` gives
        both axes the larger range (one unit is as long on x as on y when plotted with equal aspect)."""
        arrays = [np.asarray(d, dtype=np.float64).reshape(-1, 2) for d in data if d is not None and np.size(d)]
        if not arrays:
            raise ValueError("Grid.around needs at least one non-empty (m, 2) array")
        pts = np.concatenate(arrays)
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        if not len(pts):
            raise ValueError("Grid.around got no finite points")
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        span = hi - lo
        span = np.where(span > 0, span, np.maximum(np.abs(hi), 1.0))  # one point / a constant column
        if square:
            centre = 0.5 * (lo + hi)
            lo, hi, span = centre - span.max() / 2, centre + span.max() / 2, np.full(2, span.max())
        pad = margin * span
        return cls((lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1]), n)

    @property
    def dx(self) -> float:
        return (self.xlim[1] - self.xlim[0]) / self.n

    @property
    def dy(self) -> float:
        return (self.ylim[1] - self.ylim[0]) / self.n

    @property
    def cell_area(self) -> float:
        return self.dx * self.dy

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n, self.n)

    @property
    def xs(self) -> np.ndarray:
        """The n cell-centre x coordinates."""
        return self.xlim[0] + (np.arange(self.n) + 0.5) * self.dx

    @property
    def ys(self) -> np.ndarray:
        return self.ylim[0] + (np.arange(self.n) + 0.5) * self.dy

    @property
    def points(self) -> np.ndarray:
        """(n², 2) cell centres, y-major: ``points.reshape(n, n, 2)[iy, ix] == (xs[ix], ys[iy])``."""
        gx, gy = np.meshgrid(self.xs, self.ys, indexing="xy")
        return np.column_stack([gx.ravel(), gy.ravel()])

    def reshape(self, values: np.ndarray) -> np.ndarray:
        """n² values in the order of :attr:`points` → an (n, n) array indexed [iy, ix]."""
        return np.asarray(values).reshape(self.n, self.n)

    def contains(self, x: np.ndarray) -> np.ndarray:
        """Boolean mask of the rows of x inside the grid's box."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, 2)
        return ((x[:, 0] >= self.xlim[0]) & (x[:, 0] <= self.xlim[1])
                & (x[:, 1] >= self.ylim[0]) & (x[:, 1] <= self.ylim[1]))


def _exact_density_check(fitted: FittedModel) -> None:
    model = fitted.model
    if model.has(Capability.LOG_PROB):
        return
    why = ("it only has a lower bound (ELBO), which does not integrate to one" if model.has(Capability.ELBO)
           else "it defines no density (it can only sample)")
    raise ModelError(f"{fitted.name} has no exact density to draw: {why}; pick one of "
                     f"{', '.join(models_with(Capability.LOG_PROB))}")


def log_density(model: FittedModel | DensityEstimator, x: np.ndarray, batch_rows: int = BATCH_ROWS) -> np.ndarray:
    """log p(x) in DATA units (nats) for each row of x, shape (m,).

    A :class:`FittedModel` (flows, gaussian, gmm, kde) adds its transform's log-determinant to the model-space
    log-density, as ``held_out_log_likelihood`` does, so ``mean(log_density(f, test)) / d`` is that metric.
    A scikit-learn estimator (``score_samples``) is taken as fitted on data units already.

    No train/eval switch: the models with an exact density (flows, classical) have no batch norm or dropout, so
    their modes compute the same thing, and flipping the mode of a model that a background thread is training
    would race with it. Gradients are off (``torch.no_grad`` is thread-local: the trainer is not affected).
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"x must be a 2-D (rows, columns) array, got shape {arr.shape}")
    m = len(arr)
    out = np.empty(m, dtype=np.float64)
    if isinstance(model, FittedModel):
        import torch

        _exact_density_check(model)
        if arr.shape[1] != model.model.n_features:
            raise ValueError(f"x has {arr.shape[1]} columns but {model.name} was trained on {model.model.n_features}")
        if m == 0:
            return out
        logdet = log_abs_det_jacobian(model.transform, arr)
        with torch.no_grad():
            for start in range(0, m, batch_rows):
                z = model.to_model_space(arr[start:start + batch_rows])
                out[start:start + batch_rows] = model.model.log_prob(z).detach().cpu().double().numpy().reshape(-1)
        return out + logdet
    if isinstance(model, DensityEstimator):
        for start in range(0, m, batch_rows):
            out[start:start + batch_rows] = np.asarray(model.score_samples(arr[start:start + batch_rows]),
                                                       dtype=np.float64).reshape(-1)
        return out
    raise TypeError(f"expected a FittedModel or an estimator with score_samples, got {type(model).__name__}")


def density_on_grid(model: FittedModel | DensityEstimator, grid: Grid, log: bool = False) -> np.ndarray:
    """p(x) (or log p(x) with ``log=True``, which keeps the far tails that exp() underflows to 0) at every
    cell centre, in data units, as an (n, n) array indexed [iy, ix]."""
    if isinstance(model, FittedModel) and model.model.n_features != 2:
        raise ValueError(f"a density grid needs 2-D data; {model.name} was trained on {model.model.n_features} columns")
    values = log_density(model, grid.points)
    return grid.reshape(values if log else np.exp(values))


def integral(density: np.ndarray, grid: Grid) -> float:
    """Σ p · cell area: the mass the grid holds (midpoint rule). Below 1: mass outside the box, or a density
    too spiky for the cell size (a KDE with a tiny bandwidth). NaN cells count as 0."""
    values = np.asarray(density, dtype=np.float64)
    if values.shape != grid.shape:
        raise ValueError(f"density has shape {values.shape}, the grid {grid.shape}")
    return float(np.nansum(values) * grid.cell_area)
