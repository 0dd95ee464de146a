r"""The VAE family (seed 003's ELBO and P(X|Y), seed 004's decoder σ, WAE and LARS prior).

Every model here is an autoencoder with a Gaussian encoder q(z|x) = N(μ(x), diag σ²(x)) and a Gaussian decoder
p(x|z) = N(f(z), σ² I), trained with the reparameterisation z = μ + σ(x) ⊙ ε. The reconstruction term is
log p(x|z) = C − ||x − f(z)||² / (2σ²): a small σ trusts reconstructions (sharp, risk of over-fitting), a large σ
lets the latent penalty win (blurry, diverse samples). The decoder σ is either a fixed hyperparameter (seed 004
tunes it) or learned per feature (``learn_sigma``), in which case the loss also carries Σ_j log σ_j.

They differ in the latent penalty, the prior and the networks:

- ``vae``: −ELBO = ||x − f(z)||²/(2σ²) + β · KL(q(z|x) || N(0, I)).
- ``conv_vae``: the same loss with convolutional encoder/decoder for rows that are flattened images.
- ``cvae``: conditional VAE: a one-hot label y is appended to the encoder's and the decoder's input, so the model
  learns p(x|y) and samples for a chosen class.
- ``vae_lars``: the prior is N(0, I) reweighted by a learned acceptance function a(z) ∈ (0, 1) (Bauer & Mnih 2019,
  "learned accept/reject sampling"), sampled by truncated rejection sampling.
- ``wae``: Wasserstein autoencoder: no KL; the penalty is the MMD between the batch's codes and prior samples
  (WAE-MMD of Tolstikhin et al. 2018, the default), seed 004's closed-form W2 distance between each q(z|x) and
  N(0, I), or the W2 distance between a Gaussian fitted to the batch of codes and N(0, I). The per-row W2 has a
  blind spot: shrinking every code (μ and σ together, the decoder scaling back up) costs at most 1 per latent
  dimension, so the codes collapse into a small ball and decoded prior samples are far off (finance:
  Anderson–Darling ≈ 80 vs ≈ 2 with MMD).
- ``ae``: the exception to the Gaussian encoder: a plain deterministic autoencoder (loss ||x − f(g(x))||², no
  prior); it samples by decoding z from a Gaussian fitted to its training codes.

All share :class:`LatentAutoencoder` (networks, σ, conditioning, sampling, training step, checkpoints); only the
penalty / prior and, for ``conv_vae``, the network builder are overridden.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genlib.params import param
from genlib.sources import cite

from .base import Capability, GenerativeModel, ModelError, register
from .nets import ACTIVATIONS, image_dims, mlp, one_hot

LOGVAR_MIN, LOGVAR_MAX = -10.0, 10.0  # clamp: keeps exp(logvar) finite on heavy-tailed inputs
SIGMA_MIN, SIGMA_MAX = 1e-3, 10.0     # the range of σ, fixed or learned (log σ is clamped to it)
A_LOGIT_MAX = 15.0                    # LARS: a(z) = sigmoid(logit) with |logit| ≤ 15 stays strictly inside (0, 1)
LOG_RATIO_MAX = 20.0                  # LARS: cap on log π(z)/q(z|x) in the Z estimate (NaN guard)
Z_MIN = 1e-6                          # LARS: ⟨Z⟩ is kept in [Z_MIN, 1]
_LOG_2PI = math.log(2 * math.pi)
_ACTS = tuple(ACTIVATIONS)


# ============================================================================ penalties (pure functions)

def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, diag e^logvar) || N(0, I)) per row."""
    return 0.5 * (mu ** 2 + logvar.exp() - 1.0 - logvar).sum(-1)


