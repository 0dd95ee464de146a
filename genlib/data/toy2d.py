"""`toy2d`: classic 2-D toy densities for watching a generative model learn a shape you can see.

All shapes are scaled to lie roughly within [-4, 4] (the conventions of the FFJORD / flow-matching toy
data), and `noise` is the standard deviation of isotropic Gaussian jitter in those output units:

    moons        two interleaved half circles (sklearn make_moons) × 2, shifted by (-1, -0.2)
    circles      two concentric circles, radii 3 and 1.5 (sklearn make_circles, factor 0.5) × 3
    8gaussians   8 blobs on a circle of radius 2√2; each blob has std 0.1 + noise, so noise=0 still has blobs
    swissroll    the (x, z) plane of sklearn's 3-D swiss roll, divided by 5
    checkerboard uniform over the 8 black squares of a 4×4 board covering [-4, 4]²
    ring         a single circle of radius 2.5
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn import datasets as skd

from genlib.data.base import DataError, Dataset
from genlib.params import param
from genlib.data.csv_loader import split_rows

SHAPES: tuple[str, ...] = ("moons", "circles", "8gaussians", "swissroll", "checkerboard", "ring")
TEST_FRACTION = 0.2

@dataclass
class Toy2DParams:
    shape: str = param("moons", "which 2-D density", choices=SHAPES, label="density shape")
    n: int = param(2000, "number of points (train + test)", range=(10, 100_000), label="points")
    noise: float = param(0.05, "std of Gaussian jitter, in output units", range=(0.0, 1.0),
                         label="noise (std, data units)")
    seed: int = param(0, "random seed of the sampler and of the train/test split", range=(0, 2**32 - 1),
                      label="random seed")


def _sk_seed(rng: np.random.Generator) -> int:
    """sklearn wants an int seed; derive it from our generator so one seed controls everything."""
    return int(rng.integers(0, 2**31 - 1))


def sample_toy2d(shape: str, n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Draw n points of `shape` (one of SHAPES) as an (n, 2) float64 array."""
    if shape == "moons":
        x, _ = skd.make_moons(n, noise=noise / 2, random_state=_sk_seed(rng))
        return x * 2 + np.array([-1.0, -0.2])
    if shape == "circles":
        x, _ = skd.make_circles(n, factor=0.5, noise=noise / 3, random_state=_sk_seed(rng))
        return x * 3
    if shape == "swissroll":
        x, _ = skd.make_swiss_roll(n, noise=noise * 5, random_state=_sk_seed(rng))
        return x[:, [0, 2]] / 5
    if shape == "8gaussians":
        angles = rng.integers(0, 8, size=n) * (np.pi / 4)
        centers = 2 * np.sqrt(2) * np.column_stack([np.cos(angles), np.sin(angles)])
        return centers + (0.1 + noise) * rng.standard_normal((n, 2))
    if shape == "checkerboard":
        x1 = rng.uniform(-2, 2, n)
        x2 = rng.uniform(0, 1, n) - 2 * rng.integers(0, 2, n) + np.floor(x1) % 2
        return 2 * np.column_stack([x1, x2]) + noise * rng.standard_normal((n, 2))
    if shape == "ring":
        angles = rng.uniform(0, 2 * np.pi, n)
        return 2.5 * np.column_stack([np.cos(angles), np.sin(angles)]) + noise * rng.standard_normal((n, 2))
    raise DataError(f"Unknown toy2d shape '{shape}'; choose one of: {', '.join(SHAPES)}.")


def load_toy2d(shape: str = "moons", n: int = 2000, noise: float = 0.05, seed: int = 0) -> Dataset:
    """A 2-D toy density with an 80/20 train/test split; columns x, y."""
    rng = np.random.default_rng(seed)
    x = sample_toy2d(shape, int(n), float(noise), rng).astype(np.float64)
    train, test, _, _ = split_rows(x, rng, TEST_FRACTION)
    return Dataset(
        name="toy2d",
        description=f"2-D toy density '{shape}': {n} points, jitter std {noise}.",
        columns=["x", "y"],
        train=train,
        test=test,
        params={"shape": shape, "n": int(n), "noise": float(noise), "seed": int(seed)},
    )
