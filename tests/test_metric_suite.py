"""The metric suite: each metric on a hand-computed case and at its known limits, the held-out
log-likelihood in data units, and the cached Reference (floor, consistency, caching, bad input)."""
from __future__ import annotations

import math
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.spatial.distance
import scipy.stats
import torch
from scipy.special import ndtri
from scipy.stats import multivariate_normal

from conftest import gaussian_dataset
from genlib.data import DataError, Dataset
from genlib.metrics import (
    SUITE,
    MetricInfo,
    classifier_auc,
    closest_record_distances,
    copy_fraction,
    correlation_distance,
    correlation_matrix,
    dcr_ratio,
    energy_distance,
    floor,
    held_out_log_likelihood,
    log_abs_det_jacobian,
    make_reference,
    mmd_rbf,
    per_column,
    prdc,
    reference_for,
    score_model,
    score_samples,
    sliced_wasserstein,
    wasserstein,
    wasserstein_per_column,
)
from genlib.metrics import suite as suite_mod
from genlib.metrics.suite import SAMPLE_METRICS
from genlib.metrics.two_sample import NearestRecord, knn_radii
from genlib.train.loop import TrainSpec, build, train
from genlib.transforms import Chain, Log1p, RankGauss, Standardize

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parents[1]


def correlated(n: int, d: int = 4, rho: float = 0.8, seed: int = 0, shift: float = 0.0) -> np.ndarray:
    cov = np.full((d, d), rho) + (1.0 - rho) * np.eye(d)
    return np.random.default_rng(seed).multivariate_normal(np.zeros(d), cov, size=n) + shift


# ----------------------------------------------------------------------------- distances: hand cases


def test_wasserstein_by_hand_is_w1_over_the_real_std() -> None:
    # W1([0, 1], [1, 2]) = 1 (a shift by 1); the real column's std (ddof 0) is 0.5 -> 1 / 0.5 = 2
    assert wasserstein([0.0, 1.0], [1.0, 2.0]) == pytest.approx(2.0)
    real = np.c_[[0.0, 1.0], [0.0, 10.0]]
    fake = np.c_[[1.0, 2.0], [10.0, 20.0]]
    # column 2: W1 = 10, std 5 -> 2 as well: the unit of each column cancels
    np.testing.assert_allclose(wasserstein_per_column(real, fake), [2.0, 2.0])
    # unequal sizes go through scipy: same definition
    r, f = np.random.default_rng(0).normal(size=(50, 1)), np.random.default_rng(1).normal(size=(70, 1))
    assert wasserstein(r, f) == pytest.approx(scipy.stats.wasserstein_distance(r[:, 0], f[:, 0]) / r.std())


def test_sliced_wasserstein_in_one_dimension_is_the_standardised_w1() -> None:
    real, fake = np.array([0.0, 2.0, 4.0]), np.array([1.0, 3.0, 9.0])
    # in 1-D every unit direction is +-1, so each slice is W1 of the standardised samples
    assert sliced_wasserstein(real, fake, n_projections=5) == pytest.approx(wasserstein(real, fake))
    x, y = correlated(300, seed=1), correlated(300, seed=2, shift=0.3)
    assert sliced_wasserstein(x, y, seed=3) == sliced_wasserstein(x, y, seed=3)  # deterministic for a seed
    # an explicit scale is used instead of the real sample's
    assert sliced_wasserstein(real, fake, n_projections=5, scale=(np.zeros(1), np.ones(1))) == pytest.approx(
        scipy.stats.wasserstein_distance(real, fake))


def test_mmd_by_hand_with_a_given_bandwidth_and_the_median_heuristic() -> None:
    real, fake = np.array([0.0, 2.0]), np.array([1.0, 3.0])  # real: mean 1, std 1 -> standardised [-1, 1], [0, 2]
    e = math.exp
    # h = 1: k_rr = k_ff = (2 + 2 e^{-2}) / 4; k_rf over |d| = 1, 3, 1, 1 -> (3 e^{-1/2} + e^{-9/2}) / 4
    expected = (1 + e(-2)) - (3 * e(-0.5) + e(-4.5)) / 2
    assert mmd_rbf(real, fake, bandwidth=1.0) == pytest.approx(expected, rel=1e-12)
    # median heuristic: the only real pair is 2 apart -> h = 2, so gamma = 1/8
    expected_h2 = (1 + e(-0.5)) - (3 * e(-1 / 8) + e(-9 / 8)) / 2
    assert mmd_rbf(real, fake) == pytest.approx(expected_h2, rel=1e-12)
    with pytest.raises(DataError, match="bandwidth"):
        mmd_rbf(real, fake, bandwidth=0.0)


