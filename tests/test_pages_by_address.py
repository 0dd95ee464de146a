"""Pages open stored runs by address: ``?run=<id>`` (and ``?gen=``, ``?sweep=``, ``?runs=``) shows a run of the
store, trained for the test in its own GENLAB_HOME by another JobManager than the app's, so the page can only have
it from the store. An unknown id gets one line and the page's default view."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import SAFETY_TIMEOUT, settle_jobs
from streamlit.testing.v1 import AppTest

from pages.text import shown

from genlib.store import RunStore
from genlib.train import JobStatus, TrainSpec

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _open(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.query_params.update(params)
    at.switch_page(page).run()
    _ok(at)
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _stored(make_manager, spec) -> str:
    """Run ``spec`` to the end in a manager of its own, writing to the test's store; returns the run id."""
    manager = make_manager(store=RunStore())
    job = manager.submit(spec)
    assert job.wait(SAFETY_TIMEOUT)
    assert job.snapshot().status is JobStatus.DONE, job.snapshot().error
    manager.remove_finished()
    return job.snapshot().run_id


def _text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [w.value for w in at.warning]
    parts += [i.value for i in at.info] + [p.text for p in at.get("progress")]
    return shown("\n".join(parts))   # as the reader sees it (user text is escaped for Markdown)


def test_train_page_shows_a_stored_run_named_in_the_url(finance, make_manager) -> None:
    run_id = _stored(make_manager, TrainSpec("gaussian", finance, eval_period_s=None, eval_samples=300,
                                             name="gaussian for the address test"))
    at = _open("pages/train.py", run=run_id)
    assert at.selectbox(key="train_view").value == run_id
    assert f"Stored run **{run_id}**" in _text(at)
    record = RunStore().get(run_id)
    ad = next(m for m in at.metric if m.label == "Anderson–Darling distance")
    assert ad.value == f"{record.metrics['anderson_darling']:.3f}"
    assert any(s.value == "Samples vs real data" for s in at.subheader)
    assert at.query_params["run"] == run_id

    at = _open("pages/train.py", run="20000101-000000-nosuch")
    assert "run=20000101-000000-nosuch (no such run here" in _text(at)
    assert any("No job yet" in i.value for i in at.info)
    assert "run" not in at.query_params


def test_compare_page_shows_the_runs_and_the_sweep_named_in_the_url(finance, make_manager) -> None:
    from genlib import compare

    run_id = _stored(make_manager, TrainSpec("gaussian", finance, eval_period_s=None, eval_samples=300,
                                             name="gaussian for the address test"))
    store = RunStore()
    plan = compare.make_sweep("vae", "sigma", "0.05, 0.5")
    common = dict(steps=30, seed=0, device="cpu", eval_period_s=None, eval_samples=300)
    store.add(compare.sweep_record(plan, "20240101-000000-sweep1", finance, {}, common))
    manager = make_manager(store=store)
    for spec in compare.sweep_specs(plan, "20240101-000000-sweep1", finance, {}, **common):
        manager.submit(spec)
    members = [j.run_id for j in settle_jobs(manager)]

    at = _open("pages/compare.py", run=run_id, sweep="20240101-000000-sweep1")
    table = at.dataframe[0].value
    assert f"gaussian for the address test · #{run_id[-4:]}" in set(table["run"])
    assert at.multiselect(key="cmp_stored").value == [run_id]
    # a link's ?run= joins the stored selection, which the address keeps (cmp_stored)
    assert at.query_params["cmp_stored"] == run_id and "run" not in at.query_params
    assert at.selectbox(key="cmp_sweep_pick").value == "20240101-000000-sweep1"
    assert "Sweep 20240101-000000-sweep1: vae: decoder σ (standardised units) ∈ {0.05, 0.5} · 2 of 2 runs finished" in _text(at)
    heat = [c for c in at.get("plotly_chart") if "cmp_sweep_fig" in str(c.proto.id)]
    assert heat, "the reopened sweep's heatmap is drawn"

    at.button(key="cmp_sweep_table").click().run()    # its members join the comparison, by address
    _ok(at)
    assert set(at.query_params["cmp_stored"].split(",")) == {run_id, *members}
    assert len(at.dataframe[0].value) == 1 + 3

    at = _open("pages/compare.py", runs=f"{run_id},20000101-000000-nosuch", sweep="20000101-000000-nosuch")
    assert "runs=20000101-000000-nosuch (no such run here" in _text(at)
    assert "sweep=20000101-000000-nosuch (no such sweep here" in _text(at)
    assert at.query_params["cmp_stored"] == run_id and "runs" not in at.query_params
    assert at.selectbox(key="cmp_sweep_pick").value == "20240101-000000-sweep1", "the default: the newest sweep"


