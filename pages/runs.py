"""Runs: every run in the store, of every kind and status — reopen it on its page, sample from it, continue it,
download it, delete it."""
from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
import streamlit as st

from genlib import figures
from genlib.access import AccessError
from genlib.compare import metric_column
from genlib.metrics.suite import SUITE
from genlib.params import Param
from genlib.store import (MAX_RUN_NAME, MAX_RUN_NOTE, JobStatus, RunKind, RunRecord, StoreError, default_run_name,
                          run_label, settings_rows, settings_text, swept)
from genlib.words import MISSING, plain_columns
from pages import urlstate
from pages.addressing import dataset_of
from genlib.access import Mode
from pages.common import (PAGE_OF_KIND, continuable, continue_run, csv_bytes, damaged_rows_warning, ensure_app_shell,
                          fmt_time, job_manager, param_widget, run_store, samples_csv, shown_error, steps_to_continue)
from pages.identity import viewer
from pages.presentation import page_sections
from pages.presets_ui import page_state
from pages.text import md

ensure_app_shell()

st.title("Runs")
page_state("runs")
store = run_store()
you = viewer()
classroom = you.mode is Mode.CLASSROOM
store.reconcile()   # a command-line training killed since the app started shows as interrupted, not as running
where = "on this server" if classroom else f"at `{store.root}` (set `GENLAB_HOME` to move it)"  # no server path
st.markdown(f"Every run is kept in the run store {where} from the moment it starts: a restart of the app, or a "
            "crash, does not lose it. A run whose process died is **interrupted**; it keeps its last checkpoint and "
            "can be continued. Select a run to reopen it on its page, draw new samples or continue training.")
if classroom:
    st.caption("On this classroom server you see your own runs and the runs shared with the class (read-only)"
               + (", and, as the teacher, everyone's." if you.user.teacher else "."))


def _share(run_id: str) -> None:
    run_store().set_shared(run_id, bool(st.session_state.get(f"runs_share_{run_id}")))


def _save_name_and_note(run_id: str) -> None:
    """Form callback (before the next script run, so every table already shows the new name). The store checks
    who may: the owner or the teacher."""
    try:
        run_store().rename(run_id, st.session_state.get(f"runs_name_{run_id}"))
        run_store().set_note(run_id, st.session_state.get(f"runs_note_{run_id}"))
    except (StoreError, AccessError) as exc:
        st.session_state["_runs_name_error"] = str(exc)
    else:
        st.toast("Saved its name and note")


