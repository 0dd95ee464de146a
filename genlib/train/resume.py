"""Continue a stopped or interrupted training run from its last checkpoint (``genlib continue RUN --steps N``, the
Continue buttons of the Runs page and the sidebar).

What a continued run reproduces: the weights, the optimisers' moments, the model's own random stream and the batch
sampler's stream are all in the checkpoint, so on the CPU a run stopped at step k and continued to 2k draws the same
batches and takes the same steps as a straight run to 2k. What it does not: a learning-rate schedule that depends on
the planned total (a continued run plans k + N steps, not the original total), and the order of floating-point
reductions on a GPU, which is not deterministic.
"""
from __future__ import annotations

from typing import Any

from ..errors import UserError
from ..data import DATASETS, load_any, load_dataset
from ..models import REGISTRY
from ..store import JobStatus, RunKind, RunStore, StoreError
from .loop import TrainSpec

#: A run in one of these states has a checkpoint worth continuing.
CONTINUABLE = (JobStatus.STOPPED.value, JobStatus.INTERRUPTED.value, JobStatus.DONE.value)


def continue_spec(store: RunStore, run_id: str, steps: int, device: str = "auto",
                  checkpoint_every_s: float | None = 30.0, out_dir: str | None = None,
                  eval_period_s: float | None = 5.0) -> TrainSpec:
    """The spec of a new run that continues ``run_id`` for ``steps`` more steps (its record names the parent)."""
    record = store.get(run_id)
    if record.kind != RunKind.TRAIN.value:
        raise StoreError(f"run {run_id} is not a training run ({record.kind}); only training runs can be continued")
    if record.status not in CONTINUABLE:
        raise StoreError(f"run {run_id} is {record.status}; only a stopped, interrupted or finished run can be "
                         "continued")
    if record.checkpoint is None or not record.checkpoint.is_file():
        raise StoreError(f"run {run_id} has no checkpoint to continue from (it was interrupted before its first "
                         "checkpoint); train it again")
    if steps < 1:
        raise StoreError("continue for at least 1 step")
    model_cls = REGISTRY.get(record.model)
    if model_cls is not None and not model_cls.iterative:
        raise StoreError(f"run {run_id} is a {record.model}, fitted in one call: there is nothing to continue")
    data_ref = (record.inputs or {}).get("data_ref")
    dataset = _dataset_of(record.dataset, record.dataset_params, data_ref, run_id)
    start = record.checkpoint_step if record.checkpoint_step is not None else record.steps
    if record.status != JobStatus.INTERRUPTED.value:
        start = record.steps
    return TrainSpec(model=record.model, dataset=dataset, config=dict(record.config), steps=int(start) + int(steps),
                     batch_size=int((record.inputs or {}).get("batch_size", 256)), seed=record.seed, device=device,
                     transform=record.transform, eval_period_s=eval_period_s, name=f"{record.name} (continued)",
                     out_dir=out_dir, checkpoint_every_s=checkpoint_every_s, resume=str(record.checkpoint),
                     parent=run_id, parent_history=_history_until(record.history, int(start)), data_ref=data_ref,
                     start_step=int(start))


def _dataset_of(name: str, params: dict[str, Any], data_ref: str | None, run_id: str):
    """The run's data again: a built-in from its parameters, else the CSV (or stored upload) it was read from."""
    try:
        upload = (params or {}).get("upload") or (data_ref.split(":", 1)[1] if data_ref and
                                                     data_ref.startswith("upload:") else None)
        if upload:
            from ..uploads import load_upload  # the app's stored uploads
            return load_upload(str(upload))
        if data_ref:
            return load_any(data_ref)
        if name in DATASETS:
            return load_dataset(name, **params)
    except (OSError, ImportError, UserError) as exc:
        raise StoreError(f"the data of run {run_id} ({data_ref or name}) cannot be read again: {exc}") from None
    raise StoreError(f"the data of run {run_id} ({name}) are not stored with it; train it again on them")


def _history_until(history: dict[str, Any], step: int) -> dict[str, Any]:
    """The parent's loss curves up to the checkpoint the continued run starts from."""
    steps = list(history.get("loss_steps", []))
    keep = sum(1 for s in steps if s <= step)
    return {"loss_steps": steps[:keep], "losses": {k: list(v)[:keep] for k, v in history.get("losses", {}).items()},
            "metric_history": [m for m in history.get("metric_history", []) if m.get("step", 0) <= step]}
