"""Run a job's task in a worker process instead of a thread of the process that asked for it (the app's default).

Why: a thread shares the interpreter lock (and the process's memory) with the Streamlit server, so pages slow down
while models train and one job that runs out of memory takes the server with it. A worker is *spawned* (a fresh
interpreter: no copy of the server's threads or locks), runs at a lower OS priority than the server, with its own
``torch`` thread count, and talks to the job in the parent only through messages:

* progress (steps, losses, metrics, previews, live state) in batches, at most every ``BATCH_S`` seconds, which the
  parent replays into the job exactly as a thread would have reported it;
* checkpoints and partial results, which the parent writes into the run's staging folder (the parent's store
  writes every file and row: a worker never touches SQLite). Models travel as checkpoint bytes, read back with
  ``weights_only=True`` (:meth:`FittedModel.from_bytes`), with their optimisers' state, so a run trained in a
  worker continues exactly like one trained in a thread;
* copies of the model being trained, every ``LIVE_MODEL_S`` seconds, for the views that draw it live (the Density
  page's critic map): the UI samples from its own copy and never touches the training model;
* the task's result, or its exception (re-raised in the parent with the worker's traceback as a note).

The same messages travel over a pipe here and through a Ray actor (:mod:`genlib.train.on_ray`): :func:`run_task`
is the worker's side and :class:`Replay` the parent's, for both.

**The local pool.** Starting an interpreter and importing torch takes seconds, so the pool keeps worker processes
started and warm (torch and genlib imported): a job takes an idle one (or starts one if none is ready), the pool
starts a spare in the background, and a worker whose task has ended waits for the next. A worker is let go after
``WorkerPool.MAX_TASKS`` tasks or when a task left it holding more than ``GENLAB_WORKER_MAX_MB`` of memory, so the
memory a large fit took goes back to the system. The pipe from a worker is one-way and only the worker holds its
writing end: a worker killed in the middle of a message ends the parent's read with EOF instead of
leaving it waiting. The stop flag goes the other way, as a shared event. A worker that dies (killed, out of memory)
fails its job with :class:`WorkerDied`; the parent carries on.

**GPUs.** Workers on a machine with several GPUs take them in turn; where jobs share one, each worker may use at
most its share of the GPU's memory (``torch.cuda.set_per_process_memory_fraction``), so one large job cannot take
the memory the others need.
"""
from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import traceback
import types
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol

import numpy as np

from ..errors import UserError
from .pacing import PaceCell, SharedPace
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
#: How much lower a worker's OS priority is than the server's (``GENLAB_WORKER_NICE``): at 10 the scheduler gives a
#: busy worker about a tenth of a CPU the server wants, so pages stay quick; an idle server leaves it everything.
NICE = 10
#: How long a worker that was told to stop may take to end before it is killed (seconds).
GRACE_S = 30.0
__all__ = ["WorkerDied", "WorkerUnavailable", "WorkerPool", "execute_in_worker", "run_task", "Replay",
           "worker_pool"]


class WorkerUnavailable(Exception):
    """The task cannot be sent to a worker (it holds something that cannot be pickled, e.g. a lambda): the job
    runs in a thread instead, and the log says why."""


class WorkerDied(UserError):
    """The worker process running a job ended without a result (killed, out of memory, a crash in native code)."""


class Sink(Protocol):
    """Where a worker's messages go: the pipe to the parent, or a Ray actor's outbox."""

    def send(self, message: tuple[str, Any]) -> None: ...


class StopFlag(Protocol):
    def is_set(self) -> bool: ...


class WorkerContext(JobContext):
    """The task's handle inside the worker: the same methods as :class:`JobContext`, answered with messages."""

    def __init__(self, device: Any, events: Sink, stop: StopFlag, every_s: float | None, can_checkpoint: bool,
                 pace: PaceCell | None = None):
        super().__init__(job=None, device=device, checkpoint=None, every_s=every_s,  # type: ignore[arg-type]
                         pace=pace)
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

    def _on_hold(self) -> None:
        """Paused (or after one allowed step): the job sees this step and this model now, not in two seconds."""
        self.flush()
        if self._model is not None:
            self._model_sent = time.monotonic()
            self._events.send(("model", self._model.to_bytes()))

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


