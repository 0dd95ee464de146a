"""Parametric fits of the Lorenz system (genlib.dynamics.sindy): derivative regressions at dt = 0.01,
their failure at dt = 0.1 (seed 001, slide 12), and the integrated fit that does not fail."""
from __future__ import annotations

import numpy as np
import pytest

from genlib.dynamics.sindy import (
    METHODS,
    TERMS,
    TRUE_PARAMS,
    IntegratedFit,
    SparseFit,
    compare_methods,
    derivatives,
    fit_integrated,
    fit_sparse,
    make_observations,
    polynomial_library,
    rk4_map,
    true_coefficients,
)
from genlib.systems.lorenz import lorenz_derivative

TRUTH = np.array(TRUE_PARAMS)


@pytest.fixture(scope="module")
def fine() -> np.ndarray:
    """dt = 0.01, 50 time units on the attractor, no noise."""
    return make_observations(dt=0.01, t_max=50.0, seed=0)


@pytest.fixture(scope="module")
def coarse() -> np.ndarray:
    """dt = 0.1, 100 time units (1001 states), no noise."""
    return make_observations(dt=0.1, t_max=100.0, seed=1)


@pytest.fixture(scope="module")
def coarse_noisy() -> np.ndarray:
    """As `coarse` plus Gaussian noise of 1% of each coordinate's standard deviation."""
    return make_observations(dt=0.1, t_max=100.0, noise=0.01, seed=1)


def test_library_columns_by_hand() -> None:
    x, y, z = 2.0, -3.0, 5.0
    row = polynomial_library(np.array([[x, y, z]]))[0]
    expected = [1, x, y, z, x * x, x * y, x * z, y * y, y * z, z * z]
    assert TERMS == ("1", "x", "y", "z", "x^2", "xy", "xz", "y^2", "yz", "z^2")
    np.testing.assert_array_equal(row, expected)


def test_true_coefficients_rebuild_lorenz_exactly() -> None:
    states = np.random.default_rng(0).normal(0, 10, size=(50, 3))
    for params in (TRUE_PARAMS, (3.0, 15.0, 1.0)):
        xi = true_coefficients(*params)
        assert xi.shape == (10, 3) and np.count_nonzero(xi) == 7
        np.testing.assert_allclose(polynomial_library(states) @ xi, lorenz_derivative(states, *params), rtol=1e-13)


def test_sparse_fit_rhs_matches_true_derivative() -> None:
    coef = true_coefficients()
    fit = SparseFit("truth", coef, 0.01, {}, 0.0, 7)
    states = np.random.default_rng(1).normal(0, 10, size=(20, 3))
    np.testing.assert_allclose(fit.rhs(states), lorenz_derivative(states, *TRUE_PARAMS), rtol=1e-12)
    assert fit.rhs(states[0]).shape == (3,)
    np.testing.assert_allclose(fit.rhs(states[0]), lorenz_derivative(states[0], *TRUE_PARAMS), rtol=1e-12)


def test_derivatives_central_is_second_order() -> None:
    t = np.linspace(0, 1, 101)
    states = np.column_stack([t**2, np.sin(t), np.exp(t)])
    d = derivatives(states, t[1] - t[0])
    np.testing.assert_allclose(d[:, 0], 2 * t, atol=1e-10)  # exact for quadratics, ends included
    np.testing.assert_allclose(d[:, 1], np.cos(t), atol=1e-4)
    with pytest.raises(ValueError, match="derivative method"):
        derivatives(states, 0.01, method="spline")


def test_stlsq_recovers_lorenz_at_dt_001(fine: np.ndarray) -> None:
    fit = fit_sparse(fine, dt=0.01, method="stlsq")
    assert fit.rmse <= 0.05, fit.rmse
    assert fit.n_terms == 7
    np.testing.assert_array_equal(fit.coef != 0, true_coefficients() != 0)  # the right sparsity pattern
    params = np.array([fit.params[k] for k in ("sigma", "rho", "beta")])
    np.testing.assert_allclose(params, TRUTH, rtol=0.02)


def test_equations_name_the_right_terms(fine: np.ndarray) -> None:
    fit = fit_sparse(fine, dt=0.01, method="stlsq")
    dx, dy, dz = fit.equations_latex()
    assert dx.startswith(r"\dot x = -9.9") and r"\,y" in dx and "z" not in dx.split("=")[1]
    assert r"\dot y =" in dy and r"\,x\,z" in dy and "27." in dy
    assert r"\dot z =" in dz and r"\,x\,y" in dz and "-2.6" in dz
    text = fit.equations_text()
    assert text[0].startswith("dx/dt = -9.9") and "x*z" in text[1] and "x*y" in text[2]


def test_lasso_and_ridge_run_and_ridge_is_dense(fine: np.ndarray) -> None:
    lasso = fit_sparse(fine, dt=0.01, method="lasso")
    ridge = fit_sparse(fine, dt=0.01, method="ridge")
    for fit in (lasso, ridge):
        assert fit.coef.shape == (10, 3) and np.all(np.isfinite(fit.coef))
        assert abs(fit.params["rho"] - 28.0) < 2.0
    assert ridge.n_terms == 30
    assert lasso.n_terms < 30


