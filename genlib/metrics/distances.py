"""Distances between a REAL sample (the held-out reference) and a FAKE sample (a model's output).

Why several: each one sees a different failure. Per-column Wasserstein sees wrong marginals, sliced
Wasserstein / MMD / energy see the joint distribution, and the correlation distances see a wrong
dependence structure with right marginals. All are 0 for identical samples and grow as the fake
sample drifts away; lower is better for every one.

Scale: every metric except ``wasserstein_per_column`` works on data STANDARDISED BY THE REAL SAMPLE
(z = (x - mean_real) / std_real, both sets with the same map), so columns in different units weigh
equally and the values do not change when a column is re-expressed in other units. A real column
that is constant (std < 1e-12, e.g. a blank pixel) is left in data units (std taken as 1) instead of
being divided by ~0, which would let a tiny deviation there dominate every distance.

Inputs: arrays of shape (m, d) and (n, d) (1-D arrays are one column); NaN/inf, empty input or a
width mismatch raise :class:`genlib.data.base.DataError`.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist
from scipy.stats import wasserstein_distance

from genlib.data.base import DataError
from genlib.metrics.inputs import as_2d, as_pair

__all__ = [
    "CORRELATION_METHODS",
    "correlation_distance",
    "correlation_gap",
    "correlation_matrix",
    "energy_distance",
    "energy_from_distances",
    "median_bandwidth",
    "mmd_from_sqdist",
    "mmd_rbf",
    "projection_directions",
    "rbf_kernel_mean",
    "real_scale",
    "sliced_wasserstein",
    "squared_distances",
    "standardise",
    "w1_columns",
    "w1_sorted",
    "wasserstein",
    "wasserstein_per_column",
]

#: Real columns with a standard deviation below this are treated as constant (scale 1, data units).
STD_FLOOR = 1e-12

#: Rows used for the Kendall tau matrix (each set is subsampled to at most this many, seed below).
KENDALL_TAU_ROWS = 400
KENDALL_TAU_SEED = 0
#: Most rows a Kendall matrix may use: its row pairs (n(n-1)/2 < 2^24) must keep float32 sign sums exact.
KENDALL_MAX_ROWS = 5000
#: The correlation methods ``correlation_matrix`` knows.
CORRELATION_METHODS = ("pearson", "kendall")

#: Rows used for the median-heuristic bandwidth (pairs of a larger sample are subsampled, seed 0).
BANDWIDTH_ROWS = 2000


# ----------------------------------------------------------------------------- shared building blocks
#
# Public on purpose: the metric suite (genlib.metrics.suite) precomputes the real side once (scale, sorted
# columns, real-real distances) and finishes each metric with the same function the standalone metric ends
# with, so the cached and the standalone values are the same numbers, not two implementations kept in step.


def real_scale(real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) per column of the real sample; std of a constant column (< 1e-12) is 1.

    The map z = (x - mean) / std is applied to BOTH samples, so it is one fixed change of units.
    """
    r = as_2d(real, "real")
    mean = r.mean(axis=0)
    std = r.std(axis=0)
    return mean, np.where(std < STD_FLOOR, 1.0, std)


def _check_scale(scale: tuple[np.ndarray, np.ndarray], d: int) -> tuple[np.ndarray, np.ndarray]:
    mean, std = (np.asarray(s, dtype=np.float64).reshape(-1) for s in scale)
    if mean.shape[0] != d or std.shape[0] != d:
        raise DataError(f"scale must hold {d} means and {d} standard deviations.")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
        raise DataError("scale must be finite with positive standard deviations.")
    return mean, std


