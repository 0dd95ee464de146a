"""Compare: train several models on the same data at once and watch a live table of the metric suite."""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from genlib import catalog, compare

from genlib import figures
from genlib.data import Dataset
from genlib.train.estimate import format_eta, format_rate
from genlib.metrics.likelihood import is_discrete
from genlib.metrics.suite import DEFAULT_EVAL_ROWS, SUITE, floor, per_column, reference_for, score_model
from genlib.models import REGISTRY, ModelError, compatible_models
from genlib.params import Param
from genlib.sources import cite
from genlib.store import RunKind, RunRecord, StoreError, new_run_id, run_label
from genlib.train import Job, TrainSpec
from pages.addressing import not_found, set_url_value, url_list, url_select, url_value
from genlib.errors import UserError
from pages.common import (TRAIN, config_widgets, csv_bytes, damaged_rows_warning, dataset_picker, ensure_app_shell,
                          fmt_time, job_manager, param_widget, run_store, samples_csv, train_setting)
from pages.presentation import page_sections
from pages.presets_ui import page_state
from pages import urlstate
from pages.text import md
from pages.urlstate import choice_param

ensure_app_shell()

DEFAULT_MODELS = ("copula", "vae", "nsf")
#: Shorter than each model's own default so a comparison finishes in minutes on a laptop CPU.
COMPARE_STEPS = 3000

# The page's own settings; each widget's value lives in the address under its key ("cmp_" + the name: ``?cmp_n=500``).
SHOW_HISTORY = Param("show_hist", False, "", widget="toggle",
                     label="Show metrics over time and the loss curves of all runs")
N_PLOT = Param("n", 1000, "", range=(100, 20_000), step=500, label="samples per run")  # default: the test rows
CORRELATION = Param("corr", "pearson", "", choices=("pearson", "kendall"), widget="radio", label="correlation")
SWEEP_STEPS = Param("sweep_steps", 1500, "", range=(10, 200_000), step=500, label="steps per grid point")
SWEEP_METRIC = Param("sweep_metric", next(iter(SUITE)), "", choices=tuple(SUITE), label="Heatmap metric",
                     labels={k: info.title for k, info in SUITE.items()})
SECTIONS = ["Choose models and start them together", "Live metric table", "Side by side", "Hyperparameter sweep"]

st.title("Compare models")
page_state("compare")
st.markdown(
    "Which model is best on *this* data, and by how much? Tick several models and start them together: they "
    "train at the same time in the background while the table below rescores each on fresh samples every few "
    "seconds. The first row is the **oracle floor** — the same metrics between two real samples — so you can "
    "read how far each model is from “as good as more real data”.")

manager = job_manager()
store = run_store()


# --- helpers (thin: all computation lives in genlib) -----------------------------------------------------------
def _ds_key(ds: Dataset) -> tuple[str, str, tuple[int, ...]]:
    return ds.name, repr(sorted(ds.params.items())), ds.test.shape


@st.cache_resource(show_spinner="Scoring the stored run…", max_entries=64)
def _stored_metrics(run_id: str, key: tuple, _ds: Dataset) -> dict[str, float]:
    """Today's suite on a stored run (its record may predate metrics added since)."""
    return score_model(reference_for(_ds), store.load(run_id))


def _matching_jobs(ds: Dataset) -> list[Job]:
    return [e.job for e in catalog.runs_on(ds, manager.jobs(), None) if e.job is not None]


def _start_all(specs: list[TrainSpec]) -> None:
    """Button callback: runs before the next script run, so the table already shows the new jobs."""
    try:
        manager.submit_all(list(specs))
    except UserError as exc:   # a fair-share limit: nothing was started
        st.session_state["_refused"] = str(exc)
        return
    st.toast(f"Started {len(specs)} run(s): " + ", ".join(md(s.label()) for s in specs))


