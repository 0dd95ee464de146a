"""Train: pick data and a model, start a background job, watch it learn, inspect and download its samples."""
from __future__ import annotations

import math

import streamlit as st

from genlib import figures
from genlib.data import Dataset
from genlib.metrics.sanity import run_warnings
from genlib.metrics.suite import SUITE, floor, reference_for
from genlib.models import REGISTRY, compatible_models
from genlib.store import RunKind, RunRecord, StoreError
from genlib.train import Job, JobSnapshot, JobStatus, TrainSpec
from genlib.transforms import TRANSFORMS, auto_kind
from pages import urlstate
from pages.text import md
from pages.addressing import dataset_of, load_model, snapshot_of, stored, url_select, url_value
from pages.common import (config_widgets, dataset_picker, ensure_app_shell, failure_details, fmt_time, job_manager,
                          progress_text, samples_csv, submit_job, train_setting)
from pages.instrument import control_strip, start_button
from pages.presets_ui import page_state

ensure_app_shell()

st.title("Train a model")
page_state("train")
st.markdown("Choose data and a model, then start training. The job runs in a background thread: the page "
            "stays live, you can change page, and the sidebar shows every job. Each run is in the run store "
            "from the moment it starts (with a checkpoint every 30 s, so a crash loses little), and the page's "
            "address names it (`?run=…`): a reload shows it again.")

manager = job_manager()


#: Models whose own default budget does not fit the page's two minutes on 2 CPU cores (benchmarks/default_budgets.py,
#: issue 19): the page says so rather than cutting the budget the model needs. Minutes on 2 quiet CPU cores (the busy
#: figure divided by the calibration factor of benchmarks/RESULTS.md), and on a busy machine (load 6), as measured.
LONG_DEFAULTS = {"conv_vae": (3, 10), "dcgan": (4, 15)}

#: The four metric cards: marginals, dependence, "can a classifier tell?", and mode coverage.
HEADLINE = ("anderson_darling", "kendall_error", "c2st_auc", "coverage")


def _card(value: float | None) -> tuple[str, str]:
    """A metric card's value, and a sentence for its help when there is no number to show ("—", never "nan")."""
    if value is None or not math.isfinite(value):
        return "—", "Could not be computed for this run (the samples are not finite or too large); see its warnings. "
    return f"{value:.3f}", ""


def _start(spec: TrainSpec) -> None:
    """Button callback: runs before the next script run, so the sidebar monitor already sees the job. The run's id
    goes into the URL as soon as the job has one (when it starts)."""
    job = submit_job(spec)
    if job is None:   # refused (a fair-share limit): the message shows above the page
        return
    st.session_state["train_pending"] = job.id
    st.toast(f"Started {md(spec.label())} ({job.id})")


def _options() -> dict[str, tuple[Job | None, RunRecord | None]]:
    """What the page can show, by key: every training job of this process this user may see (keyed by its job id,
    which does not change when a queued job starts and gets its run id: a key or label that changes between two
    runs of the page loses the selection), then the stored run the URL names when no job of this process wrote it."""
    out: dict[str, tuple[Job | None, RunRecord | None]] = {}
    for job in reversed(manager.jobs()):
        if job.kind == RunKind.TRAIN.value:
            out[job.id] = (job, None)
    wanted = url_value("run")
    if wanted and wanted not in out and _job_key(wanted, out) is None:
        record = stored(wanted, kinds=(RunKind.TRAIN.value,))
        if record is not None:
            out[wanted] = (None, record)
    return out


def _job_key(run_id: str, options: dict[str, tuple[Job | None, RunRecord | None]]) -> str | None:
    """The key of the job that writes ``run_id``, if one of the options does."""
    return next((k for k, (j, _) in options.items() if j is not None and j.run_id == run_id), None)


def _label(key: str, options: dict[str, tuple[Job | None, RunRecord | None]]) -> str:
    job, record = options[key]
    if job is not None:
        return f"{job.spec.label()} ({key})"   # no status or run id here: a label that changes loses the selection
    assert record is not None
    return f"{record.name} (stored run {key})"


