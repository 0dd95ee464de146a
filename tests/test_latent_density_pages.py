"""AppTest of the Latent explorer and the Density pages: the PCA baseline works at once, UMAP projects and is cached,
an autoencoder trained from the page becomes the encoder of both pages, the latent GMM flags outliers and samples
digits, and the toy section's densities integrate to one, with a flow and a live GAN discriminator added."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import settle_jobs
from streamlit.testing.v1 import AppTest

from pages.text import shown

APP = "../app.py"


def _open(page: str, address: dict | None = None) -> AppTest:
    """A new session on ``page``, opened with the query parameters ``address`` (as a copied URL would)."""
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    for key, value in (address or {}).items():
        at.query_params[key] = value[0] if isinstance(value, list) else value
    at.switch_page(page).run()
    _ok(at)
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _wait_for_jobs(at: AppTest) -> None:
    """Block on the jobs' own completion (queued ones included) in the process-wide manager the pages use."""
    from pages.common import job_manager
    assert settle_jobs(job_manager()), "the page started no job"


def test_latent_page_pca_baseline_umap_projection_and_purity(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GENLAB_HOME", str(tmp_path))
    at = _open("pages/latent.py")
    assert at.title[0].value == "Latent-space explorer"
    assert len(at.latex) >= 3
    assert _metric(at, "rows shown") == "1,797" and _metric(at, "code size") == "16"
    assert 0.0 < float(_metric(at, "reconstruction error")) < 1.0  # 16 of 64 components keep most variance
    purity = float(_metric(at, "purity"))
    assert 0.5 < purity <= 1.0  # PCA codes separate digits far better than chance (0.1)
    assert len(at.get("plotly_chart")) >= 4  # scree, interpolation, traversal, purity

    from pages.common import job_manager
    assert not any(c.value.startswith("UMAP:") for c in at.caption)
    at.button(key="FormSubmitter:lt_umap_form-Project").click().run()   # a job: the page does not wait for it
    _ok(at)
    jobs = job_manager().jobs()
    assert [j.kind for j in jobs] == ["projection"]
    _wait_for_jobs(at)
    at.run()
    _ok(at)
    caption = next(c.value for c in at.caption if c.value.startswith("UMAP:"))
    run_id = jobs[0].run_id
    assert "1,797 codes" in caption and f"run {run_id}" in caption and at.query_params["proj"] == run_id
    at.selectbox(key="lt_color").set_value("reconstruction error").run()   # any rerun draws the same run again
    _ok(at)
    assert any(f"run {run_id}" in c.value for c in at.caption if c.value.startswith("UMAP:"))
    at.button(key="FormSubmitter:lt_umap_form-Project").click().run()   # same encoder, same settings: reused
    _ok(at)
    assert len(job_manager().jobs()) == 1 and at.query_params["proj"] == run_id


def test_a_link_to_a_stored_projection_draws_it_without_computing_and_a_stale_one_says_so(tmp_path,
                                                                                        monkeypatch) -> None:
    """?proj=<id> of a stored projection (made here by the task itself, as the page would): after a "reload" (a new
    session) the scatter is drawn from the stored arrays, with its settings in the form, and no job is submitted."""
    monkeypatch.setenv("GENLAB_HOME", str(tmp_path))
    from genlib import latent as lt
    from genlib.data import load_dataset
    from genlib.store import RunStore
    from genlib.train import JobManager
    from pages.common import job_manager

    ds = load_dataset("digits")
    x = np.concatenate([ds.train, ds.test])
    codes = lt.latent_codes(lt.fit_pca(ds.train, 16), x)          # the page's PCA baseline codes
    view = lt.ProjectionSettings(n_neighbors=7, min_dist=0.3)
    manager = JobManager(store=RunStore(tmp_path))
    job = manager.submit(lt.ProjectionTask(codes, lt.projection_source("pca", ds.name, ds.params, 16), view))
    assert job.wait(300) and job.snapshot().status.value == "done"
    manager.shutdown(timeout=30)
    run_id = job.snapshot().run_id

    at = _open("pages/latent.py", {"proj": run_id})
    caption = next(c.value for c in at.caption if c.value.startswith("UMAP:"))
    assert f"from the store (run {run_id}" in caption and "1,797 codes" in caption
    assert at.slider(key="lt_nn").value == 7 and at.slider(key="lt_md").value == 0.3
    assert job_manager().jobs() == [], "nothing was computed"
    assert at.selectbox(key="lt_source").value == "pca"

    at = _open("pages/latent.py", {"proj": "20200101-000000-nosuch"})
    assert any("proj=20200101-000000-nosuch" in shown(c.value) for c in at.caption)
    assert "proj" not in at.query_params and not any(c.value.startswith("UMAP:") for c in at.caption)
    assert any("Press **Project**" in i.value for i in at.info) and job_manager().jobs() == []


@pytest.mark.slow
def test_an_autoencoder_trained_on_the_latent_page_feeds_the_density_page(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GENLAB_HOME", str(tmp_path))
    at = _open("pages/latent.py")
    at.selectbox(key="lt_model").set_value("ae").run()
    at.number_input(key="lt_steps").set_value(300).run()
    at.button(key="lt_train").click().run()
    _ok(at)
    _wait_for_jobs(at)
    at.run()
    _ok(at)
    label = at.selectbox(key="lt_source").format_func(at.selectbox(key="lt_source").value)
    assert label.startswith("ae on digits")
    assert _metric(at, "code size") == "4"  # the ae's default latent_dim, not PCA's 16
    # the linear baseline with the same code size sits beside it; 300 steps of a non-linear AE need not beat it
    assert 0 < float(_metric(at, "PCA, same code size")) < float(_metric(at, "reconstruction error")) * 10
    assert 0.1 < float(_metric(at, "PCA, same code size: purity")) <= 1

    at.switch_page("pages/density.py").run()
    _ok(at)
    assert at.selectbox(key="dn_source").value == at.session_state["latent_source"]  # the same encoder
    caption = next(c.value for c in at.caption if c.value.startswith("log ε"))
    flagged, total = (int(v) for v in caption.split(":")[1].split(" rows")[0].split(" of "))
    assert total == 1797 and 0 < flagged <= 0.02 * total
    at.select_slider(key="dn_eps").set_value(0.1).run()
    caption = next(c.value for c in at.caption if c.value.startswith("log ε"))
    assert int(caption.split(":")[1].split(" of ")[0]) > 5 * flagged
    assert len(at.get("plotly_chart")) >= 5  # BIC curve, histogram, view, samples, least likely rows


@pytest.mark.slow
def test_density_toy_section_integrates_to_one_and_adds_a_flow_and_a_live_critic(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GENLAB_HOME", str(tmp_path))
    at = _open("pages/density.py")
    at.radio(key="dn_section").set_value("2 · Densities on 2-D toy data").run()
    _ok(at)
    table = at.dataframe[0].value
    assert list(table["model"]) == ["Gaussian", "GMM", "KDE"]
    assert np.allclose(table["grid_integral"], 1.0, atol=0.02)
    gauss, gmm = (float(table.loc[table["model"] == m, "heldout_ll"].iloc[0]) for m in ("Gaussian", "GMM"))
    assert gmm > gauss + 0.5  # eight components follow the moons, one ellipse cannot

    from genlib.data import load_dataset
    from genlib.density import default_bandwidths

    ds = load_dataset("toy2d", shape="moons", n=2000, noise=0.05, seed=0)  # the page's defaults
    smallest = float(default_bandwidths(ds.train)[0])
    at.select_slider(key="dn_h").set_value(smallest).run()  # under-smoothed: spikes on the training points
    kde_small = float(at.dataframe[0].value.set_index("model").loc["KDE", "heldout_ll"])
    kde_best = float(table.set_index("model").loc["KDE", "heldout_ll"])
    assert kde_small < kde_best - 0.5

    charts_before = len(at.get("plotly_chart"))  # density row and bandwidth sweep; no critic yet
    assert any("discriminator's map appears here" in i.value for i in at.info)
    at.number_input(key="dn_flow_steps").set_value(300).run()
    at.button(key="dn_flow_start").click().run()
    at.number_input(key="dn_gan_steps").set_value(200).run()
    at.button(key="dn_gan_start").click().run()
    _ok(at)
    _wait_for_jobs(at)
    at.run()
    _ok(at)
    models = list(at.dataframe[0].value["model"])
    assert models[-1] == "flow (maf)"
    flow_mass = float(at.dataframe[0].value.set_index("model").loc["flow (maf)", "grid_integral"])
    assert abs(flow_mass - 1) < 0.05
    assert len(at.get("plotly_chart")) == charts_before + 1  # the discriminator's map over the plane
    assert not any("discriminator's map appears here" in i.value for i in at.info)
    # a reload (a new session on the same address) draws the same flow and GAN from the store
    gan_run = at.query_params["gan"]
    assert gan_run
    fresh = _open("pages/density.py", {k: v for k, v in at.query_params.items()})
    _ok(fresh)
    assert list(fresh.dataframe[0].value["model"])[-1] == "flow (maf)"
    assert fresh.query_params["gan"] == gan_run and len(fresh.get("plotly_chart")) == charts_before + 1
