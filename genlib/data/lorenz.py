r"""`lorenz`: states (x, y, z) sampled along trajectories of the Lorenz-63 system.

A 3-D density concentrated on a strange attractor: thin, curved and two-lobed, a hard target for a
generative model. The system is

    dx/dt = sigma * (y - x)
    dy/dt = x * (rho - z) - y
    dz/dt = x * y - beta * z

integrated with scipy's `solve_ivp` (DOP853, rtol = atol = 1e-9) and read off every `dt`.
Each of `n_traj` trajectories starts from a random state, runs `burn_in + T` time units, and the first
`burn_in` units are discarded so the kept states lie on the attractor. All kept states are pooled,
shuffled with the seeded generator, and split 80/20 into train/test.

`lorenz_rhs` and `simulate_lorenz` are public so the Lorenz lab can reuse exactly this integrator.
"""
from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from genlib.data.base import DataError, Dataset, ParamSpec
from genlib.data.csv_loader import split_rows

TEST_FRACTION = 0.2
MAX_STATES = 2_000_000  # n_traj * T / dt above this would eat the machine's memory and minutes of CPU
RTOL = ATOL = 1e-9

PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("sigma", 10.0, "Prandtl number σ", (0.1, 100.0)),
    ParamSpec("rho", 28.0, "Rayleigh number ρ (chaotic near 28)", (0.1, 200.0)),
    ParamSpec("beta", 8.0 / 3.0, "geometric factor β", (0.01, 20.0)),
    ParamSpec("dt", 0.01, "time between saved states", (1e-4, 0.5)),
    ParamSpec("T", 50.0, "time kept per trajectory (after burn-in)", (1.0, 1000.0)),
    ParamSpec("n_traj", 4, "number of trajectories from random initial states", (1, 100)),
    ParamSpec("burn_in", 5.0, "time discarded at the start so states lie on the attractor", (0.0, 100.0)),
    ParamSpec("seed", 0, "random seed of the initial states and of the train/test split", (0, 2**32 - 1)),
)


def lorenz_rhs(t: float, state: np.ndarray, sigma: float, rho: float, beta: float) -> np.ndarray:
    """Time derivative of the Lorenz system.

    `state` is (x, y, z), or k states stacked flat as (x1, y1, z1, x2, ...) so one solver call can
    advance many trajectories at once; the result has the same shape as `state`.
    """
    s = np.asarray(state, dtype=np.float64).reshape(-1, 3)
    x, y, z = s[:, 0], s[:, 1], s[:, 2]
    d = np.empty_like(s)
    d[:, 0] = sigma * (y - x)
    d[:, 1] = x * (rho - z) - y
    d[:, 2] = x * y - beta * z
    return d.reshape(np.shape(state))


def simulate_lorenz(
    x0: np.ndarray | list[float],
    sigma: float = 10.0,
    rho: float = 28.0,
    beta: float = 8.0 / 3.0,
    dt: float = 0.01,
    T: float = 50.0,
) -> np.ndarray:
    """Integrate from `x0` and return the states at t = 0, dt, ..., n_steps*dt with n_steps = round(T/dt).

    x0 of shape (3,) gives an array (n_steps + 1, 3); x0 of shape (k, 3) integrates k trajectories in
    one call and gives (k, n_steps + 1, 3). Raises DataError if the solver fails (e.g. absurd parameters).
    """
    x0 = np.asarray(x0, dtype=np.float64)
    if x0.shape[-1] != 3 or x0.ndim not in (1, 2):
        raise DataError(f"x0 must have shape (3,) or (k, 3), got {x0.shape}.")
    n_steps = int(round(T / dt))
    t_eval = np.arange(n_steps + 1) * dt
    sol = solve_ivp(
        lorenz_rhs,
        (0.0, float(t_eval[-1])),
        x0.ravel(),
        method="DOP853",
        t_eval=t_eval,
        args=(sigma, rho, beta),
        rtol=RTOL,
        atol=ATOL,
    )
    if not sol.success or sol.y.shape[1] != n_steps + 1:
        raise DataError(f"The Lorenz integration failed: {sol.message}")
    states = sol.y.T.reshape(n_steps + 1, -1, 3)  # (time, trajectory, xyz)
    return states[:, 0, :] if x0.ndim == 1 else states.transpose(1, 0, 2)


def random_initial_states(n: int, rng: np.random.Generator) -> np.ndarray:
    """n starting points in a box around the attractor (x, y in ±15, z in 5..40), so burn-in is short."""
    low, high = np.array([-15.0, -15.0, 5.0]), np.array([15.0, 15.0, 40.0])
    return rng.uniform(low, high, size=(n, 3))


def load_lorenz(
    sigma: float = 10.0,
    rho: float = 28.0,
    beta: float = 8.0 / 3.0,
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
    traj = simulate_lorenz(x0, sigma, rho, beta, dt, (n_burn + n_keep - 1) * dt)
    states = traj[:, n_burn:, :].reshape(-1, 3)
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
