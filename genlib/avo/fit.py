r"""Adversarial variational optimisation (Louppe, Hermans & Cranmer 2017), the algorithm as the paper writes it.

A WGAN whose generator is a simulator: θ ~ q(θ|ψ), x ~ p(x|θ). The critic d is trained as in WGAN-GP,

    L_d = E_q[d(x̃)] − E_r[d(x)] + λ E_x̂[(‖∇_x̂ d(x̂)‖₂ − 1)²],   x̂ = ε x + (1 − ε) x̃,

and, the simulator having no gradient, ψ follows the score-function estimate of ∇ψ U_g, U_g = E_q[−d(x̃)]:

    ∇ψ U_g ≈ (1/M) Σ_m (−d(x̃_m) − b) ∇ψ log q(θ_m|ψ)  (+ γ ∇ψ H(q), the optional entropy penalty),

with b a baseline (leave-one-out mean of −d over the batch: unbiased, lower variance). Adam on both.
The critic reads standardised x (mean and std of the observed data), so one λ and one learning rate suit
counts, angles and Lorenz states alike. Every simulator call is counted.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from genlib.models.gan import gradient_penalty
from genlib.params import check_config, param
from genlib.train.loop import seeded_init

from .proposal import GaussianProposal, score_function_surrogate
from .simulators import SIMULATORS, Simulator, SimulatorError, get_simulator

__all__ = ["AVOConfig", "AVOHistory", "AVOResult", "fit_avo", "make_observed", "run_simulator", "marginal_samples"]


@dataclass
class AVOConfig:
    """Settings of one AVO fit, declared once (genlib.params): the page's widgets and the checks read this metadata.
    Defaults are what the benchmark uses on 2 CPU cores."""

    simulator: str = param("poisson", "the simulator to fit", choices=tuple(SIMULATORS), group="experiment",
                           label="simulator to fit")
    true_theta: tuple[float, ...] | None = param(
        None, "θ* the observed data are drawn at (None: the simulator's default truth)", kind=tuple, item=float,
        group="experiment", label="true parameters θ*")
    n_observed: int = param(50000, "size of the 'experiment' drawn at θ* (the paper uses 50,000)",
                            range=(2, 200_000), label="observed rows n", group="experiment", step=1000)
    seed: int = param(0, "seeds the observed data, the proposal's draws and the critic", range=(0, 2**32 - 1),
                      group="experiment", advanced=True, label="random seed")
    fixed: tuple[str, ...] = param((), "parameters held at their true value (known to the experimenter)",
                                   kind=tuple, item=str, label="known (fixed at the true value)", group="experiment")
    critic_steps: int = param(5, "critic updates per proposal update", range=(1, 100),
                              label="critic steps per update", group="critic")
    critic_warmup: int = param(100, "critic updates before the proposal first moves", range=(0, 5000),
                               label="critic warm-up steps", group="critic", step=50)
    critic_hidden: int = param(32, "hidden units of each of the critic's two layers", range=(4, 1024),
                               label="critic hidden units", group="critic", advanced=True)
    lambda_gp: float = param(0.025, "λ of the gradient penalty on standardised x (see fit_avo for why so small)",
                             range=(0.0, 100.0), label="λ (gradient penalty)", group="critic", step=0.005)
    lr_critic: float = param(1e-2, "Adam learning rate of the critic", range=(1e-5, 10.0), log=True,
                             label="critic learning rate", group="critic", step=0.001)
    steps: int = param(600, "proposal updates", range=(1, 20_000), label="proposal steps", group="proposal",
                       step=50)
    batch: int = param(64, "M: simulations per critic or proposal step", range=(2, 4096),
                       label="batch M (simulations per step)", group="proposal", step=16)
    lr_proposal: float = param(0.01, "Adam learning rate of ψ = (μ, log σ), in the box's unit coordinates",
                               range=(1e-5, 10.0), log=True, label="proposal learning rate", group="proposal",
                               step=0.005)
    gamma: float = param(0.0, "entropy penalty γ (> 0 shrinks the proposal)", range=(0.0, 10.0),
                         label="γ (entropy penalty)", group="proposal", step=0.01)
    baseline: str = param("loo", "baseline b of the score-function gradient: leave-one-out mean of −d (unbiased, "
                          "lower variance) or none", choices=("loo", "none"), label="baseline b", group="proposal",
                          labels={"loo": "leave-one-out mean", "none": "none"}, widget="radio")
    init_mu: tuple[float, ...] | None = param(None, "the proposal's starting mean, θ units (None: the simulator's)",
                                              kind=tuple, item=float, group="proposal",
                                              label="proposal's starting mean (θ units)")
    init_sigma: tuple[float, ...] | None = param(
        None, "the proposal's starting std, θ units (None: the simulator's)", kind=tuple, item=float,
        group="proposal", label="proposal's starting spread (θ units)")
    lr_decay: bool = param(False, "cosine decay of the proposal's learning rate to 10 %", group="proposal",
                           label="slow the proposal's learning rate down (cosine)")
    average_last: float = param(0.5, "the estimate: mean of μ over this last fraction of steps", range=(0.01, 1.0),
                                group="proposal", label="estimate from the last share of steps")

    def check(self, sim: Simulator) -> None:
        """Every field against its metadata, then what depends on the simulator."""
        check_config(self, error=SimulatorError)
        if self.init_sigma is not None and np.any(np.asarray(self.init_sigma, float) <= 0):
            raise SimulatorError("the proposal's starting σ must be positive")
        unknown = [p for p in self.fixed if p not in sim.param_names]
        if unknown:
            raise SimulatorError(f"cannot fix {unknown}: {sim.label} has parameters {list(sim.param_names)}")
        if len(set(self.fixed)) >= sim.n_params:
            raise SimulatorError("every parameter is fixed: leave at least one to fit")


@dataclass
class AVOHistory:
    """One entry per proposal update (θ units): what the live view plots."""

    step: list[int] = field(default_factory=list)
    mu: list[list[float]] = field(default_factory=list)
    sigma: list[list[float]] = field(default_factory=list)
    critic_loss: list[float] = field(default_factory=list)     # L_d of the last critic step (GP included)
    wasserstein: list[float] = field(default_factory=list)     # E_r d − E_q d: the critic's W estimate
    simulations: list[int] = field(default_factory=list)       # simulator calls so far
    elapsed: list[float] = field(default_factory=list)

    def copy(self) -> "AVOHistory":
        return AVOHistory(**{k: [list(v) if isinstance(v, list) else v for v in vals]
                             for k, vals in asdict(self).items()})


@dataclass
class AVOResult:
    config: AVOConfig
    simulator: Simulator
    observed: np.ndarray
    history: AVOHistory
    mu: np.ndarray              # the estimate: proposal mean averaged over the last ``average_last`` of steps
    sigma: np.ndarray           # final proposal std, θ units
    simulations: int
    seconds: float
    stopped: bool = False
    mu_last: np.ndarray | None = None   # the proposal mean after the last step


class Critic(nn.Module):
    """d(x): an MLP on standardised x with leaky ReLUs, no output squashing (a Wasserstein critic)."""

    def __init__(self, n_features: int, hidden: int, shift: np.ndarray, scale: np.ndarray):
        super().__init__()
        self.register_buffer("shift", torch.as_tensor(shift, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))
        self.net = nn.Sequential(nn.Linear(n_features, hidden), nn.LeakyReLU(0.1),
                                 nn.Linear(hidden, hidden), nn.LeakyReLU(0.1), nn.Linear(hidden, 1))

    def standardise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.shift) / self.scale

    def forward(self, z: torch.Tensor) -> torch.Tensor:   # z: standardised x
        return self.net(z).squeeze(-1)


def run_simulator(config: AVOConfig) -> Simulator:
    """The simulator of a fit, with the fit's true θ (the one place that pairs a config with its simulator)."""
    sim = get_simulator(config.simulator)
    return sim if config.true_theta is None else sim.with_truth(config.true_theta)


