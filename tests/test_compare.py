"""genlib.compare: the comparison table (floor row, best cells), stored-run rows, and sweep grids."""
from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import SAFETY_TIMEOUT, wait_until

from genlib import catalog, compare
from genlib.data import load_dataset
from genlib.metrics.suite import SUITE, floor, reference_for
from genlib.models import Capability, ModelError
from genlib.store import RunStore
from genlib.train import JobManager, JobStatus, TrainSpec


def _row(label: str, **metrics: float) -> compare.RunRow:
    return compare.RunRow(key=label, label=label, model="m", source="live", status="done", step=10, total=10,
                          elapsed=2.0, steps_per_s=5.0, metrics=metrics,
                          history=[{"step": 1.0, "anderson_darling": 9.0}, {"step": 2.0, "anderson_darling": 3.0}])


def test_table_puts_the_floor_first_and_marks_the_best_run_per_column() -> None:
    rows = [_row("a", anderson_darling=3.0, c2st_auc=0.9, coverage=0.5),
            _row("b", anderson_darling=5.0, c2st_auc=0.55, coverage=0.8)]
    fl = {"anderson_darling": 1.0, "c2st_auc": 0.5, "coverage": 0.95}
    table = compare.metric_table(rows, fl)
    assert list(table["run"]) == [compare.FLOOR_LABEL, "a", "b"]
    assert list(table.columns[:2]) == ["run", "history"], "the sparkline sits right beside the run's name"
    assert list(table.columns[-4:]) == ["anderson_darling", "c2st_auc", "coverage", "note"]
    best = compare.best_rows(table, ["anderson_darling", "c2st_auc", "coverage"])
    # lower AD wins; AUC closest to its ideal 0.5 wins (not the largest or smallest); higher coverage wins;
    # the floor row never wins even though it is better than both runs everywhere
    assert best == {"anderson_darling": 1, "c2st_auc": 2, "coverage": 2}
    assert table["history"].iloc[1] == [9.0, 3.0] and table["history"].iloc[0] == []
    gap = compare.distance_to_floor(table, ["anderson_darling"])
    assert gap.loc["a", "anderson_darling"] == pytest.approx(2.0)


def test_table_survives_missing_and_non_finite_values() -> None:
    rows = [_row("a", anderson_darling=float("nan")), _row("b")]
    table = compare.metric_table(rows, None, ["anderson_darling", "log_likelihood"])
    assert table["anderson_darling"].isna().all() and len(table) == 2
    assert compare.best_rows(table, ["anderson_darling", "log_likelihood"]) == {}


def test_sweep_parsing_validates_against_the_models_config() -> None:
    plan = compare.make_sweep("vae", "sigma", "0.01, 0.05;0.05", "enc_width", "32,128")
    assert plan.x_values == (0.01, 0.05) and plan.y_values == (32, 128)
    assert len(plan.points()) == 4
    assert plan.config({"lr": 1e-3}, 0.05, 32) == {"lr": 1e-3, "sigma": 0.05, "enc_width": 32}
    assert plan.label(0.05, 32) == "vae · decoder σ 0.05 · encoder width 32"   # the settings' labels (words, not keys)
    assert "enc_width" not in plan.describe() and "decoder σ" in plan.describe()
    with pytest.raises(ModelError, match="sigma"):
        compare.make_sweep("vae", "sigma", "0.05, -1")
    with pytest.raises(ModelError, match="no setting"):
        compare.make_sweep("vae", "nope", "1")
    with pytest.raises(ModelError, match="different"):
        compare.make_sweep("vae", "sigma", "0.1", "sigma", "0.2")
    with pytest.raises(ModelError, match="too many"):
        compare.make_sweep("vae", "latent_dim", ",".join(map(str, range(1, 7))), "enc_width", "8,16,32,64,128")
    assert "sigma" in compare.sweepable_fields("vae") and "activation" in compare.sweepable_fields("vae")


def test_sweep_matrix_places_results_on_the_grid() -> None:
    plan = compare.SweepPlan("vae", "sigma", (0.1, 0.2, 0.3))
    z = compare.sweep_matrix(plan, {(0.1, None): {"mmd": 1.0}, (0.3, None): {"mmd": 3.0}}, "mmd")
    assert z.shape == (1, 3) and z[0, 0] == 1.0 and math.isnan(z[0, 1]) and z[0, 2] == 3.0


