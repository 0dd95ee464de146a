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
from ..metrics.likelihood import is_discrete
from ..metrics.sanity import FAR_OUT_K, metric_warnings, sample_warnings
from ..metrics.suite import DEFAULT_EVAL_ROWS, SUITE, reference_for, score_model
from ..models import (Capability, FittedModel, ModelError, NonFiniteLossError, check_model_memory, get_model_class,
                      model_config)
from ..store import RunKind
from ..transforms import make_transform
from .task import JobContext, Progress, Task, TaskResult

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
class TrainSpec(Task):
    """Everything that defines a training run. Same spec (and seed) → same model, on the same device."""

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
    checkpoint_every_s: float | None = 30.0  # write a checkpoint this often while training (None: only at the end)
    resume: str | None = None            # a checkpoint to continue from (its weights, optimisers, random streams)
    parent: str | None = None            # the run id it continues
    parent_history: dict[str, Any] | None = None  # that run's loss history, so the curves continue
    data_ref: str | None = None          # how to load the dataset again (an upload's id, a CSV path), for Continue
    start_step: int = 0                  # the step a continued run starts at (its parent's checkpoint)

    kind = RunKind.TRAIN

    def __post_init__(self) -> None:
        # A batch of 0 rows (or fewer) trains on nothing: torch then reports a NaN loss, which read as divergence.
        b = self.batch_size
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1:
            raise ModelError(f"batch size must be a whole number of at least 1 row; got {b!r}")

    def label(self) -> str:
        return self.name or f"{self.model} on {self.dataset.name}"

    @property
    def model_name(self) -> str:
        return self.model

    @property
    def dataset_name(self) -> str:
        return self.dataset.name

    def settings(self) -> dict[str, Any]:
        return dict(self.config)

    def planned_steps(self) -> int:
        return int(self.steps or 0)

    def history(self) -> dict[str, Any] | None:
        return self.parent_history

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "dataset_params": dict(self.dataset.params), "transform": self.transform,
                "columns": list(self.dataset.columns), "parent": self.parent,
                "inputs": {"batch_size": self.batch_size, "data_ref": self.data_ref,
                           "eval_samples": self.eval_samples}}

    def execute(self, ctx: JobContext) -> TaskResult:
        """Build (or reload, to continue), train, then score on the held-out split."""
        fitted = build(self, ctx.device)
        ctx.set_model(fitted)
        state = LoopState.resume(fitted)

        def checkpoint(loop: LoopState) -> None:
            if ctx.checkpoint_due():
                ctx.checkpoint(fitted, loop.to_checkpoint())

        train(self, fitted, ctx.report, ctx.wait_turn, state=state, on_step=checkpoint)   # pause, step, cap
        final = evaluate_fitted(fitted, self.dataset, self.eval_samples)
        preview = draw_preview(fitted, self)
        if preview is not None:
            ctx.report(Progress(state.step, state.total, preview=preview))
        warnings = final_warnings(fitted, self.dataset, final, self.eval_samples)
        return TaskResult(fitted=fitted, metrics=final, training=state.to_checkpoint(), stopped=ctx.should_stop(),
                          arrays=stored_codes(fitted, self.dataset), summary={"warnings": warnings} if warnings else {})


def final_warnings(fitted: FittedModel, dataset: Dataset, metrics: dict[str, float],
                   n_max: int = DEFAULT_EVAL_ROWS, seed: int = 12345) -> list[str]:
    """What a run that ends "done" must still say about its final evaluation samples (the same rows
    `evaluate_fitted` scored: same reference size, same seed): non-finite values, values more than
    :data:`~genlib.metrics.sanity.FAR_OUT_K` training ranges outside a column's training data, and metrics that
    came out NaN."""
    ref = reference_for(dataset, n_rows=n_max)
    labels = ref.labels if fitted.model.has(Capability.CONDITION) and ref.labels is not None else None
    try:
        fake = fitted.sample(ref.n_rows, seed=seed, labels=labels)
    except FloatingPointError:  # non-finite before the inverse transform: nothing to check per column
        out = ["The model's samples are not finite (NaN or ±inf): it has diverged."]
    else:
        out = sample_warnings(fake, dataset.train, dataset.columns, FAR_OUT_K)
    titles = {k: SUITE[k].title for k in metrics if k in SUITE}
    scored = dict(metrics)
    if is_discrete(ref.test):  # integer levels (pixels): log-likelihood is NaN by design, not a failure
        scored.pop("log_likelihood", None)
    return out + metric_warnings(scored, titles)


#: Rows whose latent codes a training run stores with itself (train then test split), so the Latent explorer and the
#: Density page show a stored run without encoding again; larger data are encoded on demand.
MAX_STORED_CODES = 20_000


def stored_codes(fitted: FittedModel, dataset: Dataset) -> dict[str, np.ndarray]:
    """``latent_codes``: the code of every row, training rows then held-out rows (empty for models without an
    encoder, and for data larger than :data:`MAX_STORED_CODES` rows)."""
    if not fitted.model.has(Capability.ENCODE) or len(dataset.train) + len(dataset.test) > MAX_STORED_CODES:
        return {}
    labels = None
    if getattr(fitted.model, "conditional", False):
        if dataset.labels_train is None or dataset.labels_test is None:
            return {}
        labels = np.concatenate([dataset.labels_train, dataset.labels_test])
    codes = fitted.encode(np.concatenate([dataset.train, dataset.test]), labels)
    return {"latent_codes": codes.astype(np.float32)} if np.all(np.isfinite(codes)) else {}


