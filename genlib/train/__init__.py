"""Background training engine: ``JobManager`` (threads, queue, snapshots) and the shared training loop."""
from .jobs import Job, JobManager, JobSnapshot, JobStatus
from .loop import TrainSpec, build, evaluate_fitted, resolve_device, train
from .settings import TrainSettings

__all__ = ["Job", "JobManager", "JobSnapshot", "JobStatus", "TrainSettings", "TrainSpec", "build", "evaluate_fitted",
           "resolve_device", "train"]
