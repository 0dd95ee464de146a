"""Jobs in worker processes (issue 18, point 1, the local executor): a job trains in a spawned worker, streams its
progress into the job, stops, cancels, fails cleanly on an exception and on a killed worker; the parent's store has
the run, with the optimisers' state a continued run needs."""
from __future__ import annotations

import os
import signal

import pytest
from conftest import SAFETY_TIMEOUT, gaussian_dataset

from genlib.errors import UserError
from genlib.store import JobStatus, RunStore
from genlib.train import JobManager, Task, TaskResult, TrainSpec
from genlib.train.task import Progress


class WhereAmI(Task):
    """Reports a few steps, then says which process ran it."""
    model_name = "where"
    dataset_name = "none"

    def label(self) -> str:
        return "where am I"

    def planned_steps(self) -> int:
        return 5

    def execute(self, ctx) -> TaskResult:
        for step in range(1, 6):
            ctx.report(Progress(step, 5, losses={"loss": float(10 - step)}))
        return TaskResult(summary={"pid": os.getpid()})


class Raises(Task):
    model_name = "raises"
    dataset_name = "none"

    def __init__(self, exc: Exception):
        self.exc = exc

    def label(self) -> str:
        return "raises"

    def execute(self, ctx) -> TaskResult:
        raise self.exc


def _local(store: RunStore | None = None, n: int = 1) -> JobManager:
    return JobManager(max_concurrent=n, store=store, executor="local")


def _long_vae(steps: int = 200_000) -> TrainSpec:
    return TrainSpec("vae", gaussian_dataset(n_train=400, n_test=100), steps=steps, eval_period_s=None,
                     eval_samples=200, checkpoint_every_s=0.2)


def test_a_task_runs_in_a_worker_and_its_progress_reaches_the_job() -> None:
    job = _local().submit(WhereAmI())
    assert job.wait(SAFETY_TIMEOUT)
    snap = job.snapshot()
    assert snap.status is JobStatus.DONE, snap.error
    assert job.result.summary["pid"] == job.worker_pid != os.getpid()   # the parent ran none of it
    assert snap.step == 5 and snap.losses["loss"][-1] == 5.0


def test_a_training_in_a_worker_learns_and_its_run_can_be_continued(genlab_home) -> None:
    store = RunStore(genlab_home)
    job = _local(store).submit(_long_vae(steps=400))
    assert job.wait(SAFETY_TIMEOUT)
    snap = job.snapshot()
    assert snap.status is JobStatus.DONE, snap.error
    losses = snap.losses["loss"]
    assert len(losses) > 20 and sum(losses[-5:]) / 5 < sum(losses[:5]) / 5   # streamed, and it learned
    assert job.fitted is not None and job.fitted.sample(20, seed=0).shape == (20, 2)
    record = store.get(snap.run_id)
    assert record.status == "done" and record.steps == 400
    training = store.load(snap.run_id).training
    assert training["step"] == 400 and training["optimizers"]   # Adam's moments came back from the worker


def test_stop_keeps_what_the_worker_learned_and_cancel_keeps_nothing(genlab_home) -> None:
    store = RunStore(genlab_home)
    manager = _local(store, n=2)
    kept, dropped = manager.submit(_long_vae()), manager.submit(_long_vae())
    for job in (kept, dropped):
        while job.snapshot().step < 20:
            assert not job.wait(0.05), job.snapshot().error
    manager.stop(kept.id)
    manager.cancel(dropped.id)
    assert kept.wait(SAFETY_TIMEOUT) and dropped.wait(SAFETY_TIMEOUT)
    assert kept.snapshot().status is JobStatus.STOPPED
    record = store.get(kept.run_id)
    assert record.status == "stopped" and record.steps >= 20 and record.checkpoint.exists()
    assert dropped.run_id is None and [r.id for r in store.list()] == [kept.run_id]


def test_an_exception_in_the_worker_fails_the_job_with_its_message() -> None:
    manager = _local()
    user = manager.submit(Raises(UserError("the data have no rows")))
    bug = manager.submit(Raises(ZeroDivisionError("division by zero")))
    assert manager.wait_all(SAFETY_TIMEOUT)
    assert user.snapshot().status is JobStatus.FAILED
    assert user.snapshot().error == "the data have no rows" and user.snapshot().traceback is None
    snap = bug.snapshot()
    assert snap.status is JobStatus.FAILED and "internal error (ZeroDivisionError" in snap.error
    assert "in worker process" in snap.traceback and "raise self.exc" in snap.traceback   # the worker's frames


