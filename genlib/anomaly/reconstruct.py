r"""Best reconstructions x̂ = G(z*) of new rows by a trained GAN, in the model's own (transformed) space.

A GAN has no encoder, so z* must be searched for. Two ways, both from the anomaly literature:

- **Latent optimisation** (AnoGAN, Schlegl et al. 2017): for each row, Adam on z minimises
  ``mean (x − G(z))² + lam_feature · mean (f(x) − f(G(z)))²``, f = the critic's last hidden layer. Rows are
  optimised together in batches; the loss is a sum over rows and Adam is element-wise, so every row's z follows
  exactly the path it would alone. ``iters`` is the cost/quality knob.
- **Encoder** (f-AnoGAN, Schlegl et al. 2019): after the GAN, train E with G and D frozen to minimise
  ``mean (x − G(E(x)))² + κ · mean (f(x) − f(G(E(x))))²`` on normal rows; then z* = E(x) in one forward pass.
  κ = 0 (the paper's izi, the default) fits the residual alone; κ > 0 is its izi_f. On digits with one class held
  out, κ = 0 scored better on every class measured (``benchmarks/RESULTS.md``): the feature term lets E settle
  for rebuilds that fool the critic's features but not the pixels.

Why private copies: G and D are deep-copied, put in eval mode and frozen (``requires_grad_(False)``), so a
training thread that still owns the live model is never disturbed (see ``genlib.density.critic``: spectral
norm's train-mode forward rewrites its vectors, and flipping the live module's mode races with the trainer).
The generator used is the one sampling uses (the weight average when the run keeps one).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from genlib.models.base import Capability, ModelError, require
from genlib.models.fitted import FittedModel
from genlib.models.gan import frozen_copy
from genlib.train.loop import seeded_init

__all__ = ["gan_networks", "optimise_latent", "Encoder", "train_encoder", "encode_reconstruct", "save_encoder",
           "load_encoder", "ENCODER_FILE", "optimise_units", "encode_units"]

ENCODER_FILE = "anomaly_encoder.pt"
ENCODER_FORMAT = "genlab-anomaly-encoder/1"


def gan_networks(fitted: FittedModel) -> tuple[nn.Module, nn.Module, nn.Module]:
    """Private frozen eval-mode copies (G, D.features, D) of a GAN run; ``ModelError`` for any other model."""
    model = fitted.model
    require(model, Capability.ADVERSARIAL, "an anomaly score by reconstruction")
    gen = frozen_copy(model.sampling_generator)
    disc = frozen_copy(model.discriminator)
    return gen, disc.features, disc


def _model_rows(fitted: FittedModel, x: np.ndarray) -> torch.Tensor:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != fitted.model.n_features:
        raise ValueError(f"x must have shape (m, {fitted.model.n_features}), got {arr.shape}")
    return fitted.to_model_space(arr)


def _row_loss(g: nn.Module, f: nn.Module, x: torch.Tensor, fx: torch.Tensor, z: torch.Tensor,
              lam_feature: float) -> tuple[torch.Tensor, torch.Tensor]:
    x_hat = g(z)
    loss = ((x - x_hat) ** 2).flatten(1).mean(1)
    if lam_feature > 0:
        loss = loss + lam_feature * ((fx - f(x_hat)) ** 2).flatten(1).mean(1)
    return loss, x_hat


def optimise_latent(fitted: FittedModel, x: np.ndarray, iters: int = 200, lr: float = 0.05,
                    lam_feature: float = 0.1, batch: int = 256, seed: int = 0, n_init: int = 8,
                    progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """AnoGAN: z* per row of ``x`` (DATA units) by ``iters`` Adam steps; returns (z*, x̂) with x̂ in MODEL space.

    Each row starts from the best of ``n_init`` draws z ~ N(0, I) (cheap, and it avoids the worst local minima),
    and the best z seen along the way is kept, so more iterations never give a worse reconstruction.
    ``progress(1)`` is called after every Adam step of a batch (once per batch when ``iters`` = 0), so a job can
    report it and stop in between (:func:`optimise_units` counts the calls)."""
    if iters < 0:
        raise ValueError("iters must be >= 0")
    g, f, _ = gan_networks(fitted)
    xs = _model_rows(fitted, x)
    device, latent = xs.device, int(fitted.model.config.latent_dim)
    rng = torch.Generator(device=device).manual_seed(int(seed))
    zs, outs = [], []
    for start in range(0, len(xs), max(1, int(batch))):
        xb = xs[start:start + batch]
        with torch.no_grad():
            fx = f(xb)
            best_z = torch.randn(len(xb), latent, generator=rng, device=device)
            best_l, _ = _row_loss(g, f, xb, fx, best_z, lam_feature)
            for _ in range(max(0, n_init - 1)):
                z0 = torch.randn(len(xb), latent, generator=rng, device=device)
                l0, _ = _row_loss(g, f, xb, fx, z0, lam_feature)
                better = l0 < best_l
                best_z[better], best_l[better] = z0[better], l0[better]
        z = best_z.clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        for _ in range(int(iters)):
            loss, _ = _row_loss(g, f, xb, fx, z, lam_feature)
            with torch.no_grad():
                better = loss < best_l
                best_z[better], best_l[better] = z.detach()[better], loss.detach()[better]
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
            if progress is not None:
                progress(1)
        if progress is not None and int(iters) == 0:
            progress(1)
        with torch.no_grad():
            loss, _ = _row_loss(g, f, xb, fx, z, lam_feature)
            better = loss < best_l
            best_z[better] = z.detach()[better]
            zs.append(best_z.cpu().double().numpy())
            outs.append(g(best_z).cpu().double().numpy())
    return np.concatenate(zs), np.concatenate(outs)


class Encoder(nn.Module):
    """x (model space, flattened) → z. An MLP for tables; a small conv net when ``image_shape`` is given."""

    def __init__(self, n_features: int, latent_dim: int, width: int = 128,
                 image_shape: tuple[int, ...] | None = None):
        super().__init__()
        self.spec: dict[str, Any] = {"n_features": int(n_features), "latent_dim": int(latent_dim),
                                     "width": int(width), "image_shape": list(image_shape) if image_shape else None}
        if image_shape:
            c, h, w = (1, *image_shape) if len(image_shape) == 2 else tuple(image_shape)
            self.shape: tuple[int, int, int] | None = (int(c), int(h), int(w))
            self.net = nn.Sequential(
                nn.Conv2d(c, 32, 3, padding=1), nn.LeakyReLU(0.2),
                nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                nn.Linear(64 * 16, width), nn.LeakyReLU(0.2), nn.Linear(width, latent_dim))
        else:
            self.shape = None
            self.net = nn.Sequential(nn.Linear(n_features, width), nn.LeakyReLU(0.2),
                                     nn.Linear(width, width), nn.LeakyReLU(0.2), nn.Linear(width, latent_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shape is not None:
            x = x.reshape(len(x), *self.shape)
        return self.net(x)


def train_encoder(fitted: FittedModel, x_normal: np.ndarray, steps: int = 1000, kappa: float = 0.0,
                  lr: float = 1e-3, batch: int = 128, width: int = 128, seed: int = 0,
                  progress: Callable[[int], None] | None = None) -> Encoder:
    """f-AnoGAN: fit E on normal rows (DATA units) with G and D frozen (κ = 0: izi, κ > 0: izi_f); returns E in
    eval mode.
    ``progress(1)`` is called after every step."""
    g, f, _ = gan_networks(fitted)
    xs = _model_rows(fitted, x_normal)
    device = xs.device
    with seeded_init(seed, device):
        enc = Encoder(fitted.model.n_features, int(fitted.model.config.latent_dim), width,
                      fitted.model.image_shape).to(device)
    rng = torch.Generator(device=device).manual_seed(int(seed) + 1)
    opt = torch.optim.Adam(enc.parameters(), lr=lr)
    bs = min(int(batch), len(xs))
    for _ in range(int(steps)):
        xb = xs[torch.randint(len(xs), (bs,), generator=rng, device=device)]
        with torch.no_grad():
            fx = f(xb)
        loss, _ = _row_loss(g, f, xb, fx, enc(xb), kappa)
        opt.zero_grad(set_to_none=True)
        loss.mean().backward()
        opt.step()
        if progress is not None:
            progress(1)
    enc.train(False)
    enc.requires_grad_(False)
    return enc


def encode_reconstruct(fitted: FittedModel, encoder: Encoder, x: np.ndarray, batch: int = 1024,
                       progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(z = E(x), x̂ = G(E(x))) for rows of ``x`` (DATA units); x̂ in MODEL space. ``progress(1)`` per batch."""
    g, _, _ = gan_networks(fitted)
    xs = _model_rows(fitted, x)
    enc = encoder.to(xs.device).train(False)
    zs, outs = [], []
    with torch.no_grad():
        for start in range(0, len(xs), batch):
            z = enc(xs[start:start + batch])
            zs.append(z.cpu().double().numpy())
            outs.append(g(z).cpu().double().numpy())
            if progress is not None:
                progress(1)
    return np.concatenate(zs), np.concatenate(outs)