def test_energy_distance_by_hand_and_against_scipy() -> None:
    real, fake = np.array([0.0, 2.0]), np.array([1.0, 3.0])  # standardised: [-1, 1] and [0, 2]
    # E|X-Y| = (1 + 3 + 1 + 1) / 4 = 1.5, E|X-X'| = E|Y-Y'| = (0 + 2 + 2 + 0) / 4 = 1 -> 2 * 1.5 - 1 - 1 = 1
    assert energy_distance(real, fake) == pytest.approx(1.0)
    # scipy's 1-D energy_distance is the square root of the same V-statistic
    r, f = np.random.default_rng(0).normal(size=80), np.random.default_rng(1).normal(0.5, 2.0, size=60)
    z = (r - r.mean()) / r.std()
    assert energy_distance(r, f) == pytest.approx(
        scipy.stats.energy_distance(z, (f - r.mean()) / r.std()) ** 2, rel=1e-9)


def test_correlation_distance_by_hand() -> None:
    up = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])     # rho = tau = +1
    down = np.array([[0.0, 2.0], [1.0, 1.0], [2.0, 0.0]])   # rho = tau = -1
    assert correlation_distance(up, down) == pytest.approx(2.0)
    assert correlation_distance(up, down, "kendall") == pytest.approx(2.0)
    # 3 columns: real (a, a, const) -> rho = [1, 0, 0] above the diagonal (a constant column: 0, not NaN);
    # fake (a, -a, b) with b uncorrelated -> rho = [-1, 0, 0] -> mean |gap| = (2 + 0 + 0) / 3
    a = np.array([0.0, 1.0, 2.0, 3.0])
    real = np.c_[a, a, np.full(4, 5.0)]
    fake = np.c_[a, -a, [1.0, -1.0, -1.0, 1.0]]
    assert np.all(np.isfinite(correlation_matrix(real)))
    assert correlation_distance(real, fake) == pytest.approx(2.0 / 3.0)
    assert correlation_distance(real, fake, "kendall") == pytest.approx(2.0 / 3.0)
    assert correlation_distance(a, a[::-1]) == 0.0  # one column: no dependence to compare
    with pytest.raises(DataError, match="method"):
        correlation_distance(real, fake, "spearman")


def test_kendall_tau_matrix_is_scipys_tau_b() -> None:
    x = np.round(correlated(300, d=3, rho=0.5, seed=4), 1)  # rounding makes ties: tau-b, not tau-a
    tau = correlation_matrix(x, "kendall")
    for j, k in [(0, 1), (0, 2), (1, 2)]:
        assert tau[j, k] == pytest.approx(scipy.stats.kendalltau(x[:, j], x[:, k]).statistic, abs=1e-12)
    # its speed (the refresh-time target) is measured in benchmarks/compare_refresh.py, not timed here


def test_correlation_matrix_is_a_proper_correlation_matrix() -> None:
    x = correlated(700, d=3, rho=0.5, seed=5)
    x[:, 2] = 4.0  # a constant column
    for method in ("pearson", "kendall"):
        m = correlation_matrix(x, method)
        np.testing.assert_array_equal(np.diag(m), 1.0)  # also for the constant column
        np.testing.assert_array_equal(m, m.T)
        assert np.all(np.abs(m) <= 1.0) and m[0, 2] == m[1, 2] == 0.0
    line = np.c_[x[:, 0], 3 * x[:, 0] + 1]  # rounding must not push +1 past 1
    assert np.all(np.abs(correlation_matrix(line)) <= 1.0)
    # kendall_rows: every row when it covers them all (then exactly scipy's tau-b on the full sample)
    tau = correlation_matrix(x, "kendall", kendall_rows=700)
    assert tau[0, 1] == pytest.approx(scipy.stats.kendalltau(x[:, 0], x[:, 1]).statistic, abs=1e-12)
    assert not np.array_equal(correlation_matrix(x, "kendall"), tau)  # the default uses 400 rows
    for rows in (1, 6000):
        with pytest.raises(DataError, match="kendall_rows"):
            correlation_matrix(x, "kendall", kendall_rows=rows)
    with pytest.raises(DataError, match="method"):
        correlation_matrix(x[:1], "spearman")  # the method is checked first


