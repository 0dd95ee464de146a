r"""Non-differentiable simulators x ~ p(x|θ) for adversarial variational optimisation (seed 002).

Each simulator is plain numpy: it draws ONE observation x_m for each parameter row θ_m (the marginal model of the
AVO paper: θ ~ q(θ|ψ), then x ~ p(x|θ)). No gradient flows through it, which is the point of the lesson.

- ``poisson``: x ~ Poisson(λ), the paper's univariate discrete example (true λ = 7).
- ``weinberg``: cos A of the muon in e⁺e⁻ → μ⁺μ⁻, with the forward-backward asymmetry of a simplified
  electroweak model, θ = (E_beam, G_f), true (42, 0.9) (Louppe, Hermans & Cranmer 2017). The public reference
  code accepts a proposal when f(x)/max/max ≥ u (it divides by the maximum twice), which flattens the sampled
  distribution towards uniform; here a proposal is accepted when f(x)/max ≥ u, the textbook rejection sampler,
  and a test checks the samples against the exact density.
- ``lorenz``: a noisy observer of the Lorenz-63 system, θ = (σ, ρ, β): from a random start, integrate past the
  transient, then record (x, y, z) at a few instants with Gaussian measurement noise — the same equations and RK4
  step as the Lorenz lab (``genlib.systems.lorenz``).

Parameters live in a box (``bounds``) that is the ABC prior and the scale of the proposal's coordinates.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from genlib.errors import UserError
from genlib.systems.lorenz import BETA, RHO, SIGMA, lorenz_derivative, step_rk4

__all__ = ["Simulator", "SimulatorError", "SIMULATORS", "get_simulator", "weinberg_density", "weinberg_afb"]


class SimulatorError(UserError):
    """A user-facing problem with a simulator choice or its parameters."""


@dataclass(frozen=True)
class Simulator:
    """A simulator and everything a page needs to explain it."""

    name: str
    label: str
    param_names: tuple[str, ...]
    param_latex: tuple[str, ...]
    true_theta: tuple[float, ...]
    bounds: tuple[tuple[float, float], ...]       # prior box (ABC) and the proposal's unit scale
    init_mu: tuple[float, ...]                   # the proposal's starting mean (paper: the middle of the box)
    init_sigma: tuple[float, ...]                # the proposal's starting std
    feature_names: tuple[str, ...]
    simulate_fn: Callable[[np.ndarray, np.random.Generator], np.ndarray] = field(repr=False)
    formula: str = ""
    summary: str = ""
    discrete: bool = False

    @property
    def n_params(self) -> int:
        return len(self.param_names)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def with_truth(self, theta: tuple[float, ...] | list[float] | np.ndarray) -> "Simulator":
        """The same simulator with another true θ (checked against the box)."""
        return replace(self, true_theta=tuple(float(t) for t in self.check_theta(theta)))

    def check_theta(self, theta: tuple[float, ...] | list[float] | np.ndarray) -> np.ndarray:
        t = np.asarray(theta, dtype=np.float64).reshape(-1)
        if t.size != self.n_params:
            raise SimulatorError(f"{self.label} has {self.n_params} parameters "
                                 f"({', '.join(self.param_names)}), got {t.size} values")
        if not np.all(np.isfinite(t)):
            raise SimulatorError(f"θ must be finite numbers, got {t.tolist()}")
        for name, v, (lo, hi) in zip(self.param_names, t, self.bounds):
            if not lo <= v <= hi:
                raise SimulatorError(f"{name} = {v:g} is outside the simulator's range [{lo:g}, {hi:g}]")
        return t

    def simulate(self, thetas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One observation per parameter row: thetas (M, P) → x (M, d). Parameters outside the physical domain
        (a Gaussian proposal can propose λ < 0) are clipped to it inside the simulator."""
        th = np.atleast_2d(np.asarray(thetas, dtype=np.float64))
        if th.shape[1] != self.n_params:
            raise SimulatorError(f"expected θ rows with {self.n_params} values, got shape {th.shape}")
        return np.asarray(self.simulate_fn(th, rng), dtype=np.float64).reshape(len(th), self.n_features)

    def observe(self, n: int, rng: np.random.Generator, theta: np.ndarray | None = None) -> np.ndarray:
        """n observations at one θ (default: the true θ): the 'observed data' a fit starts from."""
        t = self.check_theta(self.true_theta if theta is None else theta)
        return self.simulate(np.repeat(t[None, :], int(n), axis=0), rng)

    def to_unit(self, theta: np.ndarray) -> np.ndarray:
        lo, hi = np.array(self.bounds).T
        return (np.asarray(theta, dtype=np.float64) - lo) / (hi - lo)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        lo, hi = np.array(self.bounds).T
        return lo + np.asarray(u, dtype=np.float64) * (hi - lo)