left, right = st.columns([2, 3], gap="large")
with left:
    ds = dataset_picker("train")
    names = compatible_models(ds.n_classes, ds.image_shape, ds.is_series) if ds is not None else sorted(REGISTRY)
    model_name = urlstate.choice("Model", names, "train_model", default="vae",
                                 format_func=lambda n: f"{n} — {REGISTRY[n].label}")
    cls = REGISTRY[model_name]
    if cls.formula:
        st.latex(r"\small " + cls.formula)  # the settings column is narrow
    st.caption(cls.summary)
    if model_name in LONG_DEFAULTS and cls.iterative:
        st.caption(f"The exception to this page's two-minute defaults: its default of {cls.default_steps:,} steps "
                   f"takes about {LONG_DEFAULTS[model_name][0]} minutes on 2 quiet CPU cores and up to "
                   f"{LONG_DEFAULTS[model_name][1]} on a busy machine (a GPU is much faster). The time "
                   "under the start button is for this machine; fewer steps give a rougher model sooner.")
    with st.expander("Model settings", expanded=False):
        config = config_widgets(model_name, "train")
    with st.expander("Training settings", expanded=False):
        steps = int(train_setting("steps", "train", default=cls.default_steps)) if cls.iterative else None
        batch = int(train_setting("batch_size", "train"))
        seed = int(train_setting("seed", "train"))
        device = train_setting("device", "train")
        transform = train_setting("transform", "train")
        st.caption(TRANSFORMS[transform].help)
        shown = auto_kind(ds.train) if transform == "auto" and ds is not None else transform  # what auto picks here
        st.latex(r"\small " + TRANSFORMS[shown].latex)
        period = float(train_setting("eval_period_s", "train"))
        every = float(train_setting("checkpoint_every_s", "train")) if cls.iterative else None
    spec = None if ds is None else TrainSpec(model=model_name, dataset=ds, config=config, steps=steps,
                                             batch_size=batch, seed=seed, device=device, transform=transform,
                                             eval_period_s=period, checkpoint_every_s=every)
    start_button("Start training", spec, "train_start", _start, args=(spec,))

