"""Tests for genlib.data: built-in datasets, parameter handling, and CSV validation messages."""
from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from genlib.data import (
    DATASETS,
    DataError,
    Dataset,
    DatasetInfo,
    list_datasets,
    load_any,
    load_csv,
    load_dataset,
)
from genlib.data.toy2d import SHAPES
from genlib.systems.lorenz import lorenz_ivp, simulate_lorenz

# Small lorenz settings keep the suite fast where the attractor itself is not under test.
FAST = {"lorenz": {"T": 5.0, "n_traj": 2}, "lorenz_series": {"T": 10.0, "n_traj": 4, "n_test": 1}}


@pytest.fixture(scope="module")
def finance() -> Dataset:
    return load_dataset("finance")


@pytest.fixture(scope="module")
def lorenz() -> Dataset:
    return load_dataset("lorenz")


# ---------------------------------------------------------------- registry


def test_registry_lists_all_builtins() -> None:
    infos = list_datasets()
    assert [i.name for i in infos] == list(DATASETS)
    assert {"finance", "toy2d", "digits", "lorenz"} <= set(DATASETS)
    for info in infos:
        assert isinstance(info, DatasetInfo)
        assert info.description
        assert "seed" in {p.name for p in info.params}


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_dataset_loads_with_consistent_shapes(name: str) -> None:
    ds = load_dataset(name, **FAST.get(name, {}))
    assert isinstance(ds, Dataset)
    assert ds.name == name
    assert ds.train.dtype == np.float64 and ds.test.dtype == np.float64
    assert ds.train.ndim == 2 and ds.test.ndim == 2
    assert ds.train.shape[1] == ds.test.shape[1] == len(ds.columns) == ds.n_features
    assert len(set(ds.columns)) == len(ds.columns)
    assert np.isfinite(ds.train).all() and np.isfinite(ds.test).all()
    total = len(ds.train) + len(ds.test)
    assert abs(len(ds.test) / total - 0.2) < 0.01
    # every parameter default is recorded, so a run can be reproduced from ds.params
    assert set(ds.params) == {p.name for p in DATASETS[name].params}


@pytest.mark.parametrize("name", list(DATASETS))
def test_same_seed_same_data_different_seed_different_data(name: str) -> None:
    extra = FAST.get(name, {})
    a = load_dataset(name, seed=1, **extra)
    b = load_dataset(name, seed=1, **extra)
    c = load_dataset(name, seed=2, **extra)
    np.testing.assert_array_equal(a.train, b.train)
    np.testing.assert_array_equal(a.test, b.test)
    assert a.train.shape == c.train.shape
    assert not np.array_equal(a.train, c.train)


def test_unknown_dataset_names_the_valid_ones() -> None:
    with pytest.raises(DataError, match="Unknown dataset 'nope'") as err:
        load_dataset("nope")
    for name in DATASETS:
        assert name in str(err.value)


def test_unknown_param_is_named_with_the_valid_ones() -> None:
    with pytest.raises(DataError, match="'colour'") as err:
        load_dataset("toy2d", colour="red")
    assert "shape" in str(err.value) and "noise" in str(err.value)


def test_string_params_are_coerced_like_cli_values() -> None:
    ds = load_dataset("toy2d", shape="ring", n="500", noise="0.1", seed="3")
    assert ds.params == {"shape": "ring", "n": 500, "noise": 0.1, "seed": 3}
    assert len(ds.train) + len(ds.test) == 500
    lz = load_dataset("lorenz", T="2", n_traj="1", dt="0.05")
    assert lz.params["T"] == 2.0 and lz.params["n_traj"] == 1


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"n": "many"}, ["'toy2d'", "n must be an integer"]),
        ({"n": "2.5"}, ["n must be an integer"]),
        ({"n": 5}, ["n must be between 10 and", "got 5"]),
        ({"noise": "inf"}, ["noise must be between"]),
        ({"shape": "triangle"}, ["shape must be one of", "moons", "checkerboard"]),
    ],
)
def test_bad_param_values_raise_data_error(params: dict, words: list[str]) -> None:
    with pytest.raises(DataError) as err:
        load_dataset("toy2d", **params)
    for w in words:
        assert w in str(err.value)


# ---------------------------------------------------------------- finance


def test_finance_shape_and_positivity(finance: Dataset) -> None:
    assert finance.columns == ["f1", "f2", "f3", "f4"]
    assert finance.train.shape == (576, 4) and finance.test.shape == (144, 4)
    assert finance.is_positive and (finance.test >= 0).all()


def test_finance_is_heavy_tailed(finance: Dataset) -> None:
    x = np.vstack([finance.train, finance.test])
    ratio = x.max(axis=0) / np.median(x, axis=0)
    assert (ratio > 20).all(), ratio
    assert (stats.kurtosis(x, axis=0) > 5).all()
    assert (np.median(x, axis=0) < 0.05).all()  # clustered near zero


