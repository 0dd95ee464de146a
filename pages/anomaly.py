"""Anomaly scoring with WGAN reconstruction (the astronomy lecture; Schlegl et al. 2017, f-AnoGAN): a GAN learns the
normal data; an object the generator cannot rebuild, or whose rebuild the critic sees differently, is anomalous.
Thin: genlib.anomaly does the work (the WGAN's training and the scoring are jobs of the engine), genlib.figures
draws. The URL holds the GAN's run id (``?gan=``) and the scoring run's (``?run=``): a reload, or the link opened
elsewhere, shows the same trained GAN and the same stored scores without recomputing anything."""
from __future__ import annotations

import tempfile
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from genlib import anomaly as an
from genlib import figures
from genlib.data import DataError
from genlib.params import Param, params_of
from genlib.sources import cite
from genlib.store import RunKind, RunRecord, StoreError
from genlib.train import Job, JobStatus, Task, TrainSpec
from pages import urlstate
from pages.text import md
from pages.common import (MAX_UPLOAD_MB, csv_bytes, ensure_app_shell, fmt_time, follow_job, job_manager, param_widget,
                          run_store, submit_job, train_setting)
from pages.presentation import page_sections
from pages.presets_ui import page_state

ensure_app_shell()

#: The WGAN-GP's code size, as a setting (few sizes: a select slider).
LATENT = Param("latent", 16, "size of the generator's code z", choices=(4, 8, 16, 32), widget="slider",
               label="latent size")
#: Score with a VAE's reconstruction error too (a stored result opened here sets it to what made the scores).
WITH_VAE = Param("vae", False, "", widget="toggle",
                 label="add a VAE's reconstruction error (trains a VAE on the normal rows, ~20 s)")
#: How many of the top anomalies the gallery shows.
TOP = Param("top", 8, "", range=(4, 16), widget="slider", label="how many")

#: What benchmarks/anomaly_digits.py measured (benchmarks/RESULTS.md), shown beside the choice of method.
ENCODER_MEASURED = ("Measured on digits with one class held out, over all ten classes (8,000 GAN steps on raw pixels, "
                    "λ = 0.9): the encoder's score reaches a mean AUROC of 0.94 (hardest class 0.87), latent "
                    "optimisation 0.90; the k-nearest-neighbour distance 0.99 and the GMM 0.98 on the same splits. "
                    "With this page's default 3,000 steps (about a minute) the encoder reads 0.90 (hardest class "
                    "0.83): raise the steps to 8,000 for the better score.")

st.title("Anomaly scoring")
page_state("anomaly")
st.markdown(
    "Train a GAN on **normal** data only. For a new object x, search the generator's inputs for the z whose "
    "output G(z) looks most like x: a normal object is rebuilt well, an anomaly is not, because the generator "
    "never learned to draw it. The score mixes the **residual** G (in pixels for images; for tables, in the "
    "model's standardised units, since columns differ in unit) with the distance C "
    "between the critic's intermediate features f of x and of its rebuild — the critic has learned what "
    f"normal data look like. As in {cite('astro_lecture')}, λ weights the residual (λ = 0.9 is Schlegl's "
    "setting).")
st.latex(r"z^* = E(x)\ \text{or}\ \arg\min_z \lVert x - G(z)\rVert^2, \qquad "
         r"\mathrm{AS}(x) = \lambda\,\underbrace{\mathrm{RMS}(x - G(z^*))}_{G} + (1-\lambda)\,"
         r"\underbrace{\mathrm{RMS}(f(x) - f(G(z^*)))}_{C}")

store, manager = run_store(), job_manager()


# --------------------------------------------------------------------------------------------- the URL's runs
def _submit(task: Task | None, param: str, clear: tuple[str, ...] = ()) -> None:
    """Start a job (Train, Score). Its run id replaces ``?param=`` as soon as the job has one (:func:`_pending`);
    the ids in ``clear`` belong to the previous GAN and go."""
    if task is None:
        return
    job = submit_job(task)
    if job is None:   # refused (a fair-share limit): the message shows above the page
        return
    for name in (param, *clear):
        st.query_params.pop(name, None)
    st.session_state[f"an_pending_{param}"] = job.id
    st.toast(f"Started {md(task.label())} ({job.id})")