def optimise_units(n_rows: int, iters: int, batch: int = 256) -> int:
    """How many ``progress`` calls :func:`optimise_latent` makes for ``n_rows`` rows (a job's step count)."""
    return -(-int(n_rows) // max(1, int(batch))) * max(1, int(iters))


def encode_units(n_rows: int, batch: int = 1024) -> int:
    """How many ``progress`` calls :func:`encode_reconstruct` makes for ``n_rows`` rows."""
    return -(-int(n_rows) // max(1, int(batch)))


def save_encoder(encoder: Encoder, path: str | Path) -> Path:
    """Plain containers and tensors only, so :func:`load_encoder` can read it with ``weights_only=True``."""
    path = Path(path)
    payload = {"format": ENCODER_FORMAT, "spec": json.dumps(encoder.spec),
               "state": {k: v.detach().cpu() for k, v in encoder.state_dict().items()}}
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load_encoder(path: str | Path, fitted: FittedModel | None = None) -> Encoder:
    """Read an encoder saved by :func:`save_encoder`; checks it fits ``fitted`` (features and latent size)."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(payload, dict) or payload.get("format") != ENCODER_FORMAT:
            raise ValueError("not an anomaly encoder file")
        spec = json.loads(payload["spec"])
        enc = Encoder(spec["n_features"], spec["latent_dim"], spec["width"],
                      tuple(spec["image_shape"]) if spec.get("image_shape") else None)
        enc.load_state_dict(payload["state"])
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise ModelError(f"{path.name} is not a usable anomaly encoder ({str(exc).splitlines()[0][:120]})") from None
    if fitted is not None and (spec["n_features"] != fitted.model.n_features
                               or spec["latent_dim"] != int(fitted.model.config.latent_dim)):
        raise ModelError(f"{path.name} was trained for another model ({spec['n_features']} features, latent "
                         f"{spec['latent_dim']}); retrain it")
    enc.train(False)
    enc.requires_grad_(False)
    return enc.to(fitted.model.device if fitted is not None else "cpu")
