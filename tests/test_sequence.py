"""Sequence generators (issue 20, point 1): the echo state network trained on whole Lorenz trajectories, run on its
own, and what the CLI does with it. Small budgets, but real fits and real free runs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from genlib.cli.main import main as cli
from genlib.data import load_dataset
from genlib.dynamics.lyapunov import rosenstein
from genlib.models import REGISTRY, Capability, FittedModel, ModelError, compatible_models
from genlib.train.loop import Progress, TrainSpec, build, train

SMALL = {"reservoir": 300}


def _fit(dataset, config=None, seed: int = 0) -> tuple[FittedModel, list[Progress]]:
    spec = TrainSpec(model="esn", dataset=dataset, config=config or SMALL, seed=seed, device="cpu",
                     eval_period_s=None)
    fitted = build(spec, torch.device("cpu"))
    reports: list[Progress] = []
    train(spec, fitted, reports.append, lambda: False)
    return fitted, reports


@pytest.fixture(scope="module")
def series():
    return load_dataset("lorenz_series", dt=0.01, T=60.0, n_traj=3, n_test=1)


@pytest.fixture(scope="module")
def esn(series) -> FittedModel:
    return _fit(series)[0]


def test_lorenz_series_keeps_whole_trajectories_in_time_order() -> None:
    ds = load_dataset("lorenz_series", dt=0.02, T=10.0, n_traj=2, n_test=1)
    assert ds.is_series and ds.columns == ["x", "y", "z"]
    assert list(np.bincount(ds.trajectory_train)) == [501, 501] and list(np.bincount(ds.trajectory_test)) == [501]
    step = np.linalg.norm(np.diff(ds.train[:501], axis=0), axis=1)     # consecutive rows are neighbours in time
    jump = np.linalg.norm(ds.train[501] - ds.train[500])                # the next trajectory starts elsewhere
    assert step.max() < 6.0 < 20.0 < jump                                   # (max speed ~290 units/time)
    assert not np.array_equal(ds.test[:5], ds.train[:5])                 # test trajectories are other trajectories


def test_esn_read_out_beats_persistence_by_far(series) -> None:
    """The loss is the one-step error relative to the size of a step: predicting "no change" scores 1."""
    fitted, reports = _fit(series)
    loss = reports[-1].losses["loss"]
    assert np.isfinite(loss) and loss < 0.01, loss
    assert reports[-1].metrics and reports[-1].metrics["precision"] > 0.8   # samples lie on the test attractor


def test_generated_trajectories_are_finite_bounded_and_reproducible(esn, series) -> None:
    model = esn.model
    assert model.has(Capability.SEQUENCE)
    model.rng.manual_seed(3)
    a = model.generate_trajectories(4, 3000).numpy()
    model.rng.manual_seed(3)
    b = model.generate_trajectories(4, 3000).numpy()
    np.testing.assert_array_equal(a, b)
    states = esn.transform.inverse(a.reshape(-1, 3))
    assert np.all(np.isfinite(states))
    lo, hi = series.train.min(0), series.train.max(0)
    span = hi - lo
    assert np.all(states.min(0) > lo - 0.25 * span) and np.all(states.max(0) < hi + 0.25 * span)
    assert states[:, 2].std() > 0.5 * series.train[:, 2].std()           # not collapsed onto a fixed point


def test_generated_trajectories_keep_the_largest_lyapunov_exponent(esn) -> None:
    """Averaged over 8 starts each side (one chaotic trajectory's estimate depends on floating-point details), the
    same Rosenstein estimator on real and generated trajectories of 4,000 steps at dt = 0.01. The tolerance, 15 %,
    is about three times the standard error of an 8-trajectory mean at this length (per-trajectory sd ~0.1)."""
    from genlib.data.lorenz import lorenz_trajectories

    esn.model.rng.manual_seed(11)
    gen = esn.transform.inverse(esn.model.generate_trajectories(8, 4000).numpy().reshape(-1, 3)).reshape(8, 4000, 3)
    real = lorenz_trajectories(8, 4000, dt=0.01, seed=99)
    lam_gen = np.mean([rosenstein(g, 0.01).exponent for g in gen])
    lam_real = np.mean([rosenstein(r, 0.01).exponent for r in real])
    assert abs(lam_gen / lam_real - 1) < 0.15, (lam_gen, lam_real)


def test_esn_round_trips_through_its_checkpoint(esn, tmp_path: Path) -> None:
    path = esn.save(tmp_path / "esn.pt")
    back = FittedModel.load(path, torch.device("cpu"))
    for m in (esn.model, back.model):
        m.rng.manual_seed(5)
    np.testing.assert_array_equal(esn.model.generate_trajectories(2, 50).numpy(),
                                  back.model.generate_trajectories(2, 50).numpy())


def test_sequence_models_need_time_series_and_are_offered_only_for_them() -> None:
    with pytest.raises(ModelError, match="lorenz_series"):
        _fit(load_dataset("lorenz", T=20.0, n_traj=1))
    assert "esn" not in compatible_models() and "esn" in compatible_models(series=True)
    assert REGISTRY["esn"].needs_series


def test_cli_lists_models_as_json_and_generates_trajectories_in_the_runs_dt(tmp_path: Path, monkeypatch,
                                                                            capsys) -> None:
    monkeypatch.setenv("GENLAB_HOME", str(tmp_path / "home"))
    assert cli(["models", "--json"]) == 0
    models = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert set(models) == set(REGISTRY) and "sequence" in models["esn"]["capabilities"]
    assert "sequence" not in models["vae"]["capabilities"]

    assert cli(["train", "--model", "esn", "--data", "lorenz_series", "--param", "dt=0.02", "--param", "T=40",
                "--param", "n_traj=2", "--param", "n_test=1", "--set", "reservoir=200", "--quiet"]) == 0
    from genlib.store import RunStore
    run = RunStore(tmp_path / "home").list()[0].id
    out = tmp_path / "traj.csv"
    assert cli(["lorenz", "generate", run, "--n", "3", "--steps", "200", "--out", str(out)]) == 0
    import pandas as pd
    table = pd.read_csv(out)
    assert list(table.columns) == ["traj", "t", "x", "y", "z"] and len(table) == 600
    assert sorted(table["traj"].unique()) == [0, 1, 2]
    assert np.allclose(table["t"].iloc[:3], [0.02, 0.04, 0.06])
    assert np.all(np.isfinite(table[["x", "y", "z"]].to_numpy()))

    assert cli(["train", "--model", "gaussian", "--data", "finance", "--quiet"]) == 0
    other = next(r.id for r in RunStore(tmp_path / "home").list() if r.id != run)
    assert cli(["lorenz", "generate", other, "--n", "1", "--steps", "5", "--out", str(tmp_path / "x.csv")]) != 0
    assert "does not generate trajectories" in capsys.readouterr().err
