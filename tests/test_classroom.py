"""A classroom server (issue 17, points 1, 2 and 8): who owns what, fair shares, one-line errors without server paths.

The rules are tested in genlib (genlib.access, the engine's ViewerJobs, the store's ViewerStore), then through two
AppTest sessions of one app process: B cannot see, stop, cancel, clear or delete A's job or run; the teacher can; a
shared run is visible read-only. The browser test (tests/test_browser.py) does the same with two Chromium contexts,
where the identity travels in a real cookie.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from conftest import gaussian_dataset, settle_jobs
from streamlit.testing.v1 import AppTest

from genlib.access import (PERSONAL_USER, AccessError, Mode, User, UserDirectory, Viewer, cli_user, redact_paths,
                           server_mode)
from genlib.store import JobStatus, RunKind, RunStore, StoreError
from genlib.train import JobManager, QuotaError, ShareLimits, Task, TaskResult, TrainSpec
from genlib.train.fairshare import check_submission

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "s3cret-teacher-token"


# --- modes and users ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("address", "env", "expected"), [
    ("127.0.0.1", "", Mode.PERSONAL), ("localhost", "", Mode.PERSONAL), ("::1", "", Mode.PERSONAL),
    ("0.0.0.0", "", Mode.CLASSROOM), ("192.168.1.20", "", Mode.CLASSROOM), (None, "", Mode.CLASSROOM),
    ("0.0.0.0", "personal", Mode.PERSONAL), ("127.0.0.1", "classroom", Mode.CLASSROOM)])
def test_the_mode_follows_the_address_unless_set(monkeypatch, address, env, expected) -> None:
    monkeypatch.setenv("GENLAB_MODE", env)
    assert server_mode(address) is expected


def test_a_bad_mode_is_one_sentence(monkeypatch) -> None:
    monkeypatch.setenv("GENLAB_MODE", "school")
    with pytest.raises(Exception, match="GENLAB_MODE must be 'personal' or 'classroom'; got 'school'"):
        server_mode("127.0.0.1")


def test_rights_follow_the_secret_not_the_name(genlab_home, monkeypatch) -> None:
    users = UserDirectory(genlab_home / "runs.sqlite")
    ana, secret_a = users.issue("Ana")
    impostor, secret_b = users.issue("Ana")         # same label, another person
    assert ana.id != impostor.id and ana.name == impostor.name
    assert users.find(secret_a) == ana and users.find(secret_b) == impostor
    assert users.find("Ana") is None and users.find("") is None and users.find(None) is None
    assert secret_a not in (genlab_home / "runs.sqlite").read_bytes().decode("latin-1")   # only a hash is kept
    a, b = Viewer(ana, Mode.CLASSROOM), Viewer(impostor, Mode.CLASSROOM)
    assert a.can_manage(ana.id) and not b.can_manage(ana.id) and not b.can_see(ana.id)
    assert b.can_see(ana.id, shared=True) and not b.can_manage(ana.id)


def test_the_teacher_token_grants_everything_until_it_changes(genlab_home, monkeypatch) -> None:
    users = UserDirectory(genlab_home / "runs.sqlite")
    user, secret = users.issue("Mr. Keating")
    monkeypatch.delenv("GENLAB_TEACHER_TOKEN", raising=False)
    with pytest.raises(AccessError, match="no teacher token is set"):
        users.make_teacher(user, "anything")
    monkeypatch.setenv("GENLAB_TEACHER_TOKEN", TOKEN)
    with pytest.raises(AccessError, match="not the teacher token"):
        users.make_teacher(user, "guess")
    assert not users.find(secret).teacher
    users.make_teacher(user, TOKEN)
    teacher = users.find(secret)
    assert teacher.teacher and Viewer(teacher, Mode.CLASSROOM).can_manage("u-someone-else")
    users.drop_teacher(teacher)                                   # given up (typed in a student's browser)
    assert not users.find(secret).teacher
    users.make_teacher(user, TOKEN)
    monkeypatch.setenv("GENLAB_TEACHER_TOKEN", "a-new-token")     # a new token revokes the old grants
    assert not users.find(secret).teacher


def test_names_are_one_clean_line() -> None:
    from genlib.access import clean_name
    assert clean_name("  Ada\n  Lovelace\t") == "Ada Lovelace"
    with pytest.raises(Exception, match="type a name"):
        clean_name(" \n ")
    with pytest.raises(Exception, match="at most 40 characters"):
        clean_name("x" * 41)


def test_server_paths_are_redacted() -> None:
    text = "internal error (OSError: [Errno 2] No such file: '/home/teacher/.genlab/runs/x'); see /var/log/genlab.log"
    shown = redact_paths(text)
    assert "/home" not in shown and "/var/log" not in shown and "internal error (OSError" in shown
    assert redact_paths("a ratio 1/2 and https://example.org/a/b") == "a ratio 1/2 and https://example.org/a/b"


# --- the engine: ownership and fair shares -------------------------------------------------------------------------
class Named(Task):
    model_name = "test task"
    dataset_name = "none"


class Gate(Named):
    """A job that holds its slot until released (what the scheduler sees of any job), recording when it started."""

    def __init__(self, name: str, started: list[str], release: threading.Event):
        self.name, self.started, self.release = name, started, release

    def label(self) -> str:
        return self.name

    def execute(self, ctx) -> TaskResult:
        self.started.append(self.name)
        while not self.release.wait(0.01):
            if ctx.should_stop():
                return TaskResult(stopped=True)
        return TaskResult()


def _classroom_users() -> tuple[User, User, User]:
    return User("u-a", "Ana"), User("u-b", "Ben"), User("u-t", "Teacher", teacher=True)


def test_free_slots_go_round_robin_between_users(monkeypatch) -> None:
    """Ana queues four jobs before Ben and Cleo queue one each: with one slot, Ben and Cleo do not wait for all of
    Ana's (a FIFO queue would start them fifth and sixth)."""
    monkeypatch.setenv("GENLAB_USER_QUEUED", "10")
    manager = JobManager(max_concurrent=1, classroom=True)
    started: list[str] = []
    gates = {}
    ana, ben, _ = _classroom_users()
    cleo = User("u-c", "Cleo")
    for owner, names in ((ana, ["a1", "a2", "a3", "a4"]), (ben, ["b1"]), (cleo, ["c1"])):
        for name in names:
            gates[name] = threading.Event()
            manager.submit(Gate(name, started, gates[name]), owner=owner)
    order = []
    for _ in range(6):
        settle = [j for j in manager.jobs() if j.status is JobStatus.RUNNING]
        while not settle:
            settle = [j for j in manager.jobs() if j.status is JobStatus.RUNNING]
        job = settle[0]
        order.append(job.spec.name)
        gates[job.spec.name].set()
        job.wait(10)
    assert order == ["a1", "b1", "c1", "a2", "a3", "a4"], order


