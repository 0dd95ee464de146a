r"""The Lorenz lab's simulator: integrate Lorenz-63 three ways and watch nearby states separate.

    dx/dt = sigma * (y - x)
    dy/dt = x * (rho - z) - y
    dz/dt = x * y - beta * z          (sigma, rho, beta) = (10, 28, 8/3): the chaotic regime

Why three integrators (`METHODS`):

- ``euler``: x_{n+1} = x_n + dt * f(x_n). First order: the error per unit time is O(dt). On Lorenz it
  also *adds* energy near the two fixed points C± (|1 + dt*lambda| > 1 for their eigenvalues
  0.094 ± 10.19i), so at dt ~ 0.05 or more the orbit spirals outwards and eventually blows up.
  The seed study's "X(t + dt) = X(t) + dt f(X(t)) only works for small dt" is this.
- ``rk4``: classical Runge-Kutta, four slopes per step, error O(dt^4); stable and accurate at dt = 0.01.
- ``solve_ivp``: scipy's adaptive DOP853 (8th order) at rtol = atol = 1e-10, read at the same time
  grid: the reference the two fixed-step methods are compared against.

Even the reference is only "right" for a while: errors of 1e-10 grow like exp(0.9056 t) (the largest
Lyapunov exponent, `LYAPUNOV_REFERENCE`), so any two integrators disagree completely after
t ~ ln(1e10) / 0.9 ~ 25 time units. `separation` shows this growth directly.

A run that blows up (|state| > 1e6 or NaN/inf) is not an error: the trajectory is cut there and
`Trajectory.diverged_at` says when, so a page can *show* Euler failing.

The equations, the integrators and the constants are those of :mod:`genlib.systems.lorenz`; this module adds
the checks a user's request needs (with messages in `DynamicsError`s) and the `Trajectory` the lab shows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genlib.data.base import DataError
from genlib.systems.lorenz import (
    BETA,
    MAX_STEPS,
    RHO,
    SIGMA,
    integrate_fixed_step,
    integrate_reference,
)

__all__ = [
    "DynamicsError",
    "METHODS",
    "Trajectory",
    "separation",
    "simulate",
]

METHODS = ("euler", "rk4", "solve_ivp")


class DynamicsError(DataError):
    """A user-facing problem with a dynamics request (bad parameter, unusable series, diverging model).

    A `DataError` (hence a `ValueError`), so pages and the CLI that already catch DataError show it too.
    """


@dataclass
class Trajectory:
    """States at t = 0, dt, 2 dt, ...; cut at the first diverged state if the integration blew up.

    Arguments:
        t: times, shape (n,).
        states: (x, y, z) at those times, shape (n, 3).
        method: one of `METHODS`.
        dt: the time step (the output grid for ``solve_ivp``).
        diverged_at: time of the first state with |coordinate| > 1e6 or NaN/inf, else None.
    """

    t: np.ndarray
    states: np.ndarray
    method: str
    dt: float
    diverged_at: float | None = None


def _check_params(sigma: float, rho: float, beta: float, dt: float, t_max: float) -> int:
    for name, v in (("sigma", sigma), ("rho", rho), ("beta", beta)):
        if not np.isfinite(v):
            raise DynamicsError(f"{name} must be a finite number, got {v}.")
    if not (np.isfinite(dt) and dt > 0):
        raise DynamicsError(f"The time step dt must be > 0, got {dt}.")
    if not (np.isfinite(t_max) and t_max > 0):
        raise DynamicsError(f"The duration t_max must be > 0, got {t_max}.")
    n_steps = int(round(t_max / dt))
    if n_steps > MAX_STEPS:
        raise DynamicsError(
            f"t_max / dt = {n_steps:,} steps is over the {MAX_STEPS:,} limit; use a larger dt or a shorter t_max."
        )
    return max(n_steps, 1)


def _check_x0(x0: np.ndarray | tuple[float, ...] | list[float], d: int | None = 3) -> np.ndarray:
    x = np.asarray(x0, dtype=np.float64)
    if x.ndim != 1 or (d is not None and x.shape[0] != d):
        want = f"({d},)" if d is not None else "(d,)"
        raise DynamicsError(f"The initial state must have shape {want}, got {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise DynamicsError(f"The initial state must be finite, got {x.tolist()}.")
    return x


def simulate(
    x0: np.ndarray | tuple[float, float, float] | list[float] = (1.0, 1.0, 1.0),
    sigma: float = SIGMA,
    rho: float = RHO,
    beta: float = BETA,
    dt: float = 0.01,
    t_max: float = 40.0,
    method: str = "rk4",
) -> Trajectory:
    """Integrate Lorenz from `x0` on the grid t = 0, dt, ..., round(t_max/dt) dt.

    ``euler`` and ``rk4`` are hand-written fixed-step methods (writing them out is the lesson);
    ``solve_ivp`` is scipy's DOP853 at rtol = atol = 1e-10, evaluated on the same grid (the reference).
    A blow-up cuts the trajectory and sets `diverged_at` instead of raising.

    Raises DynamicsError for dt <= 0, t_max <= 0, more than `MAX_STEPS` steps, an unknown method or a
    non-finite x0.
    """
    if method not in METHODS:
        raise DynamicsError(f"Unknown integration method {method!r}; choose one of {', '.join(METHODS)}.")
    n_steps = _check_params(sigma, rho, beta, dt, t_max)
    x = _check_x0(x0)
    t = np.arange(n_steps + 1) * dt
    if method == "solve_ivp":
        states, diverged = integrate_reference(x, sigma, rho, beta, t)
    else:
        states, diverged = integrate_fixed_step(x, sigma, rho, beta, dt, n_steps, rk4=(method == "rk4"))
    return Trajectory(
        t=t[: len(states)],
        states=states,
        method=method,
        dt=float(dt),
        diverged_at=None if diverged is None else float(t[diverged]),
    )


def separation(a: Trajectory, b: Trajectory) -> np.ndarray:
    """|a(t) - b(t)| (Euclidean) on the times both trajectories cover.

    For two starts 1e-8 apart this grows like 1e-8 * exp(0.9 t) until it saturates at the size of the
    attractor (~ 10-30): a straight line of slope ~0.9 on a log axis, then a plateau.
    """
    n = min(len(a.t), len(b.t))
    if n == 0:
        raise DynamicsError("One of the trajectories is empty.")
    if not np.allclose(a.t[:n], b.t[:n], rtol=1e-9, atol=1e-12):
        raise DynamicsError(
            f"The trajectories use different time grids (dt = {a.dt:g} and {b.dt:g}); simulate both with the same dt."
        )
    return np.linalg.norm(a.states[:n] - b.states[:n], axis=1)
