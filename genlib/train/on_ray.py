"""Run jobs on a Ray cluster (the ``ray`` executor): when one machine is not enough for a class or a sweep.

Why Ray and not an engine of our own: scheduling tasks over machines, placing them on GPUs, noticing a dead node and
shipping Python objects between processes are what Ray does, and does well. GenLab keeps everything else: the job,
its place in the fair-share queue, its progress and its run stay in the app's process, exactly as for the local
pool. Each job becomes one Ray *actor* (a process on some node) that runs the task with
:func:`genlib.train.workers.run_task` and keeps its messages in an outbox the job polls; stop sets a flag in the
actor. Results (checkpoints, models, arrays) come back as bytes and the app's own store writes them: the run store's
SQLite (WAL mode) must stay on the app's local disk, never on a filesystem shared with the cluster.

``GENLAB_RAY_ADDRESS`` chooses the cluster: ``local`` starts a Ray on this machine (``GENLAB_RAY_CPUS`` caps its
CPUs), anything else is the address of a running cluster (``ray://host:10001`` or ``host:6379``), to which genlib's
own code is sent with each job (Ray's ``py_modules``), so its nodes need only genlib's dependencies. A job asks for
``GENLAB_RAY_CPUS_PER_JOB`` CPUs (default 1; its torch threads) and, when its device is CUDA or "auto" on a cluster
with GPUs, ``GENLAB_RAY_GPUS_PER_JOB`` GPUs (default 1; 0.5 lets two jobs share one).

Ray is an optional extra (``pip install .[ray]`` or ``-r requirements-ray.txt``): nothing here imports it until a
job is sent to the cluster.
"""
from __future__ import annotations

import collections
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import UserError
from .pacing import LocalPace
from .task import TaskResult
from .workers import GRACE_S, Replay, WorkerDied, genlab_settings, run_task, use_settings

if TYPE_CHECKING:
    from .jobs import Job

log = logging.getLogger(__name__)
__all__ = ["RayUnavailable", "connect", "cluster_slots", "execute_on_ray", "ray_address"]
#: How long the job waits for one answer from its actor before it looks again (seconds).
POLL_S = 0.2


class RayUnavailable(UserError):
    """Ray was asked for (``GENLAB_RAY_ADDRESS`` or ``--executor ray``) but is not installed or not reachable."""


def ray_address() -> str:
    """The cluster to use: ``GENLAB_RAY_ADDRESS``, or a Ray started on this machine."""
    return os.environ.get("GENLAB_RAY_ADDRESS", "").strip() or "local"


_CONNECT_LOCK = threading.Lock()
_ACTOR: Any = None


def connect(address: str | None = None) -> Any:
    """Connect this process to the cluster once (``ray.init``) and return the ``ray`` module."""
    try:
        import ray
    except ImportError:
        raise RayUnavailable("the ray executor needs Ray, which is not installed: pip install '.[ray]' "
                             "(or pip install -r requirements-ray.txt)") from None
    address = address or ray_address()
    with _CONNECT_LOCK:
        if ray.is_initialized():
            return ray
        try:
            if address == "local":
                cpus = os.environ.get("GENLAB_RAY_CPUS")
                ray.init(num_cpus=int(cpus) if cpus else None, include_dashboard=False, log_to_driver=False,
                         configure_logging=False)
            else:
                import genlib
                ray.init(address=address, log_to_driver=False, configure_logging=False,
                         runtime_env={"py_modules": [str(Path(genlib.__file__).parent)]})
        except Exception as exc:  # noqa: BLE001 - Ray's own errors vary by version; the address is what the user set
            raise RayUnavailable(f"could not reach the Ray cluster at {address!r} (GENLAB_RAY_ADDRESS): "
                                 f"{type(exc).__name__}: {exc}") from None
        log.info("connected to Ray at %s: %s", address, ray.cluster_resources())
    return ray


