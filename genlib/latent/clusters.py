"""Do the latent codes group by class without being told the classes? Seed 003's cluster purity table.

Cluster the codes with k-means or a Gaussian mixture (scikit-learn), then cross-tabulate clusters against the
known labels: one row per cluster with the share of each label in it, its size and its purity (the largest
share). Overall purity = Σ_clusters (largest label count) / n; the adjusted Rand index (ARI) is the
chance-corrected agreement between the two partitions (0 = chance, 1 = identical), so it does not reward
simply using many clusters the way purity does.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.mixture import GaussianMixture

from ..data.base import DataError

__all__ = ["CLUSTER_METHODS", "ClusterReport", "cluster_codes", "purity_table", "overall_purity",
           "cluster_report"]

CLUSTER_METHODS: tuple[str, ...] = ("kmeans", "gmm")


@dataclass(frozen=True)
class ClusterReport:
    """Everything a page shows for one clustering."""

    assignments: np.ndarray   # (n,) cluster index per point
    table: pd.DataFrame       # see purity_table
    purity: float             # overall purity in [0, 1]
    ari: float                # adjusted Rand index vs the labels
    nmi: float                # normalised mutual information vs the labels
    k: int
    method: str


def _codes(codes: np.ndarray) -> np.ndarray:
    arr = np.asarray(codes, dtype=np.float64)
    if arr.ndim != 2 or not np.all(np.isfinite(arr)):
        raise DataError("codes must be a 2-D array of finite numbers")
    return arr


def cluster_codes(codes: np.ndarray, k: int = 10, method: Literal["kmeans", "gmm"] = "kmeans",
                  seed: int = 0) -> np.ndarray:
    """Cluster index (0..k−1) per code. ``kmeans``: spherical clusters of similar size; ``gmm``: a full-
    covariance mixture, for elongated or differently sized clusters."""
    arr = _codes(codes)
    if method not in CLUSTER_METHODS:
        raise DataError(f"unknown clustering method {method!r}; choose one of: {', '.join(CLUSTER_METHODS)}")
    if not 1 <= k <= len(arr):
        raise DataError(f"k must be between 1 and the number of points ({len(arr)}), got {k}")
    if method == "kmeans":
        return KMeans(n_clusters=int(k), n_init=4, random_state=seed).fit_predict(arr)
    return GaussianMixture(n_components=int(k), covariance_type="full", reg_covar=1e-5, n_init=1,
                           random_state=seed).fit_predict(arr)


def purity_table(assignments: np.ndarray, labels: np.ndarray,
                 label_names: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per cluster (index ``cluster``): the share of each label (columns named by the label, rows sum
    to 1), then ``majority`` (the most common label), ``size`` (points) and ``purity`` (largest share).

    ``label_names`` renames the label columns, in the order of the sorted unique labels."""
    a = np.asarray(assignments).reshape(-1)
    y = np.asarray(labels).reshape(-1)
    if a.size != y.size or a.size == 0:
        raise DataError(f"need one label per clustered point, got {a.size} points and {y.size} labels")
    counts = pd.crosstab(pd.Series(a, name="cluster"), pd.Series(y, name="label"))
    names = [str(c) for c in counts.columns]
    if label_names is not None:
        if len(label_names) != len(names):
            raise DataError(f"label_names has {len(label_names)} names for {len(names)} labels")
        names = [str(n) for n in label_names]
    sizes = counts.sum(axis=1)
    shares = counts.div(sizes, axis=0)
    shares.columns = names
    table = shares.copy()
    table["majority"] = [names[i] for i in np.argmax(counts.to_numpy(), axis=1)]
    table["size"] = sizes.to_numpy()
    table["purity"] = shares.max(axis=1).to_numpy()
    table.index.name = "cluster"
    return table


def overall_purity(assignments: np.ndarray, labels: np.ndarray) -> float:
    """Σ over clusters of the count of its most common label, divided by n (1 = every cluster is one class)."""
    counts = pd.crosstab(np.asarray(assignments).reshape(-1), np.asarray(labels).reshape(-1)).to_numpy()
    return float(counts.max(axis=1).sum() / counts.sum())


def cluster_report(codes: np.ndarray, labels: np.ndarray, k: int = 10,
                   method: Literal["kmeans", "gmm"] = "kmeans", seed: int = 0,
                   label_names: Sequence[str] | None = None) -> ClusterReport:
    """Cluster the codes and score the clusters against the labels (table, purity, ARI, NMI)."""
    y = np.asarray(labels).reshape(-1)
    if y.size != len(np.asarray(codes)):
        raise DataError(f"need one label per code, got {y.size} labels for {len(np.asarray(codes))} codes")
    a = cluster_codes(codes, k, method, seed)
    return ClusterReport(a, purity_table(a, y, label_names), overall_purity(a, y),
                         float(adjusted_rand_score(y, a)), float(normalized_mutual_info_score(y, a)), int(k), method)
