"""Section 4 of the Lorenz lab: train generative models on trajectories, watch them live, and check whether what
they generate is still chaotic. Not a page of its own (app.py does not list it): pages/lorenz.py calls it."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from genlib import figures
from genlib.figures.style import REAL_COLOR
from genlib.data import Dataset
from genlib.data import trajectory_codec as codec
from genlib.data.lorenz_images import lorenz_images_scaler
from genlib.dynamics import trajectories as tr
from genlib.dynamics.generation import TRAJECTORY_DATA, GenerationResult, GenerationTask, trajectories_of
from genlib.models import REGISTRY
from genlib.models.fitted import FittedModel
from genlib.params import Param
from genlib.store import JobStatus, RunKind, RunRecord, StoreError
from genlib.train import Job, TrainSpec
from pages import urlstate
from pages.text import md
from pages.addressing import (dataset_of, load_model, results, set_url_value, snapshot_of, stored, url_select,
                              url_value)
from pages.common import (_builtin, config_widgets, csv_bytes, job_manager, progress_text,
                          param_widget, run_store, start_page_job, train_setting)
from pages.instrument import control_strip, start_button

KINDS = {
    "Sequence model on whole trajectories (runs on its own)": ("lorenz_series", ["neural_map", "esn"]),
    "DCGAN on trajectory images (as in the Lorenz study)": ("lorenz_images", ["dcgan"]),
    "VAE on trajectory windows": ("lorenz_windows", ["vae", "wae"]),
    "Flow on trajectory windows": ("lorenz_windows", ["nsf", "maf", "realnvp"]),
}
#: Defaults sized to end within about 2 minutes on 2 quiet CPU cores (benchmarks/default_budgets.py; issue 19). A
#: DCGAN step on 32×32 trajectory images takes about 0.56 s there (2 s on a busy machine), so its default is short: it
#: shows the pictures forming, and the page names the exception (a convincing model needs far more steps).
DEFAULT_STEPS = {"lorenz_images": 200, "lorenz_windows": 3000, "lorenz_series": 10_000}
#: Seconds between two rescorings: scoring 200 images costs 1.5-5 s, so the DCGAN rescores less often.
EVAL_PERIOD = {"lorenz_images": 10.0, "lorenz_windows": 3.0, "lorenz_series": 5.0}
#: The time step of the trajectories a sequence model learns (its dataset's one knob on this page).
SERIES_DT = Param("dt", 0.01, "time between two states of the trajectories the model learns and generates",
                  choices=(0.01, 0.02, 0.05, 0.1), widget="select_slider", label="time step dt")
#: How many trajectories "Generate and measure" draws (one address key, ``lz_chaos_n``, whichever run is shown).
CHAOS_N = Param("n", 32, "", choices=(16, 32, 64), widget="slider", label="trajectories to compare")


def _dataset(name: str, n_traj: int | float) -> Dataset:
    """The section's data: ``n_traj`` trajectories, or for ``lorenz_series`` its time step dt (4 trajectories of 100
    time units, the dataset's default)."""
    if name == "lorenz_series":
        return _builtin(name, (("dt", float(n_traj)),))
    return _builtin(name, (("n_traj", int(n_traj)),))


def spec_for(model: str, ds_name: str, n_traj: int | float, steps: int, config: dict, device: str) -> TrainSpec:
    """The training job this section starts (benchmarks/default_budgets.py times its defaults). ``n_traj``: the
    number of trajectories, or dt for ``lorenz_series``."""
    images = ds_name == "lorenz_images"
    return TrainSpec(model=model, dataset=_dataset(ds_name, n_traj), config=config, steps=steps, device=device,
                     batch_size=64 if images else 256, eval_period_s=EVAL_PERIOD[ds_name], eval_samples=200 if images else 1000,
                     preview_samples=16 if images else (400 if ds_name == "lorenz_series" else 64),
                     name=f"{model} on {ds_name}")


#: A run the section can show: a job of this process, or a stored run.
Shown = tuple[Job | None, RunRecord | None]


def _start(spec: TrainSpec) -> None:
    """Button callback: the new run is shown (and named in the URL) as soon as its job starts."""
    job = start_page_job(spec, "lz_gen_jobs")
    if job is not None:
        st.session_state["lz_gen_pending"] = job.id
        set_url_value("gen", None)