def test_per_user_running_limit_leaves_room_for_others(monkeypatch) -> None:
    """Two slots, one job at a time per student: Ana's second job waits although a slot is free, and Ben's starts."""
    manager = JobManager(max_concurrent=2, classroom=True)
    started: list[str] = []
    release = threading.Event()
    ana, ben, _ = _classroom_users()
    a1 = manager.submit(Gate("a1", started, release), owner=ana)
    a2 = manager.submit(Gate("a2", started, release), owner=ana)
    b1 = manager.submit(Gate("b1", started, release), owner=ben)
    try:
        for job in (a1, b1):
            while job.status is not JobStatus.RUNNING:
                job.wait(0.01)
        assert a2.status is JobStatus.QUEUED
    finally:
        release.set()
        assert manager.wait_all(10)
    assert sorted(started) == ["a1", "a2", "b1"]


def test_limits_are_checked_at_submission_with_their_variable(monkeypatch) -> None:
    monkeypatch.setenv("GENLAB_USER_QUEUED", "2")
    manager = JobManager(max_concurrent=1, classroom=True)
    release = threading.Event()
    ana, ben, teacher = _classroom_users()
    try:
        for i in range(3):   # one running + two waiting
            manager.submit(Gate(f"a{i}", [], release), owner=ana)
        with pytest.raises(QuotaError, match="at most 3 are allowed per user.*GENLAB_USER_QUEUED") as err:
            manager.submit(Gate("a3", [], release), owner=ana)
        assert err.value.env == "GENLAB_USER_QUEUED"
        manager.submit(Gate("b0", [], release), owner=ben)       # Ben is not held back by Ana's queue
        for i in range(4):
            manager.submit(Gate(f"t{i}", [], release), owner=teacher)   # the teacher is exempt
        monkeypatch.setenv("GENLAB_QUEUE_MAX", "7")
        with pytest.raises(QuotaError, match="server's queue is full.*GENLAB_QUEUE_MAX"):
            manager.submit(Gate("t9", [], release), owner=teacher)
    finally:
        release.set()
        assert manager.wait_all(10)


