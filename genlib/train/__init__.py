"""The engine: ``JobManager`` (threads, queue, snapshots, runs in the store), the :class:`Task` protocol every long
computation follows, the shared training loop and its settings."""
from .fairshare import QuotaError, ShareLimits
from .jobs import Job, JobManager, JobSnapshot, JobStatus, ViewerJobs
from .loop import LoopState, TrainSpec, build, evaluate_fitted, resolve_device, train
from .resume import continue_spec
from .settings import TrainSettings
from .task import JobContext, Progress, Task, TaskResult

__all__ = ["Job", "JobContext", "JobManager", "JobSnapshot", "JobStatus", "LoopState", "Progress", "QuotaError",
           "ShareLimits", "Task", "TaskResult", "TrainSettings", "TrainSpec", "ViewerJobs", "build", "continue_spec",
           "evaluate_fitted", "resolve_device", "train"]
