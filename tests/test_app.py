"""Every page under Streamlit's AppTest: renders without an exception, and its main actions work."""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import settle_jobs
from streamlit.testing.v1 import AppTest

from genlib.compare import metric_column

from pages.text import md

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60


def _app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)


def _no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _progress_texts(at: AppTest) -> list[str]:
    return [p.text for p in at.get("progress")]


def _after_jobs(at: AppTest, predicate) -> None:
    """Wait for every job the app started to end (on the jobs' own completion events, queued ones included), then
    rerun the page once: ``predicate(at)`` must hold then. (Polling the page instead raced the job: its sidebar
    could still show the job running while the table below, drawn a moment later, showed it done.)"""
    from pages.common import job_manager  # the same process-wide manager the pages use
    settle_jobs(job_manager())
    at.run()
    _no_exception(at)
    assert predicate(at), f"progress: {_progress_texts(at)}; errors: {[e.value for e in at.error]}"


def test_home_renders_every_builtin_dataset() -> None:
    at = _app().run()
    _no_exception(at)
    assert at.title[0].value == "GenLab"
    assert len(at.latex) >= 2, "the seed-000 likelihood and KDE formulas are shown"
    # the capability table lists the registered models
    tables = [df.value for df in at.dataframe]
    assert any("vae" in set(t.get("model", [])) for t in tables)
    for name in ["toy2d", "digits", "lorenz", "lorenz_images", "lorenz_windows", "finance"]:
        at.selectbox(key="home_dataset").set_value(name).run()
        _no_exception(at)
        assert not at.error, [e.value for e in at.error]
        assert any(md(name) in m.value for m in at.markdown), f"summary line for {name}"  # escaped: user text


def test_home_upload_good_and_bad_csv() -> None:
    at = _app().run()
    at.selectbox(key="home_dataset").set_value("upload a CSV…").run()
    good = "a,b\n" + "\n".join(f"{i},{i * i % 7}" for i in range(30))
    at.file_uploader(key="home_upload").upload("good.csv", good.encode(), "text/csv").run()
    _no_exception(at)
    assert not at.error
    assert any(md("good.csv") in m.value for m in at.markdown)

    bad = "a,name\n" + "\n".join(f"{i},row{i}" for i in range(30))
    at.file_uploader(key="home_upload").upload("bad.csv", bad.encode(), "text/csv").run()
    _no_exception(at)
    assert at.error and md("bad.csv") in at.error[0].value and "name" in at.error[0].value


def test_train_page_runs_a_job_to_done_and_shows_samples() -> None:
    at = _app()
    at.switch_page("pages/train.py").run()
    _no_exception(at)
    assert at.latex, "the model's formula is shown beside its settings"
    at.selectbox(key="train_model").set_value("vae").run()
    at.number_input(key="train_steps").set_value(200).run()
    at.button(key="train_start").click().run()
    _no_exception(at)
    _after_jobs(at, lambda a: any(t.startswith("done") for t in _progress_texts(a)))
    labels = [m.label for m in at.metric]
    assert "Anderson–Darling distance" in labels and "Kendall error" in labels
    assert any(s.value == "Samples vs real data" for s in at.subheader)
    assert any(b.label.startswith("Download samples") for b in at.get("download_button"))


def test_runs_page_lists_reloads_and_deletes(tmp_path: Path) -> None:
    at = _app()
    at.switch_page("pages/train.py").run()
    at.selectbox(key="train_model").set_value("gmm").run()
    at.button(key="train_start").click().run()
    _after_jobs(at, lambda a: any(t.startswith("done") for t in _progress_texts(a)))

    at.switch_page("pages/runs.py").run()
    _no_exception(at)
    table = at.dataframe[0].value
    assert len(table) >= 1 and "gmm" in set(table["model"])
    # the selected run is reloaded from its checkpoint and sampled
    assert any(b.label.startswith("Download checkpoint") for b in at.get("download_button"))
    n_before = len(table)
    at.button(key="runs_delete").click().run()
    _no_exception(at)
    remaining = at.dataframe[0].value if at.dataframe else []
    assert len(remaining) == n_before - 1


def test_runs_page_empty_store_explains_what_to_do() -> None:
    at = _app()
    at.switch_page("pages/runs.py").run()
    _no_exception(at)
    assert any("No runs yet" in i.value for i in at.info)


@pytest.mark.parametrize("page", ["pages/home.py", "pages/train.py", "pages/compare.py", "pages/runs.py"])
def test_sidebar_job_monitor_on_every_page(page: str) -> None:
    at = _app()
    at.switch_page(page).run()
    _no_exception(at)
    assert any(m.value == "### Jobs" for m in at.sidebar.markdown)