def test_a_sweep_is_submitted_all_or_none(monkeypatch) -> None:
    manager = JobManager(max_concurrent=1, classroom=True)
    release = threading.Event()
    ana, _, _ = _classroom_users()
    tasks = [Gate(f"p{i}", [], release) for i in range(12)]
    with pytest.raises(QuotaError, match="a sweep of 12 grid points is over the limit of 9.*GENLAB_SWEEP_MAX"):
        manager.submit_all(tasks, owner=ana, sweep_points=12)
    assert manager.jobs() == []          # nothing was queued
    try:
        jobs = manager.submit_all(tasks[:9], owner=ana, sweep_points=9)   # the largest sweep the limit promises fits
        assert len(jobs) == 9
        with pytest.raises(QuotaError, match="GENLAB_USER_QUEUED"):       # and fills the student's queue
            manager.submit(Gate("one more", [], release), owner=ana)
    finally:
        release.set()
        assert manager.wait_all(10)


def test_stopping_a_waiting_job_takes_it_out_of_the_queue_at_once() -> None:
    manager = JobManager(max_concurrent=1, classroom=True)
    release = threading.Event()
    ana, _, _ = _classroom_users()
    running = manager.submit(Gate("running", [], release), owner=ana)
    waiting = manager.submit(Gate("waiting", [], release), owner=ana)
    try:
        manager.stop(waiting.id)
        assert waiting.status is JobStatus.STOPPED and waiting.wait(0)   # not when its turn would have come
        assert manager.for_viewer(Viewer(ana, Mode.CLASSROOM)).active == 1
    finally:
        release.set()
        assert manager.wait_all(10)
    assert running.status is JobStatus.DONE


def test_personal_mode_keeps_todays_limits() -> None:
    limits = ShareLimits.for_mode(classroom=False, slots=2)
    assert limits.running_per_user == 2 and limits.sweep_points == 25
    check_submission(limits, PERSONAL_USER.id, False, 25, 0, 0, sweep_points=25)   # a 25-point sweep still fits


def test_a_user_cannot_stop_cancel_or_clear_anothers_job() -> None:
    manager = JobManager(max_concurrent=1, classroom=True)
    release = threading.Event()
    ana, ben, teacher = _classroom_users()
    a_view, b_view, t_view = (manager.for_viewer(Viewer(u, Mode.CLASSROOM)) for u in (ana, ben, teacher))
    running = a_view.submit(Gate("a-running", [], release))
    waiting = a_view.submit(Gate("a-waiting", [], release))
    try:
        assert [j.id for j in b_view.jobs()] == [] and b_view.active == 0
        assert {j.id for j in t_view.jobs()} == {running.id, waiting.id}
        for action in (b_view.stop, b_view.cancel, b_view.get):
            with pytest.raises(KeyError, match="no job"):
                action(running.id)
        with pytest.raises(AccessError, match="belongs to another user"):
            manager.stop(running.id, by=Viewer(ben, Mode.CLASSROOM))
        assert not running.stop_requested
        t_view.cancel(waiting.id)                   # the teacher can
        assert waiting.status is JobStatus.STOPPED
        b_view.remove_finished()                    # Ben's "Clear finished" leaves Ana's list alone…
        t_view.remove_finished()                    # …and so does the teacher's (their own list only)
        assert waiting in manager.jobs()
        a_view.remove_finished()
        assert waiting not in manager.jobs()
    finally:
        release.set()
        manager.wait_all(10)