def test_finance_f2_f3_most_dependent(finance: Dataset) -> None:
    x = np.vstack([finance.train, finance.test])
    tau = {(i, j): stats.kendalltau(x[:, i], x[:, j])[0] for i, j in itertools.combinations(range(4), 2)}
    best = max(tau, key=tau.get)
    assert best == (1, 2), tau
    assert tau[(1, 2)] > 0.5
    assert all(t < 0.4 for pair, t in tau.items() if pair != (1, 2))


def test_finance_tail_keeps_the_marginals_and_adds_joint_crashes() -> None:
    """finance_tail: finance's generalized-Pareto marginals exactly (KS against the exact law), but joint
    extremes are dependent in the upper tail (the crash side) and much less in the lower one, where finance's
    Gaussian copula has the same small value on both sides and GenLab's Gaussian-copula model, fitted to
    finance_tail, cannot reproduce the upper one."""
    import torch

    from genlib.data.finance import sample_finance, sample_finance_tail, tail_dependence
    from genlib.train.loop import TrainSpec, build, train

    rng = np.random.default_rng(0)
    gauss, tail = sample_finance(100_000, rng), sample_finance_tail(100_000, rng)
    from genlib.data.finance import SCALES, XI
    for j, s in enumerate(SCALES):   # each column is exactly s·GPD(ξ): KS distance near 0 (0.006 is p = 0.001 here)
        assert stats.kstest(tail[:, j] / s, stats.genpareto(XI).cdf).statistic < 0.01
    up, down = tail_dependence(tail, 0.99), tail_dependence(tail, 0.99, upper=False)
    g_up, g_down = tail_dependence(gauss, 0.99), tail_dependence(gauss, 0.99, upper=False)
    assert up > 1.5 * g_up and up > 1.5 * down, (up, g_up, down)       # joint crashes: more dependent
    assert abs(g_up - g_down) < 0.05, (g_up, g_down)                    # a Gaussian copula is symmetric
    ds = load_dataset("finance_tail")
    assert ds.train.shape == (576, 4) and ds.is_positive
    spec = TrainSpec(model="copula", dataset=ds, device="cpu", eval_period_s=None)
    fitted = build(spec, torch.device("cpu"))
    train(spec, fitted, lambda p: None, lambda: False)
    fitted_up = tail_dependence(fitted.sample(100_000, seed=1), 0.99)
    assert up > 1.5 * fitted_up, (up, fitted_up)


# ---------------------------------------------------------------- toy2d, digits, lorenz


@pytest.mark.parametrize("shape", SHAPES)
def test_toy2d_shapes_load_in_range(shape: str) -> None:
    ds = load_dataset("toy2d", shape=shape, n=1000)
    assert ds.columns == ["x", "y"]
    assert ds.train.shape == (800, 2) and ds.test.shape == (200, 2)
    x = np.vstack([ds.train, ds.test])
    assert np.abs(x).max() < 5
    assert x.std(axis=0).min() > 0.3  # a real 2-D spread, not a collapsed line


def test_digits_labels_and_images() -> None:
    ds = load_dataset("digits")
    assert len(ds.train) + len(ds.test) == 1797
    assert ds.columns == [f"p{i}" for i in range(64)]
    assert ds.image_shape == (8, 8)
    assert ds.labels_train is not None and ds.labels_test is not None
    assert ds.labels_train.dtype == np.int64 and ds.labels_test.dtype == np.int64
    assert len(ds.labels_train) == len(ds.train) and len(ds.labels_test) == len(ds.test)
    assert ds.n_classes == 10
    assert set(np.unique(ds.labels_test)) == set(range(10))
    assert ds.train.min() == 0 and ds.train.max() == 16
    # stratified: each class keeps roughly its share in the test split
    counts = np.bincount(ds.labels_test, minlength=10)
    assert counts.min() >= 34 and counts.max() <= 38


def test_lorenz_states_lie_on_the_attractor(lorenz: Dataset) -> None:
    assert lorenz.columns == ["x", "y", "z"]
    assert len(lorenz.train) + len(lorenz.test) == 4 * 5001
    z = np.concatenate([lorenz.train[:, 2], lorenz.test[:, 2]])
    assert np.mean((z > 0) & (z < 50)) > 0.99
    assert abs(z.mean() - 23.5) < 2
    xy = np.vstack([lorenz.train[:, :2], lorenz.test[:, :2]])
    assert np.abs(xy).max() < 30


def test_simulate_lorenz_helpers() -> None:
    d = lorenz_ivp(0.0, np.array([1.0, 2.0, 3.0]), 10.0, 28.0, 8 / 3)
    np.testing.assert_allclose(d, [10.0, 1.0 * 25.0 - 2.0, 2.0 - 8.0])
    path = simulate_lorenz([1.0, 1.0, 1.0], dt=0.01, T=1.0)
    assert path.shape == (101, 3)
    np.testing.assert_array_equal(path[0], [1.0, 1.0, 1.0])
    batch = simulate_lorenz(np.array([[1.0, 1.0, 1.0], [-1.0, 0.5, 20.0]]), dt=0.01, T=1.0)
    assert batch.shape == (2, 101, 3)
    np.testing.assert_allclose(batch[0], path, atol=1e-6)