def test_latent_and_density_pages_show_the_stored_encoder_named_in_the_url(make_manager) -> None:
    from genlib.data import load_dataset

    digits = load_dataset("digits")
    run_id = _stored(make_manager, TrainSpec("ae", digits, steps=30, batch_size=128, eval_period_s=None,
                                             eval_samples=200, name="ae for the address test"))
    at = _open("pages/latent.py", run=run_id)
    assert at.selectbox(key="lt_source").value == f"run:{run_id}"
    assert next(m.value for m in at.metric if m.label == "code size") == "4"   # the ae's code, not PCA's 16
    assert at.session_state["latent_source"] == f"run:{run_id}"

    at = _open("pages/density.py", run=run_id)
    assert at.selectbox(key="dn_source").value == f"run:{run_id}"
    assert any(c.value.startswith("log ε") for c in at.caption), "the mixture is fitted on the run's codes"
    assert at.query_params["run"] == run_id

    at = _open("pages/latent.py", run="20000101-000000-nosuch")
    assert "run=20000101-000000-nosuch (no such run here" in _text(at)
    assert at.selectbox(key="lt_source").value == "run:" + run_id, "without a valid address: the newest encoder"
    at.selectbox(key="lt_source").set_value("pca").run()
    _ok(at)
    assert "run" not in at.query_params, "PCA is no run: the address names none"


def test_lorenz_section_shows_the_stored_model_and_its_stored_trajectories(make_manager) -> None:
    from genlib.data import load_dataset
    from genlib.dynamics.generation import GenerationResult, GenerationTask

    windows = load_dataset("lorenz_windows", n_traj=64)
    run_id = _stored(make_manager, TrainSpec("gaussian", windows, eval_period_s=None, eval_samples=300,
                                             name="gaussian on lorenz_windows"))
    store = RunStore()
    gen_id = _stored(make_manager, GenerationTask(source_run=run_id, fitted=store.load(run_id), dataset=windows,
                                                  n=16, model="gaussian"))
    expected = GenerationResult.from_arrays(store.results(gen_id)).table

    at = _open("pages/lorenz.py", gen=gen_id)   # the generation run names its model's run
    assert at.radio(key="lz_section").value == "4 · Generative models"
    assert at.selectbox(key="lz_gen_pick").value == run_id and at.query_params["run"] == run_id
    assert f"stored run {run_id}" in _text(at)
    assert any("Chaos preserved?" in m.value for m in at.markdown)
    table = at.dataframe[-1].value
    assert list(table["check"]) == list(expected["check"])
    assert np.allclose(table["generated"].astype(float), expected["generated"].astype(float), equal_nan=True)

    at = _open("pages/lorenz.py", run=run_id)   # the model alone: its newest stored trajectories are shown
    assert at.query_params["gen"] == gen_id and at.dataframe

    at = _open("pages/lorenz.py", run=run_id, gen="20000101-000000-nosuch")
    assert "gen=20000101-000000-nosuch (no such generation run here" in _text(at)
    assert at.query_params["gen"] == gen_id, "the default view: the run's newest trajectories"


def test_train_page_shows_a_stored_runs_warnings_and_no_bare_nan(finance, make_manager) -> None:
    run_id = _stored(make_manager, TrainSpec("gaussian", finance, eval_period_s=None, eval_samples=300,
                                             name="gaussian with warnings"))
    store = RunStore()
    record = store.get(run_id)
    record.summary = {"warnings": ["Column 'x': 3 of 300 samples lie more than 10 training ranges outside."]}
    record.metrics["anderson_darling"] = float("nan")
    store.update(record)
    at = _open("pages/train.py", run=run_id)
    assert any("Column 'x': 3 of 300 samples lie more than 10 training ranges outside." in shown(w.value)
               for w in at.warning), [w.value for w in at.warning]
    ad = next(m for m in at.metric if m.label == "Anderson–Darling distance")
    assert ad.value == "—" and "Could not be computed" in ad.help
    assert all(m.value != "nan" for m in at.metric)