def _queue_sweep(plan: compare.SweepPlan, base: dict[str, Any], common: dict[str, Any], ds: Dataset) -> None:
    """One ordinary training job per grid point, each recording the sweep it belongs to (genlib.compare.SweepMember),
    then the sweep's own job, which follows them; its id is chosen first, so the URL names it at once."""
    sweep_id = new_run_id()
    specs = compare.sweep_specs(plan, sweep_id, ds, base, **common)
    try:   # all or none, the sweep size checked against the fair-share limit
        members = manager.submit_all(list(specs), sweep_points=len(specs))
    except UserError as exc:
        st.session_state["_refused"] = str(exc)
        return
    manager.submit(compare.SweepTask(plan, ds, base, common, members=members, run_id=sweep_id))  # in the sidebar
    set_url_value("sweep", sweep_id)
    st.toast(f"Queued {len(specs)} sweep runs of {plan.model} (sweep {sweep_id})")


def _record_of(run_id: str | None) -> RunRecord | None:
    """A run's row (its name and note), or None: not stored yet, or gone."""
    if not run_id:
        return None
    try:
        return store.get(run_id)
    except StoreError:
        return None


def _live_rows(ds: Dataset) -> list[compare.RunRow]:
    return [compare.row_from_snapshot(s, _record_of(s.run_id)) for s in (j.snapshot() for j in _matching_jobs(ds))]


def _entry_label(entry: catalog.Entry) -> str:
    """The name the table gives the same run (catalog labels predate run names)."""
    if entry.record is not None:
        return run_label(entry.record)
    assert entry.job is not None
    s = entry.job.snapshot()
    return compare.snapshot_label(s, _record_of(s.run_id))


def _page_colors(ds: Dataset, stored_ids: list[str]) -> dict[str, str]:
    """One colour per run for every chart of the page (the table's runs: live jobs and the stored runs added),
    from genlib.figures.style: a run keeps it whichever subset a chart draws."""
    runs = {r.label: r.color_key for r in _live_rows(ds)}
    for run_id in stored_ids:
        record = _record_of(run_id)
        if record is not None:
            runs[run_label(record)] = record.id
    return figures.style.assign_colors(runs)


def _hidden(p: Param, key: str) -> Any:
    """A setting of a section not drawn now (presentation mode shows one section): its value from the address, as
    its widget would have it."""
    wkey = f"{key}_{p.name}"
    urlstate.seed(p, wkey)
    return st.session_state.get(wkey, p.default)


def _live_losses(ds: Dataset) -> dict[str, tuple[list[int], dict[str, list[float]]]]:
    """The live runs' loss curves, each under the name the table gives it."""
    out = {}
    for j in _matching_jobs(ds):
        snap = j.snapshot()
        if snap.losses:
            out[compare.snapshot_label(snap, _record_of(snap.run_id))] = (snap.loss_steps, snap.losses)
    return out


def _sweep_name(record: RunRecord) -> str:
    """A sweep named by its plan in words (older sweeps stored their name with the settings' keys)."""
    try:
        return f"sweep of {compare.SweepPlan.from_dict(record.inputs['plan']).describe()}"
    except (KeyError, TypeError):
        return record.name


def _live_run_ids(ds: Dataset) -> list[str]:
    return [j.run_id for j in _matching_jobs(ds) if j.run_id]


def _table_members(ds: Dataset, run_ids: list[str]) -> None:
    """Add a sweep's stored members to the comparison (the live ones are in the table anyway)."""
    live = set(_live_run_ids(ds))
    chosen = list(st.session_state.get("cmp_stored", []))
    st.session_state["cmp_stored"] = list(dict.fromkeys(chosen + [r for r in run_ids if r not in live]))


_MISSING_HELP = " — : could not be computed (non-finite or overflowing samples, or not defined for these data)."


