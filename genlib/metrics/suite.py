"""The metric suite of the Compare and Train pages, scored fast against a cached real-data Reference.

Why a Reference: every metric compares a model's samples with the same real rows, and most of the work
on the real side (its scale, its pairwise kernel and distance means, its k-NN radii, its correlation
matrices, a nearest-neighbour index of the training set...) does not depend on the model. A Reference
prepares all of that ONCE per dataset; ``score_samples`` then costs only the fake side, so the Compare
page can rescore a table of several runs every few seconds (~0.1 s per run at 1000 x 8 on one core).

    ref = reference_for(dataset)              # cached per dataset (fingerprint of its data)
    floor(ref)                                # real vs real: what a perfect generator would score
    score_model(ref, fitted)                  # samples ref.n_rows rows and scores them
    score_samples(ref, fake)                  # any (n, d) array in data units

Every value from ``score_samples`` equals the standalone function in ``SUITE[key].fn`` applied to
(ref.test, fake[:ref.n_rows]) (and ref.train for ``dcr_ratio``); the cache changes the cost, not the value.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from genlib.cache import LRUCache, array_digest
from genlib.data.base import DataError, Dataset
from genlib.metrics.distances import (
    correlation_distance,
    correlation_gap,
    correlation_matrix,
    energy_distance,
    energy_from_distances,
    median_bandwidth,
    mmd_from_sqdist,
    mmd_rbf,
    projection_directions,
    rbf_kernel_mean,
    real_scale,
    sliced_wasserstein,
    squared_distances,
    standardise,
    w1_columns,
    w1_sorted,
    wasserstein,
    wasserstein_per_column,
)
from genlib.metrics.fidelity import (
    METRICS,
    MetricInfo,
    anderson_darling,
    anderson_darling_per_column,
    kendall_error,
    kendall_pseudo_observations,
)
from genlib.metrics.inputs import as_2d
from genlib.metrics.likelihood import held_out_log_likelihood
from genlib.metrics.two_sample import (
    NearestRecord,
    classifier_auc,
    dcr_ratio,
    dcr_ratio_from_distances,
    knn_radii_from_sqdist,
    prdc,
    prdc_from_distances,
)

__all__ = [
    "DEFAULT_EVAL_ROWS",
    "MAX_TRAIN_ROWS",
    "PRDC_K",
    "Reference",
    "SAMPLE_METRICS",
    "SUITE",
    "corr_kendall",
    "corr_pearson",
    "dcr_ratio_metric",
    "floor",
    "make_reference",
    "per_column",
    "reference_for",
    "score_model",
    "score_arrays",
    "score_samples",
]

log = logging.getLogger(__name__)

#: Real test rows (and model samples) every metric uses: enough for stable values, small enough for the
#: O(n^2) metrics (MMD, energy, PRDC) to stay ~0.1 s per run.
DEFAULT_EVAL_ROWS = 1000
#: Training rows kept for the DCR nearest-neighbour index.
MAX_TRAIN_ROWS = 20_000
#: k of the PRDC k-nearest-neighbour balls (Naeem et al. use 5).
PRDC_K = 5
#: k of the classifier test's k-NN classifier.
C2ST_K = 25
#: Seed of every subsample the suite draws (test rows, train rows, floor rows).
SEED = 0


# ----------------------------------------------------------------------------- the metric table


def _prdc_key(key: str) -> Callable[[np.ndarray, np.ndarray], float]:
    def fn(real: np.ndarray, fake: np.ndarray) -> float:
        return prdc(real, fake, k=PRDC_K)[key]
    fn.__name__ = f"prdc_{key}"
    fn.__doc__ = f"``prdc(real, fake, k={PRDC_K})['{key}']`` (see genlib.metrics.two_sample.prdc)."
    return fn


def corr_pearson(real: np.ndarray, fake: np.ndarray) -> float:
    """``correlation_distance(real, fake, "pearson")``."""
    return correlation_distance(real, fake, "pearson")


def corr_kendall(real: np.ndarray, fake: np.ndarray) -> float:
    """``correlation_distance(real, fake, "kendall")``."""
    return correlation_distance(real, fake, "kendall")


def dcr_ratio_metric(real: np.ndarray, fake: np.ndarray, train: np.ndarray | None = None) -> float:
    """``dcr_ratio(fake, real, train)`` in the suite's (real, fake) argument order; it needs the training
    rows, so ``SUITE["dcr_ratio"].fn`` takes a third argument (DataError without it)."""
    if train is None:
        raise DataError("dcr_ratio needs the training rows: call it with train=... or use a Reference.")
    return dcr_ratio(fake, real, train)


def _info(name: str, label: str, fn: Any, lower: bool, latex: str, description: str, ideal: float | None = None,
          unit: str = "") -> MetricInfo:
    return MetricInfo(name=name, fn=fn, lower_is_better=lower, latex=latex, description=description, label=label,
                      ideal=ideal, unit=unit)


#: The suite's metrics in display order. ``fn(real, fake)`` is the standalone implementation (None for the
#: log-likelihood, which needs the model); ``ideal`` set = closest to it is best.
SUITE: dict[str, MetricInfo] = {
    # the finance study's two tables, named as a reader of the app says them
    "anderson_darling": replace(METRICS["anderson_darling"], label="Anderson–Darling distance"),
    "kendall_error": replace(METRICS["kendall_error"], label="Kendall error"),
    "wasserstein": _info(
        "wasserstein", "Wasserstein distance (per column)", wasserstein, True,
        r"W = \frac{1}{d}\sum_{j=1}^{d}\frac{1}{\sigma_j}\int\lvert F_j(t)-\tilde F_j(t)\rvert\,dt",
        "Earth mover's distance between each real and generated column, in units of the real column's standard "
        "deviation, averaged over columns: 0.5 means columns are off by about half a standard deviation. "
        "Sees marginals only. Lower is better.", unit="σ"),
    "sliced_wasserstein": _info(
        "sliced_wasserstein", "Sliced Wasserstein distance", sliced_wasserstein, True,
        r"SW = \frac{1}{P}\sum_{p=1}^{P} W_1\big(\theta_p^\top z,\,\theta_p^\top\tilde z\big),\quad P = 64",
        "Earth mover's distance along 64 fixed random directions of the standardised data, averaged: unlike the "
        "per-column version it also sees wrong correlations. Lower is better.", unit="σ"),
    "mmd": _info(
        "mmd", "MMD² (Gaussian kernel)", mmd_rbf, True,
        r"\mathrm{MMD}^2 = \overline{k(x,x')} + \overline{k(\tilde x,\tilde x')} - 2\,\overline{k(x,\tilde x)},"
        r"\quad k(x,y)=e^{-\lVert x-y\rVert^2/2h^2}",
        "Maximum mean discrepancy with a Gaussian kernel (bandwidth h = median distance between real rows) on "
        "standardised data: compares the two samples as whole clouds. 0 for identical samples, at most 2. "
        "Lower is better."),
    "energy": _info(
        "energy", "Energy distance", energy_distance, True,
        r"\mathcal{E} = 2\,\mathbb{E}\lVert X-Y\rVert - \mathbb{E}\lVert X-X'\rVert - \mathbb{E}\lVert Y-Y'\rVert",
        "Energy distance between the real and generated clouds on standardised data: zero only for equal "
        "distributions, no tuning parameter, grows roughly linearly with a shift. Lower is better.", unit="σ"),
    "corr_pearson": _info(
        "corr_pearson", "Correlation gap (Pearson)", corr_pearson, True,
        r"C = \frac{2}{d(d-1)}\sum_{j<k}\lvert\rho_{jk}-\tilde\rho_{jk}\rvert",
        "Mean absolute difference between the real and generated Pearson correlation matrices (off-diagonal): "
        "is the linear dependence between columns right? In [0, 2]; lower is better."),
    "corr_kendall": _info(
        "corr_kendall", "Correlation gap (Kendall τ)", corr_kendall, True,
        r"C_\tau = \frac{2}{d(d-1)}\sum_{j<k}\lvert\tau_{jk}-\tilde\tau_{jk}\rvert",
        "Same as the Pearson gap with Kendall's rank correlation, so it ignores the marginals' shapes and "
        "outliers (on at most 400 rows per sample). In [0, 2]; lower is better."),
    "c2st_auc": _info(
        "c2st_auc", "Classifier AUC (real vs generated)", classifier_auc, True,
        r"\mathrm{AUC} = P\big(\hat p(\tilde x) > \hat p(x)\big)",
        "A 25-nearest-neighbour classifier is trained to tell real from generated rows (2-fold cross-validation); "
        "this is its ROC AUC. 0.5 means it cannot tell them apart (ideal), 1 that they are fully separable.",
        ideal=0.5),
    "precision": _info(
        "precision", "Precision", _prdc_key("precision"), False,
        r"\mathrm{P} = \frac{1}{n}\sum_j \mathbb{1}\big[\exists i:\ \tilde x_j \in B(x_i, \mathrm{NND}_5(x_i))\big]",
        "Share of generated rows that fall inside the real data's 5-nearest-neighbour balls: are samples "
        "realistic? In [0, 1]; higher is better (compare with the oracle floor)."),
    "recall": _info(
        "recall", "Recall", _prdc_key("recall"), False,
        r"\mathrm{R} = \frac{1}{m}\sum_i \mathbb{1}\big[\exists j:\ x_i \in B(\tilde x_j, \mathrm{NND}_5(\tilde x_j))\big]",
        "Share of real rows that fall inside the generated data's 5-nearest-neighbour balls: does the model "
        "cover the data's variety? Low under mode collapse. In [0, 1]; higher is better."),
    "density": _info(
        "density", "Density", _prdc_key("density"), False,
        r"\mathrm{D} = \frac{1}{kn}\sum_j\sum_i \mathbb{1}\big[\tilde x_j \in B(x_i, \mathrm{NND}_k(x_i))\big]",
        "How many real neighbourhoods each generated row sits in, divided by k: about 1 when the distributions "
        "match, below 1 for samples off the data, above 1 for samples piled into dense regions. Higher is better."),
    "coverage": _info(
        "coverage", "Coverage", _prdc_key("coverage"), False,
        r"\mathrm{C} = \frac{1}{m}\sum_i \mathbb{1}\big[\exists j:\ \tilde x_j \in B(x_i, \mathrm{NND}_k(x_i))\big]",
        "Share of real rows whose 5-nearest-neighbour ball holds at least one generated row: a robust diversity "
        "score (outliers among the samples cannot inflate it). In [0, 1]; higher is better."),
    "dcr_ratio": _info(
        "dcr_ratio", "Closest-record distance ratio (memorisation)", dcr_ratio_metric, False,
        r"\frac{\mathrm{median}_j\ \min_t\lVert\tilde x_j - t\rVert}{\mathrm{median}_i\ \min_t\lVert x_i - t\rVert},"
        r"\quad t \in \text{train}",
        "Median distance from generated rows to their closest TRAINING row, over the same for held-out real "
        "rows. About 1 (ideal) when the model generalises; near 0 when it copies its training data, which "
        "every other metric would score as perfect.", ideal=1.0),
    "log_likelihood": _info(
        "log_likelihood", "Held-out log-likelihood", None, False,
        r"\ell = \frac{1}{nd}\sum_i\Big[\log p_Z\big(T(x_i)\big) + \log\lvert\det J_T(x_i)\rvert\Big]",
        "Average log-density of the held-out rows in the data's own units, per column. Exact for flows and "
        "classical models; a lower bound (IWAE, 64 samples) for VAEs; absent for GANs. Higher is better.",
        unit="nats/dim"),
}

#: Keys ``score_samples`` computes (everything but the log-likelihood, which needs the model).
SAMPLE_METRICS: tuple[str, ...] = tuple(k for k in SUITE if k != "log_likelihood")


# ----------------------------------------------------------------------------- the cached real side


@dataclass(eq=False)
class Reference:
    """The real side of every metric, prepared once per dataset and reused for every run and refresh.

    test: the held-out rows the metrics compare with (the test split subsampled without replacement to
    at most n_rows, fixed seed); test_index: their indices in the test split; labels: labels_test for
    those rows (None without labels); train: the training rows (at most 20 000) for the memorisation
    metric. Everything else is private, real-only cache filled by ``__post_init__``.
    """

    test: np.ndarray
    test_index: np.ndarray
    labels: np.ndarray | None
    train: np.ndarray
    _scale: tuple[np.ndarray, np.ndarray] = field(init=False, repr=False)
    _test_std: np.ndarray = field(init=False, repr=False)
    _test_sorted: np.ndarray = field(init=False, repr=False)
    _theta: np.ndarray = field(init=False, repr=False)
    _proj_sorted: np.ndarray = field(init=False, repr=False)
    _bandwidth: float = field(init=False, repr=False)
    _k_rr_mean: float = field(init=False, repr=False)
    _d_rr_mean: float = field(init=False, repr=False)
    _radii: np.ndarray = field(init=False, repr=False)
    _pseudo: np.ndarray = field(init=False, repr=False)
    _corr: dict[str, np.ndarray] = field(init=False, repr=False)
    _nn: NearestRecord = field(init=False, repr=False)
    _test_dcr: np.ndarray = field(init=False, repr=False)
    _floor: dict[str, float] | None = field(init=False, repr=False, default=None)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.test = as_2d(self.test, "test")
        self.train = as_2d(self.train, "train")
        if self.test.shape[1] != self.train.shape[1]:
            raise DataError(f"test has {self.test.shape[1]} columns but train has {self.train.shape[1]}.")
        if self.test.shape[0] <= PRDC_K:
            raise DataError(f"The metric suite needs more than {PRDC_K} test rows; got {self.test.shape[0]}.")
        if self.train.shape[0] < 2:
            raise DataError("The metric suite needs at least 2 training rows.")
        self.test_index = np.asarray(self.test_index, dtype=np.int64)
        if self.labels is not None:
            self.labels = np.asarray(self.labels)
            if self.labels.shape[0] != self.test.shape[0]:
                raise DataError(f"{self.labels.shape[0]} labels for {self.test.shape[0]} test rows.")
        r = self.test
        self._scale = real_scale(r)
        rs = standardise(r, self._scale)
        self._test_std = rs
        self._test_sorted = np.sort(r, axis=0)
        self._theta = projection_directions(r.shape[1])
        self._proj_sorted = np.sort(rs @ self._theta, axis=0)
        d2 = squared_distances(rs, rs)
        self._bandwidth = median_bandwidth(rs)
        self._k_rr_mean = rbf_kernel_mean(d2, self._bandwidth)  # the function mmd_rbf uses: same bits
        self._d_rr_mean = float(np.mean(np.sqrt(d2)))
        self._radii = knn_radii_from_sqdist(d2, PRDC_K)
        self._pseudo = kendall_pseudo_observations(r)
        self._corr = {"pearson": correlation_matrix(r, "pearson"), "kendall": correlation_matrix(r, "kendall")}
        self._nn = NearestRecord(self.train)
        self._test_dcr = np.sort(self._nn.distances(r))

    @property
    def n_rows(self) -> int:
        """Number of reference test rows (= samples scored per model)."""
        return int(self.test.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.test.shape[1])


def _subsample(n: int, size: int, seed: int) -> np.ndarray:
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def make_reference(test: np.ndarray, train: np.ndarray, n_rows: int = DEFAULT_EVAL_ROWS, seed: int = SEED,
                   labels: np.ndarray | None = None) -> Reference:
    """Build a Reference: test rows subsampled without replacement to at most ``n_rows`` (fixed seed),
    train rows to at most MAX_TRAIN_ROWS, and every real-only quantity precomputed (~0.1-0.3 s at 1000 x 8)."""
    t = as_2d(test, "test")
    tr = as_2d(train, "train")
    if int(n_rows) < PRDC_K + 1:
        raise DataError(f"n_rows must be at least {PRDC_K + 1}, got {n_rows}.")
    idx = _subsample(t.shape[0], int(n_rows), seed)
    lab = None
    if labels is not None:
        lab = np.asarray(labels)
        if lab.shape[0] != t.shape[0]:
            raise DataError(f"{lab.shape[0]} labels for {t.shape[0]} test rows.")
        lab = lab[idx]
    train_idx = _subsample(tr.shape[0], MAX_TRAIN_ROWS, seed + 1)
    return Reference(test=t[idx], test_index=idx, labels=lab, train=tr[train_idx])


_REFERENCES: LRUCache[Reference] = LRUCache(max_entries=8)


def _fingerprint(dataset: Dataset, n_rows: int) -> tuple:
    params = repr(sorted((str(k), repr(v)) for k, v in (dataset.params or {}).items()))
    return (dataset.name, params, array_digest(dataset.test), array_digest(dataset.train),
            array_digest(dataset.labels_test), int(n_rows))


def reference_for(dataset: Dataset, n_rows: int = DEFAULT_EVAL_ROWS) -> Reference:
    """The Reference of a dataset, from a small thread-safe LRU cache (8 entries, :class:`genlib.cache.LRUCache`).

    Keyed by a fingerprint of the data itself (name, params, hashes of the test/train/label bytes, n_rows),
    so two Dataset objects with the same data share one Reference and a changed dataset never reuses a
    stale one. Concurrent callers for the same dataset wait for one build instead of each building.
    """
    return _REFERENCES.get_or_build(_fingerprint(dataset, n_rows), lambda: make_reference(
        dataset.test, dataset.train, n_rows=n_rows, labels=dataset.labels_test))


# ----------------------------------------------------------------------------- scoring


class _Fake:
    """The fake side of one scoring call, with the shared pieces (standardised rows, distance matrices,
    PRDC) computed lazily once and reused by every metric that needs them."""

    def __init__(self, ref: Reference, fake: np.ndarray) -> None:
        self.ref, self.x = ref, fake
        self.equal = fake.shape[0] == ref.n_rows
        self.std = standardise(fake, ref._scale)
        self._d2_ff: np.ndarray | None = None
        self._d2_rf: np.ndarray | None = None
        self._d_rf: np.ndarray | None = None
        self._prdc: dict[str, float] | None = None

    @property
    def d2_ff(self) -> np.ndarray:
        if self._d2_ff is None:
            self._d2_ff = squared_distances(self.std, self.std)
        return self._d2_ff

    @property
    def d2_rf(self) -> np.ndarray:
        if self._d2_rf is None:
            self._d2_rf = squared_distances(self.ref._test_std, self.std)
        return self._d2_rf

    @property
    def d_rf(self) -> np.ndarray:
        if self._d_rf is None:
            self._d_rf = np.sqrt(self.d2_rf)
        return self._d_rf

    def energy(self) -> float:
        return energy_from_distances(self.ref._d_rr_mean, np.sqrt(self.d2_ff), self.d_rf)

    def prdc(self, key: str) -> float:
        if self._prdc is None:
            fake_radii = knn_radii_from_sqdist(self.d2_ff, PRDC_K)
            self._prdc = prdc_from_distances(self.d_rf, self.ref._radii, fake_radii, PRDC_K)
        return self._prdc[key]


def _kendall(ref: Reference, f: _Fake) -> float:
    if not f.equal:
        return kendall_error(ref.test, f.x)
    return float(np.mean(np.abs(ref._pseudo - kendall_pseudo_observations(f.x))))


def _wasserstein_cols(ref: Reference, f: _Fake) -> np.ndarray:
    if not f.equal:
        return wasserstein_per_column(ref.test, f.x)
    return w1_sorted(ref._test_sorted, np.sort(f.x, axis=0)) / ref._scale[1]


def _sliced(ref: Reference, f: _Fake) -> float:
    proj = f.std @ ref._theta
    if f.equal:
        return float(np.mean(w1_sorted(ref._proj_sorted, np.sort(proj, axis=0))))
    return float(np.mean(w1_columns(ref._test_std @ ref._theta, proj)))


def _corr(ref: Reference, f: _Fake, method: str) -> float:
    if ref.n_features < 2:
        return 0.0
    return correlation_gap(ref._corr[method], correlation_matrix(f.x, method))


def _dcr(ref: Reference, f: _Fake) -> float:
    return dcr_ratio_from_distances(ref._nn.distances(f.x), float(np.median(ref._test_dcr)))


_SCORERS: dict[str, Callable[[Reference, _Fake], float]] = {
    "anderson_darling": lambda ref, f: anderson_darling(ref.test, f.x),
    "kendall_error": _kendall,
    "wasserstein": lambda ref, f: float(np.mean(_wasserstein_cols(ref, f))),
    "sliced_wasserstein": _sliced,
    "mmd": lambda ref, f: mmd_from_sqdist(ref._k_rr_mean, f.d2_ff, f.d2_rf, ref._bandwidth),
    "energy": lambda ref, f: f.energy(),
    "corr_pearson": lambda ref, f: _corr(ref, f, "pearson"),
    "corr_kendall": lambda ref, f: _corr(ref, f, "kendall"),
    "c2st_auc": lambda ref, f: classifier_auc(ref.test, f.x, seed=SEED, k=C2ST_K),
    "precision": lambda ref, f: f.prdc("precision"),
    "recall": lambda ref, f: f.prdc("recall"),
    "density": lambda ref, f: f.prdc("density"),
    "coverage": lambda ref, f: f.prdc("coverage"),
    "dcr_ratio": _dcr,
}


def _keys(metrics: Iterable[str] | None, allowed: Sequence[str]) -> list[str]:
    if metrics is None:
        return list(allowed)
    keys = list(metrics)
    unknown = [k for k in keys if k not in SUITE]
    if unknown:
        raise KeyError(f"Unknown metric(s) {', '.join(map(repr, unknown))}; known: {', '.join(SUITE)}.")
    return [k for k in keys if k in allowed]


def _prepare_fake(ref: Reference, fake: np.ndarray) -> np.ndarray:
    arr = np.asarray(fake, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise DataError(f"fake must be a non-empty 2-D array, got shape {arr.shape}.")
    if arr.shape[1] != ref.n_features:
        raise DataError(f"fake has {arr.shape[1]} columns but the reference data has {ref.n_features}.")
    return arr[: ref.n_rows]


def score_samples(ref: Reference, fake: np.ndarray, metrics: Iterable[str] | None = None) -> dict[str, float]:
    """Every sample metric of ``fake`` (data units) against the Reference: {key: value} in SUITE order.

    ``fake`` is truncated to its first ref.n_rows rows (so every run is scored on as many rows as the
    reference has); fewer rows are scored as they are, through the standalone functions where the cache
    assumes equal sizes. ``metrics`` picks keys (unknown keys: KeyError; "log_likelihood" is ignored here,
    see ``score_model``). A wrong shape or width raises DataError; non-finite values in ``fake`` give NaN
    for every metric; a metric that raises gives NaN for its key only (logged), never for the others.
    """
    keys = _keys(metrics, SAMPLE_METRICS)
    x = _prepare_fake(ref, fake)
    out = dict.fromkeys(keys, float("nan"))
    if not np.all(np.isfinite(x)):
        log.warning("score_samples: the samples contain NaN or infinite values; every metric is NaN")
        return out
    f = _Fake(ref, x)
    for key in keys:
        try:
            out[key] = float(_SCORERS[key](ref, f))
        except Exception as exc:  # one failing metric must not hide the others
            log.warning("metric %s failed: %s", key, exc)
    return out


def per_column(ref: Reference, fake: np.ndarray) -> dict[str, list[float]]:
    """Per-column Anderson-Darling and standardised Wasserstein-1 of ``fake`` against the Reference (for
    the "which columns are wrong" bar charts); NaN lists when ``fake`` is not finite."""
    x = _prepare_fake(ref, fake)
    if not np.all(np.isfinite(x)):
        nan = [float("nan")] * ref.n_features
        return {"anderson_darling": list(nan), "wasserstein": list(nan)}
    f = _Fake(ref, x)
    return {"anderson_darling": [float(v) for v in anderson_darling_per_column(ref.test, x)],
            "wasserstein": [float(v) for v in _wasserstein_cols(ref, f)]}


def floor(ref: Reference) -> dict[str, float]:
    """The ORACLE FLOOR: every metric for a "perfect generator" that hands in fresh real rows.

    The fake slot gets ref.n_rows training rows (subsample, fixed seed), scored against the test
    reference exactly like a model's samples: values at the noise level of the sample size (AUC ~0.5,
    W/MMD/energy small but not 0, precision/recall/coverage below 1). DCR ratio: those rows belong to
    the DCR training set, so their own distance would be 0 (a "copy"); instead their LEAVE-ONE-OUT
    distance to the other training rows is used, which is what a fresh real row at that position would
    get, so the floor is ~1. Log-likelihood floor: NaN (no real-data density to compare with).
    Computed once per Reference (thread-safe) and returned as a copy.
    """
    with ref._lock:
        if ref._floor is None:
            idx = _subsample(ref.train.shape[0], ref.n_rows, SEED + 2)
            sub = ref.train[idx]
            values = score_samples(ref, sub)
            try:
                values["dcr_ratio"] = dcr_ratio_from_distances(ref._nn.distances(sub, exclude_self=True),
                                                               float(np.median(ref._test_dcr)))
            except DataError as exc:
                log.warning("dcr_ratio floor: %s", exc)
                values["dcr_ratio"] = float("nan")
            values["log_likelihood"] = float("nan")
            ref._floor = values
        return dict(ref._floor)


def score_arrays(real: np.ndarray, fake: np.ndarray, train: np.ndarray | None = None
                 ) -> tuple[Reference, dict[str, float]]:
    """Every sample metric of the suite for plain arrays (the CLI's ``evaluate --suite``, ``genlib.evaluate``).

    Without ``train`` the training-data-dependent check (``dcr_ratio``, memorisation) is left out, not faked; with
    it, the Reference built here also gives the oracle floor (``floor(ref)``)."""
    ref = make_reference(real, real if train is None else train)
    keys = [k for k in SUITE if SUITE[k].fn is not None and (train is not None or k != "dcr_ratio")]
    return ref, score_samples(ref, fake, keys)


def score_model(ref: Reference, fitted: Any, seed: int = 12345, metrics: Iterable[str] | None = None
                ) -> dict[str, float]:
    """Sample ref.n_rows rows from a FittedModel (conditional models get ref.labels), score them with
    ``score_samples`` and add "log_likelihood" (``held_out_log_likelihood`` on ref.test, nats/dim) when the
    model has a density or a bound; the key is omitted for models without one (GANs, copula).

    Same seed -> same samples, so successive scores of a training run differ only because the model did.
    A model whose samples are non-finite gets NaN for every sample metric instead of raising.
    """
    from genlib.models.base import Capability  # torch: imported on first use, like likelihood.py does

    keys = _keys(metrics, tuple(SUITE))
    conditional = fitted.model.has(Capability.CONDITION) and ref.labels is not None
    labels = ref.labels if conditional else None
    sample_keys = [k for k in keys if k != "log_likelihood"]
    out: dict[str, float] = {}
    if sample_keys:
        try:
            fake = fitted.sample(ref.n_rows, seed=seed, labels=labels)
        except FloatingPointError as exc:
            log.warning("score_model: %s", exc)
            out = dict.fromkeys(sample_keys, float("nan"))
        else:
            out = score_samples(ref, fake, sample_keys)
    if "log_likelihood" in keys:
        try:
            ll = held_out_log_likelihood(fitted, ref.test, labels=labels)
        except Exception as exc:  # a failing likelihood must not lose the sample metrics
            log.warning("log_likelihood failed: %s", exc)
            ll = float("nan")
        if ll is not None:
            out["log_likelihood"] = float(ll)
    return out


