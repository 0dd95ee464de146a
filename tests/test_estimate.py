"""Honest time (genlib.train.estimate): a speed that never reads "0 steps/s", the time left, the probe that times real
steps, the speed of earlier runs, and the confirmation a budget above five minutes asks for on the Train page."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from conftest import gaussian_dataset, settle_jobs
from streamlit.testing.v1 import AppTest

from genlib.store import RunRecord
from genlib.train import JobManager, JobStatus, TrainSpec
from genlib.train import estimate
from genlib.train.estimate import Estimate, estimate_spec, format_eta, format_rate, probe_rate, rate_from_runs

ROOT = Path(__file__).resolve().parents[1]
ZERO = re.compile(r"(^|[^\d.])0(\.0*)? steps/s")


@pytest.mark.parametrize("rate", [1e-5, 0.004, 0.07, 0.3, 0.49, 0.5, 0.99, 1.0, 2.4, 9.99, 10.0, 35.4, 12_345.0])
def test_format_rate_never_reads_zero_for_a_moving_job(rate: float) -> None:
    text = format_rate(rate)
    assert text and not ZERO.search(text), text
    assert "step" in text


def test_format_rate_words() -> None:
    assert format_rate(0.07) == "1 step / 14 s"     # the DCGAN of issue 19 on a busy machine
    assert format_rate(2.44) == "2.4 steps/s" and format_rate(35.4) == "35 steps/s"
    assert format_rate(0.0) == "" and format_rate(None) == "" and format_rate(float("nan")) == ""


def test_format_eta() -> None:
    assert format_eta(130) == "about 2 min 10 s left"
    assert format_eta(42.4) == "about 42 s left"
    assert format_eta(3 * 3600 + 60) == "about 3 h 01 min left"
    assert format_eta(130, paused=True) == "paused"
    assert format_eta(None) == ""


def test_estimate_text_and_warning_threshold() -> None:
    slow = Estimate(steps=1500, steps_per_s=0.56 ** -1, source="a timed probe", device="cpu")
    assert slow.too_long and slow.text().startswith("about 14 min 00 s on CPU")
    quick = Estimate(steps=1500, steps_per_s=30.0, source="earlier runs", device="cuda")
    assert not quick.too_long and quick.text() == "about 50 s on GPU (30 steps/s, from earlier runs)"


def test_probe_times_real_steps_of_a_tiny_model() -> None:
    spec = TrainSpec("vae", gaussian_dataset(n_train=300, n_test=100), steps=40, batch_size=64, device="cpu")
    estimate._probes.clear()
    rate = probe_rate(spec)
    assert rate > 0 and estimate._probes[estimate.spec_key(spec)] == rate
    assert probe_rate(spec) == rate                    # cached: the same figure, no new training
    bigger = TrainSpec("vae", gaussian_dataset(n_train=300, n_test=100), steps=40, batch_size=64, device="cpu",
                       config={"hidden": [256, 256]})
    assert estimate.spec_key(bigger) != estimate.spec_key(spec)   # other settings: another probe
    est = estimate_spec(spec)
    assert est is not None and est.source == "a timed probe" and est.seconds == pytest.approx(40 / rate)
    assert estimate_spec(TrainSpec("gmm", spec.dataset)) is None   # fitted in one call: no steps to time


def _record(**kw) -> RunRecord:
    base = dict(id="r", created=time.time(), name="n", model="vae", dataset="gauss2d", status="done", device="cpu",
                seed=0, steps=1000, elapsed=10.0, run_dir=None, inputs={"batch_size": 64})
    return RunRecord(**(base | kw))


def test_rate_from_earlier_runs_of_the_same_model_data_and_settings() -> None:
    spec = TrainSpec("vae", gaussian_dataset(n_train=300, n_test=100), steps=500, batch_size=64, device="cpu")
    records = [_record(id="a", steps=1000, elapsed=10.0), _record(id="b", steps=600, elapsed=3.0),
               _record(id="c", steps=900, elapsed=3.0),
               _record(id="other-model", model="wae", elapsed=1.0),
               _record(id="other-batch", inputs={"batch_size": 256}, elapsed=1.0),
               _record(id="other-config", config={"beta": 2.0}, elapsed=1.0),
               _record(id="failed", status="failed", elapsed=1.0),
               _record(id="continued", parent="a", elapsed=1.0),
               _record(id="gpu", device="cuda:0", elapsed=1.0)]
    assert rate_from_runs(records, spec) == pytest.approx(200.0)    # median of 100, 200, 300
    est = estimate_spec(spec, records, probe=False)
    assert est is not None and est.source == "earlier runs" and est.seconds == pytest.approx(2.5)
    assert rate_from_runs(records[3:], spec) is None


def test_snapshot_rate_and_eta_of_a_real_job() -> None:
    manager = JobManager(store=None, max_concurrent=1, executor="thread")
    try:
        job = manager.submit(TrainSpec("vae", gaussian_dataset(n_train=300, n_test=100), steps=100_000,
                                       batch_size=64, eval_period_s=None))
        manager.pace(job.id, rate=20)
        deadline = time.monotonic() + 120
        while job.snapshot().step < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        s = job.snapshot()
        assert s.status is JobStatus.RUNNING and 5 <= s.rate <= 25, s.rate      # the capped speed, not 0
        assert s.eta_s is not None and s.eta_s > 100_000 / 25 * 0.8
        manager.pace(job.id, pause=True)
        time.sleep(0.3)
        assert job.snapshot().eta_s is None and format_eta(job.snapshot().eta_s, job.snapshot().paused) == "paused"
    finally:
        manager.shutdown()


def test_train_page_asks_before_a_budget_above_five_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    from pages.common import job_manager
    monkeypatch.setattr(estimate, "probe_rate", lambda spec, **kw: 10.0)   # 20,000 steps at 10 steps/s: 33 minutes
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("pages/train.py").run()
    at.selectbox(key="train_model").set_value("vae").run()
    at.number_input(key="train_steps").set_value(20_000).run()
    before = len(job_manager().jobs())
    at.button(key="train_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(job_manager().jobs()) == before, "nothing starts before the confirmation"
    assert any("33 min" in w.value and "more than 5 minutes" in w.value for w in at.warning), \
        [w.value for w in at.warning]
    at.button(key="train_start_anyway").click().run()
    assert len(job_manager().jobs()) == before + 1
    job = job_manager().jobs()[-1]
    assert job.spec.steps == 20_000
    job_manager().stop(job.id)
    monkeypatch.setattr(estimate, "probe_rate", lambda spec, **kw: 1e6)    # a quick budget starts at the first click
    at.number_input(key="train_steps").set_value(300).run()
    at.button(key="train_start").click().run()
    assert len(job_manager().jobs()) == before + 2 and not at.warning
    settle_jobs(job_manager())


def test_the_probe_runs_where_jobs_run_not_in_the_asking_process() -> None:
    """The app's own process trains nothing (genlib.train.workers): the probe before a start goes to a worker too,
    and leaves no job and no run behind."""
    from torch.optim.optimizer import register_optimizer_step_pre_hook
    steps: list[int] = []
    handle = register_optimizer_step_pre_hook(lambda optimizer, args, kwargs: steps.append(1))
    manager = JobManager(max_concurrent=1, executor="local")
    try:
        spec = TrainSpec("vae", gaussian_dataset(n_train=300, n_test=100), steps=40, batch_size=64, device="cpu")
        estimate._probes.clear()
        rate = probe_rate(spec, run=manager.run_now)
        assert rate > 0 and steps == [] and manager.jobs() == []
        estimate._probes.clear()
        probe_rate(spec)                                 # the control: in this thread, the hook sees its steps
        assert len(steps) == estimate.PROBE_STEPS + 1
    finally:
        handle.remove()
        manager.shutdown()
