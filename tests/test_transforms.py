"""Invertible preprocessing: round trips, positivity, train-only fitting, JSON state, "auto" choice."""
from __future__ import annotations

import json

import numpy as np
import pytest

from genlib.transforms import (
    Chain,
    Identity,
    Log1p,
    RankGauss,
    Standardize,
    Transform,
    auto_kind,
    make_transform,
    transform_from_state,
)

KINDS = ["none", "standardize", "log1p+standardize", "rankgauss"]


def heavy_positive(n: int = 600, d: int = 3, seed: int = 0) -> np.ndarray:
    """|student-t(df=2)| columns with different scales: positive, heavy right tail."""
    rng = np.random.default_rng(seed)
    return np.abs(rng.standard_t(df=2, size=(n, d))) * np.array([1.0, 10.0, 0.1])[:d]


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_heavy_tailed(kind: str) -> None:
    x = heavy_positive()
    t = make_transform(kind, x)
    z = t.forward(x)
    assert z.shape == x.shape and z.dtype == np.float64
    assert np.all(np.isfinite(z))
    np.testing.assert_allclose(t.inverse(z), x, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_on_unseen_data_including_beyond_training_range(kind: str) -> None:
    x = heavy_positive(seed=1)
    t = make_transform(kind, x)
    test = heavy_positive(n=300, seed=2) * 3.0  # many values beyond the training max
    np.testing.assert_allclose(t.inverse(t.forward(test)), test, rtol=1e-8, atol=1e-8)


def test_log1p_standardize_inverse_of_any_z_is_non_negative() -> None:
    t = make_transform("log1p+standardize", heavy_positive())
    z = np.random.default_rng(3).normal(scale=3.0, size=(2000, 3))
    z[0] = -50.0
    z[1] = 1e6  # a diverging model must still give finite values
    x = t.inverse(z)
    assert np.all(x >= 0)
    assert np.all(np.isfinite(x))


def test_rankgauss_forward_of_train_is_standard_normal() -> None:
    x = heavy_positive(n=1000)
    z = RankGauss().fit(x).forward(x)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-2)
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=3e-2)
    assert np.all(np.isfinite(z))


def test_rankgauss_subsamples_quantiles_and_still_round_trips() -> None:
    x = heavy_positive(n=5000, d=2)
    t = RankGauss().fit(x)
    assert t.quantiles is not None and t.quantiles.shape == (2000, 2)
    z = t.forward(x)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-2)
    np.testing.assert_allclose(t.inverse(z), x, rtol=1e-9, atol=1e-9)


def test_rankgauss_tied_minimum_is_a_clipped_atom() -> None:
    """Zero-inflated column: z below the atom's plotting positions must map back to exactly 0."""
    rng = np.random.default_rng(4)
    x = rng.exponential(size=(400, 1))
    x[:120] = 0.0
    t = RankGauss().fit(x)
    x_back = t.inverse(np.array([[-10.0], [-3.0], [0.0], [10.0]]))
    assert x_back[0, 0] == 0.0 and x_back[1, 0] == 0.0
    assert x_back[2, 0] > 0.0 and np.isfinite(x_back[3, 0])


def test_rankgauss_tied_maximum_stays_bounded_past_the_training_range() -> None:
    """Pixel-like data: a value past a tied top quantile must not be sent to z ~ 1e12 by a rounding-error slope.

    Regression: on scikit-learn's digits, np.quantile left 16 - 16 = 1e-13 between tied top quantiles, the
    'slope' of the upper tail; a test pixel of 16 where training had mostly 0..15 then got z ~ 1e12 and the
    held-out log-likelihood came out as -1.6e22 nats/dim."""
    from genlib.data import load_dataset

    digits = load_dataset("digits")
    t = RankGauss().fit(digits.train)
    z = t.forward(digits.test)
    assert np.abs(z).max() < 6.0
    slope_lo, slope_hi = t._tails()[2:]
    assert np.all((slope_hi == 0) | (slope_hi > 1e-6)) and np.all((slope_lo == 0) | (slope_lo > 1e-6))


