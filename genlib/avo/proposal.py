r"""The proposal q(θ|ψ) of variational optimisation, and its score-function (REINFORCE) gradient.

q is a Gaussian with a diagonal covariance, ψ = (μ, log σ), in the simulator's unit coordinates
u = (θ − lo)/(hi − lo): one learning rate then means the same for E_beam ≈ 42 and G_f ≈ 0.9.

Why by hand: the estimator ∇ψ U = E_q[f(θ) ∇ψ log q(θ|ψ)] is the lesson, so it is written out here (as a
surrogate loss whose autograd gradient IS that estimator) and checked against the closed form in the tests.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["GaussianProposal", "score_function_surrogate", "analytic_score"]

_HALF_LOG_2PI_E = 0.5 * math.log(2.0 * math.pi * math.e)


class GaussianProposal(nn.Module):
    """q(u|ψ) = Π_j N(u_j; μ_j, σ_j²) with learnable μ and log σ (unit coordinates)."""

    def __init__(self, mu: np.ndarray | list[float], sigma: np.ndarray | list[float]):
        super().__init__()
        sigma_arr = np.asarray(sigma, dtype=np.float64)
        if np.any(~np.isfinite(sigma_arr)) or np.any(sigma_arr <= 0):
            raise ValueError(f"the proposal's σ must be positive, got {sigma_arr.tolist()}")
        self.mu = nn.Parameter(torch.as_tensor(np.asarray(mu, dtype=np.float64)))
        self.log_sigma = nn.Parameter(torch.as_tensor(np.log(sigma_arr)))

    @property
    def sigma(self) -> torch.Tensor:
        return self.log_sigma.exp()

    def sample(self, m: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """m draws u ~ q (no gradient: the simulator that consumes them is not differentiable anyway)."""
        with torch.no_grad():
            eps = torch.randn(int(m), self.mu.numel(), generator=generator, dtype=self.mu.dtype)
            return self.mu + self.sigma * eps

    def log_prob(self, u: torch.Tensor) -> torch.Tensor:
        """log q(u|ψ) per row, differentiable in ψ."""
        z = (u - self.mu) / self.sigma
        return (-0.5 * z ** 2 - self.log_sigma - 0.5 * math.log(2.0 * math.pi)).sum(-1)

    def entropy(self) -> torch.Tensor:
        """Closed form for a Gaussian: H(q) = Σ_j (log σ_j + ½ log 2πe)."""
        return (self.log_sigma + _HALF_LOG_2PI_E).sum()


def score_function_surrogate(proposal: GaussianProposal, u: torch.Tensor, f: torch.Tensor,
                             baseline: float | torch.Tensor = 0.0) -> torch.Tensor:
    r"""A scalar whose gradient in ψ is the REINFORCE estimate (1/M) Σ_m (f_m − b) ∇ψ log q(u_m|ψ).

    ``f`` is treated as a constant (detached). Subtracting a baseline b leaves the estimate unbiased because
    E_q[∇ψ log q] = 0, and with b ≈ E_q[f] it cuts the variance."""
    f = f.detach().reshape(-1).to(u.dtype)
    b = torch.as_tensor(baseline, dtype=u.dtype).detach()
    return ((f - b) * proposal.log_prob(u.detach())).mean()


def analytic_score(proposal: GaussianProposal, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """∇μ log q = (u − μ)/σ² and ∇(log σ) log q = (u − μ)²/σ² − 1, row by row (for tests and teaching)."""
    with torch.no_grad():
        d = u - proposal.mu
        s2 = proposal.sigma ** 2
        return d / s2, d ** 2 / s2 - 1.0