def test_a_diverging_training_in_a_worker_fails_with_its_one_sentence() -> None:
    from genlib.models import NonFiniteLossError
    job = _local().submit(Raises(NonFiniteLossError("loss 'loss' became nan at step 7: training diverged")))
    assert job.wait(SAFETY_TIMEOUT)
    snap = job.snapshot()
    assert snap.status is JobStatus.FAILED and snap.traceback is None   # the user's run, not a bug
    assert snap.error == "loss 'loss' became nan at step 7: training diverged"


def test_a_killed_worker_fails_its_job_and_the_engine_carries_on(genlab_home) -> None:
    store = RunStore(genlab_home)
    manager = _local(store)
    job = manager.submit(_long_vae())
    while job.snapshot().step < 5:
        assert not job.wait(0.05), job.snapshot().error
    os.kill(job.worker_pid, signal.SIGKILL)       # what the kernel's OOM killer does
    assert job.wait(SAFETY_TIMEOUT)
    snap = job.snapshot()
    assert snap.status is JobStatus.FAILED
    assert "killed by signal 9 (SIGKILL)" in snap.error and "out of memory" in snap.error
    assert store.get(snap.run_id).status == "failed"
    after = manager.submit(WhereAmI())            # the next job runs as usual
    assert after.wait(SAFETY_TIMEOUT) and after.snapshot().status is JobStatus.DONE


def test_an_unknown_executor_is_one_sentence() -> None:
    with pytest.raises(UserError, match="executor must be one of thread, local, ray; got 'spark'"):
        JobManager(executor="spark")


def test_a_task_that_cannot_go_to_a_worker_runs_in_a_thread(caplog) -> None:
    task = WhereAmI()
    task.callback = lambda: None          # a lambda cannot be pickled for a new interpreter
    job = _local().submit(task)
    assert job.wait(SAFETY_TIMEOUT)
    assert job.snapshot().status is JobStatus.DONE
    assert job.result.summary["pid"] == os.getpid()
    assert any("runs in a thread" in r.message and "cannot be sent" in r.message for r in caplog.records)


@pytest.fixture
def optimizer_steps_here():
    """Counts every torch optimiser step taken in this process (a global hook on ``Optimizer.step``)."""
    from torch.optim.optimizer import register_optimizer_step_pre_hook
    steps = []
    handle = register_optimizer_step_pre_hook(lambda optimizer, args, kwargs: steps.append(1))
    yield steps
    handle.remove()


def test_the_asking_process_takes_no_training_step(optimizer_steps_here) -> None:
    worker = _local().submit(_long_vae(steps=150))
    assert worker.wait(SAFETY_TIMEOUT) and worker.snapshot().status is JobStatus.DONE, worker.snapshot().error
    assert worker.snapshot().step == 150 and worker.fitted is not None
    assert optimizer_steps_here == []                    # 150 steps trained, none of them here
    thread = JobManager(max_concurrent=1, executor="thread").submit(_long_vae(steps=20))   # the control:
    assert thread.wait(SAFETY_TIMEOUT) and len(optimizer_steps_here) == 20   # the hook sees a step taken here


@pytest.mark.slow
def test_the_train_page_trains_in_a_worker_process(optimizer_steps_here) -> None:
    from pathlib import Path

    from conftest import settle_jobs
    from streamlit.testing.v1 import AppTest

    from pages.common import job_manager
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=60)
    at.switch_page("pages/train.py").run()
    at.selectbox(key="train_model").set_value("vae").run()
    at.number_input(key="train_steps").set_value(150).run()
    before = {j.id for j in job_manager().jobs()}   # the process-wide engine may hold earlier tests' jobs
    at.button(key="train_start").click().run()
    jobs = [j for j in settle_jobs(job_manager()) if j.id not in before]
    assert [j.snapshot().status for j in jobs] == [JobStatus.DONE], [j.snapshot().error for j in jobs]
    assert jobs[0].worker_pid not in (None, os.getpid()) and jobs[0].snapshot().step == 150
    assert optimizer_steps_here == []                    # the app's process ran none of the training
    at.run()
    assert not at.exception and any(p.text.startswith("done") for p in at.get("progress"))


def test_a_worker_serves_the_next_task_unless_it_holds_too_much_memory(monkeypatch) -> None:
    manager = _local()

    def pids(n: int) -> list[int]:
        out = []
        for _ in range(n):
            job = manager.submit(WhereAmI())
            assert job.wait(SAFETY_TIMEOUT) and job.snapshot().status is JobStatus.DONE, job.snapshot().error
            out.append(job.result.summary["pid"])
        return out

    warm = pids(4)
    assert len(set(warm)) <= 2        # the first worker and perhaps the spare: no new interpreter per task
    monkeypatch.setenv("GENLAB_WORKER_MAX_MB", "1")   # every worker now holds "too much" after its task
    fresh = pids(4)
    assert len(set(fresh)) == 4       # each let go after its task
