r"""Lorenz-63, defined once: the vector field, its Jacobians, the integrators, the constants and the starts.

    dx/dt = sigma * (y - x)
    dy/dt = x * (rho - z) - y
    dz/dt = x * y - beta * z          (sigma, rho, beta) = (10, 28, 8/3): the chaotic regime

`lorenz_rhs` is the only place these three lines are written. It works on coordinates, so the same function
serves Python floats (the unrolled fixed-step loop, where numpy's per-call overhead on 3-element arrays would
cost ~20x), numpy rows (datasets, Benettin, the equation fits) and the flat vectors of `scipy.integrate.solve_ivp`.

A leaf module (numpy, and scipy's solve_ivp imported where it integrates, so the CLI can read the constants
without paying ~0.4 s for scipy.integrate): `genlib.data` builds its datasets from it and `genlib.dynamics`
its analysis, and neither has to import the other for the equations. Its own problems are a `LorenzError`
(a `ValueError`); the callers that face users turn them into their own error types.
"""
from __future__ import annotations

from typing import Callable, TypeVar

import numpy as np

from genlib.errors import UserError

SIGMA = 10.0
RHO = 28.0
BETA = 8.0 / 3.0
#: Largest Lyapunov exponent of Lorenz-63 at (10, 28, 8/3), per unit time (Sprott; the seed's value).
#: nolds' "2.40" for Lorenz is a Lyapunov *dimension*, not this exponent.
LYAPUNOV_REFERENCE = 0.9056
#: Steps per simulation at most (t_max / dt); more would take minutes and hundreds of MB.
MAX_STEPS = 2_000_000
#: States per batch simulation at most (trajectories x steps); more would eat the memory and minutes of CPU.
MAX_STATES = 2_000_000
#: A state with a coordinate beyond this (or NaN/inf) counts as diverged; the attractor stays within ~50.
DIVERGENCE_LIMIT = 1e6
#: Tolerance (rtol = atol) of the reference integrator, DOP853: the lab compares Euler and RK4 against it.
REFERENCE_TOL = 1e-10
#: Tolerance (rtol = atol) of the batch integrator behind the datasets, and of `on_attractor`.
BATCH_TOL = 1e-9
#: Box of random starts: x, y in ±15, z in 5..40, around the attractor so the burn-in is short.
START_LOW, START_HIGH = (-15.0, -15.0, 5.0), (15.0, 15.0, 40.0)

F = TypeVar("F", float, np.ndarray)


class LorenzError(UserError):
    """A bad request to the Lorenz system (wrong shape, failed integration); one readable sentence."""


# ----------------------------------------------------------------------------- the equations

def lorenz_rhs(x: F, y: F, z: F, sigma: float, rho: float, beta: float) -> tuple[F, F, F]:
    """(dx/dt, dy/dt, dz/dt) at (x, y, z): floats or arrays alike (parameters may be arrays that broadcast)."""
    return sigma * (y - x), x * (rho - z) - y, x * y - beta * z


def lorenz_derivative(
    states: np.ndarray, sigma: float | np.ndarray = SIGMA, rho: float | np.ndarray = RHO,
    beta: float | np.ndarray = BETA,
) -> np.ndarray:
    """f(state) for one state (3,) or rows (n, 3), same shape back; arrays of n parameters give n systems."""
    s = np.asarray(states, dtype=np.float64)
    if s.shape[-1] != 3 or s.ndim not in (1, 2):
        raise LorenzError(f"Lorenz states must have shape (3,) or (n, 3), got {s.shape}.")
    return np.array(lorenz_rhs(s[..., 0], s[..., 1], s[..., 2], sigma, rho, beta)).T


def lorenz_ivp(_t: float, flat: np.ndarray, sigma: float, rho: float, beta: float) -> np.ndarray:
    """f in solve_ivp's form: one state (3,), or k states stacked flat (x1, y1, z1, x2, ...) to advance k at once.

    One state is unpacked into scalars: DOP853 at 1e-10 calls this ~700 times per time unit, and skipping the
    reshaping halves the reference integrator's run time (0.55 s instead of 1.2 s for t_max = 40).
    """
    if flat.shape == (3,):
        x, y, z = flat
        return np.array(lorenz_rhs(x, y, z, sigma, rho, beta))
    s = flat.reshape(-1, 3)
    d = np.empty_like(s)
    d[:, 0], d[:, 1], d[:, 2] = lorenz_rhs(s[:, 0], s[:, 1], s[:, 2], sigma, rho, beta)
    return d.reshape(flat.shape)