def standardise(x: np.ndarray, scale: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """z = (x - mean) / std with ``scale`` = (mean, std) from ``real_scale``: the one change of units every
    standardised metric applies to both samples (the suite applies it to fakes with its cached real scale)."""
    return (x - scale[0]) / scale[1]


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) exact squared Euclidean distances (cdist, not the |a|^2+|b|^2-2ab expansion).

    Identical rows give exactly 0, which is what makes "identical samples -> exactly 0" hold below. MMD,
    energy and PRDC all start from these matrices; the suite computes each one once per fake sample."""
    return cdist(a, b, "sqeuclidean")


def _upper(m: np.ndarray) -> np.ndarray:
    """Entries above the diagonal of a square matrix (each unordered pair once)."""
    i, j = np.triu_indices(m.shape[0], k=1)
    return m[i, j]


def median_bandwidth(real_std: np.ndarray) -> float:
    """Median pairwise Euclidean distance of an (already standardised) real sample: the median heuristic.

    Pairs i < j only (the zero diagonal is left out). Above ``BANDWIDTH_ROWS`` rows a fixed-seed subsample
    is used. Falls back to 1.0 when every pair coincides, so the kernel stays defined.
    """
    r = real_std
    if r.shape[0] > BANDWIDTH_ROWS:
        idx = np.random.default_rng(0).choice(r.shape[0], size=BANDWIDTH_ROWS, replace=False)
        r = r[np.sort(idx)]
    if r.shape[0] < 2:
        return 1.0
    h = float(np.sqrt(np.median(_upper(squared_distances(r, r)))))
    return h if h > 0 and np.isfinite(h) else 1.0


def w1_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact W1 between the columns of two column-wise SORTED arrays of equal length: mean |a_(i) - b_(i)|.

    Takes sorted input so the suite can sort the real columns (and real projections) once and reuse them."""
    return np.mean(np.abs(a - b), axis=0)


# ----------------------------------------------------------------------------- Wasserstein


def wasserstein_per_column(real: np.ndarray, fake: np.ndarray) -> np.ndarray:
    r"""Wasserstein-1 distance of each column, in units of the real column's std (lower is better).

        W_j = \frac{1}{\sigma_j} \int |F_j(t) - \tilde F_j(t)|\,dt  \quad (\sigma_j = \text{std of real column } j)

    F_j, \tilde F_j are the empirical CDFs (``scipy.stats.wasserstein_distance``). Dividing by \sigma_j makes
    columns in different units comparable, so the mean over columns is meaningful; W_j = 0.5 means the
    fake column is off by about half a real standard deviation (e.g. a pure shift of 0.5 sigma). A
    constant real column is not divided (sigma taken as 1, see the module docstring).
    """
    r, f = as_pair(real, fake)
    _, std = real_scale(r)
    if r.shape[0] == f.shape[0]:  # equal sizes: W1 is the mean gap between order statistics (exact)
        return w1_sorted(np.sort(r, axis=0), np.sort(f, axis=0)) / std
    return np.array([wasserstein_distance(r[:, j], f[:, j]) for j in range(r.shape[1])]) / std


def wasserstein(real: np.ndarray, fake: np.ndarray) -> float:
    r"""Mean over columns of the standardised Wasserstein-1 distance (lower is better, 0 = same marginals).

        W = \frac{1}{d}\sum_{j=1}^{d} W_j   (see ``wasserstein_per_column``)
    """
    return float(np.mean(wasserstein_per_column(real, fake)))


def projection_directions(d: int, n_projections: int = 64, seed: int = 0) -> np.ndarray:
    """(d, P) matrix of fixed random unit directions (Gaussian draws normalised), same for a given seed."""
    if n_projections < 1:
        raise DataError("n_projections must be at least 1.")
    v = np.random.default_rng(seed).standard_normal((d, int(n_projections)))
    return v / np.linalg.norm(v, axis=0, keepdims=True)


def w1_columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """W1 between matching columns of two (unsorted) arrays: order statistics for equal lengths, else
    ``scipy.stats.wasserstein_distance`` per column. The suite's fallback when a fake sample is shorter."""
    if a.shape[0] == b.shape[0]:
        return w1_sorted(np.sort(a, axis=0), np.sort(b, axis=0))
    return np.array([wasserstein_distance(a[:, j], b[:, j]) for j in range(a.shape[1])])