def genlab_settings() -> dict[str, str]:
    """This process's ``GENLAB_*`` variables (limits, modes): a task runs under the settings of its submission."""
    return {k: v for k, v in os.environ.items() if k.startswith("GENLAB_")}


def use_settings(env: dict[str, str]) -> None:
    """Make ``env`` this worker's ``GENLAB_*`` variables (a long-lived worker must not keep an earlier task's)."""
    for key in [k for k in os.environ if k.startswith("GENLAB_") and k not in env]:
        del os.environ[key]
    os.environ.update(env)


def run_task(task: Task, device: Any, every_s: float | None, can_checkpoint: bool, events: Sink,
             stop: StopFlag, pace: PaceCell | None = None) -> None:
    """The worker's side, wherever it runs: resolve the device here (a cluster node's own GPU), run the task, and
    send its progress and then its result (or its exception) as messages."""
    from .loop import resolve_device
    ctx: WorkerContext | None = None
    try:
        resolved = resolve_device(device)
        events.send(("device", str(resolved)))
        ctx = WorkerContext(resolved, events, stop, every_s, can_checkpoint, pace)
        result = task.execute(ctx)
        ctx.flush()
        model = None if result.fitted is None else result.fitted.to_bytes(result.training)
        events.send(("done", (replace(result, fitted=None, training=None), model)))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the job
        if ctx is not None:
            ctx.flush()
        detail = traceback.format_exc()
        try:
            events.send(("error", (exc, detail)))
        except Exception:  # noqa: BLE001 - an exception that cannot be pickled: its text
            events.send(("error", (RuntimeError(f"{type(exc).__name__}: {exc}"), detail)))


class Replay:
    """The parent's side: apply a worker's messages to its job (progress, live model copies, checkpoints) and turn
    its last message into the task's result or exception."""

    def __init__(self, job: "Job", checkpoint: Callable[..., None] | None,
                 checkpoint_results: Callable[..., None] | None, where: str):
        self.job, self.where = job, where
        self._checkpoint, self._checkpoint_results = checkpoint, checkpoint_results

    def apply(self, kind: str, payload: Any) -> TaskResult | None:
        """Apply one message; the task's result when it is the last one (its exception is raised)."""
        job = self.job
        if kind == "progress":
            for progress in payload:
                job._report(progress)
        elif kind == "device":
            job.device = payload
        elif kind == "model":
            from ..models import FittedModel
            job.fitted = FittedModel.from_bytes(payload, "cpu", "the worker's model")   # a private copy
        elif kind == "checkpoint" and self._checkpoint is not None:
            self._checkpoint(*_model(payload))
        elif kind == "results" and self._checkpoint_results is not None:
            self._checkpoint_results(*payload)
        elif kind == "done":
            result, model = payload
            if model is None:
                return result
            fitted, training = _model(model)
            return replace(result, fitted=fitted, training=training)
        elif kind == "error":
            exc, detail = payload
            if hasattr(exc, "add_note"):
                exc.add_note(f"in {self.where}:\n{detail}")
            raise exc
        return None


# --- the local pool ---------------------------------------------------------------------------------------------

@dataclass
class _Worker:
    """A started worker process and the parent's ends of its three channels."""

    proc: Any
    tasks: Any    # parent → worker: the one task it will run
    events: Any   # worker → parent: its messages (only the worker writes)
    stop: Any     # the stop flag (a shared event)
    pace: SharedPace   # pause, allowed steps, steps-per-second cap (genlib.train.pacing)
    tasks_done: int = 0


def _serve(tasks: Any, events: Any, stop: Any, pace: SharedPace) -> None:
    """A pool worker: get warm (torch and the models imported), then run the tasks it is given, one at a time, until
    the pool closes its task pipe (or the parent ends)."""
    try:
        os.nice(int(os.environ.get("GENLAB_WORKER_NICE", NICE)))   # the server's pages come first
    except (AttributeError, OSError, ValueError):
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C goes to the parent, which stops the job cleanly
    import torch
    from .. import models  # noqa: F401 - the registry, imported while nobody waits
    from . import loop  # noqa: F401
    try:
        while True:
            try:
                message = tasks.recv()
            except (EOFError, OSError):   # the pool let this worker go (or the parent ended)
                return
            _serve_one(torch, message, events, stop, pace)
    finally:
        events.close()