@dataclass
class LoopState:
    """Where the training loop is: the step and the batch sampler's random stream (what a checkpoint keeps, with the
    optimisers, so a continued run draws the same batches a straight run would have)."""

    step: int = 0
    total: int = 0
    batch_rng: torch.Generator | None = None
    batch_rng_state: torch.Tensor | None = None   # restored into batch_rng when the loop starts

    @classmethod
    def resume(cls, fitted: FittedModel) -> "LoopState":
        """A fresh state, or the one of the checkpoint ``fitted`` was loaded from."""
        step = fitted.restore_training()
        rng = (fitted.training or {}).get("batch_rng") if step else None
        return cls(step=step, batch_rng_state=None if rng is None else rng.cpu())

    def to_checkpoint(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": int(self.step)}
        if self.batch_rng is not None:
            out["batch_rng"] = self.batch_rng.get_state()
        return out


def draw_preview(fitted: FittedModel, spec: TrainSpec) -> np.ndarray | None:
    """Samples for a live preview, drawn HERE in the training thread with a fixed seed.

    Why not from the page: sampling switches the model to eval mode (batch norm, dropout) while the training
    thread may be mid-step; drawing between two steps keeps both correct, and the fixed seed makes successive
    previews show the model changing, not the noise."""
    if spec.preview_samples <= 0:
        return None
    return fitted.sample(spec.preview_samples, seed=4242)


def require_series(dataset: Dataset, model: str) -> None:
    """A sequence model learns the step from one row to the next: it needs trajectories in time order."""
    if not dataset.is_series:
        raise ModelError(f"{model} learns from whole trajectories in time order; '{dataset.name}' is a table of "
                         "states (its rows are shuffled). Use the dataset lorenz_series, e.g. "
                         "--data lorenz_series --param dt=0.01")


def build(spec: TrainSpec, device: torch.device) -> FittedModel:
    """Fit the transform on the training split only and build an untrained model with the run's seed; or, to
    continue a run, reload its checkpoint (weights, transform, optimisers, random streams)."""
    if spec.resume:
        fitted = FittedModel.load(spec.resume, device)
        if not fitted.model.iterative:
            raise ModelError(f"{fitted.name} is fitted in one call: there is nothing to continue")
        if not fitted.training:
            raise ModelError("this checkpoint has no training state (saved by an older GenLab): it can be sampled "
                             "from, not continued")
        return fitted
    model_cls = get_model_class(spec.model)
    config = model_config(model_cls, spec.config)
    if Capability.SEQUENCE in model_cls.capabilities:
        require_series(spec.dataset, model_cls.name)
    # before any allocation: a model too large for this machine is refused with its estimate (genlib.limits), for
    # the app, the CLI and the library alike
    check_model_memory(model_cls, spec.dataset.n_features, config, spec.batch_size, len(spec.dataset.train))
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
          should_stop: Callable[[], bool], state: LoopState | None = None,
          on_step: Callable[[LoopState], None] | None = None) -> int:
    """Train ``fitted.model`` in place; returns the number of steps done. Raises on NaN/inf losses.

    ``state``: where to start (a continued run) and where the loop is now; ``on_step`` is called after each step
    with it (the job writes its periodic checkpoints there)."""
    state = state if state is not None else LoopState()
    model = fitted.model
    device = model.device
    x = fitted.to_model_space(spec.dataset.train)
    labels = (None if spec.dataset.labels_train is None
              else torch.as_tensor(spec.dataset.labels_train, device=device))
    if model.has(Capability.SEQUENCE):   # its "labels" say which trajectory each row is on (build checked the data)
        labels = torch.as_tensor(spec.dataset.trajectory_train, device=device)
    if not model.iterative:
        report(Progress(0, 1))
        losses = model.fit(x, labels)
        _check_finite(losses, 1)
        state.step = state.total = 1
        report(Progress(1, 1, losses, evaluate_fitted(fitted, spec.dataset, spec.eval_samples)))
        return 1

    total = int(spec.steps or model.default_steps)
    state.total = total
    x, labels = model.training_rows(x, labels)
    batch_size = min(spec.batch_size, len(x))
    # Index tensors directly (no DataLoader: worker processes can hang inside Streamlit).
    state.batch_rng = torch.Generator(device=device).manual_seed(spec.seed + 1)
    if state.batch_rng_state is not None:
        state.batch_rng.set_state(state.batch_rng_state)
    model.train(True)
    model.total_steps = total
    last_eval = time.perf_counter()
    for step in range(state.step + 1, total + 1):
        if should_stop():
            break
        idx = torch.randint(len(x), (batch_size,), generator=state.batch_rng, device=device)
        model.steps_done = step - 1
        losses = model.train_step(x[idx], None if labels is None else labels[idx])
        _check_finite(losses, step)
        state.step = step
        metrics = preview = None
        if spec.eval_period_s is not None and time.perf_counter() - last_eval >= spec.eval_period_s:
            metrics = evaluate_fitted(fitted, spec.dataset, spec.eval_samples)
            preview = draw_preview(fitted, spec)
            last_eval = time.perf_counter()
        report(Progress(step, total, losses, metrics, preview))
        if on_step is not None:
            on_step(state)
    return state.step
