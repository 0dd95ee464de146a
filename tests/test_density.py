"""genlib.density and genlib.figures.density: densities in data units on a 2-D grid (they integrate to one and
equal the models' own log-likelihoods), held-out comparisons, the KDE bandwidth sweep, and a GAN critic that
can be read while the model trains without changing the run."""
from __future__ import annotations

import threading

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from scipy import stats
from conftest import SAFETY_TIMEOUT
from scipy.special import logsumexp

from genlib import figures
from genlib.data.toy2d import load_toy2d
from genlib.density import (Grid, best_bandwidth, critic_kind, critic_on_grid, critic_values, density_on_grid,
                            fit_classical, fit_density_models, generated_points, heldout_table, integral,
                            kde_bandwidth_sweep, log_density)
from genlib.metrics.likelihood import held_out_log_likelihood
from genlib.models import FittedModel, ModelError
from genlib.train import TrainSpec, build, train

CPU = torch.device("cpu")
FLOW_CONFIGS = {"maf": {"n_layers": 4, "width": 32}, "nsf": {"n_layers": 2, "width": 32, "bins": 8},
                "realnvp": {"n_layers": 4, "width": 32}}
GAN_CONFIG = {"g_width": 64, "d_width": 64, "g_depth": 2, "d_depth": 2, "lr_g": 1e-3, "lr_d": 4e-3}
TOL = 0.03  # grid mass vs 1


@pytest.fixture(scope="module")
def moons():
    return load_toy2d("moons", n=2000, noise=0.05, seed=0)


@pytest.fixture(scope="module")
def eight():
    return load_toy2d("8gaussians", n=2000, noise=0.05, seed=0)


@pytest.fixture(scope="module")
def wide_grid(moons) -> Grid:
    """Covers a Gaussian fitted to moons out to > 3σ (margin 0.5 × the data's range on each side)."""
    return Grid.around(moons.train, n=150, margin=0.5)


@pytest.fixture(scope="module")
def classical(moons) -> dict[str, FittedModel]:
    """Gaussian and GMM fitted in standardised space (so the log-determinant matters), KDE in data units."""
    return {"gaussian": fit_classical(moons.train, "gaussian", transform="standardize"),
            "gmm": fit_classical(moons.train, "gmm", {"n_components": 8}, transform="standardize"),
            "kde": fit_classical(moons.train, "kde", {"bandwidth_rule": "manual", "bandwidth": 0.1})}


def train_here(name: str, dataset, config: dict, steps: int) -> FittedModel:
    """Build + the shared training loop, in this thread. (A fresh thread would not inherit the suite's one
    OpenMP thread, ``omp_set_num_threads`` being per thread: a flow trained 5x slower there on 2 busy CPUs.)"""
    spec = TrainSpec(model=name, dataset=dataset, config=config, steps=steps, batch_size=128, seed=0, device="cpu",
                     eval_period_s=None)
    fitted = build(spec, CPU)
    train(spec, fitted, lambda p: None, lambda: False)
    return fitted


def train_job(name: str, dataset, config: dict, steps: int, poke=None,
              meet_every: int = 50) -> tuple[FittedModel, int]:
    """Train as a job does (build + the shared loop, in a background thread), calling ``poke(fitted)`` in this
    thread for as long as training runs; returns the model and how many pokes overlapped training.

    The threads run freely, but every ``meet_every`` steps the training thread waits (between two steps, in the
    progress report) until one more poke has finished since its last such wait: however the two threads are
    scheduled, at least ``steps // meet_every`` pokes overlap training."""
    spec = TrainSpec(model=name, dataset=dataset, config=config, steps=steps, batch_size=128, seed=0, device="cpu",
                     eval_period_s=None)
    fitted = build(spec, CPU)
    poked = threading.Semaphore(0)   # one release per finished poke
    errors: list[str] = []

    def report(p) -> None:
        if poke is not None and p.step % meet_every == 0 and not poked.acquire(timeout=SAFETY_TIMEOUT):
            errors.append(f"no poke finished in {SAFETY_TIMEOUT}s before step {p.step}")
            raise RuntimeError(errors[-1])

    def body() -> None:
        torch.set_num_threads(1)   # this thread's own OpenMP team (see train_here)
        train(spec, fitted, report, lambda: False)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    pokes = 0
    if poke is not None:
        while thread.is_alive():
            poke(fitted)
            pokes += 1
            poked.release()
            thread.join(0.005)   # pace the pokes (back to back, they held the GIL and slowed training 8x)
    thread.join()
    assert not errors, errors
    return fitted, pokes


