"""The training settings a person chooses (steps, batch size, seed, device, preprocessing, scoring period), declared
once with :func:`genlib.params.param` so the app builds their widgets, checks them and keeps them in the address
the same way as every model and dataset setting. :class:`genlib.train.TrainSpec` takes the values as they are."""
from __future__ import annotations

from dataclasses import dataclass

from genlib.params import param
from genlib.transforms import TRANSFORM_KINDS

__all__ = ["TrainSettings"]


@dataclass
class TrainSettings:
    steps: int = param(2000, "optimiser steps (one mini-batch each); a model's own default is usually right",
                       range=(10, 200_000), step=100, label="training steps")
    batch_size: int = param(256, "rows per optimiser step", range=(8, 8192), step=32, label="batch size")
    seed: int = param(0, "same seed and settings → the same model", range=(0, 2**31 - 1), advanced=True,
                      label="random seed")
    device: str = param("auto", "auto uses the GPU when PyTorch sees one", choices=("auto", "cpu", "cuda"),
                        label="device (CPU or GPU)")
    transform: str = param("auto", "fitted on the training split only; samples are mapped back to data units",
                           choices=TRANSFORM_KINDS, label="preprocessing")
    eval_period_s: float = param(5.0, "how often fresh samples are scored against the test split, in seconds",
                                 range=(1.0, 600.0), step=1.0, label="metrics every (s)")
    checkpoint_every_s: float = param(30.0, "how often a checkpoint is written while training: what a crash keeps and "
                                      "Continue starts from", range=(1.0, 3600.0), step=5.0,
                                      label="checkpoint every (s)", advanced=True)