def _training_runs() -> dict[str, Shown]:
    """Models of trajectories: the training jobs of this process (by run id, or job id while queued), then the
    stored training runs on trajectory data."""
    out: dict[str, Shown] = {}
    for job in job_manager().jobs():
        if job.kind == RunKind.TRAIN.value and job.spec.dataset.name in TRAJECTORY_DATA:
            out[job.run_id or job.id] = (job, None)
    for record in run_store().list():
        if record.dataset in TRAJECTORY_DATA and record.id not in out and record.status not in ("running", "queued"):
            out[record.id] = (None, record)
    return out


def _run_label(key: str, runs: dict[str, Shown]) -> str:
    job, record = runs[key]
    if job is not None:
        return f"{job.spec.label()} ({key})"   # no status: a label that changes loses the selection
    assert record is not None
    return f"{record.name} (stored run {key})"


def _pending(runs: dict[str, Shown], session_key: str) -> str | None:
    """The run a button of this section just started: shown first; forgotten once its job has a run id (from then
    on the URL names it)."""
    pending = st.session_state.get(session_key)
    prefer = next((k for k, (j, _) in runs.items() if j is not None and j.id == pending), None)
    if prefer is not None and runs[prefer][0].run_id:  # type: ignore[union-attr]
        st.session_state.pop(session_key)
    return prefer


def _url_of(runs: dict[str, Shown]):
    """A job still queued has no run id yet: the URL names nothing until it starts."""
    return lambda k: None if runs[k][0] is not None and not runs[k][0].run_id else k  # type: ignore[union-attr]


def generative_section() -> None:
    st.markdown(
        "The Lorenz study turns each trajectory (1,024 steps at dt = 0.1) into a 32×32 picture whose red, green and blue "
        "channels are x, y and z, and trains a DCGAN on those pictures. A generated picture decodes back into a "
        "trajectory, so we can ask of it what we ask of real ones. VAEs and flows here learn short windows of "
        "trajectory instead (16 steps as one 48-number vector). Neither makes a long trajectory. **Sequence models** "
        "do: they learn the step from one state to the next on whole trajectories, then run on their own, feeding "
        "each prediction back in, for as long as you like. The DCGAN stays here as a lesson: its pictures look "
        "right long before its decoded trajectories do (after 3,000 steps their exponent still reads noise's ~11 "
        "against the real 0.9; benchmarks/RESULTS.md).")
    st.latex(r"\mathrm{image}[c,\, r,\, k] = \frac{2\,(s_c(32r + k) - \min_c)}{\max_c - \min_c} - 1,"
             r"\qquad c \in \{x, y, z\}")
    kind = urlstate.choice("What to train", list(KINDS), "lz_gen_kind", radio=True)
    ds_name, models = KINDS[kind]
    c = st.columns(4)
    if ds_name == "lorenz_series":
        n_traj = param_widget(SERIES_DT, "lz_gen", where=c[0])
    else:
        n_traj = param_widget(Param(f"n_{ds_name}", 256 if ds_name == "lorenz_images" else 64,
                                    "the Lorenz study used 1,000 images", choices=(64, 128, 256, 512, 1000),
                                    widget="slider", label="trajectories"), "lz_gen", where=c[0])
    model = urlstate.choice("model", models, f"lz_gen_model_{ds_name}", where=c[1],
                            format_func=lambda n: f"{n} — {REGISTRY[n].label}")
    if REGISTRY[model].iterative:
        steps = int(train_setting("steps", "lz_gen", c[2], default=DEFAULT_STEPS[ds_name],
                                  step=100 if ds_name == "lorenz_images" else 500))
    else:
        steps = 1
        c[2].caption("Fitted in one go (a ridge regression): no steps to choose.")
    device = train_setting("device", "lz_gen", c[3])
    ds = _dataset(ds_name, n_traj)
    if model == "dcgan":
        st.markdown("The Lorenz study's stabilisers are switches in the settings: **spectral norm** (each layer's largest "
                    "singular value kept at 1), **TTUR** (a faster discriminator learning rate), **one-sided "
                    "label smoothing** (real targets 0.9), **instance noise** added to both real and fake images "
                    "and decaying to zero, and **label flipping** (a few targets swapped).")
        st.latex(r"\mathcal{L}_D = -\mathbb{E}\big[0.9 \log D(x + \epsilon)\big] - \mathbb{E}\big[\log(1 - "
                 r"D(G(z) + \epsilon))\big], \quad \epsilon \sim \mathcal{N}(0, \sigma_t^2),\ \sigma_t \to 0")
    elif REGISTRY[model].formula:
        st.latex(r"\small " + REGISTRY[model].formula)
    if ds_name == "lorenz_series":
        st.caption("Measured (16 trajectories of 10,000 steps each side): the neural step map keeps the largest "
                   "Lyapunov exponent within 2 % at dt = 0.01 and at dt = 0.1; the echo state network fits in "
                   "seconds and is as good at dt = 0.01, but at dt = 0.1 its free run settles onto a cycle "
                   "(exponent ≈ 0). Try both and compare the tables below.")
    with st.expander(f"{model} settings"):
        config = config_widgets(model, f"lz_{ds_name}")
    spec = spec_for(model, ds_name, n_traj, steps, config, device)
    if ds_name == "lorenz_images":
        st.caption(f"The one default here that is not a full model: {DEFAULT_STEPS[ds_name]} steps take about two "
                   "minutes on 2 CPU cores and show the pictures forming. Trajectories that decode and stay chaotic "
                   "need 1,500 steps or more: a quarter of an hour to over an hour on 2 CPU cores (a GPU is much "
                   "faster; not measured here). Pause, step or slow it down below to watch it learn.")
    start_button("Start training", spec, "lz_gen_start", _start, args=(spec,))

    if url_value("gen") and not url_value("run"):   # a link to a generation run names its model's run too
        gen = stored(url_value("gen"), kinds=(RunKind.GENERATION.value,))
        if gen is not None:
            set_url_value("run", gen.inputs.get("source_run"))
    runs = _training_runs()
    live = [k for k, (j, _) in runs.items() if j is not None]
    key = url_select("Run to show", list(runs), "run", "lz_gen_pick", format_func=lambda k: _run_label(k, runs),
                     url_of=_url_of(runs), prefer=_pending(runs, "lz_gen_pending"),
                     default=live[-1] if live else None)
    if key is None:
        st.info("No model trained here yet: pick one and press **Start training**. It trains in the background; "
                "previews appear below every few seconds.")
        return
    job, record = runs[key]
    if job is not None:
        live_preview(job)
        if job.status in (JobStatus.DONE, JobStatus.STOPPED) and job.fitted is not None and job.run_id:
            chaos_check(job.run_id, job.spec.dataset, job.fitted, job.spec.model)
        return
    assert record is not None
    ds = dataset_of(record)
    if ds is None:
        st.error(f"The data of run {record.id} ({record.dataset}) cannot be rebuilt here.")
        return
    fitted = None
    if record.status in ("done", "stopped", "interrupted") and record.run_dir is not None:
        try:
            fitted = load_model(record.id)
        except StoreError as exc:
            st.error(f"Cannot load the model of run {record.id}: {md(exc)}")
    stored_preview(record, ds, fitted)
    if fitted is not None:
        chaos_check(record.id, ds, fitted, record.model)


