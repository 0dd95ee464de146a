"""Runs survive crashes, failed saves leave nothing behind, and a continued run matches a straight one.

Crash tests use real processes: ``python -m genlib train`` killed with SIGKILL mid-training and at two points of the
save (fault injection through ``GENLAB_TEST_PAUSE_AT``, see :func:`genlib.store.pause_for_tests`), then the store is
reopened the way the next process would open it.
"""
from __future__ import annotations

import errno
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import SAFETY_TIMEOUT, wait_until

from genlib.models import FittedModel
from genlib.store import CHECKPOINT_NAME, SCHEMA_VERSION, STAGING, JobStatus, RunRecord, RunStore, StoreError
from genlib.train import JobManager, LoopState, TrainSpec, continue_spec, train

ROOT = Path(__file__).resolve().parents[1]


def genlib_process(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    environment = {**os.environ, "GENLAB_HOME": str(home), "GENLAB_TORCH_THREADS": "1", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "genlib", *args], cwd=ROOT, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def genlib_run(home: Path, *args: str) -> subprocess.CompletedProcess:
    proc = genlib_process(home, *args)
    out, err = proc.communicate(timeout=SAFETY_TIMEOUT)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def running_row(home: Path) -> RunRecord | None:
    """The running row, read without reconciling (the writer is alive and must be left alone)."""
    if not (home / "runs.sqlite").exists():
        return None
    try:
        rows = RunStore(home, reconcile=False).list(status="running")
    except (sqlite3.OperationalError, StoreError):  # the writer is creating the database right now
        return None
    return rows[0] if rows else None


@pytest.fixture
def earlier_run(tmp_path) -> tuple[Path, str, np.ndarray]:
    """A store that already holds one finished run (which every crash below must leave intact)."""
    home = tmp_path / "home"
    res = genlib_run(home, "train", "--model", "gmm", "--data", "finance", "--set", "n_components=2", "--quiet")
    assert res.returncode == 0, res.stderr
    run_id = res.stdout.strip()
    return home, run_id, RunStore(home).load(run_id).sample(50, seed=3)


def assert_earlier_run_intact(home: Path, run_id: str, samples: np.ndarray) -> None:
    store = RunStore(home)
    assert store.get(run_id).status == "done"
    assert np.array_equal(store.load(run_id).sample(50, seed=3), samples)


@pytest.mark.slow
def test_sigkill_mid_training_leaves_an_interrupted_run_that_continues(earlier_run) -> None:
    home, earlier, samples = earlier_run
    proc = genlib_process(home, "train", "--model", "vae", "--data", "finance", "--steps", "4000",
                          "--checkpoint-every", "0.3", "--quiet")
    try:
        wait_until(lambda: (r := running_row(home)) is not None and (r.checkpoint_step or 0) >= 30,
                   what="a checkpoint of the running CLI training")
        row = running_row(home)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(SAFETY_TIMEOUT)
    assert row is not None
    run_id = row.id

    store = RunStore(home)   # the next process: reconciles on open
    assert store.last_reconcile.interrupted == [run_id]
    record = store.get(run_id)
    assert record.status == JobStatus.INTERRUPTED.value and "killed" in record.error
    assert record.checkpoint_step and record.steps == record.checkpoint_step
    assert record.checkpoint is not None and record.checkpoint.is_file()
    assert store.verify() == [], "integrity check after the crash"
    assert files_under(home / "runs" / STAGING) == [], "no staging folder left"
    assert not [p for p in (home / "runs").iterdir() if p.is_dir() and not p.name.startswith(".")
                and not any(p.iterdir())], "no empty run folders"
    assert store.load(run_id).sample(5, seed=0).shape == (5, 4)   # the last checkpoint is usable
    assert_earlier_run_intact(home, earlier, samples)

    listed = genlib_run(home, "runs", "--json")
    assert listed.returncode == 0
    rows = {r["id"]: r for r in json.loads(listed.stdout)}
    assert rows[run_id]["status"] == "interrupted" and rows[run_id]["checkpoint_step"] == record.checkpoint_step

    cont = genlib_run(home, "continue", run_id, "--steps", "20", "--quiet")
    assert cont.returncode == 0, cont.stderr
    child = RunStore(home).get(cont.stdout.strip())
    assert child.parent == run_id and child.status == "done" and child.steps == record.checkpoint_step + 20
    parent_curve = record.history["loss_steps"]
    assert parent_curve and parent_curve[-1] <= record.checkpoint_step
    assert child.history["loss_steps"][: len(parent_curve)] == parent_curve, "the curves continue the parent's"
    assert child.history["loss_steps"][-1] == child.steps


@pytest.mark.slow
@pytest.mark.parametrize("point, expected", [("commit", "interrupted"), ("committed", "done")])
def test_sigkill_mid_save_is_repaired_on_open(earlier_run, tmp_path, point, expected) -> None:
    """Killed after writing the checkpoint but before the rename (kept as interrupted, with that checkpoint), or
    after the rename but before the row was updated (adopted as done)."""
    home, earlier, samples = earlier_run
    marker = tmp_path / "paused"
    proc = genlib_process(home, "train", "--model", "vae", "--data", "finance", "--steps", "30", "--quiet",
                          env={"GENLAB_TEST_PAUSE_AT": point, "GENLAB_TEST_PAUSE_FILE": str(marker)})
    try:
        wait_until(marker.exists, what=f"the CLI to reach the '{point}' point of its save")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(SAFETY_TIMEOUT)

    store = RunStore(home)
    runs = [r for r in store.list() if r.id != earlier]
    assert len(runs) == 1
    record = runs[0]
    assert record.status == expected
    assert record.run_dir is not None and (Path(record.run_dir) / CHECKPOINT_NAME).is_file()
    assert store.verify() == []
    assert files_under(home / "runs" / STAGING) == []
    assert store.load(record.id).sample(5, seed=0).shape == (5, 4)
    assert_earlier_run_intact(home, earlier, samples)


def test_kill_of_the_app_with_two_jobs_leaves_interrupted_rows(tmp_path, finance) -> None:
    """Rows of a dead process become interrupted; rows of a live one (this process) are left alone."""
    home = tmp_path / "home"
    store = RunStore(home)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket
    ghost = f"{socket.gethostname()}:{int(dead.stdout)}:1"
    for i in range(2):
        store.add(RunRecord(id=f"ghost-{i}", created=float(i), name="vae on finance", model="vae", dataset="finance",
                            status="running", device="cpu", seed=0, steps=10, elapsed=1.0, run_dir=None,
                            owner_process=ghost, staging=str(home / "runs" / STAGING / f"ghost-{i}")))
    (home / "runs" / STAGING / "ghost-0").mkdir(parents=True)           # started, never checkpointed
    manager = JobManager(max_concurrent=1, store=store)
    live = manager.submit(TrainSpec("vae", finance, steps=1_000_000, eval_period_s=None))
    wait_until(lambda: live.snapshot().step > 0, what="the live job to start")
    try:
        reopened = RunStore(home)
        assert sorted(reopened.last_reconcile.interrupted) == ["ghost-0", "ghost-1"]
        assert reopened.get(live.run_id).status == "running", "a live process's run is not touched"
        assert {r.id: r.status for r in reopened.list()} == {"ghost-0": "interrupted", "ghost-1": "interrupted",
                                                              live.run_id: "running"}
        assert not (home / "runs" / STAGING / "ghost-0").exists()
    finally:
        live.cancel()
        assert live.wait(SAFETY_TIMEOUT)


def test_store_adopts_complete_folders_and_removes_incomplete_ones(tmp_path, finance) -> None:
    home = tmp_path / "home"
    manager = JobManager(max_concurrent=1, store=RunStore(home))
    job = manager.submit(TrainSpec("gmm", finance, config={"n_components": 2}))
    assert job.wait(SAFETY_TIMEOUT)
    run_id = job.run_id
    with sqlite3.connect(home / "runs.sqlite") as con:     # a row lost (e.g. a database restored from a backup)
        con.execute("DELETE FROM runs WHERE id = ?", (run_id,))
    (home / "runs" / "empty-folder").mkdir()
    half = home / "runs" / "half-written"
    half.mkdir()
    (half / "model.pt.tmp").write_bytes(b"partial")
    store = RunStore(home)
    assert store.last_reconcile.adopted == [run_id]
    assert sorted(store.last_reconcile.removed) == ["empty-folder", "half-written"]
    assert store.get(run_id).status == "done" and store.load(run_id).sample(3, seed=0).shape == (3, 4)
    assert store.verify() == []


def test_a_store_of_the_previous_schema_opens_unchanged(tmp_path) -> None:
    """Schema 1 had no kind column: its rows are training runs, read as they were."""
    home = tmp_path / "old"
    home.mkdir()
    old_record = {"id": "r1", "created": 1.0, "name": "vae on finance", "model": "vae", "dataset": "finance",
                  "status": "done", "device": "cpu", "seed": 0, "steps": 5, "elapsed": 0.5, "run_dir": None,
                  "error": None, "config": {"latent_dim": 2}, "dataset_params": {"seed": 0}, "transform": "auto",
                  "columns": ["f1"], "metrics": {"anderson_darling": 1.5}, "history": {}}
    with sqlite3.connect(home / "runs.sqlite") as con:
        con.execute("CREATE TABLE runs (id TEXT PRIMARY KEY, created REAL NOT NULL, name TEXT NOT NULL, model TEXT "
                    "NOT NULL, dataset TEXT NOT NULL, status TEXT NOT NULL, device TEXT, seed INTEGER, steps INTEGER, "
                    "elapsed REAL, run_dir TEXT, error TEXT, record TEXT NOT NULL)")
        con.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    ("r1", 1.0, "vae on finance", "vae", "finance", "done", "cpu", 0, 5, 0.5, None, None,
                     json.dumps(old_record)))
    store = RunStore(home)
    (record,) = store.list()
    assert record.kind == "train" and record.config == {"latent_dim": 2} and record.metrics == {"anderson_darling": 1.5}
    with sqlite3.connect(home / "runs.sqlite") as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    assert store.verify() == []


