"""GANs: the gradient penalty, really learning a shifted Gaussian, DCGAN on image rows, every stabiliser toggle,
the instance-noise schedule, checkpoints (spectral norm and batch norm included) and clear errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from conftest import gaussian_dataset
from genlib.data import Dataset
from genlib.models import REGISTRY, Capability, FittedModel, ModelError, model_config
from genlib.models.gan import gradient_penalty
from genlib.train import TrainSpec, build, train

CPU = torch.device("cpu")
SMALL = {"g_width": 32, "g_depth": 2, "d_width": 32, "d_depth": 2}        # MLP GANs, fast
SMALL_CONV = {"g_channels": 8, "d_channels": 8, "d_width": 16, "latent_dim": 8}


def make(name: str, n_features: int = 2, image_shape=None, seed: int = 0, **overrides):
    cls = REGISTRY[name]
    base = SMALL_CONV if name == "dcgan" else SMALL
    torch.manual_seed(seed)
    model = cls(model_config(cls, {**base, **overrides}), n_features, CPU, image_shape=image_shape)
    model.rng.manual_seed(seed)
    return model


def fit(spec: TrainSpec) -> tuple[FittedModel, list[dict[str, float]]]:
    fitted = build(spec, CPU)
    logs: list[dict[str, float]] = []
    train(spec, fitted, lambda p: logs.append(p.losses) if p.losses else None, lambda: False)
    return fitted, logs


def digits_like(n: int = 64, seed: int = 0) -> Dataset:
    x = np.random.default_rng(seed).integers(0, 17, size=(n, 64)).astype(float)
    return Dataset(name="digits_like", description="random 8×8 images", columns=[f"p{i}" for i in range(64)],
                   train=x, test=x[: n // 4], image_shape=(8, 8))


# ----------------------------------------------------------------------------- the gradient penalty

def test_gradient_penalty_is_taken_on_interpolates_between_paired_rows() -> None:
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(64, 3, generator=g), torch.randn(64, 3, generator=g) + 5.0
    w = torch.tensor([0.3, -2.0, 1.5])
    penalty, x_hat = gradient_penalty(lambda x: x @ w, real, fake, torch.Generator().manual_seed(1))
    # each interpolate lies on the segment from its fake row to its real row: x̂ = ε·real + (1 − ε)·fake
    eps = ((x_hat - fake) * (real - fake)).sum(1) / ((real - fake) ** 2).sum(1)
    assert torch.allclose(x_hat, eps[:, None] * real + (1 - eps[:, None]) * fake, atol=1e-5)
    assert bool(((eps >= 0) & (eps <= 1)).all())
    assert eps.std() > 0.1                                  # one ε per row, not one for the batch
    assert not torch.allclose(x_hat, real) and not torch.allclose(x_hat, fake)
    # linear critic d(x) = w·x: ∇d = w everywhere, so the penalty is (‖w‖ − 1)²
    assert penalty.item() == pytest.approx((w.norm().item() - 1.0) ** 2, rel=1e-5)


def test_gradient_penalty_is_zero_for_a_unit_gradient_and_differentiable_in_the_critic() -> None:
    w = torch.tensor([0.6, 0.8], requires_grad=True)        # ‖w‖ = 1
    penalty, _ = gradient_penalty(lambda x: x @ w, torch.randn(8, 2), torch.randn(8, 2))
    assert penalty.item() == pytest.approx(0.0, abs=1e-10)
    w2 = torch.tensor([3.0, 4.0], requires_grad=True)       # ‖w‖ = 5: penalty 16, d/dw = 2(‖w‖−1)·w/‖w‖
    penalty, _ = gradient_penalty(lambda x: x @ w2, torch.randn(8, 2), torch.randn(8, 2))
    penalty.backward()
    assert penalty.item() == pytest.approx(16.0)
    assert torch.allclose(w2.grad, 2 * 4.0 * w2.detach() / 5.0)


def test_gradient_penalty_handles_image_batches_with_one_eps_per_image() -> None:
    real, fake = torch.zeros(4, 1, 3, 3), torch.ones(4, 1, 3, 3)
    penalty, x_hat = gradient_penalty(lambda x: x.flatten(1).sum(1), real, fake, torch.Generator().manual_seed(0))
    assert x_hat.shape == real.shape
    per_image = x_hat.flatten(1)
    assert torch.allclose(per_image, per_image[:, :1].expand_as(per_image))  # 1 − ε, constant in each image
    assert penalty.item() == pytest.approx((3.0 - 1.0) ** 2)                 # ‖∇‖ = √9


# ----------------------------------------------------------------------------- really learning

@pytest.mark.parametrize("name, steps", [("wgan_gp", 200), ("gan", 300)])
def test_gan_moves_its_samples_to_the_data(name: str, steps: int) -> None:
    ds = gaussian_dataset(n_train=1000, n_test=200, mean=(3.0, -2.0), std=(1.0, 0.5))
    fast = {**SMALL, "lr_g": 1e-3, "lr_d": 4e-3}           # the defaults are tuned for thousands of steps
    spec = TrainSpec(model=name, dataset=ds, config=fast, steps=steps, batch_size=128, seed=0, device="cpu",
                     transform="none", eval_period_s=None)
    fitted = build(spec, CPU)
    before = np.abs(fitted.sample(1000, seed=1).mean(0) - ds.train.mean(0)).max()
    _, logs = fit_existing(spec, fitted)
    after = np.abs(fitted.sample(1000, seed=1).mean(0) - ds.train.mean(0)).max()
    assert before > 1.5                                     # starts far from (3, −2)
    assert after < 0.2 * before and after < 0.5, (before, after)
    assert all(math.isfinite(v) for log in logs for v in log.values())
    assert {"loss", "d_loss", "g_loss"} <= set(logs[-1])
    if name == "wgan_gp":
        assert {"gp", "wasserstein"} <= set(logs[-1]) and logs[-1]["loss"] == logs[-1]["d_loss"]


def fit_existing(spec: TrainSpec, fitted: FittedModel):
    logs: list[dict[str, float]] = []
    train(spec, fitted, lambda p: logs.append(p.losses) if p.losses else None, lambda: False)
    return fitted, logs


@pytest.mark.parametrize("loss", ["ns", "wgan-gp"])
def test_dcgan_trains_on_image_rows(loss: str) -> None:
    ds = digits_like()
    spec = TrainSpec(model="dcgan", dataset=ds, config={**SMALL_CONV, "loss": loss}, steps=3, batch_size=32,
                     seed=0, device="cpu", transform="auto", eval_period_s=None)
    fitted, logs = fit(spec)
    assert len(logs) == 3 and all(math.isfinite(v) for log in logs for v in log.values())
    samples = fitted.sample(10, seed=0)
    assert samples.shape == (10, 64) and np.isfinite(samples).all()
    model = fitted.model
    x = torch.randn(5, 64)
    assert model.critic(x).shape == (5,)
    assert model.critic_features(x).shape == (5, SMALL_CONV["d_width"])


@pytest.mark.parametrize("shape", [(8, 8), (3, 32, 32), (1, 5, 7), (28, 28)])
def test_dcgan_handles_any_image_size(shape) -> None:
    n_features = math.prod(shape)
    model = make("dcgan", n_features, image_shape=shape, spectral_norm=True)
    losses = model.train_step(torch.randn(8, n_features))
    assert all(math.isfinite(v) for v in losses.values())
    model.train(False)
    assert model.sample(3).shape == (3, n_features)
    assert model.critic(torch.randn(3, n_features)).shape == (3,)


def test_dcgan_without_image_shape_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="image_shape"):
        make("dcgan", 64)
    with pytest.raises(ModelError, match="does not match 63 features"):
        make("dcgan", 63, image_shape=(8, 8))
    with pytest.raises(ModelError, match="image_shape"):     # through the engine: a table has no image shape
        build(TrainSpec(model="dcgan", dataset=gaussian_dataset(100, 20), transform="none"), CPU)


# ----------------------------------------------------------------------------- stabilisers

TOGGLES = [
    {"spectral_norm": True}, {"spectral_norm": False},
    {"label_smoothing": True}, {"label_smoothing": False},
    {"instance_noise": 0.5}, {"instance_noise": 0.0},
    {"label_flip": 0.3},
    {"n_critic": 3}, {"n_critic": 1},
    {"lr_g": 1e-4, "lr_d": 4e-4},
    {"g_ema": 0.0},
    {"activation": "elu", "grad_clip": 0.0},
    {"spectral_norm": True, "label_smoothing": True, "instance_noise": 0.3, "label_flip": 0.1, "n_critic": 2},
]


@pytest.mark.parametrize("name", ["gan", "wgan_gp", "dcgan"])
@pytest.mark.parametrize("toggle", TOGGLES, ids=lambda t: ",".join(f"{k}={v}" for k, v in t.items()))
def test_every_stabiliser_runs(name: str, toggle: dict) -> None:
    shape = (8, 8) if name == "dcgan" else None
    d = 64 if shape else 3
    model = make(name, d, image_shape=shape, **toggle)
    model.total_steps = 3
    x = torch.randn(24, d) + 1.0
    for step in range(3):
        model.steps_done = step
        losses = model.train_step(x)
        assert "loss" in losses and all(math.isfinite(v) for v in losses.values()), losses
    model.train(False)
    assert torch.isfinite(model.sample(5)).all()


def test_n_critic_discriminator_updates_per_generator_update() -> None:
    model = make("wgan_gp", 2, n_critic=3)
    model.train_step(torch.randn(30, 2))
    model.train_step(torch.randn(30, 2))
    steps = lambda opt: int(next(iter(opt.state.values()))["step"])  # noqa: E731
    assert steps(model.opt_d) == 6 and steps(model.opt_g) == 2
    tiny = make("wgan_gp", 2, n_critic=5)                   # batch smaller than 2·n_critic: whole batch each time
    assert math.isfinite(tiny.train_step(torch.randn(6, 2))["loss"])


def test_label_smoothing_is_ignored_by_the_wasserstein_loss() -> None:
    x = torch.randn(32, 2)
    runs = []
    for smoothing in (True, False):
        model = make("wgan_gp", 2, label_smoothing=smoothing, n_critic=2)
        runs.append([model.train_step(x) for _ in range(2)])
    assert runs[0] == runs[1]


def test_instance_noise_decays_linearly_to_zero_over_training() -> None:
    ds = gaussian_dataset(n_train=200, n_test=50)
    spec = TrainSpec(model="gan", dataset=ds, config={**SMALL, "instance_noise": 0.8}, steps=9, batch_size=32,
                     seed=0, device="cpu", transform="none", eval_period_s=None)
    _, logs = fit(spec)
    stds = [log["noise_std"] for log in logs]
    assert stds[0] == pytest.approx(0.8) and stds[-1] == 0.0
    assert np.allclose(stds, np.linspace(0.8, 0.0, 9))
    off = make("gan", 2, instance_noise=0.0)
    assert off.instance_noise_std() == 0.0


def test_seeded_training_reproduces() -> None:
    ds = gaussian_dataset(n_train=200, n_test=50)
    spec = TrainSpec(model="wgan_gp", dataset=ds, config={**SMALL, "label_flip": 0.2, "instance_noise": 0.2},
                     steps=5, batch_size=32, seed=3, device="cpu", transform="none", eval_period_s=None)
    (a, logs_a), (b, logs_b) = fit(spec), fit(spec)
    assert logs_a == logs_b
    assert np.array_equal(a.sample(20, seed=1), b.sample(20, seed=1))


# ----------------------------------------------------------------------------- persistence and API

@pytest.mark.parametrize("name, overrides", [("gan", {"spectral_norm": True}), ("wgan_gp", {"g_ema": 0.0}),
                                             ("dcgan", {"spectral_norm": True, "loss": "wgan-gp"})])
def test_checkpoint_round_trip_gives_identical_samples_and_scores(name, overrides, tmp_path) -> None:
    ds = digits_like() if name == "dcgan" else gaussian_dataset(n_train=200, n_test=50)
    config = {**(SMALL_CONV if name == "dcgan" else SMALL), **overrides}
    spec = TrainSpec(model=name, dataset=ds, config=config, steps=3, batch_size=32, seed=0, device="cpu",
                     transform="auto" if name == "dcgan" else "none", eval_period_s=None)
    fitted, _ = fit(spec)
    state = fitted.model.state_dict()
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    if overrides.get("spectral_norm"):
        assert any("parametrizations.weight.original" in k for k in state)
    loaded = FittedModel.load(fitted.save(tmp_path / "gan.pt"))
    assert np.array_equal(fitted.sample(50, seed=7), loaded.sample(50, seed=7))
    x = torch.as_tensor(ds.test[:8], dtype=torch.float32)
    assert torch.equal(fitted.model.critic(x), loaded.model.critic(x))
    assert torch.equal(fitted.model.critic_features(x), loaded.model.critic_features(x))
    fresh = make(name, ds.n_features, image_shape=ds.image_shape, seed=99, **overrides)
    assert not torch.equal(fresh.critic(x), loaded.model.critic(x))


def test_sampling_uses_eval_mode_and_does_not_disturb_training_state() -> None:
    model = make("dcgan", 64, image_shape=(8, 8))
    model.train_step(torch.randn(16, 64))
    fitted = FittedModel(model, _identity(), [f"p{i}" for i in range(64)])
    a, b = fitted.sample(1, seed=0), fitted.sample(1, seed=0)  # one row: batch norm must use running stats
    assert np.array_equal(a, b)
    assert model.generator.training and model.discriminator.training
    x = torch.randn(4, 64)
    assert torch.equal(model.critic(x), model.critic(x))  # no spectral-norm power iteration when scoring


def _identity():
    from genlib.transforms import make_transform
    return make_transform("none", np.zeros((2, 64)))


def test_registry_entries() -> None:
    for name in ("gan", "wgan_gp", "dcgan"):
        cls = REGISTRY[name]
        assert cls.family == "GAN" and cls.capabilities == frozenset({Capability.SAMPLE, Capability.ADVERSARIAL})
        assert cls.label and cls.formula and len(cls.summary.split(". ")) >= 3
        assert cls.iterative and cls.default_steps > 0
    assert REGISTRY["wgan_gp"].Config().n_critic == 5 and REGISTRY["wgan_gp"].Config().gp_lambda == 10.0
    assert REGISTRY["dcgan"].Config().loss in ("ns", "wgan-gp")
    assert REGISTRY["dcgan"].needs_images and not REGISTRY["gan"].needs_images and not REGISTRY["wgan_gp"].needs_images
    with pytest.raises(ModelError, match="loss must be one of ns, wgan-gp"):
        model_config("dcgan", {"loss": "hinge"})
    model = make("gan", 3)
    assert model.critic_features(torch.randn(4, 3)).shape == (4, SMALL["d_width"])
