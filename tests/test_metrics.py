"""GenHack fidelity metrics: hand-computed cases, statistical properties, registry and helpers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from genlib.metrics import (
    METRICS,
    anderson_darling,
    anderson_darling_per_column,
    evaluate,
    kendall_error,
    kendall_pseudo_observations,
    oracle_floor,
)


def correlated_gaussian(n: int, seed: int, rho: float = 0.8, d: int = 3) -> np.ndarray:
    cov = np.full((d, d), rho) + (1.0 - rho) * np.eye(d)
    return np.random.default_rng(seed).multivariate_normal(np.zeros(d), cov, size=n)


# ----------------------------------------------------------------------------- hand-computed cases


def test_anderson_darling_by_hand() -> None:
    real = [1.0, 2.0, 3.0, 4.0]
    fake = [1.5, 2.5, 3.5, 4.5]
    # m = 4 real rows; #{real <= fake_(i)} = 1, 2, 3, 4  ->  u_i = (count + 1) / (m + 2) = 2/6 .. 5/6
    u = [2 / 6, 3 / 6, 4 / 6, 5 / 6]
    n = 4
    # W = -n - (1/n) sum_i (2i - 1) [log u_i + log(1 - u_{n+1-i})]
    s = (
        1 * (math.log(2 / 6) + math.log(1 - 5 / 6))
        + 3 * (math.log(3 / 6) + math.log(1 - 4 / 6))
        + 5 * (math.log(4 / 6) + math.log(1 - 3 / 6))
        + 7 * (math.log(5 / 6) + math.log(1 - 2 / 6))
    )
    # terms: -2.89037, -5.37528, -5.49306, -4.11451  ->  s = -17.87322,  W = -4 + 17.87322 / 4 = 0.46830
    expected = -n - s / n
    assert s == pytest.approx(-2.89037 - 5.37528 - 5.49306 - 4.11451, abs=1e-4)
    assert expected == pytest.approx(0.46830, abs=1e-5)
    assert u[0] == pytest.approx(1 / 3)
    assert anderson_darling(real, fake) == pytest.approx(expected, rel=1e-12)
    # 2-D input: the overall value is the mean of the per-column values
    real2 = np.column_stack([real, real])
    fake2 = np.column_stack([fake, real])  # second column identical: counts 1..4 -> u = 2/6..5/6 too
    per_col = anderson_darling_per_column(real2, fake2)
    assert per_col.shape == (2,)
    assert per_col[0] == pytest.approx(expected, rel=1e-12)
    assert anderson_darling(real2, fake2) == pytest.approx(per_col.mean(), rel=1e-12)


def test_anderson_darling_ties_count_as_less_or_equal() -> None:
    # fake all equal to the real max: count = m for every i -> u_i = (m + 1) / (m + 2) = 4/5
    real, fake = [1.0, 2.0, 3.0], [3.0, 3.0, 3.0]
    n = 3
    s = (1 + 3 + 5) * (math.log(4 / 5) + math.log(1 / 5))
    assert anderson_darling(real, fake) == pytest.approx(-n - s / n, rel=1e-12)


def test_kendall_error_by_hand() -> None:
    real = np.array([[0, 0], [1, 2], [2, 1], [3, 3]], dtype=float)
    # #{j: X_j < X_i in both coords}: (0,0) -> 0; (1,2) -> 1 [(0,0)]; (2,1) -> 1 [(0,0)];
    # (3,3) -> 3 [all]. Divide by n - 1 = 3 and sort: R = [0, 1/3, 1/3, 1].
    fake = np.array([[0, 1], [1, 0], [2, 3], [3, 2]], dtype=float)
    # (0,1) -> 0; (1,0) -> 0; (2,3) -> 2 [(0,1), (1,0)]; (3,2) -> 2 [(0,1), (1,0)]  ->  [0, 0, 2/3, 2/3]
    np.testing.assert_allclose(kendall_pseudo_observations(real), [0, 1 / 3, 1 / 3, 1])
    np.testing.assert_allclose(kendall_pseudo_observations(fake), [0, 0, 2 / 3, 2 / 3])
    # (1/n) sum |R_(i) - R~_(i)| = (0 + 1/3 + 1/3 + 1/3) / 4 = 0.25
    assert kendall_error(real, fake) == pytest.approx(0.25, abs=1e-12)
    assert kendall_error(fake, real) == pytest.approx(0.25, abs=1e-12)


def test_kendall_comparison_is_strict() -> None:
    # (0,0) is NOT below (0,1): the first coordinates tie, and the comparison is strict.
    # (1,2) has both (0,0) and (0,1) strictly below it -> 2 / (n - 1) = 1.
    x = np.array([[0, 0], [0, 1], [1, 2]], dtype=float)
    np.testing.assert_allclose(kendall_pseudo_observations(x), [0, 0, 1.0])


def test_comonotone_vs_countermonotone_is_half() -> None:
    real = np.array([[0, 0], [1, 1], [2, 2]], dtype=float)  # R = [0, 1/2, 1]
    fake = np.array([[0, 2], [1, 1], [2, 0]], dtype=float)  # R = [0, 0, 0]
    assert kendall_error(real, fake) == pytest.approx((0 + 0.5 + 1) / 3)


# ----------------------------------------------------------------------------- properties


def test_identical_samples_have_zero_kendall_error() -> None:
    x = correlated_gaussian(300, seed=0)
    assert kendall_error(x, x) == 0.0
    assert kendall_error(x, x[::-1].copy()) == 0.0  # row order is irrelevant


def test_anderson_darling_small_for_same_distribution() -> None:
    # Under "same distribution" with n = m, E[W] is about 2 with a long right tail (sd ~1.3 per draw),
    # so we average 8 fixed seeds and allow 3.5 (mean + ~3 standard errors); a 0.5-sd shift gives ~90.
    values = [
        anderson_darling(
            np.random.default_rng(seed).normal(size=(500, 1)),
            np.random.default_rng(1000 + seed).normal(size=(500, 1)),
        )
        for seed in range(8)
    ]
    assert np.mean(values) < 3.5


def test_anderson_darling_grows_with_shift() -> None:
    rng = np.random.default_rng(1)
    real = rng.normal(size=(500, 2))
    base = rng.normal(size=(500, 2))
    values = [anderson_darling(real, base + shift) for shift in (0.0, 0.5, 1.0, 2.0)]
    assert values == sorted(values) and len(set(values)) == 4
    assert values[0] < 5 < 20 < values[1]


def test_kendall_error_grows_when_dependence_is_destroyed() -> None:
    real = correlated_gaussian(500, seed=2)
    same = correlated_gaussian(500, seed=3)
    rng = np.random.default_rng(4)
    independent = np.column_stack([rng.permutation(same[:, j]) for j in range(same.shape[1])])
    e_same, e_indep = kendall_error(real, same), kendall_error(real, independent)
    assert e_same < 0.05
    assert e_indep > 3 * e_same and e_indep > 0.1


def test_metrics_invariant_to_increasing_transforms() -> None:
    real = correlated_gaussian(200, seed=5)
    fake = correlated_gaussian(200, seed=6, rho=0.3) + 0.3

    def g(x: np.ndarray) -> np.ndarray:
        return np.exp(x) + x**3  # strictly increasing

    assert anderson_darling(g(real), g(fake)) == pytest.approx(anderson_darling(real, fake), rel=1e-12)
    assert kendall_error(g(real), g(fake)) == pytest.approx(kendall_error(real, fake), abs=1e-15)


def test_different_sizes_work() -> None:
    real = correlated_gaussian(144, seed=7)
    fake = correlated_gaussian(576, seed=8)
    ad, ke = anderson_darling(real, fake), kendall_error(real, fake)
    assert np.isfinite(ad) and 0.0 <= ke <= 1.0
    assert kendall_error(real, fake) == ke  # fixed RNG: reproducible subsample
    assert 0.0 <= kendall_error(fake, real) <= 1.0


def test_one_dimensional_inputs() -> None:
    a = np.random.default_rng(9).normal(size=100)
    b = np.random.default_rng(10).normal(size=100)
    assert np.isfinite(anderson_darling(a, b))
    assert kendall_error(a, b) == 0.0  # one column has no dependence structure


def _brute_force_pseudo_observations(x: np.ndarray) -> np.ndarray:
    """R_i = #{j != i : X_j < X_i in every coordinate} / (n - 1), counted pair by pair in plain Python."""
    n = len(x)
    counts = [sum(1 for j in range(n) if j != i and all(x[j, k] < x[i, k] for k in range(x.shape[1])))
              for i in range(n)]
    return np.sort(np.array(counts) / (n - 1.0))


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_kendall_pseudo_observations_match_a_brute_force_count_with_ties(d: int) -> None:
    import genlib.metrics.fidelity as fid

    # integers in 0..3: many ties, so "strictly below in every coordinate" is tested where it matters
    x = np.random.default_rng(d).integers(0, 4, size=(90, d)).astype(float)
    want = _brute_force_pseudo_observations(x)
    np.testing.assert_array_equal(kendall_pseudo_observations(x), want)
    np.testing.assert_array_equal(kendall_pseudo_observations(x[::-1]), want)  # row order does not matter
    old = fid._KENDALL_MAX_ELEMS
    try:
        for rows in (1, 7, 89):  # chunks of 1 row, of 7 (last one partial), one chunk short of n
            fid._KENDALL_MAX_ELEMS = rows * 90
            np.testing.assert_array_equal(kendall_pseudo_observations(x), want)
    finally:
        fid._KENDALL_MAX_ELEMS = old


