"""Walks through latent space: interpolation, one-coordinate traversals and, for a conditional VAE, one code
decoded under every class label.

Only codes are computed here (plus the label each row must be decoded with); :func:`genlib.latent.codes.decode`
turns them into rows, so the same path can be decoded by any encoder. A :class:`LatentPath` carries a short
caption per row for image strips.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from ..data.base import DataError

__all__ = ["LatentPath", "interpolate", "traverse", "class_rows", "class_means"]


@dataclass(frozen=True)
class LatentPath:
    """Codes to decode, in order. ``labels`` is None, or one class label per row (conditional models)."""

    z: np.ndarray                    # (steps, latent_dim)
    labels: np.ndarray | None
    captions: list[str]

    def __len__(self) -> int:
        return len(self.z)


def _vector(z: np.ndarray, what: str) -> np.ndarray:
    v = np.asarray(z, dtype=np.float64).reshape(-1)
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise DataError(f"{what} must be a non-empty vector of finite numbers")
    return v


def _labels(label: int | None, n: int) -> np.ndarray | None:
    return None if label is None else np.full(n, int(label), dtype=np.int64)


def interpolate(z_a: np.ndarray, z_b: np.ndarray, steps: int = 8, mode: Literal["linear", "slerp"] = "linear",
                label: int | None = None) -> LatentPath:
    """``steps`` codes from z_a to z_b (both included, exactly).

    ``linear``: (1 − t) z_a + t z_b. ``slerp`` (spherical): follows the arc between the two directions,
    sin((1 − t)Ω)/sin Ω · z_a + sin(tΩ)/sin Ω · z_b with Ω the angle between them. Under a N(0, I) prior,
    codes concentrate near a shell of radius √d; a straight line between two of them dips towards the centre,
    where few codes live, and the arc does not (White 2016, "Sampling generative networks"). When the angle is
    ~0 or ~π the arc is undefined and the linear path is used."""
    a, b = _vector(z_a, "z_a"), _vector(z_b, "z_b")
    if a.shape != b.shape:
        raise DataError(f"z_a and z_b must have the same size, got {a.size} and {b.size}")
    if steps < 2:
        raise DataError(f"steps must be at least 2 (the two end points), got {steps}")
    if mode not in ("linear", "slerp"):
        raise DataError(f"mode must be linear or slerp, got {mode!r}")
    t = np.linspace(0.0, 1.0, int(steps))[:, None]
    w_a, w_b = 1.0 - t, t
    if mode == "slerp":
        norm = np.linalg.norm(a) * np.linalg.norm(b)
        omega = np.arccos(np.clip(a @ b / norm, -1.0, 1.0)) if norm > 0 else 0.0
        if 1e-6 < omega < np.pi - 1e-6:
            w_a, w_b = np.sin((1.0 - t) * omega) / np.sin(omega), np.sin(t * omega) / np.sin(omega)
    z = w_a * a + w_b * b
    return LatentPath(z, _labels(label, len(z)), [f"t={v:.2f}" for v in t[:, 0]])


def traverse(z: np.ndarray, dim: int, values: Sequence[float] | np.ndarray,
             label: int | None = None) -> LatentPath:
    """Copies of z with coordinate ``dim`` set to each of ``values`` (the rest fixed): what that single
    latent direction controls. For a VAE, values in [−3, 3] span the N(0, 1) prior of that coordinate."""
    base = _vector(z, "z")
    if not 0 <= dim < base.size:
        raise DataError(f"dim must be between 0 and {base.size - 1}, got {dim}")
    vals = np.asarray(values, dtype=np.float64).reshape(-1)
    if vals.size == 0 or not np.all(np.isfinite(vals)):
        raise DataError("values must be a non-empty list of finite numbers")
    rows = np.repeat(base[None, :], vals.size, axis=0)
    rows[:, dim] = vals
    return LatentPath(rows, _labels(label, len(rows)), [f"z{dim}={v:+.2f}" for v in vals])


def class_rows(z: np.ndarray, n_classes: int) -> LatentPath:
    """The same code once per class label 0..n_classes−1: decoded by a conditional VAE, this separates
    "what" (the label) from "how" (the code: slant, thickness…)."""
    base = _vector(z, "z")
    if n_classes < 1:
        raise DataError(f"n_classes must be at least 1, got {n_classes}")
    return LatentPath(np.repeat(base[None, :], n_classes, axis=0), np.arange(n_classes, dtype=np.int64),
                      [f"class {k}" for k in range(n_classes)])


def class_means(codes: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(classes, mean code per class): handy end points for an interpolation from one class to another, and
    the ingredients of latent arithmetic (mean(class b) − mean(class a) as a direction)."""
    arr = np.asarray(codes, dtype=np.float64)
    lab = np.asarray(labels).reshape(-1)
    if arr.ndim != 2 or len(arr) != lab.size:
        raise DataError(f"need codes (n, d) and n labels, got shapes {arr.shape} and {lab.shape}")
    classes = np.unique(lab)
    return classes, np.stack([arr[lab == c].mean(axis=0) for c in classes])