def stored_preview(record: RunRecord, ds: Dataset, fitted: FittedModel | None) -> None:
    """A stored run: its status line and loss curves, and samples of its model beside real trajectories."""
    s = snapshot_of(record)
    st.progress(s.fraction, text=f"{md(s.name)} — {s.status.value} · step {s.step}/{s.total} · stored run {record.id}")
    if s.error:
        st.error(md(s.error))
    if s.losses:
        st.plotly_chart(figures.curves.loss_curves(s.loss_steps, s.losses), key=f"lz_gen_loss_{record.id}")
    if fitted is not None:
        rows = fitted.sample(16 if ds.name == "lorenz_images" else 64, seed=4242)  # as the training previews
        _preview_figures(ds, np.asarray(rows), f"stored run, step {s.step}", record.id)


def live_preview(job: Job) -> None:
    """A job of this process as it trains: the instrument's controls, its progress, curves and previews, redrawn at
    the strip's interval; once it ends, the whole page runs again (the line says done, the chaos check appears)."""
    every = control_strip(job, "lz_gen") if not job.status.finished else None

    @st.fragment(run_every=every)
    def body() -> None:
        s = job.snapshot()
        ds = job.spec.dataset
        st.progress(s.fraction, text=progress_text(s))
        if every is not None and s.status.finished:
            st.rerun()
        if s.error:
            st.error(md(s.error))
        if s.losses:
            st.plotly_chart(figures.curves.loss_curves(s.loss_steps, s.losses), key=f"lz_gen_loss_{job.id}")
        if job.preview is None:
            st.caption("The first preview is drawn after a few seconds of training.")
            return
        _preview_figures(ds, np.asarray(job.preview), f"step {s.step}", job.id)

    body()


