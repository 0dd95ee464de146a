"""Widgets and resources shared by every page. Thin glue: all algorithms live in genlib."""
from __future__ import annotations

import runpy
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import streamlit as st
import torch

from genlib.data import DataError, Dataset, csv_safe, list_datasets, load_dataset
from genlib.data.csv_loader import min_rows
from genlib.logs import log_file
from genlib.models import REGISTRY
from genlib.params import Param, params_of
from genlib.access import Mode, redact_paths
from genlib.errors import UserError
from genlib.store import RunKind, RunRecord, RunStore, ViewerStore, default_root
from genlib.train import Job, JobManager, JobSnapshot, JobStatus, Task, TrainSettings, ViewerJobs, \
    continue_spec
from genlib.train.estimate import format_duration, format_eta, format_rate
from genlib.uploads import list_uploads, load_upload, save_upload
from genlib.words import plain_columns
from pages import urlstate
from pages.identity import mode, viewer
from pages import text as text_rules
from pages.text import md

APP_PATH = Path(__file__).resolve().parents[1] / "app.py"
UPLOAD = "upload a CSV…"
MAX_UPLOAD_MB = 50
STATUS_ICON = {JobStatus.QUEUED: ":material/schedule:", JobStatus.RUNNING: ":material/directions_run:",
               JobStatus.DONE: ":material/check_circle:", JobStatus.FAILED: ":material/error:",
               JobStatus.STOPPED: ":material/stop_circle:", JobStatus.INTERRUPTED: ":material/power_off:"}


def ensure_app_shell() -> None:
    """Route a page that Streamlit started on its own through ``app.py``.

    Streamlit still treats a ``pages/`` folder beside the entry script as a legacy (v1) multipage app until
    the first ``st.navigation`` call of the process (and ``AppTest`` resets that flag on every run): a first
    request for ``/train`` would run the page alone, without the navigation, page config and job monitor.
    Here the flag is switched off and ``app.py`` is run in place, in the same script run, so widget clicks
    of that run are not lost; then the outer, legacy run stops. (Private flag, checked against Streamlit
    1.67; the AppTest and browser tests open pages directly to catch a change.)
    """
    from streamlit.runtime.pages_manager import PagesManager
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        runpy.run_path(str(APP_PATH), run_name="__main__")
        st.stop()


# --- process-wide resources ----------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def _store(root: str) -> RunStore:
    return RunStore(root)


def whole_store() -> RunStore:
    """The run store under $GENLAB_HOME itself (one object per root, shared by every session): for the app's start
    checks. Pages use :func:`run_store`."""
    return _store(str(default_root()))


def run_store() -> ViewerStore:
    """The run store as this session's user sees it (genlib.access): every run in personal mode and for the
    teacher; a student's own runs and the shared ones on a classroom server."""
    return whole_store().for_viewer(viewer())


@st.cache_resource(show_spinner=False)
def _manager(root: str, classroom: bool) -> JobManager:
    return JobManager(store=_store(root), classroom=classroom)


def job_manager() -> ViewerJobs:
    """The process's one engine as this session's user sees it: jobs outlive page changes and are seen from every
    tab of their owner (and by the teacher); submissions are recorded as this user's and go through the fair-share
    limits."""
    return _manager(str(default_root()), mode() is Mode.CLASSROOM).for_viewer(viewer())


def submit_job(task: Task) -> Job | None:
    """Submit a task as this session's user; a refusal (a fair-share limit, another user's run) is shown at the top
    of the next page run (:func:`show_refusal`) and gives None. Safe in button callbacks."""
    try:
        return job_manager().submit(task)
    except UserError as exc:
        st.session_state["_refused"] = str(exc)
        return None


def show_refusal() -> None:
    """The message of a submission refused in a callback (see :func:`submit_job`), once, above the page."""
    msg = st.session_state.pop("_refused", None)
    if msg:
        st.error(md(msg), icon=":material/block:")


def damaged_rows_warning(store: RunStore) -> None:
    """One warning when rows of the store could not be read back (they are skipped by every list)."""
    damaged = store.damaged_ids() if viewer().sees_everything else []   # row ids of everyone: the teacher's
    if damaged:
        st.warning(f"{len(damaged)} damaged row(s) of the run store were skipped ({', '.join(damaged[:3])}"
                   f"{', …' if len(damaged) > 3 else ''}); `genlib runs --check` says what is wrong.",
                   icon=":material/warning:")