def _pending(param: str) -> Job | None:
    """The job this session started for ``?param=`` while it waits in the queue without a run id. Once it has one,
    the id goes into the URL, which is all a reload or a shared link needs."""
    key = f"an_pending_{param}"
    job_id = st.session_state.get(key)
    job = next((j for j in manager.jobs() if j.id == job_id), None) if job_id else None
    if job is not None and job.run_id is not None:
        st.query_params[param] = job.run_id
    if job is None or job.run_id is not None or job.status.finished:
        st.session_state.pop(key, None)
        return None
    return job


def _adopt(run_id: str) -> None:
    """Show a stored result: its run and its GAN into the URL, its built-in scenario into the widgets (called
    before they are created: they take these values)."""
    try:
        inputs = store.get(run_id).inputs
    except StoreError:
        return   # the result section says the run is unknown
    st.query_params["run"] = run_id
    if inputs.get("gan_run"):
        st.query_params["gan"] = inputs["gan_run"]
    else:
        st.query_params.pop("gan", None)
    scenario = inputs.get("scenario")
    if scenario in an.SCENARIO_SETTINGS:
        st.session_state["an_kind"] = scenario
        for name, value in (inputs.get("scenario_params") or {}).items():
            st.session_state[f"an_{scenario}_{name}"] = value
    # …and the scoring settings it was computed with, so the widgets describe the scores shown
    for name in ("method", "iters", "encoder_steps", "vae"):
        if inputs.get(name) is not None and (name != "iters" or inputs.get("method") == "optimise") and \
                (name != "encoder_steps" or inputs.get("method") == "encoder"):
            st.session_state[f"an_{name}"] = inputs[name]


def _open_stored() -> None:
    if st.session_state.get("an_open"):
        _adopt(st.session_state["an_open"])
    st.session_state["an_open"] = None   # a chooser, not a setting: it empties itself


if st.query_params.get("run") and not st.query_params.get("gan"):
    _adopt(st.query_params["run"])   # a link naming the scores only (the Runs page's): add their GAN and scenario


stored_runs = {r.id: r for r in store.list(kinds=(RunKind.ANOMALY.value,))
               if r.run_dir is not None and r.summary.get("complete")}
if stored_runs:
    def _describe_run(run_id: str) -> str:
        r = stored_runs[run_id]
        auc = r.summary.get("auroc")
        return f"{r.name} · {fmt_time(r.created)}" + ("" if auc is None else f" · AUROC {auc:.3f}") + \
            ("" if r.status == "done" else f" · {r.status}")

    st.selectbox("Open a stored result", list(stored_runs), index=None, format_func=_describe_run, key="an_open",
                 placeholder=f"{len(stored_runs)} stored scoring run(s)", on_change=_open_stored,
                 help="Scores computed earlier (also from another tab or session), with the GAN they used")

# --------------------------------------------------------------------------------------------- sections
SECTIONS = ["Normal data and test data", "Train a WGAN-GP on the normal rows", "Scores",
            "Against simple detectors, same split", "The top anomalies"]
show = page_sections("anomaly", SECTIONS)
_shown: set[str] = set()
_setup: list[Any] = []


def _part(title: str) -> Any:
    """Where a set-up section (data, GAN, scoring) draws. Shown: under its header. In presentation mode, the set-up
    sections not shown still run, folded into one expander: their widgets carry the data, the GAN and the scores
    to the section that is shown (the result sections, which nothing depends on, are skipped instead)."""
    if show(title):
        _shown.add(title)
        return st.container()
    if not _setup:
        _setup.append(st.expander("Settings of the other sections (data, GAN, scoring)"))
    return _setup[0]


# --------------------------------------------------------------------------------------------- set-up
with _part("Normal data and test data"):
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
        else:
            params["files"] = (normal_file.name, test_file.name, hash(normal_file.getvalue()),
                               hash(test_file.getvalue()))


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


    # sc is None while uploads are missing or unusable: a result in the URL is still shown below.
    sc: an.Scenario | None = None
    try:
        if kind != "upload":
            sc = _scenario(kind, tuple(sorted(params.items())))
        elif "files" in params:
            sc = _uploaded(normal_file.getvalue(), test_file.getvalue(), (normal_file.name, test_file.name))
    except DataError as exc:
        st.error(f"Cannot use these data: {md(exc)}")
    if sc is not None:
        st.caption(sc.description)
        c = st.columns(3)
        c[0].metric("normal training rows", f"{len(sc.normal_train):,}")
        c[1].metric("test rows", f"{len(sc.test_x):,}")
        c[2].metric("anomalies among them", f"{sc.n_anomalies:,}" if sc.test_y is not None else "unknown")

