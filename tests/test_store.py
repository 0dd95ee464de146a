"""The run store: SQLite rows + run folders; listing, restart survival, reload, delete, clear errors."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import SAFETY_TIMEOUT

from genlib.store import CHECKPOINT_NAME, RECORD_NAME, RunStore, StoreError, default_root, read_run_dir
from genlib.train import JobManager, JobStatus, TrainSpec


@pytest.fixture(scope="module")
def finished_jobs(finance):
    """Really trained jobs (no store attached), saved by each test into its own store."""
    manager = JobManager(max_concurrent=3, store=None)
    jobs = {
        "vae": manager.submit(TrainSpec("vae", finance, steps=60, eval_period_s=None, name="my vae")),
        "gmm": manager.submit(TrainSpec("gmm", finance, config={"n_components": 2})),
        "failed": manager.submit(TrainSpec("vae", finance, config={"latent_dim": 0})),
    }
    assert manager.wait_all(SAFETY_TIMEOUT)
    assert jobs["vae"].snapshot().status is JobStatus.DONE
    assert jobs["gmm"].snapshot().status is JobStatus.DONE
    assert jobs["failed"].snapshot().status is JobStatus.FAILED
    return jobs


def save(store: RunStore, job, run_dir=None) -> str:
    return store.save(job.snapshot(), job.fitted if job.snapshot().status is not JobStatus.FAILED else None,
                      spec=job.spec, run_dir=run_dir)


def test_save_list_newest_first_and_filter(finished_jobs, tmp_path) -> None:
    store = RunStore(tmp_path / "store")
    assert store.list() == [] and len(store) == 0
    vae_id = save(store, finished_jobs["vae"])
    gmm_id = save(store, finished_jobs["gmm"])
    assert vae_id != gmm_id
    assert [r.id for r in store.list()] == [gmm_id, vae_id]
    assert [r.id for r in store] == [gmm_id, vae_id] and len(store) == 2
    assert [r.id for r in store.list(model="vae")] == [vae_id]
    assert [r.id for r in store.list(model="gmm", dataset="finance")] == [gmm_id]
    assert store.list(dataset="toy2d") == [] and store.list(model="nope") == []

    rec = store.get(vae_id)
    snap = finished_jobs["vae"].snapshot()
    assert (rec.name, rec.model, rec.dataset, rec.status, rec.steps, rec.seed) == ("my vae", "vae", "finance",
                                                                                    "done", 60, 0)
    assert rec.columns == ["f1", "f2", "f3", "f4"] and rec.transform == "auto"
    assert rec.dataset_params == {"seed": 0}
    assert rec.metrics == snap.metrics and set(rec.metrics) >= {"anderson_darling", "kendall_error"}
    assert rec.history["loss_steps"] == snap.loss_steps and rec.history["losses"] == snap.losses
    assert Path(rec.run_dir) == (tmp_path / "store").resolve() / "runs" / vae_id
    assert (Path(rec.run_dir) / CHECKPOINT_NAME).is_file()
    # run.json makes the folder self-describing: the same record as the row.
    assert json.loads((Path(rec.run_dir) / RECORD_NAME).read_text()) == json.loads(rec.to_json())


def test_restart_keeps_runs_and_reloads_identical_models(finished_jobs, tmp_path) -> None:
    root = tmp_path / "store"
    first = RunStore(root)
    ids = {name: save(first, finished_jobs[name]) for name in ("vae", "gmm")}
    before = [json.loads(r.to_json()) for r in first.list()]
    del first

    restarted = RunStore(root)           # a new process would do exactly this
    assert [json.loads(r.to_json()) for r in restarted.list()] == before
    for name, run_id in ids.items():
        loaded = restarted.load(run_id)
        original = finished_jobs[name].fitted
        assert loaded.name == name
        assert np.array_equal(loaded.sample(100, seed=4), original.sample(100, seed=4))


def test_delete_removes_row_and_folder(finished_jobs, tmp_path) -> None:
    store = RunStore(tmp_path / "store")
    keep = save(store, finished_jobs["gmm"])
    gone = save(store, finished_jobs["vae"])
    folder = Path(store.get(gone).run_dir)
    assert folder.is_dir()
    store.delete(gone)
    assert not folder.exists()
    assert [r.id for r in store.list()] == [keep]
    with pytest.raises(StoreError):
        store.get(gone)
    with pytest.raises(StoreError):
        store.delete(gone)
    assert store.load(keep).sample(3, seed=0).shape == (3, 4)


def test_delete_never_removes_a_folder_outside_the_store(finished_jobs, tmp_path) -> None:
    store = RunStore(tmp_path / "store")
    outside = tmp_path / "my_results"
    run_id = save(store, finished_jobs["vae"], run_dir=outside)
    assert store.get(run_id).run_dir == str(outside.resolve())
    record, fitted = read_run_dir(outside)          # an --out folder is usable on its own
    assert record.id == run_id
    assert np.array_equal(fitted.sample(10, seed=0), finished_jobs["vae"].fitted.sample(10, seed=0))
    store.delete(run_id)
    assert len(store) == 0
    assert (outside / CHECKPOINT_NAME).is_file(), "deleting a run must not delete the user's own folder"


def test_get_unknown_id_raises_store_error(tmp_path) -> None:
    store = RunStore(tmp_path / "store")
    with pytest.raises(StoreError, match="no run with id 'nope'"):
        store.get("nope")
    with pytest.raises(StoreError, match="no run with id 'nope'"):
        store.load("nope")


def test_failed_run_is_recorded_but_cannot_be_loaded(finished_jobs, tmp_path) -> None:
    store = RunStore(tmp_path / "store")
    run_id = save(store, finished_jobs["failed"])
    rec = store.get(run_id)
    assert rec.status == "failed" and rec.error == "latent_dim must be between 1 and 64; got 0"
    # the error is kept in the database; no folder is written, so `--out DIR` can be reused after a failure
    assert rec.run_dir is None and rec.checkpoint is None
    assert not (tmp_path / "store" / "runs" / run_id).exists()
    with pytest.raises(StoreError, match=f"run {run_id} has no checkpoint \\(status failed\\)"):
        store.load(run_id)


@pytest.mark.parametrize("damage", ["random bytes", "truncated", "deleted"])
def test_damaged_checkpoint_raises_store_error(finished_jobs, tmp_path, damage) -> None:
    store = RunStore(tmp_path / "store")
    run_id = save(store, finished_jobs["vae"])
    ckpt = store.get(run_id).checkpoint
    if damage == "random bytes":
        ckpt.write_bytes(np.random.default_rng(1).bytes(2048))
    elif damage == "truncated":
        ckpt.write_bytes(ckpt.read_bytes()[:500])
    else:
        ckpt.unlink()
    with pytest.raises(StoreError) as info:
        store.load(run_id)
    message = str(info.value)
    assert run_id in message and "\n" not in message
    if damage == "deleted":
        assert "has no checkpoint" in message
    else:
        assert "not a readable GenLab checkpoint" in message


def test_genlab_home_decides_the_default_root(tmp_path, monkeypatch) -> None:
    home = tmp_path / "somewhere" / "home"
    monkeypatch.setenv("GENLAB_HOME", str(home))
    assert default_root() == home
    store = RunStore()
    assert store.root == home.resolve() and (home / "runs.sqlite").is_file()
    monkeypatch.delenv("GENLAB_HOME")
    assert default_root() == Path.home() / ".genlab"      # only computed, never created here


def test_the_per_test_home_is_isolated(genlab_home) -> None:
    assert default_root() == genlab_home and default_root() != Path.home() / ".genlab"


def test_concurrent_saves_from_threads_all_land(finished_jobs, tmp_path) -> None:
    store = RunStore(tmp_path / "store")
    ids: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            ids.append(save(store, finished_jobs["gmm"]))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(SAFETY_TIMEOUT)
    assert not errors
    assert len(set(ids)) == 8 and sorted(r.id for r in store.list()) == sorted(ids)


def test_runs_saved_by_a_job_manager_survive_a_restart(finance, tmp_path) -> None:
    """End to end: the engine writes through the store; a fresh RunStore still finds and loads it."""
    root = tmp_path / "store"
    manager = JobManager(max_concurrent=1, store=RunStore(root))
    job = manager.submit(TrainSpec("vae", finance, steps=40, eval_period_s=None))
    assert job.wait(SAFETY_TIMEOUT)   # set after the run was saved (Job.run persists, then signals)
    run_id = job.snapshot().run_id
    restarted = RunStore(root)
    assert [r.id for r in restarted.list()] == [run_id]
    assert np.array_equal(restarted.load(run_id).sample(30, seed=2), job.fitted.sample(30, seed=2))


def test_relative_paths_are_stored_absolute(finished_jobs, tmp_path, monkeypatch) -> None:
    """A relative GENLAB_HOME or --out folder must still resolve after the working directory changes
    (the CLI trains in one directory; the app or a later command runs from another)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    monkeypatch.setenv("GENLAB_HOME", "rel_home")
    store = RunStore()
    in_store = save(store, finished_jobs["vae"])
    outside = save(store, finished_jobs["gmm"], run_dir="rel_out")
    monkeypatch.chdir(tmp_path / "b")
    again = RunStore(tmp_path / "a" / "rel_home")
    assert {r.id for r in again.list()} == {in_store, outside}
    for run_id in (in_store, outside):
        assert Path(again.get(run_id).run_dir).is_absolute()
        assert again.load(run_id).sample(3, seed=0).shape == (3, 4)
    assert not (tmp_path / "b" / "rel_home").exists()
