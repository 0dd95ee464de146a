"""Work that used to run inside pages, now jobs and runs: generating Lorenz trajectories and measuring their chaos
(GenerationTask, kind ``generation``), and hyperparameter sweeps recorded as runs of kind ``sweep`` whose members
are found again, live or stored."""
from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from conftest import SAFETY_TIMEOUT, settle_jobs, wait_until
from genlib import compare
from genlib.api import fit
from genlib.data import load_dataset
from genlib.dynamics import trajectories as tr
from genlib.dynamics.generation import GenerationResult, GenerationTask, trajectories_of
from genlib.store import RunKind, RunStore
from genlib.train import JobStatus


@pytest.fixture(scope="module")
def windows():
    return load_dataset("lorenz_windows", n_traj=64)


@pytest.fixture(scope="module")
def window_model(windows):
    """A model of trajectory windows, fitted in one call (the task's code is the same for any model)."""
    return fit("gaussian", windows, device="cpu")


def _blocking(fitted, entered: threading.Event, release: threading.Event):
    """The same model, except that sampling waits for ``release``: the test acts while the task is mid-way."""
    original = fitted.sample

    def sample(n, seed=None, labels=None):
        entered.set()
        assert release.wait(SAFETY_TIMEOUT)
        return original(n, seed=seed, labels=labels)

    fitted.sample = sample
    return fitted


def test_generation_job_stores_what_the_page_computed_in_process(windows, window_model, make_manager,
                                                                 tmp_path) -> None:
    store = RunStore(tmp_path / "store")
    manager = make_manager(store=store)
    job = manager.submit(GenerationTask(source_run="20240101-000000-abcdef", fitted=window_model, dataset=windows,
                                        n=16, seed=7))
    assert job.wait(SAFETY_TIMEOUT)
    snap = job.snapshot()
    assert snap.status is JobStatus.DONE, snap.error
    assert snap.kind == "generation" and snap.step == snap.total == 3 and snap.model == "gaussian"

    # What the Lorenz page used to compute itself (sample with seed 7, decode, chaos table), done here directly.
    fake = trajectories_of(window_model.sample(16, seed=7), windows)
    real = trajectories_of(windows.test[:16], windows)
    expected = tr.chaos_table(real, fake, float(windows.params["dt"]), lyapunov=False)
    value: GenerationResult = job.result.value
    assert fake.shape == (16, 16, 3)
    np.testing.assert_array_equal(value.generated, fake)
    pd.testing.assert_frame_equal(value.table, expected)

    record = store.get(snap.run_id)
    assert record.kind == RunKind.GENERATION.value and record.status == "done"
    assert record.inputs == {"source_run": "20240101-000000-abcdef", "n": 16, "seed": 7}
    assert record.summary["n_trajectories"] == 16 and record.summary["step_generated"] > 0
    assert store.list() == [], "a generation run is not a training run"
    assert [r.id for r in store.list(kinds=("generation",))] == [record.id]
    stored = GenerationResult.from_arrays(store.results(record.id))   # what a reload shows, without recomputing
    np.testing.assert_array_equal(stored.generated, fake)
    np.testing.assert_array_equal(stored.real, real)
    pd.testing.assert_frame_equal(stored.table, expected, check_dtype=False)
    assert stored.summary() == record.summary


def test_stopped_generation_keeps_the_trajectories_without_the_table(windows, window_model, make_manager,
                                                                    tmp_path) -> None:
    store = RunStore(tmp_path / "store")
    manager = make_manager(store=store, executor="thread")   # the blocking fake holds threading events
    entered, release = threading.Event(), threading.Event()
    fitted = _blocking(fit("gaussian", windows, device="cpu"), entered, release)
    job = manager.submit(GenerationTask(source_run="r", fitted=fitted, dataset=windows, n=8))
    assert entered.wait(SAFETY_TIMEOUT)
    job.stop()
    release.set()
    assert job.wait(SAFETY_TIMEOUT)
    assert job.snapshot().status is JobStatus.STOPPED and job.result.value.table is None
    arrays = store.results(job.snapshot().run_id)
    assert arrays["generated"].shape == (8, 16, 3) and "table_check" not in arrays
    assert store.get(job.snapshot().run_id).status == "stopped"


def test_cancelled_generation_leaves_nothing(windows, make_manager, tmp_path) -> None:
    store = RunStore(tmp_path / "store")
    manager = make_manager(store=store, executor="thread")   # the blocking fake holds threading events
    entered, release = threading.Event(), threading.Event()
    fitted = _blocking(fit("gaussian", windows, device="cpu"), entered, release)
    job = manager.submit(GenerationTask(source_run="r", fitted=fitted, dataset=windows, n=8))
    assert entered.wait(SAFETY_TIMEOUT)
    wait_until(lambda: job.snapshot().run_id is not None, what="the run's row")
    manager.cancel(job.id)
    release.set()
    assert job.wait(SAFETY_TIMEOUT)
    assert job.snapshot().run_id is None and len(store) == 0