# --- Compare page ------------------------------------------------------------------------------------------------
def _table(at: AppTest, key: str = "cmp_table"):
    frames = [df for df in at.dataframe if getattr(df, "key", None) == key] or list(at.dataframe)
    return frames[0].value if frames else None


def test_compare_page_trains_two_models_and_tables_both() -> None:
    at = _app()
    at.switch_page("pages/compare.py").run()
    _no_exception(at)
    assert any("No runs on this dataset" in i.value for i in at.info)
    assert len(at.latex) >= 10, "every metric's formula is shown"
    at.multiselect(key="cmp_models").set_value(["gaussian", "vae"]).run()
    at.number_input(key="cmp_steps").set_value(150).run()
    at.number_input(key="cmp_eval_period_s").set_value(1.0).run()
    at.button(key="cmp_start").click().run()
    _no_exception(at)

    def both_done(a: AppTest) -> bool:
        table = _table(a)
        return table is not None and len(table) == 3 and set(table["status"]) == {"reference", "done"}

    _after_jobs(at, both_done)
    table = _table(at)
    assert table["run"].iloc[0].startswith("oracle floor"), "the floor row comes first"
    assert {"Gaussian on finance", "VAE on finance"} <= {r.split(" · ")[0] for r in table["run"]}
    for key in ("anderson_darling", "kendall_error", "c2st_auc", "coverage", "dcr_ratio", "mmd"):
        assert table[metric_column(key)].notna().all(), key
    # the Gaussian has an exact likelihood and the VAE an importance-weighted bound; the floor has none
    ll = table[metric_column("log_likelihood")]
    assert ll.iloc[1:].notna().all() and ll.isna().iloc[0]
    assert any(b.label.startswith("Download table") for b in at.get("download_button"))
    # the side-by-side section samples the finished runs
    assert at.get("plotly_chart"), "histograms / ECDF / QQ figures are drawn"
    assert any(b.label.startswith("Checkpoint") for b in at.get("download_button"))


def test_compare_page_adds_a_stored_run_and_rejects_a_bad_csv() -> None:
    at = _app()
    at.switch_page("pages/compare.py").run()
    at.multiselect(key="cmp_models").set_value(["copula"]).run()
    at.button(key="cmp_start").click().run()
    _after_jobs(at, lambda a: _table(a) is not None and "done" in set(_table(a)["status"]))

    at.button(key="sidebar_clear").click().run()  # forget the finished job: its run stays in the store
    fresh = _app()  # a new session: the run is now only a stored one, offered under "Add stored runs"
    fresh.switch_page("pages/compare.py").run()
    options = fresh.multiselect(key="cmp_stored").options
    assert len(options) == 1
    fresh.multiselect(key="cmp_stored").set_value([fresh.multiselect(key="cmp_stored").options[0].split(" · ")[-1]]).run()
    _no_exception(fresh)
    table = _table(fresh)
    assert "done" in set(table["status"]) and any(" · #" in r for r in table["run"]), "the stored row is tabled"

    fresh.selectbox(key="cmp_dataset").set_value("upload a CSV…").run()
    bad = "a,b\n1,2\n"
    fresh.file_uploader(key="cmp_upload").upload("tiny.csv", bad.encode(), "text/csv").run()
    _no_exception(fresh)
    assert fresh.error and md("tiny.csv") in fresh.error[0].value


def test_compare_page_sweep_queues_a_grid_and_draws_its_heatmap() -> None:
    at = _app()
    at.switch_page("pages/compare.py").run()
    at.multiselect(key="cmp_models").set_value([]).run()
    at.selectbox(key="cmp_sweep_model").set_value("vae").run()
    at.selectbox(key="cmp_sweep_x").set_value("sigma").run()
    at.text_input(key="cmp_sweep_xv_vae_sigma").set_value("0.05, 0.5").run()
    at.selectbox(key="cmp_sweep_y").set_value("(none)").run()
    at.number_input(key="cmp_sweep_steps").set_value(60).run()
    at.button(key="cmp_sweep_go").click().run()
    _no_exception(at)
    _after_jobs(at, lambda a: _table(a) is not None and list(_table(a)["status"]).count("done") == 2)
    assert {"VAE on finance · decoder σ 0.05 · 60 steps", "VAE on finance · decoder σ 0.5 · 60 steps"} <= {
        r.rsplit(" · ", 1)[0] for r in _table(at)["run"]}
    heat = [c for c in at.get("plotly_chart")]
    assert heat, "the sweep heatmap is drawn"
    # a value outside the field's range is refused with a clear message, nothing is queued
    at.text_input(key="cmp_sweep_xv_vae_sigma").set_value("0.05, -3").run()
    assert any("sigma" in e.value for e in at.error)
