"""Background training: a process-wide :class:`JobManager` running each job in its own thread.

Pages and the CLI never wait on a job: they read :meth:`Job.snapshot`, an immutable copy taken under the
job's lock, as often as they like. A failing job (exception or NaN loss) ends as ``failed`` with its
message; other jobs and the app carry on.
"""
from __future__ import annotations

import enum
import itertools
import logging
import os
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UserError
from ..logs import configure_logging, log_file
from ..models import FittedModel, NonFiniteLossError
from .loop import Progress, TrainSpec, build, draw_preview, evaluate_fitted, resolve_device, train

log = logging.getLogger(__name__)
#: Failures phrased for the user (their settings or data, a diverging run): one sentence, no traceback.
USER_FACING = (UserError, NonFiniteLossError)


class JobStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.DONE, JobStatus.FAILED, JobStatus.STOPPED)


@dataclass(frozen=True)
class JobSnapshot:
    """A consistent, read-only view of a job at one instant (safe to hand to any thread)."""

    id: str
    name: str
    model: str
    dataset: str
    status: JobStatus
    step: int
    total: int
    elapsed: float
    steps_per_s: float
    device: str
    seed: int
    loss_steps: list[int]
    losses: dict[str, list[float]]
    metrics: dict[str, float]
    metric_history: list[dict[str, float]]
    error: str | None
    run_id: str | None
    config: dict[str, Any]
    traceback: str | None = None   # of a failure that was a bug, not the user's doing (also in the log)

    @property
    def fraction(self) -> float:
        return 0.0 if self.total == 0 else min(1.0, self.step / self.total)

    @property
    def last_loss(self) -> float | None:
        values = self.losses.get("loss")
        return values[-1] if values else None


