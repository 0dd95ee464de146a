"""2-D / 3-D views of latent codes: UMAP (non-linear, seed 003's picture of the latent space) or PCA (linear).

Two costs shape this module:

- ``import umap`` takes 10-20 s in a fresh process (numba compiles its kernels) and the first fit another
  ~10 s. So umap is imported only inside functions, and :func:`warm_up_umap` pays both in a daemon thread when
  the app starts, while the user is still choosing a model; :func:`umap_ready` tells a page whether the next
  call will be quick.
- A UMAP fit of a few thousand points takes seconds, and Streamlit re-runs the whole page on every widget
  change. :func:`embed` therefore keeps a small in-process LRU cache keyed by a fingerprint of the codes
  (a hash of their bytes, shape and dtype) and the parameters: the same call is instant the second time.
  :func:`embed_with_info` says whether a call was a cache hit.
"""
from __future__ import annotations

import threading
import warnings
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..cache import LRUCache, array_digest
from ..data.base import DataError

__all__ = ["METHODS", "METRICS", "MIN_POINTS", "EmbedResult", "warm_up_umap", "umap_ready", "umap_error",
           "check_codes", "embed", "embed_with_info", "embed_cache_info", "clear_embed_cache"]

METHODS: tuple[str, ...] = ("umap", "pca")
#: Distances offered for UMAP (a subset of umap-learn's that make sense for real-valued codes).
METRICS: tuple[str, ...] = ("euclidean", "manhattan", "chebyshev", "cosine", "correlation", "canberra",
                            "braycurtis")
#: Fewer points than this give no meaningful neighbourhood graph (and UMAP's spectral start fails).
MIN_POINTS = 5
#: Layout epochs. umap-learn uses 500 below 10,000 points; on the 1,797 digits' 64-dim codes 200 epochs gave the
#: same picture (trustworthiness@10 0.9756 vs 0.9757, nearest neighbour of the same digit 96.9 % vs 96.4 %) in
#: 1.05 s instead of 2.2 s, which is what keeps "Project" under 2 s on 2 cores.
UMAP_EPOCHS = 200
#: umap-learn's own threshold: below it, UMAP finds neighbours exactly (here: from a precomputed matrix).
EXACT_NEIGHBOURS_BELOW = 4096
CACHE_SIZE = 16

# ----------------------------------------------------------------------------- background warm-up

_warm_lock = threading.Lock()
_warm_thread: threading.Thread | None = None
_warm_done = threading.Event()
_warm_error: str | None = None


def _warm_up() -> None:
    global _warm_error
    try:
        import umap  # noqa: F401  (the slow part: numba compiles on import)

        x = np.random.default_rng(0).normal(size=(64, 4))
        _fit(x, "umap", 2, 8, 0.1, "euclidean", 0, n_epochs=20)  # the same code path as a real fit
    except Exception as exc:  # never kill the app from a background thread; report through umap_error()
        _warm_error = f"{type(exc).__name__}: {exc}"
    finally:
        _warm_done.set()


def warm_up_umap() -> None:
    """Start importing umap and fitting a tiny set in a daemon thread, and return at once.

    Idempotent and thread-safe: only the first call starts a thread. Call it when the app starts so the
    first real embedding does not pay numba's compile time."""
    global _warm_thread
    with _warm_lock:
        if _warm_thread is None:
            _warm_thread = threading.Thread(target=_warm_up, name="umap-warm-up", daemon=True)
            _warm_thread.start()


def umap_ready() -> bool:
    """True once the warm-up finished (successfully or not): a UMAP call will not pay the cold start."""
    return _warm_done.is_set()


def umap_error() -> str | None:
    """Why the warm-up failed (e.g. umap not installed), or None."""
    return _warm_error


# ----------------------------------------------------------------------------- cache

@dataclass(frozen=True)
class EmbedResult:
    """An embedding with how it was obtained: ``cached`` True means no fit ran; ``seconds`` is the fit time
    (0 for a cache hit), for the page to show."""

    coords: np.ndarray
    cached: bool
    seconds: float
    key: tuple


_cache: LRUCache[np.ndarray] = LRUCache(max_entries=CACHE_SIZE)


def embed_cache_info() -> dict[str, int]:
    """Process-wide counters: hits, misses, current size and capacity of the embedding cache."""
    return _cache.info()


def clear_embed_cache() -> None:
    """Forget every cached embedding and reset the counters."""
    _cache.clear()


# ----------------------------------------------------------------------------- embedding

