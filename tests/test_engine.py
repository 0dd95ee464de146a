"""The background training engine: JobManager threads, queue, stop/cancel, failures, snapshots, seeds."""
from __future__ import annotations

import dataclasses
import math
import threading

import numpy as np
import pytest
import torch

from conftest import SAFETY_TIMEOUT, wait_until
from genlib.models import REGISTRY, GenerativeModel, ModelError
from genlib.params import param
from genlib.store import RunStore, StoreError
from genlib.train import JobStatus, TrainSpec, resolve_device

LONG = 10**6   # steps of a job that only ends when the test stops it


def vae_spec(dataset, steps: int = 150, **kw) -> TrainSpec:
    kw.setdefault("eval_period_s", None)
    return TrainSpec("vae", dataset, steps=steps, **kw)


def running_with_progress(job, min_step: int = 1) -> bool:
    snap = job.snapshot()
    return snap.status is JobStatus.RUNNING and snap.step >= min_step


# ----------------------------------------------------------------------------- test-only models

@dataclasses.dataclass
class FaultyConfig:
    fail_at: int = param(5, "step at which the fault happens", range=(1, 10**9))
    fault: str = param("nan", "what goes wrong", choices=("nan", "raise"))


class FaultyModel(GenerativeModel):
    """A model that trains normally until ``fail_at``, then returns a NaN loss or raises inside train_step."""

    name = "faulty_test_model"
    label = "test-only model"
    family = "Test"
    Config = FaultyConfig

    def __init__(self, config, n_features, *args, **kwargs):
        super().__init__(config, n_features, *args, **kwargs)
        self.steps = 0
        self.mean = torch.zeros(n_features)

    def train_step(self, batch, labels=None):
        self.steps += 1
        if self.steps >= self.config.fail_at:
            if self.config.fault == "raise":
                raise RuntimeError(f"exploding widget in step {self.steps}")
            return {"loss": 1.0, "aux": float("nan")}
        self.mean = 0.9 * self.mean + 0.1 * batch.mean(0)
        return {"loss": 1.0 / self.steps, "aux": 0.0}

    def sample(self, n, labels=None):
        return self.mean + self.randn(n, self.n_features)

    def state_dict(self):
        return {"mean": self.mean}

    def load_state_dict(self, state):
        self.mean = state["mean"]


@pytest.fixture
def faulty(monkeypatch):
    """Registered only for the test using it, so no other test (or the capability table) sees it."""
    monkeypatch.setitem(REGISTRY, FaultyModel.name, FaultyModel)
    return FaultyModel.name


@pytest.fixture
def pausing_vae(monkeypatch):
    """The real VAE, except that its training thread holds at step ``pause_at`` until the test sets ``release``:
    a test can then count on seeing a job mid-run, however fast or slow the machine. Registered for the one
    test, as ``faulty`` is."""
    class PausingVAE(REGISTRY["vae"]):
        name = "pausing_vae_test_model"
        pause_at = 100
        release = threading.Event()

        def train_step(self, batch, labels=None):
            losses = super().train_step(batch, labels)
            if self.steps_done + 1 == self.pause_at:   # the loop sets steps_done = step - 1 before the call
                if not self.release.wait(SAFETY_TIMEOUT):
                    raise RuntimeError("the test never released the paused job")
            return losses

    monkeypatch.setitem(REGISTRY, PausingVAE.name, PausingVAE)
    yield PausingVAE
    PausingVAE.release.set()   # never leave a thread parked, even when the test failed


# ----------------------------------------------------------------------------- normal runs

