"""Every page under Streamlit's AppTest: renders without an exception, and its main actions work."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60


def _app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)


def _no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _progress_texts(at: AppTest) -> list[str]:
    return [p.text for p in at.get("progress")]


def _wait_for(at: AppTest, predicate, timeout: float = 90.0) -> None:
    """Rerun the app until ``predicate(at)`` holds (jobs train in background threads meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        _no_exception(at)
        if predicate(at):
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out; progress: {_progress_texts(at)}; errors: {[e.value for e in at.error]}")


def test_home_renders_every_builtin_dataset() -> None:
    at = _app().run()
    _no_exception(at)
    assert at.title[0].value == "GenLab"
    assert len(at.latex) >= 2, "the seed-000 likelihood and KDE formulas are shown"
    # the capability table lists the registered models
    tables = [df.value for df in at.dataframe]
    assert any("vae" in set(t.get("model", [])) for t in tables)
    for name in ["toy2d", "digits", "lorenz", "finance"]:
        at.selectbox(key="home_dataset").set_value(name).run()
        _no_exception(at)
        assert not at.error, [e.value for e in at.error]
        assert any(name in m.value for m in at.markdown), f"summary line for {name}"


def test_home_upload_good_and_bad_csv() -> None:
    at = _app().run()
    at.selectbox(key="home_dataset").set_value("upload a CSV…").run()
    good = "a,b\n" + "\n".join(f"{i},{i * i % 7}" for i in range(30))
    at.file_uploader(key="home_upload").upload("good.csv", good.encode(), "text/csv").run()
    _no_exception(at)
    assert not at.error
    assert any("good.csv" in m.value for m in at.markdown)

    bad = "a,name\n" + "\n".join(f"{i},row{i}" for i in range(30))
    at.file_uploader(key="home_upload").upload("bad.csv", bad.encode(), "text/csv").run()
    _no_exception(at)
    assert at.error and "bad.csv" in at.error[0].value and "name" in at.error[0].value


def test_train_page_runs_a_job_to_done_and_shows_samples() -> None:
    at = _app()
    at.switch_page("pages/train.py").run()
    _no_exception(at)
    assert at.latex, "the model's formula is shown beside its settings"
    at.selectbox(key="train_model").set_value("vae").run()
    at.number_input(key="train_steps").set_value(200).run()
    at.button(key="train_start").click().run()
    _no_exception(at)
    _wait_for(at, lambda a: any(t.startswith("done") for t in _progress_texts(a)))
    labels = [m.label for m in at.metric]
    assert "Anderson–Darling" in labels and "Kendall error" in labels
    assert any(s.value == "Samples vs real data" for s in at.subheader)
    assert any(b.label.startswith("Download samples") for b in at.get("download_button"))


def test_runs_page_lists_reloads_and_deletes(tmp_path: Path) -> None:
    at = _app()
    at.switch_page("pages/train.py").run()
    at.selectbox(key="train_model").set_value("gmm").run()
    at.button(key="train_start").click().run()
    _wait_for(at, lambda a: any(t.startswith("done") for t in _progress_texts(a)))

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


@pytest.mark.parametrize("page", ["pages/home.py", "pages/train.py", "pages/runs.py"])
def test_sidebar_job_monitor_on_every_page(page: str) -> None:
    at = _app()
    at.switch_page(page).run()
    _no_exception(at)
    assert any(m.value == "### Training jobs" for m in at.sidebar.markdown)
