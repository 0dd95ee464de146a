"""The engine: ``JobManager`` (threads, queue, snapshots, runs in the store), the :class:`Task` protocol every long
computation follows, the shared training loop and its settings."""
from .jobs import Job, JobManager, JobSnapshot, JobStatus
from .loop import LoopState, TrainSpec, build, evaluate_fitted, resolve_device, train
from .resume import continue_spec
from .settings import TrainSettings
from .task import JobContext, Progress, Task, TaskResult

__all__ = ["Job", "JobContext", "JobManager", "JobSnapshot", "JobStatus", "LoopState", "Progress", "Task",
           "TaskResult", "TrainSettings", "TrainSpec", "build", "continue_spec", "evaluate_fitted", "resolve_device",
           "train"]