def test_constrained_fit_with_sigma_known(fine: np.ndarray) -> None:
    fit = fit_sparse(fine, dt=0.01, method="constrained", known={"sigma": 10.0})
    assert fit.params["sigma"] == 10.0
    assert abs(fit.params["rho"] - 28.0) < 0.5 and abs(fit.params["beta"] - 8 / 3) < 0.1
    assert fit.n_terms == 7
    assert fit.coef[TERMS.index("xz"), 1] == pytest.approx(-fit.coef[TERMS.index("xy"), 2])  # energy constraint
    with pytest.raises(ValueError, match="unknown parameter"):
        fit_sparse(fine, dt=0.01, method="constrained", known={"gamma": 1.0})


def test_finite_differences_fail_at_dt_01_as_in_the_seed(coarse: np.ndarray) -> None:
    # Seed 001, slide 12: at dt = 0.1 LASSO, Ridge, Galerkin and Jaya-Powell all give RMSE 5.9-8.3.
    for method in ("stlsq", "lasso", "ridge"):
        assert fit_sparse(coarse, dt=0.1, method=method).rmse > 1.0


def test_rk4_map_matches_the_reference_integrator(coarse: np.ndarray) -> None:
    np.testing.assert_allclose(rk4_map(coarse[:-1], TRUE_PARAMS, 0.1, 10), coarse[1:], atol=1e-3)


def test_integrated_fit_at_dt_01_clean(coarse: np.ndarray) -> None:
    fit = fit_integrated(coarse, dt=0.1)
    assert isinstance(fit, IntegratedFit) and fit.success
    assert max(fit.rel_errors.values()) < 0.005, fit.rel_errors
    row = fit.as_sparse_fit()
    assert row.method == "integrated" and row.n_terms == 7 and row.rmse < 0.01
    np.testing.assert_array_equal(fit.rhs(coarse[:5]), lorenz_derivative(coarse[:5], fit.sigma, fit.rho, fit.beta))


def test_integrated_fit_at_dt_01_with_one_percent_noise(coarse: np.ndarray, coarse_noisy: np.ndarray) -> None:
    noise = coarse_noisy - coarse
    np.testing.assert_allclose(noise.std(axis=0) / coarse.std(axis=0), 0.01, rtol=0.1)  # the noise is real
    fit = fit_integrated(coarse_noisy, dt=0.1)
    assert fit.success
    for name, err in fit.rel_errors.items():
        assert err < 0.005, (name, fit.rel_errors)
    # and from a start far from the truth
    far = fit_integrated(coarse_noisy, dt=0.1, p0=(1.0, 1.0, 1.0))
    assert max(far.rel_errors.values()) < 0.005, far.rel_errors


def test_compare_methods_gives_one_row_per_method(coarse: np.ndarray) -> None:
    rows = compare_methods(coarse, dt=0.1)
    assert [r.method for r in rows] == list(METHODS) + ["integrated"]
    best = min(rows, key=lambda r: r.rmse)
    assert best.method == "integrated"


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((5, 3)), "at least"),
        (np.zeros((100, 2)), r"\(n, 3\)"),
        (np.zeros(300), r"\(n, 3\)"),
        (np.where(np.arange(300).reshape(100, 3) == 7, np.nan, 1.0), "NaN"),
    ],
)
def test_bad_input_raises_clear_value_error(bad: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit_sparse(bad, dt=0.01)
    with pytest.raises(ValueError, match=message):
        fit_integrated(bad, dt=0.01)


def test_bad_dt_and_method_raise(fine: np.ndarray) -> None:
    with pytest.raises(ValueError, match="dt must be"):
        fit_sparse(fine, dt=0.0)
    with pytest.raises(ValueError, match="unknown method"):
        fit_sparse(fine, dt=0.01, method="sindy-pi")
    with pytest.raises(ValueError, match="p0"):
        fit_integrated(fine, dt=0.01, p0=(1.0, float("nan"), 1.0))


def test_rk4_sensitivities_match_finite_differences() -> None:
    # The integrated fit hands least_squares the exact Jacobian of the RK4 map; check it numerically.
    from genlib.dynamics.sindy import _shoot

    s0 = np.array([[1.0, 2.0, 20.0], [-5.0, -7.0, 25.0]])
    theta = np.array([9.0, 27.0, 2.5])
    states, tangents = _shoot(s0, theta, 0.1, 4, 3)
    np.testing.assert_array_equal(states[:, 1], rk4_map(s0, theta, 0.1, 4))  # one RK4 step, the same map
    eps = 1e-6
    for j in range(6):
        ds, dth = np.zeros(3), np.zeros(3)
        (ds if j < 3 else dth)[j % 3] = eps
        plus = _shoot(s0 + ds, theta + dth, 0.1, 4, 3)[0]
        minus = _shoot(s0 - ds, theta - dth, 0.1, 4, 3)[0]
        np.testing.assert_allclose(tangents[..., j], (plus - minus) / (2 * eps), rtol=1e-5, atol=1e-6)