# ----------------------------------------------------------------------------- distances: limits


def test_identical_samples_give_exactly_zero() -> None:
    x = correlated(200, seed=6)
    for fn in (wasserstein, sliced_wasserstein, mmd_rbf, energy_distance, correlation_distance):
        assert fn(x, x.copy()) == 0.0, fn.__name__
    assert correlation_distance(x, x.copy(), "kendall") == 0.0


@pytest.mark.parametrize("fn", [wasserstein, sliced_wasserstein, mmd_rbf, energy_distance, classifier_auc])
def test_a_bigger_shift_gives_a_bigger_value(fn) -> None:
    real = correlated(600, seed=7)
    values = [fn(real, correlated(600, seed=8, shift=s)) for s in (0.25, 0.5, 1.0)]
    assert values[0] < values[1] < values[2], values


def test_a_weaker_dependence_gives_a_bigger_correlation_gap() -> None:
    real = correlated(600, rho=0.9, seed=9)
    for method in ("pearson", "kendall"):
        gaps = [correlation_distance(real, correlated(600, rho=r, seed=10), method) for r in (0.6, 0.3, 0.0)]
        assert gaps[0] < gaps[1] < gaps[2], (method, gaps)


def test_bad_input_raises_data_error() -> None:
    x = correlated(50, seed=11)
    with pytest.raises(DataError, match="NaN"):
        mmd_rbf(x, np.where(np.arange(50)[:, None] == 3, np.nan, x))
    with pytest.raises(DataError, match="columns"):
        energy_distance(x, x[:, :2])
    with pytest.raises(DataError, match="empty"):
        wasserstein(x, x[:0])
    with pytest.raises(DataError, match="at least 2 rows"):
        classifier_auc(x, x[:1])
    with pytest.raises(DataError, match="more than k rows"):
        prdc(x[:3], x, k=5)


# ----------------------------------------------------------------------------- classifier test, PRDC


def test_classifier_auc_is_about_half_for_two_draws_of_one_distribution() -> None:
    real, fake = correlated(1000, seed=12), correlated(1000, seed=13)
    assert abs(classifier_auc(real, fake) - 0.5) < 0.05
    assert classifier_auc(real, fake) == classifier_auc(real, fake)  # seeded folds: reproducible
    assert classifier_auc(real, correlated(400, seed=14, shift=5.0)) > 0.99  # separable; sizes equalised


def test_prdc_by_hand_in_one_dimension() -> None:
    # k = 1. real [0, 1, 3]: radii 1, 1, 2.  fake [0.5, 0.7, 10]: radii 0.2, 0.2, 9.3 (PRDC only compares
    # distances with radii, so the 1-D standardisation cancels and the hand computation is in raw units)
    real, fake = np.array([0.0, 1.0, 3.0]), np.array([0.5, 0.7, 10.0])
    out = prdc(real, fake, k=1)
    # precision: 0.5 and 0.7 lie in B(0, 1); 10 in no real ball -> 2/3
    # recall: 0 is in no fake ball (0.5 > 0.2, 0.7 > 0.2, 10 > 9.3); 1 and 3 lie in B(10, 9.3) -> 2/3
    # density: 0.5 lies in B(0,1) and B(1,1), 0.7 in the same two, 10 in none -> (2 + 2 + 0) / (1 * 3) = 4/3
    # coverage: nearest fake to 0 is 0.5 < 1, to 1 is 0.7 (0.3 < 1), to 3 is 0.7 (2.3 > 2) -> 2/3
    assert out == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "density": 4 / 3, "coverage": 2 / 3})


