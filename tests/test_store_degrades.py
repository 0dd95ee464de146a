"""A store that degrades, never breaks (issue 17, point 6): a damaged row is skipped with one warning; an unusable
GENLAB_HOME (a file, a read-only filesystem) is one clear sentence on the CLI and on every page."""
from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from genlib.cli import main
from genlib.store import RunRecord, RunStore, StoreError

ROOT = Path(__file__).resolve().parents[1]


def _record(run_id: str, **extra) -> RunRecord:
    return RunRecord(id=run_id, created=time.time(), name=f"run {run_id}", model="gmm", dataset="finance",
                     status="failed", device="cpu", seed=0, steps=0, elapsed=0.1, run_dir=None, **extra)


def _good_record_json(run_id: str) -> dict:
    return json.loads(_record(run_id).to_json())


def _patched(run_id: str, **fields) -> str:
    data = _good_record_json(run_id)
    data.update(fields)
    return json.dumps(data)


DAMAGE = {
    "empty object": lambda rid: "{}",
    "not json": lambda rid: "{this is not json",
    "a list": lambda rid: "[1, 2]",
    "created is text": lambda rid: _patched(rid, created="yesterday"),
    "model is null": lambda rid: _patched(rid, model=None),
    "config is a list": lambda rid: _patched(rid, config=[1, 2]),
    "steps is text": lambda rid: _patched(rid, steps="ten"),
    "metric is text": lambda rid: _patched(rid, metrics={"anderson_darling": "bad"}),
    "record is empty": lambda rid: None,
}


def damaged_store(home: Path, damage: str) -> RunStore:
    """A store with two good rows and one damaged row (``bad``), its record column overwritten directly."""
    store = RunStore(home)
    for rid in ("good1", "good2", "bad"):
        store.add(_record(rid))
    with sqlite3.connect(home / "runs.sqlite") as con:
        if DAMAGE[damage]("bad") is None:   # NOT NULL column: rebuild without the constraint is overkill; use ''
            con.execute("UPDATE runs SET record = '' WHERE id = 'bad'")
        else:
            con.execute("UPDATE runs SET record = ? WHERE id = 'bad'", (DAMAGE[damage]("bad"),))
    con.close()
    return RunStore(home)


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_row_is_skipped_once_and_get_names_it(damage, genlab_home, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="genlib")
    store = damaged_store(genlab_home, damage)
    caplog.clear()
    for _ in range(3):
        assert sorted(r.id for r in store.list(kinds=None)) == ["good1", "good2"]
    warnings = [r for r in caplog.records if "bad" in r.getMessage() and "damaged" in r.getMessage()]
    assert len(warnings) <= 1   # at most once per store (the open already reported it)
    assert store.damaged_ids() == ["bad"]
    with pytest.raises(StoreError, match="run bad is damaged"):
        store.get("bad")
    assert any("run bad: its row is damaged" in p for p in store.verify())
    assert store.reconcile() is not None
    assert store.continued() == set()
    store.delete("bad")
    assert store.damaged_ids() == [] and len(store) == 2


def test_a_damaged_row_is_logged_once_per_row(genlab_home, caplog) -> None:
    damaged_store(genlab_home, "model is null")
    caplog.set_level(logging.WARNING, logger="genlib")
    store = RunStore(genlab_home, reconcile=False)
    for _ in range(3):
        store.list(kinds=None)
        store.damaged_ids()
    assert len([r for r in caplog.records if "skipping damaged row bad" in r.getMessage()]) == 1


@pytest.mark.parametrize("damage", ["not json", "created is text", "model is null", "empty object"])
@pytest.mark.parametrize("as_json", [False, True])
def test_cli_runs_lists_the_good_rows_and_warns_once(damage, as_json, genlab_home, capsys) -> None:
    damaged_store(genlab_home, damage)
    assert main(["runs"] + (["--json"] if as_json else [])) == 0
    out, err = capsys.readouterr()
    if as_json:
        assert sorted(r["id"] for r in json.loads(out)) == ["good1", "good2"]
    else:
        assert "good1" in out and "good2" in out and "bad" not in out
    assert len(err.strip().splitlines()) == 1 and "1 damaged row" in err and "Traceback" not in err
    assert main(["runs", "--check"]) == 3
    assert "run bad: its row is damaged" in capsys.readouterr().out


# --- an unusable GENLAB_HOME ------------------------------------------------------------------------------------
@pytest.fixture
def home_is_a_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "home-file"
    path.write_text("not a folder")
    monkeypatch.setenv("GENLAB_HOME", str(path))
    return path


@pytest.fixture
def read_only_home(tmp_path, monkeypatch):
    mnt = tmp_path / "ro"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a read-only tmpfs here")
    monkeypatch.setenv("GENLAB_HOME", str(mnt))
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _store_commands(tmp_path: Path) -> list[list[str]]:
    return [["runs"], ["runs", "--json"], ["runs", "--check"], ["sample", "no-such-run", "-n", "5", "--out",
                                                                 str(tmp_path / "s.csv")],
            ["continue", "no-such-run", "--steps", "5"],
            ["train", "--model", "gmm", "--data", "finance", "--quiet"]]


def _assert_one_line(rc: int, err: str, *fragments: str) -> None:
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert all(f in lines[0] for f in fragments), lines[0]


def test_home_is_a_file_cli_is_one_line_exit_2(home_is_a_file, tmp_path, capsys) -> None:
    for argv in _store_commands(tmp_path):
        rc = main(argv)
        _assert_one_line(rc, capsys.readouterr().err, "is a file, not a folder")
    with pytest.raises(StoreError, match="is a file, not a folder"):
        RunStore()


def test_read_only_home_cli_is_one_line_exit_2(read_only_home, tmp_path, capsys) -> None:
    for argv in _store_commands(tmp_path):
        rc = main(argv)
        _assert_one_line(rc, capsys.readouterr().err, "read-only", "GENLAB_HOME")
    with pytest.raises(StoreError, match="cannot create the run store at .*set GENLAB_HOME to a writable folder"):
        RunStore(read_only_home / "sub")


def test_logging_setup_never_raises_on_an_unusable_home(home_is_a_file, tmp_path) -> None:
    from genlib.logs import configure_logging
    assert configure_logging(home_is_a_file) is None
    assert configure_logging(home_is_a_file / "below") is None


def test_an_unwritable_database_file_is_one_sentence(genlab_home) -> None:
    (genlab_home / "runs.sqlite").write_bytes(b"this is not a sqlite database at all" * 100)
    with pytest.raises(StoreError, match="cannot open the run store"):
        RunStore(genlab_home)


def _app_page(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if page != "home":
        at.switch_page(f"pages/{page}.py")
    return at.run()


@pytest.mark.parametrize("page", ["home", "runs", "compare", "train"])
def test_home_is_a_file_every_page_shows_one_error(page, home_is_a_file) -> None:
    at = _app_page(page)
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1 and "is a file, not a folder" in at.error[0].value


def test_read_only_home_a_page_shows_one_error(read_only_home) -> None:
    at = _app_page("runs")
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1 and "read-only" in at.error[0].value


@pytest.mark.parametrize("page", ["runs", "compare"])
def test_runs_and_compare_pages_skip_a_damaged_row_with_one_warning(page, genlab_home) -> None:
    damaged_store(genlab_home, "not json")
    at = _app_page(page)
    assert not at.exception, [e.value for e in at.exception]
    assert [w.value for w in at.warning if "damaged" in w.value] == [
        next(w.value for w in at.warning if "damaged" in w.value)]
    if page == "runs":
        ids = set(at.dataframe[0].value["run id"])
        assert ids == {"good1", "good2"}
