r"""What AVO is compared with: the direct likelihood fit where the likelihood is known, and rejection ABC.

- ``direct_fit``: maximum likelihood. Poisson: λ̂ = x̄ with standard error √(λ̂/n). Weinberg: the density of cos A
  is known in closed form (``weinberg_density``), so the likelihood is maximised numerically (scipy) over the free
  parameter; with both parameters free only A_FB is identified, and the result is the point of the MLE ridge
  closest to the box centre along G_f (said in ``note``). Zero simulator calls: the gold standard AVO should
  approach without ever evaluating p(x|θ).
- ``abc_rejection``: approximate Bayesian computation (Pritchard et al. 1999). Draw θ from the prior box, simulate a
  whole dataset of ``n_per_dataset`` rows, keep the ``quantile`` of θ whose summary statistics are closest to the
  observed ones (each summary scaled by its spread over the prior draws). Its cost is counted in simulator
  calls, like AVO's.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from genlib.params import make_config, param

from .simulators import Simulator, SimulatorError, weinberg_afb

__all__ = ["ABCSettings", "BaselineResult", "direct_fit", "abc_rejection", "summary_statistics", "weinberg_loglik_grid"]


@dataclass
class BaselineResult:
    method: str
    theta: np.ndarray            # estimate, θ units (fixed parameters at their true value)
    theta_std: np.ndarray        # its spread (standard error or ABC posterior std); 0 for fixed parameters
    simulations: int
    seconds: float
    note: str = ""
    accepted: np.ndarray | None = None   # ABC: the accepted θ rows


def summary_statistics(sim: Simulator, x: np.ndarray) -> np.ndarray:
    """Per dataset: the mean and standard deviation of each column (Weinberg: E[c], E[c²]; enough for a
    one-number family: E[cos A] = A_FB / 4)."""
    x = np.asarray(x, dtype=np.float64)
    if sim.name == "weinberg":
        return np.array([x[:, 0].mean(), (x[:, 0] ** 2).mean()])
    return np.concatenate([x.mean(0), x.std(0)])


def _free_mask(sim: Simulator, fixed: tuple[str, ...]) -> np.ndarray:
    unknown = [p for p in fixed if p not in sim.param_names]
    if unknown:
        raise SimulatorError(f"cannot fix {unknown}: {sim.label} has parameters {list(sim.param_names)}")
    free = np.array([p not in fixed for p in sim.param_names])
    if not free.any():
        raise SimulatorError("every parameter is fixed: leave at least one to fit")
    return free


def direct_fit(sim: Simulator, observed: np.ndarray, fixed: tuple[str, ...] = ()) -> BaselineResult | None:
    """Maximum likelihood (Poisson, Weinberg); ``None`` for simulators without a tractable likelihood."""
    t0 = time.perf_counter()
    x = np.asarray(observed, dtype=np.float64).reshape(len(observed), -1)
    free = _free_mask(sim, tuple(fixed))
    truth = np.asarray(sim.true_theta, float)
    if sim.name == "poisson":
        lam = float(x[:, 0].mean())
        return BaselineResult("maximum likelihood (x̄)", np.array([lam]), np.array([np.sqrt(max(lam, 0) / len(x))]),
                              0, time.perf_counter() - t0, "λ̂ = x̄, standard error √(λ̂/n)")
    if sim.name != "weinberg":
        return None
    c = x[:, 0]

    def nll_afb(a: float) -> float:
        return -float(np.log(np.clip(1.0 + c ** 2 + a * c, 1e-300, None)).sum())

    a_hat = minimize_scalar(nll_afb, bounds=(-2.0, 2.0), method="bounded", options={"xatol": 1e-8}).x
    # Fisher information of A per row: E[c² / (1 + c² + A c)²]; standard error of Â = 1/√(n I).
    info = float(np.mean(c ** 2 / (1.0 + c ** 2 + a_hat * c) ** 2))
    se_a = 1.0 / np.sqrt(len(c) * info)
    theta, std = truth.copy(), np.zeros_like(truth)
    (lo_e, hi_e), (lo_g, hi_g) = sim.bounds
    if free[1] and not free[0]:     # G_f free, E_beam known: A = k·G
        k = float(weinberg_afb(truth[0], 1.0))
        theta[1], std[1] = a_hat / k, se_a / abs(k)
        note = f"Â_FB = {a_hat:.4f} ± {se_a:.4f}; G_f = Â_FB / (2 tanh(10(2E−M_Z)/M_Z))"
    elif free[0] and not free[1]:   # E_beam free, G_f known: invert tanh
        t = np.clip(a_hat / (2.0 * truth[1]), -0.999999, 0.999999)
        theta[0] = (np.arctanh(t) * 90.0 / 10.0 + 90.0) / 2.0
        dt_de = 2.0 * 10.0 / 90.0 * (1.0 - t ** 2) * 2.0 * truth[1]     # dA/dE
        std[0] = se_a / abs(dt_de)
        note = f"Â_FB = {a_hat:.4f} ± {se_a:.4f}, inverted for E_beam"
    else:                            # both free: a ridge of equally good θ; report its point at G_f = box centre
        g = 0.5 * (lo_g + hi_g)
        t = np.clip(a_hat / (2.0 * g), -0.999999, 0.999999)
        theta[:] = ((np.arctanh(t) * 90.0 / 10.0 + 90.0) / 2.0, g)
        std[:] = np.nan
        note = (f"Â_FB = {a_hat:.4f} ± {se_a:.4f}. Only A_FB is identified: every (E_beam, G_f) with "
                f"2 tanh(10(2E−90)/90)·G_f = Â_FB fits equally well; shown: the ridge point at G_f = {g:g}")
    return BaselineResult("maximum likelihood (exact density)", theta, std, 0, time.perf_counter() - t0, note)


@dataclass
class ABCSettings:
    """Rejection ABC's settings (declared once: the Simulator page's widgets and the checks read them)."""

    n_proposals: int = param(2000, "θ drawn from the uniform prior on the simulator's box", range=(2, 100_000),
                             label="ABC: prior draws", step=100)
    n_per_dataset: int = param(200, "rows simulated at each θ, compared with the observed data's summaries",
                               range=(2, 100_000), label="ABC: rows per dataset", step=10)
    quantile: float = param(0.05, "share of the closest θ kept: the posterior sample", range=(0.001, 1.0),
                            label="ABC: kept quantile", step=0.01)


def abc_rejection(sim: Simulator, observed: np.ndarray, n_proposals: int = 2000, n_per_dataset: int = 200,
                  quantile: float = 0.05, fixed: tuple[str, ...] = (), seed: int = 0) -> BaselineResult:
    """Rejection ABC with a uniform prior on the simulator's box; returns the accepted θ's mean and std."""
    make_config(ABCSettings, {"n_proposals": n_proposals, "n_per_dataset": n_per_dataset, "quantile": quantile},
                error=SimulatorError)
    t0 = time.perf_counter()
    free = _free_mask(sim, tuple(fixed))
    rng = np.random.default_rng(seed)
    lo, hi = np.array(sim.bounds).T
    thetas = np.tile(np.asarray(sim.true_theta, float), (int(n_proposals), 1))
    thetas[:, free] = rng.uniform(lo[free], hi[free], (int(n_proposals), int(free.sum())))
    # All datasets in one simulator call: row i·n .. (i+1)·n − 1 belongs to θ_i.
    x = sim.simulate(np.repeat(thetas, int(n_per_dataset), axis=0), rng)
    stats = np.array([summary_statistics(sim, block) for block in x.reshape(int(n_proposals), int(n_per_dataset), -1)])
    obs_stats = summary_statistics(sim, np.asarray(observed, float).reshape(len(observed), -1))
    scale = stats.std(0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    dist = np.sqrt((((stats - obs_stats) / scale) ** 2).sum(1))
    n_keep = max(2, int(round(quantile * n_proposals)))
    keep = np.argsort(dist)[:n_keep]
    acc = thetas[keep]
    return BaselineResult("rejection ABC", acc.mean(0), acc.std(0), int(n_proposals) * int(n_per_dataset),
                          time.perf_counter() - t0,
                          f"kept the {n_keep} of {n_proposals} prior draws closest in summary statistics "
                          f"(ε = {dist[keep[-1]]:.3g} in scaled units)", acc)


def weinberg_loglik_grid(observed: np.ndarray, e_values: np.ndarray, g_values: np.ndarray) -> np.ndarray:
    """Exact log-likelihood of the observed cos A over a (G_f × E_beam) grid: a ridge along one level of A_FB."""
    c = np.asarray(observed, dtype=np.float64).reshape(-1)
    e, g = np.meshgrid(np.asarray(e_values, float), np.asarray(g_values, float))
    a = np.clip(weinberg_afb(e, g), -2.0, 2.0)
    # Σ_i log(1 + c_i² + A c_i) − n log(8/3), evaluated for every grid A at once through the per-row sums.
    flat = a.reshape(-1)
    out = np.empty(flat.size)
    for s in range(0, flat.size, 256):
        out[s:s + 256] = np.log(np.clip(1.0 + c[None, :] ** 2 + flat[s:s + 256, None] * c[None, :], 1e-300,
                                        None)).sum(1)
    return (out - len(c) * np.log(8.0 / 3.0)).reshape(a.shape)