# ----------------------------------------------------------------------------------------------- Poisson
def _poisson(thetas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    lam = np.clip(thetas[:, 0], 0.0, None)
    return rng.poisson(lam).astype(np.float64)[:, None]


# ----------------------------------------------------------------------------------------------- Weinberg
def weinberg_afb(e_beam: np.ndarray | float, g_f: np.ndarray | float) -> np.ndarray:
    """Forward-backward asymmetry A_FB = 2 tanh(10 (2 E_beam − M_Z)/M_Z) · G_f / G_f,nom, M_Z = 90, G_f,nom = 1.

    The data depend on θ only through this number: every (E_beam, G_f) on one level curve of A_FB gives the same
    distribution of cos A, so only A_FB is identifiable from these data (the page draws that ridge)."""
    mz = 90.0
    return 2.0 * np.tanh((2.0 * np.asarray(e_beam, dtype=np.float64) - mz) / mz * 10.0) * np.asarray(g_f, float)


def weinberg_density(cos_a: np.ndarray, e_beam: float, g_f: float) -> np.ndarray:
    """Exact normalised density of cos A on [−1, 1]: (1 + c² + A_FB c) / (8/3); it integrates to 1 for any A_FB."""
    c = np.asarray(cos_a, dtype=np.float64)
    return (1.0 + c ** 2 + weinberg_afb(e_beam, g_f) * c) / (2.0 * (1.0 + 1.0 / 3.0))


def _weinberg(thetas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rejection sampling, vectorised over rows: propose c ~ U[−1, 1], accept if f(c)/max f ≥ u ~ U[0, 1]."""
    e = np.clip(thetas[:, 0], 0.0, None)
    g = thetas[:, 1]
    afb = np.clip(weinberg_afb(e, g), -2.0, 2.0)   # |A_FB| ≤ 2 keeps the density non-negative
    # max over [−1, 1] of 1 + c² + A c is at an end point (the parabola opens upwards): 2 + |A|.
    fmax = 2.0 + np.abs(afb)
    out = np.empty(len(thetas))
    todo = np.arange(len(thetas))
    while todo.size:
        c = rng.uniform(-1.0, 1.0, todo.size)
        u = rng.uniform(0.0, 1.0, todo.size)
        ok = (1.0 + c ** 2 + afb[todo] * c) / fmax[todo] >= u
        out[todo[ok]] = c[ok]
        todo = todo[~ok]
    return out[:, None]


# ----------------------------------------------------------------------------------------------- Lorenz
LORENZ_DT = 0.01
LORENZ_BURN_IN = 1000         # steps (10 time units): long enough for random starts to decorrelate
LORENZ_TIMES = (0, 10, 20)    # observation instants after the burn-in, in steps (0.1 time units apart)
LORENZ_NOISE = 1.0            # measurement noise std, in the state's units


def _lorenz(thetas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """M Lorenz systems with M different (σ, ρ, β) advanced together in one (M, 3) array by genlib's RK4 step
    (scipy's solve_ivp would integrate them one by one in a Python loop)."""
    sigma, rho, beta = (np.clip(thetas[:, i], 0.01, None) for i in range(3))
    state = rng.normal(0.0, 5.0, (len(thetas), 3)) + np.array([0.0, 0.0, 25.0])

    def rhs(s: np.ndarray) -> np.ndarray:
        return lorenz_derivative(s, sigma, rho, beta)

    obs = []
    last = max(LORENZ_TIMES)
    for k in range(LORENZ_BURN_IN + last + 1):
        if k >= LORENZ_BURN_IN and (k - LORENZ_BURN_IN) in LORENZ_TIMES:
            obs.append(state.copy())
        state = step_rk4(rhs, state, LORENZ_DT)
        state = np.where(np.isfinite(state), state, 1e3).clip(-1e3, 1e3)  # wild θ must not overflow
    x = np.concatenate(obs, axis=1)
    return x + rng.normal(0.0, LORENZ_NOISE, x.shape)


SIMULATORS: dict[str, Simulator] = {
    "poisson": Simulator(
        name="poisson", label="Poisson counts", param_names=("lambda",), param_latex=(r"\lambda",),
        true_theta=(7.0,), bounds=((0.5, 20.0),), init_mu=(3.0,), init_sigma=(1.0,), feature_names=("x",),
        simulate_fn=_poisson, discrete=True,
        formula=r"x \sim \mathrm{Poisson}(\lambda),\qquad p(x|\lambda)=\frac{\lambda^x e^{-\lambda}}{x!}",
        summary="Counts from a Poisson law. The likelihood is known here, so the direct fit (the sample mean) "
                "is the gold standard AVO should reach without ever evaluating p(x|λ)."),
    "weinberg": Simulator(
        name="weinberg", label="e⁺e⁻ → μ⁺μ⁻ (Weinberg)", param_names=("E_beam", "G_f"),
        param_latex=(r"E_{beam}", r"G_f"), true_theta=(42.0, 0.9), bounds=((40.0, 50.0), (0.5, 1.5)),
        init_mu=(45.0, 1.0), init_sigma=(1.0, 0.1), feature_names=("cos_A",), simulate_fn=_weinberg,
        formula=r"p(\cos A|\theta)\propto 1+\cos^2 A + A_{FB}\cos A,\quad "
                r"A_{FB}=2\tanh\!\Big(10\,\frac{2E_{beam}-M_Z}{M_Z}\Big)\,\frac{G_f}{G_f^{nom}}",
        summary="The angle of the outgoing muon in electron-positron annihilation near the Z resonance. The "
                "asymmetry between forward and backward muons depends on the beam energy and the Fermi "
                "constant — but only through A_FB, so a whole curve of (E_beam, G_f) explains the data equally well."),
    "lorenz": Simulator(
        name="lorenz", label="Noisy Lorenz observer", param_names=("sigma", "rho", "beta"),
        param_latex=(r"\sigma", r"\rho", r"\beta"), true_theta=(SIGMA, RHO, BETA),
        bounds=((5.0, 15.0), (20.0, 35.0), (1.5, 4.0)), init_mu=(8.0, 24.0, 2.0), init_sigma=(1.0, 1.5, 0.25),
        feature_names=tuple(f"{c}_t{t}" for t in range(len(LORENZ_TIMES)) for c in "xyz"),
        simulate_fn=_lorenz,
        formula=r"\dot x=\sigma(y-x),\ \dot y=x(\rho-z)-y,\ \dot z=xy-\beta z;\quad "
                r"x_{obs}(t_k)=s(t_k)+\varepsilon,\ \varepsilon\sim\mathcal N(0,1)",
        summary="The Lorenz lab's system seen through a noisy instrument: three snapshots of (x, y, z), 0.1 time "
                "units apart, after the transient. Chaos makes the likelihood intractable; the simulator is cheap."),
}


def get_simulator(name: str) -> Simulator:
    try:
        return SIMULATORS[name]
    except KeyError:
        raise SimulatorError(f"unknown simulator {name!r}; choose one of: {', '.join(SIMULATORS)}") from None
