"""Runs you can tell apart (issue 19, point 5): a name and a note per run that persist and that only its owner or
the teacher may change; names built from the settings when nobody gave one; the names in the Compare table, its CSV
and its legends; one colour per run across every chart of the Compare page; the sparkline beside the name."""
from __future__ import annotations

import csv as csv_module
import io
import json
import sqlite3
import time
from pathlib import Path

import pytest
from conftest import SAFETY_TIMEOUT, wait_until
from streamlit.testing.v1 import AppTest

from genlib import compare, figures
from genlib.access import AccessError, Mode, User, Viewer
from genlib.data import load_dataset
from genlib.store import (SCHEMA_VERSION, RunRecord, RunStore, StoreError, new_run_id, read_run_dir, run_label,
                          settings_rows)
from genlib.train import JobStatus, TrainSpec
from pages.text import md

ROOT = Path(__file__).resolve().parents[1]


def _record(run_id: str | None = None, **changes) -> RunRecord:
    values = dict(id=run_id or new_run_id(), created=time.time(), name="vae on finance", model="vae",
                  dataset="finance", status="done", device="cpu", seed=0, steps=2000, elapsed=3.0, run_dir=None,
                  total=2000)
    values.update(changes)
    return RunRecord(**values)


# --- names and notes in the store -------------------------------------------------------------------------------
def test_a_name_and_a_note_persist_across_a_new_store_and_survive_the_engines_updates(tmp_path) -> None:
    store = RunStore(tmp_path)
    record = _record()
    store.add(record)
    store.rename(record.id, "  β = 4,\nthe blurry one ")
    store.set_note(record.id, "shows posterior collapse\nin the latent plot")
    again = RunStore(tmp_path).get(record.id)            # a new store on the same root (an app restart)
    assert again.title == "β = 4, the blurry one" and again.note == "shows posterior collapse\nin the latent plot"
    assert run_label(again) == f"β = 4, the blurry one · #{record.id[-4:]}"
    # the engine rewrites the row from its own copy of the record (no name, no note) every few seconds
    record.steps = 1999
    store.update(record)
    kept = RunStore(tmp_path).get(record.id)
    assert kept.steps == 1999 and kept.title == "β = 4, the blurry one" and kept.note.startswith("shows")
    assert RunStore(tmp_path).list()[0].title == "β = 4, the blurry one"   # listing reads the same columns
    # blank: back to the name built from its settings; a name too long is refused with one sentence
    store.rename(record.id, "   ")
    assert RunStore(tmp_path).get(record.id).title is None
    assert run_label(store.get(record.id)).startswith("VAE on finance")
    with pytest.raises(StoreError, match="at most 80 characters"):
        store.rename(record.id, "x" * 81)
    with pytest.raises(StoreError, match="no run"):
        store.rename("20200101-000000-gone00", "x")


def test_a_store_of_schema_2_opens_with_no_names_and_can_name_its_runs(tmp_path) -> None:
    """A store written before names existed: its rows read back with no name and an empty note, then take both."""
    old = _record("r1", config={"latent_dim": 2})
    columns = ("id", "created", "name", "model", "dataset", "status", "device", "seed", "steps", "elapsed", "run_dir",
               "error", "record", "kind")
    with sqlite3.connect(tmp_path / "runs.sqlite") as con:
        con.execute("CREATE TABLE runs (id TEXT PRIMARY KEY, created REAL NOT NULL, name TEXT NOT NULL, model TEXT "
                    "NOT NULL, dataset TEXT NOT NULL, status TEXT NOT NULL, device TEXT, seed INTEGER, steps INTEGER, "
                    "elapsed REAL, run_dir TEXT, error TEXT, record TEXT NOT NULL, kind TEXT NOT NULL DEFAULT "
                    "'train')")
        data = json.loads(old.to_json())
        for key in ("title", "note"):   # the record JSON of schema 2 had neither
            data.pop(key)
        values = {**data, "record": json.dumps(data), "kind": "train"}
        con.execute(f"INSERT INTO runs VALUES ({', '.join('?' * len(columns))})", tuple(values[c] for c in columns))
        con.execute("PRAGMA user_version = 2")
    store = RunStore(tmp_path)
    (record,) = store.list()
    assert record.title is None and record.note == ""
    assert run_label(record) == "VAE on finance · latent dimensions 2 · 2,000 steps · #r1"
    store.rename("r1", "tiny latent")
    store.set_note("r1", "two dimensions: the bottleneck")
    with sqlite3.connect(tmp_path / "runs.sqlite") as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    assert RunStore(tmp_path).get("r1").title == "tiny latent"
    assert store.verify() == []