# --- the store: owners, sharing, URLs --------------------------------------------------------------------------------
@pytest.fixture
def two_runs(genlab_home):
    """One finished training run each for Ana and Ben, through the engine (so the owner comes from the job)."""
    store = RunStore(genlab_home)
    manager = JobManager(max_concurrent=1, store=store, classroom=True)
    ana, ben, _ = _classroom_users()
    ds = gaussian_dataset(n_train=300, n_test=100)
    jobs = [manager.submit(TrainSpec("gmm", ds, steps=1, eval_period_s=None, name=f"gmm of {u.name}"), owner=u)
            for u in (ana, ben)]
    assert manager.wait_all(60)
    assert all(j.status is JobStatus.DONE for j in jobs), [j.error for j in jobs]
    return store, jobs[0].run_id, jobs[1].run_id


def test_the_store_records_the_owner_and_scopes_reads(two_runs) -> None:
    store, a_run, b_run = two_runs
    ana, ben, teacher = _classroom_users()
    assert (store.get(a_run).owner, store.get(a_run).owner_name) == ("u-a", "Ana")
    a, b, t = (store.for_viewer(Viewer(u, Mode.CLASSROOM)) for u in (ana, ben, teacher))
    assert [r.id for r in b.list()] == [b_run]
    assert {r.id for r in t.list()} == {a_run, b_run}
    for read in (b.get, b.load, b.results, b.delete):
        with pytest.raises(StoreError, match=f"no run with id '{a_run}'$"):   # as if it did not exist; no path
            read(a_run)
    with pytest.raises(StoreError):
        b.set_shared(a_run, True)
    a.set_shared(a_run, True)
    assert {r.id for r in b.list()} == {a_run, b_run}
    assert b.load(a_run).sample(5, seed=0).shape == (5, 2)    # shared: readable…
    with pytest.raises(AccessError, match="belongs to another user"):
        b.delete(a_run)                                        # …but read-only
    assert store.get(a_run).shared
    t.delete(a_run)                                            # the teacher may
    assert [r.id for r in store.list()] == [b_run]


def test_the_cli_records_who_ran_it(genlab_home, capsys, tmp_path) -> None:
    from genlib.cli import main
    csv = tmp_path / "d.csv"
    ds = gaussian_dataset(n_train=80, n_test=20)
    csv.write_text("a,b\n" + "\n".join(f"{x:.5f},{y:.5f}" for x, y in ds.train) + "\n")
    assert main(["train", "--model", "gmm", "--data", str(csv), "--steps", "1", "--quiet"]) == 0
    run_id = capsys.readouterr().out.strip().splitlines()[-1]
    record = RunStore(genlab_home).get(run_id)
    assert record.owner == cli_user().id and record.owner.startswith("cli:")
    assert main(["runs", "--json", "--owner", "command line"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in listed] == [run_id] and listed[0]["owner_name"].endswith("(command line)")
    assert main(["runs", "--owner", "nobody-by-that-name"]) == 0
    assert run_id not in capsys.readouterr().out


def test_presets_are_per_user_and_the_teacher_can_broadcast(genlab_home) -> None:
    from genlib.presets import PresetError, delete_preset, list_presets, save_preset
    ana, ben, teacher = _classroom_users()
    a, b, t = (Viewer(u, Mode.CLASSROOM) for u in (ana, ben, teacher))
    save_preset("density", "Lesson 1", {"bw": "0.3"}, a)
    save_preset("density", "Lesson 1", {"bw": "0.9"}, b)        # the same name does not touch Ana's
    assert [p.params for p in list_presets("density", a)] == [{"bw": "0.3"}]
    assert [p.params for p in list_presets("density", b)] == [{"bw": "0.9"}]
    with pytest.raises(PresetError, match="only the teacher"):
        save_preset("density", "For all", {"bw": "1"}, b, broadcast=True)
    save_preset("density", "For all", {"bw": "1"}, t, broadcast=True)
    assert "For all" in [p.name for p in list_presets("density", b)]
    with pytest.raises(PresetError, match="only the teacher can delete it"):
        delete_preset("density", "For all", b)
    delete_preset("density", "Lesson 1", b)
    assert [p.params for p in list_presets("density", a) if p.name == "Lesson 1"] == [{"bw": "0.3"}]


# --- two browser sessions of one app (AppTest) --------------------------------------------------------------------
def _session() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)