def test_prdc_limits_identical_independent_and_mode_collapse() -> None:
    real = correlated(800, seed=15)
    assert prdc(real, real.copy()) == {"precision": 1.0, "recall": 1.0, "density": 1.0, "coverage": 1.0}
    fresh = prdc(real, correlated(800, seed=16))
    assert fresh["density"] == pytest.approx(1.0, abs=0.15) and fresh["coverage"] > 0.9
    collapsed = prdc(real, np.repeat(real[:1], 800, axis=0))
    assert collapsed["recall"] < 0.01 and collapsed["coverage"] < 0.02
    assert collapsed["precision"] == 1.0  # ... while every collapsed sample is perfectly "realistic"
    z = (real - real.mean(0)) / real.std(0)
    assert prdc(real, correlated(800, seed=16), real_radii=knn_radii(z, 5)) == fresh
    shifted = [prdc(real, correlated(800, seed=17, shift=s)) for s in (0.25, 0.5, 1.0)]
    for key in ("density", "coverage"):
        assert shifted[0][key] > shifted[1][key] > shifted[2][key], key
    # precision only asks "is each sample inside the real support": a shift along the data's long axis
    # (0.25-1 std here) keeps samples inside it, so precision reacts to larger shifts only
    far = [prdc(real, correlated(800, seed=17, shift=s))["precision"] for s in (1.0, 2.0, 3.0)]
    assert far[0] > far[1] > far[2], far


# ----------------------------------------------------------------------------- memorisation


def test_closest_record_distances_by_hand() -> None:
    train = np.array([0.0, 1.0, 2.0, 3.0])  # std sqrt(1.25): distances are in units of the train std
    s = math.sqrt(1.25)
    np.testing.assert_allclose(closest_record_distances([0.5, 5.0], train), [0.5 / s, 2.0 / s])
    np.testing.assert_allclose(closest_record_distances(train, train, exclude_self=True), np.full(4, 1.0 / s))
    assert np.all(closest_record_distances(train, train) == 0.0)
    # the brute-force path (> 16 columns) agrees with a plain cdist, and finds exact copies at exactly 0
    t, q = correlated(500, d=20, seed=18), correlated(60, d=20, seed=19)
    z = lambda a: (a - t.mean(0)) / t.std(0)  # noqa: E731
    expected = scipy.spatial.distance.cdist(z(q), z(t)).min(axis=1)
    np.testing.assert_allclose(NearestRecord(t).distances(q), expected, rtol=1e-10)
    assert np.all(NearestRecord(t).distances(t[:10]) == 0.0)
    loo = scipy.spatial.distance.cdist(z(t[:10]), z(t))
    loo[np.arange(10), np.arange(10)] = np.inf
    np.testing.assert_allclose(NearestRecord(t).distances(t[:10], exclude_self=True), loo.min(axis=1), rtol=1e-10)


def test_dcr_ratio_catches_a_copied_training_set() -> None:
    train, test = correlated(3000, seed=20), correlated(1000, seed=21)
    fresh = correlated(1000, seed=22)
    copies = train[np.random.default_rng(0).choice(3000, 1000, replace=False)]
    assert 0.85 < dcr_ratio(fresh, test, train) < 1.15
    assert dcr_ratio(copies, test, train) < 0.2  # exactly 0 here: every fake row IS a training row
    assert dcr_ratio(copies + 1e-3, test, train) < 0.2  # near-copies too
    assert 0.02 < copy_fraction(fresh, test, train) < 0.1  # ~q = 0.05 when healthy
    assert copy_fraction(copies, test, train) == 1.0
    with pytest.raises(DataError, match="overlap"):
        dcr_ratio(fresh, train[:100], train)


# ----------------------------------------------------------------------------- likelihood


def test_log_abs_det_jacobian_is_exact_for_standardize() -> None:
    x = correlated(200, d=3, seed=23) * [1.0, 20.0, 0.01]
    t = Standardize().fit(x)
    np.testing.assert_allclose(log_abs_det_jacobian(t, x), np.full(200, -np.sum(np.log(t.std))), rtol=1e-9)


