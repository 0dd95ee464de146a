"""Side-by-side comparison of runs on one dataset: table rows from live jobs and stored runs, the oracle-floor
row, the best value per column, and hyperparameter sweep grids.

A sweep is durable: :func:`sweep_record` is its row in the run store (kind ``sweep``: the plan, the dataset, the
shared settings) and each grid point trains as a :class:`SweepMember`, an ordinary training run whose record names
the sweep and its point, so :func:`sweep_results` finds the members again, live or stored, after a restart.

Why a module of its own: the Compare page, the CLI and the benchmarks all build the same table, and none of
this needs Streamlit. Metric values themselves come from :mod:`genlib.metrics.suite`.
"""
from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from .data import Dataset
from .metrics.suite import SUITE
from .models import ModelError, get_model_class
from .params import ParamError, params_of
from .store import JobStatus, RunKind, RunRecord, default_run_name, run_label, settings_text, short_id, swept
from .words import short_label, word
from .train import Job, JobContext, Progress, Task, TaskResult, TrainSpec

FLOOR_LABEL = "oracle floor (real vs real)"
#: Metric whose history is drawn as a sparkline in the table.
SPARK_METRIC = "anderson_darling"
#: Largest grid a sweep may queue (each point is a full training run).
MAX_SWEEP_POINTS = 25


@dataclass
class RunRow:
    """One row of the comparison table: a live job or a stored run, reduced to what the table shows."""

    key: str                       # job id ("job-3") or "run:<run id>"
    label: str
    model: str
    source: str                    # "live" or "stored"
    status: str
    step: int = 0
    total: int = 0
    elapsed: float = 0.0
    steps_per_s: float = 0.0
    device: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    error: str | None = None
    note: str = ""
    swept: tuple[str, ...] = ()    # a sweep member's axes (shown in its settings even at their default)

    @property
    def color_key(self) -> str:
        """What its colour follows (:func:`genlib.figures.style.assign_colors`): the run id once it has one."""
        return self.run_id or self.key

    @property
    def settings(self) -> str:
        """Its settings changed from the model's defaults, in one cell."""
        return settings_text(self.model, self.config, self.swept)


def snapshot_label(s: Any, record: RunRecord | None = None) -> str:
    """How a live job is named in tables and legends: its run's :func:`~genlib.store.run_label` when the store has
    its row (a rename shows at once), else the same name built from the job itself (the job id stands in for the
    run id while it is queued)."""
    if record is not None:
        return run_label(record)
    tag = s.run_id or s.id
    if s.name and s.name != f"{s.model} on {s.dataset}":
        return f"{s.name} · {short_id(tag) if s.run_id else tag}"
    name = default_run_name(s.model, s.dataset, dict(s.config), s.total, tag, s.seed)
    return name if s.run_id else name.rsplit(" · ", 1)[0] + f" · {tag}"


def row_from_snapshot(s: Any, record: RunRecord | None = None) -> RunRow:
    """A live job's :class:`~genlib.train.jobs.JobSnapshot` → row (``record``: its run's row, for its name and
    note)."""
    return RunRow(key=s.id, label=snapshot_label(s, record), model=s.model, source="live", status=s.status.value,
                  step=s.step, total=s.total, elapsed=s.elapsed, steps_per_s=s.steps_per_s, device=s.device,
                  metrics=dict(s.metrics), history=list(s.metric_history), config=dict(s.config),
                  run_id=s.run_id, error=s.error, note=record.note if record is not None else "",
                  swept=swept(record) if record is not None else ())


def row_from_record(record: Any, metrics: dict[str, float] | None = None) -> RunRow:
    """A stored :class:`~genlib.store.RunRecord` → row. ``metrics`` (recomputed with today's suite) replace the
    record's own, which may predate metrics added since it was trained."""
    history = (record.history or {}).get("metric_history") or []
    steps_per_s = record.steps / record.elapsed if record.elapsed else 0.0
    return RunRow(key=f"run:{record.id}", label=run_label(record), model=record.model,
                  source="stored", status=record.status, step=record.steps, total=record.steps,
                  elapsed=record.elapsed, steps_per_s=steps_per_s, device=record.device,
                  metrics=dict(metrics if metrics is not None else record.metrics), history=list(history),
                  config=dict(record.config), run_id=record.id, error=record.error, note=record.note,
                  swept=swept(record))


def metric_keys(rows: Iterable[RunRow], floor: dict[str, float] | None = None) -> list[str]:
    """The suite's metrics that at least one row (or the floor) has, in the suite's display order."""
    present = set(floor or {}) | {k for r in rows for k in r.metrics}
    return [k for k in SUITE if k in present]


