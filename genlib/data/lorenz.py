r"""`lorenz`: states (x, y, z) sampled along trajectories of the Lorenz-63 system; `lorenz_series`: the same
trajectories kept whole and in time order (for sequence models); and `lorenz_trajectories`.

A 3-D density concentrated on a strange attractor: thin, curved and two-lobed, a hard target for a
generative model. The system and its batch integrator (DOP853, rtol = atol = 1e-9, read off every `dt`) are
those of :mod:`genlib.systems.lorenz`.
Each of `n_traj` trajectories starts from a random state, runs `burn_in + T` time units, and the first
`burn_in` units are discarded so the kept states lie on the attractor. All kept states are pooled,
shuffled with the seeded generator, and split 80/20 into train/test.

:func:`lorenz_trajectories` is the same simulation kept whole and memoised: the `lorenz_images` and
`lorenz_windows` datasets are cut from it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genlib.cache import LRUCache
from genlib.data.base import DataError, Dataset
from genlib.params import param
from genlib.data.csv_loader import split_rows
from genlib.systems.lorenz import BETA, MAX_STATES, RHO, SIGMA, LorenzError, random_initial_states, simulate_lorenz

TEST_FRACTION = 0.2
#: Time units `lorenz_trajectories` drops by default before keeping states (the trajectory datasets use it).
TRAJECTORY_BURN_IN = 10.0

@dataclass
class LorenzSystemParams:
    """The system's parameters, declared once for every Lorenz dataset (and the Lorenz lab's widgets)."""

    sigma: float = param(SIGMA, "Prandtl number σ", range=(0.1, 100.0), label="σ")
    rho: float = param(RHO, "Rayleigh number ρ: chaotic at 28, a fixed point below ~24.7", range=(0.1, 200.0),
                       label="ρ")
    beta: float = param(BETA, "geometric factor β", range=(0.01, 20.0), label="β")


@dataclass
class LorenzParams(LorenzSystemParams):
    dt: float = param(0.01, "time between saved states", range=(1e-4, 0.5), label="time step dt")
    T: float = param(50.0, "time kept per trajectory (after burn-in)", range=(1.0, 1000.0),
                     label="time per trajectory T")
    n_traj: int = param(4, "number of trajectories from random initial states", range=(1, 100), label="trajectories")
    burn_in: float = param(5.0, "time discarded at the start so states lie on the attractor", range=(0.0, 100.0),
                           label="burn-in time")
    seed: int = param(0, "random seed of the initial states and of the train/test split", range=(0, 2**32 - 1),
                      label="random seed")


def _simulate(x0: np.ndarray, sigma: float, rho: float, beta: float, dt: float, n_burn: int, n_keep: int
              ) -> np.ndarray:
    """k trajectories (k, n_keep, 3) from x0 (k, 3), the first n_burn steps dropped; a failure is a DataError."""
    try:
        traj = simulate_lorenz(x0, sigma, rho, beta, dt, (n_burn + n_keep - 1) * dt)
    except LorenzError as exc:
        raise DataError(str(exc)) from None
    return traj[:, n_burn:, :]


def load_lorenz(
    sigma: float = SIGMA,
    rho: float = RHO,
    beta: float = BETA,
    dt: float = 0.01,
    T: float = 50.0,
    n_traj: int = 4,
    burn_in: float = 5.0,
    seed: int = 0,
) -> Dataset:
    """Pooled states of n_traj Lorenz trajectories (burn-in removed), shuffled into an 80/20 split."""
    n_keep = int(round(T / dt)) + 1
    n_burn = int(round(burn_in / dt))
    if n_traj * n_keep > MAX_STATES:
        raise DataError(
            f"lorenz would produce {n_traj * n_keep:,} states, over the {MAX_STATES:,} limit; "
            "use a larger dt, a shorter T or fewer trajectories."
        )
    rng = np.random.default_rng(seed)
    x0 = random_initial_states(int(n_traj), rng)
    states = _simulate(x0, sigma, rho, beta, dt, n_burn, n_keep).reshape(-1, 3)
    train, test, _, _ = split_rows(states, rng, TEST_FRACTION)
    return Dataset(
        name="lorenz",
        description=(
            f"States of {n_traj} Lorenz-63 trajectories (σ={sigma:g}, ρ={rho:g}, β={beta:.4g}), "
            f"{T:g} time units each sampled every {dt:g} after a {burn_in:g}-unit burn-in."
        ),
        columns=["x", "y", "z"],
        train=train,
        test=test,
        params={
            "sigma": float(sigma), "rho": float(rho), "beta": float(beta), "dt": float(dt),
            "T": float(T), "n_traj": int(n_traj), "burn_in": float(burn_in), "seed": int(seed),
        },
    )


# The integrator costs ~2 s whatever n_traj: keep recent results (read-only) in memory, 64 MB at most.
_CACHE: LRUCache[np.ndarray] = LRUCache(max_entries=64, max_bytes=64 * 2**20)


def lorenz_trajectories(
    n_traj: int,
    n_steps: int,
    dt: float = 0.1,
    seed: int = 0,
    sigma: float = SIGMA,
    rho: float = RHO,
    beta: float = BETA,
    burn_in: float = TRAJECTORY_BURN_IN,
) -> np.ndarray:
    """``n_traj`` Lorenz trajectories of ``n_steps`` states every ``dt``, shape (n_traj, n_steps, 3).

    Starts are random (``random_initial_states`` with ``default_rng(seed)``) and the first ``burn_in`` time units
    are dropped so every kept state lies on the attractor. All trajectories are integrated as one stacked
    3·n_traj-dimensional system by :func:`genlib.systems.lorenz.simulate_lorenz` (DOP853, rtol = atol = 1e-9):
    the solver's per-step overhead dominates, so 1,000 trajectories cost about what one does (~2-4 s for 1,024
    steps at dt = 0.1). Results are memoised (same arguments → same array, copied), since datasets are rebuilt
    often.
    """
    n_traj, n_steps = int(n_traj), int(n_steps)
    if n_traj < 1 or n_steps < 1:
        raise DataError(f"n_traj and n_steps must be at least 1 (got {n_traj}, {n_steps}).")
    if not (np.isfinite(dt) and dt > 0) or not (np.isfinite(burn_in) and burn_in >= 0):
        raise DataError(f"dt must be > 0 and burn_in >= 0 (got dt={dt}, burn_in={burn_in}).")
    n_burn = int(round(burn_in / dt))
    if n_traj * (n_burn + n_steps) > MAX_STATES:
        raise DataError(
            f"{n_traj} trajectories × {n_burn + n_steps} steps is over the {MAX_STATES:,}-state limit; "
            "use fewer trajectories, fewer steps or a larger dt."
        )
    key = (n_traj, n_steps, float(dt), int(seed), float(sigma), float(rho), float(beta), n_burn)

    def simulate() -> np.ndarray:
        x0 = random_initial_states(n_traj, np.random.default_rng(int(seed)))
        traj = np.ascontiguousarray(_simulate(x0, sigma, rho, beta, dt, n_burn, n_steps))
        traj.setflags(write=False)
        return traj

    return _CACHE.get_or_build(key, simulate).copy()


@dataclass
class SeriesParams(LorenzSystemParams):
    dt: float = param(0.01, "time between saved states: the step the sequence model learns", range=(1e-3, 0.5),
                      label="time step dt")
    T: float = param(100.0, "time kept per trajectory (after burn-in)", range=(1.0, 2000.0),
                     label="time per trajectory T")
    n_traj: int = param(4, "training trajectories, each from its own random start", range=(1, 64),
                        label="training trajectories")
    n_test: int = param(1, "held-out trajectories (the test split)", range=(1, 64), label="test trajectories")
    seed: int = param(0, "random seed of the initial states", range=(0, 2**32 - 1), label="random seed")


def load_lorenz_series(sigma: float = SIGMA, rho: float = RHO, beta: float = BETA, dt: float = 0.01,
                       T: float = 100.0, n_traj: int = 4, n_test: int = 1, seed: int = 0) -> Dataset:
    """``n_traj`` + ``n_test`` whole Lorenz trajectories (after :data:`TRAJECTORY_BURN_IN`), rows in time order:
    the first ``n_traj`` are the train split, the rest the test split, with ``trajectory_train/test`` saying
    which trajectory each row is on. Not shuffled: a sequence model learns the step from one row to the next."""
    n_steps = int(round(T / dt)) + 1
    traj = lorenz_trajectories(int(n_traj) + int(n_test), n_steps, dt=dt, seed=seed, sigma=sigma, rho=rho, beta=beta)
    ids = np.repeat(np.arange(len(traj)), n_steps)
    rows = traj.reshape(-1, 3)
    cut = int(n_traj) * n_steps
    return Dataset(
        name="lorenz_series",
        description=(f"{n_traj} + {n_test} whole Lorenz-63 trajectories (σ={sigma:g}, ρ={rho:g}, β={beta:.4g}), "
                     f"{T:g} time units each every dt = {dt:g}, in time order: train and test are different "
                     "trajectories."),
        columns=["x", "y", "z"],
        train=rows[:cut].copy(),
        test=rows[cut:].copy(),
        params={"sigma": float(sigma), "rho": float(rho), "beta": float(beta), "dt": float(dt), "T": float(T),
                "n_traj": int(n_traj), "n_test": int(n_test), "seed": int(seed)},
        trajectory_train=ids[:cut].copy(),
        trajectory_test=ids[cut:] - int(n_traj),
    )