def test_log_abs_det_jacobian_of_log1p_chain_and_rankgauss() -> None:
    rng = np.random.default_rng(24)
    x = rng.lognormal(size=(400, 2))
    chain = Chain([Log1p(), Standardize()]).fit(x)
    std = chain.steps[1].std
    # z = (log(1 + x) - m) / s  ->  dz/dx = 1 / ((1 + x) s)
    expected = -np.sum(np.log1p(x), axis=1) - np.sum(np.log(std))
    np.testing.assert_allclose(log_abs_det_jacobian(chain, x), expected, rtol=0, atol=1e-6)  # O(h^2) error

    train = rng.normal(size=(300, 1)) * 3.0
    rg = RankGauss().fit(train)
    q, p = rg.quantiles[:, 0], rg.references
    widths = np.diff(q)
    pieces = np.argsort(widths)[-40:]                 # the 40 widest pieces, away from the tails
    pieces = pieces[(pieces > 5) & (pieces < len(q) - 7)]
    mid = 0.5 * (q[pieces] + q[pieces + 1])
    # inside a piece u is linear in x with slope dp/dq, and z = Phi^{-1}(u): dz/dx = (dp/dq) / phi(z)
    u = p[pieces] + (mid - q[pieces]) * (p[pieces + 1] - p[pieces]) / widths[pieces]
    expected = np.log((p[pieces + 1] - p[pieces]) / widths[pieces]) - scipy.stats.norm.logpdf(ndtri(u))
    got = log_abs_det_jacobian(rg, mid[:, None])
    assert 1e-4 * mid.std() < 0.5 * widths[pieces].min()  # the difference step stays inside each piece
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def _fitted(model: str, ds: Dataset, steps: int | None = None, **kw):
    spec = TrainSpec(model=model, dataset=ds, steps=steps, eval_period_s=None, transform=kw.pop("transform", "auto"),
                     config=kw)
    fitted = build(spec, CPU)
    if steps is not None or not fitted.model.iterative:
        train(spec, fitted, lambda _p: None, lambda: False)
    return fitted


def test_gaussian_log_likelihood_matches_scipy_in_data_units() -> None:
    ds = gaussian_dataset(n_train=2000, n_test=500, std=(3.0, 0.2), seed=1)
    fitted = _fitted("gaussian", ds, transform="standardize")
    # the model is N(mean, cov + 1e-6 I) in standardised units -> N(mu, S (cov_z + 1e-6 I) S) in data units
    s = fitted.transform.std
    z = (ds.train - fitted.transform.mean) / s
    cov = (np.cov(z.T, bias=True) + 1e-6 * np.eye(2)) * np.outer(s, s)
    expected = multivariate_normal(ds.train.mean(0), cov).logpdf(ds.test).mean() / 2
    assert held_out_log_likelihood(fitted, ds.test) == pytest.approx(expected, abs=1e-3)


def test_flow_and_vae_give_a_finite_value_and_a_gan_none() -> None:
    ds = gaussian_dataset(n_train=600, n_test=200, seed=2)
    for name in ("realnvp", "vae"):
        fitted = _fitted(name, ds, steps=30)
        before = fitted.model.rng.get_state()
        value = held_out_log_likelihood(fitted, ds.test, k=16)
        assert value is not None and math.isfinite(value), name
        assert torch.equal(before, fitted.model.rng.get_state())  # scoring leaves the training stream alone
    gan = _fitted("gan", ds)
    assert held_out_log_likelihood(gan, ds.test) is None
    ref = make_reference(ds.test, ds.train, n_rows=100)
    assert "log_likelihood" not in score_model(ref, gan)


# ----------------------------------------------------------------------------- MetricInfo


