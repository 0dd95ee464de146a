"""Anomaly scoring with WGAN reconstruction (seed 003; Schlegl et al. 2017, f-AnoGAN): a GAN learns the normal
data; an object the generator cannot rebuild, or whose rebuild the critic sees differently, is anomalous.
Thin: genlib.anomaly does the work, genlib.figures.anomaly draws."""
from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from genlib import anomaly as an
from genlib import figures
from genlib.data import DataError
from genlib.params import Param, params_of
from genlib.train import Job, JobStatus, TrainSpec
from pages import urlstate
from pages.common import MAX_UPLOAD_MB, ensure_app_shell, job_manager, param_widget, train_setting
from pages.presets_ui import page_state

ensure_app_shell()

#: The WGAN-GP's code size, as a setting (few sizes: a select slider).
LATENT = Param("latent", 16, "size of the generator's code z", choices=(4, 8, 16, 32), widget="slider",
               label="latent size")

st.title("Anomaly scoring")
page_state("anomaly")
st.markdown(
    "Train a GAN on **normal** data only. For a new object x, search the generator's inputs for the z whose "
    "output G(z) looks most like x: a normal object is rebuilt well, an anomaly is not, because the generator "
    "never learned to draw it. The score mixes the **residual** G (pixels or values) with the distance C "
    "between the critic's intermediate features f of x and of its rebuild — the critic has learned what "
    "normal data look like. Seed 003 weights the residual by λ (λ = 0.9 is Schlegl's setting).")
st.latex(r"z^* = \arg\min_z \lVert x - G(z)\rVert^2, \qquad "
         r"\mathrm{AS}(x) = \lambda\,\underbrace{\mathrm{RMS}(x - G(z^*))}_{G} + (1-\lambda)\,"
         r"\underbrace{\mathrm{RMS}(f(x) - f(G(z^*)))}_{C}")

# --------------------------------------------------------------------------------------------- set-up
st.subheader("1 · Normal data and test data")
c = st.columns(3)
kind = urlstate.choice("scenario", [*an.SCENARIO_SETTINGS, "upload"], "an_kind", where=c[0],
                      format_func={"digits": "digits: one class held out", "finance": "finance: corrupted rows",
                                   "lorenz_windows": "Lorenz windows: perturbed system",
                                   "upload": "your CSVs: normal rows + rows to score"}.get)
params: dict[str, Any] = {}
if kind in an.SCENARIO_SETTINGS:
    # The scenario's settings as widgets, from its declaration in genlib.anomaly.settings (the advanced ones, seeds
    # and sizes, keep their defaults here: the page compares detectors on the standard split).
    shown = [p for p in params_of(an.SCENARIO_SETTINGS[kind]) if not p.advanced]
    for col, p in zip(c[1:], shown):
        with col:
            params[p.name] = param_widget(p, f"an_{kind}")
else:
    normal_file = c[1].file_uploader("normal rows (CSV)", type=["csv"], key="an_up_normal",
                                     max_upload_size=MAX_UPLOAD_MB)
    test_file = c[2].file_uploader("rows to score (CSV; optional 0/1 column 'label')", type=["csv"],
                                   key="an_up_test", max_upload_size=MAX_UPLOAD_MB)
    if normal_file is None or test_file is None:
        st.info("Upload both files: numeric columns with a header row; the rows to score need the same columns, "
                "plus an optional 0/1 column named **label** (1 = anomaly) to get ROC curves.")
        st.stop()
    params["files"] = (normal_file.name, test_file.name, hash(normal_file.getvalue()), hash(test_file.getvalue()))


@st.cache_data(show_spinner="Building the scenario…", max_entries=16)
def _scenario(kind: str, items: tuple[tuple[str, Any], ...]) -> an.Scenario:
    return an.load_scenario(kind, **dict(items))