with right:
    options = _options()
    pending = st.session_state.get("train_pending")
    prefer = pending if pending in options else None
    if prefer is not None and options[prefer][0].run_id:   # started: from now on the URL names it
        st.session_state.pop("train_pending")
    key = url_select("Run", list(options), "run", "train_view", format_func=lambda k: _label(k, options),
                     url_of=lambda k: options[k][0].run_id if options[k][0] is not None else k,
                     key_of=lambda v: v if v in options else _job_key(v, options), prefer=prefer)
    if key is None:
        st.info("No job yet: choose the data, the model and its settings, then press **Start training**.")
        st.stop()
    job, record = options[key]

    def overview(s: JobSnapshot, data: Dataset | None, warnings: list[str] | None = None) -> None:
        """Progress, metrics and curves of a job (live) or a stored run (its record seen as a finished job)."""
        st.progress(s.fraction, text=progress_text(s, named=False) + (f" · {s.device}" if s.device else ""))
        if s.status in (JobStatus.FAILED, JobStatus.INTERRUPTED) and s.error:
            st.error(f"Training {s.status.value}: {md(s.error)}")
            failure_details(s, key=f"train_{s.id}")
        if job is not None:
            b1, b2, _ = st.columns([1, 1, 3])
            b1.button("Stop", disabled=s.status.finished, key=f"stop_{s.id}", on_click=job.stop,
                      help="end now and keep the model")
            b2.button("Cancel", disabled=s.status.finished, key=f"cancel_{s.id}", on_click=manager.cancel,
                      args=(s.id,), help="end now and discard the model")
        if s.metrics:
            cols = st.columns(len(HEADLINE))
            fl = floor(reference_for(data)) if data is not None else {}  # cached per dataset in genlib.metrics.suite
            for col, name in zip(cols, HEADLINE):
                info = SUITE[name]
                if name in s.metrics:
                    value, why = _card(s.metrics[name])
                    col.metric(info.title, value, help=f"{why}{info.description} Oracle floor (real vs real): "
                                                       f"{_card(fl.get(name))[0]}.")
            if fl:
                st.caption("Scored on fresh samples against the held-out test split. The oracle floor — the same "
                           f"metric between two real samples — is AD {fl['anderson_darling']:.2f}, Kendall "
                           f"{fl['kendall_error']:.3f}: a model near it is as good as the data can tell. The "
                           "**Compare** page shows every metric for several runs side by side.")
        for warning in warnings or []:
            st.warning(f"Finished with a warning: {md(warning)}", icon=":material/warning:")
        with st.expander("What these metrics measure"):
            for name in HEADLINE:
                info = SUITE[name]
                st.markdown(f"**{info.title}** ({info.direction} is better)")
                st.latex(info.latex)
                st.caption(info.description)
        if s.losses:
            st.plotly_chart(figures.curves.loss_curves(s.loss_steps, s.losses, title="Training losses"),
                            key=f"loss_{s.id}")
        if len(s.metric_history) > 1:
            st.plotly_chart(figures.curves.metric_history(s.metric_history, ["anderson_darling", "kendall_error"]),
                            key=f"mh_{s.id}")

    if job is not None:
        every = control_strip(job, "train") if not job.status.finished else None

        @st.fragment(run_every=every)
        def live() -> None:
            s = job.snapshot()
            result = job.result if s.status.finished else None  # its warnings, as the stored row keeps them
            overview(s, job.spec.dataset, run_warnings(result.summary) if result is not None else None)
            flag = f"_seen_finished_{s.id}"
            if s.status.finished and not st.session_state.get(flag):
                st.session_state[flag] = True
                st.rerun(scope="app")  # show the results section below

        live()
        s = job.snapshot()
        data: Dataset | None = job.spec.dataset
        fitted = job.fitted if s.status in (JobStatus.DONE, JobStatus.STOPPED) else None
    else:
        assert record is not None
        s = snapshot_of(record)
        data = dataset_of(record)
        st.caption(f"Stored run **{record.id}**: {record.model} on {md(record.dataset)}, seed {record.seed}, created "
                   f"{fmt_time(record.created)}.")
        overview(s, data, run_warnings(record.summary))
        fitted = None
        if record.run_dir is not None and record.status != JobStatus.FAILED.value:
            try:
                fitted = load_model(record.id)
            except StoreError as exc:
                st.error(f"Cannot load the model of run {record.id}: {md(exc)}")

    if fitted is not None:
        st.subheader("Samples vs real data")
        default_n = min(len(data.test) * 4, 2000) if data is not None else 1000
        n = st.slider("samples", 50, 5000, default_n, key=f"n_{s.id}")
        try:
            fake = fitted.sample(n, seed=0)  # a conditional model draws every class in turn
        except FloatingPointError as exc:  # a diverged model: nothing to plot or download
            st.error(f"Cannot draw samples: {md(exc)}")
            st.stop()
        columns = list(data.columns) if data is not None else list(fitted.columns)
        shape = data.image_shape if data is not None else fitted.info.get("image_shape")
        if shape:
            vmax = float(data.train.max()) if data is not None else None
            st.plotly_chart(figures.samples.image_grid(fake[:40], tuple(shape), vmax=vmax), key=f"img_{s.id}")
        elif data is None:
            st.caption("The data of this run cannot be rebuilt here (an upload): its samples are shown alone.")
            st.plotly_chart(figures.samples.marginal_histograms(fake, columns), key=f"h_{s.id}")
        elif data.n_features == 2:
            st.plotly_chart(figures.samples.scatter_2d(data.test, fake, columns=data.columns), key=f"sc_{s.id}")
        else:
            log = figures.style.prefers_log_axes(data)
            st.plotly_chart(figures.samples.marginal_histograms(data.test, data.columns, fake, log_x=log),
                            key=f"h_{s.id}")
            if data.n_features <= 6:
                st.plotly_chart(figures.samples.pair_scatter(data.test, data.columns, fake, log=log),
                                key=f"p_{s.id}")
        c1, c2 = st.columns(2)
        c1.download_button("Download samples (CSV)", samples_csv(fake, columns),
                           file_name=f"{s.model}_{s.dataset}_samples.csv", mime="text/csv", key=f"dl_{s.id}")
        if s.run_id:
            c2.page_link("pages/runs.py", label=f"Saved as run {s.run_id} →", icon=":material/folder_open:")