def test_best_index_honours_direction_and_ideal() -> None:
    lower = SUITE["mmd"]
    assert lower.best_index([0.3, float("nan"), 0.1, None]) == 2
    assert SUITE["coverage"].best_index([0.3, 0.9, 0.5]) == 1
    assert SUITE["c2st_auc"].best_index([0.9, 0.45, 0.57]) == 1  # closest to 0.5, from either side
    assert SUITE["dcr_ratio"].best_index([0.1, 1.3, 0.95]) == 2
    assert lower.best_index([float("nan"), float("inf")]) is None and lower.best_index([]) is None
    info = MetricInfo("x", None, True, "", "")  # the old positional form still works
    assert info.ideal is None and info.unit == "" and info.best_index([2.0, 1.0]) == 1


def test_importing_the_metrics_does_not_import_torch() -> None:
    # the figures import genlib.metrics for their correlation matrices: that must not cost a torch import
    import subprocess
    import sys

    code = "import sys, genlib.metrics; assert 'torch' not in sys.modules, 'torch imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT))
    assert done.returncode == 0, done.stderr


def test_suite_registry() -> None:
    assert list(SUITE) == ["anderson_darling", "kendall_error", "wasserstein", "sliced_wasserstein", "mmd",
                           "energy", "corr_pearson", "corr_kendall", "c2st_auc", "precision", "recall", "density",
                           "coverage", "dcr_ratio", "log_likelihood"]
    assert SUITE["c2st_auc"].ideal == 0.5 and SUITE["dcr_ratio"].ideal == 1.0
    assert SUITE["log_likelihood"].fn is None and SUITE["log_likelihood"].unit == "nats/dim"
    assert not SUITE["log_likelihood"].lower_is_better and not SUITE["coverage"].lower_is_better
    for key, info in SUITE.items():
        assert info.name == key and info.label and info.latex and info.description


# ----------------------------------------------------------------------------- the suite


@pytest.fixture(scope="module")
def ref():
    return make_reference(correlated(1500, seed=30), correlated(4000, seed=31), n_rows=500)


def _worse(key: str, value: float, than: float) -> bool:
    info = SUITE[key]
    if info.ideal is not None:
        return abs(value - info.ideal) > abs(than - info.ideal)
    return value > than if info.lower_is_better else value < than


def test_reference_subsamples_and_keeps_labels() -> None:
    test, labels = correlated(800, seed=32), np.arange(800) % 3
    r = make_reference(test, correlated(300, seed=33), n_rows=200, labels=labels)
    assert r.n_rows == 200 and r.test.shape == (200, 4) and len(np.unique(r.test_index)) == 200
    np.testing.assert_array_equal(r.test, test[r.test_index])
    np.testing.assert_array_equal(r.labels, labels[r.test_index])
    assert make_reference(test, test, n_rows=5000).n_rows == 800  # never more rows than the test split has


def test_floor_is_at_the_ideal_and_a_terrible_fake_is_worse_everywhere(ref) -> None:
    fl = floor(ref)
    assert set(fl) == set(SUITE) and math.isnan(fl["log_likelihood"])
    assert abs(fl["c2st_auc"] - 0.5) < 0.06
    assert 0.85 < fl["dcr_ratio"] < 1.15
    assert fl["precision"] > 0.8 and fl["recall"] > 0.8 and fl["coverage"] > 0.85
    assert fl["density"] == pytest.approx(1.0, abs=0.2)
    # shifted by 3 std, squeezed and with the dependence between columns destroyed
    terrible = 3.0 + 0.3 * np.random.default_rng(34).normal(size=(500, 4))
    bad = score_samples(ref, terrible)
    for key in SAMPLE_METRICS:
        assert _worse(key, bad[key], fl[key]), (key, bad[key], fl[key])
    assert floor(ref) == fl and floor(ref) is not ref._floor  # cached, handed out as a copy