def test_a_rename_while_the_run_trains_is_kept_in_its_row_and_its_folder(tmp_path, finance, make_manager) -> None:
    """Really trains: the name given while the job runs survives its checkpoints and its commit (which rewrite the
    row from the engine's copy of the record), and lands in the run folder's run.json too."""
    store = RunStore(tmp_path / "store")
    manager = make_manager(max_concurrent=1, store=store, executor="thread")
    job = manager.submit(TrainSpec("vae", finance, steps=400, eval_period_s=None, checkpoint_every_s=0.05))
    wait_until(lambda: job.run_id is not None and job.snapshot().step >= 5, what="the run to start")
    store.rename(job.run_id, "renamed while training")
    store.set_note(job.run_id, "a note written mid-run")
    assert job.snapshot().step < 400, "renamed while it was still training"
    assert manager.wait_all(SAFETY_TIMEOUT) and job.status is JobStatus.DONE, job.error
    final = RunStore(tmp_path / "store").get(job.run_id)
    assert final.title == "renamed while training" and final.note == "a note written mid-run"
    folder_record, _ = read_run_dir(final.run_dir)
    assert folder_record is not None and folder_record.title == "renamed while training"


def test_a_student_cannot_rename_another_users_run_on_a_classroom_server(tmp_path) -> None:
    store = RunStore(tmp_path)
    alice, bob = User("u-alice", "Alice"), User("u-bob", "Bob")
    mine = _record(owner=alice.id, owner_name=alice.name)
    shared = _record(owner=alice.id, owner_name=alice.name, shared=True)
    store.add(mine)
    store.add(shared)
    as_bob = store.for_viewer(Viewer(bob, Mode.CLASSROOM))
    with pytest.raises(StoreError, match="no run"):              # her private run does not exist for him
        as_bob.rename(mine.id, "Bob was here")
    with pytest.raises(AccessError, match="only its owner or the teacher"):   # a shared run is read-only to him
        as_bob.rename(shared.id, "Bob was here")
    with pytest.raises(AccessError):
        as_bob.set_note(shared.id, "Bob was here")
    assert store.get(shared.id).title is None and store.get(shared.id).note == ""
    store.for_viewer(Viewer(alice, Mode.CLASSROOM)).rename(mine.id, "Alice's β sweep")
    store.for_viewer(Viewer(User("u-t", "Teacher", teacher=True), Mode.CLASSROOM)).set_note(mine.id, "well done")
    assert (store.get(mine.id).title, store.get(mine.id).note) == ("Alice's β sweep", "well done")


def test_built_names_tell_two_vae_on_finance_runs_apart() -> None:
    a = _record(config={})
    b = _record(config={"latent_dim": 8, "beta": 2.0, "activation": "leakyrelu"}, seed=3)   # activation: default
    c = _record(a.id[:-4] + "ffff", config={})
    assert run_label(a) == f"VAE on finance · 2,000 steps · #{a.id[-4:]}"
    assert run_label(b) == f"VAE on finance · latent dimensions 8 · β 2 · 2,000 steps · seed 3 · #{b.id[-4:]}"
    assert len({run_label(a), run_label(b), run_label(c)}) == 3     # the same settings still differ by their id
    # a name given when it was started counts as its name; a sweep's grid-point label does not
    assert run_label(_record("x-1234", name="my baseline")) == "my baseline · #1234"
    member = _record("x-5678", name="vae · sigma 0.1", inputs={"sweep": "s1", "point": [0.1, None]},
                     config={"sigma": 0.1})
    assert run_label(member) == "VAE on finance · decoder σ 0.1 · 2,000 steps · #5678"
    # a sweep's axis shows in the name even at its default, so every grid point says which it is
    at_default = _record("x-9abc", name="vae · sigma 0.05", config={"sigma": 0.05, "beta": 1.0},
                         inputs={"sweep": "s1", "point": [0.05, None], "fields": ["sigma"]})
    assert run_label(at_default) == "VAE on finance · decoder σ 0.05 · 2,000 steps · #9abc"
    assert compare.row_from_record(at_default).settings == "decoder σ 0.05"
    rows = {r["setting"]: r for r in settings_rows(b)}
    width = rows["latent dimensions"]
    assert width["value"] == "8" and width["changed"] and width["default"] == "4"
    sigma = rows["decoder σ (standardised units)"]
    assert sigma["value"] == "0.05" and not sigma["changed"]       # not stored: the default shows