def test_job_runs_to_done_with_history_metrics_and_run_id(finance, make_manager, tmp_path) -> None:
    store = RunStore(tmp_path / "store")
    manager = make_manager(max_concurrent=2, store=store)
    job = manager.submit(vae_spec(finance, steps=150, eval_period_s=0.2))
    assert job.wait(SAFETY_TIMEOUT), "job did not finish"
    snap = job.snapshot()
    assert snap.status is JobStatus.DONE, snap.error
    assert snap.error is None
    assert snap.step == snap.total == 150 and snap.fraction == 1.0
    assert snap.device == "cpu" and snap.model == "vae" and snap.dataset == "finance"
    assert snap.loss_steps[-1] == 150 and snap.loss_steps == sorted(set(snap.loss_steps))
    assert set(snap.losses) == {"loss", "recon", "kl"}
    assert all(len(v) == len(snap.loss_steps) for v in snap.losses.values())
    assert all(math.isfinite(v) for v in snap.losses["loss"])
    assert snap.losses["loss"][-1] < snap.losses["loss"][0]
    for key in ("anderson_darling", "kendall_error"):
        assert math.isfinite(snap.metrics[key]) and snap.metrics[key] >= 0
    assert snap.metric_history and snap.metric_history[-1]["step"] == 150
    assert snap.elapsed > 0 and snap.steps_per_s > 0
    assert snap.run_id is not None
    record = store.get(snap.run_id)
    assert record.status == "done" and record.steps == 150 and record.metrics == snap.metrics
    assert manager.active == 0


def test_preview_samples_are_drawn_by_the_training_thread_and_follow_the_model(finance, make_manager) -> None:
    """preview_samples > 0: the job keeps the latest samples drawn between steps; the last one is the final model's.

    The job runs until the test stops it, so the test sees two previews drawn at different steps of one run on any
    machine (a fixed number of steps could end before the second rescoring on a fast one, or before the poller
    looked on a loaded one)."""
    job = make_manager().submit(dataclasses.replace(vae_spec(finance, steps=LONG, eval_period_s=0.05),
                                                    preview_samples=64))
    wait_until(lambda: job.preview is not None, what="the first preview")
    first = job.preview
    assert first.shape == (64, 4) and np.all(np.isfinite(first))
    wait_until(lambda: job.preview is not first, what="a second preview")
    second = job.preview
    assert not np.allclose(first, second), "previews change as the model trains"
    assert job.snapshot().status is JobStatus.RUNNING   # both were drawn during training, not at its end
    job.stop()
    assert job.wait(SAFETY_TIMEOUT)
    assert job.snapshot().status is JobStatus.STOPPED
    assert job.preview is not None and job.preview.shape == (64, 4) and np.all(np.isfinite(job.preview))
    final = job.fitted.sample(64, seed=4242)
    np.testing.assert_allclose(job.preview, final, rtol=1e-5, atol=1e-6)
    plain = make_manager().submit(vae_spec(finance, steps=5))
    assert plain.wait(SAFETY_TIMEOUT) and plain.preview is None  # default: no preview is drawn


def test_classical_job_fits_once(finance, make_manager, tmp_path) -> None:
    store = RunStore(tmp_path / "store")
    job = make_manager(store=store).submit(TrainSpec("gmm", finance, config={"n_components": 3}))
    assert job.wait(SAFETY_TIMEOUT)
    snap = job.snapshot()
    assert snap.status is JobStatus.DONE, snap.error
    assert (snap.step, snap.total) == (1, 1) and snap.loss_steps == [1]
    assert {"anderson_darling", "kendall_error"} <= set(snap.metrics)
    assert store.load(snap.run_id).sample(5, seed=0).shape == (5, 4)


def test_same_seed_gives_identical_runs_even_when_trained_concurrently(finance, make_manager) -> None:
    manager = make_manager(max_concurrent=3)
    a, b = (manager.submit(vae_spec(finance, steps=120, seed=3)) for _ in range(2))
    c = manager.submit(vae_spec(finance, steps=120, seed=4))
    assert manager.wait_all(SAFETY_TIMEOUT)
    sa, sb, sc = a.snapshot(), b.snapshot(), c.snapshot()
    assert sa.status is sb.status is sc.status is JobStatus.DONE
    assert sa.losses == sb.losses
    assert sa.metrics == sb.metrics
    assert np.array_equal(a.fitted.sample(300, seed=0), b.fitted.sample(300, seed=0))
    assert sa.losses != sc.losses
    assert not np.array_equal(a.fitted.sample(300, seed=0), c.fitted.sample(300, seed=0))


# ----------------------------------------------------------------------------- stop and cancel

