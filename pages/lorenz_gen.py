"""Section 4 of the Lorenz lab: train generative models on trajectories, watch them live, and check whether what
they generate is still chaotic. Not a page of its own (app.py does not list it): pages/lorenz.py calls it."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from genlib import figures
from genlib.data import Dataset
from genlib.data import trajectory_codec as codec
from genlib.data.lorenz_images import lorenz_images_scaler
from genlib.dynamics import trajectories as tr
from genlib.models import REGISTRY
from genlib.train import Job, JobStatus, TrainSpec
from genlib.params import Param
from pages import urlstate
from pages.common import _builtin, config_widgets, page_jobs, param_widget, start_page_job, train_setting

KINDS = {
    "DCGAN on trajectory images (seed 001)": ("lorenz_images", ["dcgan"]),
    "VAE on trajectory windows": ("lorenz_windows", ["vae", "wae"]),
    "Flow on trajectory windows": ("lorenz_windows", ["nsf", "maf", "realnvp"]),
}
#: Short defaults so a class sees results in a minute or two on a laptop CPU (more steps help).
DEFAULT_STEPS = {"lorenz_images": 1500, "lorenz_windows": 3000}


def _dataset(name: str, n_traj: int) -> Dataset:
    return _builtin(name, (("n_traj", int(n_traj)),))


def _start(spec: TrainSpec) -> None:
    st.session_state["lz_gen_pick"] = start_page_job(spec, "lz_gen_jobs").id


def _trajectories(rows: np.ndarray, ds: Dataset) -> np.ndarray:
    """Dataset rows (images or windows) → trajectories (n, T, 3) in data units."""
    if ds.name == "lorenz_images":
        return codec.from_images(rows, lorenz_images_scaler(ds))
    return codec.unwindow(rows, int(ds.params["length"]))


def generative_section() -> None:
    st.markdown(
        "Seed 001 turns each trajectory (1,024 steps at dt = 0.1) into a 32×32 picture whose red, green and blue "
        "channels are x, y and z, and trains a DCGAN on those pictures. A generated picture decodes back into a "
        "trajectory, so we can ask of it what we ask of real ones. VAEs and flows here learn short windows of "
        "trajectory instead (16 steps as one 48-number vector).")
    st.latex(r"\mathrm{image}[c,\, r,\, k] = \frac{2\,(s_c(32r + k) - \min_c)}{\max_c - \min_c} - 1,"
             r"\qquad c \in \{x, y, z\}")
    kind = urlstate.choice("What to train", list(KINDS), "lz_gen_kind", radio=True)
    ds_name, models = KINDS[kind]
    c = st.columns(4)
    n_traj = param_widget(Param(f"n_{ds_name}", 256 if ds_name == "lorenz_images" else 64, "seed 001 used 1,000 images",
                                choices=(64, 128, 256, 512, 1000), widget="slider", label="trajectories"),
                          "lz_gen", where=c[0])
    model = urlstate.choice("model", models, f"lz_gen_model_{ds_name}", where=c[1],
                            format_func=lambda n: f"{n} — {REGISTRY[n].label}")
    steps = int(train_setting("steps", "lz_gen", c[2], default=DEFAULT_STEPS[ds_name], step=500))
    device = train_setting("device", "lz_gen", c[3])
    ds = _dataset(ds_name, n_traj)
    if model == "dcgan":
        st.markdown("Seed 001's stabilisers are switches in the settings: **spectral norm** (each layer's largest "
                    "singular value kept at 1), **TTUR** (a faster discriminator learning rate), **one-sided "
                    "label smoothing** (real targets 0.9), **instance noise** added to both real and fake images "
                    "and decaying to zero, and **label flipping** (a few targets swapped).")
        st.latex(r"\mathcal{L}_D = -\mathbb{E}\big[0.9 \log D(x + \epsilon)\big] - \mathbb{E}\big[\log(1 - "
                 r"D(G(z) + \epsilon))\big], \quad \epsilon \sim \mathcal{N}(0, \sigma_t^2),\ \sigma_t \to 0")
    elif REGISTRY[model].formula:
        st.latex(r"\small " + REGISTRY[model].formula)
    with st.expander(f"{model} settings"):
        config = config_widgets(model, f"lz_{ds_name}")
    spec = TrainSpec(model=model, dataset=ds, config=config, steps=steps, device=device,
                     batch_size=64 if ds_name == "lorenz_images" else 256, eval_period_s=3.0,
                     eval_samples=200 if ds_name == "lorenz_images" else 1000,
                     preview_samples=16 if ds_name == "lorenz_images" else 64,
                     name=f"{model} on {ds_name}")
    st.button("Start training", type="primary", key="lz_gen_start", on_click=_start, args=(spec,))

    jobs = page_jobs("lz_gen_jobs")
    if not jobs:
        st.info("No model trained here yet: pick one and press **Start training**. It trains in the background; "
                "previews appear below every few seconds.")
        return
    labels = {j.id: f"{j.spec.label()} ({j.id}) — {j.status.value}" for j in jobs}
    pick = st.selectbox("Run to show", list(labels), format_func=labels.get, key="lz_gen_pick",
                        index=len(labels) - 1)
    job = next(j for j in jobs if j.id == pick)
    live_preview(job)
    if job.status in (JobStatus.DONE, JobStatus.STOPPED) and job.fitted is not None:
        chaos_check(job)


def live_preview(job: Job) -> None:
    @st.fragment(run_every=1.0 if not job.status.finished else None)
    def body() -> None:
        s = job.snapshot()
        ds = job.spec.dataset
        st.progress(s.fraction, text=f"{s.name} — {s.status.value} · step {s.step}/{s.total} · "
                                     f"{s.steps_per_s:.0f} steps/s")
        if s.error:
            st.error(s.error)
        if s.losses:
            st.plotly_chart(figures.curves.loss_curves(s.loss_steps, s.losses), key=f"lz_gen_loss_{job.id}")
        preview = job.preview
        real_rows = ds.test[:16]
        real = _trajectories(real_rows, ds)
        if preview is None:
            st.caption("The first preview is drawn after a few seconds of training.")
            return
        fake = _trajectories(np.asarray(preview), ds)
        if ds.name == "lorenz_images":
            c = st.columns(2)
            c[0].markdown("**Real trajectories as images**")
            c[0].plotly_chart(figures.lorenz.rgb_grid(codec.to_images(real, lorenz_images_scaler(ds))),
                              key=f"lz_gen_real_{job.id}")
            c[1].markdown(f"**Generated** (step {s.step})")
            c[1].plotly_chart(figures.lorenz.rgb_grid(np.asarray(preview).reshape(-1, 3, 32, 32)),
                              key=f"lz_gen_fake_{job.id}")
        shown = {"real attractor": real.reshape(-1, 3)}
        for i in range(min(2 if ds.name == "lorenz_images" else 8, len(fake))):
            shown[f"generated {i + 1}"] = fake[i]
        c = st.columns([3, 2])
        fig = figures.lorenz.butterfly(shown, mode="lines")
        fig.data[0].update(mode="markers", marker=dict(size=1.5, color="#adb5bd"), line=None)
        c[0].plotly_chart(fig, key=f"lz_gen_fly_{job.id}")
        dt = float(ds.params["dt"])
        t = np.arange(real.shape[1]) * dt
        c[1].plotly_chart(figures.lorenz.time_series(t, {"real": real[0], "generated": fake[0]}),
                          key=f"lz_gen_ts_{job.id}")

    body()


@st.cache_data(show_spinner="Sampling, decoding and measuring chaos…", max_entries=8)
def _chaos(job_id: str, n: int, _job: Any) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    ds = _job.spec.dataset
    fake = _trajectories(_job.fitted.sample(n, seed=7), ds)
    real = _trajectories(ds.test[:n], ds)
    table = tr.chaos_table(real, fake, float(ds.params["dt"]), lyapunov=ds.name == "lorenz_images")
    return table, real, fake


def chaos_check(job: Job) -> None:
    st.markdown("#### Chaos preserved?")
    st.markdown("Seed 001's question, with the data-only estimator of section 2 run on real and on generated "
                "trajectories alike, plus checks of the distribution: the marginals of x, y, z, how often z peaks, "
                "and **Lorenz's map** — each maximum of z plotted against the next, a sharp cusp for the real "
                "system that a model must reproduce to have learned the dynamics, not just the cloud of points.")
    st.markdown("Read the exponent against the **real** column, never alone: Rosenstein's estimator also returns a "
                "positive number for white noise (about 1.25 / dt, ≈ 12 here), so a generated exponent far above "
                "the real one means *jittery*, not *more chaotic* — seed 001's \"positive, hence chaotic\" is not "
                "enough. The **mean state change per step** shows the jitter directly.")
    ds = job.spec.dataset
    n = int(st.select_slider("trajectories to compare", [16, 32, 64], 32, key=f"lz_chaos_n_{job.id}"))
    table, real, fake = _chaos(job.id, n, job)
    st.dataframe(table.style.format({"real": "{:.3g}", "real_std": "{:.2g}", "generated": "{:.3g}",
                                     "generated_std": "{:.2g}"}, na_rep="—"), hide_index=True,
                 key=f"lz_chaos_table_{job.id}")
    if ds.name == "lorenz_images":
        lyap = table[(table["check"].str.startswith("Lyapunov")) & (table["coordinate"] == "xyz")]
        if len(lyap) and np.isfinite(lyap["real"].iloc[0]) and np.isfinite(lyap["generated"].iloc[0]):
            r, g = float(lyap["real"].iloc[0]), float(lyap["generated"].iloc[0])
            st.metric("largest exponent, generated vs real (full state)", f"{g:.3f}",
                      f"{100 * (g / r - 1):+.0f} % vs real {r:.3f}", delta_color="off")
    else:
        st.caption("Windows of 16 steps are too short for a Lyapunov exponent (the divergence needs many orbits); "
                   "the distribution checks still apply.")
    c = st.columns(2)
    c[0].plotly_chart(figures.lorenz.return_map({"real": tr.return_map(real[..., 2]),
                                               "generated": tr.return_map(fake[..., 2])}),
                      key=f"lz_chaos_map_{job.id}")
    c[1].plotly_chart(figures.samples.histogram_overlay(real.reshape(-1, 3), {"generated": fake.reshape(-1, 3)},
                                              list(codec.COORDS)), key=f"lz_chaos_marg_{job.id}")
    st.download_button("Generated trajectories (CSV)",
                       pd.DataFrame({"trajectory": np.repeat(np.arange(len(fake)), fake.shape[1]),
                                     "step": np.tile(np.arange(fake.shape[1]), len(fake)),
                                     "x": fake[..., 0].ravel(), "y": fake[..., 1].ravel(),
                                     "z": fake[..., 2].ravel()}).to_csv(index=False).encode(),
                       f"{job.spec.model}_lorenz_trajectories.csv", "text/csv", key=f"lz_chaos_dl_{job.id}")