# --- failed saves ---------------------------------------------------------------------------------------------
def test_cli_run_folder_that_cannot_be_created_fails_non_zero(tmp_path) -> None:
    home = tmp_path / "home"
    res = genlib_run(home, "train", "--model", "gmm", "--data", "finance", "--out", "/proc/genlab-x", "--quiet")
    assert res.returncode == 2 and res.stdout == ""
    assert "cannot write the run folder" in res.stderr and "Traceback" not in res.stderr
    (row,) = RunStore(home).list()
    assert row.status == "failed" and "cannot write the run folder" in row.error and row.run_dir is None


def test_injected_oserror_on_write_fails_the_job_and_leaves_no_files(tmp_path, finance, monkeypatch) -> None:
    home = tmp_path / "home"
    store = RunStore(home)

    def full_disk(self, path, training=None):
        Path(str(path) + ".tmp").write_bytes(b"half a checkpoint")   # what a real write leaves before failing
        Path(str(path) + ".tmp").unlink()                           # (FittedModel.save's own cleanup)
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(FittedModel, "save", full_disk)
    job = JobManager(max_concurrent=1, store=store).submit(TrainSpec("vae", finance, steps=20, eval_period_s=None))
    assert job.wait(SAFETY_TIMEOUT)
    snap = job.snapshot()
    assert snap.status is JobStatus.FAILED
    assert snap.error.startswith("could not save the run: No space left on device") and snap.traceback is None
    assert store.get(snap.run_id).status == "failed" and store.get(snap.run_id).run_dir is None
    assert files_under(home / "runs") == [], "no temporary or partial files"