def _column_config(keys: list[str], names: dict[str, str]) -> dict[str, Any]:
    """Keyed by the words the table shows (the frame is renamed before it is drawn)."""
    cfg: dict[str, Any] = {
        names[key]: st.column_config.Column(f"{names[key]} {SUITE[key].arrow}",  # numbers formatted by the Styler
                                            help=SUITE[key].description + _MISSING_HELP)
        for key in keys}
    cfg[names["history"]] = st.column_config.LineChartColumn(
        names["history"], help=f"{SUITE[compare.SPARK_METRIC].title} at each rescoring, beside the run's name: "
                               "a line going down means the run is converging")
    cfg[names["run"]] = st.column_config.TextColumn(  # stays in view while the metrics scroll
        names["run"], pinned=True, help="its name (rename it on the Runs page), drawn in its colour in every chart")
    cfg[names["settings"]] = st.column_config.TextColumn(names["settings"],
                                                         help="what tells this run apart: the settings changed from the model's "
                                                              "defaults, and a sweep's axes")
    cfg[names["steps_per_s"]] = st.column_config.Column(names["steps_per_s"], help="optimiser steps per second;"
                                                        + _MISSING_HELP)
    cfg[names["elapsed"]] = st.column_config.Column(names["elapsed"], help="seconds of training;" + _MISSING_HELP)
    return cfg


def _styled(table: pd.DataFrame, keys: list[str], names: dict[str, str], colors: dict[str, str]) -> Any:
    """The table in words: each run's name in its chart colour; best run per metric in bold green; the floor row
    in grey italics; "—" for a missing value."""
    best = compare.best_rows(table, keys)
    best = {names[k]: i for k, i in best.items()}
    shown = table.rename(columns=names)
    run_col = names["run"]

    def paint(col: pd.Series) -> list[str]:
        out = []
        for i in range(len(col)):
            label = shown[run_col].iloc[i]
            if label == compare.FLOOR_LABEL:
                out.append("color: #6c757d; font-style: italic")
            elif col.name == run_col:
                out.append(f"color: {colors[label]}; font-weight: bold" if label in colors else "")
            elif best.get(col.name) == i:
                out.append("background-color: #d3f9d8; font-weight: bold")
            else:
                out.append("")
        return out

    formats = {names[k]: "{:.3f}" for k in keys} | {names["steps_per_s"]: "{:.3g}", names["elapsed"]: "{:.1f}"}
    return shown.style.apply(paint, subset=[run_col, *(names[k] for k in keys)]).format(formats, na_rep="—")


def _rows(ds: Dataset, stored_ids: list[str]) -> list[compare.RunRow]:
    rows = _live_rows(ds)
    for run_id in stored_ids:
        try:
            record = store.get(run_id)
            rows.append(compare.row_from_record(record, _stored_metrics(run_id, _ds_key(ds), ds)))
        except (StoreError, ValueError, FloatingPointError) as exc:
            st.warning(f"Stored run {run_id} cannot be scored: {md(exc)}")
    return rows


def _usable_runs(ds: Dataset, stored_ids: list[str]) -> dict[str, catalog.Entry]:
    """Catalog key → entry for the runs that can be sampled now: finished jobs here, and the stored runs added."""
    chosen = set(stored_ids)
    return {e.key: e for e in catalog.runs_on(ds, manager.jobs(), store, usable_only=True)
            if e.source == "live" or e.record.id in chosen}


def _samples(entry: catalog.Entry, n: int, ds: Dataset) -> np.ndarray:
    cache = st.session_state.setdefault("cmp_samples", {})
    key = (entry.key, n, _ds_key(ds))
    if key not in cache:
        cache[key] = entry.load(store).sample(n, seed=0)  # a conditional model draws every class in turn
    return cache[key]


# --- data (every section uses it) --------------------------------------------------------------------------------
ds = dataset_picker("cmp")
if ds is None:
    st.stop()
show = page_sections("compare", SECTIONS)

