"""Bounded work per request (issue 17, point 4): every limit is checked before the work starts, and refuses with
one sentence naming the limit, the value asked and the environment variable that changes it."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import genlib
from conftest import lines
from genlib import limits
from genlib.cli import main
from genlib.data import DataError, load_csv
from genlib.data import csv_loader
from genlib.errors import UserError
from genlib.limits import COLUMNS, EVAL_ROWS, SAMPLE_ROWS, LimitError
from genlib.metrics import evaluate as metrics_evaluate
from genlib.models import REGISTRY, check_model_memory, get_model_class


def one_error_line(rc: int, stderr: str, *fragments: str) -> str:
    assert rc == 2, (rc, stderr)
    assert "Traceback" not in stderr
    err = lines(stderr)
    assert len(err) == 1, stderr
    for fragment in fragments:
        assert fragment in err[0], (fragment, err[0])
    return err[0]


def wide_csv(path: Path, n_cols: int, n_rows: int = 30) -> Path:
    x = np.random.default_rng(0).normal(size=(n_rows, n_cols)).round(3)
    pd.DataFrame(x, columns=[f"c{i}" for i in range(n_cols)]).to_csv(path, index=False)
    return path


# ------------------------------------------------------------------------------------------ the module itself

def test_each_limit_is_declared_once_with_its_variable(monkeypatch) -> None:
    assert {(lim.env, lim.default) for lim in limits.LIMITS} == {
        ("GENLAB_MAX_COLUMNS", 1000), ("GENLAB_MAX_SAMPLE_ROWS", 1_000_000), ("GENLAB_EVAL_ROWS", 20_000)}
    monkeypatch.setenv("GENLAB_MAX_COLUMNS", "5")
    assert COLUMNS.value() == 5
    monkeypatch.setenv("GENLAB_MAX_COLUMNS", "lots")
    with pytest.raises(UserError, match="GENLAB_MAX_COLUMNS"):
        COLUMNS.value()


def test_a_limit_error_names_the_limit_the_value_and_the_variable() -> None:
    with pytest.raises(LimitError) as info:
        SAMPLE_ROWS.check(2_000_000, "-n")
    message = str(info.value)
    assert "2,000,000 rows" in message and "limit of 1,000,000 rows" in message
    assert "GENLAB_MAX_SAMPLE_ROWS" in message
    assert (info.value.env, info.value.asked, info.value.allowed) == ("GENLAB_MAX_SAMPLE_ROWS", 2_000_000, 1_000_000)
    assert isinstance(info.value, UserError)  # the CLI's exit 2, the pages' message in place


# ------------------------------------------------------------------------------------------------- columns

def test_a_csv_over_the_column_limit_is_refused_from_its_header(tmp_path, monkeypatch) -> None:
    path = wide_csv(tmp_path / "wide.csv", 1001)

    def parse_everything(*args, **kwargs):
        raise AssertionError("the whole file was parsed before the column limit was checked")

    monkeypatch.setattr(csv_loader, "_read_with_sep", parse_everything)
    with pytest.raises(DataError) as info:  # a DataError too: pages show it like any unusable file
        load_csv(path)
    assert isinstance(info.value, LimitError)
    message = str(info.value)
    assert "wide.csv" in message and "1,001 columns" in message and "1,000" in message
    assert "GENLAB_MAX_COLUMNS" in message


def test_the_column_limit_is_checked_for_semicolon_files_too(tmp_path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text(";".join(f"c{i}" for i in range(1001)) + "\n" + ";".join("1" for _ in range(1001)) + "\n")
    with pytest.raises(LimitError, match="GENLAB_MAX_COLUMNS"):
        load_csv(path)


def test_the_column_limit_is_raised_by_its_variable(tmp_path, monkeypatch) -> None:
    path = wide_csv(tmp_path / "wide.csv", 1001)
    monkeypatch.setenv("GENLAB_MAX_COLUMNS", "2000")
    assert load_csv(path).train.shape[1] == 1001


def test_the_cli_refuses_a_wide_csv_in_one_line(tmp_path, capsys) -> None:
    path = wide_csv(tmp_path / "wide.csv", 1001)
    rc = main(["train", "--model", "gmm", "--data", str(path), "--quiet"])
    one_error_line(rc, capsys.readouterr().err, "1,001 columns", "GENLAB_MAX_COLUMNS")


# -------------------------------------------------------------------------------------------------- sample

def test_sample_n_over_the_limit_exits_2_before_loading_the_run(tmp_path, capsys) -> None:
    # "no-such-run" would be its own error: the limit is checked first, before any work
    rc = main(["sample", "no-such-run", "-n", "100000000", "--out", str(tmp_path / "s.csv")])
    one_error_line(rc, capsys.readouterr().err, "100,000,000", "1,000,000", "GENLAB_MAX_SAMPLE_ROWS")
    assert not (tmp_path / "s.csv").exists()


def test_sample_limit_in_python_and_its_override(finance, monkeypatch) -> None:
    model = genlib.fit("gaussian", finance)
    monkeypatch.setenv("GENLAB_MAX_SAMPLE_ROWS", "10")
    with pytest.raises(LimitError, match="GENLAB_MAX_SAMPLE_ROWS"):
        genlib.sample(model, 11)
    with pytest.raises(LimitError, match="GENLAB_MAX_SAMPLE_ROWS"):
        model.sample(11)  # FittedModel.sample itself: the pages' way in
    assert genlib.sample(model, 10, seed=0).shape == (10, 4)
    monkeypatch.setenv("GENLAB_MAX_SAMPLE_ROWS", "20")
    assert model.sample(11, seed=0).shape == (11, 4)


# ------------------------------------------------------------------------------------------------ evaluate

def test_evaluate_compares_a_fixed_subsample_and_says_so(tmp_path, monkeypatch, capsys) -> None:
    rng = np.random.default_rng(1)
    for name in ("real", "fake"):
        pd.DataFrame(rng.normal(size=(50_000, 3)).round(4), columns=["a", "b", "c"]).to_csv(
            tmp_path / f"{name}.csv", index=False)
    monkeypatch.setenv("GENLAB_EVAL_ROWS", "2000")
    start = time.perf_counter()
    rc = main(["evaluate", str(tmp_path / "real.csv"), str(tmp_path / "fake.csv")])
    elapsed = time.perf_counter() - start
    out, err = capsys.readouterr()
    assert rc == 0, err
    result = json.loads(out)
    assert result["subsampled"]["real"] == 2000 and result["subsampled"]["fake"] == 2000
    assert result["subsampled"]["of"] == [50_000, 50_000]
    assert result["subsampled"]["env"] == "GENLAB_EVAL_ROWS"
    assert (result["n_real"], result["n_fake"]) == (50_000, 50_000)
    assert "subsample" in err and "GENLAB_EVAL_ROWS" in err and "2,000 of 50,000" in err
    assert elapsed < 60, elapsed
    rc = main(["evaluate", str(tmp_path / "real.csv"), str(tmp_path / "fake.csv")])
    assert json.loads(capsys.readouterr().out) == result  # fixed seed: the same rows, the same numbers


def test_evaluate_below_the_limit_uses_every_row(finance) -> None:
    result = metrics_evaluate(finance.test, finance.train)
    assert "subsampled" not in result
    assert EVAL_ROWS.value() == 20_000


def test_library_evaluate_subsamples_too(finance) -> None:
    big = np.vstack([finance.train] * 3)
    result = metrics_evaluate(finance.test, big, max_rows=500)
    assert result["subsampled"] == {"real": 144, "fake": 500, "of": [144, len(big)], "limit": 500,
                                    "env": "GENLAB_EVAL_ROWS"}
    assert metrics_evaluate(finance.test, big, max_rows=500) == result


def test_facade_evaluate_states_its_subsample(finance, monkeypatch) -> None:
    monkeypatch.setenv("GENLAB_EVAL_ROWS", "100")
    result = genlib.evaluate(finance.test, finance.train)
    assert result["subsampled"]["of"] == [144, 576] and result["subsampled"]["fake"] == 100


# ------------------------------------------------------------------------------------------- model memory

def small_machine(monkeypatch, mb: float = 100) -> None:
    monkeypatch.setattr(limits, "available_memory", lambda: int(mb * limits.MB))


def test_gmm_on_ten_thousand_columns_is_estimated_in_gigabytes() -> None:
    # the testers' case: 7.5 GB reached before a MemoryError
    assert get_model_class("gmm").memory_estimate(10_000) > 7 * 1024 ** 3


def test_a_model_over_half_the_available_memory_is_refused(monkeypatch) -> None:
    small_machine(monkeypatch, 100)
    with pytest.raises(LimitError) as info:
        check_model_memory("gmm", 1000)  # 8 full 1000 × 1000 covariances, three times: ~180 MB
    message = str(info.value)
    assert "gmm" in message and "1,000 columns" in message and "MB" in message
    assert "half of the 100.0 MB available" in message and "GENLAB_MAX_MODEL_MB" in message
    monkeypatch.setenv("GENLAB_MAX_MODEL_MB", "100000")
    assert check_model_memory("gmm", 1000) > 100 * limits.MB


def test_no_check_when_the_platform_does_not_say(monkeypatch) -> None:
    monkeypatch.setattr(limits, "available_memory", lambda: None)
    assert check_model_memory("gmm", 1000) > 0


def test_every_model_on_a_small_table_is_far_below_any_limit() -> None:
    for name, cls in REGISTRY.items():  # no false refusal: the defaults on 64 columns stay small
        assert 0 < cls.memory_estimate(64, batch_size=256, n_rows=2000) < 300 * limits.MB, name


def test_cli_train_refuses_before_starting(tmp_path, monkeypatch, capsys) -> None:
    wide_csv(tmp_path / "t.csv", 50, n_rows=200)
    small_machine(monkeypatch, 0.01)
    rc = main(["train", "--model", "gmm", "--data", str(tmp_path / "t.csv"), "--quiet",
               "--out", str(tmp_path / "run")])
    one_error_line(rc, capsys.readouterr().err, "gmm", "GENLAB_MAX_MODEL_MB")
    assert not (tmp_path / "run").exists()
    assert len(genlib.open_store()) == 0  # nothing started: no failed run left behind


def test_fit_refuses_before_building(finance, monkeypatch) -> None:
    small_machine(monkeypatch, 0.01)
    with pytest.raises(LimitError, match="GENLAB_MAX_MODEL_MB"):
        genlib.fit("vae", finance, steps=1)


def test_the_engine_refuses_a_model_too_large_for_the_machine_before_building_it(monkeypatch) -> None:
    """The app's jobs (and `continue`) go through genlib.train.build: the check sits there, before any allocation."""
    from conftest import SAFETY_TIMEOUT

    from genlib.data import load_dataset
    from genlib.train import JobManager, JobStatus, TrainSpec
    monkeypatch.setenv("GENLAB_MAX_MODEL_MB", "1")
    job = JobManager(max_concurrent=1).submit(TrainSpec("vae", load_dataset("finance"), config={"enc_width": 1024},
                                                        steps=5, eval_period_s=None))
    assert job.wait(SAFETY_TIMEOUT)
    snap = job.snapshot()
    assert snap.status is JobStatus.FAILED and "GENLAB_MAX_MODEL_MB" in snap.error and snap.traceback is None
    assert job.fitted is None
