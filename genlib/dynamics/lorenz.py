r"""Lorenz-63 as a dynamical system: integrate it three ways and watch nearby states separate.

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
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.integrate import solve_ivp

from genlib.data.base import DataError
from genlib.data.lorenz import random_initial_states

__all__ = [
    "BETA",
    "DIVERGENCE_LIMIT",
    "DynamicsError",
    "LYAPUNOV_REFERENCE",
    "MAX_STEPS",
    "METHODS",
    "RHO",
    "SIGMA",
    "Trajectory",
    "lorenz_derivative",
    "on_attractor",
    "separation",
    "simulate",
    "step_euler",
    "step_rk4",
]

SIGMA = 10.0
RHO = 28.0
BETA = 8.0 / 3.0
#: Largest Lyapunov exponent of Lorenz-63 at (10, 28, 8/3), per unit time (Sprott; the seed's value).
#: nolds' "2.40" for Lorenz is a Lyapunov *dimension*, not this exponent.
LYAPUNOV_REFERENCE = 0.9056
METHODS = ("euler", "rk4", "solve_ivp")
#: Steps per simulation at most (t_max / dt); more would take minutes and hundreds of MB.
MAX_STEPS = 2_000_000
#: A state with a coordinate beyond this (or NaN/inf) counts as diverged; the attractor stays within ~50.
DIVERGENCE_LIMIT = 1e6
#: Tolerances of the reference integrator (DOP853).
REFERENCE_TOL = 1e-10


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


def lorenz_derivative(
    states: np.ndarray, sigma: float = SIGMA, rho: float = RHO, beta: float = BETA
) -> np.ndarray:
    """f(x, y, z) = (sigma (y - x), x (rho - z) - y, x y - beta z), for one state (3,) or rows (n, 3)."""
    s = np.asarray(states, dtype=np.float64)
    if s.shape[-1] != 3 or s.ndim not in (1, 2):
        raise DynamicsError(f"Lorenz states must have shape (3,) or (n, 3), got {s.shape}.")
    x, y, z = s[..., 0], s[..., 1], s[..., 2]  # written out (not lorenz_rhs): ~2x less overhead per call
    return np.array([sigma * (y - x), x * (rho - z) - y, x * y - beta * z]).T


def step_euler(rhs: Callable[[np.ndarray], np.ndarray], state: np.ndarray, dt: float) -> np.ndarray:
    """One explicit Euler step: x + dt * f(x). Local error O(dt^2), global O(dt)."""
    return state + dt * rhs(state)


def step_rk4(rhs: Callable[[np.ndarray], np.ndarray], state: np.ndarray, dt: float) -> np.ndarray:
    """One classical Runge-Kutta step (global error O(dt^4)):

        k1 = f(x),  k2 = f(x + dt/2 k1),  k3 = f(x + dt/2 k2),  k4 = f(x + dt k3)
        x_next = x + dt/6 (k1 + 2 k2 + 2 k3 + k4)

    `state` may be one state (d,) or rows (k, d) when `rhs` works row-wise (advances k states at once).
    """
    h = 0.5 * dt
    k1 = rhs(state)
    k2 = rhs(state + h * k1)
    k3 = rhs(state + h * k2)
    k4 = rhs(state + dt * k3)
    return state + (dt / 6.0) * (k1 + k4 + 2.0 * (k2 + k3))


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


def _lorenz_ivp(_t: float, s: np.ndarray, sigma: float, rho: float, beta: float) -> np.ndarray:
    """lorenz_rhs for one state, without its reshaping: DOP853 at 1e-10 calls it ~700 times per time
    unit, and this halves the reference integrator's run time (0.55 s instead of 1.2 s for t_max = 40)."""
    x, y, z = s
    return np.array([sigma * (y - x), x * (rho - z) - y, x * y - beta * z])


