"""Models: config machinery, capability table, VAE and GMM really learning, seeded sampling, checkpoints."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.mixture import GaussianMixture

from conftest import gaussian_dataset
from genlib.data import Dataset
from genlib.models import REGISTRY, Capability, CheckpointError, FittedModel, ModelError, capability_table, model_config
from genlib.models.classical import GMMConfig
from genlib.models.vae import VAEConfig
from genlib.params import ParamError, parse_pairs
from genlib.train import TrainSpec, build, train

CPU = torch.device("cpu")


def fit(spec: TrainSpec) -> tuple[FittedModel, list[float]]:
    """Build and train through the real training loop; returns the model and the per-step losses."""
    fitted = build(spec, CPU)
    losses: list[float] = []
    train(spec, fitted, lambda p: losses.append(p.losses["loss"]) if p.losses else None, lambda: False)
    return fitted, losses


# ----------------------------------------------------------------------------- config machinery

def test_make_config_coerces_strings_to_field_types() -> None:
    c = model_config("vae", {"latent_dim": "8", "sigma": "0.5", "lr": "1e-2", "decoder_noise": "false",
                                "activation": "elu", "enc_depth": "3.0"})
    assert (c.latent_dim, c.sigma, c.lr, c.decoder_noise, c.activation, c.enc_depth) == (8, 0.5, 0.01, False,
                                                                                         "elu", 3)
    assert type(c.latent_dim) is int and type(c.sigma) is float and type(c.decoder_noise) is bool
    assert model_config("vae", {"decoder_noise": "Yes"}).decoder_noise is True
    sigma = model_config("vae", {"sigma": 2}).sigma
    assert sigma == 2.0 and type(sigma) is float
    assert model_config("vae") == VAEConfig()           # no overrides: the defaults
    g = model_config("gmm", {"n_components": "3", "covariance_type": "diag"})
    assert (g.n_components, g.covariance_type) == (3, "diag")


@pytest.mark.parametrize("model, overrides, expected", [
    ("vae", {"latent_dim": "0"}, "latent_dim must be between 1 and 64; got 0"),
    ("vae", {"sigma": "100"}, "sigma must be between"),
    ("vae", {"lr": "nan"}, "lr must be between"),
    ("gmm", {"n_components": "201"}, "n_components must be between 1 and 200"),
    ("vae", {"latent_dim": "2.5"}, "latent_dim must be an integer, got '2.5'"),
    ("vae", {"sigma": "abc"}, "sigma must be a number, got 'abc'"),
    ("vae", {"decoder_noise": "maybe"}, "decoder_noise must be true or false"),
    ("vae", {"activation": "tanh"}, "activation must be one of relu, leakyrelu, elu; got 'tanh'"),
    ("gmm", {"covariance_type": "bogus"}, "covariance_type must be one of full, tied, diag, spherical"),
    ("vae", {"latnet_dim": "4"}, "unknown setting 'latnet_dim'; valid settings: latent_dim, sigma"),
])
def test_make_config_rejects_bad_values_with_a_clear_message(model, overrides, expected) -> None:
    with pytest.raises(ModelError) as info:
        model_config(model, overrides)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("field, value", [("latent_dim", 2.5), ("latent_dim", True), ("latent_dim", None),
                                          ("sigma", "0.5x"), ("sigma", [1.0]), ("lr", float("inf"))])
def test_make_config_rejects_wrong_python_values(field, value) -> None:
    """Pages and notebooks pass Python values; a non-integral or non-numeric one must not reach nn.Linear."""
    with pytest.raises(ModelError, match=field):
        model_config("vae", {field: value})


def test_make_config_accepts_integral_numbers_for_int_fields() -> None:
    c = model_config("vae", {"latent_dim": 3.0, "enc_width": np.int64(16), "sigma": np.float32(0.5)})
    assert (c.latent_dim, c.enc_width, c.sigma) == (3, 16, 0.5)
    assert type(c.latent_dim) is int and type(c.enc_width) is int and type(c.sigma) is float


def test_parse_set_args() -> None:
    assert parse_pairs([]) == {}
    assert parse_pairs(["a=1", " b =x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(ParamError, match="--set expects key=value, got 'latent_dim'"):
        parse_pairs(["latent_dim"])


def test_capability_table_rows() -> None:
    rows = {r["model"]: r for r in capability_table()}
    assert {"vae", "gmm"} <= set(rows)
    vae = {"sample": True, "exact log-likelihood": False, "ELBO": True, "encoder": True, "conditional": False,
           "family": "VAE"}
    gmm = {"sample": True, "exact log-likelihood": True, "ELBO": False, "encoder": False, "conditional": False,
           "family": "Classical"}
    assert {k: rows["vae"][k] for k in vae} == vae
    assert {k: rows["gmm"][k] for k in gmm} == gmm
    for name, row in rows.items():
        assert row["description"] == REGISTRY[name].label


# ----------------------------------------------------------------------------- VAE really learns

def moment_errors(x: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """Largest gaps in mean (in units of the data's std), relative std and correlation."""
    sd = ref.std(0)
    return {"mean": float(np.max(np.abs(x.mean(0) - ref.mean(0)) / sd)),
            "std": float(np.max(np.abs(x.std(0) / sd - 1.0))),
            "corr": float(abs(np.corrcoef(x.T)[0, 1] - np.corrcoef(ref.T)[0, 1]))}


TOL = {"mean": 0.15, "std": 0.15, "corr": 0.1}


def within(errors: dict[str, float]) -> bool:
    return all(errors[k] <= TOL[k] for k in TOL)


def test_vae_loss_falls_and_samples_match_data_moments() -> None:
    ds = gaussian_dataset(mean=(1.0, -2.0), std=(1.0, 0.5), corr=0.8)
    # σ pinned: the default (0.05) is tuned for finance with a 15k-step budget, this test has 1500 steps
    spec = TrainSpec("vae", ds, config={"sigma": 0.25}, steps=1500, seed=0, transform="none", eval_period_s=None)

    untrained = build(spec, CPU)
    untrained_err = moment_errors(untrained.sample(4000, seed=1), ds.train)
    assert not within(untrained_err), f"the tolerances cannot tell an untrained VAE apart: {untrained_err}"

    fitted, losses = fit(spec)
    assert len(losses) == 1500 and all(np.isfinite(losses))
    first, last = np.mean(losses[:100]), np.mean(losses[-100:])
    assert last < 0.5 * first, (first, last)
    samples = fitted.sample(4000, seed=1)
    assert samples.shape == (4000, 2)
    err = moment_errors(samples, ds.train)
    assert within(err), err
    # The ELBO of held-out data improved too (it is a lower bound on log p, so it must be finite and higher).
    x_test = fitted.to_model_space(ds.test)
    assert untrained.model.elbo(x_test).mean() < fitted.model.elbo(x_test).mean()


# ----------------------------------------------------------------------------- GMM

WEIGHTS = np.array([0.6, 0.3, 0.1])
MEANS = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
COVS = np.array([[[1.0, 0.5], [0.5, 1.0]], [[0.5, 0.0], [0.0, 0.5]], [[1.0, -0.3], [-0.3, 0.4]]])


def mixture_dataset(n_train: int = 3000, n_test: int = 2000, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    comp = rng.choice(3, size=n, p=WEIGHTS)
    x = np.stack([rng.multivariate_normal(MEANS[k], COVS[k]) for k in comp])
    return Dataset(name="mix3", description="3 Gaussian clusters", columns=["x", "y"], train=x[:n_train],
                   test=x[n_train:])


def true_log_density(x: np.ndarray) -> np.ndarray:
    dens = sum(w * stats.multivariate_normal(m, c).pdf(x) for w, m, c in zip(WEIGHTS, MEANS, COVS))
    return np.log(dens)


@pytest.fixture(scope="module")
def mix3() -> Dataset:
    return mixture_dataset()


@pytest.fixture(scope="module")
def gmm3(mix3) -> FittedModel:
    return fit(TrainSpec("gmm", mix3, config={"n_components": "3"}, transform="none", eval_period_s=None))[0]


def test_gmm_log_prob_beats_one_gaussian_and_matches_sklearn(mix3, gmm3) -> None:
    one = fit(TrainSpec("gmm", mix3, config={"n_components": 1}, transform="none", eval_period_s=None))[0]
    x_test = torch.as_tensor(mix3.test, dtype=torch.float32)
    lp3 = gmm3.model.log_prob(x_test).numpy()
    lp1 = one.model.log_prob(x_test).numpy()
    assert lp3.shape == (len(mix3.test),)
    assert lp3.mean() > lp1.mean() + 0.5, (lp3.mean(), lp1.mean())
    # Within a few hundredths of a nat of the true density's held-out log-likelihood.
    assert abs(lp3.mean() - true_log_density(mix3.test).mean()) < 0.05

    c = GMMConfig(n_components=3)
    ref = GaussianMixture(3, covariance_type=c.covariance_type, max_iter=c.max_iter, reg_covar=c.reg_covar,
                          random_state=c.seed).fit(mix3.train)
    np.testing.assert_allclose(lp3, ref.score_samples(mix3.test.astype(np.float32)), rtol=1e-5, atol=1e-4)


def test_gmm_samples_reproduce_component_weights_and_shapes(gmm3) -> None:
    x = gmm3.sample(20000, seed=0)
    nearest = np.argmin(((x[:, None, :] - MEANS[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_allclose(np.bincount(nearest, minlength=3) / len(x), WEIGHTS, atol=0.02)
    for k in range(3):
        part = x[nearest == k]
        np.testing.assert_allclose(part.mean(0), MEANS[k], atol=0.1)
        np.testing.assert_allclose(np.cov(part.T), COVS[k], atol=0.12)


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
def test_gmm_covariance_types_fit_sample_and_round_trip(mix3, cov, tmp_path) -> None:
    f = fit(TrainSpec("gmm", mix3, config={"n_components": 3, "covariance_type": cov}, transform="none"))[0]
    x = f.sample(500, seed=0)
    assert x.shape == (500, 2) and np.all(np.isfinite(x))
    assert f.model.full_covariances().shape == (3, 2, 2)
    loaded = FittedModel.load(f.save(tmp_path / "gmm.pt"))
    assert np.array_equal(loaded.sample(500, seed=0), x)
    x_test = torch.as_tensor(mix3.test[:200], dtype=torch.float32)
    assert torch.equal(loaded.model.log_prob(x_test), f.model.log_prob(x_test))


# ----------------------------------------------------------------------------- seeded sampling, data units

@pytest.fixture(scope="module")
def vae_finance(finance) -> FittedModel:
    return fit(TrainSpec("vae", finance, steps=100, seed=0, eval_period_s=None))[0]


@pytest.fixture(scope="module")
def gmm_finance(finance) -> FittedModel:
    return fit(TrainSpec("gmm", finance, config={"n_components": 4}, eval_period_s=None))[0]


@pytest.fixture(params=["vae", "gmm"])
def fitted_model(request, vae_finance, gmm_finance) -> FittedModel:
    return {"vae": vae_finance, "gmm": gmm_finance}[request.param]


def test_same_seed_same_rows_different_seed_different_rows(fitted_model) -> None:
    a = fitted_model.sample(200, seed=5)
    b = fitted_model.sample(200, seed=5)
    c = fitted_model.sample(200, seed=6)
    assert np.array_equal(a, b)
    assert not np.any(np.all(a == c, axis=1))
    # Seeded sampling must not disturb the model's own random stream (used by training and previews).
    state = fitted_model.model.rng.get_state()
    fitted_model.sample(10, seed=9)
    assert torch.equal(state, fitted_model.model.rng.get_state())
    with pytest.raises(ValueError):
        fitted_model.sample(0)


def test_samples_are_in_data_units(finance, fitted_model) -> None:
    """finance is non-negative and heavy tailed: 'auto' picks rank-Gauss, whose inverse keeps rows > 0."""
    assert fitted_model.transform.kind == "rankgauss"
    assert fitted_model.columns == ["f1", "f2", "f3", "f4"]
    x = fitted_model.sample(2000, seed=0)
    assert x.shape == (2000, 4) and x.dtype == np.float64
    assert np.all(x >= 0)
    # Data units, not model units: medians on the data's scale (~0.01-0.05), not the standardised ~0-1.
    ratio = np.median(x, axis=0) / np.median(finance.train, axis=0)
    assert np.all((ratio > 0.33) & (ratio < 3.0)), ratio


def test_save_load_round_trip_gives_identical_samples(fitted_model, tmp_path: Path) -> None:
    path = fitted_model.save(tmp_path / "sub" / "model.pt")
    loaded = FittedModel.load(path)
    assert loaded.name == fitted_model.name and loaded.columns == fitted_model.columns
    assert loaded.model.config == fitted_model.model.config
    assert loaded.transform.kind == fitted_model.transform.kind
    assert loaded.info["dataset"] == "finance"
    assert np.array_equal(loaded.sample(300, seed=11), fitted_model.sample(300, seed=11))
    if loaded.model.has(Capability.LOG_PROB):
        x = fitted_model.to_model_space(np.full((3, 4), 0.02))
        assert torch.equal(loaded.model.log_prob(x), fitted_model.model.log_prob(x))
    assert not list(tmp_path.rglob("*.tmp"))   # the atomic write left no temporary file


# ----------------------------------------------------------------------------- hostile checkpoints

class Evil:
    """Unpickling this runs Path.touch(marker): a stand-in for arbitrary code execution."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_unpickling_evil_really_executes_code_without_weights_only(tmp_path: Path) -> None:
    """Control for the test below: the payload is live, so its absence of effect there means something."""
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(Evil(marker)))
    assert marker.exists()


@pytest.mark.parametrize("kind", ["random bytes", "empty file", "foreign torch file", "torch list",
                                  "pickle of custom object", "torch.save of custom object", "wrong model"])
def test_bad_checkpoints_raise_checkpoint_error_and_execute_nothing(kind: str, tmp_path: Path,
                                                                     vae_finance) -> None:
    path = tmp_path / "model.pt"
    marker = tmp_path / "pwned"
    if kind == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "empty file":
        path.write_bytes(b"")
    elif kind == "foreign torch file":
        torch.save({"weights": torch.zeros(3), "epoch": 7}, path)
    elif kind == "torch list":
        torch.save([torch.zeros(3)], path)
    elif kind == "pickle of custom object":
        path.write_bytes(pickle.dumps({"format": "genlab-checkpoint/1", "evil": Evil(marker)}, protocol=2))
    elif kind == "torch.save of custom object":
        torch.save({"format": "genlab-checkpoint/1", "evil": Evil(marker)}, path)
    elif kind == "wrong model":
        vae_finance.save(path)
        payload = torch.load(path, weights_only=True)
        payload["model"] = "no_such_model"
        torch.save(payload, path)
    with pytest.raises(CheckpointError) as info:
        FittedModel.load(path)
    message = str(info.value)
    assert "model.pt" in message and "\n" not in message and len(message) < 300
    if kind in ("foreign torch file", "torch list"):
        assert "not a GenLab checkpoint" in message
    elif kind == "wrong model":
        assert "could not be restored" in message and "no_such_model" in message
    else:
        assert "not a readable GenLab checkpoint" in message
    assert not marker.exists(), "loading a checkpoint executed code"


def test_missing_checkpoint_raises_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        FittedModel.load(tmp_path / "nope.pt")


# ----------------------------------------------------------------------------- typed capabilities

def test_a_model_cannot_declare_a_capability_it_does_not_implement() -> None:
    from genlib.models.base import GenerativeModel, register

    class Liar(GenerativeModel):
        name, label, family, Config = "liar", "claims an encoder", "VAE", VAEConfig
        capabilities = frozenset({Capability.SAMPLE, Capability.ENCODE})

        def sample(self, n, labels=None):
            return torch.zeros(n, self.n_features)

        def state_dict(self):
            return {}

        def load_state_dict(self, state):
            pass

    with pytest.raises(TypeError, match="declares encode but does not implement encode_mean"):
        register(Liar)
    assert "liar" not in REGISTRY
    with pytest.raises(TypeError, match="Capability members"):
        register(type("Stringly", (Liar,), {"name": "stringly", "capabilities": frozenset({"sample"})}))


def test_capability_lookups_and_a_clear_refusal() -> None:
    from genlib.models import models_with, require
    assert models_with(Capability.ENCODE) == ["ae", "conv_vae", "cvae", "vae", "vae_lars", "wae"]
    assert models_with(Capability.ADVERSARIAL) == ["dcgan", "gan", "wgan_gp"]
    vae = REGISTRY["vae"](model_config("vae"), 2)
    assert vae.has(Capability.ENCODE) and not vae.has(Capability.LOG_PROB)
    with pytest.raises(ModelError, match="needs a model with the capability 'adversarial' \\(dcgan, gan, wgan_gp\\); "
                                         "got vae"):
        require(vae, Capability.ADVERSARIAL, "an anomaly score")
