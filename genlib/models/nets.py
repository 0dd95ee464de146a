"""Small network builders shared by the neural models."""
from __future__ import annotations

import torch
from torch import nn

from .base import ModelError

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "leakyrelu": nn.LeakyReLU, "elu": nn.ELU}


def mlp(n_in: int, n_out: int, width: int, depth: int, activation: str = "relu",
        zero_last: bool = False) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` units. ``zero_last`` starts the output at 0, which keeps
    early training stable for heads that feed an ``exp`` (log-variances, log-scales)."""
    act = ACTIVATIONS[activation]
    layers: list[nn.Module] = []
    size = n_in
    for _ in range(depth):
        layers += [nn.Linear(size, width), act()]
        size = width
    last = nn.Linear(size, n_out)
    if zero_last:
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
    layers.append(last)
    return nn.Sequential(*layers)


def one_hot(labels: torch.Tensor | None, n_classes: int, n: int, device: torch.device) -> torch.Tensor:
    """Labels as one-hot rows; an empty (n, 0) tensor for unconditional models."""
    if n_classes == 0:
        return torch.zeros(n, 0, device=device)
    if labels is None:
        raise ValueError("this model is conditional: pass one label per row")
    return nn.functional.one_hot(labels.long().to(device), n_classes).float()


def image_dims(image_shape: tuple[int, ...] | None, n_features: int, model: str) -> tuple[int, int, int]:
    """(C, H, W) of rows that are flattened images; a :class:`ModelError` naming ``model`` when the dataset
    has no ``image_shape`` or it does not match the row width."""
    if image_shape is None:
        raise ModelError(f"{model} needs image data: this dataset has no image_shape (use e.g. digits, or an "
                         "MLP model such as vae for tables)")
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3:
        raise ModelError(f"image_shape must be (H, W) or (C, H, W), got {tuple(image_shape)}")
    c, h, w = shape
    if min(c, h, w) < 1 or c * h * w != n_features:
        raise ModelError(f"image_shape {tuple(image_shape)} does not match {n_features} features per row")
    return c, h, w