# --- 1. choose models and start them --------------------------------------------------------------------------------
names = compatible_models(ds.n_classes, ds.image_shape, ds.is_series)
configs: dict[str, dict[str, Any]] = {}
if show(SECTIONS[0]):
    chosen = list(param_widget(replace(choice_param("models", names), kind=tuple, item=str, label="Models",
                                       default=tuple(m for m in DEFAULT_MODELS if m in names),
                                       labels={n: f"{n} — {REGISTRY[n].label}" for n in names},
                                       help="each becomes one background job; two train at a time, the rest wait "
                                            "in a queue"), "cmp"))
    c1, c2, c3, c4 = st.columns(4)
    steps = int(train_setting("steps", "cmp", c1, default=COMPARE_STEPS, step=500, label="steps (iterative models)",
                              help="the same optimiser-step budget for every neural model; classical models fit in "
                                   "one call"))
    seed = int(train_setting("seed", "cmp", c2))
    period = float(train_setting("eval_period_s", "cmp", c3, default=3.0, label="rescore every (s)",
                                 help="how often each job scores fresh samples (costs a little training time)"))
    device = train_setting("device", "cmp", c4)
    if chosen:
        for tab, name in zip(st.tabs(chosen), chosen):
            with tab:
                cls = REGISTRY[name]
                if cls.formula:
                    st.latex(r"\small " + cls.formula)
                st.caption(cls.summary)
                with st.expander(f"{name} settings"):
                    configs[name] = config_widgets(name, "cmp")
    specs = [TrainSpec(model=name, dataset=ds, config=configs.get(name, {}),
                       steps=steps if REGISTRY[name].iterative else None, seed=seed, device=device,
                       eval_period_s=period, eval_samples=DEFAULT_EVAL_ROWS) for name in chosen]
    st.button(f"Start {len(specs)} run(s)", type="primary", disabled=not specs, key="cmp_start",
              on_click=_start_all, args=(specs,))
else:   # presentation mode, another section shown: the sweep still uses the settings the address holds
    seed = int(_hidden(TRAIN["seed"], "cmp"))
    period = float(_hidden(replace(TRAIN["eval_period_s"], default=3.0), "cmp"))
    device = str(_hidden(TRAIN["device"], "cmp"))

common = dict(seed=seed, device=device, eval_period_s=period, eval_samples=DEFAULT_EVAL_ROWS)

# --- 2. stored runs and the live table ------------------------------------------------------------------------------
stored = [e.record for e in catalog.runs_on(ds, manager.jobs(), store) if e.record is not None]
damaged_rows_warning(store)
# A link names runs to compare (?run=a or ?runs=a,b, e.g. from the Runs page or a sweep): the stored ones join the
# selection below (kept in the address as cmp_stored), the live ones are in the table anyway.
links = url_list("runs") + url_list("run")
if links:
    set_url_value("runs", None)
    set_url_value("run", None)
    stored_ids_now = {rec.id for rec in stored}
    missing = [r for r in links if r not in stored_ids_now and r not in set(_live_run_ids(ds))]
    for run_id in missing:
        not_found("run", run_id, "runs")
    chosen_before = list(st.session_state.get("cmp_stored", url_list("cmp_stored")))
    st.session_state["cmp_stored"] = [r for r in dict.fromkeys(chosen_before + links) if r in stored_ids_now]
STORED = replace(choice_param("stored", [r.id for r in stored]), kind=tuple, item=str, default=(),
                 label="Stored runs", labels={r.id: f"{run_label(r)} · {r.status} · {r.id}" for r in stored})
show_table = show(SECTIONS[1])
if show_table:
    with st.expander(f"Add stored runs on {md(ds.name)} ({len(stored)} in the run store)",
                     expanded=bool(st.session_state.get("cmp_stored"))):
        st.caption("Runs from earlier sessions are rescored with today's metrics on the same test rows, so a "
                   "comparison survives a restart of the app. Each is named as on the Runs page, where you can "
                   "rename it and write a note.")
        stored_ids = list(param_widget(STORED, "cmp"))