def test_stop_mid_run_keeps_and_saves_the_model(finance, make_manager, tmp_path) -> None:
    store = RunStore(tmp_path / "store")
    manager = make_manager(store=store)
    job = manager.submit(vae_spec(finance, steps=LONG))
    wait_until(lambda: running_with_progress(job, 30), what="job to reach step 30")
    manager.stop(job.id)
    assert job.wait(SAFETY_TIMEOUT), "stop did not end the job"
    snap = job.snapshot()
    assert snap.status is JobStatus.STOPPED and snap.error is None
    assert 30 <= snap.step < snap.total == LONG
    assert {"anderson_darling", "kendall_error"} <= set(snap.metrics)   # evaluated at the stop
    record = store.get(snap.run_id)
    assert record.status == "stopped" and record.steps == snap.step
    assert np.array_equal(store.load(snap.run_id).sample(20, seed=1), job.fitted.sample(20, seed=1))


def test_cancel_queued_job_never_runs_and_is_not_saved(finance, make_manager, tmp_path) -> None:
    store = RunStore(tmp_path / "store")
    manager = make_manager(max_concurrent=1, store=store)
    first = manager.submit(vae_spec(finance, steps=LONG))
    queued = manager.submit(vae_spec(finance, steps=50))
    wait_until(lambda: running_with_progress(first), what="first job to run")
    assert queued.snapshot().status is JobStatus.QUEUED
    manager.cancel(queued.id)
    assert queued.wait(0), "a cancelled queued job is finished when cancel returns"
    manager.stop(first.id)
    # The freed slot is handed on (JobManager._start_ready) by the first job's thread after its job ended: once
    # that thread is joined, nothing can start the cancelled job any more, so its state below is final.
    first.thread.join(SAFETY_TIMEOUT)
    assert not first.thread.is_alive() and first.wait(0)
    snap = queued.snapshot()
    assert snap.status is JobStatus.STOPPED
    assert snap.step == 0 and snap.device == "" and snap.run_id is None and queued.thread is None
    assert queued.fitted is None
    assert [r.id for r in store.list()] == [first.snapshot().run_id]
    assert manager.active == 0


def test_cancel_running_job_discards_it(finance, make_manager, tmp_path) -> None:
    store = RunStore(tmp_path / "store")
    manager = make_manager(store=store)
    job = manager.submit(vae_spec(finance, steps=LONG))
    wait_until(lambda: running_with_progress(job, 5), what="job to run")
    manager.cancel(job.id)
    assert job.wait(SAFETY_TIMEOUT)
    assert job.snapshot().status is JobStatus.STOPPED and job.snapshot().run_id is None
    runs = tmp_path / "store" / "runs"
    assert len(store) == 0 and not [p for p in runs.rglob("*") if not p.is_dir()], "a cancelled job leaves nothing"


# ----------------------------------------------------------------------------- failures

def test_diverging_training_fails_with_loss_and_step_while_other_job_finishes(finance, make_manager,
                                                                               tmp_path) -> None:
    """A real divergence: a deep, wide ELU VAE with Adam at lr 0.1, no clipping and σ = 1e-3 blows its
    activations up within a few steps (found by experiment; every seed tried diverges at step 3)."""
    store = RunStore(tmp_path / "store")
    manager = make_manager(max_concurrent=2, store=store)
    blowup = {"sigma": 1e-3, "lr": 0.1, "grad_clip": 0, "activation": "elu", "enc_depth": 6, "dec_depth": 6,
              "enc_width": 1024, "dec_width": 1024}
    bad = manager.submit(vae_spec(finance, steps=50, config=blowup, transform="standardize", batch_size=32))
    good = manager.submit(vae_spec(finance, steps=300))
    assert manager.wait_all(SAFETY_TIMEOUT)
    snap = bad.snapshot()
    assert snap.status is JobStatus.FAILED
    assert snap.error.startswith("loss 'loss' became inf at step "), snap.error
    failed_at = int(snap.error.split("at step ")[1].split(":")[0])
    assert 1 < failed_at <= 50
    assert snap.step == failed_at - 1      # the non-finite step is not reported as progress
    assert "diverged" in snap.error and "\n" not in snap.error
    assert good.snapshot().status is JobStatus.DONE and good.snapshot().step == 300
    record = store.get(snap.run_id)
    assert record.status == "failed" and record.error == snap.error
    with pytest.raises(StoreError, match="has no checkpoint"):
        store.load(snap.run_id)


