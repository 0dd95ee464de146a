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
from genlib.dynamics import LYAPUNOV_REFERENCE
from genlib.dynamics.generation import free_run
from genlib.dynamics.lyapunov import rosenstein
from genlib.dynamics.reconstruction import power_spectrum_distance, state_space_divergence
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
    """Averaged over 16 starts each side (one chaotic trajectory's estimate depends on floating-point details), the
    same Rosenstein estimator on real and generated trajectories of 4,000 steps at dt = 0.01. Tolerance 25 %: this
    small network's ratio read 1.05-1.15 over reservoir seeds and thread counts (the full benchmark, 16 × 10,000
    steps of the default network, reads 1.00-1.02); a model that lost the chaos reads ~0 (a cycle) or ~12 (noise).
    And Benettin's method on the network's own equations gives the real exponent (0.906) within the same margin."""
    from genlib.data.lorenz import lorenz_trajectories

    esn.model.rng.manual_seed(11)
    gen = esn.transform.inverse(esn.model.generate_trajectories(16, 4000).numpy().reshape(-1, 3)).reshape(16, 4000, 3)
    real = lorenz_trajectories(16, 4000, dt=0.01, seed=99)
    lam_gen = np.mean([rosenstein(g, 0.01).exponent for g in gen])
    lam_real = np.mean([rosenstein(r, 0.01).exponent for r in real])
    assert abs(lam_gen / lam_real - 1) < 0.25, (lam_gen, lam_real)
    own = esn.model.largest_exponent_per_step(n_starts=4, steps=3000, transient=300) / 0.01
    assert abs(own / LYAPUNOV_REFERENCE - 1) < 0.25, own


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


# --- the second sequence model: a neural step map trained on rollouts ------------------------------------------
@pytest.fixture(scope="module")
def coarse():
    """dt = 0.1, the time step where the echo state network's free run collapses onto a cycle."""
    return load_dataset("lorenz_series", dt=0.1)


@pytest.fixture(scope="module")
def neural_map(coarse) -> tuple[FittedModel, list[Progress]]:
    spec = TrainSpec(model="neural_map", dataset=coarse, steps=1500, device="cpu", eval_period_s=None)
    fitted = build(spec, torch.device("cpu"))
    reports: list[Progress] = []
    train(spec, fitted, reports.append, lambda: False)
    return fitted, reports


def test_neural_map_loss_falls_and_its_free_run_stays_on_the_attractor(neural_map, coarse) -> None:
    fitted, reports = neural_map
    losses = [r.losses["loss"] for r in reports if r.losses]
    assert np.mean(losses[-50:]) < 0.05 * np.mean(losses[:10]), (losses[:10], losses[-50:])
    fitted.model.rng.manual_seed(1)
    states = free_run(fitted, 8, 2000, seed=1)
    assert np.all(np.isfinite(states))
    lo, hi = coarse.train.min(0), coarse.train.max(0)
    span = hi - lo
    assert np.all(states.min((0, 1)) > lo - 0.25 * span) and np.all(states.max((0, 1)) < hi + 0.25 * span)
    assert states[..., 2].std() > 0.5 * coarse.train[:, 2].std()        # not a fixed point or a small cycle


def test_neural_map_keeps_the_chaos_at_dt_0_1(neural_map) -> None:
    """Rosenstein on 16 generated and 16 real trajectories of 1,000 steps at dt = 0.1: within 25 % (a cycle reads
    ~0, noise ~10); and the state-space divergence stays below 1 nat: this short training reads ~0.6 against a
    real-vs-real floor of ~0.04, the echo state network at this dt ~8 (its free run is a cycle)."""
    from genlib.data.lorenz import lorenz_trajectories

    fitted, _ = neural_map
    gen = free_run(fitted, 16, 1000, seed=11)
    real = lorenz_trajectories(16, 1000, dt=0.1, seed=99)
    other = lorenz_trajectories(16, 1000, dt=0.1, seed=98)
    lam_gen = np.mean([rosenstein(g, 0.1).exponent for g in gen])
    lam_real = np.mean([rosenstein(r, 0.1).exponent for r in real])
    assert abs(lam_gen / lam_real - 1) < 0.25, (lam_gen, lam_real)
    floor = state_space_divergence(real, other)
    assert state_space_divergence(real, gen) < 1.0, (state_space_divergence(real, gen), floor)


def test_neural_map_round_trips_and_has_its_own_exponent(neural_map, tmp_path: Path) -> None:
    fitted, _ = neural_map
    back = FittedModel.load(fitted.save(tmp_path / "map.pt"), torch.device("cpu"))
    np.testing.assert_allclose(free_run(fitted, 2, 50, seed=5), free_run(back, 2, 50, seed=5), rtol=1e-6)
    own = fitted.model.largest_exponent_per_step(n_starts=4, steps=2000, transient=200) / 0.1
    assert 0.2 < own < 2.0, own   # positive and of Lorenz's order (a cycle gives ≤ 0; the benchmark reports it)


# --- the reconstruction measures -------------------------------------------------------------------------------
def test_reconstruction_measures_separate_the_attractor_from_look_alikes() -> None:
    """Identical sets score 0; two real sets score little (the floor); a set with the right marginals but no
    dynamics (states shuffled in time) keeps D_stsp near the floor but not D_H, and a periodic orbit fails both."""
    from genlib.data.lorenz import lorenz_trajectories

    a = lorenz_trajectories(8, 2000, dt=0.02, seed=1)
    b = lorenz_trajectories(8, 2000, dt=0.02, seed=2)
    rng = np.random.default_rng(0)
    shuffled = b.reshape(-1, 3)[rng.permutation(b.shape[0] * b.shape[1])].reshape(b.shape)
    t = np.arange(2000) * 0.02
    cycle = np.stack([np.stack([8 * np.sin(1.3 * t + k), 8 * np.cos(1.3 * t + k), 24 + 5 * np.sin(2.6 * t)], 1)
                      for k in range(8)])
    assert state_space_divergence(a, a) == pytest.approx(0, abs=1e-12)
    assert power_spectrum_distance(a, a) == pytest.approx(0, abs=1e-6)
    stsp_floor, psd_floor = state_space_divergence(a, b), power_spectrum_distance(a, b)
    assert state_space_divergence(a, shuffled) < 2 * stsp_floor
    assert power_spectrum_distance(a, shuffled) > 5 * psd_floor
    assert state_space_divergence(a, cycle) > 10 * stsp_floor and power_spectrum_distance(a, cycle) > 5 * psd_floor
    nan = b.copy()
    nan[0, 5] = np.nan
    assert state_space_divergence(a, nan) == np.inf and power_spectrum_distance(a, nan) == 1.0
