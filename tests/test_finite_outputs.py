"""Finite outputs or a clear refusal (issue 17, point 5).

Data float64 cannot train on are refused at load time, naming the column and its range; a run whose final samples are
non-finite, or more than FAR_OUT_K training ranges outside the training data, or whose metrics are NaN, ends ``done``
with warnings in its summary, which the CLI prints ("genlib: warning: …"), ``genlib runs`` marks (``done*``) and
``--json`` lists; ``genlib sample`` never writes non-finite rows; the Train page shows the warnings and never "nan".
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import lines
from genlib.cli import main
from genlib.data import DataError, load_csv
from genlib.metrics.sanity import FAR_OUT_K, metric_warnings, run_warnings, sample_warnings


def _upload(text: str, name: str = "data.csv"):
    f = io.BytesIO(text.encode())
    f.name = name
    return f


# ----------------------------------------------------------------------------- the loader


def test_loader_refuses_magnitudes_float64_cannot_square_naming_column_and_range() -> None:
    rows = "\n".join(f"{i},{(i + 1) * 1e298:.6g}" for i in range(40))
    with pytest.raises(DataError) as err:
        load_csv(_upload("x,big\n" + rows + "\n"))
    msg = str(err.value)
    assert "'big'" in msg and "1e+298" in msg and "4e+299" in msg and "1e+150" in msg, msg
    assert "'x'" not in msg


def test_loader_refuses_columns_whose_spread_underflows() -> None:
    rows = "\n".join(f"{i},{(i + 1) * 1e-200:.6g}" for i in range(40))
    with pytest.raises(DataError, match=r"'tiny' \(from 1e-200 to 4e-199\)"):
        load_csv(_upload("x,tiny\n" + rows + "\n"))


def test_loader_accepts_large_but_trainable_values() -> None:
    rows = "\n".join(f"{i},{(i + 1) * 1e100:.6g}" for i in range(40))
    ds = load_csv(_upload("x,big\n" + rows + "\n"))
    assert np.vstack([ds.train, ds.test])[:, 1].max() == pytest.approx(4e101)


# ----------------------------------------------------------------------------- sample_warnings


def test_sample_warnings_names_non_finite_and_far_out_columns() -> None:
    train = np.column_stack([np.linspace(0, 1, 50), np.linspace(-1, 1, 50), np.linspace(5, 6, 50)])
    ok = np.column_stack([np.full(10, 0.5), np.full(10, 2.0), np.full(10, 5.5 + FAR_OUT_K - 0.1)])
    assert sample_warnings(ok, train, ["a", "b", "c"]) == []
    bad = ok.copy()
    bad[0, 0] = np.inf
    bad[1, 0] = np.nan
    bad[:3, 1] = -30.0  # below -1 - 10 * 2
    warnings = sample_warnings(bad, train, ["a", "b", "c"])
    assert len(warnings) == 2
    assert warnings[0].startswith("Column 'a': 2 of 10 samples are not finite")
    assert warnings[1].startswith("Column 'b': 3 of 10 samples lie more than 10 training ranges outside")
    assert "-1 to 1" in warnings[1] and "-30" in warnings[1]


def test_metric_warnings_and_run_warnings() -> None:
    assert metric_warnings({"a": 1.0}) == []
    (one,) = metric_warnings({"a": float("nan"), "b": 2.0, "c": float("inf")}, {"a": "Alpha"})
    assert one.startswith("Metrics Alpha and c could not be computed")
    assert run_warnings({}) == [] and run_warnings(None) == [] and run_warnings({"warnings": ["x"]}) == ["x"]


# ----------------------------------------------------------------------------- a run with far-out samples


def _heavy_csv(path: Path) -> Path:
    """Positive data spanning 100 orders of magnitude: a Gaussian in log1p space has a tail far past its maximum."""
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"loss": 10.0 ** rng.uniform(0, 100, 1000), "b": rng.uniform(1, 2, 1000)})
    table.to_csv(path, index=False)
    return path


def test_far_out_samples_end_done_with_warnings_in_cli_runs_and_json(tmp_path: Path, capsys) -> None:
    data = _heavy_csv(tmp_path / "heavy.csv")
    rc = main(["train", "--model", "gaussian", "--data", str(data), "--transform", "log1p+standardize", "--quiet"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    run_id = captured.out.strip()
    warned = [line for line in lines(captured.err) if line.startswith("genlib: warning: ")]
    assert any("Column 'loss'" in w and "training ranges outside" in w for w in warned), captured.err
    assert lines(captured.err)[0].startswith("done:")

    assert main(["runs"]) == 0
    captured = capsys.readouterr()
    rows = lines(captured.out)
    assert rows[1].split()[:5] == [run_id, "train", "gaussian", "heavy", "done*"]
    assert "finished with warnings" in captured.err

    assert main(["runs", "--json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["status"] == "done"
    assert any("Column 'loss'" in w for w in record["summary"]["warnings"])


def test_sample_refuses_to_write_non_finite_rows(tmp_path: Path, capsys, monkeypatch) -> None:
    from genlib.models import FittedModel
    rng = np.random.default_rng(0)
    pd.DataFrame(rng.normal(size=(60, 2)), columns=["a", "b"]).to_csv(tmp_path / "d.csv", index=False)
    assert main(["train", "--model", "gaussian", "--data", str(tmp_path / "d.csv"), "--out", str(tmp_path / "run"),
                 "--quiet"]) == 0
    capsys.readouterr()

    def overflowing(self, n, seed=None, labels=None):  # finite in model space, inf after the inverse transform
        out = np.zeros((n, 2))
        out[0, 1] = np.inf
        return out
    monkeypatch.setattr(FittedModel, "sample", overflowing)
    rc = main(["sample", str(tmp_path / "run"), "-n", "5", "--out", str(tmp_path / "s.csv")])
    captured = capsys.readouterr()
    assert rc == 2 and len(lines(captured.err)) == 1, captured.err
    assert "1 of 5 rows are not finite" in captured.err and "'b'" in captured.err
    assert not (tmp_path / "s.csv").exists()