else:
    stored_ids = [r for r in _hidden(STORED, "cmp") if r in set(STORED.choices or ())]
colors = _page_colors(ds, stored_ids)   # one colour per run, the same in the table and in every chart below
any_active = any(not j.status.finished for j in _matching_jobs(ds))


if show_table:
    with st.spinner("Preparing the real-data side of the metrics…"):
        floor_values = floor(reference_for(ds))  # built once per dataset and cached in genlib.metrics.suite
    n_eval = min(DEFAULT_EVAL_ROWS, len(ds.test))
    discrete_data = is_discrete(ds.test)
    finished_at_page_run = {j.id for j in _matching_jobs(ds) if j.status.finished}


    @st.fragment(run_every=1.0 if any_active else None)
    def live_table() -> None:
        """The table, refreshed every second while a run trains; its colours follow the page's (one per run)."""
        if {j.id for j in _matching_jobs(ds) if j.status.finished} != finished_at_page_run:
            st.rerun()  # a run just finished: redraw the whole page so its samples join the side-by-side plots
        rows = _rows(ds, stored_ids)
        if not rows:
            st.info("No runs on this dataset yet: tick models above and press **Start**, or add stored runs.")
            return
        keys = compare.metric_keys(rows, floor_values)
        table = compare.metric_table(rows, floor_values, keys)
        names = compare.column_names(keys)
        book = _page_colors(ds, stored_ids)   # the same function as the charts below: the same colours
        counts = pd.Series([r.status for r in rows]).value_counts()
        st.markdown(f"**{len(rows)} run(s)**: " + ", ".join(f"{n} {status}" for status, n in counts.items())
                    + f" · refreshed {time.strftime('%H:%M:%S')}")
        for r in rows:
            if r.source == "live" and r.status in ("running", "queued"):
                rate = r.steps_per_s if r.status == "running" else 0.0
                eta = (r.total - r.step) / rate if rate > 0 and r.total > r.step else None
                parts = [f"{md(r.label)} — {r.status} · step {r.step}/{r.total}", format_rate(rate), format_eta(eta)]
                st.progress(r.step / r.total if r.total else 0.0, text=" · ".join(p for p in parts if p))
        st.dataframe(_styled(table, keys, names, book), hide_index=True, width="stretch",
                     column_config=_column_config(keys, names), key="cmp_table")
        st.caption(f"Every metric uses {n_eval} held-out test rows and as many fresh samples per run"
                   + (f" (a fixed subsample of the {len(ds.test)} test rows)" if len(ds.test) > n_eval else "")
                   + ". Each run's name is drawn in its colour, the same in every chart of this page; beside it, "
                   f"{SUITE[compare.SPARK_METRIC].title} over time. Best run per column in **green**; ↓ lower is "
                   "better, ↑ higher is better, →x closest to x; — could not be computed (non-finite or overflowing "
                   "samples). Hover a column header for its meaning."
                   + (" Held-out log-likelihood is left out: these data are integer levels (pixels), whose density is "
                      "a set of spikes; it would need dequantization." if discrete_data else ""))
        for r in rows:
            if r.error:
                st.error(f"{md(r.label)}: {md(r.error)}")
        d1, d2 = st.columns(2)
        d1.download_button("Download table (CSV)", compare.table_for_download(table, keys).pipe(csv_bytes),
                           file_name=f"genlab_compare_{ds.name}.csv", mime="text/csv", key="cmp_dl_table")
        # A toggle, not an expander: a collapsed expander still builds its figures on every refresh, and that
        # Python work holds the GIL the training threads need (measured: it slowed two jobs several-fold).
        if param_widget(SHOW_HISTORY, "cmp"):
            pick = st.multiselect("metrics", keys, default=[k for k in ("anderson_darling", "c2st_auc", "coverage")
                                                            if k in keys], key="cmp_hist_keys",
                                  format_func=lambda k: SUITE[k].title)
            histories = {r.label: r.history for r in rows if r.history}
            with figures.style.colors_for(book):
                if pick and histories:
                    st.plotly_chart(figures.curves.metric_histories(histories, pick, [SUITE[k].title for k in pick]),
                                    key="cmp_hist_fig")
                losses = _live_losses(ds)
                if losses:
                    st.plotly_chart(figures.curves.loss_curves_multi(losses), key="cmp_loss_fig")


    live_table()

    with st.expander("What the metrics measure (formulas)"):
        st.markdown("Each metric compares the model's samples $\\tilde x$ with held-out real rows $x$ the model never "
                    "saw. The oracle floor is the value two real samples get: no model can beat it except by luck.")
        for key, info in SUITE.items():
            st.markdown(f"**{info.title}** {SUITE[key].arrow}" + (f" ({info.unit})" if info.unit else ""))
            if info.latex:
                st.latex(info.latex)
            st.caption(info.description)