def cluster_slots(cpus_per_job: int | None = None) -> int:
    """How many jobs the cluster runs at once: its CPUs over the CPUs each job asks for."""
    ray = connect()
    cpus = float(ray.cluster_resources().get("CPU", 1))
    return max(1, int(cpus // (cpus_per_job or _cpus_per_job())))


def _cpus_per_job() -> int:
    return max(1, int(os.environ.get("GENLAB_RAY_CPUS_PER_JOB", "1") or 1))


def _gpus_for(ray: Any, device: str) -> float:
    """GPUs to ask for: for a CUDA job, or an "auto" one on a cluster that has GPUs."""
    wants = device.startswith("cuda") or (device == "auto" and ray.cluster_resources().get("GPU", 0) > 0)
    return float(os.environ.get("GENLAB_RAY_GPUS_PER_JOB", "1") or 1) if wants else 0.0


class _Outbox:
    """The actor's side of the job: messages wait here until the job's next poll; stop is a flag."""

    def __init__(self) -> None:
        self._messages: collections.deque[tuple[str, Any]] = collections.deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pace = LocalPace()

    def send(self, message: tuple[str, Any]) -> None:
        with self._lock:
            self._messages.append(message)

    def pid(self) -> int:
        return os.getpid()

    def run(self, task: Any, device: str, every_s: float | None, can_checkpoint: bool, threads: int,
            env: dict[str, str]) -> None:
        import torch
        use_settings(env)   # the limits the app runs under (GENLAB_MAX_MODEL_MB…), on whichever node this is
        torch.set_num_threads(max(1, threads))
        run_task(task, device, every_s, can_checkpoint, self, self._stop, self._pace)

    def pace(self, paused: bool | None, more: int, rate: float | None) -> None:
        self._pace.set(paused=paused, more=more, rate=rate)

    def poll(self) -> list[tuple[str, Any]]:
        with self._lock:
            messages = list(self._messages)
            self._messages.clear()
        return messages

    def stop(self) -> None:
        self._stop.set()


class _RayPace(LocalPace):
    """The job's side of an actor's pace: a copy here (what its snapshot shows), every change sent to the actor."""

    def __init__(self, actor: Any):
        super().__init__()
        self._actor = actor

    def set(self, paused: bool | None = None, more: int = 0, rate: float | None = None) -> None:
        super().set(paused=paused, more=more, rate=rate)
        self._actor.pace.remote(paused, more, rate)


def _actor_class(ray: Any) -> Any:
    global _ACTOR
    if _ACTOR is None:
        # max_concurrency: `run` holds one thread of the actor while `poll` and `stop` answer on another
        _ACTOR = ray.remote(max_concurrency=4, max_restarts=0)(_Outbox)
    return _ACTOR


def execute_on_ray(job: "Job", checkpoint: Callable[..., None] | None, every_s: float | None,
                   checkpoint_results: Callable[..., None] | None) -> TaskResult:
    """Run ``job``'s task in an actor on the cluster and return its result, replaying its progress into ``job``."""
    ray = connect()
    from ray.exceptions import GetTimeoutError, RayError
    cpus = _cpus_per_job()
    gpus = _gpus_for(ray, str(job.spec.device))
    actor = _actor_class(ray).options(num_cpus=cpus, num_gpus=gpus, name=None).remote()
    can_checkpoint = checkpoint is not None or checkpoint_results is not None
    job.use_pace(_RayPace(actor))   # sent before `run`: an actor runs one caller's calls in order
    running = actor.run.remote(job.spec, str(job.spec.device), every_s, can_checkpoint, cpus, genlab_settings())
    replay = Replay(job, checkpoint, checkpoint_results, "a Ray worker")
    stopping_since: float | None = None
    try:
        try:
            job.worker_pid = ray.get(actor.pid.remote(), timeout=600)
        except GetTimeoutError:
            raise WorkerDied("the Ray cluster found no room for this job in 10 minutes "
                             f"({cpus} CPU{'s' if cpus > 1 else ''}, {gpus:g} GPU asked)") from None
        replay.where = f"Ray worker process {job.worker_pid}"
        log.info("%s runs on Ray in process %s (%s CPU, %g GPU)", job.id, job.worker_pid, cpus, gpus)
        while True:
            if job.stop_requested and stopping_since is None:
                stopping_since = time.monotonic()
                actor.stop.remote()
            finished = bool(ray.wait([running], timeout=0)[0])
            messages = ray.get(actor.poll.remote())
            for kind, payload in messages:
                result = replay.apply(kind, payload)
                if result is not None:
                    return result
            if finished:
                ray.get(running)   # raises the actor's death; a clean end always sent "done" or "error"
                raise WorkerDied("the Ray worker running this job ended without a result")
            if stopping_since is not None and time.monotonic() - stopping_since > GRACE_S:
                ray.kill(actor)
            if not messages:
                ray.wait([running], timeout=POLL_S)
    except RayError as exc:
        raise WorkerDied(f"the Ray worker running this job died before it finished ({_reason(exc)})") from None
    finally:
        try:
            ray.kill(actor)
        except Exception:  # noqa: BLE001 - already gone
            pass


def _reason(exc: Exception) -> str:
    """The first line of Ray's error, without its long preamble."""
    text = str(exc).strip().splitlines()
    cause = next((line.strip() for line in text if "SIGKILL" in line or "OOM" in line or "killed" in line.lower()),
                 text[0].strip() if text else type(exc).__name__)
    return f"{type(exc).__name__}: {cause}"[:300]