class Job:
    """One training run. Created by :meth:`JobManager.submit`; read it with :meth:`snapshot`."""

    _ids = itertools.count(1)

    def __init__(self, spec: TrainSpec, log_points: int = 400):
        self.id = f"job-{next(self._ids)}"
        self.spec = spec
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._discard = False
        self._done = threading.Event()
        self._log_points = log_points
        self.status = JobStatus.QUEUED
        self.step = 0
        self.total = int(spec.steps or 0)
        self.device = ""
        self.error: str | None = None
        self.traceback: str | None = None
        self.run_id: str | None = None
        self.fitted: FittedModel | None = None
        self._started: float | None = None
        self._finished: float | None = None
        self._loss_steps: list[int] = []
        self._losses: dict[str, list[float]] = {}
        self._acc: dict[str, float] = {}
        self._acc_n = 0
        self._log_every = 1
        self.metrics: dict[str, float] = {}
        self._metric_history: list[dict[str, float]] = []
        self.preview: np.ndarray | None = None  # latest samples drawn by the training thread (spec.preview_samples)
        self.thread: threading.Thread | None = None

    # --- called from the training thread ----------------------------------------------------------------
    def _report(self, p: Progress) -> None:
        with self._lock:
            self.step, self.total = p.step, p.total
            self._log_every = max(1, p.total // self._log_points)
            if p.losses:
                for key, value in p.losses.items():
                    self._acc[key] = self._acc.get(key, 0.0) + value
                self._acc_n += 1
                if self._acc_n >= self._log_every or p.step == p.total:
                    self._flush_losses()
            if p.metrics:
                self._record_metrics(p.metrics)
            if p.preview is not None:
                self.preview = p.preview

    def _flush_losses(self) -> None:
        """Log the last partial group of steps (a stop mid-group must not drop them). Caller holds the lock."""
        if self._acc_n:
            self._loss_steps.append(self.step)
            for key, total in self._acc.items():
                self._losses.setdefault(key, []).append(total / self._acc_n)
            self._acc, self._acc_n = {}, 0

    def _record_metrics(self, metrics: dict[str, float]) -> None:
        self.metrics = dict(metrics)
        self._metric_history.append({"step": float(self.step), "elapsed": self._elapsed(), **metrics})

    def _elapsed(self) -> float:
        if self._started is None:
            return 0.0
        return (self._finished or time.perf_counter()) - self._started

    # --- public -------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """End training after the current step and keep the model (status ``stopped``, saved to the store)."""
        self._stop.set()

    def cancel(self) -> None:
        """End training (or drop it from the queue) and discard the model."""
        self._discard = True
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished; True if it did within ``timeout`` seconds."""
        return self._done.wait(timeout)

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            elapsed = self._elapsed()
            return JobSnapshot(
                id=self.id, name=self.spec.label(), model=self.spec.model, dataset=self.spec.dataset.name,
                status=self.status, step=self.step, total=self.total, elapsed=elapsed,
                steps_per_s=self.step / elapsed if elapsed > 0 else 0.0, device=self.device,
                seed=self.spec.seed, loss_steps=list(self._loss_steps),
                losses={k: list(v) for k, v in self._losses.items()}, metrics=dict(self.metrics),
                metric_history=[dict(m) for m in self._metric_history], error=self.error,
                run_id=self.run_id, config=dict(self.spec.config), traceback=self.traceback)

    # --- the thread body ------------------------------------------------------------------------------------
    def run(self, store: Any | None) -> None:
        try:
            with self._lock:
                if self._stop.is_set():           # cancelled or stopped while still queued
                    self.status = JobStatus.STOPPED
                    return
                self.status = JobStatus.RUNNING
                self._started = time.perf_counter()
            log.info("%s started: %s, %s steps", self.id, self.spec.label(), self.spec.steps or "default")
            device = resolve_device(self.spec.device)
            self.device = str(device)
            fitted = build(self.spec, device)
            self.fitted = fitted
            train(self.spec, fitted, self._report, self._stop.is_set)
            final = evaluate_fitted(fitted, self.spec.dataset, self.spec.eval_samples)
            preview = draw_preview(fitted, self.spec)
            with self._lock:
                if preview is not None:
                    self.preview = preview
                self._flush_losses()
                self._record_metrics(final)
                self.status = JobStatus.STOPPED if self._stop.is_set() else JobStatus.DONE
                self._finished = time.perf_counter()
            log.info("%s %s after %d steps", self.id, self.status.value, self.step)
        except Exception as exc:  # any failure ends this job only
            expected = isinstance(exc, USER_FACING)
            if expected:  # the user's settings or data: one sentence is the whole story
                log.warning("%s failed: %s", self.id, exc)
            else:         # a bug: the traceback goes to the log and to the job's entry
                log.exception("%s (%s) failed with an internal error", self.id, self.spec.label())
            with self._lock:
                self.status = JobStatus.FAILED
                self.error = _describe(exc)
                self.traceback = None if expected else traceback.format_exc()
                self._finished = time.perf_counter()
        finally:
            self._persist(store)
            self._done.set()

    def _persist(self, store: Any | None) -> None:
        if store is None or self._discard or self.status is JobStatus.QUEUED:
            return
        if self.status is JobStatus.STOPPED and self.fitted is None:
            return  # stopped before it started: nothing to keep
        try:
            run_id = store.save(self.snapshot(), self.fitted if self.status is not JobStatus.FAILED else None,
                                spec=self.spec, run_dir=self.spec.out_dir)
            with self._lock:
                self.run_id = run_id
        except Exception as exc:  # a full disk must not crash the thread silently
            log.exception("%s: could not save its run", self.id)
            with self._lock:
                self.error = (self.error + "; " if self.error else "") + f"could not save run: {exc}"


def configure_torch_threads(max_concurrent: int) -> int:
    """Share the CPUs between concurrent jobs (plus the UI thread) instead of letting each oversubscribe.

    Every thread that runs torch CPU ops keeps its own OpenMP team. With more OpenMP threads than CPUs,
    libgomp stops spin-waiting and every tiny parallel region pays a sleep/wake: measured here, a VAE job in
    a background thread ran at a third of the main-thread speed with torch's default 2 threads on 2 CPUs,
    and at ~0.9-1.0 of it with 1 thread (benchmarks/engine_overhead.py). Must run before any thread has
    used torch to take effect there. ``OMP_NUM_THREADS`` or ``GENLAB_TORCH_THREADS`` override it.
    """
    import torch
    if os.environ.get("GENLAB_TORCH_THREADS"):
        n = int(os.environ["GENLAB_TORCH_THREADS"])
    elif os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    else:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        n = max(1, cpus // (max_concurrent + 1))
    if n != torch.get_num_threads():
        torch.set_num_threads(n)
    return n


def _describe(exc: Exception) -> str:
    """User-facing one-liner: our own errors are already phrased for users; a bug gets its type and a pointer to
    the log, where its traceback is."""
    if isinstance(exc, USER_FACING):
        return str(exc)
    return f"internal error ({type(exc).__name__}: {exc}); the traceback is in {log_file()}"


@dataclass
class JobManager:
    """Runs at most ``max_concurrent`` jobs at once; the rest wait in a FIFO queue.

    One instance per process (the app holds it in ``st.cache_resource``) so jobs outlive page changes
    and every browser tab sees the same jobs.
    """

    max_concurrent: int = field(default_factory=lambda: int(os.environ.get("GENLAB_MAX_JOBS", "2")))
    store: Any | None = None

    def __post_init__(self) -> None:
        configure_torch_threads(self.max_concurrent)
        configure_logging(getattr(self.store, "root", None))  # job failures land beside the runs
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._queue: deque[Job] = deque()
        self._running: set[str] = set()

    def submit(self, spec: TrainSpec) -> Job:
        job = Job(spec)
        with self._lock:
            self._jobs[job.id] = job
            self._queue.append(job)
        self._start_ready()
        return job

    def _start_ready(self) -> None:
        with self._lock:
            while self._queue and len(self._running) < self.max_concurrent:
                job = self._queue.popleft()
                self._running.add(job.id)
                job.thread = threading.Thread(target=self._run, args=(job,), name=job.id, daemon=True)
                job.thread.start()

    def _run(self, job: Job) -> None:
        try:
            job.run(self.store)
        finally:
            with self._lock:
                self._running.discard(job.id)
            self._start_ready()

    def get(self, job_id: str) -> Job:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise KeyError(f"no job {job_id!r}") from None

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def snapshots(self) -> list[JobSnapshot]:
        return [job.snapshot() for job in self.jobs()]

    def stop(self, job_id: str) -> None:
        self.get(job_id).stop()

    def cancel(self, job_id: str) -> None:
        job = self.get(job_id)
        job.cancel()
        with self._lock:
            if job in self._queue:          # never started: finish it right here
                self._queue.remove(job)
                job.status = JobStatus.STOPPED
                job._done.set()

    def remove_finished(self) -> None:
        """Forget finished jobs (their runs stay in the store)."""
        with self._lock:
            for job_id in [j.id for j in self._jobs.values() if j.status.finished]:
                del self._jobs[job_id]

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._running) + len(self._queue)

    def wait_all(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        for job in self.jobs():
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not job.wait(left):
                return False
        return True

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every job (keeping what they learned) and wait for their threads."""
        for job in self.jobs():
            job.stop()
        self.wait_all(timeout)
