"""Train: pick data and a model, start a background job, watch it learn, inspect and download its samples."""
from __future__ import annotations

import streamlit as st

from genlib import figures
from genlib.metrics.suite import SUITE, floor, reference_for
from genlib.models import REGISTRY, compatible_models
from genlib.train import JobStatus, TrainSpec
from genlib.transforms import TRANSFORMS, auto_kind
from pages import urlstate
from pages.common import (config_widgets, dataset_picker, ensure_app_shell, failure_details, job_manager, samples_csv,
                          train_setting)
from pages.presets_ui import page_state

ensure_app_shell()

st.title("Train a model")
page_state("train")
st.markdown("Choose data and a model, then start training. The job runs in a background thread: the page "
            "stays live, you can change page, and the sidebar shows every job. Each run is saved to the run "
            "store when it ends.")

manager = job_manager()


#: The four metric cards: marginals, dependence, "can a classifier tell?", and mode coverage.
HEADLINE = ("anderson_darling", "kendall_error", "c2st_auc", "coverage")


def _start(spec: TrainSpec) -> None:
    """Button callback: runs before the next script run, so the sidebar monitor already sees the job."""
    job = manager.submit(spec)
    st.session_state["train_job"] = job.id
    st.session_state["_train_new"] = True
    st.toast(f"Started {spec.label()} ({job.id})")


left, right = st.columns([2, 3], gap="large")
with left:
    ds = dataset_picker("train")
    names = compatible_models(ds.n_classes, ds.image_shape) if ds is not None else sorted(REGISTRY)
    model_name = urlstate.choice("Model", names, "train_model", default="vae",
                                 format_func=lambda n: f"{n} — {REGISTRY[n].label}")
    cls = REGISTRY[model_name]
    if cls.formula:
        st.latex(r"\small " + cls.formula)  # the settings column is narrow
    st.caption(cls.summary)
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
    spec = None if ds is None else TrainSpec(model=model_name, dataset=ds, config=config, steps=steps,
                                             batch_size=batch, seed=seed, device=device, transform=transform,
                                             eval_period_s=period)
    st.button("Start training", type="primary", disabled=spec is None, key="train_start", on_click=_start,
              args=(spec,))

with right:
    jobs = manager.jobs()
    if not jobs:
        st.info("No job yet: choose settings on the left and press **Start training**.")
        st.stop()
    ids = [j.id for j in jobs]
    current = st.session_state.get("train_job")
    if st.session_state.pop("_train_new", False) and current in ids:
        st.session_state["train_view"] = current  # a job just started: show it
    job_id = urlstate.choice("Job", ids[::-1], "train_view", default=current,
                             format_func=lambda i: f"{i}: {manager.get(i).spec.label()}")
    job = manager.get(job_id)

    @st.fragment(run_every=1.0 if not job.status.finished else None)
    def live() -> None:
        s = job.snapshot()
        st.progress(s.fraction, text=f"{s.status.value} · step {s.step}/{s.total} · {s.elapsed:.1f}s"
                                     + (f" · {s.steps_per_s:.0f} steps/s" if s.steps_per_s else "")
                                     + (f" · {s.device}" if s.device else ""))
        if s.status is JobStatus.FAILED:
            st.error(f"Training failed: {s.error}")
            failure_details(s, key=f"train_{s.id}")
        b1, b2, _ = st.columns([1, 1, 3])
        b1.button("Stop", disabled=s.status.finished, key=f"stop_{s.id}", on_click=job.stop,
                  help="end now and keep the model")
        b2.button("Cancel", disabled=s.status.finished, key=f"cancel_{s.id}", on_click=manager.cancel,
                  args=(s.id,), help="end now and discard the model")
        if s.metrics:
            cols = st.columns(len(HEADLINE))
            fl = floor(reference_for(job.spec.dataset))  # cached per dataset in genlib.metrics.suite
            for col, key in zip(cols, HEADLINE):
                info = SUITE[key]
                if key in s.metrics:
                    col.metric(info.title, f"{s.metrics[key]:.3f}",
                               help=f"{info.description} Oracle floor (real vs real): {fl.get(key, float('nan')):.3f}.")
            st.caption("Scored on fresh samples against the held-out test split. The oracle floor — the same "
                       f"metric between two real samples — is AD {fl['anderson_darling']:.2f}, Kendall "
                       f"{fl['kendall_error']:.3f}: a model near it is as good as the data can tell. The "
                       "**Compare** page shows every metric for several runs side by side.")
        with st.expander("What these metrics measure"):
            for key in HEADLINE:
                info = SUITE[key]
                st.markdown(f"**{info.title}** ({info.direction} is better)")
                st.latex(info.latex)
                st.caption(info.description)
        if s.losses:
            st.plotly_chart(figures.curves.loss_curves(s.loss_steps, s.losses, title="Training losses"), key=f"loss_{s.id}")
        if len(s.metric_history) > 1:
            st.plotly_chart(figures.curves.metric_history(s.metric_history, ["anderson_darling", "kendall_error"]),
                            key=f"mh_{s.id}")
        flag = f"_seen_finished_{s.id}"
        if s.status.finished and not st.session_state.get(flag):
            st.session_state[flag] = True
            st.rerun(scope="app")  # show the results section below

    live()

    s = job.snapshot()
    if s.status in (JobStatus.DONE, JobStatus.STOPPED) and job.fitted is not None:
        st.subheader("Samples vs real data")
        data = job.spec.dataset
        n = st.slider("samples", 50, 5000, min(len(data.test) * 4, 2000), key=f"n_{s.id}")
        fake = job.fitted.sample(n, seed=0)  # a conditional model draws every class in turn
        if data.image_shape is not None:
            st.plotly_chart(figures.samples.image_grid(fake[:40], data.image_shape, vmax=float(data.train.max())),
                            key=f"img_{s.id}")
        elif data.n_features == 2:
            st.plotly_chart(figures.samples.scatter_2d(data.test, fake, columns=data.columns), key=f"sc_{s.id}")
        else:
            log = figures.style.prefers_log_axes(data)
            st.plotly_chart(figures.samples.marginal_histograms(data.test, data.columns, fake, log_x=log), key=f"h_{s.id}")
            if data.n_features <= 6:
                st.plotly_chart(figures.samples.pair_scatter(data.test, data.columns, fake, log=log), key=f"p_{s.id}")
        c1, c2 = st.columns(2)
        c1.download_button("Download samples (CSV)", samples_csv(fake, data.columns),
                           file_name=f"{s.model}_{data.name}_samples.csv", mime="text/csv", key=f"dl_{s.id}")
        if s.run_id:
            c2.page_link("pages/runs.py", label=f"Saved as run {s.run_id} →", icon=":material/folder_open:")