def make_observed(sim: Simulator, n: int, seed: int = 0) -> np.ndarray:
    """The 'experiment': n observations at the simulator's true θ, from their own seed."""
    return sim.observe(int(n), np.random.default_rng(np.random.SeedSequence([int(seed), 7919])))


def marginal_samples(sim: Simulator, mu: np.ndarray, sigma: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """x from the marginal model θ ~ N(μ, σ²) (θ units), x ~ p(x|θ): what the fit currently generates.
    Uses its own RNG, so a page drawing it never disturbs a running fit."""
    rng = np.random.default_rng(seed)
    thetas = np.asarray(mu, float) + np.asarray(sigma, float) * rng.standard_normal((int(n), sim.n_params))
    return sim.simulate(thetas, rng)


def _leave_one_out_mean(f: torch.Tensor) -> torch.Tensor:
    return (f.sum() - f) / (len(f) - 1)


def fit_avo(config: AVOConfig, observed: np.ndarray | None = None,
            report: Callable[[int, int, AVOHistory], None] | None = None,
            should_stop: Callable[[], bool] = lambda: False) -> AVOResult:
    """Run AVO; ``report(step, total, history)`` after each proposal update (history is live: copy to keep)."""
    sim = run_simulator(config)
    config.check(sim)
    obs = make_observed(sim, config.n_observed, config.seed) if observed is None else _check_observed(sim, observed)

    torch_rng = torch.Generator().manual_seed(int(config.seed))
    np_rng = np.random.default_rng(np.random.SeedSequence([int(config.seed), 1]))
    width = np.array([hi - lo for lo, hi in sim.bounds])
    truth = np.asarray(sim.true_theta, float)
    free = np.array([name not in config.fixed for name in sim.param_names])
    mu0 = sim.to_unit(np.asarray(config.init_mu if config.init_mu is not None else sim.init_mu, float))
    sd0 = np.asarray(config.init_sigma if config.init_sigma is not None else sim.init_sigma, float) / width
    proposal = GaussianProposal(mu0[free], sd0[free])   # over the free parameters only

    def full_theta(u_free: np.ndarray) -> np.ndarray:
        """Unit coordinates of the free parameters → θ rows with the fixed ones at their true value."""
        theta = np.tile(truth, (len(u_free), 1))
        theta[:, free] = sim.from_unit(_embed(u_free, free))[:, free]
        return theta

    def current() -> tuple[np.ndarray, np.ndarray]:
        mu, sd = truth.copy(), np.zeros_like(truth)
        mu[free] = sim.from_unit(_embed(proposal.mu.detach().numpy()[None, :], free))[0, free]
        sd[free] = proposal.sigma.detach().numpy() * width[free]
        return mu, sd
    shift, scale = obs.mean(0), obs.std(0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    with seeded_init(config.seed):   # the trainer's lock: jobs may be seeding torch's global RNG right now
        critic = Critic(sim.n_features, int(config.critic_hidden), shift, scale)
    opt_d = torch.optim.Adam(critic.parameters(), lr=config.lr_critic, betas=(0.5, 0.9))
    opt_q = torch.optim.Adam(proposal.parameters(), lr=config.lr_proposal)
    # A noisy score-function gradient with a constant step leaves μ jittering around the optimum; the average of
    # the last iterates (Polyak) is the classic cure (the estimate; measured on Weinberg G_f: the last iterate
    # strayed 3-6 % from the truth on 2 of 4 seeds, the average of the last half stayed within 3 %), a decaying
    # step (``lr_decay``) another.
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt_q, lambda k: 0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(k, config.steps) / config.steps))
        if config.lr_decay else 1.0)
    obs_t = critic.standardise(torch.as_tensor(obs, dtype=torch.float32))
    m = int(config.batch)
    sims = 0

    def simulate(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        nonlocal sims
        u = proposal.sample(n, torch_rng)
        x = sim.simulate(full_theta(u.numpy()), np_rng)
        sims += n
        return u, critic.standardise(torch.as_tensor(x, dtype=torch.float32))

    def critic_step() -> tuple[float, float]:
        real = obs_t[torch.randint(len(obs_t), (m,), generator=torch_rng)]
        _, fake = simulate(m)
        d_real, d_fake = critic(real), critic(fake)
        w = d_real.mean() - d_fake.mean()
        gp, _ = gradient_penalty(critic, real, fake, torch_rng)
        loss = -w + config.lambda_gp * gp
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the critic's loss became {loss.item()} at step {len(history.step)}: "
                                     "lower the critic learning rate or raise λ")
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        opt_d.step()
        return float(loss.detach()), float(w.detach())

    history = AVOHistory()
    t0 = time.perf_counter()
    stopped = False
    for _ in range(int(config.critic_warmup)):
        if should_stop():
            stopped = True
            break
        critic_step()
    total = int(config.steps)
    for step in range(1, total + 1):
        if stopped or should_stop():
            stopped = True
            break
        for _ in range(int(config.critic_steps)):
            loss_d, w = critic_step()
        u, fake = simulate(m)
        with torch.no_grad():
            f = -critic(fake).double()          # U_g's integrand: −d(x̃)
        baseline = _leave_one_out_mean(f) if config.baseline == "loo" else 0.0
        surrogate = score_function_surrogate(proposal, u, f, baseline)
        if config.gamma > 0:
            surrogate = surrogate + config.gamma * proposal.entropy()
        opt_q.zero_grad(set_to_none=True)
        surrogate.backward()
        opt_q.step()
        sched.step()
        with torch.no_grad():  # keep the proposal's std within sane bounds (unit coordinates)
            proposal.log_sigma.clamp_(min=float(np.log(1e-4)), max=float(np.log(2.0)))
        mu_t, sd_t = current()
        history.step.append(step)
        history.mu.append(mu_t.tolist())
        history.sigma.append(sd_t.tolist())
        history.critic_loss.append(loss_d)
        history.wasserstein.append(w)
        history.simulations.append(sims)
        history.elapsed.append(time.perf_counter() - t0)
        if report is not None:
            report(step, total, history)
    mu_last, sigma = current()
    n_avg = max(1, int(round(config.average_last * len(history.mu))))
    mu = np.mean(history.mu[-n_avg:], axis=0) if history.mu else mu_last
    return AVOResult(config, sim, obs, history, mu, sigma, sims, time.perf_counter() - t0, stopped, mu_last)


def _embed(u_free: np.ndarray, free: np.ndarray) -> np.ndarray:
    """(n, n_free) → (n, P) with zeros in the fixed columns."""
    out = np.zeros((len(u_free), len(free)))
    out[:, free] = u_free
    return out


def _check_observed(sim: Simulator, observed: np.ndarray) -> np.ndarray:
    x = np.asarray(observed, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != sim.n_features:
        raise SimulatorError(f"{sim.label} produces {sim.n_features} column(s) "
                             f"({', '.join(sim.feature_names)}); the observed data have shape {x.shape}")
    if len(x) < 2:
        raise SimulatorError("the observed data need at least 2 rows")
    if not np.all(np.isfinite(x)):
        raise SimulatorError("the observed data contain NaN or infinite values")
    return x