def test_nan_loss_fails_the_job_naming_loss_and_step(finance, make_manager, faulty) -> None:
    manager = make_manager(max_concurrent=2, executor="thread")   # the faulty model is registered in this process
    bad = manager.submit(TrainSpec(faulty, finance, config={"fail_at": 5}, steps=100, eval_period_s=None))
    good = manager.submit(vae_spec(finance, steps=100))
    assert manager.wait_all(SAFETY_TIMEOUT)
    snap = bad.snapshot()
    assert snap.status is JobStatus.FAILED
    assert snap.error == ("loss 'aux' became nan at step 5: training diverged "
                          "(try a smaller learning rate or a different transform)")
    assert snap.step == 4 and snap.loss_steps == [1, 2, 3, 4]
    assert good.snapshot().status is JobStatus.DONE


def test_exception_inside_model_fails_only_that_job(finance, make_manager, faulty, tmp_path) -> None:
    store = RunStore(tmp_path / "store")
    manager = make_manager(max_concurrent=2, store=store, executor="thread")   # an in-process fake model
    bad = manager.submit(TrainSpec(faulty, finance, config={"fail_at": 3, "fault": "raise"}, steps=100))
    good = manager.submit(vae_spec(finance, steps=100))
    assert manager.wait_all(SAFETY_TIMEOUT)
    snap = bad.snapshot()
    assert snap.status is JobStatus.FAILED
    # A bug, not the user's doing: the entry says so and where the traceback is, and carries the traceback.
    log = store.root / "logs" / "genlab.log"
    assert snap.error == f"internal error (RuntimeError: exploding widget in step 3); the traceback is in {log}"
    assert "Traceback" in snap.traceback and "exploding widget in step 3" in snap.traceback
    assert "failed with an internal error" in log.read_text() and "exploding widget" in log.read_text()
    assert good.snapshot().status is JobStatus.DONE
    assert store.get(bad.snapshot().run_id).status == "failed"
    # The manager is still usable after a failure.
    again = manager.submit(vae_spec(finance, steps=20))
    assert again.wait(SAFETY_TIMEOUT) and again.snapshot().status is JobStatus.DONE


def test_bad_config_fails_the_job_with_the_model_error(finance, make_manager) -> None:
    job = make_manager().submit(vae_spec(finance, config={"latent_dim": 0}))
    assert job.wait(SAFETY_TIMEOUT)
    assert job.snapshot().status is JobStatus.FAILED
    assert job.snapshot().error == "latent_dim must be between 1 and 64; got 0"
    assert job.snapshot().traceback is None  # the user's mistake: one sentence, no traceback


# ----------------------------------------------------------------------------- concurrency

def test_two_jobs_really_run_at_the_same_time(finance, make_manager) -> None:
    manager = make_manager(max_concurrent=2)
    a, b = manager.submit(vae_spec(finance, steps=LONG)), manager.submit(vae_spec(finance, steps=LONG, seed=1))
    wait_until(lambda: running_with_progress(a) and running_with_progress(b), what="both jobs running")
    # Both make progress while the other is running (not one after the other).
    steps = (a.snapshot().step, b.snapshot().step)
    wait_until(lambda: a.snapshot().step > steps[0] + 10 and b.snapshot().step > steps[1] + 10,
               what="both jobs advancing")
    assert a.snapshot().status is b.snapshot().status is JobStatus.RUNNING
    assert manager.active == 2
    manager.shutdown()
    assert a.snapshot().status is b.snapshot().status is JobStatus.STOPPED


def test_max_concurrent_cap_is_respected(finance, make_manager) -> None:
    manager = make_manager(max_concurrent=2)
    jobs = [manager.submit(vae_spec(finance, steps=LONG, seed=i)) for i in range(3)]
    assert jobs[2].thread is None   # jobs are started (given a thread) only by submit and when a job ends
    wait_until(lambda: running_with_progress(jobs[0]) and running_with_progress(jobs[1]), what="two jobs")
    # Not "wait a while and see": let both running jobs do another 20 steps each, so the third had every
    # chance a wrong start could take (each step reports progress through the engine), then look.
    steps = [j.snapshot().step for j in jobs[:2]]
    wait_until(lambda: all(j.snapshot().step >= n + 20 for j, n in zip(jobs, steps)), what="20 more steps each")
    third = jobs[2].snapshot()
    assert third.status is JobStatus.QUEUED and third.step == 0 and jobs[2].thread is None
    assert manager.active == 3
    assert [s.status for s in manager.snapshots()].count(JobStatus.RUNNING) == 2
    manager.stop(jobs[0].id)
    assert jobs[0].wait(SAFETY_TIMEOUT)
    wait_until(lambda: running_with_progress(jobs[2]), what="queued job to start after a slot freed")
    assert [s.status for s in manager.snapshots()].count(JobStatus.RUNNING) == 2
    manager.shutdown()
    assert all(j.snapshot().status is JobStatus.STOPPED for j in jobs)
    manager.remove_finished()
    assert manager.jobs() == []


