"""Training as an instrument (genlib.train.pacing): pause, k more steps, a steps-per-second cap, resume and stop, the
same through every executor (the thread, the local pool here; Ray in test_ray.py)."""
from __future__ import annotations

import time

import pytest
from conftest import SAFETY_TIMEOUT, steady_step, gaussian_dataset

from genlib.access import Mode, User, Viewer
from genlib.access import AccessError
from genlib.errors import UserError
from genlib.store import JobStatus, RunStore
from genlib.train import JobManager, TrainSpec
from genlib.train.pacing import LocalPace, Turns


def _long_vae() -> TrainSpec:
    return TrainSpec("vae", gaussian_dataset(n_train=400, n_test=100), steps=200_000, eval_period_s=None,
                     eval_samples=200)



def check_pacing(manager: JobManager, store: RunStore) -> None:
    """Paused before it starts, the job takes no step; 5 allowed steps are exactly 5; capped at 25 steps/s it runs
    near that speed; resumed it runs free; stopped, it keeps what it learned."""
    job = manager.submit(_long_vae())
    manager.pace(job.id, pause=True)          # queued or starting: the pause travels with it to its executor
    while job.snapshot().status is JobStatus.QUEUED:
        time.sleep(0.05)
    assert steady_step(job, 1.5) == 0 and job.snapshot().paused and job.snapshot().status is JobStatus.RUNNING
    manager.pace(job.id, steps=5)
    wait_for = time.monotonic() + SAFETY_TIMEOUT
    while job.snapshot().step < 5 and time.monotonic() < wait_for:
        time.sleep(0.05)
    assert steady_step(job) == 5                   # exactly five, then held again
    manager.pace(job.id, steps=3)
    wait_for = time.monotonic() + SAFETY_TIMEOUT
    while job.snapshot().step < 8 and time.monotonic() < wait_for:
        time.sleep(0.05)
    assert steady_step(job) == 8
    manager.pace(job.id, pause=False, rate=25)
    assert job.snapshot().max_rate == 25 and not job.snapshot().paused
    t0, s0 = time.monotonic(), job.snapshot().step
    wait_for = t0 + SAFETY_TIMEOUT
    while job.snapshot().step < s0 + 30 and time.monotonic() < wait_for:   # moving (a loaded machine: slower) …
        time.sleep(0.02)
    moved, took = job.snapshot().step - s0, time.monotonic() - t0
    assert moved >= 30, f"only {moved} steps in {took:.0f} s under the cap"
    assert moved / took <= 30, moved / took    # … and never above the cap (25 steps/s; 30 allows the batching)
    manager.pace(job.id, rate=0)               # no cap: much faster than 25 steps/s on any machine that runs this
    t0, s0 = time.monotonic(), job.snapshot().step
    time.sleep(2.0)
    assert (job.snapshot().step - s0) / (time.monotonic() - t0) > 40
    manager.pace(job.id, pause=True)
    held = steady_step(job)
    manager.stop(job.id)                       # a paused job stops at once, keeping its steps
    assert job.wait(SAFETY_TIMEOUT)
    snap = job.snapshot()
    assert snap.status is JobStatus.STOPPED and snap.step == held and not snap.paused
    assert store.get(snap.run_id).steps == held


@pytest.mark.parametrize("executor", ["thread", "local"])
def test_pause_step_cap_resume_and_stop(executor: str, genlab_home) -> None:
    store = RunStore(genlab_home)
    check_pacing(JobManager(max_concurrent=1, store=store, executor=executor), store)


def test_only_the_owner_or_the_teacher_paces_a_job() -> None:
    manager = JobManager(max_concurrent=1, executor="thread", classroom=True)
    ana, ben = User("u-ana", "Ana"), User("u-ben", "Ben")
    job = manager.submit(_long_vae(), owner=ana)
    with pytest.raises(AccessError):
        manager.pace(job.id, by=Viewer(ben, Mode.CLASSROOM), pause=True)
    with pytest.raises(KeyError):
        manager.for_viewer(Viewer(ben, Mode.CLASSROOM)).pace(job.id, pause=True)   # not even visible to Ben
    assert not job.snapshot().paused
    manager.pace(job.id, by=Viewer(User("t", "Teacher", teacher=True), Mode.CLASSROOM), pause=True)
    assert job.snapshot().paused
    manager.cancel(job.id)
    assert job.wait(SAFETY_TIMEOUT)


def test_bad_pace_requests_are_one_sentence() -> None:
    manager = JobManager(max_concurrent=1, executor="thread")
    job = manager.submit(_long_vae())
    with pytest.raises(UserError, match="at least 1"):
        manager.pace(job.id, steps=-2)
    with pytest.raises(UserError, match="steps per second of at least 0"):
        manager.pace(job.id, rate=float("nan"))
    manager.cancel(job.id)
    assert job.wait(SAFETY_TIMEOUT)


def test_turns_hold_release_one_step_and_see_a_stop() -> None:
    pace, stop = LocalPace(paused=True), []
    holds = []
    turns = Turns(pace, lambda: bool(stop), on_hold=lambda: holds.append(1))
    pace.set(more=1)
    assert turns.wait() is False and pace.read() == (True, 0, 0.0)   # the one allowed step went through
    stop.append(1)
    assert turns.wait() is True                 # a stop ends the wait even while paused
    assert holds == []                          # it never had to hold: the step was allowed, then the stop came