def sliced_wasserstein(real: np.ndarray, fake: np.ndarray, n_projections: int = 64, seed: int = 0,
                       scale: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    r"""Sliced Wasserstein-1 distance on standardised data (lower is better, 0 = same distribution).

        SW = \frac{1}{P}\sum_{p=1}^{P} W_1\big(\theta_p^\top z,\ \theta_p^\top \tilde z\big),
        \quad z = (x - \mu) / \sigma

    over P fixed random unit directions \theta_p (``np.random.default_rng(seed)``, so the value is
    deterministic), with (\mu, \sigma) = ``scale`` (default: the real sample's, see ``real_scale``).
    Why: one-dimensional W1 is exact and cheap, and random directions see joint structure (e.g. a wrong
    correlation) that per-column W1 misses. P = 64 directions resolve d up to ~64 coarsely; the value is a
    Monte-Carlo estimate of the sliced distance, stable for a fixed seed.
    """
    r, f = as_pair(real, fake)
    sc = real_scale(r) if scale is None else _check_scale(scale, r.shape[1])
    theta = projection_directions(r.shape[1], n_projections, seed)
    return float(np.mean(w1_columns(standardise(r, sc) @ theta, standardise(f, sc) @ theta)))


# ----------------------------------------------------------------------------- kernel / energy


def rbf_kernel_mean(d2: np.ndarray, bandwidth: float) -> float:
    """Mean of the Gaussian kernel exp(-d2 / (2 h^2)) over a matrix of squared distances.

    The real-real term of MMD does not depend on the fake sample: the suite computes it once with this
    function, and ``mmd_rbf`` with the same one, so both get the same bits."""
    gamma = 1.0 / (2.0 * bandwidth * bandwidth)
    return float(np.mean(np.exp(-gamma * d2)))


def mmd_from_sqdist(k_rr_mean: float, d2_ff: np.ndarray, d2_rf: np.ndarray, bandwidth: float) -> float:
    """MMD^2 (V-statistic, floored at 0) from the real-real kernel mean and the fake-fake and real-fake
    squared distances (standardised units): the last step of ``mmd_rbf``, shared with the suite's cache."""
    k_ff = rbf_kernel_mean(d2_ff, bandwidth)
    k_rf = rbf_kernel_mean(d2_rf, bandwidth)
    return max(0.0, k_rr_mean + k_ff - 2.0 * k_rf)


def energy_from_distances(d_rr_mean: float, d_ff: np.ndarray, d_rf: np.ndarray) -> float:
    """Energy distance (floored at 0) from the mean real-real distance and the fake-fake and real-fake
    DISTANCES (not squared): the last step of ``energy_distance``; the suite passes its cached real mean
    and the real-fake distances it already took for PRDC."""
    return max(0.0, 2.0 * float(np.mean(d_rf)) - d_rr_mean - float(np.mean(d_ff)))


def mmd_rbf(real: np.ndarray, fake: np.ndarray, bandwidth: float | None = None) -> float:
    r"""Squared maximum mean discrepancy with a Gaussian (RBF) kernel, biased V-statistic (lower is better).

        \mathrm{MMD}^2 = \frac{1}{m^2}\sum_{i,i'} k(z_i, z_{i'}) + \frac{1}{n^2}\sum_{j,j'} k(\tilde z_j, \tilde z_{j'})
                        - \frac{2}{mn}\sum_{i,j} k(z_i, \tilde z_j),
        \quad k(x, y) = \exp\!\big(-\lVert x-y\rVert^2 / (2h^2)\big)

    on data standardised by the real sample. h = ``bandwidth`` (in standardised units) or, when None, the
    median pairwise distance of the real sample (median heuristic). The V-statistic is a squared norm of
    a difference of mean embeddings, so it is >= 0 always and exactly 0 for identical samples (the
    unbiased U-statistic can go negative and is noisier to read in a table). Bounded by 2. Costs
    O((m+n)^2 d) time and memory: use samples of ~1000 rows.
    """
    r, f = as_pair(real, fake)
    sc = real_scale(r)
    rs, fs = standardise(r, sc), standardise(f, sc)
    h = median_bandwidth(rs) if bandwidth is None else float(bandwidth)
    if not (np.isfinite(h) and h > 0):
        raise DataError(f"bandwidth must be a positive number, got {bandwidth!r}.")
    k_rr = rbf_kernel_mean(squared_distances(rs, rs), h)
    return mmd_from_sqdist(k_rr, squared_distances(fs, fs), squared_distances(rs, fs), h)


def energy_distance(real: np.ndarray, fake: np.ndarray) -> float:
    r"""Multivariate energy distance on standardised data, V-statistics (lower is better).

        \mathcal{E} = 2\,\mathbb{E}\lVert X - Y\rVert - \mathbb{E}\lVert X - X'\rVert - \mathbb{E}\lVert Y - Y'\rVert

    with X, X' real rows and Y, Y' fake rows (all pairs, diagonal zeros included, which is what makes it
    exactly 0 for identical samples). It is >= 0 and 0 only for equal distributions (Szekely & Rizzo);
    unlike MMD it has no bandwidth, and it grows linearly with a shift for large shifts.
    """
    r, f = as_pair(real, fake)
    sc = real_scale(r)
    rs, fs = standardise(r, sc), standardise(f, sc)
    d_rr = float(np.mean(np.sqrt(squared_distances(rs, rs))))
    return energy_from_distances(d_rr, np.sqrt(squared_distances(fs, fs)), np.sqrt(squared_distances(rs, fs)))


# ----------------------------------------------------------------------------- dependence


def _pearson(x: np.ndarray) -> np.ndarray:
    c = x - x.mean(axis=0)
    std = np.sqrt(np.mean(c * c, axis=0))
    ok = std > STD_FLOOR * np.maximum(1.0, np.abs(x).max(axis=0))
    cs = np.where(ok, c / np.where(ok, std, 1.0), 0.0)
    return (cs.T @ cs) / x.shape[0]  # a constant column gets correlation 0 with every other column


def _kendall_tau(x: np.ndarray, max_rows: int, seed: int = KENDALL_TAU_SEED) -> np.ndarray:
    """Kendall tau-b matrix from sign matrices: tau_jk = sum_p s_pj s_pk / sqrt(sum_p s_pj^2 sum_p s_pk^2)
    over all row pairs p = (i < i'), s_pj = sign(x_ij - x_i'j). Rows are subsampled to ``max_rows``."""
    if x.shape[0] > max_rows:
        idx = np.random.default_rng(seed).choice(x.shape[0], size=max_rows, replace=False)
        x = x[np.sort(idx)]
    i, j = np.triu_indices(x.shape[0], k=1)
    s = np.sign(x[i] - x[j]).astype(np.float32)  # (pairs, d); exact small integers in float32 sums
    num = (s.T @ s).astype(np.float64)
    norm = np.sqrt(np.diag(num))
    den = np.outer(norm, norm)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)  # a constant column: tau 0