def lorenz_jacobians(u: np.ndarray, sigma: float, rho: float, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """∂f/∂(x, y, z) and ∂f/∂(σ, ρ, β) at rows u (m, 3), each (m, 3, 3): the sensitivities of an integrated fit."""
    x, y, z = u[:, 0], u[:, 1], u[:, 2]
    ju = np.zeros((u.shape[0], 3, 3))
    ju[:, 0, 0], ju[:, 0, 1] = -sigma, sigma
    ju[:, 1, 0], ju[:, 1, 1], ju[:, 1, 2] = rho - z, -1.0, -x
    ju[:, 2, 0], ju[:, 2, 1], ju[:, 2, 2] = y, x, -beta
    jt = np.zeros((u.shape[0], 3, 3))
    jt[:, 0, 0], jt[:, 1, 1], jt[:, 2, 2] = y - x, x, -z
    return ju, jt


# ----------------------------------------------------------------------------- one step, any system

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


# ----------------------------------------------------------------------------- whole trajectories

def integrate_fixed_step(
    x0: np.ndarray, sigma: float, rho: float, beta: float, dt: float, n_steps: int, rk4: bool
) -> tuple[np.ndarray, int | None]:
    """Euler or RK4 from x0 for n_steps with plain Python floats: (states (n, 3), index of divergence or None).

    The same operations as `step_euler` / `step_rk4` on `lorenz_rhs` (bit for bit), unrolled on scalars
    because numpy's per-call overhead on 3-element arrays makes a step ~20x slower (~1 us instead of ~25 us:
    2 million steps in seconds rather than a minute). The trajectory stops before the first state with a
    coordinate beyond `DIVERGENCE_LIMIT` (or NaN/inf), whose index is returned.
    """
    f = lorenz_rhs
    x, y, z = (float(v) for v in x0)
    out = [(x, y, z)]
    h, c = 0.5 * dt, dt / 6.0
    for i in range(1, n_steps + 1):
        k1x, k1y, k1z = f(x, y, z, sigma, rho, beta)
        if rk4:
            k2x, k2y, k2z = f(x + h * k1x, y + h * k1y, z + h * k1z, sigma, rho, beta)
            k3x, k3y, k3z = f(x + h * k2x, y + h * k2y, z + h * k2z, sigma, rho, beta)
            k4x, k4y, k4z = f(x + dt * k3x, y + dt * k3y, z + dt * k3z, sigma, rho, beta)
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


def integrate_reference(
    x0: np.ndarray, sigma: float, rho: float, beta: float, t: np.ndarray
) -> tuple[np.ndarray, int | None]:
    """scipy's DOP853 at `REFERENCE_TOL` from x0, read on the grid t (t[0] = 0): (states, index of divergence or None).

    The solver stops as soon as the state leaves the `DIVERGENCE_LIMIT` box, so a blow-up ends quickly and
    cleanly; the states end before the first diverged one, as in `integrate_fixed_step`.
    """
    from scipy.integrate import solve_ivp  # imported here: see the module docstring

    def leaves_box(_t: float, s: np.ndarray, *_args: float) -> float:
        return DIVERGENCE_LIMIT - float(np.max(np.abs(s)))

    leaves_box.terminal = True  # type: ignore[attr-defined]
    sol = solve_ivp(
        lorenz_ivp, (0.0, float(t[-1])), x0, method="DOP853", t_eval=t, args=(sigma, rho, beta),
        rtol=REFERENCE_TOL, atol=REFERENCE_TOL, events=leaves_box,
    )
    states = sol.y.T
    finite = np.all(np.isfinite(states), axis=1) & np.all(np.abs(states) < DIVERGENCE_LIMIT, axis=1)
    n_ok = int(np.argmin(finite)) if not finite.all() else len(states)
    return states[:n_ok], (n_ok if n_ok < len(t) else None)


def simulate_lorenz(
    x0: np.ndarray | list[float],
    sigma: float = SIGMA,
    rho: float = RHO,
    beta: float = BETA,
    dt: float = 0.01,
    T: float = 50.0,
) -> np.ndarray:
    """The batch integrator of the datasets: states at t = 0, dt, ..., n_steps*dt with n_steps = round(T/dt).

    x0 of shape (3,) gives an array (n_steps + 1, 3); x0 of shape (k, 3) integrates k trajectories as one
    stacked 3k-dimensional system (DOP853, rtol = atol = `BATCH_TOL`) and gives (k, n_steps + 1, 3): the
    solver's per-step overhead dominates, so 1,000 trajectories cost about what one does.
    Raises LorenzError for a wrong shape or if the solver fails (e.g. absurd parameters).
    """
    from scipy.integrate import solve_ivp  # imported here: see the module docstring

    x0 = np.asarray(x0, dtype=np.float64)
    if x0.shape[-1] != 3 or x0.ndim not in (1, 2):
        raise LorenzError(f"x0 must have shape (3,) or (k, 3), got {x0.shape}.")
    n_steps = int(round(T / dt))
    t_eval = np.arange(n_steps + 1) * dt
    sol = solve_ivp(
        lorenz_ivp,
        (0.0, float(t_eval[-1])),
        x0.ravel(),
        method="DOP853",
        t_eval=t_eval,
        args=(sigma, rho, beta),
        rtol=BATCH_TOL,
        atol=BATCH_TOL,
    )
    if not sol.success or sol.y.shape[1] != n_steps + 1:
        raise LorenzError(f"The Lorenz integration failed: {sol.message}")
    states = sol.y.T.reshape(n_steps + 1, -1, 3)  # (time, trajectory, xyz)
    return states[:, 0, :] if x0.ndim == 1 else states.transpose(1, 0, 2)


# ----------------------------------------------------------------------------- starting points

def random_initial_states(n: int, rng: np.random.Generator) -> np.ndarray:
    """n starting points in a box around the attractor (x, y in ±15, z in 5..40), so burn-in is short."""
    return rng.uniform(np.array(START_LOW), np.array(START_HIGH), size=(n, 3))


def on_attractor(seed: int = 0, transient: float = 20.0) -> np.ndarray:
    """A state (3,) on the Lorenz attractor: a random start in a box around it, run for `transient` time.

    Starting exactly on the attractor matters for Lyapunov estimates: the first ~1-5 time units from an
    arbitrary point are spent falling onto it, and that contraction is not the chaos we want to measure.
    """
    from scipy.integrate import solve_ivp  # imported here: see the module docstring

    if not (np.isfinite(transient) and transient >= 0):
        raise LorenzError(f"The transient must be >= 0, got {transient}.")
    start = random_initial_states(1, np.random.default_rng(seed))[0]
    if transient == 0:
        return start
    sol = solve_ivp(
        lorenz_ivp, (0.0, float(transient)), start, method="DOP853", args=(SIGMA, RHO, BETA),
        rtol=BATCH_TOL, atol=BATCH_TOL,
    )
    return sol.y[:, -1].copy()