@st.cache_data(show_spinner="Reading the CSVs…", max_entries=8)
def _uploaded(normal: bytes, test: bytes, names: tuple[str, str]) -> an.Scenario:
    """The uploads go through genlib's CSV checks (from_csv) via a private temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / Path(n).name for n in names]
        for path, data in zip(paths, (normal, test)):
            path.write_bytes(data)
        has_label = b"label" in test.split(b"\n", 1)[0]
        return an.from_csv(paths[0], paths[1], label_column="label" if has_label else None)


try:
    if kind == "upload":
        sc = _uploaded(normal_file.getvalue(), test_file.getvalue(), (normal_file.name, test_file.name))
    else:
        sc = _scenario(kind, tuple(sorted(params.items())))
except DataError as exc:
    st.error(f"Cannot use these data: {exc}")
    st.stop()
st.caption(sc.description)
c = st.columns(3)
c[0].metric("normal training rows", f"{len(sc.normal_train):,}")
c[1].metric("test rows", f"{len(sc.test_x):,}")
c[2].metric("anomalies among them", f"{sc.n_anomalies:,}" if sc.test_y is not None else "unknown")

# --------------------------------------------------------------------------------------------- training
st.subheader("2 · Train a WGAN-GP on the normal rows")
st.latex(r"\min_G \max_{\lVert D\rVert_L \le 1}\ \mathbb{E}_{x}[D(x)] - \mathbb{E}_z[D(G(z))] "
         r"\;-\; \lambda_{GP}\,\mathbb{E}_{\hat x}\big[(\lVert\nabla D(\hat x)\rVert - 1)^2\big]")
c = st.columns([1, 1, 1])
steps = int(train_setting("steps", "an", c[0], default=3000, step=500, range=(100, 100_000)))
latent = int(param_widget(LATENT, "an", where=c[1]))
ds = an.scenario_dataset(sc)
spec = TrainSpec(model="wgan_gp", dataset=ds, config={"latent_dim": latent}, steps=steps, batch_size=128,
                 eval_period_s=None, name=f"wgan_gp on {sc.name}")


def _start(spec: TrainSpec, key: str) -> None:
    job = job_manager().submit(spec)
    st.session_state.setdefault("an_jobs", {})[key] = job.id
    st.toast(f"Started {spec.label()} ({job.id})")


scenario_key = f"{kind}:{sorted(params.items())}"
c[2].button("Train", type="primary", key="an_train", on_click=_start, args=(spec, scenario_key))
job_id = st.session_state.get("an_jobs", {}).get(scenario_key)
job: Job | None = next((j for j in job_manager().jobs() if j.id == job_id), None)
if job is None:
    st.info("Press **Train**: the GAN learns the normal rows in the background (a minute or two on a laptop).")
    st.stop()


was_running = not job.status.finished


@st.fragment(run_every=1.0 if was_running else None)
def _progress() -> None:
    s = job.snapshot()
    st.progress(s.fraction, text=f"{s.name} — {s.status.value} · step {s.step}/{s.total}")
    if s.error:
        st.error(s.error)
    if s.losses:
        st.plotly_chart(figures.curves.loss_curves(s.loss_steps, s.losses), key=f"an_loss_{job.id}")
    if was_running and s.status.finished:
        st.rerun()  # the whole page, so the scores appear


_progress()
if job.status is not JobStatus.DONE or job.fitted is None:
    st.stop()

# --------------------------------------------------------------------------------------------- scoring
st.subheader("3 · Scores")
st.markdown(
    "**Latent optimisation** (AnoGAN) runs Adam on z for every test row: slow, but the best rebuild the "
    "generator can make. An **encoder** trained after the GAN (f-AnoGAN's izi_f: x → E(x) → G(E(x)) ≈ x, "
    "with G and D frozen) gives z in one pass: fast enough to score a stream. λ re-weights the two parts "
    "instantly, without recomputing anything.")
SCORE = {p.name: p for p in params_of(an.ScoreSettings)}
c = st.columns(3)
with c[0]:
    method = param_widget(SCORE["method"], "an")
with c[1]:
    # 100 iterations, not the CLI's 200: twice as fast in front of a class, AUROC within ~0.01 (measured on digits)
    if method == "optimise":
        iters, encoder_steps = param_widget(replace(SCORE["iters"], default=100), "an"), 0
    else:
        iters, encoder_steps = 0, param_widget(SCORE["encoder_steps"], "an")
with c[2]:
    lam = param_widget(SCORE["lam"], "an")


@st.cache_resource(show_spinner="Training the encoder (G and D frozen)…", max_entries=8)
def _encoder(job_id: str, steps: int, _fitted: Any, _normal: np.ndarray) -> Any:
    return an.train_encoder(_fitted, _normal, steps=steps)


@st.cache_data(show_spinner="Reconstructing every test row…", max_entries=16)
def _scored(job_id: str, method: str, iters: int, encoder_steps: int, _fitted: Any, _sc: an.Scenario,
            _normal: Any) -> an.ScenarioScores:
    """``_normal`` is the GAN's dataset: its train split trained the GAN (and trains the encoder), its held-out
    split sets the thresholds."""
    enc = _encoder(job_id, encoder_steps, _fitted, _normal.train) if method == "encoder" else None
    return an.score_scenario(_fitted, _sc.test_x, _normal.test, method, enc, iters)


result = _scored(job.id, method, iters, encoder_steps, job.fitted, sc, job.spec.dataset)
scores, th, recon = result.scores(lam), result.thresholds(lam), result.reconstructions
st.plotly_chart(figures.anomaly.score_histogram(scores, sc.test_y, th.one_sigma, th.three_sigma), key="an_hist")
c = st.columns(3)
c[0].metric("flagged above 1σ", int((scores > th.one_sigma).sum()))
c[1].metric("flagged above 3σ", int((scores > th.three_sigma).sum()))
if sc.test_y is not None:
    c[2].metric("AUROC", f"{an.auroc(sc.test_y, scores):.3f}")

# --------------------------------------------------------------------------------------------- baselines
st.subheader("4 · Against simple detectors, same split")
st.markdown("An **isolation forest** isolates points with random cuts (anomalies need few); a **GMM on PCA** "
            "scores −log p of a mixture on 20 principal components; **k nearest neighbours** scores the mean "
            "distance to the 5 closest normal rows — no model at all, and on the digits the one to beat. "
            "ROC: every threshold at once.")


@st.cache_data(show_spinner="Fitting the baselines…", max_entries=16)
def _baselines(kind: str, items: tuple[tuple[str, Any], ...], _sc: an.Scenario) -> dict[str, np.ndarray]:
    return an.baseline_scores(_sc)


@st.cache_data(show_spinner="Training the VAE baseline on the normal rows…", max_entries=8)
def _vae(kind: str, items: tuple[tuple[str, Any], ...], _sc: an.Scenario) -> np.ndarray:
    return an.vae_scores(_sc, steps=1500)


detectors = {f"WGAN ({method}, λ = {lam:g})": scores, **_baselines(kind, tuple(sorted(params.items())), sc)}
detectors["WGAN + GMM (rank mean)"] = an.rank_mean(scores, detectors["GMM on PCA"])
if st.toggle("add a VAE's reconstruction error (trains a VAE on the normal rows, ~20 s)", key="an_vae"):
    detectors["VAE reconstruction error"] = _vae(kind, tuple(sorted(params.items())), sc)
if sc.test_y is not None:
    table = an.comparison_table(sc, detectors)
    left, right = st.columns([2, 3])
    left.dataframe(table.style.format({c: "{:.3f}" for c in table.columns if c != "detector"}), hide_index=True,
                   key="an_table")
    left.download_button("Comparison (CSV)", table.to_csv(index=False).encode(), "anomaly_comparison.csv",
                         "text/csv", key="an_table_dl")
    curves = {}
    for name, s in detectors.items():
        fpr, tpr, _, auc = an.roc(sc.test_y, s)
        curves[name] = (fpr, tpr, auc)
    right.plotly_chart(figures.anomaly.roc_figure(curves), key="an_roc")

# --------------------------------------------------------------------------------------------- gallery
st.subheader("5 · The top anomalies")
n_top = int(st.slider("how many", 4, 16, 8, key="an_top"))
top = np.argsort(-scores)[:n_top]
captions = [f"#{r} AS={scores[r]:.2f}" + ("" if sc.test_y is None else (" ✓" if sc.test_y[r] else " ✗"))
            for r in top]
st.caption("✓ = truly anomalous, ✗ = a normal row scored high.")
if sc.image_shape:
    vmax = float(np.max(sc.normal_train))
    st.plotly_chart(figures.anomaly.image_gallery(sc.test_x[top], np.clip(recon[top], 0, vmax), sc.image_shape,
                                                captions, vmax=vmax), key="an_gallery")
    st.caption("Rows: input, best reconstruction, |residual|.")
else:
    scale = sc.normal_train.std(axis=0)
    st.plotly_chart(figures.anomaly.residual_bars(sc.test_x[top], recon[top], sc.columns, scale, captions),
                    key="an_bars")
st.markdown("**Which anomalies are alike?** Seed 003's last step: a UMAP of the *residuals* x − x̂ of the rows "
            "above the 1σ threshold. Anomalies of the same kind leave the same residual and gather; a lone point is "
            "an odd one worth a look.")
flagged = np.flatnonzero(scores > th.one_sigma)
if len(flagged) >= 10 and st.button("Map the flagged rows' residuals", key="an_umap"):
    from genlib import latent as lt

    view = lt.embed(sc.test_x[flagged] - recon[flagged], "umap", n_neighbors=min(15, len(flagged) - 1))
    color = None if sc.test_y is None else np.where(sc.test_y[flagged] == 1, "anomalous", "normal")
    st.plotly_chart(figures.latent.embedding_scatter(view, color=color, color_label="truth",
                                                   hover={"test row": flagged, "score": scores[flagged]},
                                                   title=f"{len(flagged)} rows above 1σ, by their residuals"),
                    key="an_umap_fig")
elif len(flagged) < 10:
    st.caption("Fewer than 10 rows above 1σ: too few to map.")
out = pd.DataFrame({"row": np.arange(len(scores)), "score": scores, "G": result.test.G, "C": result.test.C})
if sc.test_y is not None:
    out["anomaly"] = sc.test_y
st.download_button("Scores (CSV)", out.to_csv(index=False).encode(), "anomaly_scores.csv", "text/csv",
                   key="an_scores_dl")