def start_page_job(spec: Task, session_key: str, note: str = "") -> Job | None:
    """Submit a job from a page's button callback and remember its id under ``session_key`` in this session, so
    the page can show its own jobs (:func:`page_jobs`) among every job of the process. None when it was refused
    (the message shows above the page)."""
    job = submit_job(spec)
    if job is None:
        return None
    st.session_state.setdefault(session_key, []).append(job.id)
    st.toast(f"Started {md(spec.label())} ({job.id}){note}")
    return job


def page_jobs(session_key: str) -> list[Job]:
    """The jobs this session started under ``session_key``, oldest first."""
    ids = set(st.session_state.get(session_key, []))
    return [j for j in job_manager().jobs() if j.id in ids]


# --- datasets ----------------------------------------------------------------------------------------------
@st.cache_data(show_spinner="Building dataset…", max_entries=32)
def _builtin(name: str, params: tuple[tuple[str, Any], ...]) -> Dataset:
    return load_dataset(name, **dict(params))


@st.cache_data(show_spinner="Reading CSV…", max_entries=8)
def stored_upload(uid: str) -> Dataset:
    return load_upload(uid, max_bytes=MAX_UPLOAD_MB * 1024 * 1024)  # ids name content: safe to cache forever


def _keep_upload(data: bytes, file_name: str) -> str:
    """Check and keep an uploaded CSV under $GENLAB_HOME/datasets (genlib.uploads); its id goes in the address."""
    return save_upload(data, file_name, max_bytes=MAX_UPLOAD_MB * 1024 * 1024, owner=viewer().user.id)


def dataset_picker(key: str, default: str = "finance", allow_upload: bool = True,
                   show_params: bool = True) -> Dataset | None:
    """Built-in dataset (with its parameter widgets), a CSV uploaded before, or a new upload. An upload is kept with
    an id (``upload:<id>`` in the address), so the address reopens it without uploading again. Bad files show one
    clear error."""
    infos = {info.name: info for info in list_datasets()}
    uploads = {u.ref: u for u in list_uploads(viewer=viewer())} if allow_upload else {}
    options = list(infos) + list(uploads) + ([UPLOAD] if allow_upload else [])
    p = urlstate.choice_param("dataset", options, default,
                              "Built-in data are generated or shipped with GenLab; nothing is downloaded.")
    wkey = f"{key}_dataset"
    choice = urlstate.bind(p, wkey, lambda: st.selectbox(
        "Dataset", options, key=wkey, help=p.help,
        format_func=lambda o: f"{uploads[o].name} (uploaded, {uploads[o].id})" if o in uploads else o))
    if choice in uploads:
        try:
            return stored_upload(uploads[choice].id)
        except DataError as exc:
            st.error(f"Cannot use {md(uploads[choice].name)}: {md(exc)}")
            return None
    if choice == UPLOAD:
        file = st.file_uploader("CSV file with a header row, numeric columns only", type=["csv"],
                                key=f"{key}_upload", max_upload_size=MAX_UPLOAD_MB)
        if file is None:
            st.info(f"Upload a CSV to continue: numeric columns, a header row, at least {min_rows()} rows, no missing "
                    "values.")
            return None
        try:
            uid = _keep_upload(file.getvalue(), file.name)
            ds = stored_upload(uid)
        except DataError as exc:
            st.error(f"Cannot use {md(file.name)}: {md(exc)}")
            return None
        urlstate.set_url(wkey, f"upload:{uid}")  # the address names the kept file, not the upload box
        return ds
    info = infos[choice]
    st.caption(info.description)
    values: dict[str, Any] = {}
    if show_params and info.params:
        with st.expander("Dataset parameters"):
            for p in info.params:
                values[p.name] = param_widget(p, f"{key}_{choice}")
    try:
        return _builtin(choice, tuple(sorted(values.items())))
    except DataError as exc:
        st.error(md(exc))
        return None


def param_widget(p: Param, key: str, where: Any = None) -> Any:
    """One widget from a setting's metadata (genlib.params): the same builder for datasets, models, AVO fits and
    anomaly scenarios, so no page hard-codes a knob's range, step or default. Its value lives in the address too
    (pages/urlstate.py: seeded from it before the widget exists, hence no ``value=`` here, and written back).
    ``where``: a column or container to draw in (default: the current one)."""
    wkey = f"{key}_{p.name}"
    return urlstate.bind(p, wkey, lambda: _param_widget(p, wkey, where if where is not None else st))