# --------------------------------------------------------------------------------------------- training
with _part("Train a WGAN-GP on the normal rows"):
    st.latex(r"\min_G \max_{\lVert D\rVert_L \le 1}\ \mathbb{E}_{x}[D(x)] - \mathbb{E}_z[D(G(z))] "
             r"\;-\; \lambda_{GP}\,\mathbb{E}_{\hat x}\big[(\lVert\nabla D(\hat x)\rVert - 1)^2\big]")
    c = st.columns([1, 1, 1])
    steps = int(train_setting("steps", "an", c[0], default=3000, step=500, range=(100, 100_000)))
    latent = int(param_widget(LATENT, "an", where=c[1]))
    ds = an.scenario_dataset(sc) if sc is not None else None
    spec = None if sc is None or ds is None else TrainSpec(model="wgan_gp", dataset=ds, config={"latent_dim": latent},
                                                           steps=steps, batch_size=128, eval_period_s=None,
                                                           transform=an.gan_transform(sc.image_shape),
                                                           name=f"wgan_gp on {sc.name}")
    c[2].button("Train", type="primary", key="an_train", on_click=_submit, args=(spec, "gan", ("run",)),
                disabled=spec is None)
    st.caption("Images train on raw pixels, which share one unit: the encoder's loss and the residual G then measure "
               "the same thing. Tables are standardised (or rank-Gauss transformed) first, since their columns differ "
               "in unit.")


    def _stored_gan(run_id: str) -> RunRecord | None:
        """The stored GAN run of ``?gan=``, or None with one line saying why it cannot be used."""
        try:
            record = store.get(run_id)
        except StoreError:
            st.warning(f"No run {run_id} in the store (deleted, or another GENLAB_HOME): train a GAN below.")
            return None
        if record.kind != RunKind.TRAIN.value or record.checkpoint is None or not record.checkpoint.is_file():
            st.warning(f"Run {run_id} has no trained model to score with ({record.kind}, {record.status}): train a "
                       "GAN below.")
            return None
        return record


    gan_job = _pending("gan")
    gan_pending = gan_job is not None
    gan_id = st.query_params.get("gan")
    gan_record: RunRecord | None = None
    if gan_job is None and gan_id:
        gan_job = manager.find_run(gan_id)
        if gan_job is not None and not isinstance(gan_job.spec, TrainSpec):
            st.warning(f"Run {gan_id} is not a trained GAN: train one below.")
            gan_job = None
        elif gan_job is None:
            gan_record = _stored_gan(gan_id)

    gan_data: tuple[str, dict, list] | None = None   # what the GAN learned: the normal rows' name, parameters, columns
    if gan_job is not None:
        was_running = not gan_job.status.finished

        @st.fragment(run_every=1.0 if was_running else None)
        def _progress() -> None:
            s = gan_job.snapshot()
            st.progress(s.fraction, text=f"{md(s.name)} — {s.status.value} · step {s.step}/{s.total}")
            if s.error:
                st.error(md(s.error))
            if s.losses:
                st.plotly_chart(figures.curves.loss_curves(s.loss_steps, s.losses), key=f"an_loss_{gan_job.id}")
            if (was_running and s.status.finished) or (gan_pending and s.run_id):
                st.rerun()  # the whole page, so the scores appear (and the run id goes into the URL)

        _progress()
        gan_data = (gan_job.spec.dataset.name, dict(gan_job.spec.dataset.params), list(gan_job.spec.dataset.columns))
        gan_trained = gan_job.status in (JobStatus.DONE, JobStatus.STOPPED) and gan_job.fitted is not None
    elif gan_record is not None:
        st.caption(f"Trained GAN: {md(gan_record.name)} · {gan_record.steps:,} steps · {gan_record.status} · "
                   f"{fmt_time(gan_record.created)} · run {gan_record.id}")
        history = gan_record.history or {}
        if history.get("losses"):
            st.plotly_chart(figures.curves.loss_curves(history["loss_steps"], history["losses"]),
                            key=f"an_loss_{gan_record.id}")
        gan_data = (gan_record.dataset, dict(gan_record.dataset_params), list(gan_record.columns))
        gan_trained = True
    else:
        gan_trained = False
        st.info("Press **Train**: the GAN learns the normal rows in the background (a minute or two on a laptop).")

    gan_fits = ds is not None and gan_data == (ds.name, dict(ds.params), list(ds.columns))
    if gan_data is not None and ds is not None and not gan_fits:
        st.info(f"This GAN learned '{md(gan_data[0])}' {md(gan_data[1] or '')}, not the scenario above "
                f"('{md(ds.name)}' "
                f"{md(dict(ds.params) or '')}): choose its scenario, or press **Train**.")
    gan_ready = gan_trained and gan_fits

