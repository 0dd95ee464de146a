"""The Latent explorer's projection of the codes as a job of the engine: :class:`ProjectionTask`.

Why a task: a UMAP of a few thousand codes takes seconds (and the first one of a process pays numba's compile
time), too long to block a page script. As a job it gets the sidebar entry, progress, stop and cancel, and its
result becomes a run of the store (kind ``projection``): the UMAP embedding, the linear PCA view drawn beside it
and the indices of the rows projected. A reload, a link (``?proj=<run id>``) or a second press of the button with
the same inputs (:func:`find_projection`) shows that stored run again without recomputing.

UMAP has no step callback, so the task reports phases (check, PCA view, UMAP) and polls the stop flag between
them: a stop during the UMAP fit takes effect when the fit ends, and what is kept is what was complete.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from ..cache import array_digest
from ..data.base import DataError
from ..store import JobStatus, RunKind, RunRecord
from ..train.task import JobContext, Progress, Task, TaskResult
from .embed import METHODS, check_codes, embed, embed_with_info

__all__ = ["ProjectionSettings", "ProjectionTask", "find_projection", "projection_source"]

#: The phases a projection reports, in order (its ``planned_steps``).
PHASES: tuple[str, ...] = ("checking the codes", "PCA view", "UMAP layout")


@dataclass(frozen=True)
class ProjectionSettings:
    """What shapes an embedding besides the codes. For ``method="pca"`` the UMAP knobs are ignored."""

    method: str = "umap"
    n_neighbors: int = 15
    min_dist: float = 0.1
    metric: str = "euclidean"
    dims: int = 2
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The settings as kept in a run's inputs (plain JSON types, so a stored row compares equal)."""
        return {"method": str(self.method), "n_neighbors": int(self.n_neighbors), "min_dist": float(self.min_dist),
                "metric": str(self.metric), "dims": int(self.dims), "seed": int(self.seed)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ProjectionSettings":
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in names})


def _plain(obj: Any) -> Any:
    """``obj`` as it reads back from a stored row's JSON (tuples become lists, numpy scalars plain numbers)."""
    return json.loads(json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def projection_source(encoder: str, dataset: str, dataset_params: dict[str, Any] | None = None,
                      code_size: int | None = None) -> dict[str, Any]:
    """Where the codes come from, as kept in a projection's inputs: ``encoder`` is a training run's id or "pca"
    (the baseline fitted on ``dataset``, with ``code_size`` components)."""
    return _plain({"encoder": encoder, "dataset": dataset, "dataset_params": dict(dataset_params or {}),
                   "code_size": code_size})


@dataclass
class ProjectionTask(Task):
    """Embed ``codes`` (n rows × code size) in 2-D or 3-D with UMAP (or PCA), beside a PCA view of the same codes.

    ``source`` (see :func:`projection_source`) says which encoder made the codes; ``rows`` are the indices of the
    projected rows among the data set's rows (None: all of them, in order). Both are kept with the run so a page
    can tell whether a stored projection belongs to what it shows."""

    codes: np.ndarray
    source: dict[str, Any]
    view: ProjectionSettings = field(default_factory=ProjectionSettings)
    rows: np.ndarray | None = None
    name: str | None = None
    device: str = "cpu"
    out_dir: str | None = None

    kind = RunKind.PROJECTION

    def __post_init__(self) -> None:
        if self.view.method not in METHODS:
            raise DataError(f"unknown embedding method {self.view.method!r}; choose one of: {', '.join(METHODS)}")
        self.seed = int(self.view.seed)
        self.source = _plain(self.source)

    def label(self) -> str:
        s = self.view
        what = "PCA" if s.method == "pca" else (f"UMAP ({s.n_neighbors} neighbours per point, minimum distance "
                                                f"{s.min_dist:g})")
        return self.name or f"{what} of {len(self.codes):,} codes from {self.model_name}"

    @property
    def model_name(self) -> str:
        encoder = str(self.source.get("encoder", "?"))
        return "pca" if encoder == "pca" else f"run {encoder}"

    @property
    def dataset_name(self) -> str:
        return str(self.source.get("dataset", ""))

    def settings(self) -> dict[str, Any]:
        return self.view.to_dict()

    def planned_steps(self) -> int:
        return len(PHASES)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "dataset_params": dict(self.source.get("dataset_params") or {}),
                "inputs": {"source": self.source, "settings": self.view.to_dict(),
                           "n_rows": int(len(self.codes)), "codes_digest": array_digest(np.asarray(self.codes))}}

    def execute(self, ctx: JobContext) -> TaskResult:
        """Check → PCA view → UMAP; progress after each phase, the stop flag read between them."""
        s = self.view
        total = len(PHASES)
        arrays: dict[str, np.ndarray] = {}
        if self.rows is not None:
            arrays["rows"] = np.asarray(self.rows, dtype=np.int64)
        summary: dict[str, Any] = {"settings": s.to_dict(), "n_rows": int(len(self.codes))}

        def done(step: int, phase: str) -> bool:
            ctx.report(Progress(step, total, live={"phase": phase}))
            return ctx.should_stop()

        ctx.report(Progress(0, total, live={"phase": PHASES[0]}))
        # every check of the embedding (finite codes, enough rows, valid knobs) before any work: a one-line failure
        codes = check_codes(self.codes, s.method, s.dims, s.n_neighbors, s.min_dist, s.metric)
        if self.rows is not None and len(self.rows) != len(codes):
            raise DataError(f"{len(codes)} codes but {len(self.rows)} row indices")
        summary["code_size"] = int(codes.shape[1])
        if done(1, PHASES[1]):
            return TaskResult(arrays=arrays, summary=summary, stopped=True)
        if codes.shape[1] >= s.dims:   # the linear view beside UMAP (a code narrower than the view has none)
            arrays["pca"] = embed(codes, "pca", n_components=s.dims, seed=s.seed)
        if s.method == "pca":
            arrays["embedding"] = embed(codes, "pca", n_components=s.dims, seed=s.seed)
            ctx.report(Progress(total, total, live={"phase": "done"}))
            return TaskResult(arrays=arrays, summary={**summary, "seconds": 0.0}, value=arrays)
        if done(2, PHASES[2]):
            return TaskResult(arrays=arrays, summary=summary, stopped=True)
        res = embed_with_info(codes, "umap", n_components=s.dims, n_neighbors=s.n_neighbors, min_dist=s.min_dist,
                              metric=s.metric, seed=s.seed)
        arrays["embedding"] = res.coords
        summary.update(seconds=round(res.seconds, 3), cached=res.cached)
        ctx.report(Progress(total, total, live={"phase": "done"}))
        return TaskResult(arrays=arrays, summary=summary, value=arrays)


def find_projection(records: Iterable[RunRecord], source: dict[str, Any], settings: ProjectionSettings,
                    n_rows: int | None = None) -> str | None:
    """The newest finished projection run among ``records`` (e.g. ``store.list(kinds=("projection",))``) made
    from the same source with the same settings (and ``n_rows`` rows, when given): the run a page shows instead
    of computing the same embedding again. None when there is none."""
    want_source, want_settings = _plain(source), settings.to_dict()
    for record in records:
        inputs = record.inputs or {}
        if (record.kind == RunKind.PROJECTION.value and record.status == JobStatus.DONE.value and record.run_dir
                and inputs.get("source") == want_source and inputs.get("settings") == want_settings
                and (n_rows is None or inputs.get("n_rows") == int(n_rows))):
            return record.id
    return None