def test_kendall_chunks_match_a_direct_computation() -> None:
    import genlib.metrics.fidelity as fid

    x = correlated_gaussian(120, seed=11)
    direct = np.sort(np.all(x[None, :, :] < x[:, None, :], axis=2).sum(axis=1) / (len(x) - 1))
    np.testing.assert_array_equal(kendall_pseudo_observations(x), direct)
    old = fid._KENDALL_MAX_ELEMS
    try:
        fid._KENDALL_MAX_ELEMS = 7 * 120  # chunks of 7 rows, last one partial
        np.testing.assert_array_equal(kendall_pseudo_observations(x), direct)
    finally:
        fid._KENDALL_MAX_ELEMS = old


def test_mismatched_columns_raise() -> None:
    with pytest.raises(ValueError, match="columns"):
        anderson_darling(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError):
        kendall_error(np.zeros((5, 2)), np.full((5, 2), np.nan))


# ----------------------------------------------------------------------------- helpers and registry


def test_oracle_floor_returns_both_keys_finite() -> None:
    train, test = correlated_gaussian(576, seed=12), correlated_gaussian(144, seed=13)
    floor = oracle_floor(test, train)
    assert set(floor) == {"anderson_darling", "kendall_error"}
    assert all(np.isfinite(v) for v in floor.values())
    assert floor == oracle_floor(test, train)  # reproducible
    assert set(oracle_floor(test, train, metrics=("kendall_error",))) == {"kendall_error"}
    with pytest.raises(KeyError):
        oracle_floor(test, train, metrics=("nope",))


def test_evaluate_returns_both_keys() -> None:
    real, fake = correlated_gaussian(100, seed=14), correlated_gaussian(100, seed=15)
    out = evaluate(real, fake)
    assert {"anderson_darling", "kendall_error", "anderson_darling_per_column"} <= set(out)
    assert isinstance(out["anderson_darling_per_column"], list) and len(out["anderson_darling_per_column"]) == 3
    assert out["anderson_darling"] == pytest.approx(anderson_darling(real, fake))
    assert out["kendall_error"] == kendall_error(real, fake)


def test_registry() -> None:
    assert set(METRICS) >= {"anderson_darling", "kendall_error"}
    for name, info in METRICS.items():
        assert info.name == name and info.lower_is_better
        assert info.latex and info.description and callable(info.fn)
