"""``genlib sweep`` (issue 18, point 3): every grid point trained as a run, a table of the metric suite per point."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import lines

from genlib.access import cli_user
from genlib.cli import main
from genlib.cli.sweep import grid_points
from genlib.store import RunStore


def test_a_grid_sweep_trains_every_point_and_tables_the_suite(tmp_path: Path, capsys) -> None:
    out = tmp_path / "sweep"
    rc = main(["sweep", "--model", "gmm", "--data", "toy2d", "--grid", "n_components=1,4",
               "--grid", "covariance_type=full,diag", "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert captured.out.strip() == str(out / "table.csv")
    table = pd.read_csv(out / "table.csv")
    assert list(table[["n_components", "covariance_type"]].itertuples(index=False, name=None)) == [
        (1, "full"), (1, "diag"), (4, "full"), (4, "diag")]
    assert (table["status"] == "done").all()
    rows = json.loads((out / "table.json").read_text())
    suite = ["anderson_darling", "kendall_error", "wasserstein", "mmd", "c2st_auc"]
    assert [(r["run"], r["n_components"], r["covariance_type"]) for r in rows] == list(
        table[["run", "n_components", "covariance_type"]].itertuples(index=False, name=None))
    np.testing.assert_allclose([[r[k] for k in suite] for r in rows], table[suite].to_numpy(), rtol=1e-12)
    assert table[suite].notna().all().all()
    # the metrics measure the fits: four components beat one on the multi-modal toy data
    by = table.set_index(["n_components", "covariance_type"])
    assert by.loc[(4, "full"), "wasserstein"] < by.loc[(1, "full"), "wasserstein"]
    assert by.loc[(4, "full"), "anderson_darling"] < by.loc[(1, "full"), "anderson_darling"]
    store = RunStore()
    for run_id, point in zip(table["run"], range(4)):
        record = store.get(run_id)
        assert record.owner == cli_user().id and record.status == "done"
        assert Path(record.run_dir) == (out / "runs" / f"point-{point:03d}").resolve()
        assert store.load(run_id).sample(10, seed=0).shape == (10, 2)


def test_an_iterative_model_sweep_trains_each_point(tmp_path: Path, capsys) -> None:
    out = tmp_path / "vae"
    rc = main(["sweep", "--model", "vae", "--data", "toy2d", "--grid", "sigma=0.05,0.5", "--set", "latent_dim=2",
               "--steps", "60", "--jobs", "2", "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    table = pd.read_csv(out / "table.csv")
    assert list(table["sigma"]) == [0.05, 0.5] and (table["steps"] == 60).all()
    configs = [RunStore().get(r).config for r in table["run"]]
    assert [c["sigma"] for c in configs] == [0.05, 0.5] and all(c["latent_dim"] == 2 for c in configs)


@pytest.mark.parametrize(("args", "fragment"), [
    (["--grid", "no_such_setting=1,2"], "no_such_setting"),
    (["--grid", "n_components="], "has no values"),
    (["--grid", "n_components=1,2", "--grid", "n_components=3"], "given twice"),
    (["--grid", "n_components=1,2", "--set", "n_components=3"], "both fixed (--set) and swept (--grid)"),
    (["--grid", "n_components=0,2"], "n_components"),
    (["--grid", "n_components=1,2", "--jobs", "0"], "--jobs must be at least 1"),
])
def test_bad_sweeps_are_one_line_before_any_training(tmp_path: Path, capsys, args, fragment) -> None:
    out = tmp_path / "bad"
    rc = main(["sweep", "--model", "gmm", "--data", "toy2d", "--out", str(out), *args])
    err = lines(capsys.readouterr().err)
    assert rc == 2 and len(err) == 1 and fragment in err[0], err
    assert not (out / "runs").exists() or not any((out / "runs").iterdir())
    assert len(RunStore()) == 0


def test_grid_points_are_the_cartesian_product_in_order() -> None:
    names, points = grid_points(["a=1,2,3", "b=x,y"])
    assert names == ["a", "b"] and len(points) == 6 and points[1] == {"a": "1", "b": "y"}
