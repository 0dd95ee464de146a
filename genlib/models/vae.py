"""Tabular variational autoencoder (seed 003's ELBO, seed 004's decoder σ as a hyperparameter).

Decoder likelihood p(x|z) = N(x; f(z), σ² I), so the reconstruction term is
log p(x|z) = C − ||x − f(z)||² / (2σ²): a small σ trusts reconstructions (sharp, risk of over-fitting),
a large σ lets the KL term win (blurry, diverse samples). The loss is the negative ELBO

    −ELBO = ||x − f(z)||² / (2σ²) + β · KL(q(z|x) || N(0, I)),   z = μ(x) + σ(x) ⊙ ε  (reparameterisation).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .base import GenerativeModel, param, register
from .nets import mlp

LOGVAR_MIN, LOGVAR_MAX = -10.0, 10.0  # clamp: keeps exp(logvar) finite on heavy-tailed inputs


@dataclass
class VAEConfig:
    latent_dim: int = param(4, "size of the latent code z", range=(1, 64))
    sigma: float = param(0.25, "decoder standard deviation σ in p(x|z)=N(f(z), σ²I) (seed 004 tunes it); "
                               "in standardised units", range=(1e-3, 10.0), log=True)
    beta: float = param(1.0, "weight β of the KL term (β-VAE); 1 is the true ELBO", range=(0.0, 10.0))
    enc_width: int = param(128, "encoder hidden units per layer (seed 004: a larger encoder helps)",
                           range=(4, 1024))
    enc_depth: int = param(2, "encoder hidden layers", range=(1, 6))
    dec_width: int = param(64, "decoder hidden units per layer", range=(4, 1024))
    dec_depth: int = param(2, "decoder hidden layers", range=(1, 6))
    activation: str = param("leakyrelu", "hidden activation", choices=("relu", "leakyrelu", "elu"))
    decoder_noise: bool = param(True, "add the decoder noise σε when sampling (the model's full p(x)); "
                                      "off returns the decoder mean f(z)")
    lr: float = param(1e-3, "Adam learning rate", range=(1e-5, 1e-1), log=True)
    grad_clip: float = param(10.0, "gradient-norm clipping (0 = off)", range=(0.0, 1000.0))


@register
class VAE(GenerativeModel):
    name = "vae"
    label = "Variational autoencoder (MLP, Gaussian decoder with fixed σ)"
    family = "VAE"
    Config = VAEConfig
    capabilities = frozenset({"sample", "elbo", "encode", "decode"})
    default_steps = 3000
    formula = (r"\begin{aligned}-\mathrm{ELBO}(x) &= \frac{\lVert x - f_\theta(z)\rVert^2}{2\sigma^2}"
               r" + \beta\,\mathrm{KL}\big(q_\phi(z|x)\,\Vert\,\mathcal{N}(0,I)\big)\\"
               r"z &= \mu_\phi(x) + \sigma_\phi(x)\odot\varepsilon,\quad \varepsilon\sim\mathcal{N}(0,I)"
               r"\end{aligned}")
    summary = ("The encoder maps each row to a Gaussian q(z|x) over a small latent space; the decoder maps z "
               "back to data. Training maximises the ELBO: reconstruct well (first term, weighted by 1/2σ²) "
               "while keeping q(z|x) close to the prior (KL term). New rows come from decoding z ~ N(0, I). "
               "Small σ gives sharp but over-fitted samples, large σ blurry ones (seed 004).")

    def __init__(self, config: VAEConfig, n_features: int, device: torch.device | str = "cpu",
                 n_classes: int = 0):
        super().__init__(config, n_features, device, n_classes)
        c = config
        self.encoder = mlp(n_features, 2 * c.latent_dim, c.enc_width, c.enc_depth, c.activation).to(self.device)
        self.decoder = mlp(c.latent_dim, n_features, c.dec_width, c.dec_depth, c.activation).to(self.device)
        params = list(self.encoder.parameters()) + list(self.decoder.parameters())
        self.optimizer = torch.optim.Adam(params, lr=c.lr)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior q(z|x) = N(μ, diag(exp(logvar))); logvar clamped against overflow."""
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar.clamp(LOGVAR_MIN, LOGVAR_MAX)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def loss_terms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-row reconstruction term ||x − f(z)||²/(2σ²) and KL(q(z|x) || N(0, I))."""
        mu, logvar = self.encode(x)
        z = mu + self.randn_like(mu) * torch.exp(0.5 * logvar)
        recon = ((x - self.decode(z)) ** 2).sum(-1) / (2 * self.config.sigma ** 2)
        kl = 0.5 * (mu ** 2 + logvar.exp() - 1.0 - logvar).sum(-1)
        return recon, kl

    def train_step(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        recon, kl = self.loss_terms(batch)
        loss = (recon + self.config.beta * kl).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip > 0:
            nn.utils.clip_grad_norm_(list(self.encoder.parameters()) + list(self.decoder.parameters()),
                                     self.config.grad_clip)
        self.optimizer.step()
        return {"loss": loss.item(), "recon": recon.mean().item(), "kl": kl.mean().item()}

    @torch.no_grad()
    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        """Per-row ELBO in nats, including the Gaussian constant −(d/2)·log(2πσ²) (β = 1)."""
        recon, kl = self.loss_terms(x.to(self.device))
        const = 0.5 * self.n_features * math.log(2 * math.pi * self.config.sigma ** 2)
        return -(recon + kl + const)

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        z = self.randn(n, self.config.latent_dim)
        x = self.decode(z)
        if self.config.decoder_noise:
            x = x + self.config.sigma * self.randn_like(x)
        return x

    def state_dict(self) -> dict[str, torch.Tensor]:
        state = {f"encoder.{k}": v for k, v in self.encoder.state_dict().items()}
        state.update({f"decoder.{k}": v for k, v in self.decoder.state_dict().items()})
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.encoder.load_state_dict({k[8:]: v for k, v in state.items() if k.startswith("encoder.")})
        self.decoder.load_state_dict({k[8:]: v for k, v in state.items() if k.startswith("decoder.")})
