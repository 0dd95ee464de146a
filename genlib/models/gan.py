r"""Generative adversarial networks: a generator G(z) against a discriminator / critic D(x).

Three registered models share one implementation (:class:`_GANBase`):

- ``gan``: the non-saturating GAN with MLPs. D is trained with binary cross-entropy on logits,
  G minimises −log σ(D(G(z))) (the non-saturating form of seed 001/002's min-max game).
- ``wgan_gp``: the Wasserstein GAN with gradient penalty (seed 002). The critic has no sigmoid;

      L_d = E[d(x̃)] − E[d(x)] + λ E[(‖∇_x̂ d(x̂)‖₂ − 1)²],   x̂ = εx + (1−ε)x̃,  ε ~ U[0, 1]
      L_g = −E[d(x̃)]

- ``dcgan``: a convolutional G (transposed convolutions + batch norm) and D (strided convolutions) for rows
  that are flattened images (``image_shape``); the config field ``loss`` picks "ns" or "wgan-gp".

Seed 001's stabilisers are config toggles on all three: spectral normalisation of D's layers (PyTorch's
``torch.nn.utils.parametrizations.spectral_norm``), TTUR (separate ``lr_g`` / ``lr_d``), label smoothing
(real targets ~U(0.9, 1), fake ~U(0, 0.1); BCE only, ignored by the Wasserstein loss), instance noise
(Gaussian noise on every input of D whose std decays linearly to 0 over training), random label flipping
(a fraction of real and fake rows swap roles in D's update) and ``n_critic`` (D updates per G update).
One more, beyond seed 001: ``g_ema`` samples from an exponential moving average of G's weights (Polyak
averaging), which removes most of the run-to-run and step-to-step oscillation of the final samples.

``n_critic``: every ``train_step`` makes ``n_critic`` D updates and then one G update. The engine's batch is
split into ``n_critic`` disjoint sub-batches, so each D update sees different real rows (as the WGAN-GP
algorithm draws a fresh real batch per critic iteration) and fresh noise z; G's update uses a fresh z of the
full batch size. With a batch smaller than ``n_critic`` rows every D update reuses the whole batch.

The reported ``loss`` (the curve the engine plots) is D's loss averaged over the step's ``n_critic`` updates:
for the BCE loss it tends to 2·log 2 ≈ 1.39 when D can no longer tell real from fake; for WGAN-GP it is
−(Wasserstein estimate) + λ·GP and rises towards 0 as G improves. All randomness (z, ε, smoothing targets,
flips, instance noise, sub-batches) comes from the model's own generator ``self.rng``.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from genlib.params import param
from genlib.sources import cite

from .base import Capability, GenerativeModel, ModelError, register
from .nets import ACTIVATIONS

LOSSES = ("ns", "wgan-gp")
_MAX_CHANNELS = 512


# ----------------------------------------------------------------------------- the gradient penalty

def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     rng: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""WGAN-GP's penalty E[(‖∇_x̂ d(x̂)‖₂ − 1)²] on interpolates x̂ = ε·real + (1 − ε)·fake, ε ~ U[0, 1].

    One ε per row (broadcast over the other dimensions, so image batches work too), drawn from ``rng``.
    ``real`` and ``fake`` are paired row by row. Returns ``(penalty, interpolates)``: the penalty is a
    scalar with a graph back to the critic's parameters (``create_graph=True``), *not* multiplied by λ;
    the interpolates are returned detached, for inspection.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(eps_shape, generator=rng, device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1.0 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    norm = grad.flatten(1).norm(2, dim=1)
    return ((norm - 1.0) ** 2).mean(), x_hat.detach()


# ----------------------------------------------------------------------------- configs

@dataclass
class GANConfig:
    """Settings of ``gan``; ``WGANGPConfig`` and ``DCGANConfig`` subclass it (same fields, other defaults)."""

    latent_dim: int = param(8, "size of the noise vector z fed to the generator", range=(1, 256),
                            label="noise dimensions (size of z)")
    g_width: int = param(128, "generator hidden units per layer", range=(4, 1024),
                         label="generator width (units per layer)")
    g_depth: int = param(3, "generator hidden layers", range=(1, 8), label="generator hidden layers")
    d_width: int = param(128, "discriminator hidden units per layer", range=(4, 1024),
                         label="discriminator width (units per layer)")
    d_depth: int = param(3, "discriminator hidden layers", range=(1, 8), label="discriminator hidden layers")
    activation: str = param("leakyrelu", "hidden activation (G and D)", choices=("relu", "leakyrelu", "elu"),
                            label="activation function")
    lr_g: float = param(2e-4, "generator Adam learning rate (TTUR: D's is usually ~4× larger)",
                        range=(1e-6, 1e-1), log=True, label="generator learning rate")
    lr_d: float = param(8e-4, f"discriminator Adam learning rate (TTUR: {cite('lorenz_study')} uses ≈ 4× the "
                              f"generator's)",
                        range=(1e-6, 1e-1), log=True, label="discriminator learning rate")
    beta1: float = param(0.5, "Adam β₁ (GANs use 0.5 or 0: less momentum chasing a moving target)",
                         range=(0.0, 0.99), label="Adam β₁ (momentum)")
    beta2: float = param(0.999, "Adam β₂", range=(0.0, 0.9999), label="Adam β₂")
    n_critic: int = param(1, "discriminator updates per generator update (each on its own sub-batch)",
                          range=(1, 20), label="discriminator steps per generator step")
    spectral_norm: bool = param(True, f"spectral normalisation of every discriminator layer "
                                      f"({cite('lorenz_study')}): caps "
                                      "D's Lipschitz constant", label="spectral normalisation")
    label_smoothing: bool = param(True, f"soft targets for D: real ~U(0.9, 1), fake ~U(0, 0.1) "
                                        f"({cite('lorenz_study')})",
                                  label="label smoothing")
    instance_noise: float = param(0.1, "initial std of Gaussian noise added to D's real and fake inputs; "
                                       "decays linearly to 0 over training (0 = off)", range=(0.0, 5.0),
                                  label="instance noise (starting std)")
    label_flip: float = param(0.0, "probability that a real and a fake row swap labels in D's update "
                                   f"({cite('lorenz_study')}'s random label flipping)", range=(0.0, 0.5),
                              label="label flipping (probability)")
    grad_clip: float = param(10.0, "gradient-norm clipping of G and D (0 = off)", range=(0.0, 1000.0),
                             label="gradient clipping (max norm)")
    g_ema: float = param(0.995, "sample from an exponential moving average of the generator's weights with this "
                                "decay (0 = off, sample the last weights): smooths out GAN oscillations",
                         range=(0.0, 0.9999), label="generator weight averaging (EMA decay)")


@dataclass
class WGANGPConfig(GANConfig):
    g_width: int = param(128, "generator hidden units per layer", range=(4, 1024),
                         label="generator width (units per layer)")
    d_width: int = param(128, "critic hidden units per layer", range=(4, 1024), label="critic width (units per layer)")
    d_depth: int = param(3, "critic hidden layers", range=(1, 8), label="critic hidden layers")
    lr_g: float = param(2e-4, "generator Adam learning rate (TTUR)", range=(1e-6, 1e-1), log=True,
                        label="generator learning rate")
    lr_d: float = param(8e-4, f"critic Adam learning rate (TTUR: {cite('lorenz_study')} uses ≈ 4× the "
                              f"generator's)", range=(1e-6, 1e-1),
                        log=True, label="critic learning rate")
    beta1: float = param(0.5, "Adam β₁ (WGAN-GP paper: 0 or 0.5)", range=(0.0, 0.99), label="Adam β₁ (momentum)")
    beta2: float = param(0.9, "Adam β₂ (WGAN-GP paper: 0.9)", range=(0.0, 0.9999), label="Adam β₂")
    n_critic: int = param(5, "critic updates per generator update (WGAN-GP paper: 5), each on its own "
                             "sub-batch", range=(1, 20), label="critic steps per generator step")
    spectral_norm: bool = param(False, "spectral normalisation of every critic layer (the gradient penalty "
                                       "already controls the Lipschitz constant)", label="spectral normalisation")
    label_smoothing: bool = param(False, "soft BCE targets; ignored by the Wasserstein loss (no labels)",
                                  label="label smoothing")
    instance_noise: float = param(0.0, "initial std of Gaussian noise added to the critic's real and fake "
                                       "inputs; decays linearly to 0 over training (0 = off)", range=(0.0, 5.0),
                                  label="instance noise (starting std)")
    gp_lambda: float = param(10.0, "weight λ of the gradient penalty", range=(0.0, 1000.0),
                             label="λ (gradient penalty)")


@dataclass
class DCGANConfig(GANConfig):
    loss: str = param("ns", "objective: non-saturating BCE (ns) or Wasserstein with gradient penalty (wgan-gp)",
                      choices=LOSSES, label="training loss")
    latent_dim: int = param(32, "size of the noise vector z fed to the generator", range=(1, 256),
                            label="noise dimensions (size of z)")
    g_channels: int = param(32, "generator channels at full resolution (doubled at each coarser stage)",
                            range=(4, 256), label="generator channels")
    d_channels: int = param(32, "discriminator channels at full resolution (doubled at each coarser stage)",
                            range=(4, 256), label="discriminator channels")
    d_width: int = param(128, "units of the discriminator's last hidden (dense) layer", range=(4, 1024),
                         label="discriminator dense units")
    gp_lambda: float = param(10.0, "weight λ of the gradient penalty (wgan-gp loss only)", range=(0.0, 1000.0),
                             label="λ (gradient penalty)")


# ----------------------------------------------------------------------------- networks

def _act(name: str) -> nn.Module:
    return nn.LeakyReLU(0.2) if name == "leakyrelu" else ACTIVATIONS[name]()


def frozen_copy(module: nn.Module) -> nn.Module:
    """A detached eval-mode copy with no gradients: what a page or a scorer runs while the original may be
    training in another thread (spectral norm updates its vectors on every train-mode forward of the original)."""
    snap = copy.deepcopy(module)
    snap.train(False)
    snap.requires_grad_(False)
    return snap


def _sn(layer: nn.Module, on: bool) -> nn.Module:
    return _spectral_norm(layer) if on else layer


class Discriminator(nn.Module):
    """``features`` (everything up to the last hidden activation) followed by a linear ``head`` to one score."""

    def __init__(self, features: nn.Module, head: nn.Module):
        super().__init__()
        self.features = features
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(-1)


def mlp_generator(c: GANConfig, n_features: int) -> nn.Module:
    layers: list[nn.Module] = []
    size = c.latent_dim
    for _ in range(c.g_depth):
        layers += [nn.Linear(size, c.g_width), _act(c.activation)]
        size = c.g_width
    layers.append(nn.Linear(size, n_features))
    return nn.Sequential(*layers)


def mlp_discriminator(c: GANConfig, n_features: int) -> Discriminator:
    layers: list[nn.Module] = []
    size = n_features
    for _ in range(c.d_depth):
        layers += [_sn(nn.Linear(size, c.d_width), c.spectral_norm), _act(c.activation)]
        size = c.d_width
    return Discriminator(nn.Sequential(*layers), _sn(nn.Linear(size, 1), c.spectral_norm))


def image_geometry(image_shape: tuple[int, ...] | None, n_features: int) -> tuple[int, int, int, int]:
    """(C, H, W, stages): stages = number of ×2 resolution steps from 4×4 up to the padded size 4·2^stages."""
    if image_shape is None:
        raise ModelError("dcgan needs image data: this dataset has no image_shape (use e.g. digits, or the "
                         "gan / wgan_gp models for tables)")
    if len(image_shape) == 2:
        c, h, w = 1, *image_shape
    elif len(image_shape) == 3:
        c, h, w = image_shape
    else:
        raise ModelError(f"image_shape must be (H, W) or (C, H, W), got {tuple(image_shape)}")
    if min(c, h, w) < 1 or c * h * w != n_features:
        raise ModelError(f"image_shape {tuple(image_shape)} does not match {n_features} features per row")
    stages = max(0, math.ceil(math.log2(max(h, w) / 4)))
    return c, h, w, stages


class ConvGenerator(nn.Module):
    """z → dense → (ch, 4, 4) → ``stages`` × [ConvTranspose 4×4 stride 2 + batch norm + act] → conv 3×3 to C
    channels at 4·2^stages pixels, cropped to (H, W) and flattened back to rows."""

    def __init__(self, c: DCGANConfig, channels: int, h: int, w: int, stages: int):
        super().__init__()
        self.shape = (channels, h, w)
        chans = [min(c.g_channels * 2 ** (stages - i), _MAX_CHANNELS) for i in range(stages + 1)]
        self.stem = nn.Sequential(nn.Linear(c.latent_dim, chans[0] * 16, bias=False),
                                  nn.BatchNorm1d(chans[0] * 16), _act(c.activation))
        ups: list[nn.Module] = []
        for i in range(stages):
            ups += [nn.ConvTranspose2d(chans[i], chans[i + 1], 4, stride=2, padding=1, bias=False),
                    nn.BatchNorm2d(chans[i + 1]), _act(c.activation)]
        self.ups = nn.Sequential(*ups)
        self.to_image = nn.Conv2d(chans[-1], channels, 3, padding=1)
        self.c0 = chans[0]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.stem(z).view(-1, self.c0, 4, 4)
        x = self.to_image(self.ups(x))
        ch, h, w = self.shape
        return x[:, :, :h, :w].reshape(len(z), ch * h * w)


class ConvFeatures(nn.Module):
    """Rows → images zero-padded to 4·2^stages → conv 3×3 → ``stages`` × strided conv 4×4 → dense hidden layer."""

    def __init__(self, c: DCGANConfig, channels: int, h: int, w: int, stages: int):
        super().__init__()
        self.shape = (channels, h, w)
        self.size = 4 * 2 ** stages
        sn = c.spectral_norm
        chans = [min(c.d_channels * 2 ** i, _MAX_CHANNELS) for i in range(stages + 1)]
        layers: list[nn.Module] = [_sn(nn.Conv2d(channels, chans[0], 3, padding=1), sn), _act(c.activation)]
        for i in range(stages):
            layers += [_sn(nn.Conv2d(chans[i], chans[i + 1], 4, stride=2, padding=1), sn), _act(c.activation)]
        self.convs = nn.Sequential(*layers)
        self.dense = nn.Sequential(_sn(nn.Linear(chans[-1] * 16, c.d_width), sn), _act(c.activation))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ch, h, w = self.shape
        img = x.reshape(len(x), ch, h, w)
        img = F.pad(img, (0, self.size - w, 0, self.size - h))
        return self.dense(self.convs(img).flatten(1))


# ----------------------------------------------------------------------------- the models

class _GANBase(GenerativeModel):
    family = "GAN"
    capabilities = frozenset({Capability.SAMPLE, Capability.ADVERSARIAL})
    loss_kind = "ns"  # overridden by the config's ``loss`` field where the model has one

    def __init__(self, config: GANConfig, n_features: int, device: torch.device | str = "cpu",
                 n_classes: int = 0, image_shape: tuple[int, ...] | None = None):
        super().__init__(config, n_features, device, n_classes, image_shape)
        self.loss_kind = getattr(config, "loss", type(self).loss_kind)
        self.generator, self.discriminator = self._build_networks()
        self.generator.to(self.device)
        self.discriminator.to(self.device)
        # Polyak/EMA copy of G used for sampling (None when g_ema = 0); D never sees it.
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False) if config.g_ema > 0 else None
        c = config
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=c.lr_g, betas=(c.beta1, c.beta2))
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=c.lr_d, betas=(c.beta1, c.beta2))

    def _build_networks(self) -> tuple[nn.Module, Discriminator]:
        return mlp_generator(self.config, self.n_features), mlp_discriminator(self.config, self.n_features)

    # --- schedules and noise ------------------------------------------------------------------------------
    def instance_noise_std(self) -> float:
        """Current instance-noise std: ``instance_noise`` at the first step, linearly down to 0 at the last."""
        start = float(self.config.instance_noise)
        if start <= 0:
            return 0.0
        frac = self.steps_done / max(self.total_steps - 1, 1)
        return start * max(0.0, 1.0 - frac)

    def _noisy(self, x: torch.Tensor, std: float) -> torch.Tensor:
        return x + std * self.randn_like(x) if std > 0 else x

    def _rand(self, n: int) -> torch.Tensor:
        return torch.rand(n, generator=self.rng, device=self.device)

    # --- one D update and one G update --------------------------------------------------------------------
    def _d_update(self, real: torch.Tensor, std: float) -> dict[str, float]:
        c = self.config
        n = len(real)
        with torch.no_grad():
            fake = self.generator(self.randn(n, c.latent_dim))
        if c.label_flip > 0:  # swap a random subset of (real, fake) pairs: those rows get the other label
            flip = (self._rand(n) < c.label_flip).unsqueeze(1)
            real, fake = torch.where(flip, fake, real), torch.where(flip, real, fake)
        real, fake = self._noisy(real, std), self._noisy(fake, std)
        scores = self.discriminator(torch.cat([real, fake]))
        s_real, s_fake = scores[:n], scores[n:]
        out: dict[str, float] = {}
        if self.loss_kind == "wgan-gp":
            gp, _ = gradient_penalty(self.discriminator, real, fake, self.rng)
            wasserstein = s_real.mean() - s_fake.mean()
            loss = -wasserstein + c.gp_lambda * gp
            out.update(gp=gp.item(), wasserstein=wasserstein.item())
        else:
            if c.label_smoothing:
                t_real = 0.9 + 0.1 * self._rand(n)
                t_fake = 0.1 * self._rand(n)
            else:
                t_real, t_fake = torch.ones_like(s_real), torch.zeros_like(s_fake)
            loss = (F.binary_cross_entropy_with_logits(s_real, t_real)
                    + F.binary_cross_entropy_with_logits(s_fake, t_fake))
            out.update(d_real=torch.sigmoid(s_real).mean().item(), d_fake=torch.sigmoid(s_fake).mean().item())
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        if c.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.discriminator.parameters(), c.grad_clip)
        self.opt_d.step()
        out["d_loss"] = loss.item()
        return out

    def _g_update(self, n: int, std: float) -> float:
        c = self.config
        self.discriminator.requires_grad_(False)  # G's step needs no gradients for D's weights
        try:
            fake = self._noisy(self.generator(self.randn(n, c.latent_dim)), std)
            s_fake = self.discriminator(fake)
            if self.loss_kind == "wgan-gp":
                loss = -s_fake.mean()
            else:  # non-saturating: −log σ(D(G(z)))
                loss = F.binary_cross_entropy_with_logits(s_fake, torch.ones_like(s_fake))
            self.opt_g.zero_grad(set_to_none=True)
            loss.backward()
        finally:
            self.discriminator.requires_grad_(True)
        if c.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.generator.parameters(), c.grad_clip)
        self.opt_g.step()
        self._update_ema()
        return loss.item()

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.generator_ema is None:
            return
        t = self.steps_done
        decay = min(self.config.g_ema, (1.0 + t) / (10.0 + t))  # warm-up: early on, follow G closely
        for p_ema, p in zip(self.generator_ema.parameters(), self.generator.parameters()):
            p_ema.lerp_(p, 1.0 - decay)
        for b_ema, b in zip(self.generator_ema.buffers(), self.generator.buffers()):
            b_ema.copy_(b)  # batch-norm running statistics: take the live generator's

    def train_step(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        c = self.config
        std = self.instance_noise_std()
        k = c.n_critic
        if len(batch) >= 2 * k:  # disjoint sub-batches of at least 2 rows (batch norm needs 2)
            perm = torch.randperm(len(batch), generator=self.rng, device=self.device)
            chunks = list(torch.tensor_split(batch[perm], k))
        else:
            chunks = [batch] * k
        logs = [self._d_update(chunk, std) for chunk in chunks]
        out = {key: sum(log[key] for log in logs) / k for key in logs[0]}
        out["g_loss"] = self._g_update(len(batch), std)
        out["loss"] = out["d_loss"]
        out["noise_std"] = std
        return out

    # --- inference ------------------------------------------------------------------------------------------
    @property
    def sampling_generator(self) -> nn.Module:
        """The generator samples come from: the weight average when ``g_ema`` > 0, else the live one."""
        return self.generator if self.generator_ema is None else self.generator_ema

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """n rows from G(z), z ~ N(0, I) (from the weight average when ``g_ema`` > 0); call in eval mode."""
        return self.sampling_generator(self.randn(n, self.config.latent_dim))

    def _eval_d(self, fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        was_training = self.discriminator.training
        self.discriminator.train(False)  # eval: spectral norm reuses its stored vectors, no update
        try:
            with torch.no_grad():
                return fn(x.to(self.device, torch.float32))
        finally:
            self.discriminator.train(was_training)

    def critic(self, x: torch.Tensor) -> torch.Tensor:
        """D's raw score of each row x (model space): a logit for the BCE loss, the critic value for WGAN-GP;
        shape (n,). Evaluated in eval mode without gradients (spectral norm uses its stored vectors)."""
        return self._eval_d(self.discriminator, x)

    def critic_features(self, x: torch.Tensor) -> torch.Tensor:
        """Activations of D's last hidden layer for each row x (model space), shape (n, d_width): a learned
        embedding of the data (e.g. for anomaly scoring)."""
        return self._eval_d(self.discriminator.features, x)

    # --- persistence ----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor]:
        state = {f"generator.{k}": v for k, v in self.generator.state_dict().items()}
        state.update({f"discriminator.{k}": v for k, v in self.discriminator.state_dict().items()})
        if self.generator_ema is not None:
            state.update({f"generator_ema.{k}": v for k, v in self.generator_ema.state_dict().items()})
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        parts = [("generator.", self.generator), ("discriminator.", self.discriminator)]
        if self.generator_ema is not None:
            parts.append(("generator_ema.", self.generator_ema))
        for prefix, module in parts:
            module.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})


_STABILISERS = (f"Stabilisers ({cite('lorenz_study')}), each a setting: spectral normalisation of D, separate "
                f"learning rates "
                "for G and D (TTUR), soft labels, instance noise that fades out during training, random label "
                "flips and several D updates per G update; samples come from a running average of G's weights.")


@register
class GAN(_GANBase):
    name = "gan"
    label = "GAN (non-saturating, MLP generator and discriminator)"
    Config = GANConfig
    loss_kind = "ns"
    default_steps = 3000
    formula = (r"\begin{aligned}L_D &= -\mathbb{E}_x[\log \sigma(D(x))] - \mathbb{E}_z[\log(1-\sigma(D(G(z))))]\\"
               r"L_G &= -\mathbb{E}_z[\log \sigma(D(G(z)))]\end{aligned}")
    summary = ("A generator G turns random noise z into rows; a discriminator D learns to tell real rows from "
               "generated ones, and G learns to fool it. G uses the non-saturating loss −log σ(D(G(z))), which "
               "keeps its gradients strong early on when D wins easily. There is no likelihood: the model can "
               "only sample. " + _STABILISERS)


@register
class WGANGP(_GANBase):
    name = "wgan_gp"
    label = "Wasserstein GAN with gradient penalty (MLP critic)"
    Config = WGANGPConfig
    loss_kind = "wgan-gp"
    default_steps = 2000  # finance in ~25–40 s CPU (60 s budget); 3000 steps measured no better
    formula = (r"\begin{aligned}L_d &= \mathbb{E}[d(\tilde x)] - \mathbb{E}[d(x)]"
               r" + \lambda\,\mathbb{E}\big[(\lVert\nabla_{\hat x} d(\hat x)\rVert_2 - 1)^2\big]\\"
               r"\hat x &= \varepsilon x + (1-\varepsilon)\tilde x,\quad \varepsilon\sim U[0,1]\\"
               r"L_g &= -\mathbb{E}[d(\tilde x)],\quad \tilde x = G(z)\end{aligned}")
    summary = ("The critic d scores rows (no sigmoid): its gap between real and generated rows estimates the "
               "Wasserstein distance, provided d is 1-Lipschitz. The gradient penalty enforces that softly, "
               f"pushing the gradient norm towards 1 on random points between real and fake rows ({cite('avo_talk')}). "
               "The critic takes several steps (n_critic) per generator step; the generator raises the "
               "critic's score of its samples. " + _STABILISERS.replace("soft labels, ", ""))


@register
class DCGAN(_GANBase):
    name = "dcgan"
    needs_images = True  # pages offer it only for image datasets
    label = "DCGAN (convolutional GAN for images; BCE or WGAN-GP loss)"
    Config = DCGANConfig
    default_steps = 2000
    formula = (r"\begin{aligned}&\textbf{ns:}\ L_D = -\mathbb{E}[\log\sigma(D(x))]"
               r" - \mathbb{E}[\log(1-\sigma(D(G(z))))]\\"
               r"&\phantom{\textbf{ns:}}\ L_G = -\mathbb{E}[\log\sigma(D(G(z)))]\\"
               r"&\textbf{wgan-gp:}\ L_D = \mathbb{E}[D(G(z))] - \mathbb{E}[D(x)]"
               r" + \lambda\,\mathbb{E}[(\lVert\nabla_{\hat x} D(\hat x)\rVert_2 - 1)^2]\\"
               r"&\phantom{\textbf{wgan-gp:}}\ L_G = -\mathbb{E}[D(G(z))]\end{aligned}")
    summary = ("A GAN whose networks see images rather than flat rows: the generator upsamples noise with "
               "transposed convolutions and batch norm, the discriminator downsamples with strided "
               f"convolutions ({cite('lorenz_study')}'s DCGAN). The loss setting chooses the non-saturating BCE "
               f"game or the "
               "Wasserstein loss with gradient penalty. " + _STABILISERS)

    def _build_networks(self) -> tuple[nn.Module, Discriminator]:
        c = self.config
        channels, h, w, stages = image_geometry(self.image_shape, self.n_features)
        head = _sn(nn.Linear(c.d_width, 1), c.spectral_norm)
        return (ConvGenerator(c, channels, h, w, stages),
                Discriminator(ConvFeatures(c, channels, h, w, stages), head))