# --- colours ----------------------------------------------------------------------------------------------------------
def test_a_run_keeps_its_colour_whichever_runs_a_figure_draws() -> None:
    runs = {f"run {i}": f"2026-{i:04d}" for i in range(6)}
    book = figures.style.assign_colors(runs)
    assert len(set(book.values())) == 6, "the runs of one page get distinct colours"
    assert figures.style.REAL_COLOR not in book.values()
    assert book == figures.style.assign_colors(dict(reversed(list(runs.items())))), "the order does not matter"
    real = load_dataset("finance").test[:200]
    with figures.style.colors_for(book):
        some = figures.samples.ecdf_overlay(real, {"run 4": real, "run 1": real}, ["a", "b", "c", "d"])
        others = figures.curves.loss_curves_multi({"run 1": ([1, 2], {"loss": [2.0, 1.0]})})
    colors = {t.name: t.line.color for t in some.data}
    assert colors == {"real": figures.style.REAL_COLOR, "run 4": book["run 4"], "run 1": book["run 1"]}
    assert others.data[0].line.color == book["run 1"]
    assert figures.style.run_color("20261201-104746-e14937") == figures.style.run_color("20261201-104746-e14937")


# --- the comparison table ------------------------------------------------------------------------------------------
def test_the_comparison_table_and_its_csv_carry_names_settings_and_the_sparkline_beside_the_name() -> None:
    a, b = _record(config={}), _record(config={"latent_dim": 8})
    b.title = "wide code"
    rows = [compare.row_from_record(r) for r in (a, b)]
    table = compare.metric_table(rows, {"anderson_darling": 0.5}, ["anderson_darling", "log_likelihood"])
    assert list(table.columns[:4]) == ["run", "history", "settings", "run_id"], "the sparkline sits by the name"
    assert list(table["run"]) == [compare.FLOOR_LABEL, run_label(a), f"wide code · #{b.id[-4:]}"]
    assert list(table["settings"])[1:] == ["default settings", "latent dimensions 8"]
    csv = compare.table_for_download(table, ["anderson_darling", "log_likelihood"])
    assert list(csv.columns[:3]) == ["run", "key settings", "run id"]
    assert {"Anderson–Darling distance", "Held-out log-likelihood (nats/dim)"} <= set(csv.columns)
    assert not {"heldout_ll", "log_likelihood", "anderson_darling", "history"} & set(csv.columns)
    cells = list(csv_module.reader(io.StringIO(csv.to_csv(index=False))))
    assert [row[0] for row in cells[1:]] == list(table["run"]) and cells[3][2] == b.id
    assert not {"nan", "NaN", "None"} & {cell for row in cells for cell in row}, "missing values are empty cells"


def _app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)


def _chart_colors(at: AppTest) -> dict[str, dict[str, str]]:
    """Figure key → {legend name: colour} of every Plotly chart the page drew."""
    out = {}
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        names = {}
        for trace in spec["data"]:
            style = trace.get("line") or trace.get("marker") or {}
            if trace.get("name") and isinstance(style.get("color"), str):
                names[trace["name"]] = style["color"]
        out[chart.proto.id] = names
    return out


