r"""What a GAN's discriminator (or a WGAN-GP's critic) thinks of every point of the plane, while it trains.

A GAN has no density, but its discriminator is a map of the plane: for the BCE (non-saturating) GAN,
D(x) = σ(logit(x)) is its belief that x is real (≈ ½ everywhere at the game's equilibrium); for WGAN-GP the
critic value d(x) is unnormalised (only differences matter: E d(real) − E d(fake) estimates the Wasserstein
distance), high where the critic wants the generator's samples to move.

Safe to call from a page while a background thread trains the same model, because nothing here touches the
live model's state:

- Evaluation runs on a private copy of the discriminator (``copy.deepcopy``) switched to eval mode, never on
  the live module. The MLP discriminator has no batch norm and no dropout, but with spectral normalisation
  (on by default for ``gan``) its train-mode forward runs a power-iteration step that rewrites the stored
  singular vectors in place: calling it in train mode would change training, and flipping the live module to
  eval (as ``_GANBase.critic`` does) races with the trainer — a step could run in eval mode, or a concurrent
  flip could leave the module in eval for good. The copy costs a few hundred kB and well under a millisecond.
- Generated points use a private ``torch.Generator`` seeded with ``seed`` (and a copy of the generator network
  in eval mode), never the model's own RNG: ``FittedModel.sample`` reseeds ``model.rng`` for the duration of the
  call, which would change the training thread's random stream (see ``genlib.train.loop.draw_preview``).
- ``torch.no_grad`` is thread-local, so it does not switch gradients off in the training thread.

A copy taken while the optimiser updates the weights may mix two consecutive steps; for a picture refreshed
every second that is harmless.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import nn

from genlib.models.base import Capability, require
from genlib.models.fitted import FittedModel
from genlib.models.gan import frozen_copy

from .grid import BATCH_ROWS, Grid

__all__ = ["critic_kind", "critic_on_grid", "critic_values", "generated_points"]


def _networks(fitted: FittedModel) -> tuple[nn.Module, nn.Module]:
    model = fitted.model
    require(model, Capability.ADVERSARIAL, "a view of the discriminator")
    return model.discriminator, model.generator


def critic_kind(fitted: FittedModel) -> Literal["probability", "critic"]:
    """"probability" for BCE GANs (values D(x) in (0, 1)), "critic" for WGAN-GP (unbounded values)."""
    _networks(fitted)
    return "critic" if fitted.model.loss_kind == "wgan-gp" else "probability"


def critic_values(fitted: FittedModel, x: np.ndarray, raw: bool = False, batch_rows: int = BATCH_ROWS) -> np.ndarray:
    """The discriminator's output for each row of x (DATA units), shape (m,).

    BCE GANs: D(x) = sigmoid(logit), or the logit itself with ``raw=True``; WGAN-GP: the critic value. Rows are
    mapped to model space with the run's transform first (the discriminator was trained there)."""
    disc, _ = _networks(fitted)
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != fitted.model.n_features:
        raise ValueError(f"x must have shape (m, {fitted.model.n_features}), got {arr.shape}")
    snap = frozen_copy(disc)
    probability = critic_kind(fitted) == "probability" and not raw
    out = np.empty(len(arr), dtype=np.float64)
    with torch.no_grad():
        for start in range(0, len(arr), batch_rows):
            z = fitted.to_model_space(arr[start:start + batch_rows])
            score = snap(z).reshape(-1)
            if probability:
                score = torch.sigmoid(score)
            out[start:start + batch_rows] = score.detach().cpu().double().numpy()
    return out


def critic_on_grid(fitted: FittedModel, grid: Grid, raw: bool = False) -> np.ndarray:
    """:func:`critic_values` at every cell centre of ``grid``, as an (n, n) array indexed [iy, ix]."""
    if fitted.model.n_features != 2:
        raise ValueError(f"a critic grid needs 2-D data; {fitted.name} was trained on "
                         f"{fitted.model.n_features} columns")
    return grid.reshape(critic_values(fitted, grid.points, raw=raw))


def generated_points(fitted: FittedModel, n: int, seed: int = 0) -> np.ndarray:
    """n generated rows in DATA units; the same rows as ``fitted.sample(n, seed)`` (from the weight-averaged
    generator when the run keeps one), without touching the model's RNG or train/eval mode."""
    if n < 1:
        raise ValueError("number of samples must be at least 1")
    _networks(fitted)
    model = fitted.model
    gen = frozen_copy(model.sampling_generator)
    rng = torch.Generator(device=model.device).manual_seed(int(seed))
    with torch.no_grad():
        z = torch.randn(int(n), model.config.latent_dim, generator=rng, device=model.device)
        x = gen(z).detach().cpu().double().numpy()
    if not np.all(np.isfinite(x)):
        raise FloatingPointError(f"{fitted.name} produced non-finite samples; the model has diverged")
    return fitted.transform.inverse(x)
