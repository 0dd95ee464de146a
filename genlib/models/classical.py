"""Classical density models fitted in one call (seed 000's parametric vs non-parametric, seed 003's GMM).

- ``gaussian``: one multivariate Gaussian, maximum likelihood (the parametric baseline).
- ``copula``: Gaussian copula with empirical marginals (exact marginals by construction, Gaussian dependence).
- ``kde``: kernel density estimate (scikit-learn), the non-parametric baseline.
- ``gmm``: Gaussian mixture fitted by EM (scikit-learn).

They share the neural models' ``sample`` / ``log_prob`` surface so every page and metric treats them alike, and
they all sample with the model's own generator, so a seeded job reproduces its rows.
"""
from __future__ import annotations

from dataclasses import dataclass

import math
from typing import Any

import numpy as np
import torch
from scipy.special import ndtr, ndtri
from scipy.stats import rankdata
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KernelDensity

from genlib.params import param
from genlib.sources import cite

from .base import Capability, GenerativeModel, ModelError, model_config, register

_COV_TYPES = ("full", "tied", "diag", "spherical")


@dataclass
class GMMConfig:
    n_components: int = param(8, "number of Gaussian components K", range=(1, 200), label="components K")
    covariance_type: str = param("full", "shape of each component's covariance", choices=_COV_TYPES,
                                 label="covariance shape")
    max_iter: int = param(500, "EM iterations at most", range=(10, 10000), label="EM iterations (at most)")
    reg_covar: float = param(1e-6, "added to covariance diagonals for stability", range=(0.0, 1.0), log=True,
                             label="covariance regularisation (added to the diagonal)")
    seed: int = param(0, "seed of the k-means initialisation", range=(0, 2**31 - 1), label="random seed")


@register
class GMM(GenerativeModel):
    """Gaussian mixture p(x) = Σ_k π_k N(x; μ_k, Σ_k), fitted by EM (scikit-learn's ``GaussianMixture``)."""

    name = "gmm"
    label = "Gaussian mixture model (scikit-learn EM)"
    family = "Classical"
    Config = GMMConfig
    capabilities = frozenset({Capability.SAMPLE, Capability.LOG_PROB})
    iterative = False
    default_steps = 1
    formula = r"p(x) = \sum_{k=1}^{K} \pi_k\,\mathcal{N}(x;\,\mu_k,\Sigma_k)"
    summary = ("K Gaussian bumps, each with its own weight, centre and covariance, fitted by "
               "expectation-maximisation. Sampling picks a component k with probability π_k, then draws from "
               f"its Gaussian. The density is exact, so every point gets a log-likelihood ({cite('astro_lecture')}).")

    @classmethod
    def memory_estimate(cls, n_features: int, config: Any = None, batch_size: int = 256, n_rows: int = 0) -> int:
        """EM's float64 arrays: K covariances, their Cholesky factors and precisions (K · d² · 8 bytes each for
        full covariances, d² for tied, K · d for diag/spherical), plus the n × K responsibilities and a copy of
        the data."""
        c = config if config is not None else model_config(cls)
        k, d, n = int(c.n_components), int(n_features), int(n_rows)
        per = {"full": k * d * d, "tied": d * d}.get(c.covariance_type, k * d)
        return int(3 * per * 8 + n * (2 * k + 2 * d) * 8)

    def __init__(self, config: GMMConfig, n_features: int, device: torch.device | str = "cpu",
                 n_classes: int = 0, image_shape: tuple[int, ...] | None = None):
        super().__init__(config, n_features, device, n_classes, image_shape)
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


# ============================================================================ shared helpers

def _as_numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().double().numpy()


def _cpu_generator(model: GenerativeModel) -> torch.Generator:
    """A CPU generator seeded from the model's own one: reproducible for a seeded job, independent of torch's
    global RNG (which concurrent jobs share), and the same on CPU and CUDA models."""
    seed = int(torch.randint(2**62, (1,), generator=model.rng, device=model.device))
    return torch.Generator().manual_seed(seed)


def _numpy_seed(model: GenerativeModel) -> int:
    """A 32-bit seed drawn from the model's generator, for scikit-learn's ``random_state``."""
    return int(torch.randint(2**32 - 1, (1,), generator=model.rng, device=model.device))


def _gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, chol: torch.Tensor) -> torch.Tensor:
    """log N(x; μ, LLᵀ) row by row, in float64."""
    diff = (x.double() - mean).T                                     # (d, n)
    w = torch.linalg.solve_triangular(chol, diff, upper=False)       # L⁻¹(x − μ)
    log_det = 2 * torch.log(torch.diagonal(chol)).sum()
    d = mean.shape[0]
    return -0.5 * ((w * w).sum(0) + log_det + d * math.log(2 * math.pi))