@pytest.mark.parametrize("kind", ["standardize", "log1p+standardize", "rankgauss"])
def test_fit_on_train_only(kind: str) -> None:
    """Applied to a shifted test split, the transform uses train statistics (no re-centering)."""
    train = heavy_positive(seed=5)
    test = heavy_positive(n=300, seed=6) + 2.0
    t = make_transform(kind, train)
    z_test = t.forward(test)
    assert np.all(z_test.mean(axis=0) > 0.1)  # would be ~0 if it had been refitted on test
    z_train = t.forward(train)
    np.testing.assert_allclose(z_train.mean(axis=0), 0.0, atol=1e-2 if kind == "rankgauss" else 1e-10)


def test_standardize_uses_population_statistics_and_floors_std() -> None:
    x = np.array([[1.0, 5.0], [3.0, 5.0]])
    t = Standardize().fit(x)
    np.testing.assert_allclose(t.forward(x), [[-1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(t.inverse(t.forward(x)), x)


@pytest.mark.parametrize("kind", KINDS)
def test_state_round_trip_through_json(kind: str) -> None:
    x = heavy_positive(seed=7)
    t = make_transform(kind, x)
    state = json.loads(json.dumps(t.state_dict()))
    t2 = transform_from_state(state)
    assert t2.kind == t.kind
    probe = heavy_positive(n=200, seed=8) * 2.0
    z = np.random.default_rng(9).normal(scale=2.0, size=(200, 3))
    np.testing.assert_array_equal(t2.forward(probe), t.forward(probe))
    np.testing.assert_array_equal(t2.inverse(z), t.inverse(z))


def test_auto_picks_rankgauss_for_positive_heavy_tails_and_standardize_for_gaussian() -> None:
    assert auto_kind(heavy_positive()) == "rankgauss"
    t = make_transform("auto", heavy_positive())
    assert t.kind == "rankgauss"
    z = np.linspace(-12, 12, 97)[:, None].repeat(heavy_positive().shape[1], 1)
    assert np.all(t.inverse(z) > 0), "positive data must give positive samples, even far in the lower tail"
    gauss = np.random.default_rng(10).normal(loc=5.0, size=(500, 3))
    assert make_transform("auto", gauss).kind == "standardize"
    # heavy tailed but with negative values: log1p is not applicable
    signed = np.random.default_rng(11).standard_t(df=2, size=(500, 2))
    assert make_transform("auto", signed).kind == "standardize"


def test_log1p_fit_on_negative_data_raises() -> None:
    x = np.array([[1.0, 2.0], [-0.5, 3.0]])
    with pytest.raises(ValueError, match="non-negative"):
        Log1p().fit(x)
    with pytest.raises(ValueError):
        make_transform("log1p+standardize", x)


def test_unknown_kind_and_wrong_width_raise() -> None:
    x = heavy_positive()
    with pytest.raises(ValueError, match="Unknown transform kind"):
        make_transform("boxcox", x)
    t = make_transform("standardize", x)
    with pytest.raises(ValueError, match="columns"):
        t.forward(x[:, :2])


def test_one_dimensional_input_keeps_its_shape_and_protocol() -> None:
    x = heavy_positive(d=1)[:, 0]
    for t in (Identity(), Standardize(), Log1p(), RankGauss(), Chain([Log1p(), Standardize()])):
        assert isinstance(t, Transform)
        t.fit(x)
        z = t.forward(x)
        assert z.shape == x.shape
        np.testing.assert_allclose(t.inverse(z), x, rtol=1e-9, atol=1e-9)


def test_every_transform_kind_is_described_once_and_log_axes_follow_the_data() -> None:
    from genlib.data import load_dataset
    from genlib.figures.style import prefers_log_axes
    from genlib.transforms import TRANSFORM_KINDS, TRANSFORMS, make_transform
    assert TRANSFORM_KINDS == tuple(TRANSFORMS) and TRANSFORM_KINDS[0] == "auto"
    rows = np.abs(np.random.default_rng(0).standard_t(3, size=(200, 2)))
    for kind, info in TRANSFORMS.items():
        assert info.help and info.latex
        make_transform(kind, rows)  # every described kind is one make_transform accepts
    # heavy right tails → log axes (finance, or any such upload); symmetric data and images → linear
    assert prefers_log_axes(load_dataset("finance"))
    assert not prefers_log_axes(load_dataset("toy2d"))
    assert not prefers_log_axes(load_dataset("digits"))
