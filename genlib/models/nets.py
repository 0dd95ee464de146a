"""Small network builders shared by the neural models."""
from __future__ import annotations

import torch
from torch import nn

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
