r"""Trajectories as training rows: (n, T, 3) arrays of (x, y, z) ↔ 32×32 RGB images or flattened windows.

Seed 001 trains a DCGAN on 1,000 Lorenz trajectories sampled at dt = 0.1 ("T = 100 temps de Lorenz"), each
turned into one 32×32 RGB image whose three channels are x, y and z. The seed does not say how the time
steps fill the 32×32 pixels (its series have 1,000 steps, the image 1,024 pixels) nor how values are scaled.
Here each image holds exactly ``STEPS_PER_IMAGE`` = 32² = 1,024 consecutive steps (102.3 time units), laid out
**row-major (raster order)**: time runs left to right along a row, rows run top to bottom, so

    image[c, r, k] = scaled[32·r + k, c],     c = 0, 1, 2 for x, y, z,

i.e. ``traj.reshape(32, 32, 3).transpose(2, 0, 1)``. Each coordinate is min-max scaled to [-1, 1] with one
(low, high) pair per channel for the whole data set (:class:`ChannelScaler`):

    s = 2 (v − low) / (high − low) − 1,      v = low + (s + 1) (high − low) / 2,

so a generated image (whatever its range) decodes back to a trajectory in the system's units. The layout
change is a pure reshape (bit-exact); only the scaling rounds, at float64 precision.

For VAEs and flows, :func:`windows` cuts trajectories into short flattened windows (x0, y0, z0, x1, …).

This is the data's representation, so it lives with the datasets (`lorenz_images`, `lorenz_windows` build their
rows with it); :mod:`genlib.dynamics.trajectories` decodes generated rows with it to check their chaos.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from genlib.data.base import DataError

IMAGE_SIDE = 32
STEPS_PER_IMAGE = IMAGE_SIDE**2  # 1024 time steps per image
COORDS = ("x", "y", "z")


def as_batch(traj: np.ndarray, name: str = "traj") -> np.ndarray:
    """(T, 3) → (1, T, 3); (n, T, 3) unchanged; anything else is a DataError."""
    arr = np.asarray(traj)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise DataError(f"{name} must have shape (n, T, 3) or (T, 3), got {np.shape(traj)}.")
    return arr


# ----------------------------------------------------------------------------- scaling and images

@dataclass
class ChannelScaler:
    """Per-coordinate min-max map of (x, y, z) onto [-1, 1]: s = 2 (v − low) / (high − low) − 1.

    One (low, high) pair per channel, shared by every image and every time step, so relative sizes within a
    trajectory survive and the map is affine (its inverse is exact up to rounding).
    """

    low: np.ndarray
    high: np.ndarray

    def __post_init__(self) -> None:
        self.low = np.asarray(self.low, dtype=np.float64).reshape(3)
        self.high = np.asarray(self.high, dtype=np.float64).reshape(3)

    @classmethod
    def fit(cls, traj: np.ndarray) -> ChannelScaler:
        """Min and max of each coordinate over all trajectories and steps (array of shape (..., 3))."""
        arr = np.asarray(traj, dtype=np.float64)
        if arr.ndim < 1 or arr.shape[-1] != 3 or arr.size == 0:
            raise DataError(f"ChannelScaler.fit needs an array of shape (..., 3), got {arr.shape}.")
        flat = arr.reshape(-1, 3)
        if not np.all(np.isfinite(flat)):
            raise DataError("ChannelScaler.fit got non-finite values.")
        low, high = flat.min(axis=0), flat.max(axis=0)
        # A constant channel would divide by zero: give it a unit-wide span around its value instead.
        flat_ch = high - low <= 1e-12 * np.maximum(1.0, np.abs(high))
        low, high = np.where(flat_ch, low - 0.5, low), np.where(flat_ch, high + 0.5, high)
        return cls(low, high)

    @property
    def span(self) -> np.ndarray:
        return self.high - self.low

    def scale(self, traj: np.ndarray) -> np.ndarray:
        """Data units → [-1, 1] (values outside the fitted range land outside [-1, 1], linearly)."""
        arr = np.asarray(traj)
        return (2.0 * (arr - self.low) / self.span - 1.0).astype(np.result_type(arr.dtype, np.float32))

    def unscale(self, scaled: np.ndarray) -> np.ndarray:
        """[-1, 1] → data units, the exact inverse of :meth:`scale`."""
        arr = np.asarray(scaled)
        return (self.low + (arr + 1.0) * (self.span / 2.0)).astype(np.result_type(arr.dtype, np.float32))

    def state_dict(self) -> dict[str, Any]:
        return {"low": self.low.tolist(), "high": self.high.tolist()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ChannelScaler:
        return cls(np.asarray(state["low"], dtype=np.float64), np.asarray(state["high"], dtype=np.float64))


def to_images(traj: np.ndarray, scaler: ChannelScaler | None = None) -> np.ndarray:
    """Trajectories (n, 1024, 3) → images (n, 3, 32, 32), raster order: image[c, r, k] = traj[32r + k, c].

    With a scaler, values are first mapped to [-1, 1]; without one they stay in data units (the layout alone,
    bit-exact). The dtype follows the input (float32 stays float32, float64 stays float64).
    """
    arr = as_batch(traj)
    if arr.shape[1] != STEPS_PER_IMAGE:
        raise DataError(f"an image holds exactly {STEPS_PER_IMAGE} steps; got trajectories of {arr.shape[1]}.")
    if scaler is not None:
        arr = scaler.scale(arr)
    return np.ascontiguousarray(arr.reshape(len(arr), IMAGE_SIDE, IMAGE_SIDE, 3).transpose(0, 3, 1, 2))


def from_images(images: np.ndarray, scaler: ChannelScaler | None = None) -> np.ndarray:
    """Images (n, 3, 32, 32), or rows of 3072 values flattened in that order → trajectories (n, 1024, 3).

    The inverse of :func:`to_images` (a generated image of any range decodes to a trajectory in data units).
    """
    arr = np.asarray(images)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if arr.ndim == 2 and arr.shape[1] == 3 * STEPS_PER_IMAGE:
        arr = arr.reshape(len(arr), 3, IMAGE_SIDE, IMAGE_SIDE)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.shape[1:] != (3, IMAGE_SIDE, IMAGE_SIDE):
        raise DataError(f"images must have shape (n, 3, {IMAGE_SIDE}, {IMAGE_SIDE}) or (n, "
                        f"{3 * STEPS_PER_IMAGE}), got {np.shape(images)}.")
    traj = np.ascontiguousarray(arr.transpose(0, 2, 3, 1).reshape(len(arr), STEPS_PER_IMAGE, 3))
    return traj if scaler is None else scaler.unscale(traj)


# ----------------------------------------------------------------------------- windows for VAEs and flows

def windows(traj: np.ndarray, length: int, stride: int = 1) -> np.ndarray:
    """Sliding windows of ``length`` steps every ``stride`` steps, flattened: shape (m, length·3).

    Row order: trajectory by trajectory, then by start time; within a row the states follow each other,
    (x0, y0, z0, x1, y1, z1, …). Windows never straddle two trajectories. m = n·(⌊(T − length)/stride⌋ + 1).
    """
    arr = as_batch(traj)
    length, stride = int(length), int(stride)
    if length < 1 or stride < 1:
        raise DataError(f"window length and stride must be at least 1 (got {length}, {stride}).")
    if length > arr.shape[1]:
        raise DataError(f"window length {length} is longer than the trajectories ({arr.shape[1]} steps).")
    view = np.lib.stride_tricks.sliding_window_view(arr, length, axis=1)[:, ::stride]  # (n, w, 3, length)
    return np.ascontiguousarray(view.transpose(0, 1, 3, 2)).reshape(-1, length * 3)


def unwindow(flat: np.ndarray, length: int) -> np.ndarray:
    """Flattened windows (m, length·3) → (m, length, 3), the inverse of the flattening in :func:`windows`."""
    arr = np.asarray(flat)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 3 * int(length):
        raise DataError(f"windows of length {length} need {3 * int(length)} columns, got shape {np.shape(flat)}.")
    return arr.reshape(len(arr), int(length), 3)