# --- 3. side-by-side plots ------------------------------------------------------------------------------------------
if show(SECTIONS[2]):
    usable = _usable_runs(ds, stored_ids)
    labels = {k: _entry_label(e) for k, e in usable.items()}
    if not usable:
        st.caption("Plots of samples appear here when a run has finished (or a stored run is added).")
    else:
        # keyed by the set of runs on offer, so a newly finished run resets the choice to include it
        plot_keys = st.multiselect("Runs to plot", list(usable), default=list(usable)[:4],
                                   format_func=lambda k: labels[k],
                                   key=f"cmp_plot_runs_{abs(hash(tuple(usable))) % 10**8}")
        n_plot = int(param_widget(replace(N_PLOT, default=min(max(len(ds.test), 1000), 20_000)), "cmp"))
        samples: dict[str, np.ndarray] = {}
        for key in plot_keys:
            label = labels[key]
            try:
                samples[label] = _samples(usable[key], n_plot, ds)
            except (FloatingPointError, RuntimeError, ValueError) as exc:
                st.error(f"Cannot sample from {md(label)}: {md(exc)}")
        real = ds.test
        log = figures.style.prefers_log_axes(ds)
        with figures.style.colors_for(colors):   # the table's colours, whichever runs are plotted
            tabs = st.tabs(["Histograms", "ECDF", "QQ (tails)", "Pairs", "Correlations", "Per column"])
            with tabs[0]:
                st.plotly_chart(figures.samples.histogram_overlay(real, samples, ds.columns, log_x=log), key="cmp_fig_hist")
            with tabs[1]:
                st.latex(r"\hat F(t) = \frac{1}{n}\#\{i : x_i \le t\}")
                st.plotly_chart(figures.samples.ecdf_overlay(real, samples, ds.columns, log_x=log), key="cmp_fig_ecdf")
            with tabs[2]:
                st.caption("Each point is a quantile of the model against the same quantile of the real data; points off "
                           "the diagonal at the ends mean the tails are too light (inside) or too heavy (outside).")
                st.plotly_chart(figures.samples.qq_plot(real, samples, ds.columns, log=log), key="cmp_fig_qq")
            with tabs[3]:
                if ds.n_features > 6:
                    st.caption(f"Showing the first 6 of {ds.n_features} columns.")
                which = st.selectbox("run", list(samples) or ["—"], key="cmp_pair_run")
                pairs = figures.samples.pair_scatter(real, ds.columns, samples.get(which), log=log)
                if which in samples:   # the run under its name and in its colour, as in the other charts
                    pairs.update_traces(selector=dict(name="generated"), name=figures.style.plain(which),
                                        marker_color=colors.get(which, figures.style.FAKE_COLOR))
                st.plotly_chart(pairs, key="cmp_fig_pairs")
            with tabs[4]:
                method = param_widget(CORRELATION, "cmp")
                st.latex(r"\tau = \frac{2}{n(n-1)}\sum_{i<j}\operatorname{sign}(x_i - x_j)\operatorname{sign}(y_i - y_j)"
                         if method == "kendall" else r"\rho = \frac{\operatorname{cov}(x, y)}{\sigma_x \sigma_y}")
                st.plotly_chart(figures.samples.correlation_grid(real, samples, ds.columns, method=method), key="cmp_fig_corr")
            with tabs[5]:
                ref = reference_for(ds)
                per = {label: per_column(ref, fake) for label, fake in samples.items()}
                names_per = {"anderson_darling": compare.metric_column("anderson_darling"),
                             "wasserstein": compare.metric_column("wasserstein")}
                for key in ("anderson_darling", "wasserstein"):
                    if per:
                        st.markdown(f"**{names_per[key]} per column** ({SUITE[key].arrow})")
                        st.dataframe(pd.DataFrame({label: p[key] for label, p in per.items()}, index=ds.columns).T,
                                     width="stretch", key=f"cmp_percol_{key}")

        st.markdown("##### Downloads")
        pick_key = st.selectbox("Run", list(usable), format_func=lambda k: labels[k], key="cmp_dl_run")
        pick = usable[pick_key]
        d1, d2 = st.columns(2)
        if labels[pick_key] in samples:
            tag = pick.run_id or pick.key.split(":")[-1]
            d1.download_button("Samples (CSV)", samples_csv(samples[labels[pick_key]], ds.columns), mime="text/csv",
                               file_name=f"{pick.model}_{ds.name}_{tag}_samples.csv", key="cmp_dl_samples",
                               help=f"rows drawn from {md(labels[pick_key])}")
        run_id = pick.run_id
        if run_id:
            ckpt = store.get(run_id).checkpoint
            if ckpt is not None and ckpt.exists():
                d2.download_button("Checkpoint (.pt)", ckpt.read_bytes(), file_name=f"{run_id}.pt",
                                   mime="application/octet-stream", key="cmp_dl_ckpt")

