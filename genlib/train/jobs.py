"""The engine: a process-wide :class:`JobManager` running every long computation (a :class:`Task`) as a job, and
writing each job's result as a run of the store.

Each job has a thread here that follows it; the task itself runs where the manager's *executor* puts it: in a
worker process of the local pool (the default, :mod:`genlib.train.workers`), in an actor of a Ray cluster
(:mod:`genlib.train.on_ray`), or in that thread (``"thread"``). Whichever it is, the job's status, fair share,
stop and cancel, progress and run behave the same: only the task's steps move.

Pages and the CLI never wait on a job: they read :meth:`Job.snapshot`, an immutable copy taken under the job's
lock, as often as they like. A failing job (exception, NaN loss, a run folder that cannot be written) ends as
``failed`` with its message; other jobs and the app carry on.

A job's run goes through the store's lifecycle (:mod:`genlib.store`): its row is written when it starts, iterative
tasks checkpoint every ``checkpoint_every_s`` seconds into its staging folder, and the folder is committed by one
atomic rename when it ends; a cancelled job leaves nothing.
"""
from __future__ import annotations

import itertools
import logging
import os
import threading
import time
import traceback
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..access import PERSONAL_USER, Mode, User, Viewer
from ..errors import UserError
from ..logs import configure_logging, log_file
from ..models import FittedModel, NonFiniteLossError
from ..store import JobStatus, RunRecord, RunStore, new_run_id, record_from_job
from .fairshare import QuotaError, ShareLimits, check_submission, next_fair
from .pacing import LocalPace, PaceCell
from .loop import resolve_device
from .workers import WorkerUnavailable, execute_in_worker
from .task import JobContext, Progress, Task, TaskResult

log = logging.getLogger(__name__)
#: Failures phrased for the user (their settings or data, a diverging run, a folder that cannot be written): one
#: sentence, no traceback.
USER_FACING = (UserError, NonFiniteLossError, FloatingPointError)   # WorkerDied is a UserError
#: How often a running job writes its progress (step, losses) into its row, for other processes to read.
ROW_EVERY_S = 2.0
#: The window of the recent speed (seconds): long enough to smooth a step's jitter, short enough to follow a cap.
RECENT_S = 10.0

__all__ = ["Job", "JobManager", "JobSnapshot", "JobStatus", "ViewerJobs", "QuotaError", "configure_torch_threads"]


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
    kind: str = "train"
    live: Any = None               # the task's latest live state (its own copy), e.g. an AVO history
    start_step: int = 0            # a continued run starts here
    owner: str = PERSONAL_USER.id  # the user it belongs to (genlib.access), and their label
    owner_name: str = PERSONAL_USER.name
    paused: bool = False           # held between two steps (genlib.train.pacing); the status stays "running"
    max_rate: float = 0.0          # the cap on its steps per second (0: none)
    recent_steps_per_s: float | None = None   # over the last RECENT_S seconds of steps (None: too few steps yet)

    @property
    def fraction(self) -> float:
        return 0.0 if self.total == 0 else min(1.0, self.step / self.total)

    @property
    def last_loss(self) -> float | None:
        values = self.losses.get("loss")
        return values[-1] if values else None

    @property
    def rate(self) -> float:
        """Its speed now: the recent one when known (a cap, a pause or a busy machine change it), else the average."""
        return self.recent_steps_per_s if self.recent_steps_per_s else self.steps_per_s

    @property
    def eta_s(self) -> float | None:
        """Seconds left at its recent speed (None before it has one, and while paused: it will not end on its own)."""
        done = self.step - self.start_step
        if self.status is not JobStatus.RUNNING or self.paused or done <= 0 or self.total <= self.step \
                or self.rate <= 0:
            return None
        return (self.total - self.step) / self.rate


