"""Input checks shared by every metric: one place decides what a valid sample is.

Why public: the GenHack metrics, the distances, the two-sample tests, the likelihood and the suite's cached
Reference all take "an (n, d) sample" and must reject the same bad inputs with the same message, so they
call these two functions instead of each keeping its own copy.
"""
from __future__ import annotations

import numpy as np

from genlib.data.base import DataError

__all__ = ["as_2d", "as_pair"]


def as_2d(x: np.ndarray, name: str) -> np.ndarray:
    """``x`` as a float64 (n, d) array (a 1-D array is one column); DataError when it is not 2-D, is empty or
    holds NaN/inf. ``name`` ("real", "fake", "train"...) names the argument in the message."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise DataError(f"{name} must be a 1-D or 2-D array, got shape {arr.shape}.")
    if arr.shape[0] == 0:
        raise DataError(f"{name} is empty.")
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{name} contains NaN or infinite values.")
    return arr


def as_pair(real: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both samples through ``as_2d``; DataError when their widths differ."""
    r, f = as_2d(real, "real"), as_2d(fake, "fake")
    if r.shape[1] != f.shape[1]:
        raise DataError(f"real has {r.shape[1]} columns but fake has {f.shape[1]}.")
    return r, f
