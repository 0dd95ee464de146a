r"""`lorenz_images` and `lorenz_windows`: whole Lorenz trajectories as training rows (seed 001's GAN data).

`lorenz_images`: each of `n_traj` trajectories (random start, 10 time units of burn-in dropped) keeps 1,024 steps
at `dt` (102.3 time units at dt = 0.1, like the seed's "T = 100") and becomes one 32×32 image with channels
x, y, z, laid out in raster order (image[c, r, k] = state at step 32·r + k, coordinate c) and min-max scaled
to [-1, 1] per channel; see :mod:`genlib.data.trajectory_codec`. A row is that image flattened in (C, H, W)
order: 3,072 columns x0…x1023, y0…y1023, z0…z1023 (column "x37" is x at step 37), so `image_shape` is
(3, 32, 32) and the `dcgan` model trains on it as it is.

The scaler is fitted on all trajectories of the data set (train and test), a fixed property of the data's
representation like the 0..16 grey levels of `digits`, so every row lies in [-1, 1]. `Dataset` has no slot for
it (and `params` must hold exactly the generator parameters), so :func:`lorenz_images_scaler` recomputes it from
`dataset.params` (or a run's stored `dataset_params`): the simulation is deterministic and memoised, so this is
exact and usually instant, and it also works for a model reloaded from the run store.

`lorenz_windows`: the same kind of trajectories cut into windows of `length` steps every `stride` steps, one row
per window flattened as (x0, y0, z0, x1, …), in data units: small vectors for VAEs and flows, which then
generate short pieces of trajectory.

Both split 80/20 *by trajectory*, so no test row shares a trajectory (or overlapping window) with a training row.
"""
from __future__ import annotations

from typing import Any

from dataclasses import dataclass

import numpy as np

from genlib.data.base import DataError, Dataset
from genlib.params import make_config, param
from genlib.sources import cite
from genlib.data.csv_loader import split_rows
from genlib.data.lorenz import TRAJECTORY_BURN_IN, LorenzSystemParams, lorenz_trajectories
from genlib.data.trajectory_codec import COORDS, IMAGE_SIDE, STEPS_PER_IMAGE, ChannelScaler, to_images, windows
from genlib.systems.lorenz import BETA, RHO, SIGMA

TEST_FRACTION = 0.2
IMAGE_SHAPE = (3, IMAGE_SIDE, IMAGE_SIDE)
IMAGE_COLUMNS = [f"{c}{t}" for c in COORDS for t in range(STEPS_PER_IMAGE)]
MAX_WINDOW_VALUES = 20_000_000  # rows × columns; 160 MB of float64

@dataclass
class _SystemParams(LorenzSystemParams):
    """The sampling settings both trajectory datasets share, after the system's own (declared once)."""

    dt: float = param(0.1, f"time between steps ({cite('lorenz_study')}: 0.1, ten times the usual "
                           f"0.01)", range=(0.01, 0.5),
                      group="system", label="time step dt")
    seed: int = param(0, "random seed of the initial states and of the train/test split", range=(0, 2**32 - 1),
                      group="system", label="random seed")


@dataclass
class ImageParams(_SystemParams):
    n_traj: int = param(256, f"number of trajectories = images ({cite('lorenz_study')}: 1,000)", range=(16, 2000),
                        label="trajectories (one image each)")


@dataclass
class WindowParams(_SystemParams):
    n_traj: int = param(64, "number of trajectories the windows are cut from", range=(4, 2000), label="trajectories")
    n_steps: int = param(1024, "steps kept per trajectory", range=(32, 20000), label="steps per trajectory")
    length: int = param(16, "steps per window (a row has 3 × length values)", range=(2, 256),
                        label="window length (steps)")
    stride: int = param(8, "steps between the starts of successive windows", range=(1, 256),
                        label="stride between windows (steps)")