@pytest.fixture(scope="module", params=list(FLOW_CONFIGS))
def flow(request, moons) -> FittedModel:
    fitted = train_here(request.param, moons, FLOW_CONFIGS[request.param], steps=250)
    assert fitted.transform.state_dict()["kind"] == "standardize"   # "auto" on moons: the log-det is not 0
    return fitted


@pytest.fixture(scope="module")
def gan(eight) -> FittedModel:
    return train_job("gan", eight, GAN_CONFIG, steps=300)[0]


@pytest.fixture(scope="module")
def wgan(eight) -> FittedModel:
    return train_here("wgan_gp", eight, GAN_CONFIG, steps=150)


# ----------------------------------------------------------------------------- the grid

def test_grid_cells_cover_the_box_and_points_match_the_heatmap_layout() -> None:
    data = np.array([[-1.0, 2.0], [3.0, 4.0]])
    grid = Grid.around(data, n=40, margin=0.25)
    assert grid.xlim == pytest.approx((-2.0, 4.0)) and grid.ylim == pytest.approx((1.5, 4.5))
    assert grid.cell_area * grid.n ** 2 == pytest.approx(6.0 * 3.0)
    pts = grid.points.reshape(40, 40, 2)
    assert np.allclose(pts[3, 7], (grid.xs[7], grid.ys[3]))      # [iy, ix], as Heatmap(x=xs, y=ys, z) draws it
    assert grid.xs[0] == pytest.approx(-2.0 + grid.dx / 2) and grid.ys[-1] == pytest.approx(4.5 - grid.dy / 2)
    assert integral(np.full(grid.shape, 1 / 18.0), grid) == pytest.approx(1.0)
    square = Grid.around(data, square=True)
    assert square.xlim[1] - square.xlim[0] == pytest.approx(square.ylim[1] - square.ylim[0])
    with pytest.raises(ValueError):
        Grid((1.0, 1.0), (0.0, 1.0))


# ----------------------------------------------------------------------------- densities integrate to one

@pytest.mark.parametrize("name", ["gaussian", "gmm", "kde"])
def test_classical_densities_integrate_to_one(classical, wide_grid, name) -> None:
    p = density_on_grid(classical[name], wide_grid)
    assert p.shape == (150, 150) and np.all(np.isfinite(p)) and np.all(p >= 0)
    assert abs(integral(p, wide_grid) - 1.0) < TOL


def test_flow_density_integrates_to_one_and_beats_a_gaussian(flow, classical, moons) -> None:
    grid = Grid.around(moons.train, n=200, margin=0.5)
    assert abs(integral(density_on_grid(flow, grid), grid) - 1.0) < TOL
    table = heldout_table({"gaussian": classical["gaussian"], "flow": flow}, moons.test, grid=grid)
    assert table.set_index("model").loc["flow", "heldout_ll"] > table.set_index("model").loc["gaussian", "heldout_ll"]


def test_a_grid_too_small_for_the_tails_holds_less_mass(classical, moons) -> None:
    tight = Grid.around(moons.train, n=150, margin=0.0)
    assert integral(density_on_grid(classical["gaussian"], tight), tight) < 0.95


# ----------------------------------------------------------------------------- grid densities = the models' own

def test_gaussian_grid_density_is_the_data_space_mle_gaussian(classical, wide_grid, moons) -> None:
    """Fitted in standardised space, mapped back with the log-determinant: the MLE Gaussian of the data."""
    reference = stats.multivariate_normal(moons.train.mean(0), np.cov(moons.train.T, bias=True))
    logp = density_on_grid(classical["gaussian"], wide_grid, log=True)
    np.testing.assert_allclose(logp.ravel(), reference.logpdf(wide_grid.points), atol=2e-4)


def test_kde_grid_density_is_the_kernel_sum(classical, wide_grid, moons) -> None:
    """Against the KDE written out, log p(x) = logsumexp_i(−|x − x_i|²/2h²) − log n − log 2πh², where
    log p > −25: beyond that scikit-learn's tree bounds (which the registry's KDE uses) lose accuracy
    (scikit-learn #7492, #25799), harmless for a picture clipped 4 decades below its peak."""
    h, pts = 0.1, wide_grid.points[::7]
    d2 = ((pts[:, None, :] - moons.train[None, :, :]) ** 2).sum(-1)
    exact = logsumexp(-d2 / (2 * h * h), axis=1) - np.log(len(moons.train)) - np.log(2 * np.pi * h * h)
    ours = density_on_grid(classical["kde"], wide_grid, log=True).ravel()[::7]
    shown = exact > -25
    assert shown.mean() > 0.2
    np.testing.assert_allclose(ours[shown], exact[shown], atol=1e-3)