def test_the_compare_page_names_each_run_and_draws_it_in_one_colour_in_every_chart(finance, make_manager) -> None:
    """Three really trained VAEs on finance (two with the same settings): the table names all three apart, with the
    sparkline beside the name; only two are plotted, yet each run has one colour across the metric history chart
    (all three runs) and the sample charts (two), and real data is REAL_COLOR in each."""
    store = RunStore()
    manager = make_manager(max_concurrent=2, store=store, executor="thread")
    jobs = [manager.submit(TrainSpec("vae", finance, steps=40, eval_period_s=None, seed=s, config=c))
            for s, c in ((0, {}), (1, {}), (0, {"latent_dim": 2}))]
    assert manager.wait_all(SAFETY_TIMEOUT) and all(j.status is JobStatus.DONE for j in jobs)
    ids = [j.run_id for j in jobs]
    store.rename(ids[2], "tiny code")
    labels = [run_label(store.get(i)) for i in ids]
    at = _app()
    at.query_params["runs"] = ",".join(ids)
    at.switch_page("pages/compare.py").run()
    at.toggle(key="cmp_show_hist").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert table.columns[0] == "run" and "over time" in table.columns[1], "the sparkline is next to the name"
    assert set(labels) <= set(table["run"]) and labels[2] == f"tiny code · #{ids[2][-4:]}"
    assert len(set(labels)) == 3 and labels[0].startswith("VAE on finance")
    assert not {"heldout_ll", "log_likelihood", "anderson_darling", "elapsed (s)", "steps/s"} & set(table.columns)
    # plot only two of the three runs: the metric history chart still has all three
    plotted = next(m for m in at.multiselect if m.label == "Runs to plot")
    assert set(plotted.value) == {f"run:{i}" for i in ids}
    plotted.set_value([f"run:{ids[1]}", f"run:{ids[2]}"]).run()
    assert not at.exception, [e.value for e in at.exception]
    charts = _chart_colors(at)
    seen: dict[str, set[str]] = {}
    for names in charts.values():
        for name, color in names.items():
            seen.setdefault(name, set()).add(color)
        if "real" in names:
            assert names["real"] == figures.style.REAL_COLOR
    for label in labels:
        assert label in seen, f"{label} is in a chart legend"
        assert len(seen[label]) == 1, f"{label} has one colour across the page's charts, not {seen[label]}"
    assert len({next(iter(seen[label])) for label in labels}) == 3, "three runs, three colours"
    assert sum(1 for names in charts.values() if labels[0] in names) >= 1    # only in the history chart
    assert sum(1 for names in charts.values() if labels[1] in names) >= 3    # history, histograms, ECDF, QQ…


def test_the_command_line_names_and_annotates_a_run(genlab_home, capsys) -> None:
    from genlib.cli.main import main
    record = _record(config={"beta": 4.0})
    RunStore(genlab_home).add(record)
    assert main(["runs", "--rename", record.id, "β = 4", "--note", record.id, "blurry, as expected"]) == 0
    assert capsys.readouterr().out.strip() == f"β = 4 · #{record.id[-4:]}"
    stored = RunStore(genlab_home).get(record.id)
    assert (stored.title, stored.note) == ("β = 4", "blurry, as expected")
    assert main(["runs", "--rename", record.id, ""]) == 0
    assert capsys.readouterr().out.strip() == f"VAE on finance · β 4 · 2,000 steps · #{record.id[-4:]}"
    assert main(["runs", "--rename", "20200101-000000-gone00", "x"]) == 2
    assert "no run with id" in capsys.readouterr().err
    listed = json.loads((main(["runs", "--json"]), capsys.readouterr().out)[1])
    assert listed[0]["note"] == "blurry, as expected" and listed[0]["title"] is None


@pytest.mark.parametrize("page, sections", [
    ("pages/compare.py", ["Choose models and start them together", "Live metric table", "Side by side",
                          "Hyperparameter sweep"]),
    ("pages/runs.py", ["All runs", "The chosen run"])])
def test_presentation_mode_draws_one_section_at_a_time(page, sections, finance, make_manager) -> None:
    """Each section alone (the others' settings come from the address): the section's own header only, no error;
    a stored run named in the address is still compared and plotted when the table's section is not drawn."""
    manager = make_manager(max_concurrent=1, store=RunStore(), executor="thread")
    job = manager.submit(TrainSpec("gaussian", finance, eval_period_s=None))
    assert manager.wait_all(SAFETY_TIMEOUT) and job.status is JobStatus.DONE
    label = run_label(RunStore().get(job.run_id))
    for section in sections:
        at = _app()
        at.query_params.update({"present": "1", "section": section, "cmp_stored": job.run_id, "run": job.run_id})
        at.switch_page(page).run()
        assert not at.exception, (section, [e.value for e in at.exception])
        assert [h.value for h in at.header] == [section]
        if section == "Side by side":
            legends = _chart_colors(at)
            assert any(label in names for names in legends.values()), "the address's stored run is plotted"
        if section == "The chosen run":
            assert at.subheader[0].value == md(label)


def test_training_curves_are_titled_in_words_not_keys() -> None:
    fig = figures.curves.metric_history([{"step": 1, "anderson_darling": 2.0, "kendall_error": 0.1}],
                                        ["anderson_darling", "kendall_error"])
    assert [a.text for a in fig.layout.annotations] == ["Anderson–Darling distance", "Kendall error"]
    fig = figures.curves.loss_curves([1, 2], {"loss_d": [1.0, 2.0], "loss_g": [2.0, 1.0]})
    assert [t.name for t in fig.data] == ["discriminator loss", "generator loss"]