def metric_table(rows: Sequence[RunRow], floor: dict[str, float] | None, keys: Sequence[str] | None = None,
                 spark: str = SPARK_METRIC) -> pd.DataFrame:
    """The comparison table: oracle-floor row first, then one row per run.

    Columns (raw keys: :func:`column_names` gives the words): run (its name, :func:`~genlib.store.run_label`),
    ``history`` (the ``spark`` metric over time, for a sparkline right beside the name), settings (those changed
    from the defaults), run_id, model, status, progress, steps_per_s, elapsed (seconds), device, one column per
    metric key, and note."""
    keys = list(keys) if keys is not None else metric_keys(rows, floor)
    records: list[dict[str, Any]] = []
    if floor is not None:
        rec: dict[str, Any] = {"run": FLOOR_LABEL, "history": [], "settings": "", "run_id": "", "model": "—",
                               "status": "reference", "progress": "", "steps_per_s": None, "elapsed": None,
                               "device": ""}
        rec.update({k: _finite(floor.get(k)) for k in keys})
        rec["note"] = "two real samples: what no model can beat except by luck"
        records.append(rec)
    for r in rows:
        rec = {"run": r.label,
               "history": [float(h[spark]) for h in r.history if _finite(h.get(spark)) is not None],
               "settings": r.settings, "run_id": r.run_id or "", "model": r.model, "status": r.status,
               "progress": f"{r.step}/{r.total}" if r.total else "", "steps_per_s": round(r.steps_per_s, 1),
               "elapsed": round(r.elapsed, 1), "device": r.device}
        rec.update({k: _finite(r.metrics.get(k)) for k in keys})
        rec["note"] = r.note
        records.append(rec)
    columns = ["run", "history", "settings", "run_id", "model", "status", "progress", "steps_per_s", "elapsed",
               "device", *keys, "note"]
    table = pd.DataFrame.from_records(records, columns=columns)
    for col in ("steps_per_s", "elapsed", *keys):  # None → NaN: numeric columns sort and format as numbers
        table[col] = pd.to_numeric(table[col], errors="coerce").astype(float)
    return table


def metric_column(key: str) -> str:
    """A metric's column in words with its unit ("Held-out log-likelihood (nats/dim)"): the suite's metadata."""
    info = SUITE.get(key)
    if info is None:
        return word(key)
    return f"{info.title} ({info.unit})" if info.unit else info.title


def column_names(keys: Sequence[str], spark: str = SPARK_METRIC) -> dict[str, str]:
    """Raw column → the words a table and its CSV show (:data:`genlib.words.WORDS` for the run columns, the metric
    metadata for the metrics)."""
    spark_title = SUITE[spark].title if spark in SUITE else word(spark)
    names = {c: word(c) for c in ("run", "settings", "run_id", "model", "status", "progress", "steps_per_s",
                                  "elapsed", "device", "note")}
    names["history"] = f"{spark_title} over time"
    names.update({k: metric_column(k) for k in keys})
    return names


