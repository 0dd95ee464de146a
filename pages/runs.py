"""Runs: every finished run from the store — reload it, sample from it, download it, delete it."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from genlib import figures
from genlib.metrics import METRICS
from genlib.store import StoreError
from pages import urlstate
from pages.common import ensure_app_shell, fmt_time, run_store, samples_csv
from pages.presets_ui import page_state

ensure_app_shell()

st.title("Runs")
page_state("runs")
store = run_store()
st.markdown(f"Every run that ended (done, stopped or failed) is kept in the run store at `{store.root}` "
            "(set `GENLAB_HOME` to move it), so it survives a restart of the app. Select a run to reload "
            "its model and draw new samples.")

records = store.list()
if not records:
    st.info("No runs yet. Train a model on the **Train** page; it appears here when it ends.")
    st.stop()

table = pd.DataFrame([{
    "id": r.id, "created": fmt_time(r.created), "model": r.model, "dataset": r.dataset, "status": r.status,
    "steps": r.steps, "elapsed (s)": r.elapsed, "device": r.device,
    "AD": r.metrics.get("anderson_darling"), "Kendall": r.metrics.get("kendall_error"), "error": r.error or "",
} for r in records])
event = st.dataframe(table, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                     key="runs_table", column_config={
                         "AD": st.column_config.NumberColumn(format="%.3f", help=METRICS["anderson_darling"].description),
                         "Kendall": st.column_config.NumberColumn(format="%.3f", help=METRICS["kendall_error"].description)})
st.download_button("Download this table (CSV)", table.to_csv(index=False).encode(), file_name="genlab_runs.csv",
                   mime="text/csv")

rows = event.selection.rows if event is not None else []
run_id = table.iloc[rows[0]]["id"] if rows else urlstate.choice("…or choose a run", list(table["id"]), "runs_pick")
record = store.get(run_id)

st.subheader(f"Run {record.id}")
c1, c2 = st.columns([2, 3])
with c1:
    st.markdown(f"**{record.model}** on **{record.dataset}** — {record.status}, {record.steps} steps in "
                f"{record.elapsed:.1f}s on {record.device or '—'}, seed {record.seed}")
    if record.error:
        st.error(record.error)
    st.json({"config": record.config, "dataset parameters": record.dataset_params, "transform": record.transform,
             "metrics": record.metrics}, expanded=False)
with c2:
    hist = record.history or {}
    if hist.get("losses"):
        st.plotly_chart(figures.curves.loss_curves(hist["loss_steps"], hist["losses"], title="Training losses"),
                        key="runs_loss")

if record.status != "failed":
    n = st.number_input("rows to sample", 1, 100_000, 1000, key="runs_n")
    seed = st.number_input("seed", 0, 2**31 - 1, 0, key="runs_seed")
    try:
        fitted = store.load(record.id)
        fake = fitted.sample(int(n), seed=int(seed))
    except (StoreError, FloatingPointError) as exc:
        st.error(f"Cannot sample from this run: {exc}")
    else:
        shape = fitted.info.get("image_shape")
        if shape:
            st.plotly_chart(figures.samples.image_grid(fake[:40], tuple(shape)), key="runs_img")
        elif fake.shape[1] == 2:
            st.plotly_chart(figures.samples.scatter_2d(fake, columns=fitted.columns), key="runs_sc")
        else:
            st.plotly_chart(figures.samples.marginal_histograms(fake, fitted.columns), key="runs_hist")
        d1, d2 = st.columns(2)
        d1.download_button("Download samples (CSV)", samples_csv(fake, fitted.columns),
                           file_name=f"{record.id}_samples.csv", mime="text/csv", key="runs_dl_samples")
        if record.checkpoint and record.checkpoint.exists():
            d2.download_button("Download checkpoint (.pt)", record.checkpoint.read_bytes(),
                               file_name=f"{record.id}.pt", mime="application/octet-stream", key="runs_dl_ckpt")

with st.expander("Delete this run"):
    st.warning("Deleting removes the record and its checkpoint from the store. This cannot be undone.")
    if st.button("Delete run", type="primary", key="runs_delete"):
        store.delete(record.id)
        st.toast(f"Deleted run {record.id}")
        st.rerun()