def test_grid_density_equals_the_held_out_log_likelihood_metric_point_by_point(classical, flow, wide_grid) -> None:
    """exp of the metric's log-likelihood (genlib.metrics.likelihood, one row at a time) at grid points."""
    rows = wide_grid.points[np.random.default_rng(0).choice(wide_grid.n ** 2, 12, replace=False)]
    for fitted in [classical["gmm"], classical["gaussian"], flow]:
        ours = log_density(fitted, rows)
        metric = [2 * held_out_log_likelihood(fitted, row[None]) for row in rows]   # nats/dim × 2 dims
        np.testing.assert_allclose(ours, metric, rtol=1e-5, atol=1e-4)
        p = density_on_grid(fitted, wide_grid).ravel()
        idx = [int(np.flatnonzero(np.all(wide_grid.points == row, axis=1))[0]) for row in rows]
        # down to densities of 1e-12: log-densities that agree to 1e-4 (above) give exponentials within ~1e-4
        np.testing.assert_allclose(p[idx], np.exp(metric), rtol=2e-4)


def test_models_without_an_exact_density_are_refused(moons) -> None:
    vae = build(TrainSpec(model="vae", dataset=moons, device="cpu"), CPU)
    with pytest.raises(ModelError, match="ELBO"):
        density_on_grid(vae, Grid.around(moons.train, n=10))


# ----------------------------------------------------------------------------- comparisons

def test_gmm_beats_a_single_gaussian_on_held_out_8gaussians(eight) -> None:
    models = fit_density_models(eight.train, n_components=8, bandwidth=0.15)
    table = heldout_table(models, eight.test, train=eight.train).set_index("model")
    assert list(table.index) == ["Gaussian", "GMM", "KDE"]
    assert table.loc["GMM", "heldout_ll"] > table.loc["Gaussian", "heldout_ll"] + 1.0
    assert table.loc["GMM", "heldout_ll_per_dim"] == pytest.approx(held_out_log_likelihood(models["GMM"], eight.test))
    assert np.all(np.abs(table["grid_integral"] - 1.0) < TOL)


def test_kde_sweep_extremes_score_worse_than_the_best(moons) -> None:
    hs = np.geomspace(1e-3, 10.0, 13)
    sweep = kde_bandwidth_sweep(moons.train, moons.test, hs)
    held = sweep["heldout_ll"].to_numpy()
    best = int(np.argmax(held))
    assert sweep["best"].sum() == 1 and sweep["best"].iloc[best]
    assert 0 < best < len(hs) - 1
    assert held[0] < held[best] - 1.0 and held[-1] < held[best] - 1.0
    # Under-smoothing over-fits: tiny h scores its own training points far above held-out ones.
    assert sweep["train_ll"].iloc[0] > held[0] + 5.0
    # The registry's KDE at the best h is the same estimator: the same held-out number.
    h = best_bandwidth(sweep)
    kde = fit_classical(moons.train, "kde", {"bandwidth_rule": "manual", "bandwidth": h})
    assert np.mean(log_density(kde, moons.test)) == pytest.approx(held[best], abs=1e-4)


# ----------------------------------------------------------------------------- the GAN critic

def test_critic_on_grid_is_finite_and_tells_the_data_from_far_away(gan, wgan, eight) -> None:
    grid = Grid.around(eight.train, n=60, margin=0.5)
    dist = np.min(np.linalg.norm(grid.points[:, None] - eight.train[None, ::10], axis=2), axis=1)
    near, far = dist < 0.2, dist > 1.5
    for fitted, kind, gap in [(gan, "probability", 0.02), (wgan, "critic", 0.1)]:
        values = critic_on_grid(fitted, grid)
        assert critic_kind(fitted) == kind and values.shape == (60, 60) and np.all(np.isfinite(values))
        assert abs(values.ravel()[near].mean() - values.ravel()[far].mean()) > gap
    probs = critic_on_grid(gan, grid)
    assert np.all((probs > 0) & (probs < 1))
    # Data units in, the discriminator sees model space; BCE outputs go through the sigmoid.
    x = eight.test[:50]
    expected = torch.sigmoid(gan.model.critic(gan.to_model_space(x))).double().numpy()
    np.testing.assert_allclose(critic_values(gan, x), expected, rtol=1e-6)
    np.testing.assert_allclose(critic_values(gan, x, raw=True), np.log(expected / (1 - expected)), atol=1e-5)