def _join(at: AppTest, name: str) -> AppTest:
    at.run()
    assert [t.value for t in at.title][:1] == ["Welcome to GenLab"], [t.value for t in at.title]
    at.text_input(key="identity_name").input(name)
    next(b for b in at.button if b.label == "Join").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(f"**{name}**" in m.value for m in at.sidebar.markdown), [m.value for m in at.sidebar.markdown]
    return at


def _sidebar_text(at: AppTest) -> str:
    return " ".join(p.text for p in at.sidebar.get("progress")) + " " + " ".join(b.label for b in at.sidebar.button)


@pytest.fixture
def classroom(monkeypatch):
    monkeypatch.setenv("GENLAB_MODE", "classroom")
    monkeypatch.setenv("GENLAB_TEACHER_TOKEN", TOKEN)
    yield
    from streamlit import config

    from pages.common import _manager
    for manager in list(_manager_instances(_manager)):
        manager.shutdown(10)
    config.set_option("client.showErrorDetails", "full")   # classroom mode set it for the process
    from pages import text
    text.REDACT_PATHS = False


def _manager_instances(cached) -> list[JobManager]:
    from pages.common import default_root
    try:
        return [cached(str(default_root()), True)]
    except Exception:  # noqa: BLE001 - nothing was created
        return []


def _start_training(at: AppTest) -> None:
    """Press Start training, and confirm when the page estimates the budget above five minutes (a busy machine)."""
    at.button(key="train_start").click().run()
    if any(b.key == "train_start_anyway" for b in at.button):
        at.button(key="train_start_anyway").click().run()


def test_two_sessions_cannot_touch_each_others_work(classroom, genlab_home) -> None:
    a = _join(_session(), "Ana")
    a.switch_page("pages/train.py").run()
    a.selectbox(key="train_model").set_value("vae").run()
    a.number_input(key="train_steps").set_value(100_000).run()
    _start_training(a)
    assert not a.exception, [e.value for e in a.exception]
    assert "vae" in _sidebar_text(a)
    from pages.common import _manager, default_root
    manager = _manager(str(default_root()), True)
    (job,) = manager.jobs()
    assert job.owner.name == "Ana"

    b = _join(_session(), "Ana")                 # same name, another browser: none of Ana's rights
    assert not [x for x in b.sidebar.button if x.key and job.id in x.key]
    assert "vae" not in _sidebar_text(b)
    b.switch_page("pages/train.py").run()
    assert not b.exception
    assert not [x for x in b.button if x.key in (f"stop_{job.id}", f"cancel_{job.id}")]
    while job.run_id is None or job.snapshot().step < 5:   # a run with some training in it (stopping keeps it)
        job.wait(0.05)
    b.switch_page("pages/runs.py").run()
    assert not b.dataframe or job.run_id not in set(b.dataframe[0].value["run id"])
    b.query_params["run"] = job.run_id           # A's run id in B's address: not found
    b.switch_page("pages/runs.py").run()
    assert not b.exception and not [x for x in b.button if x.key == "runs_stop"]

    teacher = _join(_session(), "Teacher")
    teacher.text_input(key="identity_token").input(TOKEN)
    teacher.button(key="identity_teacher").click().run()
    assert any("teacher" in m.value for m in teacher.sidebar.markdown)
    assert "(Ana)" in _sidebar_text(teacher)
    teacher.button(key=f"sidebar_stop_{job.id}").click().run()
    assert job.wait(60) and job.status is JobStatus.STOPPED
    settle_jobs(manager)

    a.switch_page("pages/runs.py").run()           # Ana shares her stopped run with the class
    a.query_params["run"] = job.run_id
    a.switch_page("pages/runs.py").run()
    a.toggle(key=f"runs_share_{job.run_id}").set_value(True).run()
    assert RunStore(genlab_home).get(job.run_id).shared

    b.query_params["run"] = job.run_id
    b.switch_page("pages/runs.py").run()
    assert not b.exception, [e.value for e in b.exception]
    assert job.run_id in set(b.dataframe[0].value["run id"])
    keys = {x.key for x in b.button} | {x.key for x in b.toggle}
    assert "runs_delete" not in keys and "runs_continue" not in keys and f"runs_share_{job.run_id}" not in keys
    assert any("read-only" in c.value for c in b.caption)
    b.button(key="sidebar_clear").click().run() if any(x.key == "sidebar_clear" for x in b.sidebar.button) else None
    assert job in manager.jobs()                     # B's "Clear finished" did not touch Ana's list
    assert RunKind.TRAIN.value == RunStore(genlab_home).get(job.run_id).kind