def test_generation_from_data_that_are_not_trajectories_fails_with_one_sentence(finance, make_manager,
                                                                                tmp_path) -> None:
    store = RunStore(tmp_path / "store")
    manager = make_manager(store=store)
    job = manager.submit(GenerationTask(source_run="r", fitted=fit("gaussian", finance, device="cpu"),
                                        dataset=finance, n=8))
    assert job.wait(SAFETY_TIMEOUT)
    snap = job.snapshot()
    assert snap.status is JobStatus.FAILED and "not trajectories" in snap.error and snap.traceback is None
    record = store.get(snap.run_id)
    assert record.status == "failed" and record.run_dir is None and store.results(record.id) == {}


# ----------------------------------------------------------------------------- sweeps

def test_a_sweep_is_a_stored_run_whose_members_are_found_live_and_after_a_restart(finance, make_manager,
                                                                                  tmp_path) -> None:
    store = RunStore(tmp_path / "store")
    manager = make_manager(store=store, max_concurrent=1)   # the sweep's own job must not take the only slot
    plan = compare.make_sweep("vae", "sigma", "0.05, 0.5")
    sweep_id = "sweep-test-1"
    common = dict(steps=30, seed=0, device="cpu", eval_period_s=None, eval_samples=300)
    jobs = [manager.submit(spec) for spec in compare.sweep_specs(plan, sweep_id, finance, {"beta": 1.0}, **common)]
    sweep = manager.submit(compare.SweepTask(plan, finance, {"beta": 1.0}, common, members=jobs, run_id=sweep_id))
    settle_jobs(manager)
    assert [j.snapshot().status for j in jobs] == [JobStatus.DONE, JobStatus.DONE], [j.error for j in jobs]
    assert jobs[0].spec.config == {"beta": 1.0, "sigma": 0.05}
    assert sweep.snapshot().status is JobStatus.DONE and sweep.snapshot().step == 2

    record = store.get(sweep_id)
    assert record.kind == "sweep" and record.total == 2 and record.dataset == "finance" and record.status == "done"
    assert [m["run_id"] for m in record.summary["members"]] == [j.run_id for j in jobs]
    assert store.list(kinds=("sweep",))[0].id == sweep_id and sweep_id not in {r.id for r in store.list()}
    reopened = compare.SweepPlan.from_dict(record.inputs["plan"])
    assert reopened == plan and reopened.points() == [(0.05, None), (0.5, None)]

    live = compare.sweep_results(sweep_id, manager.jobs(), [])
    after_restart = compare.sweep_results(sweep_id, [], RunStore(tmp_path / "store").list())
    assert live.run_ids == after_restart.run_ids == {(0.05, None): jobs[0].run_id, (0.5, None): jobs[1].run_id}
    assert after_restart.finished == 2 and set(after_restart.statuses.values()) == {"done"}
    assert after_restart.metrics == live.metrics
    z = compare.sweep_matrix(reopened, after_restart.metrics, "anderson_darling")
    assert z.shape == (1, 2) and np.isfinite(z).all()
    # a run that is not a member (another sweep, or none) is never counted
    assert compare.sweep_results("another", manager.jobs(), store.list()).run_ids == {}


def test_stopping_a_sweep_stops_its_members(finance, make_manager, tmp_path) -> None:
    store = RunStore(tmp_path / "store")
    manager = make_manager(store=store, max_concurrent=1)
    plan = compare.make_sweep("vae", "sigma", "0.05, 0.5")
    common = dict(steps=1_000_000, seed=0, device="cpu", eval_period_s=None, eval_samples=300)
    jobs = [manager.submit(spec) for spec in compare.sweep_specs(plan, "sweep-2", finance, {}, **common)]
    sweep = manager.submit(compare.SweepTask(plan, finance, {}, common, members=jobs, run_id="sweep-2"))
    wait_until(lambda: jobs[0].snapshot().step > 3, what="the first member to train")
    sweep.stop()
    settle_jobs(manager)
    assert sweep.snapshot().status is JobStatus.STOPPED
    assert jobs[0].snapshot().status is JobStatus.STOPPED and jobs[0].snapshot().step > 3
    assert jobs[1].snapshot().status is JobStatus.STOPPED and jobs[1].snapshot().step == 0, "the queued one never ran"
    assert store.get("sweep-2").status == "stopped"