def _param_widget(p: Param, wkey: str, where: Any) -> Any:
    if p.kind is bool:
        widget = where.toggle if p.widget == "toggle" else where.checkbox
        return widget(p.title, help=p.help, key=wkey)
    if p.kind is tuple and p.choices is not None:  # several of the choices
        return tuple(where.multiselect(p.title, list(p.choices), format_func=p.show, help=p.help, key=wkey))
    if p.choices:
        options = list(p.choices)
        if p.widget == "radio":
            return where.radio(p.title, options, format_func=p.show, help=p.help, key=wkey, horizontal=True)
        if p.widget == "slider":
            return where.select_slider(p.title, options, format_func=p.show, help=p.help, key=wkey)
        return where.selectbox(p.title, options, format_func=p.show, help=p.help, key=wkey)
    if p.kind in (int, float):
        lo, hi = (p.kind(p.range[0]), p.kind(p.range[1])) if p.range else (None, None)
        if p.widget == "slider" and p.range:
            step = p.kind(p.step or (1 if p.kind is int else (hi - lo) / 20))
            return p.kind(where.slider(p.title, lo, hi, step=step, help=p.help, key=wkey))
        if p.kind is int:
            step = int(p.step or 1)
            value = where.number_input(p.title, min_value=lo, max_value=hi, step=step, help=p.help, key=wkey)
            return None if value is None else int(value)
        default = p.default  # None: an empty box, meaning "the library's own choice"
        step = p.step or (max(abs(default or 1.0) / 10, 1e-6) if p.log else ((hi - lo) / 100 if p.range else 0.01))
        value = where.number_input(p.title, min_value=lo, max_value=hi, step=float(step), format="%.4g", help=p.help,
                                   key=wkey, placeholder="default" if default is None else None)
        return None if value is None else float(value)
    if p.kind is tuple:  # a list of values, typed comma-separated; make_config checks each item
        text = where.text_input(p.title, help=p.help, key=wkey)
        return text if text.strip() else p.default
    return where.text_input(p.title, help=p.help, key=wkey)


def settings_widgets(config_cls: type, key: str, exclude: tuple[str, ...] = (), advanced: bool = True
                     ) -> dict[str, Any]:
    """Widgets for every setting of a config dataclass: its own settings first, then each group (e.g. the
    optimiser settings a family shares) under a small heading of its own. ``advanced=False`` leaves out the
    settings declared advanced (seeds, sizes); they keep their defaults."""
    out: dict[str, Any] = {}
    group = None
    settings = params_of(config_cls)
    groups = list(dict.fromkeys(p.group for p in settings))
    for p in sorted(settings, key=lambda p: (p.group is not None, groups.index(p.group))):
        if p.name in exclude or (p.advanced and not advanced):
            continue
        if p.group and p.group != group:
            st.caption(p.group.capitalize())
        group = p.group
        out[p.name] = param_widget(p, key)
    return out


#: The training settings (genlib.train.TrainSettings) by name, for :func:`train_setting`.
TRAIN = {p.name: p for p in params_of(TrainSettings)}


def train_setting(name: str, key: str, where: Any = None, **changes: Any) -> Any:
    """One training setting's widget (key ``f"{key}_{name}"``), with a page's own default or label in ``changes``;
    the device choices are what this machine offers."""
    p = replace(TRAIN[name], **changes)
    if name == "device":
        p = replace(p, choices=tuple(device_options()))
    return param_widget(p, key, where)


def config_widgets(model_name: str, key: str) -> dict[str, Any]:
    """The model's settings as widgets, built from its Config (no page hard-codes a model's knobs)."""
    return settings_widgets(REGISTRY[model_name].Config, f"{key}_{model_name}")


def device_options() -> list[str]:
    return ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else [])


# --- job monitor -------------------------------------------------------------------------------------------
#: The page that shows a run of each kind, and the address parameter that names the run there.
PAGE_OF_KIND = {
    RunKind.TRAIN.value: ("pages/train.py", "run"),
    RunKind.AVO.value: ("pages/simulator.py", "run"),
    RunKind.ANOMALY.value: ("pages/anomaly.py", "run"),
    RunKind.GENERATION.value: ("pages/lorenz.py", "gen"),
    RunKind.SWEEP.value: ("pages/compare.py", "sweep"),
    RunKind.PROJECTION.value: ("pages/latent.py", "proj"),
}


def _status_line(s: JobSnapshot, owner: bool = False) -> str:
    """One job's line; ``owner``: name whose job it is (the teacher's view of a classroom)."""
    extra = ""
    if s.status is JobStatus.RUNNING:   # a speed that never reads 0 while it moves, and the time left
        extra = "".join(f" · {p}" for p in (format_rate(s.rate), format_eta(s.eta_s, s.paused)) if p)
    whose = f" ({md(s.owner_name)})" if owner else ""
    status = "paused" if s.paused else s.status.value
    return f"{STATUS_ICON[s.status]} **{md(s.name)}**{whose} — {status} · {s.step}/{s.total}{extra}"


