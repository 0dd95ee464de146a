"""Classical models (gaussian, copula, kde, gmm) against the textbook estimators they implement: numpy's mean and
covariance, scipy's Gaussian density, rank statistics for the copula, scikit-learn's KernelDensity."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.neighbors import KernelDensity

from genlib.data import Dataset
from genlib.metrics import evaluate
from genlib.models import REGISTRY, Capability, FittedModel, GenerativeModel, model_config
from genlib.models.classical import rule_of_thumb_bandwidth
from genlib.train import TrainSpec, build, train

CLASSICAL = ["gaussian", "copula", "kde", "gmm"]
CPU = torch.device("cpu")


SMALL = {"gmm": {"n_components": 3}}   # keeps EM fast (tests/test_models.py covers the GMM in depth)


def fitted_model(name: str, x: np.ndarray, seed: int = 0, **overrides) -> GenerativeModel:
    cls = REGISTRY[name]
    model = cls(model_config(cls, {**SMALL.get(name, {}), **overrides}), x.shape[1])
    model.rng.manual_seed(seed)
    losses = model.fit(torch.as_tensor(x, dtype=torch.float32))
    assert np.isfinite(losses["loss"])
    return model


def skewed_sample(n: int = 3000, seed: int = 0) -> np.ndarray:
    """Gaussian copula (ρ = 0.7 and 0.3) with exponential, uniform and Student-t marginals: far from Gaussian."""
    rng = np.random.default_rng(seed)
    corr = np.array([[1.0, 0.7, 0.3], [0.7, 1.0, 0.3], [0.3, 0.3, 1.0]])
    u = stats.norm.cdf(rng.standard_normal((n, 3)) @ np.linalg.cholesky(corr).T)
    return np.column_stack([stats.expon.ppf(u[:, 0]), 4 * u[:, 1] - 1, stats.t.ppf(u[:, 2], df=4)])


def correlated_gaussian(n: int, seed: int = 0) -> np.ndarray:
    cov = np.array([[1.0, 0.6], [0.6, 0.5]])
    return np.random.default_rng(seed).multivariate_normal([0.5, -1.0], cov, size=n)


def grid_mass(model: GenerativeModel, lo: float = -7.0, hi: float = 7.0, step: float = 0.05) -> float:
    axis = torch.arange(lo, hi, step) + step / 2
    grid = torch.cartesian_prod(axis, axis)
    return float(model.log_prob(grid).double().exp().sum()) * step ** 2


@pytest.mark.parametrize("name", CLASSICAL)
def test_registered_as_fit_once_classical_models(name: str) -> None:
    cls = REGISTRY[name]
    assert cls.family == "Classical" and not cls.iterative
    assert cls.label and cls.formula and cls.summary
    assert Capability.SAMPLE in cls.capabilities
    assert (Capability.LOG_PROB in cls.capabilities) == (name != "copula")   # the copula has no density: it says so


# ----------------------------------------------------------------------------- gaussian

def test_gaussian_is_the_maximum_likelihood_estimate() -> None:
    x = skewed_sample(500)
    model = fitted_model("gaussian", x, reg_covar=1e-6)
    np.testing.assert_allclose(model.mean.numpy(), np.mean(x, axis=0), rtol=1e-6)
    np.testing.assert_allclose(model.covariance.numpy(), np.cov(x.T, bias=True) + 1e-6 * np.eye(3), rtol=1e-6)
    points = x[:50] + 0.3
    expected = stats.multivariate_normal(np.mean(x, axis=0), np.cov(x.T, bias=True) + 1e-6 * np.eye(3))
    np.testing.assert_allclose(model.log_prob(torch.as_tensor(points, dtype=torch.float32)).numpy(),
                               expected.logpdf(points), rtol=1e-5, atol=1e-4)


def test_gaussian_samples_have_the_fitted_moments() -> None:
    x = correlated_gaussian(2000)
    model = fitted_model("gaussian", x)
    s = model.sample(40000).double().numpy()
    np.testing.assert_allclose(s.mean(0), x.mean(0), atol=0.02)
    np.testing.assert_allclose(np.cov(s.T), np.cov(x.T), atol=0.03)


# ----------------------------------------------------------------------------- copula

def test_copula_reproduces_training_marginals_and_kendall_tau() -> None:
    x = skewed_sample(3000)
    model = fitted_model("copula", x)
    s = model.sample(20000).double().numpy()
    for j in range(3):
        assert stats.ks_2samp(s[:, j], x[:, j]).statistic < 0.02, j
        lo, hi = x[:, j].min(), x[:, j].max()                      # within the training range (float32 rows)
        assert s[:, j].min() >= lo - 1e-6 * abs(lo) and s[:, j].max() <= hi + 1e-6 * abs(hi)
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        tau_data = stats.kendalltau(x[:, i], x[:, j])[0]
        tau_model = stats.kendalltau(s[:5000, i], s[:5000, j])[0]
        assert abs(tau_model - tau_data) < 0.03, (i, j, tau_model, tau_data)


def test_copula_correlation_is_that_of_the_normal_scores() -> None:
    x = skewed_sample(2000)
    model = fitted_model("copula", x)
    scores = stats.norm.ppf(stats.rankdata(x, axis=0) / (len(x) + 1))
    np.testing.assert_allclose(model.correlation.numpy(), np.corrcoef(scores.T), atol=1e-12)
    np.testing.assert_allclose(model.correlation.numpy(), [[1, .7, .3], [.7, 1, .3], [.3, .3, 1]], atol=0.05)
    # The quantile function interpolates between order statistics placed at (k - 1/2)/n.
    srt = np.sort(x[:, 0])
    u = np.array([[0.0, 0.5, 0.5], [0.5, 0.5, 0.5], [1.0, 0.5, 0.5], [2.0 / len(x), 0.5, 0.5]])
    q = model.quantile(u)[:, 0]
    np.testing.assert_allclose(q, [srt[0], 0.5 * (srt[999] + srt[1000]), srt[-1], 0.5 * (srt[1] + srt[2])])
    with pytest.raises(NotImplementedError):
        model.log_prob(torch.zeros(2, 3))


# ----------------------------------------------------------------------------- kde

@pytest.mark.parametrize("kernel", ["gaussian", "tophat"])
def test_kde_log_prob_equals_sklearn_and_integrates_to_one(kernel: str) -> None:
    x = correlated_gaussian(400)
    model = fitted_model("kde", x, kernel=kernel)
    ref = KernelDensity(kernel=kernel, bandwidth=model.bandwidth).fit(x)
    points = np.random.default_rng(1).normal(size=(100, 2)) + x.mean(0)
    got = model.log_prob(torch.as_tensor(points, dtype=torch.float32)).numpy()
    want = ref.score_samples(points.astype(np.float32).astype(np.float64))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-5, atol=1e-4)
    assert np.array_equal(np.isneginf(got), np.isneginf(want))
    assert abs(grid_mass(model, step=0.02 if kernel == "tophat" else 0.08) - 1.0) < 0.01


def test_kde_bandwidth_is_data_driven() -> None:
    small, large = correlated_gaussian(200), correlated_gaussian(5000)
    h_small = fitted_model("kde", small).bandwidth
    h_large = fitted_model("kde", large).bandwidth
    assert h_large < h_small                                          # shrinks as n grows
    assert fitted_model("kde", 10 * small).bandwidth == pytest.approx(10 * h_small)   # follows the spread
    three = skewed_sample(500)                                        # (in 2-D Silverman's rule equals Scott's)
    assert fitted_model("kde", three, bandwidth_rule="silverman").bandwidth < fitted_model("kde", three).bandwidth
    assert fitted_model("kde", small, bandwidth_rule="manual", bandwidth=0.7).bandwidth == 0.7
    # On standardised data the rules agree with scikit-learn's own strings.
    z = (large - large.mean(0)) / large.std(0)
    for rule in ("scott", "silverman"):
        assert rule_of_thumb_bandwidth(z, rule) == pytest.approx(KernelDensity(bandwidth=rule).fit(z).bandwidth_)


def test_kde_sampling_is_seeded_by_the_model_generator() -> None:
    x = correlated_gaussian(300)
    model = fitted_model("kde", x, kernel="tophat")
    model.rng.manual_seed(7)
    a = model.sample(500)
    model.rng.manual_seed(7)
    assert torch.equal(a, model.sample(500))
    dist = np.sqrt(((a.double().numpy()[:, None, :] - x[None]) ** 2).sum(-1)).min(1)
    assert np.all(dist <= model.bandwidth + 1e-5)                     # tophat: within h of a training point


# ----------------------------------------------------------------------------- gmm still works

def test_gmm_still_fits_samples_and_scores() -> None:
    x = correlated_gaussian(1000)
    model = fitted_model("gmm", x, n_components=2)
    s = model.sample(2000)
    assert s.shape == (2000, 2) and torch.all(torch.isfinite(s))
    lp = model.log_prob(torch.as_tensor(x[:10], dtype=torch.float32))
    np.testing.assert_allclose(lp.numpy(), model.gmm.score_samples(x[:10].astype(np.float32)), rtol=1e-5)


# ----------------------------------------------------------------------------- all of them

@pytest.mark.parametrize("name", CLASSICAL)
def test_state_dict_round_trip_gives_identical_samples_and_densities(name: str) -> None:
    x = skewed_sample(400)
    model = fitted_model(name, x, seed=3)
    state = model.state_dict()
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    other = REGISTRY[name](model.config, 3)
    other.load_state_dict(state)
    model.rng.manual_seed(5)
    other.rng.manual_seed(5)
    assert torch.equal(model.sample(100), other.sample(100))
    if model.has(Capability.LOG_PROB):
        pts = torch.as_tensor(x[:20], dtype=torch.float32)
        assert torch.equal(model.log_prob(pts), other.log_prob(pts))


@pytest.mark.parametrize("name", CLASSICAL)
def test_sampling_ignores_the_global_rng(name: str) -> None:
    model = fitted_model(name, correlated_gaussian(300))
    model.rng.manual_seed(1)
    torch.manual_seed(0)
    np.random.seed(0)
    a = model.sample(50)
    model.rng.manual_seed(1)
    torch.manual_seed(1)
    np.random.seed(1)
    assert torch.equal(a, model.sample(50))


@pytest.fixture(scope="module")
def finance_fits(finance) -> dict[str, FittedModel]:
    out = {}
    for name in CLASSICAL:
        spec = TrainSpec(name, finance, config=SMALL.get(name, {}), eval_period_s=None)
        fitted = build(spec, CPU)
        assert train(spec, fitted, lambda p: None, lambda: False) == 1
        out[name] = fitted
    return out


@pytest.mark.parametrize("name", CLASSICAL)
def test_finance_through_the_engine_and_checkpoint(name: str, finance_fits, finance: Dataset,
                                                   tmp_path: Path) -> None:
    fitted = finance_fits[name]
    x = fitted.sample(500, seed=2)
    assert x.shape == (500, 4) and np.all(x >= 0)
    loaded = FittedModel.load(fitted.save(tmp_path / "m.pt"))
    assert np.array_equal(loaded.sample(500, seed=2), x)


def test_copula_is_near_the_oracle_floor_on_finance(finance_fits, finance: Dataset) -> None:
    """finance is a Gaussian copula with heavy-tailed marginals: the copula baseline should be as good as
    another draw of real data (oracle floor ≈ AD 1.5-2, Kendall 0.03 at 144 rows)."""
    scores = [evaluate(finance.test, finance_fits["copula"].sample(len(finance.test), seed=s)) for s in range(5)]
    assert np.mean([s["anderson_darling"] for s in scores]) < 3.0
    assert np.mean([s["kendall_error"] for s in scores]) < 0.036
    # under log1p + standardise one Gaussian cannot fit the skewed marginals (and the clip at 0 piles mass
    # below every real value); under the default rank-Gauss transform the same model is a Gaussian copula
    spec = TrainSpec("gaussian", finance, transform="log1p+standardize", eval_period_s=None)
    log1p_gaussian = build(spec, CPU)
    train(spec, log1p_gaussian, lambda p: None, lambda: False)
    bad = evaluate(finance.test, log1p_gaussian.sample(len(finance.test), seed=0))
    good = evaluate(finance.test, finance_fits["gaussian"].sample(len(finance.test), seed=0))
    assert bad["anderson_darling"] > 10 and good["anderson_darling"] < 4


@pytest.mark.parametrize("name", CLASSICAL)
def test_a_constant_column_does_not_break_the_fit(name: str) -> None:
    """Real tables (e.g. the always-blank pixels of digits) have constant columns."""
    x = np.column_stack([correlated_gaussian(300), np.zeros(300)])
    model = fitted_model(name, x)
    s = model.sample(200).double().numpy()
    assert s.shape == (200, 3) and np.all(np.isfinite(s))
    if name == "copula":
        assert np.all(s[:, 2] == 0) and model.correlation[2, :2].abs().max() == 0
