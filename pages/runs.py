"""Runs: every run in the store, of every kind and status — reopen it on its page, sample from it, continue it,
download it, delete it."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from genlib import figures
from genlib.metrics import METRICS
from genlib.params import Param
from genlib.store import JobStatus, RunKind, StoreError
from pages import urlstate
from pages.addressing import dataset_of
from genlib.access import Mode
from pages.common import (PAGE_OF_KIND, continuable, continue_run, csv_bytes, damaged_rows_warning, ensure_app_shell,
                          fmt_time, job_manager, param_widget, run_store, samples_csv, shown_error, steps_to_continue)
from pages.identity import viewer
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

table = pd.DataFrame([{
    "id": r.id, "created": fmt_time(r.created), "kind": KIND_LABEL.get(r.kind, r.kind), "model": r.model,
    "data": r.dataset, "status": r.status, "steps": r.steps, "elapsed (s)": r.elapsed, "device": r.device,
    "AD": r.metrics.get("anderson_darling"), "Kendall": r.metrics.get("kendall_error"),
    "continues": r.parent or "", "error": shown_error(r.error or ""),
    **({"owner": (r.owner_name or "—") + (" · shared" if r.shared else "")} if classroom else {}),
} for r in records])
event = st.dataframe(table, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                     key="runs_table", column_config={
                         "AD": st.column_config.NumberColumn(format="%.3f", help=METRICS["anderson_darling"].description),
                         "Kendall": st.column_config.NumberColumn(format="%.3f", help=METRICS["kendall_error"].description)})
st.download_button("Download this table (CSV)", table.pipe(csv_bytes), file_name="genlab_runs.csv",
                   mime="text/csv")

rows = event.selection.rows if event is not None else []
ids = list(table["id"])
# The run in the address (?run=<id>, what "Open it on its page" links carry); a stale id falls back with one note.
run_id = table.iloc[rows[0]]["id"] if rows else urlstate.choice("…or choose a run", ids, "run")
st.query_params["run"] = run_id   # always, even the newest: the address must still name it once newer runs exist
record = store.get(run_id)
yours = store.can_manage(record)   # the owner, or the teacher; a shared run of someone else is read-only

st.subheader(f"Run {record.id}")
c1, c2 = st.columns([2, 3])
with c1:
    st.markdown(f"**{md(record.name)}** ({KIND_LABEL.get(record.kind, record.kind)}) — **{record.status}**, "
                f"{record.steps} of {record.total or record.steps} steps in {record.elapsed:.1f}s on "
                f"{md(record.device or '—')}, seed {record.seed}")
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
    inputs = {k: shown_error(v) if isinstance(v, str) else v for k, v in record.inputs.items()}
    st.json({"settings": record.config, "inputs": inputs, "dataset parameters": record.dataset_params,
             "transform": record.transform, "metrics": record.metrics, "summary": record.summary}, expanded=False)
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