# --------------------------------------------------------------------------------------------- scoring
with _part("Scores"):
    st.markdown(
        "An **encoder** trained after the GAN (f-AnoGAN's izi: x → E(x) → G(E(x)) ≈ x on normal rows, with G and "
        "D frozen) gives z in one pass: fast enough to score a stream, and the default. **Latent optimisation** "
        "(AnoGAN) runs Adam on z for every test row: slow, and on digits the weaker score — it also finds a z that "
        "draws the anomaly fairly well, which is exactly what a detector must not do. Both parts are kept for every "
        "row, so moving λ below only re-weights them: nothing is reconstructed again.")
    st.latex(r"E^* = \arg\min_E\ \mathbb{E}_{x\,\text{normal}}\,\lVert x - G(E(x))\rVert^2")
    st.caption(ENCODER_MEASURED)
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
        vae = param_widget(WITH_VAE, "an")

    task = None
    if gan_ready and sc is not None:
        # The scoring job rebuilds a built-in scenario from its name and settings; an upload goes in built. The GAN:
        # the live job's model in this process, else a loader of the stored run (jobs are handed no store).
        gan_source = gan_job.fitted if gan_job is not None else partial(store.load, gan_record.id)
        task = an.AnomalyScoringTask(
            gan=gan_source, gan_run=gan_job.run_id if gan_job is not None else gan_record.id,
            scenario_name=an.UPLOAD if kind == "upload" else kind,
            scenario_params={} if kind == "upload" else dict(params),
            scenario=sc if kind == "upload" else None, method=method, iters=int(iters or 0),
            encoder_steps=int(encoder_steps or 1), vae=vae)
    st.button("Score", type="primary", key="an_score", on_click=_submit, args=(task, "run"), disabled=task is None,
              help="Reconstruct every test row and fit the baselines, in the background; the result is stored")


    @st.cache_resource(max_entries=8, show_spinner=False)
    def _result_of(_store: Any, run_id: str, status: str) -> an.AnomalyResult:
        """A stored result, read from disk once per process (~1 s on a busy machine): a finished run's arrays never
        change, and the caller has checked that this viewer may see the run (``store.get``)."""
        return an.stored_result(_store, run_id)

    def _earlier_run(record: RunRecord, now: dict[str, Any]) -> str | None:
        """The newest complete scoring run of the same GAN and scenario made with the settings ``now`` (method,
        iterations or encoder steps, VAE), if any: switching the method back and forth then costs nothing."""
        same = ("gan_run", "scenario", "scenario_params")
        for other in stored_runs.values():   # newest first
            if other.id != record.id and all(other.inputs.get(k) == record.inputs.get(k) for k in same) and \
                    all(other.config.get(k) == v for k, v in now.items()):
                return other.id
        return None

    def _stored_scores(run_id: str) -> an.AnomalyResult | None:
        """The stored result of ``?run=``, or None with one line saying why there is none."""
        try:
            record = store.get(run_id)
        except StoreError:
            st.warning(f"No scoring run {run_id} in the store (deleted, or another GENLAB_HOME).")
            return None
        if record.status == JobStatus.FAILED.value:
            st.error(f"Scoring run {run_id} failed: {md(record.error)}")
            return None
        try:
            result = _result_of(store, run_id, record.status)
        except StoreError as exc:
            st.warning(f"No scores to show: {md(exc)}.")
            return None
        if not result.complete:
            st.warning(f"Scoring run {run_id} was {record.status} before every row was scored: press **Score** again.")
            return None
        used = {k: v for k, v in record.config.items() if k in ("method", "iters", "encoder_steps", "vae")}
        how = (f"{used.get('iters')} Adam iterations per row" if used.get("method") == "optimise"
               else f"an encoder trained {used.get('encoder_steps')} steps")
        st.caption(f"Scores of run {run_id} ({record.status}, {fmt_time(record.created)}): {result.description} "
                   f"z* by {result.method}, {how}" + (", with the VAE baseline." if used.get("vae") else "."))
        now = {"method": method, "vae": bool(vae),
               **({"iters": int(iters or 0)} if method == "optimise" else {"encoder_steps": int(encoder_steps or 0)})}
        # another method: its own budget (iterations or encoder steps) is not a difference worth listing
        compared = {k: v for k, v in now.items() if used.get("method") == method or k in ("method", "vae")}
        changed = [f"{k} = {used.get(k)} here, {v} above" for k, v in compared.items() if used.get(k) != v]
        earlier = _earlier_run(record, now) if changed else None
        if earlier is not None:   # e.g. back to the encoder after optimising: its stored scores, not a new job
            st.query_params["run"] = earlier
            st.caption(f"Run {earlier} scored these rows with these settings earlier: its scores are shown.")
            return _stored_scores(earlier)
        if changed:
            st.info("These stored scores were computed with other settings (" + "; ".join(changed) + "): press "
                    "**Score** to compute them with the settings above.")
        return result


    run_job = _pending("run")
    run_pending = run_job is not None
    run_id = st.query_params.get("run")
    if run_job is None and run_id:
        run_job = manager.find_run(run_id)
    if run_job is not None and not run_job.status.finished:
        # the whole page reruns when it ends (the stored result is drawn) or gets its run id (it goes into the URL)
        follow_job(run_job, rerun_also=lambda s: run_pending and s.run_id is not None)
        st.stop()
    if run_job is not None:
        run_job.wait(30)   # its run is committed to the store a moment after its status says finished
    result = _stored_scores(run_id) if run_id else None
    if result is None:
        if gan_ready and not run_id:
            st.info("Press **Score**: every test row is reconstructed and the baselines are fitted in the background.")
        st.stop()
    run_id = st.query_params.get("run", run_id)   # an earlier run with the settings above may have replaced it