def _preview_figures(ds: Dataset, preview: np.ndarray, when: str, key: str) -> None:
    """Generated rows beside real ones: as images (DCGAN), on the attractor, and as time series. A sequence
    model's rows are states on its own attractor (not one trajectory): drawn as points over the real one."""
    if ds.is_series:
        fig = figures.lorenz.butterfly({"real attractor": ds.test, f"generated states ({when})": preview},
                                       mode="markers")
        fig.data[0].update(marker=dict(size=1.5, color=REAL_COLOR, opacity=0.25))
        st.plotly_chart(fig, key=f"lz_gen_fly_{key}")
        st.caption("Each generated point comes from the model running on its own from a start on a training "
                   "trajectory. Below, **Generate and measure** runs it for long trajectories and measures them.")
        return
    real = trajectories_of(ds.test[:16], ds)
    fake = trajectories_of(preview, ds)
    if ds.name == "lorenz_images":
        c = st.columns(2)
        c[0].markdown("**Real trajectories as images**")
        c[0].plotly_chart(figures.lorenz.rgb_grid(codec.to_images(real, lorenz_images_scaler(ds))),
                          key=f"lz_gen_real_{key}")
        c[1].markdown(f"**Generated** ({when})")
        c[1].plotly_chart(figures.lorenz.rgb_grid(preview.reshape(-1, 3, 32, 32)), key=f"lz_gen_fake_{key}")
    shown = {"real attractor": real.reshape(-1, 3)}
    for i in range(min(2 if ds.name == "lorenz_images" else 8, len(fake))):
        shown[f"generated {i + 1}"] = fake[i]
    c = st.columns([3, 2])
    fig = figures.lorenz.butterfly(shown, mode="lines")
    fig.data[0].update(mode="markers", marker=dict(size=1.5, color=REAL_COLOR, opacity=0.25), line=None)
    c[0].plotly_chart(fig, key=f"lz_gen_fly_{key}")
    dt = float(ds.params["dt"])
    t = np.arange(real.shape[1]) * dt
    c[1].plotly_chart(figures.lorenz.time_series(t, {"real": real[0], "generated": fake[0]}), key=f"lz_gen_ts_{key}")


def _submit_generation(run_id: str, ds: Dataset, fitted: FittedModel, model: str, n: int) -> None:
    """Button callback: sampling and measuring is a job (its result is stored as a run of kind generation)."""
    task = GenerationTask(source_run=run_id, fitted=fitted, dataset=ds, n=n, model=model)
    job = start_page_job(task, "lz_gen_gen_jobs")
    if job is not None:
        st.session_state["lz_gen_gen_pending"] = job.id


def _generations(run_id: str) -> dict[str, Shown]:
    """Trajectory sets generated from run ``run_id``: jobs of this process, then stored generation runs."""
    out: dict[str, Shown] = {}
    for job in job_manager().jobs():
        if isinstance(job.spec, GenerationTask) and job.spec.source_run == run_id:
            out[job.run_id or job.id] = (job, None)
    for record in run_store().list(kinds=(RunKind.GENERATION.value,)):
        if (record.inputs or {}).get("source_run") == run_id and record.id not in out and record.run_dir:
            out[record.id] = (None, record)
    return out


def _generated(gens: dict[str, Shown], key: str) -> GenerationResult | None:
    """The result to draw: the live job's own object, or the stored arrays. None (with a progress bar or the
    error shown) when there is none yet."""
    job, record = gens[key]
    if job is None:
        assert record is not None
        return GenerationResult.from_arrays(results(record.id))
    if not job.status.finished:
        @st.fragment(run_every=1.0)
        def wait() -> None:
            s = job.snapshot()
            st.progress(s.fraction, text=progress_text(s))
            if s.status.finished:
                st.rerun()

        wait()
        return None
    if job.result is None or job.snapshot().status is JobStatus.FAILED:
        st.error(md(job.snapshot().error or "the generation ended without a result"))
        return None
    return job.result.value