def _validate(codes: np.ndarray, method: str, n_components: int, n_neighbors: int, min_dist: float,
              metric: str) -> np.ndarray:
    if method not in METHODS:
        raise DataError(f"unknown embedding method {method!r}; choose one of: {', '.join(METHODS)}")
    arr = np.asarray(codes, dtype=np.float64)
    if arr.ndim != 2:
        raise DataError(f"codes must be a 2-D array (points × dimensions), got shape {arr.shape}")
    n, d = arr.shape
    if not np.all(np.isfinite(arr)):
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise DataError(f"codes contain NaN or infinite values in {bad} of {n} rows; the model may have diverged")
    if n < MIN_POINTS:
        raise DataError(f"need at least {MIN_POINTS} points to embed, got {n}")
    if n_components not in (2, 3):
        raise DataError(f"n_components must be 2 or 3, got {n_components}")
    if method == "pca":
        if d < n_components:
            raise DataError(f"PCA to {n_components} dimensions needs codes with at least {n_components} "
                            f"dimensions, got {d}")
        return arr
    if metric not in METRICS:
        raise DataError(f"unknown metric {metric!r}; choose one of: {', '.join(METRICS)}")
    if not 2 <= n_neighbors < n:
        raise DataError(f"n_neighbors must be at least 2 and smaller than the number of points ({n}), "
                        f"got {n_neighbors}")
    if not 0.0 <= min_dist <= 1.0:
        raise DataError(f"min_dist must be between 0 and 1, got {min_dist}")
    return arr


def check_codes(codes: np.ndarray, method: str = "umap", n_components: int = 2, n_neighbors: int = 15,
                min_dist: float = 0.1, metric: str = "euclidean") -> np.ndarray:
    """The checks :func:`embed` makes, without embedding: the codes as float64, or a :class:`DataError` saying in
    one line what is wrong (a job checks first, so it fails before any work)."""
    return _validate(codes, method, n_components, n_neighbors, min_dist, metric)


def _fit(arr: np.ndarray, method: str, n_components: int, n_neighbors: int, min_dist: float, metric: str,
         seed: int, n_epochs: int | None = None) -> np.ndarray:
    if method == "pca":
        from sklearn.decomposition import PCA
        return PCA(n_components=n_components, random_state=seed).fit_transform(arr)
    import umap  # lazy: see the module docstring

    # umap-learn's exact path for small data (n < 4,096) gets all pairwise distances from scikit-learn's
    # pairwise_distances with a numba function called once per pair from Python: 1.6 M calls for the 1,797
    # digits, 80 % of a 5 s fit (profiled). The same exact matrix from scikit-learn's vectorised metric, passed
    # as "precomputed", gives UMAP the same neighbours in ~0.05 s. Larger data keep UMAP's own approximate
    # neighbour search (NN-descent), which is fast and needs no n × n matrix.
    data, used_metric = arr, metric
    if len(arr) < EXACT_NEIGHBOURS_BELOW:
        from sklearn.metrics import pairwise_distances
        data, used_metric = pairwise_distances(arr, metric=metric), "precomputed"
    # n_jobs=1 because a fixed random_state makes UMAP single-threaded anyway (it warns otherwise).
    reducer = umap.UMAP(n_components=n_components, n_neighbors=int(n_neighbors), min_dist=float(min_dist),
                        metric=used_metric, random_state=int(seed), n_jobs=1,
                        n_epochs=UMAP_EPOCHS if n_epochs is None else int(n_epochs))
    with warnings.catch_warnings():  # "precomputed" disables inverse_transform, which is never used here
        warnings.filterwarnings("ignore", message=".*precomputed.*")
        return reducer.fit_transform(data)


def embed_with_info(codes: np.ndarray, method: Literal["umap", "pca"] = "umap", n_components: int = 2,
                    n_neighbors: int = 15, min_dist: float = 0.1, metric: str = "euclidean",
                    seed: int = 0) -> EmbedResult:
    """:func:`embed`, also saying whether the result came from the cache and how long the fit took."""
    arr = _validate(codes, method, n_components, n_neighbors, min_dist, metric)
    params = ((int(n_components), int(seed)) if method == "pca"          # UMAP knobs do not change a PCA view
              else (int(n_components), int(n_neighbors), float(min_dist), metric, int(seed)))
    key = (array_digest(arr), method, params)
    built: list[float] = []   # the seconds of a fit this call ran; empty when another call's (or a cached) result

    def fit() -> np.ndarray:
        start = time.perf_counter()
        coords = np.asarray(_fit(arr, method, n_components, n_neighbors, min_dist, metric, seed), dtype=np.float64)
        built.append(time.perf_counter() - start)
        return coords

    coords = _cache.get_or_build(key, fit).copy()   # the caller may modify its copy; the cache keeps its own
    if not built:
        return EmbedResult(coords, True, 0.0, key)
    seconds = built[0]
    return EmbedResult(coords, False, seconds, key)


def embed(codes: np.ndarray, method: Literal["umap", "pca"] = "umap", n_components: int = 2,
          n_neighbors: int = 15, min_dist: float = 0.1, metric: str = "euclidean", seed: int = 0) -> np.ndarray:
    """A (n, n_components) view of the codes (n, d), cached per (codes, parameters).

    UMAP keeps local neighbourhoods (clusters) but distorts distances and densities; PCA keeps the linear
    geometry. ``n_neighbors`` trades local detail (small) for global structure (large); ``min_dist`` sets how
    tightly points may pack. Same inputs and seed → same output. Bad input raises :class:`DataError`."""
    return embed_with_info(codes, method, n_components, n_neighbors, min_dist, metric, seed).coords
