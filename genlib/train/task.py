"""What the engine runs: a :class:`Task` (training a model, an AVO fit, anomaly scoring, generating trajectories…)
and the :class:`JobContext` through which it reports progress, polls its stop flag and writes checkpoints.

Why one protocol: every computation that takes more than a second goes through the one
:class:`~genlib.train.jobs.JobManager`, so each gets the same sidebar entry, progress and ETA, stop and cancel,
thread-count policy, seeding, persistence as a run in the store, and recovery after a crash. A task never
touches Streamlit or the store; it returns a :class:`TaskResult` and the job commits it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch

from ..models import FittedModel
from ..store import RunKind
from .pacing import LocalPace, PaceCell, Turns

if TYPE_CHECKING:
    from .jobs import Job


@dataclass
class Progress:
    """What a task reports after each step (or group of steps)."""

    step: int
    total: int
    losses: dict[str, float] | None = None
    metrics: dict[str, float] | None = None
    preview: np.ndarray | None = None   # fresh samples (data units) drawn with the metrics, when asked for
    live: Any = None                    # a task's own live state for its page (a copy: e.g. an AVO history)


@dataclass
class TaskResult:
    """What a finished task hands to its job: the job stores it as the run's files and row."""

    fitted: FittedModel | None = None                      # a trained model → model.pt
    metrics: dict[str, float] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # → results.npz, shown again without recomputing
    summary: dict[str, Any] = field(default_factory=dict)  # small JSON results kept in the row
    training: dict[str, Any] | None = None                 # the loop's state, kept in the checkpoint to continue
    value: Any = None                                      # the task's own result object, for pages of this process
    stopped: bool = False                                  # the task ended early on its stop flag


class Task:
    """One unit of long work. Subclasses set the class attribute ``kind`` and implement :meth:`execute`;
    the other methods describe the task to the sidebar and to the run store."""

    kind: RunKind = RunKind.TRAIN
    seed: int = 0
    device: str = "auto"
    out_dir: str | None = None               # run folder to commit to (default: inside the store)
    checkpoint_every_s: float | None = None  # iterative tasks: write a checkpoint this often (None: never)
    #: False for a task that only waits on other jobs (a sweep following its members): it starts at once, without
    #: taking one of the ``max_concurrent`` slots its members need.
    needs_slot: bool = True
    #: The run id to write, when the caller must know it before the job starts (members of a sweep name it).
    run_id: str | None = None
    #: Where the step count starts (a continued run: its parent's checkpoint step).
    start_step: int = 0

    def label(self) -> str:
        raise NotImplementedError

    @property
    def model_name(self) -> str:
        """What the Runs table shows under "model" (a model's registry name, "avo", …)."""
        raise NotImplementedError

    @property
    def dataset_name(self) -> str:
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """The settings that define the run (shown on Runs, kept in the row)."""
        return {}

    def planned_steps(self) -> int:
        return 0

    def history(self) -> dict[str, Any] | None:
        """Loss history to start from (a continued run carries its parent's curves)."""
        return None

    def describe(self) -> dict[str, Any]:
        """Extra fields of the run's record (see :class:`genlib.store.RunRecord`): kind, inputs, dataset details."""
        return {"kind": self.kind.value}

    def execute(self, ctx: "JobContext") -> TaskResult:
        raise NotImplementedError


class JobContext:
    """A task's handle on its job: report progress, read the stop flag, checkpoint when it is due."""

    def __init__(self, job: "Job", device: torch.device, checkpoint: Callable[[FittedModel, dict[str, Any]], None]
                 | None, every_s: float | None,
                 checkpoint_results: Callable[[dict[str, np.ndarray], int], None] | None = None,
                 pace: PaceCell | None = None):
        self.job = job
        self.device = device
        self._checkpoint = checkpoint
        self._checkpoint_results = checkpoint_results
        self._every_s = every_s
        self._last = time.monotonic()
        self._turns = Turns(pace if pace is not None else LocalPace(), self.should_stop, self._on_hold)

    def wait_turn(self) -> bool:
        """Call before each step: waits while the job is paused (or ahead of its steps-per-second cap) and lets
        the allowed single steps through (:mod:`genlib.train.pacing`); True when the task should stop instead."""
        return self._turns.wait()

    def _on_hold(self) -> None:
        """The task has just paused: in a thread its job already shows everything; a worker sends it now."""

    def report(self, progress: Progress) -> None:
        self.job._report(progress)

    def should_stop(self) -> bool:
        return self.job.stop_requested

    def set_model(self, fitted: FittedModel) -> None:
        """The model being trained: kept by the job so that a stop (or a failure) still has it to save."""
        self.job.fitted = fitted

    def checkpoint_due(self) -> bool:
        return (self._checkpoint is not None and self._every_s is not None
                and time.monotonic() - self._last >= self._every_s)

    def checkpoint(self, fitted: FittedModel, training: dict[str, Any]) -> None:
        """Write a checkpoint into the run's staging folder now (what a crash keeps and Continue starts from)."""
        if self._checkpoint is not None:
            self._checkpoint(fitted, training)
        self._last = time.monotonic()

    def checkpoint_results(self, arrays: dict[str, np.ndarray], step: int) -> None:
        """For a task without a model (an AVO fit): its results so far, kept if the process dies (Runs shows them
        as an interrupted run)."""
        if self._checkpoint_results is not None:
            self._checkpoint_results(arrays, step)
        self._last = time.monotonic()
