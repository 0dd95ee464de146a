"""Run store: every finished run in SQLite (stdlib ``sqlite3``, WAL) plus a run folder with its checkpoint.

Layout under the store root (``$GENLAB_HOME``, default ``~/.genlab``)::

    runs.sqlite              one row per run: dataset, model, config, status, metrics, timings, device
    runs/<run id>/model.pt   checkpoint (loaded with weights_only=True)
    runs/<run id>/run.json   the same record as the row, so a run folder is self-describing

A run folder can also live elsewhere (``python -m genlib train --out DIR``); the row then points to it.
Each call opens its own short-lived connection, so any thread may use the store.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
import time
import uuid
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .errors import UserError
from .models import CheckpointError, FittedModel
from .paths import genlab_home

CHECKPOINT_NAME = "model.pt"
RECORD_NAME = "run.json"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    name TEXT NOT NULL,
    model TEXT NOT NULL,
    dataset TEXT NOT NULL,
    status TEXT NOT NULL,
    device TEXT,
    seed INTEGER,
    steps INTEGER,
    elapsed REAL,
    run_dir TEXT,
    error TEXT,
    record TEXT NOT NULL
)
"""


class StoreError(UserError):
    """A user-facing problem with the run store (unknown run, missing checkpoint)."""


def default_root() -> Path:
    """The store's folder: ``$GENLAB_HOME`` (see :mod:`genlib.paths`)."""
    return genlab_home()


@dataclass
class RunRecord:
    """Everything known about a finished run (what the Runs table shows)."""

    id: str
    created: float
    name: str
    model: str
    dataset: str
    status: str
    device: str
    seed: int
    steps: int
    elapsed: float
    run_dir: str | None
    error: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    dataset_params: dict[str, Any] = field(default_factory=dict)
    transform: str = "auto"
    columns: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    history: dict[str, Any] = field(default_factory=dict)

    @property
    def checkpoint(self) -> Path | None:
        return None if self.run_dir is None else Path(self.run_dir) / CHECKPOINT_NAME

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=_jsonable, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "RunRecord":
        data = json.loads(text)
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)


def record_from_job(snapshot: Any, spec: Any, run_id: str, run_dir: Path | None) -> RunRecord:
    """Turn a finished job's snapshot and spec into a record."""
    return RunRecord(
        id=run_id, created=time.time(), name=snapshot.name, model=snapshot.model, dataset=snapshot.dataset,
        status=snapshot.status.value, device=snapshot.device, seed=snapshot.seed, steps=snapshot.step,
        elapsed=round(snapshot.elapsed, 3), run_dir=None if run_dir is None else str(run_dir),
        error=snapshot.error, config=dict(snapshot.config), dataset_params=dict(spec.dataset.params),
        transform=spec.transform, columns=list(spec.dataset.columns), metrics=dict(snapshot.metrics),
        history={"loss_steps": snapshot.loss_steps, "losses": snapshot.losses,
                 "metric_history": snapshot.metric_history})


def write_run_dir(run_dir: Path, record: RunRecord, fitted: FittedModel | None) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    if fitted is not None:
        fitted.save(run_dir / CHECKPOINT_NAME)
    (run_dir / RECORD_NAME).write_text(record.to_json())


def read_run_dir(run_dir: str | Path, device: str = "cpu") -> tuple[RunRecord | None, FittedModel]:
    """Load a run folder (or a checkpoint file directly) → (record if present, fitted model)."""
    path = Path(run_dir)
    ckpt = path / CHECKPOINT_NAME if path.is_dir() else path
    if not ckpt.exists():
        raise StoreError(f"no checkpoint at {ckpt}: pass a run folder made by 'genlib train --out' or a .pt file")
    record = None
    rec_path = ckpt.parent / RECORD_NAME
    if rec_path.exists():
        try:
            record = RunRecord.from_json(rec_path.read_text())
        except (ValueError, TypeError):
            record = None
    return record, FittedModel.load(ckpt, device)


class RunStore:
    """Persist, list, reload and delete runs. Survives app restarts (it is just files)."""

    def __init__(self, root: str | Path | None = None):
        # Absolute: a relative GENLAB_HOME must not point elsewhere once the working directory changes.
        self.root = (Path(root) if root is not None else default_root()).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / "runs.sqlite"
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.db_path, timeout=30)
        return con

    def _execute(self, sql: str, args: tuple = ()) -> list[tuple]:
        with closing(self._connect()) as con, con:
            return con.execute(sql, args).fetchall()

    # --- write ----------------------------------------------------------------------------------------------
    def save(self, snapshot: Any, fitted: FittedModel | None, spec: Any, run_dir: str | Path | None = None) -> str:
        """Persist a finished job; the checkpoint goes to ``run_dir`` (default: inside the store)."""
        run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        # Absolute, so the row still finds the folder from another working directory (the app, a later CLI call).
        folder = Path(run_dir).expanduser().resolve() if run_dir is not None else self.root / "runs" / run_id
        if fitted is None:  # a failed run keeps its record (and error) in the database, but no folder
            self.add(record_from_job(snapshot, spec, run_id, None))
            return run_id
        record = record_from_job(snapshot, spec, run_id, folder)
        write_run_dir(folder, record, fitted)
        self.add(record)
        return run_id

    def add(self, record: RunRecord) -> None:
        self._execute(
            "INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (record.id, record.created, record.name, record.model, record.dataset, record.status, record.device,
             record.seed, record.steps, record.elapsed, record.run_dir, record.error, record.to_json()))

    def delete(self, run_id: str) -> None:
        """Remove the row and, when the folder is inside the store, the checkpoint with it."""
        record = self.get(run_id)
        self._execute("DELETE FROM runs WHERE id = ?", (run_id,))
        if record.run_dir and Path(record.run_dir).resolve().is_relative_to((self.root / "runs").resolve()):
            shutil.rmtree(record.run_dir, ignore_errors=True)

    # --- read -----------------------------------------------------------------------------------------------
    def list(self, model: str | None = None, dataset: str | None = None) -> list[RunRecord]:
        """Newest first; optionally only one model or dataset."""
        rows = self._execute("SELECT record FROM runs ORDER BY created DESC")
        records = [RunRecord.from_json(r[0]) for r in rows]
        return [r for r in records if (model is None or r.model == model) and (dataset is None or r.dataset == dataset)]

    def __iter__(self) -> Iterator[RunRecord]:
        return iter(self.list())

    def __len__(self) -> int:
        return int(self._execute("SELECT COUNT(*) FROM runs")[0][0])

    def get(self, run_id: str) -> RunRecord:
        rows = self._execute("SELECT record FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise StoreError(f"no run with id {run_id!r} in {self.db_path}")
        return RunRecord.from_json(rows[0][0])

    def load(self, run_id: str, device: str = "cpu") -> FittedModel:
        """Rebuild the trained model of a run (clear error for failed runs or missing/corrupt checkpoints)."""
        record = self.get(run_id)
        ckpt = record.checkpoint
        if ckpt is None or not ckpt.exists():
            raise StoreError(f"run {run_id} has no checkpoint (status {record.status})")
        try:
            return FittedModel.load(ckpt, device)
        except CheckpointError as exc:
            raise StoreError(f"run {run_id}: {exc}") from None