class Job:
    """One task in the engine. Created by :meth:`JobManager.submit`; read it with :meth:`snapshot`."""

    _ids = itertools.count(1)

    def __init__(self, spec: Task, log_points: int = 400, owner: User = PERSONAL_USER):
        self.id = f"job-{next(self._ids)}"
        self.spec = spec   # the task (a TrainSpec for training; pages read its dataset and settings)
        self.owner = owner
        self.executor = "thread"          # "local": a worker process (genlib.train.workers); "ray": a Ray actor
        self.worker_threads = 1           # torch threads of its worker
        self.max_concurrent = 1           # jobs that run at once (a CUDA worker's share of its GPU)
        self.worker_pid: int | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.pace: PaceCell = LocalPace()   # pause, allowed steps, cap: moved to where the task runs when it starts
        self._discard = False
        self._done = threading.Event()
        self._log_points = log_points
        self.status = JobStatus.QUEUED
        self.step = 0
        self.total = int(spec.planned_steps() or 0)
        self.device = ""
        self.error: str | None = None
        self.traceback: str | None = None
        self.run_id: str | None = None
        self.fitted: FittedModel | None = None
        self.result: TaskResult | None = None
        self.live: Any = None
        self._started: float | None = None
        self._finished: float | None = None
        history = spec.history() or {}
        self._loss_steps: list[int] = list(history.get("loss_steps", []))
        self._losses: dict[str, list[float]] = {k: list(v) for k, v in history.get("losses", {}).items()}
        self._metric_history: list[dict[str, float]] = [dict(m) for m in history.get("metric_history", [])]
        self._start_step = int(spec.start_step or (self._loss_steps[-1] if self._loss_steps else 0))
        self._row_written = 0.0   # when the run's row last got this job's progress
        self._recent: deque[tuple[float, int]] = deque(maxlen=512)   # (monotonic time, step) of recent reports
        self._acc: dict[str, float] = {}
        self._acc_n = 0
        self._log_every = 1
        self.metrics: dict[str, float] = {}
        self.preview: np.ndarray | None = None  # latest samples drawn by the training thread (spec.preview_samples)
        self.thread: threading.Thread | None = None
        self._record: RunRecord | None = None   # the run's row as last written (None without a store)
        self._store: RunStore | None = None
        self._staging: Path | None = None

    # --- called from the job's thread -------------------------------------------------------------------------
    def _report(self, p: Progress) -> None:
        with self._lock:
            if p.step < self.step and p.losses is None:
                return
            if p.step > self.step:
                self._recent.append((time.monotonic(), p.step))
            self.step, self.total = p.step, p.total
            self._log_every = max(1, (p.total - self._start_step) // self._log_points)
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
            if p.live is not None:
                self.live = p.live
        if self._record is not None and time.monotonic() - self._row_written >= ROW_EVERY_S:
            self._row_written = time.monotonic()   # `genlib runs` and other processes see the step move
            try:
                self._store.update(self._refresh_record())
            except Exception:  # noqa: BLE001 - progress in the row is a courtesy; the commit reports real failures
                log.warning("%s: could not record its progress", self.id, exc_info=True)

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
    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """End the work after the current step and keep what it did (status ``stopped``, saved to the store)."""
        self._stop.set()

    def cancel(self) -> None:
        """End the work (or drop it from the queue) and discard it: no run is kept."""
        self._discard = True
        self._stop.set()

    def pause(self) -> None:
        """Hold the task before its next step (it keeps its place, its status stays ``running``)."""
        self.pace.set(paused=True)

    def resume(self) -> None:
        self.pace.set(paused=False)

    def advance(self, steps: int = 1) -> None:
        """Let a paused task take ``steps`` more steps, then hold it again (pauses it first if it was running)."""
        if steps < 1:
            raise UserError("the number of steps to take must be at least 1")
        self.pace.set(paused=True, more=int(steps))

    def set_rate(self, steps_per_s: float | None) -> None:
        """Cap the task's steps per second (None or 0: no cap), so a class can watch it move."""
        if steps_per_s is not None and not steps_per_s >= 0:
            raise UserError(f"a speed must be a number of steps per second of at least 0; got {steps_per_s}")
        self.pace.set(rate=steps_per_s or 0.0)

    def use_pace(self, cell: PaceCell) -> None:
        """The task now runs where ``cell`` is read: carry this job's pace over to it (called by the executor)."""
        with self._lock:
            paused, allowed, rate = self.pace.read()
            cell.set(paused=paused, more=allowed, rate=rate)
            self.pace = cell

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished and its run is written; True if it did within ``timeout`` seconds."""
        return self._done.wait(timeout)

    @property
    def kind(self) -> str:
        return self.spec.kind.value

    @property
    def owner_id(self) -> str:
        return self.owner.id

    @property
    def exempt(self) -> bool:
        """Exempt from the per-user fair-share limits (the teacher, the command line, personal mode)."""
        return self.owner.teacher

    def _recent_rate(self, paused: bool) -> float | None:
        """Steps per second over the last :data:`RECENT_S` seconds (at least the last two steps, for a slow model);
        the time since the last step counts too, so a job that slows down shows it before its next step. None with
        fewer than two steps, and while paused. Caller holds the lock."""
        if paused or len(self._recent) < 2:
            return None
        now = time.monotonic()
        t_last, s_last = self._recent[-1]
        first = next(((t, s) for t, s in self._recent if now - t <= RECENT_S), self._recent[-2])
        if first[1] >= s_last:
            first = self._recent[-2]
        span = max(now, t_last) - first[0]
        return (s_last - first[1]) / span if span > 0 else None

    def snapshot(self) -> JobSnapshot:
        paused, _, rate = self.pace.read()
        with self._lock:
            recent = self._recent_rate(paused) if self.status is JobStatus.RUNNING else None
            elapsed = self._elapsed()
            done = self.step - self._start_step
            return JobSnapshot(
                id=self.id, name=self.spec.label(), model=self.spec.model_name, dataset=self.spec.dataset_name,
                status=self.status, step=self.step, total=self.total, elapsed=elapsed,
                steps_per_s=done / elapsed if elapsed > 0 else 0.0, device=self.device,
                seed=self.spec.seed, loss_steps=list(self._loss_steps),
                losses={k: list(v) for k, v in self._losses.items()}, metrics=dict(self.metrics),
                metric_history=[dict(m) for m in self._metric_history], error=self.error,
                run_id=self.run_id, config=dict(self.spec.settings()), traceback=self.traceback,
                kind=self.kind, live=self.live, start_step=self._start_step, owner=self.owner.id,
                owner_name=self.owner.name, paused=paused and not self.status.finished, max_rate=rate,
                recent_steps_per_s=recent)

    # --- the thread body ------------------------------------------------------------------------------------
    def run(self, store: RunStore | None) -> None:
        try:
            with self._lock:
                if self._stop.is_set():           # cancelled or stopped while still queued: nothing to keep
                    self.status = JobStatus.STOPPED
                    return
                self.status = JobStatus.RUNNING
                self._started = time.perf_counter()
                if self._loss_steps:
                    self.step = self._start_step
            log.info("%s started: %s (%s), %s steps", self.id, self.spec.label(), self.kind,
                     self.spec.planned_steps() or "default")
            device = resolve_device(self.spec.device)
            self.device = str(device)
            if store is not None:
                self._begin(store)
            checkpoint = self._checkpoint if store is not None else None
            checkpoint_results = self._checkpoint_results if store is not None else None
            ctx = JobContext(self, device, checkpoint, self.spec.checkpoint_every_s, checkpoint_results,
                             pace=self.pace)
            result = None
            if self.executor == "ray" and self.spec.needs_slot:
                from .on_ray import execute_on_ray
                result = execute_on_ray(self, checkpoint, self.spec.checkpoint_every_s, checkpoint_results)
            elif self.executor == "local" and self.spec.needs_slot:
                try:
                    result = execute_in_worker(self, device, checkpoint, self.spec.checkpoint_every_s,
                                               checkpoint_results, self.worker_threads, self.max_concurrent)
                except WorkerUnavailable as exc:
                    log.warning("%s runs in a thread: %s", self.id, exc)
            if result is None:
                result = self.spec.execute(ctx)
            with self._lock:
                self.result = result
                if result.fitted is not None:
                    self.fitted = result.fitted
                self._flush_losses()
                if result.metrics:
                    self._record_metrics(result.metrics)
                self.status = JobStatus.STOPPED if (result.stopped or self._stop.is_set()) else JobStatus.DONE
                if self.status is JobStatus.STOPPED and self.kind == "train" and self.step <= self._start_step:
                    self._discard = True   # stopped before its first step: an untrained model is not a run
            if store is not None and not self._discard:
                self._commit(store, result)
            with self._lock:
                self._finished = time.perf_counter()
            log.info("%s %s after %d steps", self.id, self.status.value, self.step)
        except Exception as exc:  # any failure ends this job only
            self._fail(exc, store)
        finally:
            if self._discard and store is not None and self._record is not None:
                store.discard(self._record.id, self._staging)
                with self._lock:
                    self.run_id = None
            self._done.set()

    def _begin(self, store: RunStore) -> None:
        """The run's row (status running) and staging folder, before any work: a folder that cannot be written
        fails the job now, not after an hour of training."""
        record = record_from_job(self.snapshot(), self.spec, self.spec.run_id or new_run_id(), None)
        self._record = record
        with self._lock:
            self.run_id = record.id
        self._staging = store.begin(record, self.spec.out_dir)
        self._store = store

    def _refresh_record(self) -> RunRecord:
        """The row as of now: the snapshot's progress over the record written at the start."""
        assert self._record is not None
        snap = self.snapshot()
        fresh = record_from_job(snap, self.spec, self._record.id, None)
        for keep in ("created", "owner_process", "staging", "target", "checkpoint_step", "shared"):
            setattr(fresh, keep, getattr(self._record, keep))
        self._record = fresh
        return fresh

    def _checkpoint(self, fitted: FittedModel, training: dict[str, Any]) -> None:
        assert self._staging is not None
        self._store.checkpoint(self._refresh_record(), self._staging, fitted, training)

    def _checkpoint_results(self, arrays: dict[str, np.ndarray], step: int) -> None:
        assert self._staging is not None
        self._store.checkpoint_results(self._refresh_record(), self._staging, arrays, step)

    def _commit(self, store: RunStore, result: TaskResult) -> None:
        record = self._refresh_record()
        record.summary = dict(result.summary)
        record.owner_process = None
        assert self._staging is not None
        store.commit(record, self._staging, result.fitted, result.arrays, result.training)

    def _fail(self, exc: Exception, store: RunStore | None) -> None:
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
        if store is not None and self._record is not None and not self._discard:
            record = self._refresh_record()
            record.owner_process = None
            store.fail(record, self._staging)


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one: a container's share, not the host's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


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
        n = max(1, available_cpus() // (max_concurrent + 1))
    if n != torch.get_num_threads():
        torch.set_num_threads(n)
    return n


#: Where a job runs: a thread of this process, a worker process of the local pool, or an actor on a Ray cluster.
EXECUTORS = ("thread", "local", "ray")


def default_executor() -> str:
    """``GENLAB_EXECUTOR``; else Ray when ``GENLAB_RAY_ADDRESS`` names a cluster; else the local pool."""
    chosen = os.environ.get("GENLAB_EXECUTOR", "").strip()
    if chosen:
        return chosen
    return "ray" if os.environ.get("GENLAB_RAY_ADDRESS", "").strip() else "local"


def default_slots(executor: str) -> int:
    """Jobs that run at once: ``GENLAB_MAX_JOBS``; else the cluster's CPUs over a job's (Ray); else half this
    machine's CPUs, at least 2 and at most 8 (each job also gets its share of torch threads)."""
    if os.environ.get("GENLAB_MAX_JOBS"):
        return max(1, int(os.environ["GENLAB_MAX_JOBS"]))
    if executor == "ray":
        from .on_ray import cluster_slots
        return cluster_slots()
    return max(2, min(8, available_cpus() // 2))


def _worker_threads(max_concurrent: int) -> int:
    """Torch threads of each worker: the CPUs shared between the jobs that run at once."""
    return max(1, available_cpus() // max(1, max_concurrent))


def _describe(exc: Exception) -> str:
    """User-facing one-liner: our own errors are already phrased for users; a bug gets its type and a pointer to
    the log, where its traceback is."""
    if isinstance(exc, USER_FACING):
        return str(exc)
    return f"internal error ({type(exc).__name__}: {exc}); the traceback is in {log_file()}"


@dataclass
class JobManager:
    """Runs at most ``max_concurrent`` jobs at once; the rest wait, and free slots go round-robin between their
    owners (:mod:`genlib.train.fairshare`), with per-user and server-wide limits checked at submission.

    One instance per process (the app holds it in ``st.cache_resource``) so jobs outlive page changes. Pages reach
    it through :meth:`for_viewer`, which shows a user only the jobs they may see and manage.
    """

    #: Jobs that run at once (default: :func:`default_slots`).
    max_concurrent: int = None  # type: ignore[assignment]
    store: RunStore | None = None
    classroom: bool = False     # the fair-share defaults of a classroom server (genlib.train.fairshare)
    #: "local": each job in a worker process of this machine's pool (genlib.train.workers); "ray": each job in an
    #: actor of a Ray cluster (genlib.train.on_ray); "thread": each job in a thread of this process (tests with
    #: in-process fakes, debugging). Default: :func:`default_executor`.
    executor: str = field(default_factory=default_executor)

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise UserError(f"the executor must be one of {', '.join(EXECUTORS)}; got {self.executor!r} "
                            "(GENLAB_EXECUTOR or --executor)")
        if self.executor == "ray":
            from .on_ray import connect
            connect()   # now: a missing Ray or an unreachable cluster is one sentence here, not a failure per job
        if self.max_concurrent is None:
            self.max_concurrent = default_slots(self.executor)
        if self.executor == "local":
            from .workers import worker_pool
            pool = worker_pool()
            pool.keep = max(pool.keep, self.max_concurrent)   # idle workers kept: as many as run at once
            pool.fill()   # a warm worker waits for the first job
        configure_torch_threads(self.max_concurrent)
        configure_logging(getattr(self.store, "root", None))  # job failures land beside the runs
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._queue: deque[Job] = deque()
        self._running: set[str] = set()
        self._starts = itertools.count()
        self._last_start: dict[str, int] = {}   # owner id → when their last job started (a counter value)

    @property
    def limits(self) -> ShareLimits:
        """The fair-share limits in force (read from the environment at each call, like every limit)."""
        return ShareLimits.for_mode(self.classroom, self.max_concurrent)

    def submit(self, task: Task, owner: User | None = None) -> Job:
        """Queue any task (a TrainSpec, an AVO fit, anomaly scoring…) for ``owner`` (default: the personal user);
        it starts when a slot is free and it is the owner's turn (at once for a task that needs no slot). A
        submission over a fair-share limit raises :class:`QuotaError`."""
        return self.submit_all([task], owner)[0]

    def submit_all(self, tasks: list[Task], owner: User | None = None, sweep_points: int = 0) -> list[Job]:
        """Queue several tasks at once, all or none: the limits are checked for the whole batch first (a sweep's
        runs and its follower; ``sweep_points`` is the size checked against the sweep limit)."""
        owner = owner or PERSONAL_USER
        jobs = [Job(task, owner=owner) for task in tasks]
        for job in jobs:
            job.executor, job.worker_threads = self.executor, _worker_threads(self.max_concurrent)
            job.max_concurrent = self.max_concurrent
        with self._lock:
            slotted = [j for j in jobs if j.spec.needs_slot]
            mine = sum(1 for j in self._jobs.values()
                       if j.owner_id == owner.id and j.spec.needs_slot and not j.status.finished)
            check_submission(self.limits, owner.id, owner.teacher, len(slotted), mine, len(self._queue), sweep_points)
            for job in jobs:
                self._jobs[job.id] = job
                if job.spec.needs_slot:
                    self._queue.append(job)
                else:
                    self._running.add(job.id)
                    self._start_thread(job)
        self._start_ready()
        return jobs

    def _start_thread(self, job: Job) -> None:
        job.thread = threading.Thread(target=self._run, args=(job,), name=job.id, daemon=True)
        job.thread.start()

    def _start_ready(self) -> None:
        with self._lock:
            limits = self.limits
            while self._queue:
                slotted = [self._jobs[i] for i in self._running if self._jobs[i].spec.needs_slot]
                if len(slotted) >= self.max_concurrent:
                    break
                job = next_fair(self._queue, Counter(j.owner_id for j in slotted), self._last_start, limits)
                if job is None:      # everyone waiting is at their own running limit
                    break
                self._queue.remove(job)
                self._running.add(job.id)
                self._last_start[job.owner_id] = next(self._starts)
                self._start_thread(job)

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

    def stop(self, job_id: str, by: Viewer | None = None) -> None:
        """End a job after its current step, keeping what it did. ``by``: the user asking (None: the server itself),
        who must own it or be the teacher (:class:`~genlib.access.AccessError` otherwise)."""
        job = self.get(job_id)
        if by is not None:
            by.check_manage(job.owner_id, f"job {job_id}")
        job.stop()
        self._drop_if_waiting(job)

    def pace(self, job_id: str, by: Viewer | None = None, *, pause: bool | None = None, steps: int = 0,
             rate: float | None = None) -> None:
        """Training as an instrument (:mod:`genlib.train.pacing`), for any job and executor: ``pause=True`` holds
        it before its next step, ``pause=False`` resumes it, ``steps=k`` lets it take k more steps and hold again,
        ``rate`` caps its steps per second (0: no cap). ``by`` must own it or be the teacher."""
        job = self.get(job_id)
        if by is not None:
            by.check_manage(job.owner_id, f"job {job_id}")
        if rate is not None:
            job.set_rate(rate)
        if steps:
            job.advance(steps)
        elif pause is True:
            job.pause()
        elif pause is False:
            job.resume()

    def run_now(self, task: Task) -> TaskResult:
        """Run a short task at once, in this thread, where this engine runs its jobs (a worker process, a Ray actor),
        outside the queue and the store: no slot, no row, no run. For the timed probe before a start
        (genlib.train.estimate); its failure is raised as a UserError."""
        job = Job(task)
        job.executor, job.worker_threads = self.executor, _worker_threads(self.max_concurrent)
        job.max_concurrent = self.max_concurrent
        job.run(None)
        if job.status is JobStatus.FAILED or job.result is None:
            raise UserError(job.error or "the task ended without a result")
        return job.result

    def _drop_if_waiting(self, job: Job) -> None:
        """A job stopped or cancelled before it started leaves the queue now (and its user's quota), not when its
        turn comes."""
        with self._lock:
            if job in self._queue:
                self._queue.remove(job)
                job.status = JobStatus.STOPPED
                job._done.set()

    def find_run(self, run_id: str) -> Job | None:
        """The job of this process writing (or that wrote) run ``run_id``, if any."""
        return next((j for j in self.jobs() if j.run_id == run_id), None)

    def cancel(self, job_id: str, by: Viewer | None = None) -> None:
        job = self.get(job_id)
        if by is not None:
            by.check_manage(job.owner_id, f"job {job_id}")
        job.cancel()
        self._drop_if_waiting(job)

    def remove_finished(self, by: Viewer | None = None) -> None:
        """Forget finished jobs (their runs stay in the store): ``by``'s own (a teacher's "Clear finished" does not
        empty the students' lists), or every one for the server itself and in personal mode."""
        with self._lock:
            for job_id in [j.id for j in self._jobs.values() if j.status.finished and (
                    by is None or by.mode is Mode.PERSONAL or j.owner_id == by.user.id)]:
                del self._jobs[job_id]

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._running) + len(self._queue)

    def for_viewer(self, viewer: Viewer) -> "ViewerJobs":
        """The engine as ``viewer`` sees it: only the jobs they may see, every action checked."""
        return ViewerJobs(self, viewer)

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


class ViewerJobs:
    """One user's view of the engine (what a page holds): the jobs they may see (their own; every job for the
    teacher and in personal mode), submissions recorded as theirs, and stop/cancel/clear limited to what they may
    manage. A job of someone else is "not found" here, as if it did not exist."""

    def __init__(self, manager: JobManager, viewer: Viewer):
        self.manager, self.viewer = manager, viewer

    def _visible(self, job: Job) -> bool:
        return self.viewer.can_see(job.owner_id)

    def submit(self, task: Task) -> Job:
        return self.manager.submit(task, owner=self.viewer.user)

    def submit_all(self, tasks: list[Task], sweep_points: int = 0) -> list[Job]:
        return self.manager.submit_all(tasks, owner=self.viewer.user, sweep_points=sweep_points)

    def jobs(self) -> list[Job]:
        return [j for j in self.manager.jobs() if self._visible(j)]

    def snapshots(self) -> list[JobSnapshot]:
        return [j.snapshot() for j in self.jobs()]

    def get(self, job_id: str) -> Job:
        job = self.manager.get(job_id)
        if not self._visible(job):
            raise KeyError(f"no job {job_id!r}")
        return job

    def find_run(self, run_id: str) -> Job | None:
        job = self.manager.find_run(run_id)
        return job if job is not None and self._visible(job) else None

    def stop(self, job_id: str) -> None:
        self.manager.stop(self.get(job_id).id, by=self.viewer)

    def cancel(self, job_id: str) -> None:
        self.manager.cancel(self.get(job_id).id, by=self.viewer)

    def pace(self, job_id: str, *, pause: bool | None = None, steps: int = 0, rate: float | None = None) -> None:
        self.manager.pace(self.get(job_id).id, by=self.viewer, pause=pause, steps=steps, rate=rate)

    def run_now(self, task: Task) -> TaskResult:
        """See :meth:`JobManager.run_now` (the timed probe of a start button)."""
        return self.manager.run_now(task)

    def remove_finished(self) -> None:
        self.manager.remove_finished(by=self.viewer)

    @property
    def active(self) -> int:
        """This user's jobs running or waiting."""
        return sum(1 for j in self.jobs() if not j.status.finished)

    @property
    def limits(self) -> ShareLimits:
        return self.manager.limits

    @property
    def max_concurrent(self) -> int:
        return self.manager.max_concurrent

    @property
    def store(self) -> RunStore | None:
        return self.manager.store
