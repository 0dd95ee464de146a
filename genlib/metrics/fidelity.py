"""Sample-fidelity metrics from the GenHack 2022 challenge, in plain numpy.

Both metrics compare a REAL sample (the held-out test split, the reference) with a FAKE
sample (the model's output) and are rank based: applying the same strictly increasing map
to every column of both sets leaves them unchanged. Lower is better for both.

- ``anderson_darling``: per-column marginal fit, averaged over columns.
- ``kendall_error``: fit of the dependence structure (copula) via the Kendall function.

``oracle_floor`` computes the same metrics between two REAL splits, which is what "as good as
another draw of real data" looks like at the given sample sizes.
"""
from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any, Callable, Optional, Sequence

import numpy as np

from genlib.data.base import DataError
from genlib.limits import EVAL_ROWS, subsample_rows
from genlib.metrics.inputs import as_2d, as_pair

__all__ = [
    "METRICS",
    "MetricInfo",
    "anderson_darling",
    "anderson_darling_per_column",
    "evaluate",
    "kendall_error",
    "kendall_pseudo_observations",
    "oracle_floor",
    "subsample_message",
    "subsample_pair",
]

#: Seed of the RNG used to subsample the larger set in ``kendall_error`` (fixed => reproducible).
KENDALL_SUBSAMPLE_SEED = 0

# Upper bound on elements of each of the two (chunk, n) boolean blocks in kendall (2 x 4 MB).
_KENDALL_MAX_ELEMS = 4_000_000


# ----------------------------------------------------------------------------- Anderson-Darling


def anderson_darling_per_column(real: np.ndarray, fake: np.ndarray) -> np.ndarray:
    r"""GenHack 2022 Anderson-Darling distance of each column (lower is better).

    For column j, sort the fake values \tilde x_{(1)} \le \dots \le \tilde x_{(n)} and use the
    real sample (m rows) as the reference distribution:

        u_i = (\#\{k : x_k \le \tilde x_{(i)}\} + 1) / (m + 2)

        W_j = -n - \frac{1}{n} \sum_{i=1}^{n} (2i - 1) [\log u_i + \log(1 - u_{n+1-i})]

    The +1 / +2 smoothing keeps u strictly inside (0, 1), so W is always finite. This is NOT
    scipy.stats.anderson_ksamp (a different, normalised k-sample statistic). In the challenge
    m = n; here m and n may differ. Under "same distribution" W is of order 1-2, and it grows
    roughly linearly with n for a fixed mismatch, so compare values at equal sample sizes.
    """
    r, f = as_pair(real, fake)
    n, m = f.shape[0], r.shape[0]
    r_sorted = np.sort(r, axis=0)
    f_sorted = np.sort(f, axis=0)
    weights = 2.0 * np.arange(1, n + 1) - 1.0
    out = np.empty(r.shape[1])
    for j in range(r.shape[1]):
        counts = np.searchsorted(r_sorted[:, j], f_sorted[:, j], side="right")
        u = (counts + 1.0) / (m + 2.0)
        out[j] = -n - np.sum(weights * (np.log(u) + np.log1p(-u[::-1]))) / n
    return out


def anderson_darling(real: np.ndarray, fake: np.ndarray) -> float:
    r"""Mean over columns of the GenHack Anderson-Darling distance (lower is better).

        AD = \frac{1}{d} \sum_{j=1}^{d} W_j   (see ``anderson_darling_per_column``)
    """
    return float(np.mean(anderson_darling_per_column(real, fake)))


# ----------------------------------------------------------------------------- Kendall


