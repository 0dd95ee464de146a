"""Run a job's task in a worker process instead of a thread of the process that asked for it.

Why: a thread shares the interpreter lock (and the process's memory) with the Streamlit server, so pages slow down
while models train and one job that runs out of memory takes the server with it. A worker is *spawned* (a fresh
interpreter: no copy of the server's threads or locks), runs at a lower OS priority than the server, with its own
``torch`` thread count, and talks to the job in the parent only through a queue:

* progress (steps, losses, metrics, previews, live state) in batches, at most every ``BATCH_S`` seconds, which the
  parent replays into the job exactly as a thread would have reported it;
* checkpoints and partial results, which the parent writes into the run's staging folder (the parent's store
  writes every file and row: a worker never touches SQLite). Models travel as checkpoint bytes, read back with
  ``weights_only=True`` (:meth:`FittedModel.from_bytes`), with their optimisers' state, so a run trained in a
  worker continues exactly like one trained in a thread;
* the task's result, or its exception (re-raised in the parent with the worker's traceback as a note).

The queue is a one-way pipe whose writing end only the worker holds: a worker killed in the middle of a message
ends the parent's read with EOF instead of leaving it waiting for the rest. The stop flag goes the other way, as a
shared event. A worker that dies (killed, out of memory) fails its job with
:class:`WorkerDied`; the parent carries on. Used by :class:`~genlib.train.jobs.JobManager` when its executor is
``"local"`` (the CLI's default; the app still runs jobs in threads until its live views read shipped state).
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import signal
import time
import traceback
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..errors import UserError
from .task import JobContext, Progress, Task, TaskResult

if TYPE_CHECKING:
    from ..models import FittedModel
    from .jobs import Job

log = logging.getLogger(__name__)
#: How often a worker sends its batched progress (seconds).
BATCH_S = 0.1
#: How often a worker sends a copy of the model it trains, for the views that read it live (the Density page's
#: critic map): at most every LIVE_MODEL_S seconds, and less often for a model slow to serialise.
LIVE_MODEL_S = 2.0
#: How long a worker that was told to stop may take to end before it is killed (seconds).
GRACE_S = 30.0
__all__ = ["WorkerDied", "WorkerUnavailable", "execute_in_worker"]


class WorkerUnavailable(Exception):
    """The task cannot be sent to a worker (it holds something that cannot be pickled, e.g. a lambda): the job
    runs in a thread instead, and the log says why."""


class WorkerDied(UserError):
    """The worker process running a job ended without a result (killed, out of memory, a crash in native code)."""


class WorkerContext(JobContext):
    """The task's handle inside the worker: the same methods as :class:`JobContext`, answered through the queue."""

    def __init__(self, device: Any, events: Any, stop: Any, every_s: float | None, can_checkpoint: bool):
        super().__init__(job=None, device=device, checkpoint=None, every_s=every_s)  # type: ignore[arg-type]
        self._events, self._stop_event = events, stop
        self._can_checkpoint = can_checkpoint
        self._batch: list[Progress] = []
        self._sent = time.monotonic()
        self._model: "FittedModel | None" = None
        self._model_sent = 0.0
        self._model_cost = 0.0

    def report(self, progress: Progress) -> None:
        self._batch.append(progress)
        now = time.monotonic()
        if now - self._sent >= BATCH_S or progress.step >= progress.total:
            self.flush()
        if self._model is not None and now - self._model_sent >= max(LIVE_MODEL_S, 50 * self._model_cost):
            self._model_sent = now
            try:
                data = self._model.to_bytes()      # between two steps: a consistent copy
            except Exception:  # noqa: BLE001 - a live copy is a courtesy: the training goes on without it
                log.warning("could not copy the model for the live views", exc_info=True)
                self._model = None
                return
            self._model_cost = time.monotonic() - now
            self._events.send(("model", data))

    def flush(self) -> None:
        if self._batch:
            self._events.send(("progress", self._batch))
            self._batch = []
        self._sent = time.monotonic()

    def should_stop(self) -> bool:
        return self._stop_event.is_set()

    def set_model(self, fitted: "FittedModel") -> None:
        if fitted.model.iterative:   # a classical model fits in one call: nothing to watch, and no state before it
            self._model = fitted     # copies go to the parent every LIVE_MODEL_S seconds (job.fitted there)

    def checkpoint_due(self) -> bool:
        return self._can_checkpoint and self._every_s is not None and time.monotonic() - self._last >= self._every_s

    def checkpoint(self, fitted: "FittedModel", training: dict[str, Any]) -> None:
        self.flush()   # the parent's record of the step goes with the checkpoint
        self._events.send(("checkpoint", fitted.to_bytes(training)))
        self._last = time.monotonic()

    def checkpoint_results(self, arrays: dict[str, np.ndarray], step: int) -> None:
        self.flush()
        self._events.send(("results", (arrays, step)))
        self._last = time.monotonic()