def progress_text(s: JobSnapshot, with_steps: bool = True, named: bool = True, phase: str = "") -> str:
    """A job's progress line, the same on every page: (its name,) status, its phase, steps, its speed (never
    "0 steps/s" while it moves), the time left and its speed cap."""
    status = "paused" if s.paused else s.status.value
    parts = [f"{md(s.name)} — {status}" if named else status, phase,
             f"step {s.step:,}/{s.total:,}" if with_steps else ""]
    if s.status is JobStatus.RUNNING:
        parts += [format_rate(s.rate), format_eta(s.eta_s) if not s.paused else ""]
        if s.max_rate:
            parts.append(f"capped at {s.max_rate:g} steps/s")
    elif s.status.finished and s.elapsed:
        parts.append(f"took {format_duration(s.elapsed)}")
    return " · ".join(p for p in parts if p)


def shown_error(text: str) -> str:
    """Text shown as plain text (a table cell, a JSON value) as this server may show it: without server paths on a
    classroom server, the same rule :func:`pages.text.md` applies to Markdown."""
    return redact_paths(text) if text_rules.REDACT_PATHS else text


def follow_job(job: Job, rerun_also: Callable[[JobSnapshot], bool] | None = None, with_steps: bool = True,
               every: float = 1.0) -> None:
    """A page's live progress line for one job (its phase, steps, speed and time left), refreshed every ``every``
    seconds; the whole page reruns when the job ends (or when ``rerun_also`` says so), so it can draw the result."""
    @st.fragment(run_every=every)
    def body() -> None:
        s = job.snapshot()
        live = s.live if isinstance(s.live, dict) else {}
        phase = live.get("phase", "waiting for a free slot" if s.status is JobStatus.QUEUED else "")
        st.progress(s.fraction, text=progress_text(s, with_steps=with_steps, phase=phase))
        if s.status.finished or (rerun_also is not None and rerun_also(s)):
            st.rerun()

    body()


def continue_run(run_id: str, steps: int) -> None:
    """Start a job that continues a stored run from its last checkpoint (a button callback). The Train page then shows
    the new run; the message and a full rerun come from :func:`sidebar_job_monitor`, outside the sidebar's fragment
    (an element drawn from a fragment's callback is lost, and Streamlit warns)."""
    try:
        store = run_store()
        store.viewer.check_manage(store.get(run_id).owner, f"run {run_id}")   # a shared run is read-only
        spec = continue_spec(store, run_id, int(steps))
    except UserError as exc:
        st.session_state["_notice"] = (f"Cannot continue {run_id}: {md(exc)}", ":material/error:")
    else:
        job = submit_job(spec)
        if job is not None:
            st.session_state["train_pending"] = job.id   # the Train page shows it, as one it started itself
            st.session_state["_notice"] = (f"Continuing {run_id} for {int(steps)} more steps ({job.id})", None)
    st.session_state["_rerun_app"] = True


def steps_to_continue(record: RunRecord) -> int:
    """What Continue offers by default: the rest of the planned steps, or as many again when the plan was done."""
    done = record.checkpoint_step if record.status == JobStatus.INTERRUPTED.value and record.checkpoint_step \
        else record.steps
    left = (record.total or 0) - (done or 0)
    return int(left if left > 0 else max(done or 0, 1))


def continuable(record: RunRecord, continued: set[str] | None = None) -> bool:
    """A training run of an iterative model with a checkpoint, stopped or interrupted before its planned end, and not
    continued yet (``continued``: the store's :meth:`~genlib.store.RunStore.continued`, when the caller has it)."""
    cls = REGISTRY.get(record.model)
    continued = run_store().continued() if continued is None else continued
    return (record.kind == RunKind.TRAIN.value and cls is not None and cls.iterative and record.checkpoint is not None
            and record.status in (JobStatus.STOPPED.value, JobStatus.INTERRUPTED.value)
            and record.id not in continued)


def sidebar_job_monitor() -> None:
    """All jobs of this process in the sidebar, refreshed every second while any is active, and the runs a crash or
    a restart interrupted, each with Continue."""
    manager = job_manager()
    notice = st.session_state.pop("_notice", None)
    if notice is not None:
        st.toast(notice[0], icon=notice[1])
    with st.sidebar:
        st.markdown("### Jobs")
        st.fragment(run_every=1.0 if manager.active else None)(_monitor_body)()