def _fixed_step_lorenz(
    x0: np.ndarray, sigma: float, rho: float, beta: float, dt: float, n_steps: int, rk4: bool
) -> tuple[np.ndarray, int | None]:
    """Euler or RK4 on Lorenz with plain Python floats; returns (states, index of divergence or None).

    The same formulas as `step_euler` / `step_rk4` (the tests check they agree to rounding), unrolled
    on scalars because numpy's per-call overhead on 3-element arrays makes a step ~20x slower
    (~1 us instead of ~25 us: 2 million steps in seconds rather than a minute).
    """
    x, y, z = (float(v) for v in x0)
    out = [(x, y, z)]
    h, c = 0.5 * dt, dt / 6.0
    for i in range(1, n_steps + 1):
        k1x, k1y, k1z = sigma * (y - x), x * (rho - z) - y, x * y - beta * z
        if rk4:
            ax, ay, az = x + h * k1x, y + h * k1y, z + h * k1z
            k2x, k2y, k2z = sigma * (ay - ax), ax * (rho - az) - ay, ax * ay - beta * az
            ax, ay, az = x + h * k2x, y + h * k2y, z + h * k2z
            k3x, k3y, k3z = sigma * (ay - ax), ax * (rho - az) - ay, ax * ay - beta * az
            ax, ay, az = x + dt * k3x, y + dt * k3y, z + dt * k3z
            k4x, k4y, k4z = sigma * (ay - ax), ax * (rho - az) - ay, ax * ay - beta * az
            x = x + c * (k1x + k4x + 2.0 * (k2x + k3x))
            y = y + c * (k1y + k4y + 2.0 * (k2y + k3y))
            z = z + c * (k1z + k4z + 2.0 * (k2z + k3z))
        else:
            x, y, z = x + dt * k1x, y + dt * k1y, z + dt * k1z
        # `not (... < limit)` is also True for NaN; overflow to inf is caught before it can spread.
        if not (abs(x) < DIVERGENCE_LIMIT and abs(y) < DIVERGENCE_LIMIT and abs(z) < DIVERGENCE_LIMIT):
            return np.array(out), i
        out.append((x, y, z))
    return np.array(out), None


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
    diverged: int | None = None
    if method == "solve_ivp":
        # Stop the solver as soon as the state leaves the box, so a blow-up ends quickly and cleanly.
        def leaves_box(_t: float, s: np.ndarray, *_args: float) -> float:
            return DIVERGENCE_LIMIT - float(np.max(np.abs(s)))

        leaves_box.terminal = True  # type: ignore[attr-defined]
        sol = solve_ivp(
            _lorenz_ivp, (0.0, float(t[-1])), x, method="DOP853", t_eval=t, args=(sigma, rho, beta),
            rtol=REFERENCE_TOL, atol=REFERENCE_TOL, events=leaves_box,
        )
        states = sol.y.T
        finite = np.all(np.isfinite(states), axis=1) & np.all(np.abs(states) < DIVERGENCE_LIMIT, axis=1)
        n_ok = int(np.argmin(finite)) if not finite.all() else len(states)
        states = states[:n_ok]
        if n_ok < len(t):
            diverged = n_ok
    else:
        states, diverged = _fixed_step_lorenz(x, sigma, rho, beta, dt, n_steps, rk4=(method == "rk4"))
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


def on_attractor(seed: int = 0, transient: float = 20.0) -> np.ndarray:
    """A state (3,) on the Lorenz attractor: a random start in a box around it, run for `transient` time.

    Starting exactly on the attractor matters for Lyapunov estimates: the first ~1-5 time units from an
    arbitrary point are spent falling onto it, and that contraction is not the chaos we want to measure.
    """
    if not (np.isfinite(transient) and transient >= 0):
        raise DynamicsError(f"The transient must be >= 0, got {transient}.")
    start = random_initial_states(1, np.random.default_rng(seed))[0]
    if transient == 0:
        return start
    sol = solve_ivp(
        _lorenz_ivp, (0.0, float(transient)), start, method="DOP853", args=(SIGMA, RHO, BETA),
        rtol=1e-9, atol=1e-9,
    )
    return sol.y[:, -1].copy()