def _worker_main(task: Task, device: str, every_s: float | None, can_checkpoint: bool, events: Any, stop: Any,
                 threads: int) -> None:
    """The worker process: run the task and send its result (or its exception) back."""
    import torch
    try:
        os.nice(5)   # the server's pages come first
    except (AttributeError, OSError):
        pass
    torch.set_num_threads(max(1, threads))
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C goes to the parent, which stops the job cleanly
    ctx = WorkerContext(torch.device(device), events, stop, every_s, can_checkpoint)
    try:
        result = task.execute(ctx)
        ctx.flush()
        model = None if result.fitted is None else result.fitted.to_bytes(result.training)
        events.send(("done", (replace(result, fitted=None, training=None), model)))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the job
        ctx.flush()
        detail = traceback.format_exc()
        try:
            events.send(("error", (exc, detail)))
        except Exception:  # noqa: BLE001 - an exception that cannot be pickled: its text
            events.send(("error", (RuntimeError(f"{type(exc).__name__}: {exc}"), detail)))
    finally:
        events.close()


def execute_in_worker(job: "Job", device: Any, checkpoint: Callable[..., None] | None, every_s: float | None,
                      checkpoint_results: Callable[..., None] | None, threads: int = 1) -> TaskResult:
    """Run ``job``'s task in a spawned worker and return its result, replaying its progress into ``job``."""
    mp = multiprocessing.get_context("spawn")
    events, sender = mp.Pipe(duplex=False)
    stop = mp.Event()
    can_checkpoint = checkpoint is not None or checkpoint_results is not None
    proc = mp.Process(target=_worker_main, name=f"genlab-{job.id}", daemon=True,
                      args=(job.spec, str(device), every_s, can_checkpoint, sender, stop, threads))
    try:
        proc.start()   # pickles the task for the new interpreter
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        events.close()
        sender.close()
        raise WorkerUnavailable(f"its task cannot be sent to a worker process ({exc})") from None
    sender.close()     # the worker holds the only writing end: its death is an EOF here
    job.worker_pid = proc.pid
    log.info("%s runs in worker process %s", job.id, proc.pid)
    stopping_since: float | None = None
    try:
        while True:
            if job.stop_requested and not stop.is_set():
                stop.set()
                stopping_since = time.monotonic()
            try:
                if not events.poll(0.2):
                    if not proc.is_alive() and not events.poll(0):
                        raise _died(proc)
                    if stopping_since is not None and time.monotonic() - stopping_since > GRACE_S:
                        proc.kill()
                    continue
                kind, payload = events.recv()
            except (EOFError, OSError):   # the worker ended, perhaps in the middle of a message
                raise _died(proc) from None
            if kind == "progress":
                for progress in payload:
                    job._report(progress)
            elif kind == "model":
                from ..models import FittedModel
                job.fitted = FittedModel.from_bytes(payload, "cpu", "the worker's model")   # a private copy
            elif kind == "checkpoint" and checkpoint is not None:
                checkpoint(*_model(payload))
            elif kind == "results" and checkpoint_results is not None:
                checkpoint_results(*payload)
            elif kind == "done":
                result, model = payload
                if model is None:
                    return result
                fitted, training = _model(model)
                return replace(result, fitted=fitted, training=training)
            elif kind == "error":
                exc, detail = payload
                if hasattr(exc, "add_note"):
                    exc.add_note(f"in worker process {proc.pid}:\n{detail}")
                raise exc
    finally:
        stop.set()
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
            proc.join()
        events.close()


def _model(data: bytes) -> tuple["FittedModel", dict[str, Any] | None]:
    """A model shipped as checkpoint bytes, with its optimisers' state and random stream put back, and the loop's
    own training state (what a checkpoint or a commit writes with it)."""
    from ..models import FittedModel
    fitted = FittedModel.from_bytes(data, "cpu", "the worker's model")
    fitted.restore_training()
    own = {k: v for k, v in (fitted.training or {}).items() if k not in ("model_rng", "optimizers")}
    return fitted, (own or None)


def _died(proc: Any) -> WorkerDied:
    proc.join(timeout=1)
    code = proc.exitcode
    how = (f"was killed by signal {-code} ({signal.Signals(-code).name})" if code is not None and code < 0
           else f"ended with exit code {code}")
    hint = "; it may have run out of memory" if code in (-9, 137) else ""
    return WorkerDied(f"the worker process running this job {how} before it finished{hint}")