def test_live_jobs_and_a_stored_run_make_one_table_against_the_floor(tmp_path, make_manager) -> None:
    """Two models really train side by side; the VAE's table row has every sample metric and a history, and it
    beats a deliberately broken baseline (an untrained VAE) on the suite's main metrics.

    Rescoring is timed (every 0.2 s of training), so a fixed 400 steps could end before the first rescoring on a
    fast machine: the VAE trains until it has done 400 steps and been rescored during training, then is stopped
    (its final scoring makes the second history point)."""
    ds = load_dataset("finance")
    store = RunStore(tmp_path / "store")
    manager = make_manager(max_concurrent=2, store=store)   # stopped after the test, even a failed one
    jobs = [manager.submit(TrainSpec(model="vae", dataset=ds, steps=10**6, eval_period_s=0.2, seed=1)),
            manager.submit(TrainSpec(model="vae", dataset=ds, steps=1, eval_period_s=None, seed=1, name="untrained")),
            manager.submit(TrainSpec(model="gaussian", dataset=ds))]
    wait_until(lambda: (lambda s: s.step >= 400 and len(s.metric_history) >= 1)(jobs[0].snapshot()),
               what="400 steps and a rescoring of the VAE")
    jobs[0].stop()
    assert manager.wait_all(SAFETY_TIMEOUT)
    assert [j.status for j in jobs] == [JobStatus.STOPPED, JobStatus.DONE, JobStatus.DONE], [j.error for j in jobs]
    fl = floor(reference_for(ds))
    rows = [compare.row_from_snapshot(j.snapshot()) for j in jobs]
    record = store.get(jobs[2].run_id)
    assert catalog.same_data(record.dataset, record.dataset_params, ds)
    rows.append(compare.row_from_record(record))
    table = compare.metric_table(rows, fl)
    assert len(table) == 5 and table["run"].iloc[0] == compare.FLOOR_LABEL
    sample_metrics = [k for k, info in SUITE.items() if info.fn is not None]
    trained, untrained = table.iloc[1], table.iloc[2]
    assert all(np.isfinite(trained[k]) for k in sample_metrics)
    assert len(trained["history"]) >= 2, "the metrics were rescored during training"
    assert trained["anderson_darling"] < untrained["anderson_darling"]
    assert abs(trained["c2st_auc"] - 0.5) < abs(untrained["c2st_auc"] - 0.5)
    assert trained["coverage"] > untrained["coverage"]
    assert table.iloc[4]["status"] == "done"
    assert table.iloc[4]["run"] == f"Gaussian on finance · #{record.id[-4:]}" and table.iloc[4]["run_id"] == record.id
    # the two VAEs on finance read apart: by their settings (here: the same) and by their ids
    assert table.iloc[1]["run"] != table.iloc[2]["run"] and table.iloc[2]["run"].startswith("untrained · #")


def test_the_run_catalog_lists_live_and_stored_runs_once_with_their_ids(tmp_path) -> None:
    """Live jobs on the data set, then stored runs on it, each once (a finished job's stored run is the job);
    other data sets, failed stored runs and (with usable_only) runs without a model are left out."""
    ds, other = load_dataset("toy2d", n=300, seed=0), load_dataset("toy2d", n=300, seed=1)
    store = RunStore(tmp_path / "store")
    earlier = JobManager(max_concurrent=1, store=store)
    old = earlier.submit(TrainSpec(model="gaussian", dataset=ds, eval_period_s=None))
    earlier.submit(TrainSpec(model="gaussian", dataset=other, eval_period_s=None))
    failing = earlier.submit(TrainSpec(model="gmm", dataset=ds, config={"n_components": 500}, eval_period_s=None))
    assert earlier.wait_all(SAFETY_TIMEOUT) and failing.status is JobStatus.FAILED
    now = JobManager(max_concurrent=1, store=store)          # a later process: the first run is only stored
    live = now.submit(TrainSpec(model="gmm", dataset=ds, config={"n_components": 2}, eval_period_s=None))
    assert now.wait_all(SAFETY_TIMEOUT)
    entries = catalog.runs_on(ds, now.jobs(), store)
    assert [(e.key, e.source) for e in entries] == [(f"job:{live.id}", "live"), (f"run:{old.run_id}", "stored")]
    assert [e.run_id for e in entries] == [live.run_id, old.run_id]
    assert entries[1].load(store).sample(5).shape == (5, 2)
    assert entries[0].load(store) is live.fitted
    with_failed = catalog.runs_on(ds, now.jobs(), store, include_failed=True)
    assert {e.status for e in with_failed} == {"done", "failed"}
    assert catalog.runs_on(ds, now.jobs(), store, capability=Capability.ENCODE) == []