def table_for_download(table: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """The comparison table as its CSV holds it: every column in words, no sparkline (a list is no CSV cell);
    missing values are left empty (not "nan"), so a spreadsheet reads the numbers as numbers."""
    return table.drop(columns=["history"]).rename(columns=column_names(keys))


def _finite(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def best_rows(table: pd.DataFrame, keys: Sequence[str]) -> dict[str, int]:
    """Column → positional index of the run with the best value (the floor row never counts as a run)."""
    runs = table["run"] != FLOOR_LABEL
    out: dict[str, int] = {}
    for key in keys:
        if key not in table or key not in SUITE:
            continue
        values = [v if runs.iloc[i] else float("nan") for i, v in enumerate(table[key].astype(float))]
        idx = SUITE[key].best_index(values)
        if idx is not None:
            out[key] = idx
    return out


def distance_to_floor(table: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Each run's metric minus the floor's (how far from "as good as more real data"); NaN where unknown."""
    floor = table[table["run"] == FLOOR_LABEL]
    runs = table[table["run"] != FLOOR_LABEL].set_index("run")
    if floor.empty:
        return runs[list(keys)] * np.nan
    return runs[list(keys)].astype(float) - floor.iloc[0][list(keys)].astype(float).to_numpy()


# --- hyperparameter sweeps ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepPlan:
    """A grid over one or two config fields of one model (seed 004's σ × encoder-size study is one of these)."""

    model: str
    x_field: str
    x_values: tuple[Any, ...]
    y_field: str | None = None
    y_values: tuple[Any, ...] = (None,)

    def points(self) -> list[tuple[Any, Any]]:
        return list(itertools.product(self.x_values, self.y_values))

    def config(self, base: dict[str, Any], x: Any, y: Any) -> dict[str, Any]:
        out = dict(base)
        out[self.x_field] = x
        if self.y_field is not None:
            out[self.y_field] = y
        return out

    def label(self, x: Any, y: Any) -> str:
        """A grid point's job name ("vae · σ 0.05 · encoder width 32"): the settings in words."""
        text = f"{self.model} · {short_label(field_title(self.model, self.x_field))} {x}"
        return text + (f" · {short_label(field_title(self.model, self.y_field))} {y}" if self.y_field is not None
                       else "")

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "x_field": self.x_field, "x_values": list(self.x_values),
                "y_field": self.y_field, "y_values": list(self.y_values)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SweepPlan":
        """The inverse of :meth:`to_dict` (a sweep record's ``inputs["plan"]``, after its JSON round trip)."""
        return cls(data["model"], data["x_field"], tuple(data["x_values"]), data.get("y_field"),
                   tuple(data.get("y_values") or (None,)))

    def describe(self) -> str:
        """The grid in words ("vae: σ ∈ {0.01, 0.05} × encoder width ∈ {32, 128}")."""
        text = f"{field_title(self.model, self.x_field)} ∈ {{{', '.join(map(str, self.x_values))}}}"
        if self.y_field is not None:
            text += f" × {field_title(self.model, self.y_field)} ∈ {{{', '.join(map(str, self.y_values))}}}"
        return f"{self.model}: {text}"


def field_title(model: str, name: str) -> str:
    """A setting's label (the param metadata), or its key in words for a model no longer registered."""
    try:
        params = {p.name: p for p in params_of(get_model_class(model).Config)}
    except ModelError:
        return word(name)
    p = params.get(name)
    return (p.label if p is not None and p.label else None) or word(name)


def sweepable_fields(model: str) -> list[str]:
    """Config fields a sweep may vary: numbers, booleans and choices."""
    return [p.name for p in params_of(get_model_class(model).Config)
            if p.kind in (int, float, bool) or p.choices is not None]


def parse_values(model: str, field_name: str, text: str) -> tuple[Any, ...]:
    """``"0.01, 0.05, 0.1"`` → validated values of that config field (duplicates dropped, order kept)."""
    fields = {p.name: p for p in params_of(get_model_class(model).Config)}
    if field_name not in fields:
        raise ModelError(f"{model} has no setting {field_name!r}; valid settings: {', '.join(fields)}")
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    if not parts:
        raise ModelError(f"give at least one value for {field_name}, separated by commas")
    try:
        values = [fields[field_name].validate(p) for p in parts]
    except ParamError as exc:
        raise ModelError(str(exc)) from None
    return tuple(dict.fromkeys(values))


def make_sweep(model: str, x_field: str, x_text: str, y_field: str | None = None, y_text: str = "") -> SweepPlan:
    """Validate a sweep request from text boxes; raises :class:`ModelError` with a one-line reason."""
    xs = parse_values(model, x_field, x_text)
    ys: tuple[Any, ...] = (None,)
    if y_field:
        if y_field == x_field:
            raise ModelError("choose two different settings for the two sweep axes")
        ys = parse_values(model, y_field, y_text)
    plan = SweepPlan(model, x_field, xs, y_field or None, ys)
    if len(plan.points()) > MAX_SWEEP_POINTS:
        raise ModelError(f"{len(plan.points())} grid points is too many; at most {MAX_SWEEP_POINTS} runs per sweep")
    return plan


def sweep_matrix(plan: SweepPlan, results: dict[tuple[Any, Any], dict[str, float]], metric: str) -> np.ndarray:
    """Metric values on the grid, shape (len(y_values), len(x_values)); NaN where a point has no value yet."""
    z = np.full((len(plan.y_values), len(plan.x_values)), np.nan)
    for i, y in enumerate(plan.y_values):
        for j, x in enumerate(plan.x_values):
            value = _finite((results.get((x, y)) or {}).get(metric))
            if value is not None:
                z[i, j] = value
    return z


def config_field_help(model: str, name: str) -> str:
    return next((p.help for p in params_of(get_model_class(model).Config) if p.name == name), "")


# --- sweeps as runs ---------------------------------------------------------------------------------------------
@dataclass
class SweepMember(TrainSpec):
    """One grid point of a sweep: an ordinary training run whose record also names its sweep and point."""

    sweep_id: str = ""
    point: tuple[Any, Any] = (None, None)
    fields: tuple[str, ...] = ()   # the sweep's axes: its run names show them even at their defaults

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["inputs"] = {**out.get("inputs", {}), "sweep": self.sweep_id, "point": list(self.point),
                         "fields": list(self.fields)}
        return out


def sweep_specs(plan: SweepPlan, sweep_id: str, dataset: Dataset, base: dict[str, Any], **common: Any
                ) -> list[SweepMember]:
    """The training runs of a sweep, one per grid point (``common``: steps, seed, device… shared by all)."""
    fields = (plan.x_field,) + ((plan.y_field,) if plan.y_field is not None else ())
    return [SweepMember(model=plan.model, dataset=dataset, config=plan.config(base, x, y), name=plan.label(x, y),
                        sweep_id=sweep_id, point=(x, y), fields=fields, **common) for x, y in plan.points()]


def sweep_record(plan: SweepPlan, sweep_id: str, dataset: Dataset, base: dict[str, Any], common: dict[str, Any]
                 ) -> RunRecord:
    """The sweep's own row (kind ``sweep``): its plan and settings, written once when it is queued. Its progress is
    its members' (:func:`sweep_results`): the row holds no status of its own beyond "planned"."""
    n = len(plan.points())
    return RunRecord(id=sweep_id, created=time.time(), name=f"sweep of {plan.describe()}", model=plan.model,
                     dataset=dataset.name, status=JobStatus.DONE.value, device=str(common.get("device", "")),
                     seed=int(common.get("seed", 0)), steps=0, elapsed=0.0, run_dir=None, config=dict(base),
                     dataset_params=dict(dataset.params), kind=RunKind.SWEEP.value, total=n,
                     inputs={"plan": plan.to_dict(), "common": {k: v for k, v in common.items()
                                                                if isinstance(v, (int, float, str, bool))}})


@dataclass
class SweepTask(Task):
    """A sweep as a job of the engine: it follows its member jobs (taking no slot of its own, so the members get
    them all), reports how many have finished, and stops them all when it is stopped. Its run (kind ``sweep``) holds
    the plan; each member's record names the sweep (:class:`SweepMember`). Submit the members first, then this with
    ``run_id`` = the id the members name."""

    plan: SweepPlan
    dataset: Dataset
    base: dict[str, Any]
    common: dict[str, Any]
    members: list[Job] = field(default_factory=list)
    run_id: str | None = None   # chosen before the members are built, since each names it
    poll_s: float = 0.5

    kind = RunKind.SWEEP
    needs_slot = False
    device = "cpu"

    def label(self) -> str:
        return f"sweep of {self.plan.describe()}"

    @property
    def model_name(self) -> str:
        return self.plan.model

    @property
    def dataset_name(self) -> str:
        return self.dataset.name

    def settings(self) -> dict[str, Any]:
        return dict(self.base)

    def planned_steps(self) -> int:
        return len(self.members)

    def describe(self) -> dict[str, Any]:
        record = sweep_record(self.plan, "", self.dataset, self.base, self.common)
        return {"kind": self.kind.value, "dataset_params": record.dataset_params, "inputs": record.inputs}

    def execute(self, ctx: JobContext) -> TaskResult:
        stopping = False
        while True:
            done = sum(1 for j in self.members if j.status.finished)
            ctx.report(Progress(done, len(self.members)))
            if done == len(self.members):
                break
            if ctx.should_stop() and not stopping:
                stopping = True
                for job in self.members:
                    job.stop()
            next(j for j in self.members if not j.status.finished).wait(self.poll_s)
        members = [{"point": list(getattr(j.spec, "point", (None, None))), "run_id": j.run_id,
                    "status": j.status.value} for j in self.members]
        return TaskResult(summary={"members": members}, stopped=stopping)


@dataclass
class SweepMembers:
    """What is known of a sweep's grid points: metrics per point, and the run ids and statuses of its members."""

    metrics: dict[tuple[Any, Any], dict[str, float]] = field(default_factory=dict)
    run_ids: dict[tuple[Any, Any], str] = field(default_factory=dict)
    statuses: dict[tuple[Any, Any], str] = field(default_factory=dict)

    @property
    def finished(self) -> int:
        return sum(1 for s in self.statuses.values() if JobStatus(s).finished)


def sweep_results(sweep_id: str, jobs: Iterable[Job], records: Iterable[RunRecord]) -> SweepMembers:
    """The members of sweep ``sweep_id``: live jobs of this process first (their metrics move on), then the stored
    training runs whose record names the sweep (``records``: e.g. ``store.list()``)."""
    out = SweepMembers()
    for job in jobs:
        spec = job.spec
        if isinstance(spec, SweepMember) and spec.sweep_id == sweep_id:
            s = job.snapshot()
            point = tuple(spec.point)
            out.metrics[point], out.statuses[point] = dict(s.metrics), s.status.value
            if s.run_id:
                out.run_ids[point] = s.run_id
    for record in records:
        inputs = record.inputs or {}
        if inputs.get("sweep") != sweep_id:
            continue
        point = tuple(inputs.get("point") or (None, None))
        if point in out.statuses:          # the live job of this run (or a later run of the same point)
            continue
        out.metrics[point], out.statuses[point], out.run_ids[point] = dict(record.metrics), record.status, record.id
    return out