def _split_trajectories(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train/test trajectory indices; the split has its own stream, independent of the initial states."""
    idx = np.arange(n)
    train, test, _, _ = split_rows(idx, np.random.default_rng((int(seed), 1)), TEST_FRACTION)
    return np.sort(train), np.sort(test)


def _system_text(n_traj: int, dt: float, sigma: float, rho: float, beta: float) -> str:
    return f"{n_traj} Lorenz-63 trajectories (σ={sigma:g}, ρ={rho:g}, β={beta:.4g}) sampled every {dt:g}"


def _image_trajectories(n_traj: int, dt: float, sigma: float, rho: float, beta: float, seed: int) -> np.ndarray:
    return lorenz_trajectories(n_traj, STEPS_PER_IMAGE, dt, seed, sigma, rho, beta, TRAJECTORY_BURN_IN)


def load_lorenz_images(n_traj: int = 256, dt: float = 0.1, sigma: float = SIGMA, rho: float = RHO,
                       beta: float = BETA, seed: int = 0) -> Dataset:
    """One flattened (3, 32, 32) image in [-1, 1] per trajectory; 80/20 split by trajectory."""
    traj = _image_trajectories(n_traj, dt, sigma, rho, beta, seed)
    scaler = ChannelScaler.fit(traj)
    rows = to_images(traj, scaler).reshape(len(traj), -1).astype(np.float64)
    tr, te = _split_trajectories(len(traj), seed)
    return Dataset(
        name="lorenz_images",
        description=(
            f"{_system_text(n_traj, dt, sigma, rho, beta)}, each 1,024 steps ({(STEPS_PER_IMAGE - 1) * dt:g} time "
            "units) drawn as a 32×32 RGB image: channels x, y, z scaled to [-1, 1], time in raster order."
        ),
        columns=list(IMAGE_COLUMNS),
        train=np.ascontiguousarray(rows[tr]),
        test=np.ascontiguousarray(rows[te]),
        image_shape=IMAGE_SHAPE,
        params={"n_traj": int(n_traj), "dt": float(dt), "sigma": float(sigma), "rho": float(rho),
                "beta": float(beta), "seed": int(seed)},
    )


def lorenz_images_scaler(dataset: Dataset | dict[str, Any]) -> ChannelScaler:
    """The scaler that maps a `lorenz_images` row back to a trajectory: ``from_images(rows, scaler)``.

    Accepts the Dataset or its ``params`` dict (e.g. a stored run's ``dataset_params``); recomputed from the same
    deterministic simulation, so it is exactly the scaler used to build the rows.
    """
    if isinstance(dataset, Dataset) and dataset.name != "lorenz_images":
        raise DataError(f"lorenz_images_scaler needs the lorenz_images dataset, got '{dataset.name}'.")
    given = dataset.params if isinstance(dataset, Dataset) else dict(dataset)
    p = make_config(ImageParams, {k: v for k, v in given.items() if k in ImageParams.__dataclass_fields__},
                    where="lorenz_images: ", error=DataError)
    return ChannelScaler.fit(_image_trajectories(p.n_traj, p.dt, p.sigma, p.rho, p.beta, p.seed))


def window_columns(length: int) -> list[str]:
    """x0, y0, z0, x1, y1, z1, …: the flattening order of :func:`genlib.data.trajectory_codec.windows`."""
    return [f"{c}{t}" for t in range(int(length)) for c in COORDS]


def load_lorenz_windows(n_traj: int = 64, n_steps: int = 1024, length: int = 16, stride: int = 8, dt: float = 0.1,
                        sigma: float = SIGMA, rho: float = RHO, beta: float = BETA, seed: int = 0) -> Dataset:
    """Flattened windows of `length` steps (3·length columns, data units); split 80/20 by trajectory, rows shuffled."""
    if length > n_steps:
        raise DataError(f"window length ({length}) must not exceed the steps per trajectory ({n_steps}).")
    n_rows = n_traj * ((n_steps - length) // stride + 1)
    if n_rows * 3 * length > MAX_WINDOW_VALUES:
        raise DataError(f"lorenz_windows would hold {n_rows:,} windows × {3 * length} values, over the "
                        f"{MAX_WINDOW_VALUES:,}-value limit; use fewer trajectories or steps, or a larger stride.")
    traj = lorenz_trajectories(n_traj, n_steps, dt, seed, sigma, rho, beta, TRAJECTORY_BURN_IN)
    tr, te = _split_trajectories(n_traj, seed)
    rng = np.random.default_rng((int(seed), 2))
    train, test = windows(traj[tr], length, stride), windows(traj[te], length, stride)
    return Dataset(
        name="lorenz_windows",
        description=(
            f"Windows of {length} steps ({(length - 1) * dt:g} time units) every {stride} steps along "
            f"{_system_text(n_traj, dt, sigma, rho, beta)}; a row is (x0, y0, z0, x1, …) in the system's units."
        ),
        columns=window_columns(length),
        train=np.ascontiguousarray(train[rng.permutation(len(train))]),
        test=np.ascontiguousarray(test[rng.permutation(len(test))]),
        params={"n_traj": int(n_traj), "n_steps": int(n_steps), "length": int(length), "stride": int(stride),
                "dt": float(dt), "sigma": float(sigma), "rho": float(rho), "beta": float(beta), "seed": int(seed)},
    )
