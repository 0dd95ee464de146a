"""A trained model together with its fitted transform: what users sample from, save and reload.

Checkpoints are a ``torch.save`` of plain containers (str, list, dict, tensors) and are always read
back with ``torch.load(..., weights_only=True)``: no arbitrary pickle is ever executed, and a foreign or
corrupt file gives a :class:`CheckpointError` with one clear sentence.
"""
from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from genlib.errors import UserError
from genlib.limits import SAMPLE_ROWS

from ..transforms import Transform, transform_from_state
from genlib.params import config_to_json
from genlib.paths import write_atomic

from .base import Capability, GenerativeModel, get_model_class, model_config

CHECKPOINT_FORMAT = "genlab-checkpoint/1"


class CheckpointError(UserError):
    """A checkpoint file that cannot be used (corrupt, foreign, or from an unknown model)."""


@contextlib.contextmanager
def seeded(model: GenerativeModel, seed: int | None) -> Iterator[None]:
    """Run a block with the model's generator seeded, then restore it, so sampling for a preview or a
    metric never changes the training run's random stream."""
    if seed is None:
        yield
        return
    saved = model.rng.get_state()
    model.rng.manual_seed(seed)
    try:
        yield
    finally:
        model.rng.set_state(saved)


@dataclass
class FittedModel:
    """Model + transform + column names. ``sample`` returns rows in the data's own units."""

    model: GenerativeModel
    transform: Transform
    columns: list[str]
    info: dict[str, Any] = field(default_factory=dict)
    #: What a checkpoint written mid-training adds, to continue exactly where it stopped: the step, the optimisers'
    #: states, the model's and the batch sampler's random streams (None for a model loaded from a final save
    #: of an older version).
    training: dict[str, Any] | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its checkpoint bytes (a task holding a model goes to a worker process this way): a training
        model's tensors cannot cross a process boundary as they are, and reading it back stays ``weights_only``."""
        return (_from_bytes, (self.to_bytes(),))

    @property
    def name(self) -> str:
        return self.model.name

    def sample(self, n: int, seed: int | None = None, labels: np.ndarray | None = None) -> np.ndarray:
        """n new rows in data units (float64). Same seed → same rows. Conditional models take one label per
        row (default: the classes in turn)."""
        if n < 1:
            raise ValueError("number of samples must be at least 1")
        SAMPLE_ROWS.check(int(n), f"a sample of {self.name}")  # before any work: $GENLAB_MAX_SAMPLE_ROWS
        if labels is None and self.model.has(Capability.CONDITION) and self.model.n_classes:
            labels = np.arange(n) % self.model.n_classes  # a conditional model with no labels: every class in turn
        lab = None if labels is None else torch.as_tensor(labels, device=self.model.device)
        with self.model.evaluating(), seeded(self.model, seed):
            z = self.model.sample(n, lab)
        z_np = z.detach().cpu().double().numpy()
        if not np.all(np.isfinite(z_np)):
            raise FloatingPointError(f"{self.name} produced non-finite samples; the model has diverged")
        return self.transform.inverse(z_np)

    def encode(self, x: np.ndarray, labels: np.ndarray | None = None, batch_size: int = 4096) -> np.ndarray:
        """The latent code (posterior mean) of each row, in batches (float64). Only with :attr:`Capability.ENCODE`."""
        model, out = self.model, []
        with model.evaluating(), torch.no_grad():
            for s in range(0, len(x), batch_size):
                xb = self.to_model_space(x[s:s + batch_size])
                lb = None if labels is None else torch.as_tensor(labels[s:s + batch_size], device=model.device)
                out.append(model.encode_mean(xb, lb).detach().cpu().double().numpy())
        return np.concatenate(out) if out else np.zeros((0, int(model.config.latent_dim)))

    def to_model_space(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(self.transform.forward(np.asarray(x, dtype=np.float64)),
                               dtype=torch.float32, device=self.model.device)

    # --- persistence --------------------------------------------------------------------------------
    def save(self, path: str | Path, training: dict[str, Any] | None = None) -> Path:
        """Write the checkpoint atomically. ``training``: the loop's own state (step, batch sampler) to keep with
        the optimisers' states and the model's random stream, so the run can be continued."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Serialised in memory first: torch.save on a full disk raises a bare RuntimeError from its zip writer
        # (measured on a 64 KiB tmpfs); a plain write raises OSError(ENOSPC), which callers report as such.
        write_atomic(path, self.to_bytes(training))
        return path

    def to_bytes(self, training: dict[str, Any] | None = None) -> bytes:
        """The checkpoint file's bytes (what :meth:`save` writes; a worker process ships a model this way)."""
        payload = {
            "format": CHECKPOINT_FORMAT,
            "model": self.model.name,
            "config": config_to_json(self.model.config),
            "n_features": self.model.n_features,
            "n_classes": self.model.n_classes,
            "image_shape": list(self.model.image_shape or []),
            "transform": json.dumps(self.transform.state_dict()),
            "columns": list(self.columns),
            "info": json.dumps(self.info, default=str),
            "state": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
        }
        if training is not None and self.model.iterative:
            payload["training"] = {**training, "model_rng": self.model.rng.get_state(),
                                   "optimizers": self.model.optimizer_states()}
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        return buffer.getvalue()

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str = "cpu") -> "FittedModel":
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"checkpoint not found: {path}")
        return cls.from_bytes(path.read_bytes(), device, path.name)

    @classmethod
    def from_bytes(cls, data: bytes, device: torch.device | str = "cpu", name: str = "the checkpoint"
                   ) -> "FittedModel":
        """A model from checkpoint bytes, read with ``weights_only=True`` (never unpickled blindly); ``name`` is what
        error messages call it."""
        try:
            payload = torch.load(io.BytesIO(data), map_location=device, weights_only=True)
        except Exception as exc:  # pickle, zip and torch errors alike: the file is not usable
            reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"{name} is not a readable GenLab checkpoint ({reason})") from None
        if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{name} is not a GenLab checkpoint (expected format {CHECKPOINT_FORMAT})")
        try:
            model_cls = get_model_class(payload["model"])
            config = model_config(model_cls, json.loads(payload["config"]))
            shape = tuple(payload.get("image_shape") or ()) or None
            model = model_cls(config, int(payload["n_features"]), device, int(payload.get("n_classes", 0)), shape)
            model.load_state_dict(payload["state"])
            transform = transform_from_state(json.loads(payload["transform"]))
            info = json.loads(payload.get("info", "{}"))
            training = payload.get("training")
        except CheckpointError:
            raise
        except Exception as exc:
            raise CheckpointError(f"{name} could not be restored: {exc}") from None
        return cls(model, transform, list(payload["columns"]), info, training)

    def restore_training(self) -> int:
        """Put back the optimisers' states and the model's random stream of a mid-training checkpoint; returns the
        step it was written at (0 when the checkpoint has no training state: training then restarts its
        optimisers)."""
        if not self.training:
            return 0
        self.model.load_optimizer_states(self.training.get("optimizers", {}))
        if "model_rng" in self.training:
            self.model.rng.set_state(self.training["model_rng"].cpu())
        return int(self.training.get("step", 0))


def _from_bytes(data: bytes) -> FittedModel:
    """Unpickling helper for :meth:`FittedModel.__reduce__` (a module-level function, so pickle can name it)."""
    return FittedModel.from_bytes(data, "cpu", "a model sent to this process")