def correlation_matrix(x: np.ndarray, method: str = "pearson", kendall_rows: int = KENDALL_TAU_ROWS) -> np.ndarray:
    """Pearson or Kendall tau-b correlation matrix of the columns of x: symmetric, in [-1, 1], diagonal 1.

    A constant column has correlation 0 with every other column (never NaN). Kendall subsamples the rows
    without replacement to at most ``kendall_rows`` (``np.random.default_rng(0)``; 2..KENDALL_MAX_ROWS): its
    cost is O(rows^2 d). The metrics use 400 rows; the figures (genlib.figures.samples) ask for more. Pearson
    uses every row. The one implementation behind ``correlation_distance``, the suite and the figures.
    """
    if method not in CORRELATION_METHODS:
        raise DataError(f"method must be 'pearson' or 'kendall', got {method!r}.")
    if not 2 <= int(kendall_rows) <= KENDALL_MAX_ROWS:
        raise DataError(f"kendall_rows must be between 2 and {KENDALL_MAX_ROWS}, got {kendall_rows}.")
    arr = as_2d(x, "x")
    if arr.shape[0] < 2:
        raise DataError("A correlation needs at least 2 rows.")
    m = _pearson(arr) if method == "pearson" else _kendall_tau(arr, int(kendall_rows))
    np.fill_diagonal(m, 1.0)  # also for a constant column, and exactly 1 despite rounding
    return np.clip(m, -1.0, 1.0, out=m)  # rounding can put a Pearson entry an ulp outside


def correlation_gap(c_real: np.ndarray, c_fake: np.ndarray) -> float:
    """Mean absolute difference of the entries above the diagonal of two (d, d) correlation matrices (0 for
    d < 2): the last step of ``correlation_distance``; the suite passes the real matrix it cached."""
    d = c_real.shape[0]
    if d < 2:
        return 0.0
    return float(np.mean(np.abs(_upper(c_real) - _upper(c_fake))))


def correlation_distance(real: np.ndarray, fake: np.ndarray, method: str = "pearson") -> float:
    r"""Mean absolute gap between the two correlation matrices, off-diagonal entries (lower is better).

        C = \frac{2}{d(d-1)} \sum_{j<k} \left|\rho_{jk} - \tilde\rho_{jk}\right| \in [0, 2]

    \rho = Pearson correlation (linear dependence) or Kendall's tau-b (rank dependence, so unchanged by any
    increasing map of a column and robust to heavy tails). 0 = same pairwise dependence (it ignores the
    marginals entirely); 2 = every correlation flipped from +1 to -1. A constant column has correlation
    0 with the others (not NaN). d = 1 gives 0.

    Kendall: each sample is subsampled without replacement to at most 400 rows
    (``np.random.default_rng(0)``) and tau is computed from the sign matrix of all row pairs, which takes
    ~10 ms at 8 columns and ~0.1 s at 64. With 400 rows the standard error of one tau is about 0.03, well
    below the gaps this metric is used to show.
    """
    r, f = as_pair(real, fake)
    if r.shape[1] < 2:
        return 0.0
    return correlation_gap(correlation_matrix(r, method), correlation_matrix(f, method))