@st.fragment
def _scores_view(result: an.AnomalyResult, run_id: str) -> None:
    """λ and everything drawn from it. A fragment: moving λ reruns only this function, which recombines the stored
    parts G and C (a multiply-add) and redraws, instead of the whole page (the store, the scenario, the GAN's
    curves: 3.5–4.3 s per move in issue 19)."""
    assert result.scores is not None
    lam = float(param_widget(SCORE["lam"], "an"))
    scores, th = result.scores.scores(lam), result.scores.thresholds(lam)
    recon, test_x, test_y = result.scores.reconstructions, result.test_x, result.test_y
    auc = result.auroc(lam)
    if "Scores" in _shown:   # presentation mode draws the λ slider above the section shown, and only that section
        st.vega_lite_chart(spec=figures.anomaly.score_histogram(scores, test_y, th.one_sigma, th.three_sigma),
                           key="an_hist")
        c = st.columns(3)
        c[0].metric("flagged above 1σ", int((scores > th.one_sigma).sum()))
        c[1].metric("flagged above 3σ", int((scores > th.three_sigma).sum()))
        if auc is not None:
            c[2].metric("AUROC", f"{auc:.3f}")

    if show("Against simple detectors, same split"):
        st.markdown("An **isolation forest** isolates points with random cuts (anomalies need few); a **GMM on "
                    "PCA** scores −log p of a mixture on 20 principal components; **k nearest neighbours** scores "
                    "the "
                    "mean distance to the 5 closest normal rows — no model at all, and on the digits the one to "
                    "beat. ROC: every threshold at once.")
        if auc is not None:
            table = result.table(lam)
            left, right = st.columns([2, 3])
            left.dataframe(table, hide_index=True, key="an_table",   # a column format, not a Styler: faster
                           column_config={c: st.column_config.NumberColumn(format="%.3f")
                                          for c in table.columns if c != "detector"})
            left.download_button("Comparison (CSV)", lambda: csv_bytes(table), "anomaly_comparison.csv",
                                 "text/csv", key="an_table_dl")   # built on click, not on every λ move
            curves = {name: (fpr, tpr, area) for name, (fpr, tpr, area, _) in result.detector_stats(lam).items()}
            right.vega_lite_chart(spec=figures.anomaly.roc_figure(curves), key="an_roc")
        else:
            st.caption("These data have no labels: nothing to compare against.")

    if show("The top anomalies"):
        n_top = int(param_widget(TOP, "an"))
        marks = an.gallery_marks(scores, test_y, th.one_sigma, rows=an.top_rows(scores, n_top))
        top = np.array([m.row for m in marks], dtype=np.int64)
        st.caption(f"The {len(top)} highest scores at λ = {lam:g}. Above each: "
                   + ("✓ when the 1σ threshold gets the row right (an anomaly flagged, or a normal row not "
                      "flagged), ✗ when it does not; " if test_y is not None else "")
                   + "then the row's score AS and its number.")
        if result.image_shape:
            vmax = result.vmax
            st.container(key="an_gallery").html(figures.anomaly.image_gallery_html(
                test_x[top], np.clip(recon[top], 0, vmax), result.image_shape, ["\n".join(m.lines) for m in marks],
                vmax=vmax, hovers=[m.verdict for m in marks]))
            st.caption("Point at a tile to read its truth: anomalous or normal, flagged or not.")
        else:
            st.plotly_chart(figures.anomaly.residual_bars(test_x[top], recon[top], result.columns, result.scale,
                                                          [m.text for m in marks]), key="an_bars")
        _residual_map(result, run_id, scores, th.one_sigma, lam)
    st.download_button("Scores (CSV)", lambda: _scores_csv(result, scores), "anomaly_scores.csv", "text/csv",
                       key="an_scores_dl")   # built on click, not on every λ move