def test_reading_the_critic_changes_nothing_in_the_model(gan, eight) -> None:
    model = gan.model
    before = {k: v.clone() for k, v in model.state_dict().items()}    # includes spectral norm's u, v vectors
    rng_before = model.rng.get_state()
    critic_on_grid(gan, Grid.around(eight.train, n=30))
    generated_points(gan, 100, seed=3)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert torch.equal(rng_before, model.rng.get_state())
    assert model.discriminator.training and model.generator.training


def test_generated_points_are_the_models_own_samples(gan) -> None:
    assert np.array_equal(generated_points(gan, 200, seed=5), gan.sample(200, seed=5))
    assert not np.array_equal(generated_points(gan, 200, seed=5), generated_points(gan, 200, seed=6))


def test_polling_the_critic_while_it_trains_leaves_the_run_identical(gan, eight) -> None:
    grid = Grid.around(eight.train, n=40)

    def poke(fitted: FittedModel) -> None:
        critic_on_grid(fitted, grid)
        generated_points(fitted, 100, seed=1)

    polled, pokes = train_job("gan", eight, GAN_CONFIG, steps=300, poke=poke)
    assert pokes >= 5
    reference = gan.model.state_dict()
    assert all(torch.equal(v, reference[k]) for k, v in polled.model.state_dict().items())


def test_critic_needs_a_gan(classical) -> None:
    with pytest.raises(ModelError, match="discriminator"):
        critic_on_grid(classical["gaussian"], Grid((0, 1), (0, 1), 5))


# ----------------------------------------------------------------------------- figures

def test_density_figures_share_one_colour_scale_and_clip_the_log_floor(classical, wide_grid, moons) -> None:
    dens = {name: density_on_grid(f, wide_grid) for name, f in classical.items() if name != "kde"}
    single = figures.density.density_heatmap(dens["gmm"], wide_grid, moons.train, moons.test, log=True)
    z = np.asarray(single.data[0].z, dtype=float)
    top = np.log10(dens["gmm"].max())
    assert np.nanmax(z) == pytest.approx(top) and np.nanmin(z) == pytest.approx(top - figures.density.LOG_DECADES)
    assert [t.name for t in single.data[1:]] == ["train", "test"]
    row = figures.density.density_row(dens, wide_grid, moons.train, subtitles={"gmm": "−1.40 nats"})
    heatmaps = [t for t in row.data if isinstance(t, go.Heatmap)]
    assert len(heatmaps) == 2 and {t.coloraxis for t in heatmaps} == {"coloraxis"}
    assert row.layout.coloraxis.cmax == pytest.approx(max(np.log10(d.max()) for d in dens.values()))
    linear = figures.density.density_heatmap(dens["gaussian"], wide_grid, log=False)
    np.testing.assert_allclose(np.asarray(linear.data[0].z, dtype=float), dens["gaussian"])


def test_critic_and_sweep_figures(gan, eight, moons) -> None:
    grid = Grid.around(eight.train, n=30)
    fig = figures.density.critic_heatmap(critic_on_grid(gan, grid), grid, eight.train,
                                       generated_points(gan, 300, seed=0), kind=critic_kind(gan))
    assert fig.data[0].zmin == 0 and fig.data[0].zmax == 1 and [t.name for t in fig.data[1:]] == ["real", "generated"]
    values = critic_on_grid(gan, grid)
    stretched = figures.density.critic_heatmap(values, grid, stretch=True).data[0]
    reach = np.abs(values - 0.5).max()
    assert reach < 0.5 and (stretched.zmin, stretched.zmax) == pytest.approx((0.5 - reach, 0.5 + reach))
    sweep = kde_bandwidth_sweep(moons.train[:400], moons.test[:200], np.geomspace(0.01, 3, 6))
    curve = figures.density.bandwidth_sweep_curve(sweep, marks={"Scott": 0.4})
    star = [t for t in curve.data if t.name and t.name.startswith("best")]
    assert len(star) == 1 and star[0].x[0] == pytest.approx(best_bandwidth(sweep))
    assert curve.layout.xaxis.type == "log"
