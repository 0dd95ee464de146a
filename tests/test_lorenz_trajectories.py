"""Lorenz trajectories as generative-model data (seed 001): images, windows, the Lorenz map, the chaos table."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from genlib.data import DATASETS, DataError, load_dataset
from genlib.data import lorenz_images as li
from genlib.data.lorenz import lorenz_trajectories
from genlib.data.trajectory_codec import (
    IMAGE_SIDE,
    STEPS_PER_IMAGE,
    ChannelScaler,
    from_images,
    to_images,
    unwindow,
    windows,
)
from genlib.dynamics.trajectories import (
    TABLE_COLUMNS,
    chaos_table,
    fit_return_map,
    return_map,
    z_maxima,
)
from genlib.train.loop import TrainSpec, build, train

CPU = torch.device("cpu")
N_SMALL = 64  # trajectories of the small image data set; the fixture below shares its (memoised) simulation


@pytest.fixture(scope="module")
def traj() -> np.ndarray:
    return lorenz_trajectories(N_SMALL, STEPS_PER_IMAGE, dt=0.1, seed=0)


@pytest.fixture(scope="module")
def images_ds():
    return load_dataset("lorenz_images", n_traj=N_SMALL)


@pytest.fixture(scope="module")
def windows_ds():
    return load_dataset("lorenz_windows", n_traj=8, n_steps=256)


# ---------------------------------------------------------------- simulation


def test_trajectories_shape_attractor_and_memo(traj: np.ndarray) -> None:
    assert traj.shape == (N_SMALL, STEPS_PER_IMAGE, 3) and np.isfinite(traj).all()
    # on the attractor after burn-in: the classic box, z never near 0
    assert np.abs(traj[..., 0]).max() < 25 and np.abs(traj[..., 1]).max() < 32
    assert 0.5 < traj[..., 2].min() and traj[..., 2].max() < 52
    again = lorenz_trajectories(N_SMALL, STEPS_PER_IMAGE, dt=0.1, seed=0)
    np.testing.assert_array_equal(again, traj)
    again[0, 0, 0] = 1e9  # a copy: the memo is not corrupted by callers
    assert lorenz_trajectories(N_SMALL, STEPS_PER_IMAGE, dt=0.1, seed=0)[0, 0, 0] == traj[0, 0, 0]
    assert not np.array_equal(lorenz_trajectories(2, 50, seed=1), lorenz_trajectories(2, 50, seed=2))
    with pytest.raises(DataError, match="limit"):
        lorenz_trajectories(2000, 2000, dt=0.01)


# ---------------------------------------------------------------- images


def test_image_layout_is_raster_order_by_hand() -> None:
    t = np.arange(STEPS_PER_IMAGE, dtype=np.float64)
    tr = np.stack([t, 1000 + t, 2000 + t], axis=1)[None]  # x = step, y = 1000 + step, z = 2000 + step
    img = to_images(tr)
    assert img.shape == (1, 3, IMAGE_SIDE, IMAGE_SIDE) and img.dtype == np.float64
    r, k = np.meshgrid(np.arange(IMAGE_SIDE), np.arange(IMAGE_SIDE), indexing="ij")
    np.testing.assert_array_equal(img[0, 0], IMAGE_SIDE * r + k)  # channel 0 = x, time left→right, top→bottom
    assert img[0, 0, 0, 1] == 1 and img[0, 0, 1, 0] == 32 and img[0, 1, 0, 1] == 1001 and img[0, 2, 31, 31] == 3023
    np.testing.assert_array_equal(from_images(img), tr)  # the layout alone is bit-exact
    np.testing.assert_array_equal(from_images(img.reshape(1, -1)), tr)  # flattened rows decode the same way
    with pytest.raises(DataError, match="1024"):
        to_images(tr[:, :1000])


def test_image_round_trip_float64_and_float32(traj: np.ndarray) -> None:
    scaler = ChannelScaler.fit(traj)
    img = to_images(traj, scaler)
    assert img.dtype == np.float64 and img.min() == -1.0 and img.max() == 1.0
    back = from_images(img, scaler)
    np.testing.assert_allclose(back, traj, rtol=0, atol=1e-13 * np.abs(traj).max())
    img32 = to_images(traj.astype(np.float32), scaler)
    assert img32.dtype == np.float32
    np.testing.assert_allclose(from_images(img32, scaler), traj, atol=1e-4 * np.abs(traj).max())


def test_scaler_maps_each_channel_onto_minus_one_one_and_saves_as_json(traj: np.ndarray) -> None:
    scaler = ChannelScaler.fit(traj)
    s = scaler.scale(traj)
    np.testing.assert_allclose(s.reshape(-1, 3).min(axis=0), -1.0)
    np.testing.assert_allclose(s.reshape(-1, 3).max(axis=0), 1.0)
    np.testing.assert_allclose(scaler.unscale(s), traj, atol=1e-12)
    state = json.loads(json.dumps(scaler.state_dict()))
    again = ChannelScaler.from_state(state)
    np.testing.assert_array_equal(again.low, scaler.low)
    np.testing.assert_array_equal(again.high, scaler.high)
    const = ChannelScaler.fit(np.ones((5, 3)))  # a constant channel must not divide by zero
    assert np.isfinite(const.scale(np.ones((5, 3)))).all()
    with pytest.raises(DataError):
        ChannelScaler.fit(np.full((4, 3), np.nan))


# ---------------------------------------------------------------- windows


def test_windows_flatten_in_time_order_and_round_trip() -> None:
    tr = np.arange(2 * 10 * 3, dtype=np.float64).reshape(2, 10, 3)
    w = windows(tr, length=4, stride=3)  # starts 0, 3, 6 in each of 2 trajectories
    assert w.shape == (6, 12)
    np.testing.assert_array_equal(w[0], tr[0, 0:4].ravel())  # (x0, y0, z0, x1, …)
    np.testing.assert_array_equal(w[2], tr[0, 6:10].ravel())
    np.testing.assert_array_equal(w[3], tr[1, 0:4].ravel())  # never straddles two trajectories
    np.testing.assert_array_equal(unwindow(w, 4)[4], tr[1, 3:7])
    assert windows(tr[0], 10, 1).shape == (1, 30)
    with pytest.raises(DataError):
        windows(tr, 11, 1)
    with pytest.raises(DataError):
        unwindow(w, 5)


# ---------------------------------------------------------------- the Lorenz map


def test_z_maxima_on_known_signals() -> None:
    np.testing.assert_array_equal(z_maxima([0, 1, 0, 2, 2, 0, 3, 1], refine="none"), [1.0, 3.0])  # no plateaus
    t = np.arange(-3, 4, dtype=np.float64)
    np.testing.assert_allclose(z_maxima(5 - (t - 0.3) ** 2, refine="parabola"), [5.0])  # exact for a parabola
    time = np.arange(400) * 0.1
    z = np.sin(2 * np.pi * time / 0.7)  # 7 samples per period: sampled peaks fall short of 1
    raw, par, spl = (z_maxima(z, r) for r in ("none", "parabola", "spline"))
    assert len(raw) == len(par) == len(spl) == 57
    assert np.all(raw < par) and np.all(par <= 1.0 + 1e-9)
    assert np.abs(spl - 1).mean() < np.abs(par - 1).mean() < np.abs(raw - 1).mean() and np.abs(spl - 1).max() < 0.01
    assert len(z_maxima([1.0, np.nan, 2.0, 1.0])) == 0 and len(z_maxima([1.0])) == 0
    with pytest.raises(DataError):
        z_maxima(z, refine="cubic")


def test_return_map_is_the_classic_cusp(traj: np.ndarray) -> None:
    zn, zn1 = return_map(traj[..., 2])
    assert len(zn) == len(zn1) > 5000
    kx, ky = fit_return_map(zn, zn1)
    top = kx[np.argmax(ky)]
    assert 36 < top < 41  # the peak of Lorenz's map sits near z ≈ 38.5
    left, right = zn < top - 1, zn > top + 1
    assert spearmanr(zn[left], zn1[left]).statistic > 0.95  # increasing left of the peak
    assert spearmanr(zn[right], zn1[right]).statistic < -0.8  # decreasing right of it
    # successive maxima of different trajectories are never paired
    assert len(return_map(traj[:2, :, 2])[0]) == sum(len(z_maxima(traj[i, :, 2])) - 1 for i in range(2))


# ---------------------------------------------------------------- "is the chaos preserved?"


def _cell(df, check: str, coord: str, col: str = "generated") -> float:
    rows = df[df["check"].str.startswith(check) & (df["coordinate"] == coord)]
    assert len(rows) == 1, (check, coord)
    return float(rows[col].iloc[0])


def test_chaos_table_real_vs_real_agrees(traj: np.ndarray) -> None:
    real, other = traj[:32], traj[32:]
    df = chaos_table(real, other, dt=0.1, max_traj=6)
    assert list(df.columns) == TABLE_COLUMNS
    for coord in ("x", "y", "z", "xyz"):
        r, g = _cell(df, "Lyapunov", coord, "real"), _cell(df, "Lyapunov", coord)
        assert 0.6 < r < 1.5 and abs(r - g) < 0.25, (coord, r, g)
    assert abs(_cell(df, "Lyapunov", "xyz", "real") - 0.9056) < 0.2
    for coord in ("x", "y", "z"):
        assert _cell(df, "marginal W1", coord) < 3 * _cell(df, "marginal W1", coord, "real") + 0.1
        assert _cell(df, "marginal KS", coord) < 0.06
    assert abs(_cell(df, "z maxima", "z") / _cell(df, "z maxima", "z", "real") - 1) < 0.05
    assert _cell(df, "return-map", "z") < 1.5 * _cell(df, "return-map", "z", "real")
    assert abs(_cell(df, "mean |state", "xyz") / _cell(df, "mean |state", "xyz", "real") - 1) < 0.05


def test_chaos_table_flags_garbage_without_crashing(traj: np.ndarray) -> None:
    real = traj[:32]
    rng = np.random.default_rng(0)
    # Noise with the attractor's own mean and spread per coordinate: only the dynamics give it away.
    noise = rng.normal(real.mean(axis=(0, 1)), real.std(axis=(0, 1)), size=(6, STEPS_PER_IMAGE, 3))
    df = chaos_table(real, noise, dt=0.1, max_traj=4)
    assert _cell(df, "Lyapunov", "xyz") > 3 * _cell(df, "Lyapunov", "xyz", "real")
    assert _cell(df, "z maxima", "z") > 2 * _cell(df, "z maxima", "z", "real")
    assert _cell(df, "return-map", "z") > 4 * _cell(df, "return-map", "z", "real")
    assert _cell(df, "marginal KS", "z") > 2 * _cell(df, "marginal KS", "z", "real")
    # Independent draws jump across the attractor at every step: the step size gives noise away at once.
    assert _cell(df, "mean |state", "xyz") > 2 * _cell(df, "mean |state", "xyz", "real")

    const = np.ones((3, STEPS_PER_IMAGE, 3))
    const[0, 10] = np.nan  # a diverged sample: left out, and said so
    df = chaos_table(real, const, dt=0.1, max_traj=4)
    lyap = df[df["check"].str.startswith("Lyapunov")]
    assert lyap["generated"].isna().all() and lyap["note"].str.contains("constant").all()
    assert np.isfinite(lyap["real"]).all()
    assert _cell(df, "marginal W1", "z") > 10
    assert np.isnan(_cell(df, "return-map", "z"))
    assert df["note"].str.contains("non-finite").all()

    short = chaos_table(real, traj[32:34, :40], dt=0.1, max_traj=2)  # too short for Rosenstein: NaN + reason
    assert short[short["check"].str.startswith("Lyapunov")]["generated"].isna().all()
    assert chaos_table(real, np.full((2, 100, 3), np.inf), dt=0.1, lyapunov=False)["generated"].isna().all()


# ---------------------------------------------------------------- datasets


def test_lorenz_images_dataset(images_ds, traj: np.ndarray) -> None:
    ds = images_ds
    assert ds.image_shape == (3, IMAGE_SIDE, IMAGE_SIDE) == li.IMAGE_SHAPE
    assert ds.n_features == 3 * STEPS_PER_IMAGE and ds.columns[37] == "x37" and ds.columns[1024] == "y0"
    assert len(ds.train) + len(ds.test) == N_SMALL and len(ds.test) == round(0.2 * N_SMALL)
    assert ds.train.min() >= -1.0 and ds.train.max() <= 1.0 and ds.test.min() >= -1.0 and ds.test.max() <= 1.0
    assert set(ds.params) == {p.name for p in DATASETS["lorenz_images"].params}
    # the scaler recomputed from the params decodes the rows back to the simulated trajectories
    scaler = li.lorenz_images_scaler(ds)
    decoded = from_images(np.concatenate([ds.train, ds.test]), scaler)
    sims = {tuple(np.round(t[0], 9)) for t in traj}
    assert all(tuple(np.round(d[0], 9)) in sims for d in decoded)
    np.testing.assert_array_equal(li.lorenz_images_scaler(ds.params).low, scaler.low)
    with pytest.raises(DataError):
        li.lorenz_images_scaler(load_dataset("digits"))


def test_lorenz_windows_dataset(windows_ds) -> None:
    ds = windows_ds
    assert ds.n_features == 48 and ds.columns[:4] == ["x0", "y0", "z0", "x1"] and ds.image_shape is None
    per_traj = (256 - 16) // 8 + 1
    assert len(ds.train) + len(ds.test) == 8 * per_traj
    full = lorenz_trajectories(8, 256, dt=0.1, seed=0)
    all_windows = {tuple(np.round(w, 9)) for w in windows(full, 16, 8)}
    assert all(tuple(np.round(w, 9)) in all_windows for w in ds.train[:20])
    with pytest.raises(DataError, match="length"):
        load_dataset("lorenz_windows", n_steps=32, length=64)


# ---------------------------------------------------------------- models train on them


def test_dcgan_with_seed_stabilisers_trains_on_lorenz_images(images_ds) -> None:
    config = dict(g_channels=8, d_channels=8, d_width=32, latent_dim=16,
                  spectral_norm=True, lr_g=2e-4, lr_d=8e-4,           # spectral norm, TTUR (D 4× faster)
                  label_smoothing=True, instance_noise=0.1, label_flip=0.05)
    spec = TrainSpec(model="dcgan", dataset=images_ds, config=config, steps=24, batch_size=32, seed=0,
                     device="cpu", transform="auto", eval_period_s=None)
    fitted = build(spec, CPU)
    before = fitted.sample(16, seed=0)
    logs: list[dict[str, float]] = []
    assert train(spec, fitted, lambda p: logs.append(p.losses), lambda: False) == 24
    assert all(np.isfinite(v) for log in logs for v in log.values())
    assert logs[0]["noise_std"] == pytest.approx(0.1) and logs[-1]["noise_std"] == 0.0  # instance noise fades
    # D learns to tell real from generated trajectories (a D or a loss that does nothing stays at 2 log 2)
    last = logs[-6:]
    assert np.mean([log["d_loss"] for log in last]) < logs[0]["d_loss"] - 0.3
    assert np.mean([log["d_real"] for log in last]) > np.mean([log["d_fake"] for log in last]) + 0.3
    after = fitted.sample(16, seed=0)
    assert after.shape == (16, 3 * STEPS_PER_IMAGE) and np.isfinite(after).all()
    assert np.abs(after - before).mean() > 1e-3  # G moved
    assert after.std(axis=0).mean() > 1e-3  # not one image for every z
    decoded = from_images(after, li.lorenz_images_scaler(images_ds))
    assert decoded.shape == (16, STEPS_PER_IMAGE, 3) and np.isfinite(decoded).all()


@pytest.mark.parametrize("model", ["vae", "realnvp"])
def test_vae_and_flow_train_on_lorenz_windows(windows_ds, model: str) -> None:
    spec = TrainSpec(model=model, dataset=windows_ds, steps=40, batch_size=128, seed=0, device="cpu",
                     eval_period_s=None)
    fitted = build(spec, CPU)
    logs: list[dict[str, float]] = []
    train(spec, fitted, lambda p: logs.append(p.losses), lambda: False)
    losses = [log["loss"] for log in logs]
    assert np.isfinite(losses).all() and np.mean(losses[-5:]) < np.mean(losses[:5])
    samples = unwindow(fitted.sample(64, seed=0), 16)
    assert samples.shape == (64, 16, 3) and np.isfinite(samples).all()