def _nearest_pd_cholesky(cov: np.ndarray) -> torch.Tensor:
    """Cholesky factor of a symmetric matrix, adding a growing jitter if round-off left it indefinite."""
    cov = 0.5 * (cov + cov.T)
    jitter = 0.0
    for _ in range(8):
        try:
            return torch.linalg.cholesky(torch.as_tensor(cov + jitter * np.eye(len(cov)), dtype=torch.float64))
        except RuntimeError:
            jitter = max(1e-10, 10 * jitter)
    raise ModelError("the covariance matrix is not positive definite even after regularisation")


# ============================================================================ multivariate Gaussian

@dataclass
class GaussianConfig:
    reg_covar: float = param(1e-6, "added to the covariance diagonal for stability", range=(0.0, 1.0), log=True,
                             label="covariance regularisation (added to the diagonal)")


@register
class Gaussian(GenerativeModel):
    """One multivariate Gaussian with maximum-likelihood mean and covariance: the parametric baseline."""

    name = "gaussian"
    label = "Multivariate Gaussian (maximum likelihood)"
    family = "Classical"
    Config = GaussianConfig
    capabilities = frozenset({Capability.SAMPLE, Capability.LOG_PROB})
    iterative = False
    default_steps = 1
    formula = (r"\begin{aligned}p(x) &= \mathcal{N}(x;\,\hat\mu,\hat\Sigma)\\"
               r"\hat\mu &= \tfrac{1}{n}\textstyle\sum_i x_i\\"
               r"\hat\Sigma &= \tfrac{1}{n}\textstyle\sum_i (x_i-\hat\mu)(x_i-\hat\mu)^\top + \varepsilon I"
               r"\end{aligned}")
    summary = ("The simplest parametric model: one bell-shaped cloud with the data's mean and covariance, which "
               "are exactly the maximum-likelihood estimates. It captures linear correlations but every "
               "marginal is symmetric and light-tailed, so skewed or heavy-tailed columns are fitted poorly. "
               "Sampling is x = μ + Lε with ε ~ N(0, I) and LLᵀ = Σ; the log-likelihood is exact.")

    @classmethod
    def memory_estimate(cls, n_features: int, config: Any = None, batch_size: int = 256, n_rows: int = 0) -> int:
        """The d × d covariance, its Cholesky factor and working copies (float64), plus a copy of the data."""
        d, n = int(n_features), int(n_rows)
        return int(4 * d * d * 8 + 2 * n * d * 8)

    def __init__(self, config: GaussianConfig, n_features: int, device: torch.device | str = "cpu",
                 n_classes: int = 0, image_shape: tuple[int, ...] | None = None):
        super().__init__(config, n_features, device, n_classes, image_shape)
        self.mean: torch.Tensor | None = None
        self.covariance: torch.Tensor | None = None
        self.chol: torch.Tensor | None = None

    def fit(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        data = _as_numpy(x)
        d = data.shape[1]
        cov = np.cov(data.T, bias=True).reshape(d, d) + self.config.reg_covar * np.eye(d)
        self._set(torch.as_tensor(data.mean(0)), torch.as_tensor(cov))
        return {"loss": float(-self.log_prob(x).double().mean())}

    def _set(self, mean: torch.Tensor, cov: torch.Tensor) -> None:
        self.mean, self.covariance = mean.double().cpu(), cov.double().cpu()
        self.chol = _nearest_pd_cholesky(self.covariance.numpy())

    def _fitted(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mean is None or self.chol is None:
            raise RuntimeError("gaussian is not fitted yet")
        return self.mean, self.chol

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        mean, chol = self._fitted()
        eps = torch.randn(n, self.n_features, dtype=torch.float64, generator=_cpu_generator(self))
        return (mean + eps @ chol.T).float().to(self.device)

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        mean, chol = self._fitted()
        return _gaussian_log_prob(x.detach().cpu(), mean, chol).float().to(self.device)

    def state_dict(self) -> dict[str, torch.Tensor]:
        self._fitted()
        return {"mean": self.mean.clone(), "covariance": self.covariance.clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self._set(state["mean"], state["covariance"])


# ============================================================================ Gaussian copula

@dataclass
class CopulaConfig:
    shrinkage: float = param(0.0, "shrink the copula correlation towards the identity: R ← (1−λ)R + λI",
                             range=(0.0, 1.0), label="shrinkage λ towards independence")


@register
class GaussianCopula(GenerativeModel):
    """Gaussian copula with empirical marginals (sampling only: it has no density on continuous space)."""

    name = "copula"
    label = "Gaussian copula with empirical marginals"
    family = "Classical"
    Config = CopulaConfig
    capabilities = frozenset({Capability.SAMPLE})
    iterative = False
    default_steps = 1
    formula = (r"\begin{aligned}\hat R &= \mathrm{corr}\Big(\Phi^{-1}\big(\tfrac{\mathrm{rank}(x_{ij})}{n+1}\big)"
               r"\Big)\\"
               r"z &\sim \mathcal{N}(0,\hat R),\quad u_j = \Phi(z_j)\\"
               r"x_j &= \hat F_j^{-1}(u_j)\end{aligned}")
    summary = ("Splits the data into its marginals (one distribution per column) and its dependence (the "
               "copula). Each column keeps its own empirical distribution, so the marginals are right by "
               "construction; the dependence is a Gaussian one, estimated as the correlation of the normal "
               "scores Φ⁻¹(rank/(n+1)). Sampling draws correlated normals, maps them to uniforms with Φ and "
               "reads each column's empirical quantile; it never goes beyond the training range.")

    @classmethod
    def memory_estimate(cls, n_features: int, config: Any = None, batch_size: int = 256, n_rows: int = 0) -> int:
        """The d × d copula correlation, its Cholesky factor and working copies (float64), plus the data, its
        normal scores and the sorted marginals."""
        d, n = int(n_features), int(n_rows)
        return int(4 * d * d * 8 + 4 * n * d * 8)

    def __init__(self, config: CopulaConfig, n_features: int, device: torch.device | str = "cpu",
                 n_classes: int = 0, image_shape: tuple[int, ...] | None = None):
        super().__init__(config, n_features, device, n_classes, image_shape)
        self.sorted_marginals: torch.Tensor | None = None    # (n, d): each training column, sorted
        self.correlation: torch.Tensor | None = None         # (d, d)
        self.chol: torch.Tensor | None = None

    @staticmethod
    def normal_scores(data: np.ndarray) -> np.ndarray:
        """Φ⁻¹(rank/(n+1)) per column (average ranks for ties): the data with standard-normal marginals."""
        return ndtri(rankdata(data, axis=0) / (len(data) + 1))

    def fit(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        data = _as_numpy(x)
        if len(data) < 2:
            raise ModelError("the copula needs at least 2 training rows")
        d = data.shape[1]
        scores = self.normal_scores(data)
        constant = scores.std(axis=0) == 0          # e.g. an always-blank pixel: no dependence to estimate
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.corrcoef(scores.T).reshape(d, d) if d > 1 else np.ones((1, 1))
        corr[constant, :] = 0.0
        corr[:, constant] = 0.0
        np.fill_diagonal(corr, 1.0)
        lam = self.config.shrinkage
        corr = (1 - lam) * corr + lam * np.eye(d)
        self._set(torch.as_tensor(np.sort(data, axis=0)), torch.as_tensor(corr))
        # What "loss" reports: the copula's negative log-likelihood per row at the normal scores,
        # −log c(u) = ½ log det R + ½ zᵀ(R⁻¹ − I)z  (the marginals are empirical, so they add no likelihood term).
        z = torch.as_tensor(scores)
        nll = -(_gaussian_log_prob(z, torch.zeros(d, dtype=torch.float64), self.chol)
                + 0.5 * (z * z).sum(1) + 0.5 * d * math.log(2 * math.pi))
        return {"loss": float(nll.mean())}

    def _set(self, sorted_marginals: torch.Tensor, corr: torch.Tensor) -> None:
        self.sorted_marginals = sorted_marginals.double().cpu()
        self.correlation = corr.double().cpu()
        self.chol = _nearest_pd_cholesky(self.correlation.numpy())

    def quantile(self, u: np.ndarray) -> np.ndarray:
        """Empirical quantile function of each training column: the order statistics x_(k) sit at probability
        (k − ½)/n and values in between are interpolated linearly; u beyond the ends gives the min / max."""
        if self.sorted_marginals is None:
            raise RuntimeError("copula is not fitted yet")
        srt = self.sorted_marginals.numpy()
        n = len(srt)
        p = (np.arange(1, n + 1) - 0.5) / n
        return np.stack([np.interp(u[:, j], p, srt[:, j]) for j in range(srt.shape[1])], axis=1)

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.chol is None:
            raise RuntimeError("copula is not fitted yet")
        eps = torch.randn(n, self.n_features, dtype=torch.float64, generator=_cpu_generator(self))
        u = ndtr((eps @ self.chol.T).numpy())
        return torch.as_tensor(self.quantile(u), dtype=torch.float32, device=self.device)

    def state_dict(self) -> dict[str, torch.Tensor]:
        if self.sorted_marginals is None or self.correlation is None:
            raise RuntimeError("copula is not fitted yet")
        return {"sorted_marginals": self.sorted_marginals.clone(), "correlation": self.correlation.clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self._set(state["sorted_marginals"], state["correlation"])


# ============================================================================ kernel density estimate

_BANDWIDTH_RULES = ("scott", "silverman", "manual")


def rule_of_thumb_bandwidth(data: np.ndarray, rule: str) -> float:
    """Scott's n^(−1/(d+4)) or Silverman's (n(d+2)/4)^(−1/(d+4)) factor times the pooled column standard
    deviation √(mean variance). scikit-learn's own "scott"/"silverman" strings are the factor alone, which
    assumes unit-variance columns; the two agree on standardised data (what 'auto'/'standardize' give)."""
    n, d = data.shape
    if rule == "scott":
        factor = n ** (-1.0 / (d + 4))
    elif rule == "silverman":
        factor = (n * (d + 2) / 4.0) ** (-1.0 / (d + 4))
    else:
        raise ModelError(f"unknown bandwidth rule {rule!r}; choose scott or silverman")
    scale = math.sqrt(float(np.mean(data.var(axis=0)))) if n > 1 else 1.0
    return factor * (scale if scale > 0 else 1.0)


@dataclass
class KDEConfig:
    kernel: str = param("gaussian", "kernel K (only kernels scikit-learn can sample from)",
                        choices=("gaussian", "tophat"), label="kernel K")
    bandwidth_rule: str = param("scott", "how to choose the bandwidth h: a rule of thumb from n, d and the "
                                         "data's spread, or the value below", choices=_BANDWIDTH_RULES,
                                label="bandwidth rule")
    bandwidth: float = param(0.3, "bandwidth h when the rule is 'manual' (model-space units)",
                             range=(1e-3, 10.0), log=True, label="bandwidth h (model-space units)")


@register
class KDE(GenerativeModel):
    """Kernel density estimate (scikit-learn's ``KernelDensity``): the non-parametric baseline."""

    name = "kde"
    label = "Kernel density estimate (scikit-learn)"
    family = "Classical"
    Config = KDEConfig
    capabilities = frozenset({Capability.SAMPLE, Capability.LOG_PROB})
    iterative = False
    default_steps = 1
    formula = (r"\begin{aligned}\hat p(x) &= \frac{1}{n}\sum_{i=1}^{n} K_h(x - x_i)\\"
               r"K_h(u) &= \mathcal{N}(u;\,0,\,h^2 I)\\"
               r"h &= \hat\sigma\, n^{-1/(d+4)}\ \text{(Scott)}\end{aligned}")
    summary = ("Puts a small bump (the kernel) on every training point and averages them: no shape is assumed, "
               "so any distribution can be fitted given enough data. The bandwidth h sets the bump width: too "
               "small copies the training points, too large blurs the structure; Scott's and Silverman's rules "
               "shrink it as n grows. Sampling picks a training point at random and adds kernel noise.")

    @classmethod
    def memory_estimate(cls, n_features: int, config: Any = None, batch_size: int = 256, n_rows: int = 0) -> int:
        """Every training row kept (float64), twice: the points and scikit-learn's tree over them."""
        return int(3 * int(n_rows) * int(n_features) * 8)

    def __init__(self, config: KDEConfig, n_features: int, device: torch.device | str = "cpu",
                 n_classes: int = 0, image_shape: tuple[int, ...] | None = None):
        super().__init__(config, n_features, device, n_classes, image_shape)
        self.kde: KernelDensity | None = None
        self.points: torch.Tensor | None = None
        self.bandwidth: float | None = None

    def fit(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        data = _as_numpy(x)
        c = self.config
        h = c.bandwidth if c.bandwidth_rule == "manual" else rule_of_thumb_bandwidth(data, c.bandwidth_rule)
        self._set(torch.as_tensor(data), h)
        # Scoring costs O(n²): report the training NLL on at most 2,000 evenly spaced rows.
        rows = x[:: max(1, len(x) // 2000)][:2000]
        return {"loss": float(-self.log_prob(rows).double().mean()), "bandwidth": float(h)}

    def _set(self, points: torch.Tensor, bandwidth: float) -> None:
        self.points, self.bandwidth = points.double().cpu(), float(bandwidth)
        self.kde = KernelDensity(kernel=self.config.kernel, bandwidth=self.bandwidth).fit(self.points.numpy())

    def _fitted(self) -> KernelDensity:
        if self.kde is None:
            raise RuntimeError("kde is not fitted yet")
        return self.kde

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        rows = self._fitted().sample(n, random_state=_numpy_seed(self))
        return torch.as_tensor(rows, dtype=torch.float32, device=self.device)

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        scores = self._fitted().score_samples(_as_numpy(x))
        return torch.as_tensor(scores, dtype=torch.float32, device=self.device)

    def state_dict(self) -> dict[str, torch.Tensor]:
        self._fitted()
        return {"points": self.points.clone(), "bandwidth": torch.tensor(self.bandwidth, dtype=torch.float64)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self._set(state["points"], float(state["bandwidth"]))