def test_a_refused_submission_is_one_clear_line_on_the_page(classroom, monkeypatch) -> None:
    monkeypatch.setenv("GENLAB_USER_QUEUED", "1")
    monkeypatch.setenv("GENLAB_USER_RUNNING", "1")
    a = _join(_session(), "Ana")
    a.switch_page("pages/train.py").run()
    a.selectbox(key="train_model").set_value("vae").run()
    a.number_input(key="train_steps").set_value(100_000).run()
    for _ in range(3):
        _start_training(a)
    assert not a.exception, [e.value for e in a.exception]
    from pages.text import shown
    refused = [shown(e.value) for e in a.error if "GENLAB_USER_QUEUED" in shown(e.value)]
    assert len(refused) == 1 and "at most 2 are allowed per user" in refused[0], [e.value for e in a.error]


def test_classroom_errors_are_one_line_without_server_paths(classroom) -> None:
    """A job that fails with a bug shows one line, no traceback expander and no log path; the Runs page names no
    folder of the server."""
    from streamlit import config
    a = _join(_session(), "Ana")
    assert config.get_option("client.showErrorDetails") == "none"   # an uncaught exception is one generic line
    from pages.common import _manager, default_root
    from genlib.access import Viewer as V
    manager = _manager(str(default_root()), True)

    class Broken(Named):
        def label(self) -> str:
            return "broken task"

        def execute(self, ctx) -> TaskResult:
            open("/nonexistent/dir/file.bin")   # a bug with a server path in its message
            return TaskResult()

    viewer = a.session_state["_genlab_viewer"]
    assert isinstance(viewer, V)
    job = manager.submit(Broken(), owner=viewer.user)
    job.wait(10)
    a.switch_page("pages/runs.py").run()
    from pages.text import shown
    text = shown(" ".join(str(c.value) for c in a.sidebar.caption) + " ".join(m.value for m in a.markdown))
    assert "internal error" in text and "/nonexistent" not in text and "genlab.log" not in text
    assert not [x for x in a.sidebar.expander if x.label == "Details for a bug report"]
    assert str(default_root()) not in text
    from pages.text import md   # every message that reaches a page through md() loses its server paths
    assert shown(md("cannot write the run folder /srv/genlab/runs/x: disk full")) == \
        "cannot write the run folder …: disk full"


def test_a_queued_job_stays_selected_when_it_starts(classroom) -> None:
    """The Train page keys a job by its job id: when a queued job starts and gets its run id, the page keeps showing
    it (a key or label that changed made the browser send a stale choice: a KeyError in the load benchmark)."""
    a = _join(_session(), "Ana")
    a.switch_page("pages/train.py").run()
    a.selectbox(key="train_model").set_value("vae").run()
    a.number_input(key="train_steps").set_value(100_000).run()
    _start_training(a)
    _start_training(a)       # waits: one running job per student
    from pages.common import _manager, default_root
    manager = _manager(str(default_root()), True)
    first, second = manager.jobs()
    assert second.status is JobStatus.QUEUED
    shown_key = a.selectbox(key="train_view").value
    assert shown_key == second.id
    while first.snapshot().step < 2:
        first.wait(0.05)
    manager.stop(first.id)
    while second.run_id is None:
        second.wait(0.05)
    a.run()
    assert not a.exception, [e.value for e in a.exception]
    assert a.selectbox(key="train_view").value == second.id
    assert a.query_params["run"] == second.run_id     # the address names its run once it has one
