"""Runs by address: the run a page shows is named in its URL (``?run=<id>``, ``?gen=``, ``?sweep=``, ``?runs=a,b``),
so a reload, a bookmark or a link shows the same result, live (a job of this process) or stored (the run store).

Why not ``st.session_state``: a session ends with the browser tab, the store and the URL do not. The session keeps
only the widget's value, as a cache of what the URL says.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import streamlit as st

from genlib.data import DATASETS, DataError, Dataset
from genlib.models.fitted import FittedModel
from genlib.store import JobStatus, RunRecord, StoreError
from genlib.train import JobSnapshot
from pages import urlstate
from pages.common import _builtin, run_store, stored_upload


def url_value(param: str) -> str | None:
    value = st.query_params.get(param)
    return value or None


def set_url_value(param: str, value: str | None) -> None:
    """Write (or, for None, remove) one query parameter; unchanged values are not rewritten."""
    urlstate.set_url(param, value)


def url_list(param: str) -> list[str]:
    """``?runs=a,b`` → ["a", "b"]."""
    return [v for v in (url_value(param) or "").split(",") if v.strip()]


def set_url_list(param: str, values: Sequence[str]) -> None:
    set_url_value(param, ",".join(dict.fromkeys(values)) or None)


def not_found(what: str, value: str, param: str) -> None:
    """An id the page cannot show (unknown, deleted, another kind or other data): named in the page's one
    "Ignored from the address" line (pages.urlstate), the default view shown, the stale parameter dropped."""
    urlstate.note(f"{param}={value} (no such {what} here: unknown, deleted, or of another kind or data)")
    set_url_value(param, None)


def url_select(label: str, options: Sequence[str], param: str, key: str, *,
               format_func: Callable[[str], str] = str, url_of: Callable[[str], str | None] = lambda k: k,
               key_of: Callable[[str], str | None] | None = None, prefer: str | None = None,
               default: str | None = None, what: str = "run", **kwargs: Any) -> str | None:
    """A selectbox whose value is the URL's ``param``: read from it when the page opens, written back on every run.

    ``url_of`` maps an option to its URL value (None: no parameter, e.g. a job not started yet); ``key_of`` the
    other way (default: the value itself when it is an option). ``prefer`` (a run just started from the page) wins
    over the URL; an unknown URL value gets :func:`not_found` and ``default`` (else the first option)."""
    options = list(options)
    key_of = key_of or (lambda v: v if v in options else None)
    wanted = url_value(param)
    if not options:
        if wanted is not None:
            not_found(what, wanted, param)
        return None
    if prefer in options:
        st.session_state[key] = prefer
    elif wanted is not None:
        chosen = key_of(wanted)
        if chosen is None:
            not_found(what, wanted, param)
        else:
            st.session_state[key] = chosen
    if st.session_state.get(key) not in options:
        st.session_state[key] = default if default in options else options[0]

    def sync() -> None:
        set_url_value(param, url_of(st.session_state[key]))

    choice = st.selectbox(label, options, key=key, format_func=format_func, on_change=sync, **kwargs)
    if choice not in options:
        # The browser sent the label of an option that has gone since its last run (Streamlit then returns the
        # label itself): show the default; the next run's check above puts the widget right.
        choice = default if default in options else options[0]
    set_url_value(param, url_of(choice))
    return choice


# --- stored runs ------------------------------------------------------------------------------------------------
def stored(run_id: str | None, kinds: Sequence[str] | None = None) -> RunRecord | None:
    """The stored record of ``run_id`` (of one of ``kinds``), None when there is none."""
    if not run_id:
        return None
    try:
        record = run_store().get(run_id)
    except StoreError:
        return None
    return record if kinds is None or record.kind in kinds else None


@st.cache_resource(show_spinner="Loading the stored run…", max_entries=16)
def _load(root: str, run_id: str) -> FittedModel:
    return run_store().load(run_id)


def load_model(run_id: str) -> FittedModel:
    """A stored run's model, loaded once per run id (a StoreError when it has none, or this user may not see it:
    the cache is shared by every session, so the check comes first)."""
    run_store().get(run_id)
    return _load(str(run_store().root), run_id)


@st.cache_data(show_spinner="Reading the stored results…", max_entries=16)
def _results(root: str, run_id: str) -> dict[str, Any]:
    return run_store().results(run_id)


def results(run_id: str) -> dict[str, Any]:
    """A stored run's arrays (``results.npz``), read once per run id (checked first, as :func:`load_model`)."""
    run_store().get(run_id)
    return _results(str(run_store().root), run_id)


def dataset_of(record: RunRecord) -> Dataset | None:
    """The data a stored run was trained on, rebuilt from its parameters: a built-in dataset, or the kept upload it
    names (None when neither can be found)."""
    upload = (record.dataset_params or {}).get("upload")
    if upload:
        try:
            return stored_upload(str(upload))
        except (DataError, OSError):
            return None
    if record.dataset not in DATASETS:
        return None
    try:
        return _builtin(record.dataset, tuple(sorted((record.dataset_params or {}).items())))
    except (DataError, TypeError):
        return None


def snapshot_of(record: RunRecord) -> JobSnapshot:
    """A stored run seen as a finished job, so one view draws both (its curves, metrics and progress line)."""
    history = record.history or {}
    try:
        status = JobStatus(record.status)
    except ValueError:
        status = JobStatus.FAILED
    return JobSnapshot(
        id=record.id, name=record.name, model=record.model, dataset=record.dataset, status=status,
        step=record.steps, total=record.total or record.steps, elapsed=record.elapsed,
        steps_per_s=record.steps / record.elapsed if record.elapsed else 0.0, device=record.device or "",
        seed=record.seed, loss_steps=list(history.get("loss_steps", [])),
        losses={k: list(v) for k, v in history.get("losses", {}).items()}, metrics=dict(record.metrics),
        metric_history=[dict(m) for m in history.get("metric_history", [])], error=record.error,
        run_id=record.id, config=dict(record.config), kind=record.kind)
