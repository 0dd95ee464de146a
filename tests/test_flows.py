"""Normalizing flows (realnvp, maf, nsf): exact inverses, log-determinants against autograd Jacobians, densities
that integrate to one, maximum-likelihood training that really learns, seeded sampling and checkpoints."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from conftest import gaussian_dataset
from genlib.models import REGISTRY, FittedModel, GenerativeModel, model_config
from genlib.models.flow import FlowModel, rational_quadratic_spline
from genlib.train import TrainSpec, build, train

FLOWS = ["realnvp", "maf", "nsf"]
CPU = torch.device("cpu")
# Small networks keep the suite fast; the defaults are exercised by the finance benchmark.
SMALL = {"realnvp": {"n_layers": 4, "width": 16}, "maf": {"n_layers": 3, "width": 16},
         "nsf": {"n_layers": 2, "width": 16, "bins": 6, "bound": 6.0}}


def make_flow(name: str, d: int, seed: int = 0, perturb: float = 0.0, double: bool = False,
              **overrides) -> FlowModel:
    """A flow with (optionally) random non-zero weights everywhere: zero-initialised output layers make a
    fresh flow the identity, which would pass the inverse and log-det tests trivially."""
    cls = REGISTRY[name]
    torch.manual_seed(seed)
    model = cls(model_config(cls, {**SMALL[name], **overrides}), d)
    if double:
        model.flow.double()
    if perturb:
        gen = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for p in model.flow.parameters():
                p.add_(perturb * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    model.rng.manual_seed(seed)
    return model


def is_identity(model: FlowModel, x: torch.Tensor) -> bool:
    """Identity up to the fixed column reorderings between autoregressive layers (which change no density)."""
    z, logdet = model.forward(x)
    same = torch.allclose(z.sort(dim=1).values, x.sort(dim=1).values, atol=1e-5)
    return same and torch.allclose(logdet, torch.zeros_like(logdet), atol=1e-5)


@pytest.mark.parametrize("name", FLOWS)
def test_registered_with_the_flow_surface(name: str) -> None:
    cls = REGISTRY[name]
    assert issubclass(cls, GenerativeModel) and cls.family == "Flow" and cls.iterative
    assert cls.capabilities == frozenset({"sample", "log_prob"})
    assert cls.label and len(cls.summary.split(". ")) >= 3
    assert cls.formula.startswith(r"\begin{aligned}") and cls.formula.endswith(r"\end{aligned}")
    assert cls.default_steps >= 100


@pytest.mark.parametrize("name", FLOWS)
def test_fresh_flow_is_the_identity(name: str) -> None:
    model = make_flow(name, 3)
    x = torch.randn(64, 3) * 3
    assert is_identity(model, x)
    expected = torch.as_tensor(stats.multivariate_normal(np.zeros(3), np.eye(3)).logpdf(x.numpy()),
                               dtype=torch.float32)
    torch.testing.assert_close(model.log_prob(x), expected, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("name", FLOWS)
@pytest.mark.parametrize("d", [1, 2, 5])
def test_inverse_undoes_forward_after_training(name: str, d: int) -> None:
    model = make_flow(name, d, perturb=0.1)
    data = torch.randn(256, d) * torch.linspace(0.5, 2.0, d) + 1.0
    for _ in range(5):
        model.train_step(data[torch.randint(256, (64,))])
    x = torch.randn(200, d) * 2
    assert not is_identity(model, x)
    z, _ = model.forward(x)
    torch.testing.assert_close(model.inverse(z), x, atol=1e-4, rtol=0)
    z = torch.randn(200, d)
    torch.testing.assert_close(model.forward(model.inverse(z))[0], z, atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", FLOWS)
@pytest.mark.parametrize("d", [1, 3])
def test_log_det_equals_autograd_jacobian(name: str, d: int) -> None:
    model = make_flow(name, d, perturb=0.1, double=True)
    x = torch.randn(6, d, dtype=torch.float64) * 2
    with torch.no_grad():
        _, logdet = model.forward(x)
    assert logdet.abs().min() > 1e-3                     # a non-trivial map
    for i in range(len(x)):
        jac = torch.autograd.functional.jacobian(lambda row: model.forward(row[None])[0][0], x[i])
        assert abs(float(logdet[i]) - float(torch.linalg.slogdet(jac)[1])) < 1e-8


@pytest.mark.parametrize("name", FLOWS)
def test_density_integrates_to_one_on_a_grid(name: str) -> None:
    model = make_flow(name, 2, perturb=0.05)
    step = 0.04
    axis = torch.arange(-9.0, 9.0, step) + step / 2
    grid = torch.cartesian_prod(axis, axis)
    mass = float(model.log_prob(grid).double().exp().sum()) * step ** 2
    assert abs(mass - 1.0) < 0.01, mass


def test_spline_is_monotone_invertible_and_identity_outside_the_box() -> None:
    gen = torch.Generator().manual_seed(0)
    k, bound = 5, 3.0
    x = torch.linspace(-5, 5, 401, dtype=torch.float64)[:, None].requires_grad_(True)
    raw = [torch.randn(1, 1, n, generator=gen, dtype=torch.float64).expand(401, 1, n) for n in (k, k, k - 1)]
    y, logdet = rational_quadratic_spline(x, *raw, bound)
    (slope,) = torch.autograd.grad(y.sum(), x)                     # dy/dx, elementwise
    torch.testing.assert_close(logdet, torch.log(slope), atol=1e-10, rtol=0)
    x, y, logdet = x.detach(), y.detach(), logdet.detach()
    assert torch.all(torch.diff(y[:, 0]) > 0)
    outside = x.abs() > bound
    assert torch.equal(y[outside], x[outside]) and torch.all(logdet[outside] == 0)
    assert not torch.allclose(y[~outside], x[~outside])
    back, inv_logdet = rational_quadratic_spline(y, *raw, bound, inverse=True)
    torch.testing.assert_close(back, x, atol=1e-10, rtol=0)
    torch.testing.assert_close(inv_logdet, -logdet, atol=1e-10, rtol=0)


@pytest.mark.parametrize("name", FLOWS)
def test_training_reaches_the_true_gaussian_log_likelihood(name: str) -> None:
    ds = gaussian_dataset(n_train=2000, n_test=1000, mean=(1.0, -2.0), std=(1.0, 0.5), corr=0.8)
    spec = TrainSpec(name, ds, config={**SMALL[name], "lr": 5e-3}, steps=300, seed=0, transform="none",
                     eval_period_s=None)
    fitted = build(spec, CPU)
    x_test = torch.as_tensor(ds.test, dtype=torch.float32)
    before = float(fitted.model.log_prob(x_test).mean())
    losses: list[float] = []
    train(spec, fitted, lambda p: losses.append(p.losses["loss"]) if p.losses else None, lambda: False)
    after = float(fitted.model.log_prob(x_test).mean())
    cov = np.outer((1.0, 0.5), (1.0, 0.5)) * np.array([[1.0, 0.8], [0.8, 1.0]])
    truth = float(stats.multivariate_normal((1.0, -2.0), cov).logpdf(ds.test).mean())
    assert len(losses) == 300 and all(np.isfinite(losses))
    assert before < truth - 2.0                       # the untrained flow is far off ...
    assert after > truth - 0.05, (after, truth)       # ... the trained one within 0.05 nats of the truth
    samples = fitted.sample(3000, seed=0)
    assert samples.shape == (3000, 2)
    np.testing.assert_allclose(samples.mean(0), (1.0, -2.0), atol=0.1)
    assert abs(np.corrcoef(samples.T)[0, 1] - 0.8) < 0.05


@pytest.mark.parametrize("name", FLOWS)
def test_train_step_reports_mean_nll_and_updates(name: str) -> None:
    model = make_flow(name, 3)
    batch = torch.randn(128, 3) * 2 + 1
    expected = -float(model.log_prob(batch).mean())
    losses = model.train_step(batch)
    assert set(losses) >= {"loss"} and math.isclose(losses["loss"], expected, rel_tol=1e-5)
    assert not is_identity(model, batch)


@pytest.mark.parametrize("name", FLOWS)
def test_extreme_inputs_give_finite_log_prob(name: str) -> None:
    model = make_flow(name, 3, perturb=0.1)
    x = torch.tensor([[1e3, -1e3, 0.0], [50.0, 50.0, 50.0], [-30.0, 0.0, 30.0]])
    assert torch.all(torch.isfinite(model.log_prob(x)))


@pytest.mark.parametrize("name", FLOWS)
def test_sampling_uses_the_models_own_generator(name: str) -> None:
    model = make_flow(name, 3, perturb=0.1)
    model.rng.manual_seed(3)
    a = model.sample(50)
    model.rng.manual_seed(3)
    torch.manual_seed(99)                              # the global RNG must play no part
    b = model.sample(50)
    assert a.shape == (50, 3) and torch.equal(a, b) and torch.all(torch.isfinite(a))
    assert not torch.equal(a, model.sample(50))


@pytest.mark.parametrize("name", FLOWS)
def test_state_dict_round_trip(name: str) -> None:
    model = make_flow(name, 3, perturb=0.1, seed=1)
    state = model.state_dict()
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    other = make_flow(name, 3, seed=2)
    other.load_state_dict(state)
    x = torch.randn(20, 3)
    assert torch.equal(model.log_prob(x), other.log_prob(x))
    model.rng.manual_seed(0)
    other.rng.manual_seed(0)
    assert torch.equal(model.sample(10), other.sample(10))


@pytest.mark.parametrize("name", FLOWS)
def test_trains_on_finance_through_the_engine_and_checkpoints(name: str, finance, tmp_path: Path) -> None:
    spec = TrainSpec(name, finance, config=SMALL[name], steps=20, seed=0, eval_period_s=None)
    fitted = build(spec, CPU)
    train(spec, fitted, lambda p: None, lambda: False)
    x = fitted.sample(300, seed=4)
    assert x.shape == (300, 4) and np.all(x >= 0) and np.all(np.isfinite(x))
    loaded = FittedModel.load(fitted.save(tmp_path / "flow.pt"))
    assert np.array_equal(loaded.sample(300, seed=4), x)
    z = fitted.to_model_space(finance.test)
    assert torch.equal(loaded.model.log_prob(z), fitted.model.log_prob(z))