def chaos_check(run_id: str, ds: Dataset, fitted: FittedModel, model: str) -> None:
    """Generate trajectories from the model of run ``run_id`` (a job) and show how chaotic they are: from the live
    job, or from the arrays of a stored generation run (``?gen=<id>``), without recomputing."""
    st.markdown("#### Chaos preserved?")
    st.markdown("The Lorenz study's question, with the data-only estimator of section 2 run on real and on generated "
                "trajectories alike, plus checks of the distribution: the marginals of x, y, z, how often z peaks, "
                "and **Lorenz's map** — each maximum of z plotted against the next, a sharp cusp for the real "
                "system that a model must reproduce to have learned the dynamics, not just the cloud of points.")
    st.markdown("Read the exponent against the **real** column, never alone: Rosenstein's estimator also returns a "
                "positive number for white noise (about 1.25 / dt, ≈ 12 here), so a generated exponent far above "
                "the real one means *jittery*, not *more chaotic* — the study's \"positive, hence chaotic\" is not "
                "enough. The **mean state change per step** shows the jitter directly.")
    c = st.columns([2, 1])
    n = int(param_widget(CHAOS_N, "lz_chaos", where=c[0]))
    c[1].button("Generate and measure", type="primary", key=f"lz_chaos_go_{run_id}", on_click=_submit_generation,
                args=(run_id, ds, fitted, model, n),
                help="a background job; its trajectories and table are kept in the run store")
    gens = _generations(run_id)

    def label(k: str) -> str:
        j, r = gens[k]
        size = j.spec.n if j is not None else (r.inputs or {}).get("n")  # type: ignore[union-attr]
        return f"{size} trajectories ({'this session' if j is not None else 'stored'}, run {k})"

    live = [k for k, (j, _) in gens.items() if j is not None]
    key = url_select("Generated set", list(gens), "gen", f"lz_gen_set_{run_id}", format_func=label,
                     url_of=_url_of(gens), prefer=_pending(gens, "lz_gen_gen_pending"),
                     default=live[-1] if live else None, what="generation run")
    if key is None:
        st.info("Press **Generate and measure**: the model's trajectories are sampled, decoded and measured in the "
                "background, and kept with the run.")
        return
    result = _generated(gens, key)
    if result is None:
        return
    real, fake, table = result.real, result.generated, result.table
    if table is None:
        st.warning("This generation was stopped before its chaos table was measured: only its trajectories are kept.")
        return
    st.dataframe(table.style.format({"real": "{:.3g}", "real_std": "{:.2g}", "generated": "{:.3g}",
                                     "generated_std": "{:.2g}"}, na_rep="—"), hide_index=True,
                 key=f"lz_chaos_table_{key}")
    if ds.is_series:
        st.markdown("For a model that runs on its own, two more checks of dynamical-systems reconstruction compare "
                    "long trajectories as wholes (two chaotic trajectories part within a few time units, so never "
                    "step by step): the **state-space divergence**, a Kullback–Leibler divergence between how often "
                    "real and generated trajectories visit each cell of a 20 × 20 × 20 grid, and the **power-spectrum "
                    "distance**, a Hellinger distance between the smoothed power spectra of each coordinate (the "
                    "time scales). The real column is the same measure between two halves of the real set: what "
                    "finite samples give when nothing is wrong. A model with equations also gets its exponent by "
                    "Benettin's method, from its own Jacobian, beside Lorenz's.")
        st.latex(r"D_{\mathrm{stsp}} = \sum_{\mathrm{cells}\ k} p_k \log\frac{p_k}{q_k}, \qquad "
                 r"D_H = \frac{1}{3}\sum_{c \in \{x,y,z\}} \sqrt{1 - \sum_f \sqrt{P_c(f)\,Q_c(f)}}")
    if ds.name in ("lorenz_images", "lorenz_series"):
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
                      key=f"lz_chaos_map_{key}")
    c[1].plotly_chart(figures.samples.histogram_overlay(real.reshape(-1, 3), {"generated": fake.reshape(-1, 3)},
                                              list(codec.COORDS)), key=f"lz_chaos_marg_{key}")
    st.download_button("Generated trajectories (CSV)",
                       pd.DataFrame({"trajectory": np.repeat(np.arange(len(fake)), fake.shape[1]),
                                     "step": np.tile(np.arange(fake.shape[1]), len(fake)),
                                     "x": fake[..., 0].ravel(), "y": fake[..., 1].ravel(),
                                     "z": fake[..., 2].ravel()}).pipe(csv_bytes),
                       f"{model}_lorenz_trajectories.csv", "text/csv", key=f"lz_chaos_dl_{key}")
