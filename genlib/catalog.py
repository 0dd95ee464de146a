"""The run catalog: every run on one dataset, live (a job of this process) or stored (a row of the run store), in one
list with stable keys.

Why: the Compare page, the Latent explorer and the Density page each need "the runs I can show on these data", and
each had built it its own way (with two different tests of "same data" and runs found again by parsing their
display labels). An :class:`Entry` carries its identity (``key``, ``run_id``) beside its label, so a page never
parses a label, and a live job whose run is already stored appears once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Literal

from .data import Dataset
from .models import REGISTRY, Capability, FittedModel
from .store import RunKind, RunRecord, RunStore
from .train import Job, JobStatus

__all__ = ["Entry", "same_data", "runs_on"]

#: Statuses whose model can be sampled (a stopped run keeps what it learned).
USABLE = ("done", "stopped")


def same_data(name: str, params: dict[str, Any] | None, dataset: Dataset) -> bool:
    """True when a run was trained on ``dataset``: the same name and generator parameters (compared as text, so
    a stored run's JSON round trip (ints vs floats, tuples vs lists) does not hide a match)."""
    def norm(p: dict[str, Any] | None) -> dict[str, str]:
        return {str(k): str(v) for k, v in (p or {}).items()}
    return name == dataset.name and norm(params) == norm(dataset.params)


@dataclass(frozen=True)
class Entry:
    """One run in the catalog. ``key`` is "job:<job id>" or "run:<run id>"; ``label`` is for display only."""

    key: str
    label: str
    model: str
    source: Literal["live", "stored"]
    job: Job | None = None
    record: RunRecord | None = None

    @property
    def status(self) -> str:
        """The job's status now (a live run moves on), or the stored run's."""
        return self.job.status.value if self.job is not None else self.record.status  # type: ignore[union-attr]

    @property
    def run_id(self) -> str | None:
        """The run-store id: a stored run's own, or the one a finished job was saved as (None while it runs)."""
        return self.record.id if self.record is not None else (self.job.run_id if self.job is not None else None)

    @property
    def usable(self) -> bool:
        """True when the run has a model to sample from now."""
        if self.job is not None:
            return self.job.status in (JobStatus.DONE, JobStatus.STOPPED) and self.job.fitted is not None
        return self.status in USABLE and self.record is not None and self.record.run_dir is not None

    def has(self, capability: Capability) -> bool:
        """False too for a stored run of a model this version of GenLab no longer registers."""
        cls = REGISTRY.get(self.model)
        return cls is not None and capability in cls.capabilities

    def load(self, store: RunStore, device: str = "cpu") -> FittedModel:
        """The trained model: the live job's own object, or the stored checkpoint (a StoreError if it is gone)."""
        if self.job is not None and self.job.fitted is not None:
            return self.job.fitted
        assert self.record is not None, "a job without a model has nothing to load"
        return store.load(self.record.id, device)


def runs_on(dataset: Dataset, jobs: Iterable[Job], store: RunStore | None, *, usable_only: bool = False,
            capability: Capability | None = None, include_failed: bool = False) -> list[Entry]:
    """Live jobs on ``dataset`` (oldest first), then stored runs on it (newest first) that are not one of those jobs.

    ``usable_only``: only runs with a model to sample now; ``capability``: only models that have it;
    ``include_failed``: keep failed stored runs (the Runs page shows them, a comparison does not)."""
    out: list[Entry] = []
    live_runs: set[str] = set()
    for job in jobs:
        if job.kind != RunKind.TRAIN.value or not same_data(job.spec.dataset.name, job.spec.dataset.params, dataset):
            continue
        entry = Entry(f"job:{job.id}", f"{job.spec.label()} ({job.id})", job.spec.model, "live", job=job)
        if job.run_id:
            live_runs.add(job.run_id)
        out.append(entry)
    for record in store.list() if store is not None else []:
        if record.id in live_runs or not same_data(record.dataset, record.dataset_params, dataset):
            continue
        if record.status in ("failed", "running", "queued") and not include_failed:
            continue
        out.append(Entry(f"run:{record.id}", f"{record.name} [{record.id[-6:]}]", record.model, "stored",
                         record=record))
    return [e for e in out if (not usable_only or e.usable) and (capability is None or e.has(capability))]
