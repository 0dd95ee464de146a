"""One parametrised test over every registered model (zuko style): the protocol holds for all of them.

Each model trains briefly through the same loop the engine uses, on data it can take (finance for tabular
models, digits for image and conditional ones), and must: stay finite, sample the right shape in data units,
reproduce samples for a seed after a save/load round trip, and (tabular) keep the finance data's positivity
and heavy tails.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from genlib.data import load_dataset
from genlib.models import REGISTRY, Capability, CheckpointError, FittedModel, capability_table
from genlib.train.loop import Progress, TrainSpec, build, train

ALL_MODELS = sorted(REGISTRY)
TABULAR = [n for n in ALL_MODELS
           if not REGISTRY[n].needs_images and not REGISTRY[n].needs_labels and not REGISTRY[n].needs_series]
QUICK_STEPS = 30


def _dataset_for(name: str):
    cls = REGISTRY[name]
    if cls.needs_series:   # sequence models learn from whole trajectories in time order
        return load_dataset("lorenz_series", T=30.0, n_traj=2, n_test=1)
    return load_dataset("digits") if (cls.needs_images or cls.needs_labels) else load_dataset("finance")


def _train(name: str, steps: int, seed: int = 0, dataset=None) -> FittedModel:
    ds = dataset if dataset is not None else _dataset_for(name)
    spec = TrainSpec(model=name, dataset=ds, steps=steps, seed=seed, device="cpu", eval_period_s=None)
    fitted = build(spec, torch.device("cpu"))
    losses: list[dict[str, float]] = []

    def report(p: Progress) -> None:
        if p.losses:
            losses.append(p.losses)

    train(spec, fitted, report, lambda: False)  # raises NonFiniteLossError on NaN/inf
    assert losses, "train reported no losses"
    assert all(np.isfinite(v) for step in losses for v in step.values())
    return fitted


def _labels(fitted: FittedModel, n: int) -> np.ndarray | None:
    return (np.arange(n) % fitted.model.n_classes) if fitted.model.n_classes and \
        fitted.model.has(Capability.CONDITION) else None


@pytest.mark.parametrize("name", ALL_MODELS)
def test_model_trains_samples_and_round_trips(name: str, tmp_path: Path) -> None:
    ds = _dataset_for(name)
    fitted = _train(name, QUICK_STEPS, dataset=ds)
    n = 64
    labels = _labels(fitted, n)
    x = fitted.sample(n, seed=7, labels=labels)
    assert x.shape == (n, ds.n_features)
    assert np.all(np.isfinite(x))
    # same seed → same rows; other seed → other rows
    np.testing.assert_array_equal(x, fitted.sample(n, seed=7, labels=labels))
    assert not np.array_equal(x, fitted.sample(n, seed=8, labels=labels))
    # save / load gives identical samples for a seed
    path = fitted.save(tmp_path / "model.pt")
    loaded = FittedModel.load(path)
    np.testing.assert_allclose(loaded.sample(n, seed=7, labels=labels), x, rtol=1e-6, atol=1e-6)
    if fitted.model.has(Capability.LOG_PROB):
        lp = fitted.model.log_prob(fitted.to_model_space(ds.test[:50]))
        assert lp.shape == (50,) and torch.all(torch.isfinite(lp))
        lp2 = loaded.model.log_prob(loaded.to_model_space(ds.test[:50]))
        torch.testing.assert_close(lp, lp2)


@pytest.mark.parametrize("name", TABULAR)
def test_samples_stay_positive_and_cover_the_finance_tails(name: str) -> None:
    """Heavy tails handled: positive data give positive samples that reach beyond the bulk."""
    ds = load_dataset("finance")
    cls = REGISTRY[name]
    fitted = _train(name, min(cls.default_steps, 400), dataset=ds)
    x = fitted.sample(2000, seed=3)
    assert np.all(x >= 0), f"{name} produced negative values for positive data"
    q90 = np.quantile(ds.train, 0.90, axis=0)
    share_above = (x > q90).mean(axis=0)
    # the data put 10% above their own 90th percentile; a model that only learned the bulk puts ~0% there
    assert np.all(share_above > 0.02), f"{name}: share of samples above the train q90 per column {share_above}"
    q50 = np.quantile(ds.train, 0.5, axis=0)
    assert np.all(np.max(x, axis=0) > 5 * q50), f"{name}: no extreme values (max {x.max(axis=0)}, median {q50})"


def test_capability_table_lists_every_model_honestly() -> None:
    rows = {r["model"]: r for r in capability_table()}
    assert set(rows) == set(ALL_MODELS)
    for name, row in rows.items():
        caps = REGISTRY[name].capabilities
        assert row["sample"] == (Capability.SAMPLE in caps)
        assert row["exact log-likelihood"] == (Capability.LOG_PROB in caps)
        assert row["conditional"] == (Capability.CONDITION in caps)
    # the seed-003 table: VAEs and GANs have no exact likelihood, flows do
    assert not any(rows[n]["exact log-likelihood"] for n in rows if REGISTRY[n].family in ("VAE", "GAN"))
    assert all(rows[n]["exact log-likelihood"] for n in rows if REGISTRY[n].family == "Flow")


@pytest.mark.parametrize("name", ALL_MODELS)
def test_every_model_explains_itself(name: str) -> None:
    cls = REGISTRY[name]
    assert cls.formula and cls.summary and cls.label, f"{name} needs a formula, a summary and a label for the UI"
    for f in __import__("dataclasses").fields(cls.Config):
        assert f.metadata.get("help"), f"{name}.{f.name} has no help text for its widget"


def test_truncated_checkpoint_is_refused(tmp_path: Path) -> None:
    fitted = _train("gmm", 1)
    path = fitted.save(tmp_path / "m.pt")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError):
        FittedModel.load(path)