def _scores_csv(result: an.AnomalyResult, scores: np.ndarray) -> bytes:
    """Every test row's score AS at the chosen λ, its parts G and C, and its label when there is one."""
    out = pd.DataFrame({"row": np.arange(len(scores)), "score": scores, "G": result.scores.test.G,
                        "C": result.scores.test.C})
    if result.test_y is not None:
        out["anomaly"] = result.test_y
    return csv_bytes(out)


def _residual_map(result: an.AnomalyResult, run_id: str, scores: np.ndarray, threshold: float, lam: float) -> None:
    """The UMAP of the flagged rows' residuals, computed on request and kept in the session under the scoring
    run's id: any later click (λ, the gallery's size, another widget) draws the same map again, not nothing."""
    st.markdown(f"**Which anomalies are alike?** The last step in {cite('astro_lecture')}: a UMAP of the "
                "*residuals* x − x̂ of the rows above the 1σ threshold. Anomalies of the same kind leave the same "
                "residual and gather; a lone point is an odd one worth a look.")
    key = f"an_map_{run_id}"
    flagged = np.flatnonzero(scores > threshold)
    if len(flagged) < 10:
        st.caption("Fewer than 10 rows above 1σ: too few to map.")
    elif st.button("Map the flagged rows' residuals", key="an_umap"):
        from genlib import latent as lt

        recon = result.scores.reconstructions
        view = lt.embed(result.test_x[flagged] - recon[flagged], "umap", n_neighbors=min(15, len(flagged) - 1))
        st.session_state[key] = {"lam": lam, "rows": flagged, "scores": scores[flagged], "view": view}
    kept = st.session_state.get(key)
    if kept is None:
        return
    rows, test_y = kept["rows"], result.test_y
    color = None if test_y is None else np.where(test_y[rows] == 1, "anomalous", "normal")
    st.plotly_chart(figures.latent.embedding_scatter(kept["view"], color=color, color_label="truth",
                                                     hover={"test row": rows, "score": kept["scores"]},
                                                     title=f"{len(rows)} rows above 1σ at λ = {kept['lam']:g}, "
                                                           "by their residuals"),
                    key="an_umap_fig")
    if kept["lam"] != lam:
        st.caption(f"Mapped at λ = {kept['lam']:g}; at λ = {lam:g} {len(flagged)} rows are above 1σ: press the "
                   "button to map those.")


_scores_view(result, run_id)
