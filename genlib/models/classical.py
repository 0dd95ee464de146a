"""Classical density models fitted in one call (seed 000's parametric vs non-parametric, seed 003's GMM).

They share the neural models' ``sample`` / ``log_prob`` surface so every page and metric treats them alike.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.mixture import GaussianMixture

from .base import GenerativeModel, param, register

_COV_TYPES = ("full", "tied", "diag", "spherical")


@dataclass
class GMMConfig:
    n_components: int = param(8, "number of Gaussian components K", range=(1, 200))
    covariance_type: str = param("full", "shape of each component's covariance", choices=_COV_TYPES)
    max_iter: int = param(500, "EM iterations at most", range=(10, 10000))
    reg_covar: float = param(1e-6, "added to covariance diagonals for stability", range=(0.0, 1.0), log=True)
    seed: int = param(0, "seed of the k-means initialisation", range=(0, 2**31 - 1))


@register
class GMM(GenerativeModel):
    """Gaussian mixture p(x) = Σ_k π_k N(x; μ_k, Σ_k), fitted by EM (scikit-learn's ``GaussianMixture``)."""

    name = "gmm"
    label = "Gaussian mixture model (scikit-learn EM)"
    family = "Classical"
    Config = GMMConfig
    capabilities = frozenset({"sample", "log_prob"})
    iterative = False
    default_steps = 1
    formula = r"p(x) = \sum_{k=1}^{K} \pi_k\,\mathcal{N}(x;\,\mu_k,\Sigma_k)"
    summary = ("K Gaussian bumps, each with its own weight, centre and covariance, fitted by "
               "expectation-maximisation. Sampling picks a component k with probability π_k, then draws from "
               "its Gaussian. The density is exact, so every point gets a log-likelihood (seed 003).")

    def __init__(self, config: GMMConfig, n_features: int, device: torch.device | str = "cpu",
                 n_classes: int = 0):
        super().__init__(config, n_features, device, n_classes)
        self.gmm: GaussianMixture | None = None

    def fit(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        c = self.config
        data = x.detach().cpu().double().numpy()
        k = min(c.n_components, len(data))
        self.gmm = GaussianMixture(k, covariance_type=c.covariance_type, max_iter=c.max_iter,
                                   reg_covar=c.reg_covar, random_state=c.seed).fit(data)
        return {"loss": float(-self.gmm.score(data)), "converged": float(self.gmm.converged_)}

    def _fitted(self) -> GaussianMixture:
        if self.gmm is None:
            raise RuntimeError("GMM is not fitted yet")
        return self.gmm

    def full_covariances(self) -> np.ndarray:
        """(K, d, d) covariances whatever the covariance type, for sampling and drawing ellipses."""
        g = self._fitted()
        k, d = g.means_.shape
        cov = g.covariances_
        if g.covariance_type == "full":
            return cov
        if g.covariance_type == "tied":
            return np.broadcast_to(cov, (k, d, d)).copy()
        if g.covariance_type == "diag":
            return np.stack([np.diag(c) for c in cov])
        return np.stack([np.eye(d) * c for c in cov])

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Ancestral sampling with the model's generator (scikit-learn's own ``sample`` returns rows grouped
        by component and has its own RNG, so a seeded job would not reproduce it)."""
        g = self._fitted()
        weights = torch.as_tensor(g.weights_, dtype=torch.float64)
        cpu_rng = torch.Generator().manual_seed(int(torch.randint(2**62, (1,), generator=self.rng, device=self.device)))
        comp = torch.multinomial(weights, n, replacement=True, generator=cpu_rng)
        chol = torch.linalg.cholesky(torch.as_tensor(self.full_covariances(), dtype=torch.float64))
        eps = torch.randn(n, self.n_features, dtype=torch.float64, generator=cpu_rng)
        means = torch.as_tensor(g.means_, dtype=torch.float64)
        x = means[comp] + torch.einsum("nij,nj->ni", chol[comp], eps)
        return x.float().to(self.device)

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        scores = self._fitted().score_samples(x.detach().cpu().double().numpy())
        return torch.as_tensor(scores, dtype=torch.float32, device=self.device)

    def state_dict(self) -> dict[str, torch.Tensor]:
        g = self._fitted()
        return {
            "weights": torch.as_tensor(g.weights_),
            "means": torch.as_tensor(g.means_),
            "covariances": torch.as_tensor(np.asarray(g.covariances_)),
            "precisions_cholesky": torch.as_tensor(np.asarray(g.precisions_cholesky_)),
        }

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        c = self.config
        g = GaussianMixture(len(state["weights"]), covariance_type=c.covariance_type, random_state=c.seed)
        g.weights_ = state["weights"].double().numpy()
        g.means_ = state["means"].double().numpy()
        g.covariances_ = state["covariances"].double().numpy()
        g.precisions_cholesky_ = state["precisions_cholesky"].double().numpy()
        g.converged_ = True
        self.gmm = g
