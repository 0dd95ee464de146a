r"""Sequence generators: models that learn a dynamical system from trajectories and then run on their own.

The first one is a reservoir computer (echo state network), the recipe of Pathak, Lu, Hunt, Girvan & Ott (*Chaos*
27, 121102, 2017) that reproduces the Lorenz attractor's Lyapunov spectrum from data. A fixed random recurrent
network (the *reservoir*) is driven by the observed states; only a linear read-out is fitted, by ridge regression,
to predict the next state. Run closed-loop (its own prediction fed back as the next input) it generates a new
trajectory as long as one likes.

Written by hand (numpy): the model is ten lines of linear algebra and those lines are the lesson; no maintained
library offers an ESN with this API. The two details that matter, measured on Lorenz at dt = 0.01: the read-out
predicts the *increment* u(t+1) − u(t), not the state (the state is nearly the input at small dt, and predicting
it left the free run drifting), and half the reservoir nodes enter the read-out squared (Pathak et al.'s trick to
break the tanh network's odd symmetry, which the Lorenz attractor does not have).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from genlib.params import param

from .base import Capability, GenerativeModel, ModelError, register

#: Reservoir states kept from the training trajectories as starting points of generated trajectories.
N_STARTS = 64
#: Free-running chains :meth:`EchoStateNetwork.sample` runs in parallel, and the steps between two kept states.
SAMPLE_CHAINS, SAMPLE_THIN = 16, 5


@dataclass
class ESNConfig:
    reservoir: int = param(400, "nodes of the fixed random recurrent network", range=(10, 3000),
                           label="reservoir nodes N")
    degree: float = param(3.0, "mean number of connections per node (the reservoir matrix is sparse)",
                          range=(1.0, 50.0), label="connections per node")
    spectral_radius: float = param(1.0, "largest |eigenvalue| of the reservoir matrix: how long it remembers",
                                   range=(0.05, 2.0), label="spectral radius ρ(A)")
    input_scale: float = param(0.1, "input weights are uniform in ±σ, one input per node",
                               range=(0.001, 10.0), log=True, label="input scale σ")
    leak: float = param(1.0, "leak rate α: r ← (1−α)·r + α·tanh(A r + W_in u)", range=(0.01, 1.0),
                        label="leak rate α")
    ridge: float = param(1e-6, "ridge penalty β of the read-out's least squares", range=(1e-12, 10.0), log=True,
                         label="ridge penalty β")
    washout: int = param(200, "steps of each training trajectory driven before the read-out is fitted",
                         range=(0, 100000), label="wash-out steps")
    seed: int = param(0, "seed of the random reservoir and input weights", range=(0, 2**32 - 1),
                      label="reservoir seed")


@register
class EchoStateNetwork(GenerativeModel):
    """Reservoir computer (echo state network): a fixed random recurrent network, a ridge-regression read-out."""

    name = "esn"
    label = "Echo state network (reservoir computer)"
    family = "Sequence"
    Config = ESNConfig
    capabilities = frozenset({Capability.SAMPLE, Capability.SEQUENCE})
    iterative = False
    needs_series = True
    default_steps = 1
    formula = (r"\begin{aligned}r_{t+1} &= (1-\alpha)\,r_t + \alpha\tanh(A\,r_t + W_{\mathrm{in}}\,u_t)\\"
               r"u_{t+1} &= u_t + W_{\mathrm{out}}\,\phi(r_{t+1})\\"
               r"W_{\mathrm{out}} &= \arg\min_W \textstyle\sum_t \lVert u_{t+1}-u_t - W\phi(r_{t+1})\rVert^2"
               r" + \beta\lVert W\rVert^2\end{aligned}")
    summary = ("A reservoir computer: a large random recurrent network r, fixed once drawn, is driven by the "
               "observed states u. Only the linear read-out W_out is learned, in one ridge regression, so "
               "that it predicts the next step's change from the reservoir's state (φ squares half the "
               "nodes). To generate, the prediction is fed back as the next input and the network runs on "
               "its own: a new trajectory, as long as you like. Trained on Lorenz trajectories it keeps "
               "the chaos: the generated trajectories have the real largest Lyapunov exponent.")

    @classmethod
    def memory_estimate(cls, n_features: int, config: Any = None, batch_size: int = 256, n_rows: int = 0) -> int:
        """The N × N reservoir (float64, twice while it is scaled), the normal equations (N+1)², the kept starts."""
        c = config if config is not None else ESNConfig()
        n = int(c.reservoir)
        return int(8 * (3 * n * n + (n + 1) ** 2 + N_STARTS * (n + n_features) + 4 * n * int(n_features)))

    def __init__(self, config: ESNConfig, n_features: int, device: torch.device | str = "cpu", n_classes: int = 0,
                 image_shape: tuple[int, ...] | None = None):
        super().__init__(config, n_features, device, n_classes, image_shape)
        self.A, self.W_in = _reservoir(config, self.n_features)
        self.W_out: np.ndarray | None = None
        self.starts_r: np.ndarray | None = None
        self.starts_u: np.ndarray | None = None

    # --- the network --------------------------------------------------------------------------------
    def _step(self, r: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Reservoir states (k, N) after one step driven by inputs u (k, d)."""
        a = float(self.config.leak)
        return (1.0 - a) * r + a * np.tanh(r @ self.A.T + u @ self.W_in.T)

    @staticmethod
    def _features(r: np.ndarray) -> np.ndarray:
        """φ(r): every other node squared, and a constant 1 (the read-out's bias)."""
        f = r.copy()
        f[:, ::2] **= 2
        return np.concatenate([f, np.ones((len(r), 1))], axis=1)

    # --- training -----------------------------------------------------------------------------------
    def fit(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        """Drive the reservoir along each training trajectory (``labels``: which trajectory each row belongs to,
        rows in time order; None: one trajectory) and fit the read-out by ridge regression on the normal
        equations, accumulated trajectory by trajectory (never the whole T × N design matrix in memory)."""
        data = x.detach().cpu().double().numpy()
        ids = np.zeros(len(data), dtype=np.int64) if labels is None else labels.detach().cpu().numpy()
        segments = [data[ids == k] for k in np.unique(ids)]
        washout = int(self.config.washout)
        usable = [s for s in segments if len(s) > washout + 2]
        if not usable:
            raise ModelError(f"esn needs trajectories longer than the wash-out ({washout} steps) + 2; the longest "
                             f"here has {max((len(s) for s in segments), default=0)} rows. Use a longer trajectory "
                             "or a shorter wash-out.")
        n = self.A.shape[0]
        gram, cross = np.zeros((n + 1, n + 1)), np.zeros((n + 1, self.n_features))
        starts_r, starts_u, first = [], [], None
        rng = np.random.default_rng(int(self.config.seed) + 1)
        for seg in usable:
            states = np.empty((len(seg) - 1, n))
            r = np.zeros((1, n))
            for t in range(len(seg) - 1):
                r = self._step(r, seg[t:t + 1])
                states[t] = r[0]
            phi = self._features(states[washout:])
            target = seg[washout + 1:] - seg[washout:-1]
            gram += phi.T @ phi
            cross += phi.T @ target
            first = first if first is not None else (phi, target)
            keep = rng.choice(np.arange(washout, len(seg) - 1), size=min(N_STARTS, len(seg) - 1 - washout),
                              replace=False)
            starts_r.append(states[keep])
            starts_u.append(seg[keep + 1])
        ridge = float(self.config.ridge) * np.eye(n + 1)
        self.W_out = np.linalg.solve(gram + ridge, cross).T
        self.starts_r, self.starts_u = np.concatenate(starts_r), np.concatenate(starts_u)
        # One-step error of the fitted read-out on the first trajectory, relative to the size of a step.
        phi, step = first
        residual = float(np.sqrt(((phi @ self.W_out.T - step) ** 2).mean()))
        return {"loss": residual / max(float(np.sqrt((step ** 2).mean())), 1e-12)}

    def _fitted(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.W_out is None or self.starts_r is None or self.starts_u is None:
            raise RuntimeError("esn is not fitted yet")
        return self.W_out, self.starts_r, self.starts_u

    # --- generating ---------------------------------------------------------------------------------
    def run_free(self, r: np.ndarray, u: np.ndarray, steps: int) -> np.ndarray:
        """Closed loop from reservoir states r (k, N) and inputs u (k, d): (k, steps, d), the first row the state
        after one step. A trajectory that leaves the numbers (overflow) is NaN from there on."""
        w_out, _, _ = self._fitted()
        out = np.empty((len(u), int(steps), self.n_features))
        with np.errstate(over="ignore", invalid="ignore"):
            for t in range(int(steps)):
                r = self._step(r, u)
                u = u + self._features(r) @ w_out.T
                out[:, t] = u
        return out

    def _starts(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """k starting points (reservoir state, input) drawn with the model's own generator from the states kept
        along the training trajectories: generated trajectories begin on the attractor, each its own way."""
        _, starts_r, starts_u = self._fitted()
        pick = torch.randint(len(starts_r), (int(k),), generator=self.rng, device=self.device).cpu().numpy()
        return starts_r[pick].copy(), starts_u[pick].copy()

    @torch.no_grad()
    def generate_trajectories(self, n: int, steps: int) -> torch.Tensor:
        """n free-running trajectories of ``steps`` states each, shape (n, steps, d), in model space."""
        if n < 1 or steps < 1:
            raise ModelError(f"n and steps must be at least 1 (got {n}, {steps})")
        r, u = self._starts(n)
        return torch.as_tensor(self.run_free(r, u, steps), dtype=torch.float32, device=self.device)

    def largest_exponent_per_step(self, n_starts: int = 4, steps: int = 10_000, transient: int = 500) -> float:
        """Benettin's method on the model's own equations: the largest Lyapunov exponent of the closed-loop map
        (r, u) → (r', u'), per step (divide by dt for per time unit). A tangent vector (δr, δu) is pushed through the
        map's Jacobian along a free run, renormalised every step, its log growth averaged after ``transient`` steps;
        the mean over ``n_starts`` starts. The map lives in the model's standardised space: a linear change of
        coordinates leaves the exponents as they are."""
        w_out, _, _ = self._fitted()
        a = float(self.config.leak)
        r, u = self._starts(n_starts)
        rng = np.random.default_rng(int(self.config.seed) + 2)
        dr, du = rng.standard_normal(r.shape), rng.standard_normal(u.shape)
        squared = np.zeros(r.shape[1], dtype=bool)
        squared[::2] = True
        growth = np.zeros(len(r))
        with np.errstate(over="ignore", invalid="ignore"):
            for t in range(transient + int(steps)):
                pre = r @ self.A.T + u @ self.W_in.T
                slope = 1.0 - np.tanh(pre) ** 2
                r = (1.0 - a) * r + a * np.tanh(pre)
                dr = (1.0 - a) * dr + a * slope * (dr @ self.A.T + du @ self.W_in.T)
                dphi = np.where(squared, 2.0 * r * dr, dr)
                u = u + self._features(r) @ w_out.T
                du = du + dphi @ w_out[:, :-1].T
                norm = np.sqrt((dr ** 2).sum(axis=1) + (du ** 2).sum(axis=1))
                dr, du = dr / norm[:, None], du / norm[:, None]
                if t >= transient:
                    growth += np.log(norm)
        return float(np.mean(growth / int(steps)))

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """n states on the generated attractor: :data:`SAMPLE_CHAINS` free runs, one state every
        :data:`SAMPLE_THIN` steps (neighbouring states of one trajectory are nearly the same point)."""
        chains = min(SAMPLE_CHAINS, int(n))
        per_chain = -(-int(n) // chains)
        r, u = self._starts(chains)
        states = self.run_free(r, u, per_chain * SAMPLE_THIN)[:, SAMPLE_THIN - 1::SAMPLE_THIN]
        return torch.as_tensor(states.reshape(-1, self.n_features)[:n], dtype=torch.float32, device=self.device)

    # --- persistence --------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor]:
        w_out, starts_r, starts_u = self._fitted()
        return {name: torch.as_tensor(value) for name, value in (
            ("A", self.A), ("W_in", self.W_in), ("W_out", w_out), ("starts_r", starts_r), ("starts_u", starts_u))}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        arrays = {k: v.detach().cpu().double().numpy() for k, v in state.items()}
        n = arrays["A"].shape[0]
        expected = {"A": (n, n), "W_in": (n, self.n_features), "W_out": (self.n_features, n + 1)}
        for key, shape in expected.items():
            if arrays[key].shape != shape:
                raise ModelError(f"esn checkpoint: {key} has shape {arrays[key].shape}, expected {shape}")
        self.A, self.W_in, self.W_out = arrays["A"], arrays["W_in"], arrays["W_out"]
        self.starts_r, self.starts_u = arrays["starts_r"], arrays["starts_u"]


def _reservoir(config: ESNConfig, d: int) -> tuple[np.ndarray, np.ndarray]:
    """The fixed random weights: a sparse N × N matrix A (about ``degree`` non-zeros per row, uniform in ±1)
    scaled to the spectral radius, and W_in with one input coordinate per node, uniform in ±σ."""
    n = int(config.reservoir)
    rng = np.random.default_rng(int(config.seed))
    mask = rng.random((n, n)) < min(1.0, float(config.degree) / n)
    a = np.where(mask, rng.uniform(-1.0, 1.0, (n, n)), 0.0)
    radius = float(np.max(np.abs(np.linalg.eigvals(a)))) if mask.any() else 0.0
    if radius > 0:
        a *= float(config.spectral_radius) / radius
    w_in = np.zeros((n, d))
    w_in[np.arange(n), rng.integers(0, d, n)] = rng.uniform(-float(config.input_scale), float(config.input_scale), n)
    return a, w_in


@dataclass
class NeuralMapConfig:
    width: int = param(256, "hidden units per layer of the step network f", range=(8, 1024), label="hidden width")
    depth: int = param(2, "hidden layers of f", range=(1, 6), label="hidden layers")
    horizon: int = param(2, "steps the loss follows the model's own prediction before comparing (multi-step "
                         "rollout); 1 is one-step regression", range=(1, 64), label="rollout horizon K")
    lr: float = param(2e-3, "Adam's learning rate (decays to a tenth by the last step, on a cosine)",
                      range=(1e-5, 1e-1), log=True, label="learning rate")


class _StepNet(torch.nn.Module):
    """f: state → change of state over one step, in units of the data's typical step."""

    def __init__(self, d: int, width: int, depth: int):
        super().__init__()
        layers: list[torch.nn.Module] = [torch.nn.Linear(d, width), torch.nn.SiLU()]
        for _ in range(depth - 1):
            layers += [torch.nn.Linear(width, width), torch.nn.SiLU()]
        layers.append(torch.nn.Linear(width, d))
        self.net = torch.nn.Sequential(*layers)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.net(u)


@register
class NeuralMap(GenerativeModel):
    """A neural step map u_{t+1} = u_t + s·f_θ(u_t), trained by gradient descent on multi-step rollouts."""

    name = "neural_map"
    label = "Neural step map (MLP trained on rollouts)"
    family = "Sequence"
    Config = NeuralMapConfig
    capabilities = frozenset({Capability.SAMPLE, Capability.SEQUENCE})
    needs_series = True
    #: Measured on lorenz_series (benchmarks/sequence_lyapunov.py): 10,000 steps of width 256, K = 2 meet every
    #: target at dt = 0.01 and 0.1 in about a minute of CPU; K = 8 at dt = 0.1 read the exponent 2× too high (a
    #: long rollout of a chaotic map is dominated by what cannot be predicted) and K = 32 did not learn.
    default_steps = 10_000
    formula = (r"\begin{aligned}\hat u_{t+1} &= \hat u_t + s\,f_\theta(\hat u_t),\quad \hat u_0 = u_0\\"
               r"\mathcal{L}(\theta) &= \frac{1}{K}\sum_{k=1}^{K}\frac{\lVert \hat u_k - u_k\rVert^2}{s^2}"
               r"\end{aligned}")
    summary = ("A neural network f learns one step of the dynamics: the next state is the current one plus "
               "s·f(state), s the data's typical step. The loss follows the model's own predictions for K steps "
               "before comparing them with the real trajectory, so the network learns to correct its own errors, "
               "which is what keeps a long free run on the attractor. Unlike the echo state network every weight is "
               "trained, by gradient descent, and the model has explicit equations: its Lyapunov exponent can be "
               "computed from them (Benettin's method on its Jacobian).")

    def __init__(self, config: NeuralMapConfig, n_features: int, device: torch.device | str = "cpu",
                 n_classes: int = 0, image_shape: tuple[int, ...] | None = None):
        super().__init__(config, n_features, device, n_classes, image_shape)
        self.f = _StepNet(self.n_features, int(config.width), int(config.depth)).to(self.device)
        self.opt = torch.optim.Adam(self.f.parameters(), lr=float(config.lr))
        self.scale = torch.ones(self.n_features, device=self.device)
        self.starts = torch.zeros(0, self.n_features, device=self.device)

    # --- training -----------------------------------------------------------------------------------
    def training_rows(self, x: torch.Tensor, labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Windows of K + 1 consecutive states of one trajectory, flattened: (windows, (K+1)·d). Also sets s (the
        typical step, per coordinate) and keeps states of the training trajectories as starts for generation."""
        k = int(self.config.horizon)
        ids = torch.zeros(len(x), dtype=torch.long, device=x.device) if labels is None else labels.long()
        windows, steps = [], []
        for i in torch.unique(ids):
            seg = x[ids == i]
            if len(seg) > k:
                windows.append(seg.unfold(0, k + 1, 1).transpose(1, 2).reshape(-1, (k + 1) * self.n_features))
                steps.append(seg[1:] - seg[:-1])
        if not windows:
            raise ModelError(f"neural_map needs trajectories longer than its rollout horizon ({k} steps)")
        self.scale = torch.cat(steps).std(dim=0).clamp_min(1e-8).to(self.device)
        rows = torch.cat(windows)
        pick = torch.randint(len(rows), (min(N_STARTS, len(rows)),), generator=self.rng, device=self.device)
        self.starts = rows[pick, : self.n_features].clone()
        return rows, None

    def _step(self, u: torch.Tensor) -> torch.Tensor:
        return u + self.scale * self.f(u)

    def train_step(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        k = int(self.config.horizon)
        w = batch.view(len(batch), k + 1, self.n_features)
        progress = min(1.0, self.steps_done / max(1, self.total_steps))
        for group in self.opt.param_groups:   # cosine decay to a tenth: the last steps polish the map
            group["lr"] = float(self.config.lr) * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * progress)))
        u, loss = w[:, 0], 0.0
        for t in range(1, k + 1):
            u = self._step(u)
            loss = loss + (((u - w[:, t]) / self.scale) ** 2).mean()
        loss = loss / k
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": float(loss.detach())}

    # --- generating ---------------------------------------------------------------------------------
    @torch.no_grad()
    def run_free(self, u: torch.Tensor, steps: int) -> torch.Tensor:
        """Closed loop from states u (k, d): (k, steps, d), the first row the state after one step."""
        out = torch.empty(len(u), int(steps), self.n_features, device=self.device)
        with self.evaluating():
            for t in range(int(steps)):
                u = self._step(u)
                out[:, t] = u
        return out

    def _starts(self, k: int) -> torch.Tensor:
        if len(self.starts) == 0:
            raise RuntimeError("neural_map is not trained yet")
        pick = torch.randint(len(self.starts), (int(k),), generator=self.rng, device=self.device)
        return self.starts[pick].clone()

    @torch.no_grad()
    def generate_trajectories(self, n: int, steps: int) -> torch.Tensor:
        if n < 1 or steps < 1:
            raise ModelError(f"n and steps must be at least 1 (got {n}, {steps})")
        return self.run_free(self._starts(n), steps)

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """n states on the generated attractor (as :meth:`EchoStateNetwork.sample`)."""
        chains = min(SAMPLE_CHAINS, int(n))
        per_chain = -(-int(n) // chains)
        states = self.run_free(self._starts(chains), per_chain * SAMPLE_THIN)[:, SAMPLE_THIN - 1::SAMPLE_THIN]
        return states.reshape(-1, self.n_features)[:n]

    def largest_exponent_per_step(self, n_starts: int = 4, steps: int = 10_000, transient: int = 500) -> float:
        """Benettin's method on the model's own equations: a tangent vector pushed through the Jacobian of the step
        map (a Jacobian-vector product) along a free run, renormalised every step; mean log growth per step."""
        u = self._starts(n_starts)
        du = torch.randn(u.shape, generator=self.rng, device=self.device)
        growth = torch.zeros(len(u), device=self.device, dtype=torch.float64)
        with self.evaluating():
            for t in range(transient + int(steps)):
                u, du = torch.func.jvp(self._step, (u,), (du,))
                u, du = u.detach(), du.detach()
                norm = du.norm(dim=1)
                du = du / norm[:, None]
                if t >= transient:
                    growth += torch.log(norm).double()
        return float((growth / int(steps)).mean())

    # --- persistence --------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor]:
        out = {f"f.{k}": v for k, v in self.f.state_dict().items()}
        out.update(scale=self.scale, starts=self.starts)
        return out

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.f.load_state_dict({k[2:]: v for k, v in state.items() if k.startswith("f.")})
        self.scale = state["scale"].to(self.device)
        self.starts = state["starts"].to(self.device)