def _interrupted_runs(continued: set[str]) -> list[RunRecord]:
    """Interrupted runs not yet continued, newest first: what the sidebar offers to continue."""
    store = run_store()   # the user's own (a shared run of someone else is theirs to continue, not this user's)
    return [r for r in store.list(kinds=None, status=JobStatus.INTERRUPTED.value)
            if r.id not in continued and store.can_manage(r)][:3]


def _monitor_body() -> None:
    manager = job_manager()
    if st.session_state.pop("_rerun_app", False):
        st.rerun(scope="app")   # a Continue pressed in here: the page shows the new run
    snaps = manager.snapshots()
    continued = run_store().continued()   # read once per refresh: it scans the table
    interrupted = _interrupted_runs(continued)
    if not snaps and not interrupted:
        st.caption("No jobs yet. Start one on the Train page; it keeps running while you browse.")
        return
    teacher_view = viewer().mode is Mode.CLASSROOM and viewer().user.teacher
    for s in reversed(snaps[-8 if not teacher_view else -30:]):
        st.progress(s.fraction, text=_status_line(s, owner=teacher_view))
        if s.status is JobStatus.FAILED and s.error:
            st.caption(f":material/error: {md(s.error)}")
            failure_details(s, key=f"sidebar_{s.id}")
        if not s.status.finished:
            st.button("Stop", key=f"sidebar_stop_{s.id}", on_click=manager.stop, args=(s.id,),
                      help="End the work now and keep what it has done")
        elif s.status is JobStatus.STOPPED and s.kind == RunKind.TRAIN.value and s.run_id and s.total > s.step \
                and s.run_id not in continued:
            st.button(f"Continue ({s.total - s.step} steps)", key=f"sidebar_cont_{s.id}", on_click=continue_run,
                      args=(s.run_id, s.total - s.step), help="Train on from where it stopped, to its planned steps")
    for r in interrupted:
        st.progress(min(1.0, (r.steps or 0) / max(r.total or 1, 1)),
                    text=f"{STATUS_ICON[JobStatus.INTERRUPTED]} **{md(r.name)}** — interrupted at step {r.steps}")
        if continuable(r, continued):
            st.button(f"Continue ({steps_to_continue(r)} steps)", key=f"sidebar_cont_{r.id}", on_click=continue_run,
                      args=(r.id, steps_to_continue(r)),
                      help="The app or command running it stopped; train on from its last checkpoint")
        else:
            st.caption("No checkpoint was written before it stopped.")
    was_active = st.session_state.get("_monitor_active", False)
    st.session_state["_monitor_active"] = manager.active > 0
    if was_active and manager.active == 0:
        st.rerun(scope="app")  # all jobs ended: refresh the page once so it can show results
    if any(s.status.finished for s in snaps):
        st.button("Clear finished", key="sidebar_clear", on_click=manager.remove_finished,
                  help="Remove finished jobs from this list (their runs stay in the store)")


def failure_details(s: JobSnapshot, key: str) -> None:
    """For a job that failed with a bug: its traceback and the log file, one click away from its entry (personal mode
    only: a classroom server shows one line, and the details stay in the server log)."""
    if not s.traceback or mode() is Mode.CLASSROOM:
        return
    with st.expander("Details for a bug report"):
        st.code(s.traceback, language="text")
        path = log_file()
        if path.is_file():  # read on click only: this runs in the sidebar's refresh every second
            st.download_button("Download the log", path.read_bytes, file_name=path.name, mime="text/plain",
                               key=f"{key}_log")
            st.caption(f"The log is {path}.")


# --- downloads and tables ------------------------------------------------------------------------------------
def csv_bytes(frame: pd.DataFrame, index: bool = False) -> bytes:
    """A table as a CSV download, with headers and text cells a spreadsheet would run as formulas neutralised
    (genlib.data.csv_safe): column names come from users' files."""
    return csv_safe(frame).to_csv(index=index).encode()


def samples_csv(rows: np.ndarray, columns: list[str]) -> bytes:
    return csv_bytes(pd.DataFrame(rows, columns=columns))


def describe(ds: Dataset) -> pd.DataFrame:
    """Summary statistics per column, headed in words ("standard deviation", "99th percentile"); quantiles show
    heavy tails better than mean ± std."""
    df = pd.DataFrame(ds.train, columns=ds.columns)
    stats = df.describe(percentiles=[0.5, 0.99]).T
    stats["skew"] = df.skew()
    return plain_columns(stats)


def fmt_time(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))