def kendall_pseudo_observations(x: np.ndarray) -> np.ndarray:
    r"""Sorted Kendall pseudo-observations R_{(1)} \le \dots \le R_{(n)} of a sample of n rows.

        R_i = \frac{1}{n-1} \#\{j \ne i : X_j < X_i \text{ componentwise (strictly, every coordinate)}\}

    Exact integer counts. Rows are taken in chunks, and for each chunk one (chunk, n) boolean block is
    AND-ed in place column by column (less[c, j] = X[j] < X[c] in every coordinate so far), which is
    ~10-20x faster than one (chunk, n, d) comparison array and needs only two blocks of at most
    ``_KENDALL_MAX_ELEMS`` booleans (n = 5000: chunks of 800 rows). The metric suite scores every
    fake sample through this function, so it is the single implementation.
    """
    arr = as_2d(x, "x")
    n, d = arr.shape
    if n < 2:
        raise DataError("The Kendall error needs at least 2 rows per sample.")
    xt = np.ascontiguousarray(arr.T)
    chunk = max(1, min(n, _KENDALL_MAX_ELEMS // n))
    counts = np.empty(n, dtype=np.int64)
    less = np.empty((chunk, n), dtype=bool)
    tmp = np.empty_like(less)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        block, scratch = less[: stop - start], tmp[: stop - start]
        # j == i is never counted: X_i < X_i is False (strict <).
        np.less(xt[0][None, :], xt[0][start:stop, None], out=block)
        for k in range(1, d):
            np.less(xt[k][None, :], xt[k][start:stop, None], out=scratch)
            block &= scratch
        counts[start:stop] = np.count_nonzero(block, axis=1)
    return np.sort(counts / (n - 1.0))


def kendall_error(real: np.ndarray, fake: np.ndarray, seed: int = KENDALL_SUBSAMPLE_SEED) -> float:
    r"""GenHack absolute Kendall error between the dependence structures (lower is better).

    With sorted pseudo-observations R_{(i)} of the real set and \tilde R_{(i)} of the fake set
    (see ``kendall_pseudo_observations``):

        L = \frac{1}{n} \sum_{i=1}^{n} |R_{(i)} - \tilde R_{(i)}|  \in [0, 1]

    i.e. the L1 distance between the two empirical Kendall functions. The challenge's formula is
    often written as an un-normalised L1 norm \sum_i |R_{(i)} - \tilde R_{(i)}|; we divide by n so
    the value lies in [0, 1] and is comparable across sample sizes.

    If the sets differ in size, the larger one is subsampled without replacement to the smaller
    size with ``np.random.default_rng(seed)`` (seed 0 by default), so the value is reproducible.
    For d = 1 the error is 0 for any continuous samples (the metric only sees dependence).
    """
    r, f = as_pair(real, fake)
    n = min(r.shape[0], f.shape[0])
    if r.shape[0] != f.shape[0]:
        rng = np.random.default_rng(seed)
        if r.shape[0] > n:
            r = r[np.sort(rng.choice(r.shape[0], size=n, replace=False))]
        else:
            f = f[np.sort(rng.choice(f.shape[0], size=n, replace=False))]
    return float(np.mean(np.abs(kendall_pseudo_observations(r) - kendall_pseudo_observations(f))))


# ----------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class MetricInfo:
    """A metric plus what the UI needs to show it (formula for st.latex, direction, blurb).

    ``fn(real, fake) -> float`` computes it from two samples; it is None for metrics that need the model
    itself rather than its samples (the held-out log-likelihood). ``ideal``: when set, the best value is
    the one closest to it (classifier AUC 0.5, DCR ratio 1.0), else the smallest or largest per
    ``lower_is_better``. ``unit`` is shown next to the name in table headers (e.g. "nats/dim").
    """

    name: str
    fn: Optional[Callable[..., float]]
    lower_is_better: bool
    latex: str
    description: str
    label: str = ""
    ideal: float | None = None
    unit: str = ""

    @property
    def title(self) -> str:
        """Display name for tables and metric cards."""
        return self.label or self.name.replace("_", " ")

    @property
    def direction(self) -> str:
        """Which values are better, in words: "closest to 0.5", "lower" or "higher"."""
        if self.ideal is not None:
            return f"closest to {self.ideal:g}"
        return "lower" if self.lower_is_better else "higher"

    @property
    def arrow(self) -> str:
        """The same as a table-header mark: "→0.5", "↓" or "↑"."""
        if self.ideal is not None:
            return f"→{self.ideal:g}"
        return "↓" if self.lower_is_better else "↑"

    def best_index(self, values: Sequence[float | None]) -> int | None:
        """Index of the best finite value (first one on ties), or None when no value is finite.

        Best = closest to ``ideal`` when it is set, else the minimum (``lower_is_better``) or maximum.
        None and NaN entries are skipped, so a table with missing cells still gets a winner.
        """
        best, best_key = None, math.inf
        for i, v in enumerate(values):
            if v is None:
                continue
            try:
                x = float(v)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(x):
                continue
            if self.ideal is not None:
                key = abs(x - self.ideal)
            else:
                key = x if self.lower_is_better else -x
            if key < best_key:
                best, best_key = i, key
        return best


METRICS: dict[str, MetricInfo] = {
    "anderson_darling": MetricInfo(
        name="anderson_darling",
        label="Anderson–Darling",
        fn=anderson_darling,
        lower_is_better=True,
        latex=(
            r"W_j = -n - \frac{1}{n}\sum_{i=1}^{n}(2i-1)\left[\log u_i + \log(1-u_{n+1-i})\right],"
            r"\quad u_i = \frac{\#\{k: x_k \le \tilde x_{(i)}\} + 1}{m+2},"
            r"\quad \mathrm{AD} = \frac{1}{d}\sum_{j=1}^{d} W_j"
        ),
        description=(
            "Anderson-Darling distance (GenHack 2022): how well each generated column matches the "
            "real marginal distribution, with extra weight on the tails; averaged over columns. Lower is better."
        ),
    ),
    "kendall_error": MetricInfo(
        name="kendall_error",
        label="Kendall error",
        fn=kendall_error,
        lower_is_better=True,
        latex=(
            r"R_i = \frac{1}{n-1}\#\{j \ne i: X_j < X_i\},"
            r"\quad L = \frac{1}{n}\sum_{i=1}^{n}\left|R_{(i)} - \tilde R_{(i)}\right|"
        ),
        description=(
            "Absolute Kendall error (GenHack 2022): compares the dependence between columns through "
            "the distribution of 'how many points lie below this one in every coordinate'. "
            "In [0, 1]; lower is better."
        ),
    ),
}


def oracle_floor(
    real_a: np.ndarray,
    real_b: np.ndarray,
    metrics: Sequence[str] = ("anderson_darling", "kendall_error"),
    n: int | None = None,
    repeats: int = 5,
    seed: int = 0,
) -> dict[str, float]:
    """The metrics between two REAL splits: real_a is the reference, real_b fills the "fake" slot.

    Why: AD and Kendall error are never 0 for finite samples; oracle_floor(test, train) is what a
    perfect generator would score, so the UI can say what "good" means.

    AD depends on the fake sample size (under "same distribution" E[W] is roughly 1 + n/m for
    n fake and m real rows), so real_b is subsampled without replacement to ``n`` rows -- by
    default min(len(real_a), len(real_b)), i.e. a model asked for as many samples as the test
    set -- and the metrics are averaged over ``repeats`` subsamples drawn with
    ``np.random.default_rng(seed)``. When no subsampling is needed, one evaluation is done.
    """
    a, b = as_pair(real_a, real_b)
    for name in metrics:
        if name not in METRICS:
            raise KeyError(f"Unknown metric {name!r}; known: {', '.join(METRICS)}.")
    size = min(a.shape[0], b.shape[0]) if n is None else int(n)
    if not 2 <= size <= b.shape[0]:
        raise DataError(f"oracle_floor: n={size} must be between 2 and len(real_b)={b.shape[0]}.")
    rng = np.random.default_rng(seed)
    reps = 1 if size == b.shape[0] else max(1, int(repeats))
    totals = dict.fromkeys(metrics, 0.0)
    for _ in range(reps):
        bb = b if size == b.shape[0] else b[np.sort(rng.choice(b.shape[0], size=size, replace=False))]
        for name in metrics:
            totals[name] += float(METRICS[name].fn(a, bb))
    return {name: totals[name] / reps for name in metrics}


#: Seed of the fixed subsample `evaluate` compares when a side has more rows than ``$GENLAB_EVAL_ROWS``.
EVAL_SUBSAMPLE_SEED = 0


def subsample_pair(real: np.ndarray, fake: np.ndarray, max_rows: int | None = None, seed: int = EVAL_SUBSAMPLE_SEED
                   ) -> tuple[np.ndarray, np.ndarray, dict[str, Any] | None]:
    """(real, fake, note): each side cut to a fixed, seeded subsample of at most ``max_rows`` rows (default the
    ``GENLAB_EVAL_ROWS`` limit, 20,000), so the O(n²) Kendall count stays bounded. ``note`` is None when nothing
    was cut, else {"real": n, "fake": m, "of": [N, M], "limit": max_rows, "env": "GENLAB_EVAL_ROWS"} for the
    output to state."""
    limit = EVAL_ROWS.value() if max_rows is None else int(max_rows)
    n_real, n_fake = len(real), len(fake)
    i_real, i_fake = subsample_rows(n_real, limit, seed), subsample_rows(n_fake, limit, seed + 1)
    if i_real is None and i_fake is None:
        return real, fake, None
    real = real if i_real is None else np.asarray(real)[i_real]
    fake = fake if i_fake is None else np.asarray(fake)[i_fake]
    note = {"real": int(len(real)), "fake": int(len(fake)), "of": [int(n_real), int(n_fake)], "limit": limit,
            "env": EVAL_ROWS.env}
    return real, fake, note


def subsample_message(note: dict[str, Any]) -> str:
    """One sentence for stderr or a page: what `subsample_pair` kept, and how to change it."""
    return (f"compared a fixed subsample of {note['real']:,} of {note['of'][0]:,} real rows and {note['fake']:,} of "
            f"{note['of'][1]:,} fake rows (at most {note['limit']:,} per side; set {note['env']} to change it)")


def evaluate(real: np.ndarray, fake: np.ndarray, max_rows: int | None = None) -> dict[str, Any]:
    """All fidelity metrics of ``fake`` against ``real`` (the test split), JSON-friendly.

    Returns {"anderson_darling": float, "kendall_error": float,
    "anderson_darling_per_column": list[float]}, plus "subsampled" (see `subsample_pair`) when a side had more than
    ``max_rows`` rows (default ``$GENLAB_EVAL_ROWS``, 20,000) and a fixed, seeded subsample was compared instead.
    """
    real, fake, note = subsample_pair(real, fake, max_rows)
    per_col = anderson_darling_per_column(real, fake)
    out: dict[str, Any] = {
        "anderson_darling": float(np.mean(per_col)),
        "kendall_error": kendall_error(real, fake),
        "anderson_darling_per_column": [float(v) for v in per_col],
    }
    if note is not None:
        out["subsampled"] = note
    return out