def _serve_one(torch: Any, message: tuple[Any, ...], events: Any, stop: Any, pace: SharedPace) -> None:
    task_bytes, device, every_s, can_checkpoint, threads, gpu, env = message
    use_settings(env)
    torch.set_num_threads(max(1, threads))
    try:
        task = pickle.loads(task_bytes)
        if gpu is not None and str(device).startswith("cuda") and torch.cuda.is_available():
            index, share = gpu
            torch.cuda.set_device(index)
            device = f"cuda:{index}"
            torch.cuda.set_per_process_memory_fraction(share, index)
        run_task(task, device, every_s, can_checkpoint, events, stop, pace)
    except BaseException as exc:  # noqa: BLE001 - a task that cannot be read here fails its job, with the reason
        events.send(("error", (RuntimeError(f"{type(exc).__name__}: {exc}"), traceback.format_exc())))
    finally:
        del message
        if torch.cuda.is_available():
            torch.cuda.empty_cache()   # the next task (perhaps another user's) starts with the GPU memory free


class WorkerPool:
    """Spawned worker processes: ``spares`` started ahead, and up to ``keep`` idle ones kept for the next tasks.

    A worker serves task after task (starting an interpreter and importing torch costs seconds), and is let go when
    it has served ``MAX_TASKS`` or holds more than ``GENLAB_WORKER_MAX_MB`` of memory after a task (a large fit's
    memory then goes back to the system), or when it dies."""

    #: Tasks one worker serves before it is replaced (memory that Python's allocator keeps, leaks in libraries).
    MAX_TASKS = 50

    def __init__(self, spares: int = 1, keep: int = 2):
        self.spares = max(0, spares)
        self.keep = max(self.spares, keep)
        self._mp = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._ready: list[_Worker] = []
        self._filling = False
        self._closed = False
        self._gpu_turn = 0

    def _start(self) -> _Worker:
        tasks_recv, tasks_send = self._mp.Pipe(duplex=False)
        events_recv, events_send = self._mp.Pipe(duplex=False)
        stop = self._mp.Event()
        pace = SharedPace(self._mp)
        proc = self._mp.Process(target=_serve, name="genlab-worker", daemon=True,
                                args=(tasks_recv, events_send, stop, pace))
        with _without_main():
            proc.start()
        tasks_recv.close()    # the worker holds the only reading end of its tasks …
        events_send.close()   # … and the only writing end of its messages: its death is an EOF here
        return _Worker(proc, tasks_send, events_recv, stop, pace)

    def fill(self) -> None:
        """Start spares until ``spares`` are waiting (in a background thread: a job never waits for a spare)."""
        with self._lock:
            if self._filling or self._closed or len(self._ready) >= self.spares:
                return
            self._filling = True
        threading.Thread(target=self._fill, name="genlab-pool", daemon=True).start()

    def _fill(self) -> None:
        try:
            while True:
                with self._lock:
                    if self._closed or len(self._ready) >= self.spares:
                        return
                worker = self._start()
                with self._lock:
                    if self._closed:
                        _end(worker)
                        return
                    self._ready.append(worker)
        except Exception:  # noqa: BLE001 - without spares jobs start their own workers
            log.warning("could not start a spare worker", exc_info=True)
        finally:
            with self._lock:
                self._filling = False

    def take(self) -> _Worker:
        """A worker for one task: a waiting spare when there is one, else a new one; then top the spares up."""
        worker = None
        with self._lock:
            while self._ready and worker is None:
                candidate = self._ready.pop()   # the most recently used: its caches are warm
                if candidate.proc.is_alive():
                    worker = candidate
                else:
                    _end(candidate)
        if worker is None:
            worker = self._start()
        self.fill()
        return worker

    def give_back(self, worker: _Worker) -> None:
        """A worker whose task has ended: kept for the next task if it is healthy and the pool wants it."""
        worker.tasks_done += 1
        max_mb = float(os.environ.get("GENLAB_WORKER_MAX_MB", "2048") or 2048)
        healthy = worker.proc.is_alive() and worker.tasks_done < self.MAX_TASKS and _rss_mb(worker.proc.pid) < max_mb
        with self._lock:
            if healthy and not self._closed and len(self._ready) < self.keep:
                worker.stop.clear()
                worker.pace.reset()
                self._ready.append(worker)
                return
        _end(worker)

    def gpu_for_next(self, max_concurrent: int) -> tuple[int, float] | None:
        """Which GPU the next CUDA job uses (in turn) and its share of that GPU's memory."""
        import torch
        if not torch.cuda.is_available():
            return None
        count = torch.cuda.device_count()
        with self._lock:
            index = self._gpu_turn % count
            self._gpu_turn += 1
        per_gpu = max(1, -(-max_concurrent // count))   # jobs that may share one GPU
        return index, (1.0 if per_gpu == 1 else round(0.95 / per_gpu, 3))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            ready, self._ready = self._ready, []
        for worker in ready:
            _end(worker)


_MAIN_LOCK = threading.Lock()


@contextlib.contextmanager
def _without_main() -> Iterator[None]:
    """Start a worker without it re-running this process's main script.

    A spawned child imports the parent's ``__main__`` (to find functions defined there). Under ``streamlit run`` that
    is the app's page script: the worker would run the whole app on import, with Streamlit warnings, and try to start
    a pool of its own. A worker needs nothing from it (its code is genlib's), so while the child is prepared
    ``__main__`` is a bare module, and the real one is put back at once."""
    with _MAIN_LOCK:
        real = sys.modules.get("__main__")
        stand_in = types.ModuleType("__main__")
        sys.modules["__main__"] = stand_in
        try:
            yield
        finally:
            if sys.modules.get("__main__") is stand_in:   # unless the app replaced it meanwhile (a new script run)
                if real is None:
                    del sys.modules["__main__"]
                else:
                    sys.modules["__main__"] = real


def _rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB (Linux; 0 where it cannot be read)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


def _end(worker: _Worker) -> None:
    for conn in (worker.tasks, worker.events):
        try:
            conn.close()
        except OSError:
            pass
    worker.proc.join(timeout=2)
    if worker.proc.is_alive():
        worker.proc.kill()
        worker.proc.join()


_POOL: WorkerPool | None = None
_POOL_LOCK = threading.Lock()


def worker_pool() -> WorkerPool:
    """This process's pool (``GENLAB_WORKER_SPARES`` spares, default 1), started on first use."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = WorkerPool(int(os.environ.get("GENLAB_WORKER_SPARES", "1") or 0))
        return _POOL


def execute_in_worker(job: "Job", device: Any, checkpoint: Callable[..., None] | None, every_s: float | None,
                      checkpoint_results: Callable[..., None] | None, threads: int = 1,
                      max_concurrent: int = 1) -> TaskResult:
    """Run ``job``'s task in a worker of the local pool and return its result, replaying its progress into ``job``."""
    try:
        task_bytes = pickle.dumps(job.spec)
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        raise WorkerUnavailable(f"its task cannot be sent to a worker process ({exc})") from None
    pool = worker_pool()
    gpu = pool.gpu_for_next(max_concurrent) if str(device).startswith("cuda") else None
    worker = pool.take()
    can_checkpoint = checkpoint is not None or checkpoint_results is not None
    proc, events = worker.proc, worker.events
    job.worker_pid = proc.pid
    job.use_pace(worker.pace)   # from now on pause, step and the cap reach the worker
    log.info("%s runs in worker process %s", job.id, proc.pid)
    replay = Replay(job, checkpoint, checkpoint_results, f"worker process {proc.pid}")
    stopping_since: float | None = None
    ended_cleanly = False   # the worker sent its last message ("done" or "error") and may serve again
    try:
        try:
            worker.tasks.send((task_bytes, str(device), every_s, can_checkpoint, threads, gpu, genlab_settings()))
        except (OSError, EOFError):
            raise _died(proc) from None
        while True:
            if job.stop_requested and not worker.stop.is_set():
                worker.stop.set()
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
            ended_cleanly = kind in ("done", "error")
            result = replay.apply(kind, payload)
            if result is not None:
                return result
    finally:
        if ended_cleanly:
            pool.give_back(worker)
        else:
            worker.stop.set()
            _end(worker)


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