def _cell(value: Any) -> str:
    """A value of a details table as text ("—" for nothing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return MISSING
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)[:200]
    return shown_error(value) if isinstance(value, str) else str(value)


def _details(record: RunRecord) -> pd.DataFrame:
    """Everything else a run holds (its data, inputs, results) as rows of words, not a collapsed ``{...}``."""
    rows = [{"part": "data", "item": k, "value": _cell(v)} for k, v in record.dataset_params.items()]
    rows.append({"part": "data", "item": "transform", "value": _cell(record.transform)})
    rows += [{"part": "inputs", "item": k, "value": _cell(v)} for k, v in record.inputs.items()]
    rows += [{"part": "results", "item": metric_column(k) if k in SUITE else k, "value": _cell(v)}
             for k, v in record.metrics.items()]
    rows += [{"part": "results", "item": k, "value": _cell(v)} for k, v in record.summary.items() if k != "warnings"]
    frame = pd.DataFrame(rows, columns=["part", "item", "value"])
    frame["item"] = frame["item"].map(lambda k: k if k in SUITE else str(k).replace("_", " "))
    return frame


def _history(record: RunRecord) -> list[float]:
    """The sparkline of the table: Anderson–Darling at each rescoring."""
    return [float(h["anderson_darling"]) for h in (record.history or {}).get("metric_history") or []
            if isinstance(h.get("anderson_darling"), (int, float)) and math.isfinite(h["anderson_darling"])]


KIND_LABEL = {RunKind.TRAIN.value: "training", RunKind.AVO.value: "simulator fit (AVO)",
              RunKind.ANOMALY.value: "anomaly scoring", RunKind.GENERATION.value: "generation",
              RunKind.SWEEP.value: "sweep", RunKind.PROJECTION.value: "latent projection (UMAP)"}
# The filters and the sampling settings live in the address too (``?runs_kinds=train,avo&runs_status=done``).
KINDS = Param("kinds", (), "", choices=tuple(KIND_LABEL), kind=tuple, item=str)
STATUSES = Param("status", (), "", choices=tuple(s.value for s in JobStatus if s is not JobStatus.QUEUED), kind=tuple,
                 item=str)
SAMPLE_ROWS = Param("n", 1000, "", range=(1, 100_000), label="rows to sample")
SAMPLE_SEED = Param("seed", 0, "", range=(0, 2**31 - 1))
c = st.columns(3)
# bound as param_widget binds (seeded from the address, no default here), with a placeholder of their own
kinds = urlstate.bind(KINDS, "runs_kinds", lambda: c[0].multiselect(
    "kinds", list(KIND_LABEL), format_func=KIND_LABEL.get, key="runs_kinds", placeholder="all kinds"))
statuses = urlstate.bind(STATUSES, "runs_status", lambda: c[1].multiselect(
    "status", list(STATUSES.choices), key="runs_status", placeholder="any status"))
records = [r for r in store.list(kinds=tuple(kinds) or None) if not statuses or r.status in statuses]
damaged_rows_warning(store)
if not records:
    st.info("No runs yet. Train a model on the **Train** page; it appears here as soon as it starts."
            if not kinds and not statuses else "No run matches these filters.")
    st.stop()

METRIC_COLUMNS = {"anderson_darling": metric_column("anderson_darling"),
                  "kendall_error": metric_column("kendall_error")}
raw = pd.DataFrame([{
    "run": run_label(r), "history": _history(r), "settings": settings_text(r.model, r.config, swept(r)), "note": r.note,
    "run_id": r.id, "created": fmt_time(r.created), "kind": KIND_LABEL.get(r.kind, r.kind), "model": r.model,
    "data": r.dataset, "status": r.status, "steps": r.steps, "elapsed": r.elapsed, "device": r.device or None,
    "anderson_darling": r.metrics.get("anderson_darling"), "kendall_error": r.metrics.get("kendall_error"),
    "continues": r.parent or "", "error": shown_error(r.error or ""),
    **({"owner": (r.owner_name or MISSING) + (" · shared" if r.shared else "")} if classroom else {}),
} for r in records])
for col in ("anderson_darling", "kendall_error"):   # None → NaN: shown as "—", sorted as numbers
    raw[col] = pd.to_numeric(raw[col], errors="coerce").astype(float)
table = plain_columns(raw, extra={**METRIC_COLUMNS, "history": "Anderson–Darling over time"})
names = dict(zip(raw.columns, table.columns))
ids = list(raw["run_id"])
labels = dict(zip(ids, raw["run"]))
_MISSING_HELP = " — : not measured for this run (a run of another kind, or it stopped before its first scoring)."

show = page_sections("runs", ["All runs", "The chosen run"])
rows: list[int] = []
if show("All runs"):
    event = st.dataframe(
        table.style.format(na_rep=MISSING).format({names[c]: "{:.3f}" for c in METRIC_COLUMNS}
                                                  | {names["elapsed"]: "{:.1f}"}, na_rep=MISSING),
        hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="runs_table",
        column_config={
            names["run"]: st.column_config.TextColumn(names["run"], pinned=True,
                                                      help="its name: the one given to it, or one built from its "
                                                           "model, data, changed settings and steps; #… ends its id"),
            names["history"]: st.column_config.LineChartColumn(names["history"],
                                                               help="Anderson–Darling at each rescoring while it "
                                                                    "trained: going down means converging"),
            **{names[k]: st.column_config.Column(names[k], help=SUITE[k].description + _MISSING_HELP)
               for k in METRIC_COLUMNS}})
    rows = event.selection.rows if event is not None else []
    st.download_button("Download this table (CSV)", table.drop(columns=[names["history"]]).pipe(csv_bytes),
                       file_name="genlab_runs.csv", mime="text/csv")

if not show("The chosen run"):
    st.stop()
# The run in the address (?run=<id>, what "Open it on its page" links carry); a stale id falls back with one note.
run_id = ids[rows[0]] if rows else urlstate.choice("…or choose a run", ids, "run", format_func=lambda i: labels[i])
st.query_params["run"] = run_id   # always, even the newest: the address must still name it once newer runs exist
record = store.get(run_id)
yours = store.can_manage(record)   # the owner, or the teacher; a shared run of someone else is read-only

st.subheader(md(run_label(record)))
c1, c2 = st.columns([2, 3])
with c1:
    st.markdown(f"Run `{record.id}` ({KIND_LABEL.get(record.kind, record.kind)}) — **{record.status}**, "
                f"{record.steps:,} of {record.total or record.steps:,} steps in {record.elapsed:.1f}s on "
                f"{md(record.device or MISSING)}, training seed {record.seed}")
    if yours:
        with st.form(f"runs_naming_{record.id}", border=True):
            st.text_input("Name", value=record.title or "", max_chars=MAX_RUN_NAME, key=f"runs_name_{record.id}",
                          placeholder=default_run_name(record.model, record.dataset, record.config,
                                                       record.total or record.steps, record.id, record.seed),
                          help="shown in every table, chart legend and download, followed by the end of its id; "
                               "leave it empty for the name built from its settings")
            st.text_area("Note", value=record.note, max_chars=MAX_RUN_NOTE, key=f"runs_note_{record.id}",
                         height=90, placeholder="why you ran it, what it showed",
                         help="kept with the run; shown beside it in the Runs and Compare tables")
            st.form_submit_button("Save name and note", on_click=_save_name_and_note, args=(record.id,))
        if "_runs_name_error" in st.session_state:
            st.error(md(st.session_state.pop("_runs_name_error")))
    elif record.note:
        st.markdown("**Note:** " + md(record.note))
    if record.parent:
        st.caption(f"Continues run {record.parent}.")
    children = [r.id for r in store.list(kinds=None) if r.parent == record.id]
    if children:
        st.caption(f"Continued by run {', '.join(children)}.")
    if classroom:
        st.caption(f"Owner: {md(record.owner_name or 'nobody (made before users existed)')}"
                   + (" · shared with the class" if record.shared else "") + ("" if yours else " · read-only"))
        if yours and record.status != JobStatus.RUNNING.value:
            st.toggle("Share with the class (read-only)", value=record.shared, key=f"runs_share_{record.id}",
                      on_change=_share, args=(record.id,),
                      help="Every student can open it, sample from it and download it; only you and the teacher "
                           "can stop, continue, or delete it.")
    if record.error:
        (st.warning if record.status == JobStatus.INTERRUPTED.value else st.error)(md(record.error))
    for warning in (record.summary or {}).get("warnings", []):   # far-out or non-finite samples, NaN metrics
        st.warning(md(warning))
    if record.kind in PAGE_OF_KIND and record.status != JobStatus.FAILED.value:
        page, param = PAGE_OF_KIND[record.kind]
        st.page_link(page, label="Open it on its page →", icon=":material/open_in_new:",
                     query_params={param: record.id})
    settings = settings_rows(record)   # every setting of its model (the changed ones ticked)
    if settings:
        st.markdown("**Settings**")
        st.dataframe(plain_columns(pd.DataFrame(settings)), hide_index=True, width="stretch", key="runs_settings",
                     column_config={"changed from the default": st.column_config.CheckboxColumn(
                         "changed from the default", help="ticked where this run differs from the model's default")})
    with st.expander("Its data, inputs and results"):
        st.dataframe(plain_columns(_details(record)), hide_index=True, width="stretch", key="runs_details")
with c2:
    hist = record.history or {}
    if hist.get("losses"):
        st.plotly_chart(figures.curves.loss_curves(hist["loss_steps"], hist["losses"], title="Training losses"),
                        key="runs_loss")

live = job_manager().find_run(record.id)
if record.status == JobStatus.RUNNING.value:
    if live is not None:
        snap = live.snapshot()
        st.progress(snap.fraction, text=f"running · step {snap.step}/{snap.total}")
        st.button("Stop", key="runs_stop", on_click=live.stop, help="End it now and keep what it has learned")
    else:
        st.info("This run is running in another process (a command-line training, or another app on this store).")

if yours and continuable(record):
    st.markdown("**Continue** trains on from the last checkpoint (weights, optimiser state and random streams), as "
                "a new run that carries this one's curves.")
    cc = st.columns([1, 1, 3])
    more = cc[0].number_input("more steps", 1, 1_000_000, steps_to_continue(record), key=f"runs_more_{record.id}")
    cc[1].button("Continue", type="primary", key="runs_continue", on_click=continue_run, args=(record.id, more))

if record.kind == RunKind.TRAIN.value and record.status not in (JobStatus.FAILED.value, JobStatus.RUNNING.value) \
        and record.checkpoint is not None:
    n = param_widget(SAMPLE_ROWS, "runs")
    seed = param_widget(SAMPLE_SEED, "runs")
    try:
        fitted = store.load(record.id)
        fake = fitted.sample(int(n), seed=int(seed))
    except (StoreError, FloatingPointError) as exc:
        st.error(f"Cannot sample from this run: {md(exc)}")
    else:
        shape = fitted.info.get("image_shape")
        if shape:
            st.plotly_chart(figures.samples.image_grid(fake[:40], tuple(shape)), key="runs_img")
        else:
            data = dataset_of(record)   # the held-out rows beside the samples, when the data can be rebuilt
            real = None if data is None or data.n_features != fake.shape[1] else data.test
            if fake.shape[1] == 2:
                st.plotly_chart(figures.samples.scatter_2d(real, fake, columns=fitted.columns), key="runs_sc")
            else:
                st.plotly_chart(figures.samples.marginal_histograms(real, fitted.columns, fake), key="runs_hist")
            st.caption("Generated rows" + (" over the held-out rows of its data." if real is not None else
                                           " (its data are not available here to show beside them)."))
        d1, d2 = st.columns(2)
        d1.download_button("Download samples (CSV)", samples_csv(fake, fitted.columns),
                           file_name=f"{record.id}_samples.csv", mime="text/csv", key="runs_dl_samples")
        if record.checkpoint.exists():
            d2.download_button("Download checkpoint (.pt)", record.checkpoint.read_bytes(),
                               file_name=f"{record.id}.pt", mime="application/octet-stream", key="runs_dl_ckpt")

if yours and record.status != JobStatus.RUNNING.value:
    with st.expander("Delete this run"):
        st.warning("Deleting removes the record and its files from the store. This cannot be undone.")
        if st.button("Delete run", type="primary", key="runs_delete"):
            store.delete(record.id)
            st.query_params.pop("run", None)
            st.toast(f"Deleted run {record.id}")
            st.rerun()