def test_score_samples_equals_the_standalone_functions(ref) -> None:
    for fake in (correlated(500, seed=35, shift=0.2), correlated(300, seed=36)):  # cached path, unequal path
        got = score_samples(ref, fake)
        for key in SAMPLE_METRICS:
            fn = SUITE[key].fn
            want = fn(ref.test, fake, ref.train) if key == "dcr_ratio" else fn(ref.test, fake)
            assert got[key] == pytest.approx(want, rel=1e-12, abs=1e-15), key
    same = score_samples(ref, ref.test.copy())
    for key in ("kendall_error", "wasserstein", "sliced_wasserstein", "mmd", "energy", "corr_pearson", "corr_kendall"):
        assert same[key] == 0.0, key
    assert same["precision"] == same["recall"] == same["density"] == same["coverage"] == 1.0
    long = correlated(900, seed=37)
    assert score_samples(ref, long) == score_samples(ref, long[:500])  # truncated to ref.n_rows
    cols = per_column(ref, long)
    np.testing.assert_allclose(cols["wasserstein"], wasserstein_per_column(ref.test, long[:500]), rtol=1e-12)
    assert len(cols["anderson_darling"]) == 4
    assert list(score_samples(ref, long, ["mmd", "log_likelihood", "energy"])) == ["mmd", "energy"]
    with pytest.raises(KeyError, match="nope"):
        score_samples(ref, long, ["nope"])


def test_bad_fake_input_never_crashes_the_suite(ref, monkeypatch, caplog) -> None:
    fake = correlated(500, seed=41)
    fake[7, 2] = np.nan
    out = score_samples(ref, fake)
    assert set(out) == set(SAMPLE_METRICS) and all(math.isnan(v) for v in out.values())
    assert all(math.isnan(v) for v in per_column(ref, fake)["wasserstein"])
    with pytest.raises(DataError, match="columns"):
        score_samples(ref, fake[:, :3])

    def broken(_ref, _f):
        raise RuntimeError("boom")

    monkeypatch.setitem(suite_mod._SCORERS, "mmd", broken)
    out = score_samples(ref, correlated(500, seed=42))
    assert math.isnan(out["mmd"]) and all(math.isfinite(v) for k, v in out.items() if k != "mmd")
    assert "boom" in caplog.text


def test_reference_for_caches_by_the_data_itself() -> None:
    ds = gaussian_dataset(n_train=800, n_test=300, seed=3, name="cache-test")
    first = reference_for(ds)
    assert reference_for(ds) is first
    assert reference_for(replace(ds, description="same data, new object")) is first
    assert reference_for(ds, n_rows=100) is not first
    moved = replace(ds, test=ds.test + 1.0)
    assert reference_for(moved) is not first
    fresh = gaussian_dataset(n_train=800, n_test=300, seed=4, name="cache-threads")
    got: list = []
    threads = [threading.Thread(target=lambda: got.append(reference_for(fresh))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and all(g is got[0] for g in got)


def test_score_model_samples_the_model_and_adds_its_log_likelihood() -> None:
    ds = gaussian_dataset(n_train=1500, n_test=400, seed=5)
    fitted = _fitted("gaussian", ds, transform="standardize")
    ref = reference_for(ds, n_rows=300)
    out = score_model(ref, fitted)
    assert list(out) == list(SUITE)
    assert out == score_model(ref, fitted)  # fixed seed: same samples, same values
    assert out["log_likelihood"] == pytest.approx(held_out_log_likelihood(fitted, ref.test))
    assert abs(out["c2st_auc"] - 0.5) < 0.1 and 0.8 < out["dcr_ratio"] < 1.25  # a Gaussian fits a Gaussian
    assert list(score_model(ref, fitted, metrics=["log_likelihood"])) == ["log_likelihood"]


def test_log_likelihood_is_left_out_on_discrete_pixels_and_kept_on_continuous_data() -> None:
    """On digits' integer pixel levels a density is spikes (a KDE scored +6.7, a GMM -491 nats/dim): NaN, not a
    number to rank by; on continuous data of the same shape of problem the value is finite."""
    from genlib.data import load_dataset
    from genlib.metrics.likelihood import held_out_log_likelihood, is_discrete

    digits = load_dataset("digits")
    assert is_discrete(digits.test) and not is_discrete(gaussian_dataset().test)
    assert not is_discrete(np.round(correlated(200, seed=50), 1))  # rounded decimals are not integer levels
    spec = TrainSpec(model="gaussian", dataset=digits, device="cpu", eval_period_s=None)
    fitted = build(spec, torch.device("cpu"))
    train(spec, fitted, lambda p: None, lambda: False)
    assert math.isnan(held_out_log_likelihood(fitted, digits.test))
