"""One training loop for every model, run inside a job's background thread.

It never touches Streamlit: progress goes into the job through the ``report`` callback, and the job's
stop flag is polled every step, so stopping takes effect within one step.
"""
from __future__ import annotations

import contextlib
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import torch

from ..data import Dataset
from ..metrics.suite import DEFAULT_EVAL_ROWS, reference_for, score_model
from ..models import FittedModel, ModelError, NonFiniteLossError, get_model_class, model_config
from ..transforms import make_transform

_INIT_LOCK = threading.Lock()  # weight initialisation uses torch's global RNG: seed + build atomically


@contextlib.contextmanager
def seeded_init(seed: int, device: torch.device | None = None) -> Iterator[None]:
    """Build networks with reproducible initial weights from any thread: seeds torch's global RNG under the lock
    the trainer uses for the same purpose, inside ``fork_rng`` so the global stream is restored afterwards."""
    devices = [] if device is None or device.type == "cpu" else [device]
    with _INIT_LOCK, torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` → CUDA when PyTorch sees a GPU, else CPU. Asking for CUDA without one is a clear error."""
    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelError("device 'cuda' was requested but PyTorch sees no GPU; use --device cpu or auto")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise ModelError(f"device must be auto, cpu or cuda; got {name!r}")


@dataclass
class TrainSpec:
    """Everything that defines a run. Same spec (and seed) → same model, on the same device."""

    model: str
    dataset: Dataset
    config: dict[str, Any] = field(default_factory=dict)  # overrides of the model's Config defaults
    steps: int | None = None                                  # None → the model's default
    batch_size: int = 256
    seed: int = 0
    device: str = "auto"
    transform: str = "auto"
    eval_period_s: float | None = 5.0   # recompute metrics every this many seconds of training (None: at end)
    eval_samples: int = DEFAULT_EVAL_ROWS  # metrics use at most this many test rows (and as many samples)
    preview_samples: int = 0             # >0: also draw this many samples at each rescoring, for live previews
    name: str | None = None
    out_dir: str | None = None           # run folder to write (default: a new folder inside the store)

    def label(self) -> str:
        return self.name or f"{self.model} on {self.dataset.name}"


@dataclass
class Progress:
    """What the loop reports after each step (or group of steps)."""

    step: int
    total: int
    losses: dict[str, float] | None = None
    metrics: dict[str, float] | None = None
    preview: np.ndarray | None = None   # fresh samples (data units) drawn with the metrics, when asked for


def draw_preview(fitted: FittedModel, spec: TrainSpec) -> np.ndarray | None:
    """Samples for a live preview, drawn HERE in the training thread with a fixed seed.

    Why not from the page: sampling switches the model to eval mode (batch norm, dropout) while the training
    thread may be mid-step; drawing between two steps keeps both correct, and the fixed seed makes successive
    previews show the model changing, not the noise."""
    if spec.preview_samples <= 0:
        return None
    return fitted.sample(spec.preview_samples, seed=4242)


def build(spec: TrainSpec, device: torch.device) -> FittedModel:
    """Fit the transform on the training split only and build an untrained model with the run's seed."""
    model_cls = get_model_class(spec.model)
    config = model_config(model_cls, spec.config)
    transform = make_transform(spec.transform, spec.dataset.train)
    with _INIT_LOCK:
        torch.manual_seed(spec.seed)
        model = model_cls(config, spec.dataset.n_features, device, spec.dataset.n_classes, spec.dataset.image_shape)
    model.rng.manual_seed(spec.seed)
    info = {"dataset": spec.dataset.name, "dataset_params": spec.dataset.params,
            "image_shape": spec.dataset.image_shape, "transform": spec.transform}
    return FittedModel(model, transform, list(spec.dataset.columns), info)


def evaluate_fitted(fitted: FittedModel, dataset: Dataset, n_max: int = DEFAULT_EVAL_ROWS,
                    seed: int = 12345) -> dict[str, float]:
    """The whole metric suite (genlib.metrics.suite) on fresh samples against the held-out test split.

    The real side (test subsample of at most ``n_max`` rows, k-NN radii, oracle floor…) is built once per dataset
    and cached, so a refresh costs only the model's samples and the fake side of each metric. The generator
    noise uses a fixed seed, so successive values differ only because the model changed."""
    ref = reference_for(dataset, n_rows=n_max)
    return {k: float(v) for k, v in score_model(ref, fitted, seed=seed).items()}


def _check_finite(losses: dict[str, float], step: int) -> None:
    for key, value in losses.items():
        if not math.isfinite(value):
            raise NonFiniteLossError(f"loss '{key}' became {value} at step {step}: training diverged "
                                     "(try a smaller learning rate or a different transform)")


def train(spec: TrainSpec, fitted: FittedModel, report: Callable[[Progress], None],
          should_stop: Callable[[], bool]) -> int:
    """Train ``fitted.model`` in place; returns the number of steps done. Raises on NaN/inf losses."""
    model = fitted.model
    device = model.device
    x = fitted.to_model_space(spec.dataset.train)
    labels = (None if spec.dataset.labels_train is None
              else torch.as_tensor(spec.dataset.labels_train, device=device))
    if not model.iterative:
        report(Progress(0, 1))
        losses = model.fit(x, labels)
        _check_finite(losses, 1)
        report(Progress(1, 1, losses, evaluate_fitted(fitted, spec.dataset, spec.eval_samples)))
        return 1

    total = int(spec.steps or model.default_steps)
    batch_size = min(spec.batch_size, len(x))
    # Index tensors directly (no DataLoader: worker processes can hang inside Streamlit).
    batch_rng = torch.Generator(device=device).manual_seed(spec.seed + 1)
    model.train(True)
    model.total_steps = total
    last_eval = time.perf_counter()
    step = 0
    for step in range(1, total + 1):
        if should_stop():
            return step - 1
        idx = torch.randint(len(x), (batch_size,), generator=batch_rng, device=device)
        model.steps_done = step - 1
        losses = model.train_step(x[idx], None if labels is None else labels[idx])
        _check_finite(losses, step)
        metrics = preview = None
        if spec.eval_period_s is not None and time.perf_counter() - last_eval >= spec.eval_period_s:
            metrics = evaluate_fitted(fitted, spec.dataset, spec.eval_samples)
            preview = draw_preview(fitted, spec)
            last_eval = time.perf_counter()
        report(Progress(step, total, losses, metrics, preview))
    return step
