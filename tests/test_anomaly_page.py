"""AppTest of the Anomalies page: a WGAN-GP trained from the page on digits with one class held out scores the test
rows (a job whose run id goes into the URL), λ re-scores without recomputing, the baselines share the table, the
encoder route works too, and a stored result opened by its URL is drawn without training or scoring anything."""
from __future__ import annotations

from functools import partial

import pytest
from conftest import settle_jobs
from streamlit.testing.v1 import AppTest

from pages.text import shown

APP = "../app.py"


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.mark.slow
def test_anomaly_page_trains_scores_and_compares(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GENLAB_HOME", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("pages/anomaly.py").run()
    _ok(at)
    assert at.title[0].value == "Anomaly scoring" and len(at.latex) >= 2
    assert _metric(at, "test rows") == "360" and _metric(at, "anomalies among them") == "36"
    at.number_input(key="an_steps").set_value(600).run()   # raw pixels: 200 steps still score at chance (0.49)
    at.button(key="an_train").click().run()
    from pages.common import job_manager, run_store

    assert settle_jobs(job_manager()), "the page started no job"   # waits on the job's own completion
    at.run()
    gan_id = at.query_params["gan"]
    assert run_store().get(gan_id).model == "wgan_gp"   # the GAN's run id is in the URL, not in the session
    assert not at.metric or "AUROC" not in [m.label for m in at.metric]   # nothing is scored before Score
    at.radio(key="an_method").set_value("optimise").run()   # the default is the encoder; optimisation first here
    at.number_input(key="an_iters").set_value(25).run()
    at.button(key="an_score").click().run()
    settle_jobs(job_manager())
    at.run()
    _ok(at)
    run_id = at.query_params["run"]
    record = run_store().get(run_id)
    assert record.kind == "anomaly" and record.inputs["gan_run"] == gan_id and record.inputs["iters"] == 25
    auroc = float(_metric(at, "AUROC"))
    assert 0.6 < auroc <= 1.0  # a short-trained GAN already ranks the held-out digit above chance
    assert auroc == pytest.approx(record.summary["auroc"], abs=5e-4)
    table = at.dataframe[0].value
    assert set(table["detector"]) >= {"isolation forest", "GMM on PCA", "k nearest neighbours (k = 5)",
                                      "WGAN + GMM (rank mean)"} and len(table) == 5
    assert table["AUROC"].is_monotonic_decreasing

    flagged = int(_metric(at, "flagged above 1σ"))
    n_jobs = len(job_manager().jobs())
    at.slider(key="an_lam").set_value(1.0).run()  # pure residual: re-weighted from the stored parts
    _ok(at)
    residual_auroc = float(_metric(at, "AUROC"))
    assert residual_auroc != auroc or int(_metric(at, "flagged above 1σ")) != flagged
    assert len(job_manager().jobs()) == n_jobs   # λ starts no job

    at.session_state["an_encoder_steps"] = 300   # the encoder's budget, set before its widget appears
    at.radio(key="an_method").set_value("encoder").run()
    _ok(at)
    assert at.number_input(key="an_encoder_steps").value == 300
    assert at.query_params["run"] == run_id   # the previous scores stay until new ones are asked for
    at.button(key="an_score").click().run()
    settle_jobs(job_manager())
    at.run()
    _ok(at)
    assert at.query_params["run"] != run_id and at.query_params["gan"] == gan_id
    assert run_store().get(at.query_params["run"]).inputs["encoder_steps"] == 300
    assert 0.5 < float(_metric(at, "AUROC")) <= 1.0
    assert len(at.get("plotly_chart")) >= 1 and _has_chart(at, "an_hist") and _has_chart(at, "an_roc")  # + losses
    assert _gallery_titles(at)
    encoder_run = at.query_params["run"]

    # back to latent optimisation with the settings it used: the stored run is shown again, no job is started
    n_jobs = len(job_manager().jobs())
    at.radio(key="an_method").set_value("optimise").run()
    _ok(at)
    assert at.query_params["run"] == run_id and len(job_manager().jobs()) == n_jobs
    assert any(f"Run {run_id} scored these rows with these settings earlier" in c.value for c in at.caption)
    assert float(_metric(at, "AUROC")) == pytest.approx(residual_auroc, abs=5e-4)   # the same scores, λ still 1
    at.radio(key="an_method").set_value("encoder").run()
    assert at.query_params["run"] == encoder_run and len(job_manager().jobs()) == n_jobs


@pytest.fixture
def stored_scores(tmp_path, monkeypatch, make_manager) -> tuple[str, str, float]:
    """A WGAN trained on digits (digit 3 held out: not the page's default) and its scoring run, both in the store of
    GENLAB_HOME, made through the engine (not the page): (GAN run id, scoring run id, stored AUROC)."""
    from genlib import anomaly as an
    from genlib.store import RunStore
    from genlib.train import TrainSpec

    monkeypatch.setenv("GENLAB_HOME", str(tmp_path))
    store = RunStore(tmp_path)
    manager = make_manager(store=store)
    ds = an.scenario_dataset(an.load_scenario("digits", k=3))
    gan = manager.submit(TrainSpec(model="wgan_gp", dataset=ds, config={"latent_dim": 8}, steps=100, batch_size=128,
                                   eval_period_s=None, device="cpu"))
    assert gan.wait(240) and gan.snapshot().status.value == "done"
    scoring = manager.submit(an.AnomalyScoringTask(gan=partial(store.load, gan.run_id), gan_run=gan.run_id,
                                                   scenario_name="digits", scenario_params={"k": 3}, method="optimise", iters=5,
                                                   device="cpu"))
    assert scoring.wait(240) and scoring.snapshot().status.value == "done", scoring.snapshot().error
    return gan.run_id, scoring.run_id, store.get(scoring.run_id).summary["auroc"]


@pytest.mark.timeout(600)   # the fixture trains and scores a GAN, the test fits a UMAP: 2 min idle, more when busy
def test_a_stored_result_opened_by_its_url_is_drawn_without_training_or_scoring(stored_scores) -> None:
    from pages.common import job_manager

    gan_id, run_id, stored_auroc = stored_scores
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/anomaly.py")
    at.query_params.update(gan=gan_id, run=run_id, an_digits_k="3")   # the address a reload sends
    at.run()
    _ok(at)
    assert float(_metric(at, "AUROC")) == pytest.approx(stored_auroc, abs=5e-4)
    charts = [c.proto.id for c in at.get("plotly_chart")]   # the stored GAN's losses (Plotly), then the stored
    assert len(charts) == 1 and charts[0].endswith(f"an_loss_{gan_id}"), charts   # scores' (Vega-Lite)
    assert [_vega_key(c) for c in at.get("vega_lite_chart")] == ["an_hist", "an_roc"]
    assert any(f"run {gan_id}" in c.value for c in at.caption)       # the stored GAN is shown as trained
    assert any(f"Scores of run {run_id}" in c.value for c in at.caption)
    assert not at.button(key="an_score").disabled                   # and can score again
    _assert_gallery_marks(at, run_id, n=8)
    at.slider(key="an_top").set_value(12).run()
    _assert_gallery_marks(at, run_id, n=12)

    # the residual map, once drawn, stays through later clicks (λ, the gallery's size)
    assert not _has_chart(at, "an_umap_fig")
    at.button(key="an_umap").click().run()
    _ok(at)
    assert _has_chart(at, "an_umap_fig")
    at.slider(key="an_lam").set_value(0.5).run()
    _ok(at)
    assert _has_chart(at, "an_umap_fig") and any("Mapped at λ = 0.9" in c.value for c in at.caption)
    at.slider(key="an_top").set_value(8).run()
    assert _has_chart(at, "an_umap_fig")
    at.slider(key="an_lam").set_value(0.9).run()

    # presentation mode: one section at a time; the gallery's section keeps λ and the GAN (set-up folded away)
    one = AppTest.from_file(APP, default_timeout=120)
    one.query_params["present"] = "1"   # a session takes the mode from its first address (pages/presentation.py)
    one.run()
    one.switch_page("pages/anomaly.py")
    one.query_params.update(gan=gan_id, run=run_id, an_digits_k="3", present="1", section="The top anomalies")
    one.run()
    _ok(one)
    assert [h.value for h in one.header] == ["The top anomalies"]
    assert _gallery_titles(one)
    assert not _has_chart(one, "an_hist") and not _has_chart(one, "an_roc")
    assert one.slider(key="an_lam").value == 0.9 and not one.button(key="an_score").disabled
    _assert_gallery_marks(one, run_id, n=8)
    assert len(at.dataframe[0].value) == 5
    assert job_manager().jobs() == []                                # nothing was trained or scored
    assert at.query_params == {"gan": gan_id, "run": run_id, "an_digits_k": "3"}
    # the address carries no scoring settings: the widgets (the encoder, the default) are not what the scores used
    assert any("other settings (method = optimise here, encoder above)" in i.value for i in at.info), [i.value for i in at.info]

    # another scenario in the widgets: the stored scores stay, the GAN is said not to fit it and cannot score
    at.selectbox(key="an_digits_k").set_value(0).run()
    _ok(at)
    assert float(_metric(at, "AUROC")) == pytest.approx(stored_auroc, abs=5e-4)
    assert any("This GAN learned 'digits-normal'" in shown(i.value) for i in at.info)
    assert at.button(key="an_score").disabled

    # the chooser of stored results puts a run and its GAN into the URL, and its scenario into the widgets
    fresh = AppTest.from_file(APP, default_timeout=120)
    fresh.run()
    fresh.switch_page("pages/anomaly.py").run()
    assert not [m for m in fresh.metric if m.label == "AUROC"]
    fresh.selectbox(key="an_open").set_value(run_id).run()
    _ok(fresh)
    assert fresh.query_params == {"gan": gan_id, "run": run_id, "an_digits_k": "3", "an_method": "optimise",
                                  "an_iters": "5"}
    assert fresh.number_input(key="an_iters").value == 5                 # the settings the scores were made with
    assert not any("other settings" in i.value for i in fresh.info)
    assert float(_metric(fresh, "AUROC")) == pytest.approx(stored_auroc, abs=5e-4)
    assert _metric(fresh, "anomalies among them") == str(int((load_digits_labels() == 3).sum()))
    assert not fresh.button(key="an_score").disabled and job_manager().jobs() == []

    # the Runs page links to the scores alone (?run=): the page adds their GAN and scenario
    linked = AppTest.from_file(APP, default_timeout=120)
    linked.run()
    linked.switch_page("pages/anomaly.py")
    linked.query_params["run"] = run_id
    linked.run()
    _ok(linked)
    assert linked.query_params == {"gan": gan_id, "run": run_id, "an_digits_k": "3", "an_method": "optimise",
                                  "an_iters": "5"}
    assert float(_metric(linked, "AUROC")) == pytest.approx(stored_auroc, abs=5e-4)
    assert not linked.button(key="an_score").disabled


def _vega_key(chart) -> str | None:
    """The page's key of a Vega-Lite chart, known by its description (AppTest gives these charts no id)."""
    import json

    from genlib.figures import anomaly as fa

    described = json.loads(chart.proto.spec).get("description")
    return {fa.HISTOGRAM_DESCRIPTION: "an_hist", fa.ROC_DESCRIPTION: "an_roc"}.get(described)


def _has_chart(at: AppTest, key: str) -> bool:
    """A Plotly chart drawn with ``key``, or the Vega-Lite chart the page draws with it."""
    return (any(c.proto.id.endswith(key) for c in at.get("plotly_chart"))
            or any(_vega_key(c) == key for c in at.get("vega_lite_chart")))


def _gallery_titles(at: AppTest) -> list[str]:
    """The gallery's tile captions, e.g. "✓ 0.83<br>row 12" (the HTML that genlib/figures/anomaly writes)."""
    import re

    bodies = [h.proto.body for h in at.get("html") if "genlab-gallery" in h.proto.body]
    assert len(bodies) <= 1, "two galleries"
    return re.findall(r'class="genlab-tile-caption"[^>]*>(.*?)</div>', bodies[0]) if bodies else []


def _assert_gallery_marks(at: AppTest, run_id: str, n: int) -> None:
    """Every gallery tile is titled ✓ or ✗ and its score, and the marks agree with the stored scores at the 1σ
    threshold: ✓ exactly when (score > 1σ) equals the row's label."""
    from genlib import anomaly as an
    from pages.common import run_store

    titles = _gallery_titles(at)
    assert len(titles) == n, titles
    result = an.stored_result(run_store(), run_id)
    lam = at.slider(key="an_lam").value
    scores, th = result.scores.scores(lam), result.scores.thresholds(lam)
    for title, row in zip(titles, an.top_rows(scores, n)):
        mark, score = title.split("<br>")[0].split(" ")
        assert mark in ("✓", "✗") and title.endswith(f"row {row}"), title
        assert float(score) == pytest.approx(scores[row], rel=1e-2)
        assert (mark == "✓") == ((scores[row] > th.one_sigma) == bool(result.test_y[row])), title


def load_digits_labels():
    from genlib.data.digits import load_digits
    return load_digits(seed=0).labels_test


def test_stale_ids_in_the_url_get_one_line_each_and_the_default_view(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GENLAB_HOME", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/anomaly.py")
    at.query_params.update(gan="20990101-000000-gone00", run="20990101-000000-gone01")
    at.run()
    _ok(at)
    assert [w.value for w in at.warning] == [
        "No run 20990101-000000-gone00 in the store (deleted, or another GENLAB_HOME): train a GAN below.",
        "No scoring run 20990101-000000-gone01 in the store (deleted, or another GENLAB_HOME)."]
    assert any("Press **Train**" in i.value for i in at.info) and at.button(key="an_score").disabled


def test_uploaded_csvs_become_a_scenario_and_bad_ones_get_one_clear_message(tmp_path, monkeypatch) -> None:
    import numpy as np
    import pandas as pd

    monkeypatch.setenv("GENLAB_HOME", str(tmp_path))
    rng = np.random.default_rng(0)
    normal = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    test = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"]).assign(label=0)
    test.loc[:9, ["a", "b", "c"]] += 6.0
    test.loc[:9, "label"] = 1
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("pages/anomaly.py").run()
    at.selectbox(key="an_kind").set_value("upload").run()
    _ok(at)
    assert any("Upload both files" in i.value for i in at.info)
    at.file_uploader(key="an_up_normal").set_value(("normal.csv", normal.to_csv(index=False).encode(), "text/csv"))
    at.file_uploader(key="an_up_test").set_value(("test.csv", test.to_csv(index=False).encode(), "text/csv"))
    at.run()
    _ok(at)
    assert _metric(at, "normal training rows") == "200" and _metric(at, "anomalies among them") == "10"

    bad = test.assign(b="oops")  # a text column
    at.file_uploader(key="an_up_test").set_value(("bad.csv", bad.to_csv(index=False).encode(), "text/csv"))
    at.run()
    _ok(at)  # the page keeps running
    assert at.error and at.error[0].value.startswith("Cannot use these data:") and "not numeric" in at.error[0].value