def test_lorenz_refuses_huge_requests() -> None:
    with pytest.raises(DataError, match="states"):
        load_dataset("lorenz", dt=1e-4, T=1000, n_traj=100)


# ---------------------------------------------------------------- CSV


def _write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _table(n: int = 30, header: str = "a,b,c", row=lambda i: f"{i},{i * i % 7},{np.sin(i):.4f}") -> str:
    return header + "\n" + "\n".join(row(i) for i in range(n)) + "\n"


def test_good_csv_loads(tmp_path: Path) -> None:
    path = _write(tmp_path, _table(header=" a , b,c "), "prices.csv")
    ds = load_csv(path)
    assert ds.name == "prices"
    assert ds.columns == ["a", "b", "c"]
    assert ds.train.shape == (24, 3) and ds.test.shape == (6, 3)
    assert ds.train.dtype == np.float64
    assert "30 rows × 3 columns" in ds.description
    together = np.sort(np.vstack([ds.train, ds.test])[:, 0])
    np.testing.assert_array_equal(together, np.arange(30))
    np.testing.assert_array_equal(load_csv(path).train, ds.train)  # fixed seed


def test_csv_from_uploaded_file_object(tmp_path: Path) -> None:
    upload = io.BytesIO(_table().encode())
    upload.name = "upload.csv"  # like Streamlit's UploadedFile
    ds = load_csv(upload, name="mine")
    assert ds.name == "mine" and ds.train.shape == (24, 3)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (_table(header="a,city,b", row=lambda i: f"{i},town{i},{i % 3}"), ["non-numeric", "'city'"]),
        (_table(row=lambda i: f"{i},{'' if i == 4 else i},{i % 5}"), ["NaN", "'b'", "1 NaN"]),
        (_table(row=lambda i: f"{i},{i % 4},{'inf' if i in (2, 9) else i}"), ["inf", "'c'", "2 inf"]),
        (_table(n=3), ["3", "rows", "28"]),
        (_table(row=lambda i: f"{i},7,{i % 3}"), ["constant", "'b'"]),
        ("", ["empty"]),
        ("a,b\n", ["0", "rows"]),
        ("a,b\n1,2\n3,4,5\n" + "\n".join(f"{i},{i}" for i in range(20)), ["parsed", "line 3"]),
        ("\n".join(f"{i},{2 * i}" for i in range(20)), ["header"]),
    ],
    ids=["text", "nan", "inf", "3rows", "constant", "empty", "header-only", "ragged", "no-header"],
)
def test_bad_csv_raises_clear_data_error(tmp_path: Path, text: str, words: list[str]) -> None:
    with pytest.raises(DataError) as err:
        load_csv(_write(tmp_path, text))
    msg = str(err.value)
    for w in words:
        assert w in msg, msg
    assert "Traceback" not in msg and "\n" not in msg


def test_many_text_columns_are_capped_at_five(tmp_path: Path) -> None:
    header = ",".join(f"t{k}" for k in range(8))
    text = _table(header=header, row=lambda i: ",".join(f"w{i}{k}" for k in range(8)))
    with pytest.raises(DataError, match="and 3 more"):
        load_csv(_write(tmp_path, text))


def test_csv_too_large(tmp_path: Path) -> None:
    path = _write(tmp_path, _table())
    with pytest.raises(DataError, match="MB") as err:
        load_csv(path, max_bytes=100)
    assert "limit" in str(err.value)
    upload = io.BytesIO(_table().encode())
    with pytest.raises(DataError, match="limit"):
        load_csv(upload, max_bytes=100)


def test_binary_garbage_is_rejected(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "photo.csv"
    path.write_bytes(rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(DataError, match="binary|text"):
        load_csv(path)
    no_nul = (rng.integers(128, 256, 4000, dtype=np.uint8)).tobytes()
    path.write_bytes(no_nul)
    with pytest.raises(DataError):
        load_csv(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_csv(tmp_path / "nope.csv")


# ---------------------------------------------------------------- load_any


def test_load_any_by_name_and_by_csv_path(tmp_path: Path) -> None:
    assert load_any("toy2d", n="100").train.shape == (80, 2)
    path = _write(tmp_path, _table(), "table.csv")
    ds = load_any(str(path), seed="1")
    assert ds.columns == ["a", "b", "c"] and ds.params["seed"] == 1
    other = _write(tmp_path, _table(), "table.txt")  # existing file without .csv suffix
    assert load_any(str(other)).train.shape == (24, 3)


def test_load_any_unknown_spec(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="Unknown dataset"):
        load_any("nothing-like-this")
    with pytest.raises(DataError, match="not found"):
        load_any(str(tmp_path / "missing.csv"))
    with pytest.raises(DataError, match="'bogus'"):
        load_any(str(_write(tmp_path, _table())), bogus=1)