def test_a_failed_checkpoint_write_removes_its_partial_file(tmp_path, finance, monkeypatch) -> None:
    """FittedModel.save itself cleans up when the write fails after the .tmp file exists."""
    import builtins
    job = JobManager(max_concurrent=1, store=None).submit(TrainSpec("vae", finance, steps=5, eval_period_s=None))
    assert job.wait(SAFETY_TIMEOUT)
    real_open = builtins.open

    class FullDisk:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            self.fh.write(bytes(data)[:100])
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(builtins, "open", lambda path, mode="r", *a, **k: FullDisk(real_open(path, mode, *a, **k))
                        if str(path).endswith(".tmp") else real_open(path, mode, *a, **k))
    with pytest.raises(OSError, match="No space left"):
        job.fitted.save(tmp_path / "model.pt")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("options, reason", [("size=64k", "No space left on device"),
                                             ("ro,size=64k", "Read-only file system")])
def test_a_full_or_read_only_filesystem_fails_the_job_with_the_reason(tmp_path, finance, options, reason) -> None:
    """Real filesystems (a 64 KiB tmpfs, a read-only one; skipped where mounting is not allowed). As root a chmod'ed
    folder stays writable, so a read-only mount is the honest read-only folder."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        store = RunStore(tmp_path / "home")
        spec = TrainSpec("vae", finance, config={"enc_width": 256, "dec_width": 256}, steps=5, eval_period_s=None,
                         out_dir=str(mnt / "run"))
        job = JobManager(max_concurrent=1, store=store).submit(spec)
        assert job.wait(SAFETY_TIMEOUT)
        snap = job.snapshot()
        assert snap.status is JobStatus.FAILED and reason in snap.error, snap.error
        assert files_under(mnt) == []
        assert store.get(snap.run_id).status == "failed"
        if "ro" in options:
            assert snap.step == 0, "a folder that cannot be written fails the run before any training"
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_store_error_on_an_unwritable_root_is_one_sentence(tmp_path) -> None:
    with pytest.raises(StoreError, match="cannot create the run store at /proc"):
        RunStore("/proc/genlab-store")


# --- continuing ---------------------------------------------------------------------------------------------------
def test_a_run_stopped_at_k_and_continued_to_2k_matches_a_straight_run(tmp_path, finance) -> None:
    """Tolerance 1e-5 relative: the checkpoint keeps the weights, Adam's moments, the model's noise stream and the
    batch sampler's stream, so on the CPU the continued run takes the same steps; only float summation order could
    differ, and here it does not (same process, same thread count)."""
    k = 40
    spec = TrainSpec("vae", finance, steps=2 * k, eval_period_s=None, seed=3)

    def per_step_losses(spec: TrainSpec, fitted: FittedModel, state: LoopState, stop_at: int | None = None):
        out: list[float] = []
        train(spec, fitted, lambda p: out.append(p.losses["loss"]) if p.losses else None,
              (lambda: state.step >= stop_at) if stop_at else (lambda: False), state=state)
        return out

    from genlib.train import build, resolve_device
    straight = per_step_losses(spec, build(spec, resolve_device("cpu")), LoopState())

    first = build(spec, resolve_device("cpu"))
    state = LoopState()
    head = per_step_losses(spec, first, state, stop_at=k)
    assert state.step == k and len(head) == k
    first.save(tmp_path / "model.pt", training=state.to_checkpoint())
    resumed_spec = TrainSpec("vae", finance, steps=2 * k, eval_period_s=None, seed=3, resume=str(tmp_path / "model.pt"))
    resumed = build(resumed_spec, resolve_device("cpu"))
    tail = per_step_losses(resumed_spec, resumed, LoopState.resume(resumed))
    assert len(tail) == k
    np.testing.assert_allclose(head + tail, straight, rtol=1e-5)
    # A continuation WITHOUT the optimiser state (what a naive "reload the weights" would do) does not match:
    # the test can tell the two apart.
    naive = build(resumed_spec, resolve_device("cpu"))
    naive.training = {k: v for k, v in naive.training.items() if k != "optimizers"}
    naive_state = LoopState.resume(naive)
    naive_tail = per_step_losses(resumed_spec, naive, naive_state)
    assert not np.allclose(naive_tail, straight[k:], rtol=1e-5)


def test_continue_through_the_engine_extends_the_history(tmp_path, finance) -> None:
    store = RunStore(tmp_path / "home")
    manager = JobManager(max_concurrent=1, store=store)
    job = manager.submit(TrainSpec("vae", finance, steps=1_000_000, eval_period_s=None, seed=1))
    wait_until(lambda: job.snapshot().step >= 25, what="25 steps")
    job.stop()
    assert job.wait(SAFETY_TIMEOUT)
    parent = store.get(job.run_id)
    assert parent.status == "stopped"
    k = parent.steps
    child_job = manager.submit(continue_spec(store, parent.id, steps=k, eval_period_s=None))
    assert child_job.wait(SAFETY_TIMEOUT)
    child = store.get(child_job.run_id)
    assert child.status == "done" and child.parent == parent.id and child.steps == 2 * k
    assert child.history["loss_steps"][: len(parent.history["loss_steps"])] == parent.history["loss_steps"]
    assert child.history["loss_steps"][-1] == 2 * k
    losses = child.history["losses"]["loss"]
    assert np.mean(losses[-5:]) < np.mean(losses[:5]), "the continued run keeps learning"


def test_continue_refuses_what_cannot_be_continued(tmp_path, finance) -> None:
    store = RunStore(tmp_path / "home")
    manager = JobManager(max_concurrent=1, store=store)
    gmm = manager.submit(TrainSpec("gmm", finance, config={"n_components": 2}))
    failed = manager.submit(TrainSpec("vae", finance, config={"latent_dim": 0}))
    assert manager.wait_all(SAFETY_TIMEOUT)
    with pytest.raises(StoreError, match="fitted in one call"):
        continue_spec(store, gmm.run_id, steps=5)
    with pytest.raises(StoreError, match="only a stopped, interrupted or finished run"):
        continue_spec(store, failed.run_id, steps=5)
    with pytest.raises(StoreError, match="no run with id"):
        continue_spec(store, "nope", steps=5)


AVO_SCRIPT = """
from genlib.avo import AVOConfig, AVOTask
from genlib.store import RunStore
from genlib.train import JobManager
task = AVOTask(AVOConfig(simulator="poisson", steps=20000, n_observed=2000, critic_warmup=5))
task.checkpoint_every_s = 0.3
job = JobManager(max_concurrent=1, store=RunStore()).submit(task)
job.wait()
"""


@pytest.mark.slow
def test_an_avo_fit_killed_mid_fit_keeps_its_history(tmp_path) -> None:
    """A task without a model checkpoints its results so far; the interrupted run shows them on its page."""
    from genlib.avo import avo_result_from_run
    home = tmp_path / "home"
    proc = subprocess.Popen([sys.executable, "-c", AVO_SCRIPT], cwd=ROOT,
                            env={**os.environ, "GENLAB_HOME": str(home), "GENLAB_TORCH_THREADS": "1"})
    try:
        wait_until(lambda: (r := running_row_of(home, "avo")) is not None and (r.checkpoint_step or 0) >= 10,
                   what="an AVO checkpoint")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(SAFETY_TIMEOUT)
    store = RunStore(home)
    (record,) = store.list(kinds="avo")
    assert record.status == "interrupted" and store.verify() == []
    result = avo_result_from_run(record, store.results(record.id))
    assert result is not None and len(result.history.step) >= record.checkpoint_step >= 10
    assert np.all(np.isfinite(result.mu)) and len(result.observed) == 2000


def running_row_of(home: Path, kind: str) -> RunRecord | None:
    if not (home / "runs.sqlite").exists():
        return None
    try:
        rows = RunStore(home, reconcile=False).list(kinds=kind, status="running")
    except (sqlite3.OperationalError, StoreError):
        return None
    return rows[0] if rows else None


def test_a_run_on_an_uploaded_csv_continues_on_the_same_data(tmp_path) -> None:
    from genlib.uploads import load_upload, save_upload
    csv = "a,b\n" + "\n".join(f"{i % 17},{(i * 7) % 23}" for i in range(200))
    uid = save_upload(csv.encode(), "lesson.csv")
    data = load_upload(uid)
    assert data.params == {"upload": uid}
    store = RunStore(tmp_path / "home")
    manager = JobManager(max_concurrent=1, store=store)
    job = manager.submit(TrainSpec("vae", data, steps=10, eval_period_s=None))
    assert job.wait(SAFETY_TIMEOUT) and job.snapshot().status is JobStatus.DONE
    spec = continue_spec(store, job.run_id, steps=5, eval_period_s=None)
    assert spec.dataset.params == {"upload": uid} and np.array_equal(spec.dataset.train, data.train)
    child = manager.submit(spec)
    assert child.wait(SAFETY_TIMEOUT) and child.snapshot().status is JobStatus.DONE and child.snapshot().step == 15


def test_a_training_run_stores_the_codes_of_every_row(tmp_path) -> None:
    """What the Latent explorer and the Density page show of a stored run, read back instead of encoded again."""
    from genlib.data import load_dataset
    from genlib.latent import ModelEncoder, latent_codes
    digits = load_dataset("digits")
    store = RunStore(tmp_path / "home")
    job = JobManager(max_concurrent=1, store=store).submit(TrainSpec("vae", digits, steps=20, eval_period_s=None,
                                                                     config={"latent_dim": 3}))
    assert job.wait(SAFETY_TIMEOUT) and job.snapshot().status is JobStatus.DONE
    stored = store.results(job.run_id)["latent_codes"]
    rows = np.concatenate([digits.train, digits.test])
    assert stored.shape == (len(rows), 3)
    np.testing.assert_allclose(stored, latent_codes(ModelEncoder(store.load(job.run_id)), rows), rtol=1e-5, atol=1e-6)


def test_continued_runs_are_found_when_a_record_holds_nan(tmp_path) -> None:
    """SQLite's JSON functions reject NaN, which Python's json writes for a metric that could not be computed."""
    store = RunStore(tmp_path / "home")
    for run_id, parent in (("a", None), ("b", "a"), ("c", None)):
        store.add(RunRecord(id=run_id, created=1.0, name="vae", model="vae", dataset="finance", status="done",
                            device="cpu", seed=0, steps=1, elapsed=0.1, run_dir=None, parent=parent,
                            metrics={"kendall_error": float("nan")}))
    assert store.continued() == {"a"}
