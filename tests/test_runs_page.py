"""The Runs page and the sidebar after a crash: interrupted runs are listed with their last checkpoint and can be
continued with one click; a run opens from its address."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from conftest import settle_jobs
from streamlit.testing.v1 import AppTest

from genlib.store import RunRecord, RunStore, new_run_id, run_label
from genlib.train import LoopState, TrainSpec, build, resolve_device, train
from pages.text import md

ROOT = Path(__file__).resolve().parents[1]


def _app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)


def interrupted_run(home: Path, dataset, steps: int = 30) -> str:
    """A run whose process died after its checkpoint at ``steps``: written through the store's own lifecycle by a
    process that no longer exists, then repaired by opening the store."""
    store = RunStore(home)
    spec = TrainSpec("vae", dataset, steps=1000, eval_period_s=None, name="vae killed mid-training")
    fitted = build(spec, resolve_device("cpu"))
    state = LoopState()
    train(spec, fitted, lambda p: None, lambda: state.step >= steps, state=state)
    record = RunRecord(id=new_run_id(), created=time.time(), name=spec.label(), model="vae", dataset=dataset.name,
                       status="running", device="cpu", seed=0, steps=steps, elapsed=1.0, run_dir=None,
                       dataset_params=dict(dataset.params), total=1000, inputs={"batch_size": 256})
    staging = store.begin(record)
    store.checkpoint(record, staging, fitted, state.to_checkpoint())
    dead_pid = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                                  capture_output=True, text=True).stdout)
    record.owner_process = f"{socket.gethostname()}:{dead_pid}:1"
    store.add(record)
    assert RunStore(home).get(record.id).status == "interrupted"
    return record.id


def test_an_interrupted_run_is_listed_and_continued_from_the_runs_page(genlab_home, finance) -> None:
    run_id = interrupted_run(genlab_home, finance)
    at = _app()
    at.query_params["run"] = run_id
    at.switch_page("pages/runs.py").run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert table.loc[table["run id"] == run_id, "status"].item() == "interrupted"
    assert any("killed or crashed" in w.value for w in at.warning)
    # the sidebar offers it too
    assert any(b.key == f"sidebar_cont_{run_id}" for b in at.button)
    assert at.number_input(key=f"runs_more_{run_id}").value == 970   # the rest of its planned 1000 steps
    at.number_input(key=f"runs_more_{run_id}").set_value(20).run()
    at.button(key="runs_continue").click().run()
    from pages.common import job_manager
    (job,) = settle_jobs(job_manager())
    child = RunStore(genlab_home).get(job.run_id)
    assert child.parent == run_id and child.status == "done" and child.steps == 50
    at.run()
    assert not any(b.key == f"sidebar_cont_{run_id}" for b in at.button), "a continued run is no longer offered"
    assert not any(b.key == "runs_continue" for b in at.button), "…nor on Runs, which names its continuation"
    assert any(f"Continued by run {child.id}" in c.value for c in at.caption)
    # the samples drawn from it are shown as generated, over the held-out rows of its data
    samples = at.get("plotly_chart")[-1]   # the last figure of the page: the sampled rows
    names = {trace["name"] for trace in json.loads(samples.proto.spec)["data"]}
    assert names == {"real", "generated"}


def test_a_run_opens_from_its_address_and_a_stale_id_says_so(genlab_home, finance) -> None:
    first = interrupted_run(genlab_home, finance, steps=5)
    second = interrupted_run(genlab_home, finance, steps=6)
    at = _app()
    at.query_params["run"] = first
    at.switch_page("pages/runs.py").run()
    assert at.subheader[0].value == md(run_label(RunStore(genlab_home).get(first)))   # its name, escaped
    stale = _app()
    stale.query_params["run"] = "20200101-000000-gone00"
    stale.switch_page("pages/runs.py").run()
    assert stale.subheader[0].value == md(run_label(RunStore(genlab_home).get(second)))
    assert any("Ignored from the address" in c.value and "gone00" in c.value for c in stale.caption)
    assert stale.query_params["run"] in (second, [second])


def test_a_run_whose_process_died_while_the_app_runs_shows_as_interrupted(genlab_home) -> None:
    """The app's store was opened (and reconciled) before the command-line process died: Runs repairs it again."""
    at = _app()
    at.switch_page("pages/runs.py").run()
    assert any("No runs yet" in i.value for i in at.info)
    store = RunStore(genlab_home)
    dead_pid = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                                  capture_output=True, text=True).stdout)
    store.add(RunRecord(id="cli-run", created=time.time(), name="vae on finance", model="vae", dataset="finance",
                        status="running", device="cpu", seed=0, steps=10, elapsed=1.0, run_dir=None,
                        owner_process=f"{socket.gethostname()}:{dead_pid}:1"))
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table.loc[table["run id"] == "cli-run", "status"].item() == "interrupted"


def test_a_run_is_named_and_annotated_on_the_runs_page_and_its_settings_read_as_a_table(genlab_home, finance) -> None:
    """The picker and the table name runs (not bare ids); Save writes the name and the note to the store; the
    settings are a table of words, not a collapsed {...}; the page keeps its two sections."""
    first = interrupted_run(genlab_home, finance, steps=5)
    second = interrupted_run(genlab_home, finance, steps=6)
    at = _app()
    at.query_params["run"] = first
    at.switch_page("pages/runs.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [h.value for h in at.header] == ["All runs", "The chosen run"]
    picker = at.selectbox(key="run")
    assert all(" · #" in option for option in picker.options), picker.options   # names, not bare ids
    table = at.dataframe[0].value
    assert list(table.columns[:2]) == ["run", "Anderson–Darling over time"]
    assert not {"id", "elapsed (s)", "AD", "Kendall", "anderson_darling"} & set(table.columns)
    at.text_input(key=f"runs_name_{first}").set_value("the one we killed")
    at.text_area(key=f"runs_note_{first}").set_value("interrupted on purpose, for the demo")
    next(b for b in at.button if b.label == "Save name and note").click().run()
    assert not at.exception, [e.value for e in at.exception]
    stored = RunStore(genlab_home).get(first)
    assert (stored.title, stored.note) == ("the one we killed", "interrupted on purpose, for the demo")
    assert at.subheader[0].value == md(f"the one we killed · #{first[-4:]}")
    table = at.dataframe[0].value
    assert table.loc[table["run id"] == first, "run"].item() == f"the one we killed · #{first[-4:]}"
    assert table.loc[table["run id"] == first, "note"].item() == "interrupted on purpose, for the demo"
    assert table.loc[table["run id"] == second, "run"].item().startswith("vae killed mid-training · #")
    settings = next(d.value for d in at.dataframe if "setting" in d.value.columns)
    assert {"setting", "value", "default", "changed from the default", "what it does"} <= set(settings.columns)
    assert "latent dimensions" in set(settings["setting"]) and "latent_dim" not in set(settings["setting"])
    # a name is user text: shown literally (no link, no bold) in the heading, as typed in the table
    RunStore(genlab_home).rename(first, "[click](http://example.com) **bold** <b>x</b>")
    at.run()
    assert at.subheader[0].value == md(f"[click](http://example.com) **bold** <b>x</b> · #{first[-4:]}")
    assert "[click](" not in at.subheader[0].value and "**bold**" not in at.subheader[0].value
    table = at.dataframe[0].value
    assert table.loc[table["run id"] == first, "run"].item().startswith("[click](http://example.com) **bold**")