def test_snapshots_are_consistent_while_training(finance, make_manager, pausing_vae) -> None:
    """Snapshots taken while the training thread writes: each one is consistent.
    The job cannot end before 200 of them saw it running with a loss history (it holds at step 100 until then),
    so the test sees it mid-run on any machine; until then, or the pause, the two threads really race."""
    manager = make_manager(executor="thread")   # the pausing fake lives in this process
    # 3000 steps → one logged point every 7 steps (14 by the pause)
    job = manager.submit(TrainSpec(pausing_vae.name, finance, steps=3000, eval_period_s=None))
    seen = 0
    last_step = 0
    # one snapshot per millisecond: a tighter loop would hold the GIL and starve the training thread
    while not job.wait(0.001):
        s = job.snapshot()
        assert s.step <= s.total
        assert s.step >= last_step
        last_step = s.step
        assert all(len(v) == len(s.loss_steps) for v in s.losses.values())
        assert s.loss_steps == sorted(s.loss_steps)
        assert not s.loss_steps or s.loss_steps[-1] <= s.step
        seen += s.status is JobStatus.RUNNING and len(s.loss_steps) > 0
        if seen > 200:
            break
    manager.stop(job.id)             # before the release: the job cannot run to its end meanwhile
    pausing_vae.release.set()
    assert job.wait(SAFETY_TIMEOUT)
    assert seen > 200, "the job ended before the test saw it running with a loss history"
    final = job.snapshot()
    assert final.status is JobStatus.STOPPED, final.error
    assert set(final.losses) == {"loss", "recon", "kl"}    # the real VAE trained (and its losses were logged)
    assert len(final.loss_steps) <= 400 + 1  # the history is downsampled to ~log_points


# ----------------------------------------------------------------------------- devices

def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ModelError, match="device must be auto, cpu or cuda"):
        resolve_device("tpu")
    if torch.cuda.is_available():
        assert resolve_device("auto").type == "cuda"
        return
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("") == torch.device("cpu")
    with pytest.raises(ModelError, match="'cuda' was requested but PyTorch sees no GPU"):
        resolve_device("cuda")
    with pytest.raises(ModelError):
        resolve_device("cuda:0")


@pytest.mark.skipif(torch.cuda.is_available(), reason="only meaningful without a GPU")
def test_job_asking_for_cuda_without_gpu_fails_clearly(finance, make_manager) -> None:
    job = make_manager().submit(vae_spec(finance, device="cuda"))
    assert job.wait(SAFETY_TIMEOUT)
    assert job.snapshot().status is JobStatus.FAILED and "sees no GPU" in job.snapshot().error


def test_a_training_stopped_before_its_first_step_keeps_no_run(finance, make_manager, tmp_path) -> None:
    """Stop pressed while the model is still being built: the loop ends at its first check, and an untrained model
    is not kept as a run (nothing to sample, nothing to continue)."""
    from genlib.store import RunStore

    class StopsAtOnce(TrainSpec):
        def execute(self, ctx):
            ctx.job.stop()            # what the Stop button does, before the loop's first step
            return super().execute(ctx)

    store = RunStore(tmp_path / "store")
    job = make_manager(store=store).submit(StopsAtOnce("vae", finance, steps=300, eval_period_s=None))
    assert job.wait(SAFETY_TIMEOUT)
    snap = job.snapshot()
    assert snap.status is JobStatus.STOPPED and snap.step == 0 and snap.run_id is None
    assert len(store) == 0 and not [p for p in (tmp_path / "store" / "runs").rglob("*") if p.is_file()]