def w2_penalty(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Squared 2-Wasserstein distance between N(μ, diag σ²) and N(0, I), per row:
    W2² = ||μ||² + Tr(Σ + I − 2Σ^{1/2}) = ||μ||² + Σ_j (σ_j − 1)²."""
    return (mu ** 2).sum(-1) + ((torch.exp(0.5 * logvar) - 1.0) ** 2).sum(-1)


def w2_batch_penalty(z: torch.Tensor) -> torch.Tensor:
    """Squared 2-Wasserstein (Fréchet) distance between the Gaussian fitted to a batch of codes z (n, k) —
    mean m, covariance C, a moment match of the aggregated posterior q(z) = E_x q(z|x) — and N(0, I):
    W2² = ||m||² + Tr(C + I − 2C^{1/2}). Tr(C^{1/2}) is the sum of the singular values of (z − m)/√n, whose
    gradient (``svdvals``) is stable even for repeated singular values. A scalar."""
    n, k = z.shape
    centred = z - z.mean(0)
    trace_sqrt = torch.linalg.svdvals(centred / math.sqrt(n)).sum()
    return (z.mean(0) ** 2).sum() + (centred ** 2).sum() / n + k - 2.0 * trace_sqrt


MMD_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def _sq_dists(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances ||a_i − b_j||² (no square root: finite gradients at distance 0)."""
    return ((a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None, :] - 2.0 * a @ b.T).clamp_min(0.0)


def mmd(x: torch.Tensor, y: torch.Tensor, kernel: str = "imq", unbiased: bool = True) -> torch.Tensor:
    """Squared maximum mean discrepancy between the samples x (n, k) and y (m, k), summed over the kernel scales
    of WAE-MMD (Tolstikhin et al. 2018): C = s · 2k for s in ``MMD_SCALES`` (2k = 2·dim·Var of the N(0, I) prior).

    kernel "imq": k(a, b) = C / (C + ||a − b||²) (inverse multiquadratic, heavy tails: keeps gradients for far
    codes); "rbf": k(a, b) = exp(−||a − b||² / C). ``unbiased`` drops the diagonal terms of the within-sample sums
    (the U-statistic used for training, ≈ 0 in expectation for equal distributions, can be slightly negative);
    the biased V-statistic is ≥ 0 and exactly 0 for identical samples."""
    if kernel not in ("imq", "rbf"):
        raise ModelError(f"kernel must be imq or rbf; got {kernel!r}")
    n, m, k = x.shape[0], y.shape[0], x.shape[1]
    dxx, dyy, dxy = _sq_dists(x, x), _sq_dists(y, y), _sq_dists(x, y)
    scales = 2.0 * k * torch.tensor(MMD_SCALES, dtype=x.dtype, device=x.device)[:, None, None]   # (S, 1, 1)

    def gram(d: torch.Tensor) -> torch.Tensor:                                               # (S, ·, ·)
        return scales / (scales + d) if kernel == "imq" else torch.exp(-d / scales)

    kxx, kyy, kxy = gram(dxx), gram(dyy), gram(dxy)
    if unbiased:
        within = ((kxx.sum((1, 2)) - kxx.diagonal(dim1=1, dim2=2).sum(1)) / max(n * (n - 1), 1)
                  + (kyy.sum((1, 2)) - kyy.diagonal(dim1=1, dim2=2).sum(1)) / max(m * (m - 1), 1))
    else:
        within = kxx.mean((1, 2)) + kyy.mean((1, 2))
    return (within - 2.0 * kxy.mean((1, 2))).sum()


def std_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over the last dimension."""
    return -0.5 * (z ** 2 + _LOG_2PI).sum(-1)


# ============================================================================ config fields shared by the family
# Each call returns a fresh dataclass field (a Field object must not be shared between dataclasses).

def _latent_dim(default: int = 4) -> Any:
    return param(default, "size of the latent code z", range=(1, 64), label="latent dimensions")


def _sigma(default: float = 0.05) -> Any:
    return param(default, f"decoder standard deviation σ in p(x|z)=N(f(z), σ²I) ({cite('finance_study')} tunes "
                          "it); in standardised units. When σ is learned, this is its starting value",
                 range=(SIGMA_MIN, SIGMA_MAX), log=True, label="decoder σ (standardised units)")


def _beta() -> Any:
    return param(1.0, "weight β of the KL term (β-VAE); 1 is the true ELBO", range=(0.0, 10.0),
                 label="β (weight of the KL term)")


def _width(default: int, which: str, note: str = "") -> Any:
    return param(default, f"{which} hidden units per layer{note}", range=(4, 1024),
                 label=f"{which} width (units per layer)")


def _depth(default: int, which: str) -> Any:
    return param(default, f"{which} hidden layers", range=(1, 6), label=f"{which} hidden layers")


def _activation(default: str = "leakyrelu") -> Any:
    return param(default, f"hidden activation ({cite('finance_study')}: LeakyReLU / ELU help)", choices=_ACTS,
                 label="activation function")


def _decoder_noise(default: bool = True) -> Any:
    return param(default, "add the decoder noise σε when sampling (the model's full p(x)); off returns the "
                          "decoder mean f(z)", label="add decoder noise to samples")


def _lr(default: float = 1e-3) -> Any:
    return param(default, "Adam learning rate", range=(1e-5, 1e-1), log=True, label="learning rate")


def _grad_clip() -> Any:
    return param(10.0, "gradient-norm clipping (0 = off)", range=(0.0, 1000.0), label="gradient clipping (max norm)")


def _learn_sigma(default: bool = False) -> Any:
    return param(default, "learn σ per feature (log σ is a parameter, clamped to [1e-3, 10]) instead of keeping "
                          "the fixed σ above", label="learn the decoder's σ")


@dataclass
class VAEConfig:
    latent_dim: int = _latent_dim(4)
    sigma: float = _sigma(0.05)
    beta: float = _beta()
    enc_width: int = _width(128, "encoder", f" ({cite('finance_study')}: a larger encoder helps)")
    enc_depth: int = _depth(2, "encoder")
    dec_width: int = _width(64, "decoder")
    dec_depth: int = _depth(2, "decoder")
    activation: str = _activation()
    decoder_noise: bool = _decoder_noise()
    lr: float = _lr()
    grad_clip: float = _grad_clip()
    learn_sigma: bool = _learn_sigma()


@dataclass
class CVAEConfig(VAEConfig):
    """Same settings as ``vae``."""


@dataclass
class LARSConfig(VAEConfig):
    S: int = param(128, "prior samples per step for the Monte-Carlo estimate of the normaliser Z", range=(1, 4096),
                   label="prior samples per step (S)")
    eps: float = param(0.1, "moving-average rate ε of ⟨Z⟩ (Bauer & Mnih's Algorithm 1)", range=(1e-4, 1.0), log=True,
                       label="averaging rate ε of the normaliser")
    a_width: int = param(16, "hidden units per layer of the acceptance network a(z) (small on purpose: a larger "
                             "a(z) carves spikes around the training codes and samples near-copies; finance: "
                             "64×2 gave Anderson–Darling 4.1, 16×1 gave 1.5)", range=(4, 1024),
                         label="acceptance network width (units per layer)")
    a_depth: int = param(1, "hidden layers of the acceptance network a(z)", range=(1, 6),
                         label="acceptance network hidden layers")
    truncation: int = param(10000, "sampling: at most T proposals per sample; the T-th is accepted whatever "
                                   "a(z) says (the learned Z can be ≈ 0.003, so T must be ≫ 1/Z)",
                            range=(1, 1_000_000), log=True, label="most proposals per sample (T)")


@dataclass
class WAEConfig:
    latent_dim: int = _latent_dim(4)
    sigma: float = _sigma(0.05)
    penalty: str = param("mmd", "latent penalty: mmd = MMD between the batch's codes and prior samples (WAE-MMD, "
                                "the default: the only one that matches the prior on finance); w2 = closed-form "
                                f"W2² between q(z|x) and N(0,I) per row ({cite('finance_study')}; the codes can "
                                f"shrink to a tiny "
                                "ball, so samples from N(0,I) fall outside them); w2_batch = W2² between a Gaussian "
                                "fitted to the batch of codes and N(0,I)", choices=("mmd", "w2", "w2_batch"),
                         label="latent penalty")
    lam: float = param(100.0, "weight λ of the latent penalty", range=(0.0, 10000.0),
                       label="λ (weight of the latent penalty)")
    kernel: str = param("imq", "MMD kernel: inverse multiquadratic (Tolstikhin et al.) or Gaussian RBF",
                        choices=("imq", "rbf"), label="MMD kernel")
    enc_width: int = _width(128, "encoder")
    enc_depth: int = _depth(2, "encoder")
    dec_width: int = _width(64, "decoder")
    dec_depth: int = _depth(2, "decoder")
    activation: str = _activation()
    decoder_noise: bool = _decoder_noise()
    lr: float = _lr(2e-3)
    grad_clip: float = _grad_clip()
    learn_sigma: bool = _learn_sigma()


@dataclass
class ConvVAEConfig:
    latent_dim: int = _latent_dim(16)
    sigma: float = _sigma(0.5)
    beta: float = _beta()
    enc_channels: int = param(32, "channels of the encoder's first convolution (doubled at each ×2 downsampling)",
                              range=(4, 256), label="encoder channels")
    dec_channels: int = param(32, "channels of the decoder's last transposed convolution", range=(4, 256),
                              label="decoder channels")
    hidden: int = param(256, "dense hidden units between the convolutions and the latent code", range=(8, 2048),
                        label="dense hidden units")
    activation: str = _activation()
    decoder_noise: bool = _decoder_noise(False)
    lr: float = _lr()
    grad_clip: float = _grad_clip()
    learn_sigma: bool = _learn_sigma()


# ============================================================================ the shared base class

class LatentAutoencoder(GenerativeModel):
    """Gaussian encoder + Gaussian decoder with fixed or learned σ, optional one-hot conditioning.

    Subclasses implement :meth:`latent_penalty` (per-row penalty added to the reconstruction term) and may
    override :meth:`build_networks`, :meth:`sample_prior` and :meth:`extra_modules`."""

    family = "VAE"
    #: True: a one-hot label is appended to the encoder's and the decoder's inputs (cvae).
    conditional = False

    def __init__(self, config: Any, n_features: int, device: torch.device | str = "cpu",
                 n_classes: int = 0, image_shape: tuple[int, ...] | None = None):
        super().__init__(config, n_features, device, n_classes, image_shape)
        if self.conditional and self.n_classes < 1:
            raise ModelError(f"{self.name} is conditional and needs class labels, but this dataset has none "
                             "(use e.g. digits, or the unconditional vae)")
        self.cond_dim = self.n_classes if self.conditional else 0
        self.encoder, self.decoder = (m.to(self.device) for m in self.build_networks())
        c = config
        self.log_sigma = (nn.Parameter(torch.full((n_features,), math.log(c.sigma), device=self.device))
                          if c.learn_sigma else None)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=c.lr)

    # --- structure ------------------------------------------------------------------------------------
    def build_networks(self) -> tuple[nn.Module, nn.Module]:
        """(encoder: x ⊕ y → (μ, logvar), decoder: z ⊕ y → f(z)); MLPs with independent widths and depths."""
        c = self.config
        enc = mlp(self.n_features + self.cond_dim, 2 * c.latent_dim, c.enc_width, c.enc_depth, c.activation)
        dec = mlp(c.latent_dim + self.cond_dim, self.n_features, c.dec_width, c.dec_depth, c.activation)
        return enc, dec

    def extra_modules(self) -> dict[str, nn.Module]:
        """Further networks saved under their name (e.g. LARS's acceptance network)."""
        return {}

    def named_networks(self) -> dict[str, nn.Module]:
        return {"encoder": self.encoder, "decoder": self.decoder, **self.extra_modules()}

    def parameters(self) -> list[nn.Parameter]:
        params = [p for m in self.named_networks().values() for p in m.parameters()]
        return params + ([self.log_sigma] if self.log_sigma is not None else [])

    # --- σ and the Gaussian decoder -------------------------------------------------------------------
    @property
    def sigma(self) -> torch.Tensor:
        """Decoder σ per feature, shape (d,)."""
        if self.log_sigma is None:
            return torch.full((self.n_features,), float(self.config.sigma), device=self.device)
        return self.log_sigma.clamp(math.log(SIGMA_MIN), math.log(SIGMA_MAX)).exp()

    def recon_term(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        """−log p(x|z) up to the constant: ||x − f(z)||²/(2σ²), plus Σ_j log σ_j when σ is learned."""
        if self.log_sigma is None:
            return ((x - x_hat) ** 2).sum(-1) / (2 * self.config.sigma ** 2)
        log_s = self.log_sigma.clamp(math.log(SIGMA_MIN), math.log(SIGMA_MAX))
        return 0.5 * ((x - x_hat) ** 2 * torch.exp(-2 * log_s)).sum(-1) + log_s.sum()

    def log_likelihood(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        """log N(x; f(z), σ² I) per row, with every constant (nats)."""
        const = 0.5 * self.n_features * _LOG_2PI
        if self.log_sigma is None:
            const += self.n_features * math.log(self.config.sigma)
        return -(self.recon_term(x, x_hat) + const)

    # --- conditioning -------------------------------------------------------------------------------
    def condition(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """One-hot rows for conditional models (labels checked), None for unconditional ones."""
        if not self.conditional:
            return None
        if labels is None:
            raise ModelError(f"{self.name} is conditional: pass one class label per row")
        labels = torch.as_tensor(labels, device=self.device).reshape(-1)
        if labels.numel() != n:
            raise ModelError(f"{self.name} needs one label per row: got {labels.numel()} labels for {n} rows")
        if labels.numel() and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise ModelError(f"labels must be between 0 and {self.n_classes - 1}")
        return one_hot(labels, self.n_classes, n, self.device)

    @staticmethod
    def _cat(t: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        return t if cond is None else torch.cat([t, cond.expand(*t.shape[:-1], cond.shape[-1])], -1)

    # --- encoder / decoder ----------------------------------------------------------------------------
    def _encode(self, x: torch.Tensor, cond: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(self._cat(x, cond)).chunk(2, dim=-1)
        return mu, logvar.clamp(LOGVAR_MIN, LOGVAR_MAX)

    def _decode(self, z: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        return self.decoder(self._cat(z, cond))

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior q(z|x) = N(μ, diag(exp(logvar))); logvar clamped against overflow."""
        return self._encode(x, self.condition(labels, len(x)))

    @torch.no_grad()
    def encode_mean(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The posterior mean μ(x), shape (n, latent_dim): the point a latent-space explorer plots."""
        return self.encode(x.to(self.device), labels)[0]

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder mean f(z) (no noise), shape (n, d)."""
        return self._decode(z, self.condition(labels, len(z)))

    # --- training -------------------------------------------------------------------------------------
    def latent_penalty(self, mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Per-row penalty on the codes (already weighted by β or λ), shape (n,) or a scalar."""
        raise NotImplementedError

    def losses(self, x: torch.Tensor, cond: torch.Tensor | None) -> tuple[torch.Tensor, dict[str, float]]:
        mu, logvar = self._encode(x, cond)
        z = mu + self.randn_like(mu) * torch.exp(0.5 * logvar)
        recon = self.recon_term(x, self._decode(z, cond))
        penalty = self.latent_penalty(mu, logvar, z)
        loss = (recon + penalty).mean()
        return loss, {"loss": loss.item(), "recon": recon.mean().item()}

    def train_step(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        loss, logs = self.losses(batch, self.condition(labels, len(batch)))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.parameters(), self.config.grad_clip)
        self.optimizer.step()
        if self.log_sigma is not None:
            logs["sigma"] = self.sigma.mean().item()
        return logs

    # --- sampling -------------------------------------------------------------------------------------
    def rand(self, *shape: int) -> torch.Tensor:
        """Uniform(0, 1) noise from the model's own generator."""
        return torch.rand(*shape, generator=self.rng, device=self.device)

    def sample_prior(self, n: int) -> torch.Tensor:
        return self.randn(n, self.config.latent_dim)

    def sample_labels(self, n: int) -> torch.Tensor | None:
        return None

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """x = f(z) (+ σε with ``decoder_noise``), z from the prior; conditional models honour ``labels``."""
        if self.conditional and labels is None:
            labels = self.sample_labels(n)
        cond = self.condition(labels, n)
        x = self._decode(self.sample_prior(n), cond)
        if self.config.decoder_noise:
            x = x + self.sigma * self.randn_like(x)
        return x

    # --- persistence ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor]:
        state = {f"{name}.{k}": v for name, net in self.named_networks().items() for k, v in net.state_dict().items()}
        if self.log_sigma is not None:
            state["log_sigma"] = self.log_sigma.detach()
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for name, net in self.named_networks().items():
            prefix = name + "."
            net.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
        if self.log_sigma is not None:
            if "log_sigma" not in state:
                raise ModelError("checkpoint has no learned decoder σ (log_sigma) but learn_sigma is on")
            with torch.no_grad():
                self.log_sigma.copy_(state["log_sigma"].to(self.device))


# ============================================================================ VAEs (ELBO-trained)

class _ELBOVAE(LatentAutoencoder):
    """Negative ELBO = recon + β · KL; adds the ELBO and the importance-weighted bound (IWAE)."""

    capabilities = frozenset({Capability.SAMPLE, Capability.ELBO, Capability.ENCODE, Capability.DECODE})

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) of the prior, per row (over the last dimension)."""
        return std_normal_log_prob(z)

    def kl_term(self, mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) || p(z)) per row (β = 1); closed form for the N(0, I) prior."""
        return gaussian_kl(mu, logvar)

    def latent_penalty(self, mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self._last_kl = self.kl_term(mu, logvar, z)
        return self.config.beta * self._last_kl

    def losses(self, x: torch.Tensor, cond: torch.Tensor | None) -> tuple[torch.Tensor, dict[str, float]]:
        loss, logs = super().losses(x, cond)
        logs["kl"] = self._last_kl.mean().item()
        return loss, logs

    @torch.no_grad()
    def elbo(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Per-row ELBO in nats (β = 1, all Gaussian constants included), one z per row."""
        x = x.to(self.device)
        cond = self.condition(labels, len(x))
        mu, logvar = self._encode(x, cond)
        z = mu + self.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.log_likelihood(x, self._decode(z, cond)) - self.kl_term(mu, logvar, z)

    @torch.no_grad()
    def iwae_log_likelihood(self, x: torch.Tensor, k: int = 64, labels: torch.Tensor | None = None,
                            max_elements: int = 4_000_000) -> torch.Tensor:
        """Importance-weighted bound (Burda et al. 2016) on log p(x) per row, in nats, model space:

            log p(x) ≥ log (1/k) Σ_i p(x|z_i) p(z_i) / q(z_i|x),   z_i ~ q(z|x).

        k = 1 is an ELBO (with a sampled KL); it tightens as k grows, so it is the held-out log-likelihood
        estimate. Rows are processed in chunks of at most ``max_elements`` decoder outputs."""
        if k < 1:
            raise ValueError("k must be at least 1")
        x = x.to(self.device)
        cond_all = self.condition(labels, len(x))
        out = []
        chunk = max(1, max_elements // (k * max(self.n_features, self.config.latent_dim)))
        for start in range(0, len(x), chunk):
            xc = x[start:start + chunk]
            cond = None if cond_all is None else cond_all[start:start + chunk]
            mu, logvar = self._encode(xc, cond)
            eps = self.randn(k, *mu.shape)
            z = mu + eps * torch.exp(0.5 * logvar)                                   # (k, m, L)
            log_q = -0.5 * (eps ** 2 + logvar + _LOG_2PI).sum(-1)                      # (k, m)
            x_hat = self._decode(z.reshape(-1, z.shape[-1]),
                                 None if cond is None else cond.repeat(k, 1)).reshape(k, len(xc), -1)
            log_w = self.log_likelihood(xc, x_hat) + self.log_prior(z) - log_q
            out.append(torch.logsumexp(log_w, 0) - math.log(k))
        return torch.cat(out) if out else x.new_zeros(0)


@register
class VAE(_ELBOVAE):
    name = "vae"
    label = "Variational autoencoder (MLP, Gaussian decoder with fixed or learned σ)"
    Config = VAEConfig
    default_steps = 15000
    formula = (r"\begin{aligned}-\mathrm{ELBO}(x) &= \frac{\lVert x - f_\theta(z)\rVert^2}{2\sigma^2}"
               r" + \beta\,\mathrm{KL}\big(q_\phi(z|x)\,\Vert\,\mathcal{N}(0,I)\big)\\"
               r"z &= \mu_\phi(x) + \sigma_\phi(x)\odot\varepsilon,\quad \varepsilon\sim\mathcal{N}(0,I)"
               r"\end{aligned}")
    summary = ("The encoder maps each row to a Gaussian q(z|x) over a small latent space; the decoder maps z "
               "back to data. Training maximises the ELBO: reconstruct well (first term, weighted by 1/2σ²) "
               "while keeping q(z|x) close to the prior (KL term). New rows come from decoding z ~ N(0, I). "
               f"Small σ gives sharp but over-fitted samples, large σ blurry ones ({cite('finance_study')}).")


@register
class CVAE(_ELBOVAE):
    name = "cvae"
    needs_labels = True
    label = "Conditional VAE (one-hot label on encoder and decoder inputs)"
    Config = CVAEConfig
    capabilities = frozenset({Capability.SAMPLE, Capability.ELBO, Capability.ENCODE, Capability.DECODE,
                              Capability.CONDITION})
    conditional = True
    default_steps = 3000
    formula = (r"\begin{aligned}-\mathrm{ELBO}(x\,|\,y) &= \frac{\lVert x - f_\theta(z, y)\rVert^2}{2\sigma^2}\\"
               r"&\quad + \beta\,\mathrm{KL}\big(q_\phi(z|x,y)\,\Vert\,\mathcal{N}(0,I)\big)"
               r"\end{aligned}")
    summary = ("A VAE that also sees the class label y: the one-hot label is appended to the encoder's input and "
               f"to the decoder's input, so the model learns P(X|Y) ({cite('astro_lecture')}). To generate a "
               f"chosen class, "
               "draw z ~ N(0, I) and decode it together with that label. Without labels, classes are drawn with "
               "their frequencies in the training data.")

    def __init__(self, config: CVAEConfig, n_features: int, device: torch.device | str = "cpu",
                 n_classes: int = 0, image_shape: tuple[int, ...] | None = None):
        super().__init__(config, n_features, device, n_classes, image_shape)
        # Label counts seen in training: unconditional samples draw y from these frequencies.
        self.class_counts = torch.zeros(self.n_classes, device=self.device)

    def train_step(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        logs = super().train_step(batch, labels)
        self.class_counts += torch.bincount(labels.long().reshape(-1).to(self.device),
                                            minlength=self.n_classes).float()
        return logs

    def sample_labels(self, n: int) -> torch.Tensor:
        weights = self.class_counts if self.class_counts.sum() > 0 else torch.ones_like(self.class_counts)
        return torch.multinomial(weights, n, replacement=True, generator=self.rng)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {**super().state_dict(), "class_counts": self.class_counts.detach().clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        super().load_state_dict(state)
        if "class_counts" in state:
            self.class_counts = state["class_counts"].to(self.device).float().clone()


@register
class VAELARS(_ELBOVAE):
    r"""VAE with a resampled prior p(z) = a(z) π(z) / Z (Bauer & Mnih 2019, "LARS").

    Z = E_π[a(z)] is estimated per step by Algorithm 1 of the paper: with S prior samples z_s and each posterior
    sample z_r, Z_curr = [S·mean a(z_s) + sg(π(z_r)/q(z_r|x_r)) a(z_r)] / (S + 1); a moving average
    Z_smooth = (1−ε)⟨Z⟩ + ε Z_curr supplies the value while Z_curr supplies the gradient
    (Z_r = Z_curr + sg(Z_smooth − Z_curr)); ⟨Z⟩ ← mean sg(Z_smooth). Evaluation (ELBO, IWAE) uses ⟨Z⟩.

    Sampling is truncated rejection sampling: propose z ~ π, accept with probability a(z); after T − 1 rejected
    proposals the T-th is accepted as it is. The samples therefore follow [(1 − α_T) a(z)/Z + α_T] π(z) with
    α_T = (1 − Z)^{T−1}: the LARS prior up to α_T, while the ELBO uses the untruncated prior. The default
    T = 10,000 (not the paper's 100) because on ``finance`` the learned Z falls to ≈ 0.003: with T = 100 about
    three quarters of the samples would be unfiltered N(0, I) codes that land in the prior's holes (measured:
    Anderson–Darling ≈ 12 instead of ≈ 2). Proposals are drawn in blocks, so a large T stays cheap.
    """

    name = "vae_lars"
    label = "VAE with a learned resampled prior (LARS, Bauer & Mnih 2019)"
    Config = LARSConfig
    default_steps = 15000
    formula = (r"\begin{aligned}p_\lambda(z) &= \frac{a_\lambda(z)\,\pi(z)}{Z},\quad \pi=\mathcal{N}(0,I),"
               r"\ a_\lambda\in(0,1)\\"
               r"Z &= \mathbb{E}_{\pi}\big[a_\lambda(z)\big]\approx\tfrac{1}{S}\textstyle\sum_s a_\lambda(z_s)\\"
               r"\mathrm{KL} &= \mathbb{E}_{q}\big[\log q_\phi(z|x)-\log\pi(z)-\log a_\lambda(z)\big]+\log Z"
               r"\end{aligned}")
    summary = ("A standard normal prior leaves 'holes': regions the prior likes but no data encodes to, which "
               "decode to unrealistic rows. LARS learns an acceptance function a(z) between 0 and 1 and uses "
               "the prior a(z)·N(0, I)/Z, which can switch those regions off. Z is estimated from prior samples "
               "with a moving average; new codes come from rejection sampling: propose z ~ N(0, I), keep it "
               "with probability a(z) (after T − 1 refusals the next proposal is kept).")

    def __init__(self, config: LARSConfig, n_features: int, device: torch.device | str = "cpu",
                 n_classes: int = 0, image_shape: tuple[int, ...] | None = None):
        # The acceptance network exists before the base class builds the optimiser over all parameters.
        self.a_net = mlp(config.latent_dim, 1, config.a_width, config.a_depth, config.activation).to(device)
        super().__init__(config, n_features, device, n_classes, image_shape)
        self.a_net.to(self.device)
        with torch.no_grad():  # start ⟨Z⟩ at a Monte-Carlo estimate for the initial a(z)
            z_avg = self.accept_prob(self.randn(4096, config.latent_dim)).mean()
        self.z_avg = z_avg.clamp(Z_MIN, 1.0).reshape(1)

    def extra_modules(self) -> dict[str, nn.Module]:
        return {"a_net": self.a_net}

    def _a_logit(self, z: torch.Tensor) -> torch.Tensor:
        return self.a_net(z).squeeze(-1).clamp(-A_LOGIT_MAX, A_LOGIT_MAX)

    def accept_prob(self, z: torch.Tensor) -> torch.Tensor:
        """a(z) ∈ (0, 1), shape z.shape[:-1]."""
        return torch.sigmoid(self._a_logit(z))

    def log_accept(self, z: torch.Tensor) -> torch.Tensor:
        return F.logsigmoid(self._a_logit(z))

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        return std_normal_log_prob(z) + self.log_accept(z) - torch.log(self.z_avg)

    def kl_term(self, mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Evaluation: KL(q || N(0,I)) − log a(z) + log ⟨Z⟩ (one z per row)."""
        return gaussian_kl(mu, logvar) - self.log_accept(z) + torch.log(self.z_avg)

    def latent_penalty(self, mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Training: the KL with log Z from Algorithm 1 (and the ⟨Z⟩ update)."""
        c = self.config
        z_s_mean = self.accept_prob(self.randn(c.S, c.latent_dim)).mean()
        with torch.no_grad():
            eps = (z - mu) * torch.exp(-0.5 * logvar)
            log_q = -0.5 * (eps ** 2 + logvar + _LOG_2PI).sum(-1)
            ratio = torch.exp((std_normal_log_prob(z) - log_q).clamp(max=LOG_RATIO_MAX))
        z_curr = (c.S * z_s_mean + ratio * self.accept_prob(z)) / (c.S + 1)
        z_smooth = (1 - c.eps) * self.z_avg + c.eps * z_curr
        z_r = z_curr + (z_smooth - z_curr).detach()
        with torch.no_grad():
            self.z_avg = z_smooth.mean().clamp(Z_MIN, 1.0).reshape(1)
        self._last_kl = gaussian_kl(mu, logvar) - self.log_accept(z) + torch.log(z_r).mean()
        return c.beta * self._last_kl

    def losses(self, x: torch.Tensor, cond: torch.Tensor | None) -> tuple[torch.Tensor, dict[str, float]]:
        loss, logs = super().losses(x, cond)
        logs["Z"] = self.z_avg.item()
        return loss, logs

    @torch.no_grad()
    def sample_prior(self, n: int) -> torch.Tensor:
        """Truncated rejection sampling from a(z) π(z) / Z (see the class docstring).

        Each row walks through its own sequence of proposals z_1, z_2, … ~ π and keeps the first one accepted
        (u_t < a(z_t)), or z_T. Proposals are drawn in blocks of about 2/⟨Z⟩ per pending row, so a small Z costs
        a few vectorised rounds instead of thousands; the result is the same as proposing one at a time."""
        dim, limit = self.config.latent_dim, self.config.truncation
        z = torch.empty(n, dim, device=self.device)
        pending = torch.arange(n, device=self.device)
        used = 0                                                # proposals made so far for every pending row
        block = int(min(max(1, math.ceil(2.0 / float(self.z_avg))), limit))
        while len(pending) and used < limit:
            k = max(1, min(block, limit - used, 1_000_000 // len(pending)))
            proposal = self.randn(len(pending), k, dim)
            accept = self.rand(len(pending), k) < self.accept_prob(proposal)
            used += k
            if used >= limit:
                accept[:, -1] = True                            # the T-th proposal is kept whatever a(z) says
            found = accept.any(1)
            first = accept.float().argmax(1)                    # index of the first accepted proposal
            z[pending[found]] = proposal[found, first[found]]
            pending = pending[~found]
        return z

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {**super().state_dict(), "z_avg": self.z_avg.detach().clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        super().load_state_dict(state)
        self.z_avg = state["z_avg"].to(self.device).float().reshape(1).clone()


# ============================================================================ convolutional VAE

class ConvEncoder(nn.Module):
    """Rows → (C, H, W) images zero-padded to 4·2^stages → conv 3×3 → ``stages`` strided 4×4 convs (channels
    doubling) → dense hidden layer → (μ, logvar)."""

    def __init__(self, c: ConvVAEConfig, channels: int, h: int, w: int, stages: int):
        super().__init__()
        self.shape, self.size = (channels, h, w), 4 * 2 ** stages
        act = ACTIVATIONS[c.activation]
        chans = [min(c.enc_channels * 2 ** i, 256) for i in range(stages + 1)]
        layers: list[nn.Module] = [nn.Conv2d(channels, chans[0], 3, padding=1), act()]
        for i in range(stages):
            layers += [nn.Conv2d(chans[i], chans[i + 1], 4, stride=2, padding=1), act()]
        self.convs = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(chans[-1] * 16, c.hidden), act(), nn.Linear(c.hidden, 2 * c.latent_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ch, h, w = self.shape
        img = F.pad(x.reshape(len(x), ch, h, w), (0, self.size - w, 0, self.size - h))
        return self.head(self.convs(img).flatten(1))


class ConvDecoder(nn.Module):
    """z → dense → (channels, 4, 4) → ``stages`` transposed 4×4 convs (×2 each, channels halving) → conv 3×3 to
    C channels, cropped to (H, W) and flattened back to rows."""

    def __init__(self, c: ConvVAEConfig, channels: int, h: int, w: int, stages: int):
        super().__init__()
        self.shape = (channels, h, w)
        act = ACTIVATIONS[c.activation]
        chans = [min(c.dec_channels * 2 ** (stages - i), 256) for i in range(stages + 1)]
        self.c0 = chans[0]
        self.stem = nn.Sequential(nn.Linear(c.latent_dim, c.hidden), act(), nn.Linear(c.hidden, chans[0] * 16), act())
        ups: list[nn.Module] = []
        for i in range(stages):
            ups += [nn.ConvTranspose2d(chans[i], chans[i + 1], 4, stride=2, padding=1), act()]
        self.ups = nn.Sequential(*ups)
        self.to_image = nn.Conv2d(chans[-1], channels, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        lead = z.shape[:-1]
        x = self.stem(z.reshape(-1, z.shape[-1])).view(-1, self.c0, 4, 4)
        x = self.to_image(self.ups(x))
        ch, h, w = self.shape
        return x[:, :, :h, :w].reshape(*lead, ch * h * w)


@register
class ConvVAE(_ELBOVAE):
    name = "conv_vae"
    needs_images = True
    label = "Convolutional VAE (for image data)"
    Config = ConvVAEConfig
    default_steps = 2000
    formula = (r"\begin{aligned}-\mathrm{ELBO}(x) &= \frac{\lVert x - f_\theta(z)\rVert^2}{2\sigma^2}"
               r" + \beta\,\mathrm{KL}\big(q_\phi(z|x)\,\Vert\,\mathcal{N}(0,I)\big)\\"
               r"f_\theta &= \text{transposed convolutions},\ \mu_\phi,\sigma_\phi = \text{convolutions}"
               r"\end{aligned}")
    summary = ("The same VAE loss as vae, but each row is treated as an image: the encoder slides small "
               "convolution filters over it and halves the resolution step by step, the decoder upsamples a "
               "latent code back with transposed convolutions. Sharing filters across positions needs far fewer "
               "weights than an MLP and respects that nearby pixels belong together. It needs a dataset with an "
               "image shape, such as digits.")

    def build_networks(self) -> tuple[nn.Module, nn.Module]:
        channels, h, w = image_dims(self.image_shape, self.n_features, self.name)
        stages = max(0, math.ceil(math.log2(max(h, w) / 4)))
        return (ConvEncoder(self.config, channels, h, w, stages), ConvDecoder(self.config, channels, h, w, stages))


# ============================================================================ Wasserstein autoencoder

@register
class WAE(LatentAutoencoder):
    name = "wae"
    label = "Wasserstein autoencoder (W2 or MMD latent penalty)"
    Config = WAEConfig
    capabilities = frozenset({Capability.SAMPLE, Capability.ENCODE, Capability.DECODE})
    default_steps = 4000
    formula = (r"\begin{aligned}\mathcal{L} &= \frac{\lVert x - f_\theta(z)\rVert^2}{2\sigma^2}"
               r" + \lambda\, D\big(q_\phi,\,\mathcal{N}(0,I)\big)\\"
               r"W_2^2 &= \lVert\mu\rVert^2 + \mathrm{Tr}\big(\Sigma + I - 2\Sigma^{1/2}\big)\\"
               r"&= \lVert\mu\rVert^2 + \textstyle\sum_j (\sigma_j - 1)^2\\"
               r"\mathrm{MMD}^2 &= \mathbb{E}\,k(z,z') + \mathbb{E}\,k(\tilde z,\tilde z') - 2\,\mathbb{E}\,k(z,\tilde z)"
               r"\end{aligned}")
    summary = ("An autoencoder whose codes are pulled towards the prior N(0, I) by a distance other than the "
               f"VAE's KL divergence ({cite('finance_study')}). For two Gaussians the squared 2-Wasserstein "
               f"distance has the "
               "closed form above: each code's mean should sit near 0 and its spread near 1. The default, MMD "
               "(z from the encoder, z̃ from the prior, k a kernel), compares the whole batch of codes with prior "
               "samples, as in Tolstikhin et al.'s WAE. There is no likelihood bound, so no ELBO: the model is "
               "judged by its samples.")

    def latent_penalty(self, mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        c = self.config
        if c.penalty == "w2":
            self._last_penalty = w2_penalty(mu, logvar)
        elif c.penalty == "w2_batch":
            self._last_penalty = w2_batch_penalty(z)
        else:
            self._last_penalty = mmd(z, self.randn_like(z), c.kernel)
        return c.lam * self._last_penalty

    def losses(self, x: torch.Tensor, cond: torch.Tensor | None) -> tuple[torch.Tensor, dict[str, float]]:
        loss, logs = super().losses(x, cond)
        logs[self.config.penalty] = self._last_penalty.mean().item()
        return loss, logs


# ============================================================================ plain (deterministic) autoencoder

@dataclass
class AEConfig:
    latent_dim: int = _latent_dim(4)
    enc_width: int = _width(128, "encoder")
    enc_depth: int = _depth(2, "encoder")
    dec_width: int = _width(64, "decoder")
    dec_depth: int = _depth(2, "decoder")
    activation: str = _activation()
    code_momentum: float = param(0.02, "rate of the moving averages of the codes' mean and second moment, which "
                                       "define the Gaussian that sample() draws z from", range=(1e-4, 1.0), log=True,
                                 label="averaging rate of the code statistics")
    lr: float = _lr()
    grad_clip: float = _grad_clip()
    # Read by LatentAutoencoder; an AE has no decoder noise and no σ (class attributes, not settings).
    sigma = 1.0
    learn_sigma = False
    decoder_noise = False


@register
class AE(LatentAutoencoder):
    r"""Plain deterministic autoencoder z = g(x), x̂ = f(z), trained on ||x − f(g(x))||² (seed 003's "AE").

    An AE has no prior, so :meth:`sample` decodes z drawn from a Gaussian N(m, C) fitted to the training codes:
    m and C come from moving averages of the batches' first and second moments during training (a plain average
    for the first 1/``code_momentum`` steps). That Gaussian is a stand-in, not a learned density: seed 003's
    "AE + GMM" (:mod:`genlib.latent.gmm`) fits a mixture to the codes instead."""

    name = "ae"
    label = "Autoencoder (deterministic; samples from a Gaussian fitted to the codes)"
    Config = AEConfig
    capabilities = frozenset({Capability.SAMPLE, Capability.ENCODE, Capability.DECODE})
    default_steps = 3000
    formula = (r"\begin{aligned}\mathcal{L} &= \lVert x - f_\theta(g_\phi(x))\rVert^2\\"
               r"z_{\text{new}} &\sim \mathcal{N}(m, C),\quad m, C = \text{mean, covariance of the codes } g_\phi(x)"
               r"\end{aligned}")
    summary = ("The encoder g compresses each row to a code z, the decoder f maps it back; training only asks "
               "for good reconstructions, so nothing shapes where the codes lie. To generate, GenLab draws z "
               f"from a Gaussian fitted to the training codes and decodes it ({cite('astro_lecture')} fits a "
               f"mixture of "
               "Gaussians there instead: the latent-space explorer's AE + GMM).")

    def __init__(self, config: AEConfig, n_features: int, device: torch.device | str = "cpu",
                 n_classes: int = 0, image_shape: tuple[int, ...] | None = None):
        super().__init__(config, n_features, device, n_classes, image_shape)
        L = config.latent_dim
        self.code_mean = torch.zeros(L, device=self.device)
        self.code_m2 = torch.eye(L, device=self.device)          # E[z zᵀ]; N(0, I) until trained
        self.code_steps = torch.zeros(1, device=self.device)

    def build_networks(self) -> tuple[nn.Module, nn.Module]:
        c = self.config
        return (mlp(self.n_features, c.latent_dim, c.enc_width, c.enc_depth, c.activation),
                mlp(c.latent_dim, self.n_features, c.dec_width, c.dec_depth, c.activation))

    def _encode(self, x: torch.Tensor, cond: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(z, logvar at its floor): the code is a point, reported as the narrowest Gaussian the family allows."""
        z = self.encoder(x)
        return z, torch.full_like(z, LOGVAR_MIN)

    def losses(self, x: torch.Tensor, cond: torch.Tensor | None) -> tuple[torch.Tensor, dict[str, float]]:
        z = self.encoder(x)
        recon = ((x - self.decoder(z)) ** 2).sum(-1)
        loss = recon.mean()
        with torch.no_grad():
            self.code_steps += 1
            rate = max(float(self.config.code_momentum), 1.0 / float(self.code_steps))
            self.code_mean.lerp_(z.mean(0), rate)
            self.code_m2.lerp_(z.T @ z / len(z), rate)
        return loss, {"loss": loss.item(), "recon": loss.item()}

    def code_covariance(self) -> torch.Tensor:
        """C = E[z zᵀ] − m mᵀ from the moving averages (symmetrised)."""
        cov = self.code_m2 - torch.outer(self.code_mean, self.code_mean)
        return 0.5 * (cov + cov.T)

    @torch.no_grad()
    def sample_prior(self, n: int) -> torch.Tensor:
        """z ~ N(m, C) of the training codes (C's negative round-off eigenvalues set to 0)."""
        evals, evecs = torch.linalg.eigh(self.code_covariance())
        root = evecs * evals.clamp_min(0.0).sqrt()
        return self.code_mean + self.randn(n, self.config.latent_dim) @ root.T

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {**super().state_dict(), "code_mean": self.code_mean.detach().clone(),
                "code_m2": self.code_m2.detach().clone(), "code_steps": self.code_steps.detach().clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        super().load_state_dict(state)
        for key in ("code_mean", "code_m2", "code_steps"):
            setattr(self, key, state[key].to(self.device).float().clone())