# --- 4. sweep -------------------------------------------------------------------------------------------------------
if show(SECTIONS[3]):
    st.markdown("Train one model over a grid of one or two settings and read the metric as a heatmap — "
                f"{cite('finance_study')}'s study of the decoder noise σ against the encoder size, live. Each grid "
                "point is an ordinary job: it also appears in the table above. The sweep itself is kept in the run store: reopen it any time from "
                "the list below (its address is `?sweep=…`).")
    iterative = [n for n in names if REGISTRY[n].iterative]
    s1, s2, s3 = st.columns(3)
    # The sweep form is in the address too: the model and settings by name, the values under a key per (model, setting)
    # (``?cmp_sweep_x=beta&cmp_sweep_xv_vae_beta=0.5,2``); the settings offered depend on the model, so a setting that
    # the model shown now does not have gives way to its default.
    sweep_model = urlstate.choice("Model", iterative, "cmp_sweep_model", default="vae", where=s1,
                                  format_func=lambda n: f"{n} — {REGISTRY[n].label}")
    fields = compare.sweepable_fields(sweep_model)
    urlstate.keep_valid(choice_param("cmp_sweep_x", fields, "sigma"), "cmp_sweep_x")
    x_field = urlstate.choice("Setting x", fields, "cmp_sweep_x", default="sigma", where=s2,
                              format_func=lambda f: compare.field_title(sweep_model, f))
    x_text = param_widget(Param(f"xv_{sweep_model}_{x_field}", "0.01, 0.05, 0.2" if x_field == "sigma" else "",
                                compare.config_field_help(sweep_model, x_field), label="x values (comma separated)"),
                          "cmp_sweep", where=s2)
    y_options = ["(none)"] + [f for f in fields if f != x_field]
    urlstate.keep_valid(choice_param("cmp_sweep_y", y_options, "enc_width"), "cmp_sweep_y")
    y_field = urlstate.choice("Setting y", y_options, "cmp_sweep_y", default="enc_width", where=s3,
                              format_func=lambda f: f if f == "(none)" else compare.field_title(sweep_model, f))
    y_key = f"cmp_sweep_yv_{sweep_model}_{y_field}"
    y_text = urlstate.bind(Param(y_key, "32, 128" if y_field == "enc_width" else ""), y_key,
                           lambda: s3.text_input("y values", key=y_key, disabled=y_field == "(none)",
                                                 help=compare.config_field_help(sweep_model, y_field)
                                                 if y_field != "(none)" else None))
    if sweep_model == "vae":
        st.latex(r"\mathcal{L}(x) = \frac{\lVert x - D(z)\rVert^2}{2\sigma^2} + \beta\,\mathrm{KL}\big(q(z|x)\,\|\,N(0, I)\big)")
    sweep_steps = int(param_widget(SWEEP_STEPS, "cmp"))
    plan = None
    if x_text.strip():
        try:
            plan = compare.make_sweep(sweep_model, x_field, x_text, None if y_field == "(none)" else y_field, y_text)
        except ModelError as exc:
            st.error(md(exc))
    if plan is not None:
        st.caption(f"{len(plan.points())} runs of {sweep_steps} steps; two train at a time.")
    st.button("Queue sweep", disabled=plan is None, key="cmp_sweep_go", on_click=_queue_sweep,
              args=(plan, configs.get(sweep_model, {}), dict(common, steps=sweep_steps), ds))

    sweeps = {r.id: r for r in store.list(kinds=(RunKind.SWEEP.value,))
              if catalog.same_data(r.dataset, r.dataset_params, ds)}
    if sweeps or url_value("sweep"):
        st.markdown("##### Sweeps on these data")
        c1, c2 = st.columns(2)
        with c1:
            sweep_id = url_select("Sweep", list(sweeps), "sweep", "cmp_sweep_pick", what="sweep",
                                  format_func=lambda i: f"{_sweep_name(sweeps[i])} · {fmt_time(sweeps[i].created)} · {i}",
                                  help="every sweep queued on these data, kept in the run store; the address names "
                                       "the one shown (?sweep=…)")
        metric = param_widget(SWEEP_METRIC, "cmp", where=c2)
        if sweep_id is not None:
            record = sweeps[sweep_id]
            p = compare.SweepPlan.from_dict(record.inputs["plan"])

            @st.fragment(run_every=1.0 if any_active else None)
            def sweep_view() -> None:
                members = compare.sweep_results(sweep_id, manager.jobs(), store.list())
                n = len(p.points())
                st.caption(f"Sweep {sweep_id}: {p.describe()} · {members.finished} of {n} runs finished"
                           + (f", {n - len(members.statuses)} not found (deleted?)" if len(members.statuses) < n else ""))
                z = compare.sweep_matrix(p, members.metrics, metric)
                info = SUITE[metric]
                title, lower = info.title, info.lower_is_better
                if info.ideal is not None:  # e.g. C2ST AUC: 0.5 is best, so colour by the distance to it
                    z, title, lower = np.abs(z - info.ideal), f"|{info.title} − {info.ideal:g}|", True
                st.plotly_chart(figures.curves.sweep_heatmap([str(v) for v in p.x_values], [str(v) for v in p.y_values], z,
                                                             compare.field_title(p.model, p.x_field),
                                                             compare.field_title(p.model, p.y_field) if p.y_field
                                                             else "", title, lower_is_better=lower),
                                key="cmp_sweep_fig")
                ids = list(members.run_ids.values())
                st.button("Compare its runs in the table above", key="cmp_sweep_table", disabled=not ids,
                          on_click=_table_members, args=(ds, ids))

            sweep_view()
