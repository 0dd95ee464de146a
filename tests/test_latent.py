"""The latent-space explorer's library (genlib.latent, genlib.figures.latent) and the plain autoencoder ``ae``.

Models are tiny and briefly trained (digits, CPU, one thread); the UMAP tests use 200 points. The first UMAP
call of a process pays numba's compile time (≈ 10-30 s); everything else is quick.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.mixture import GaussianMixture

from conftest import wait_until
from genlib import figures
from genlib.data import DataError, load_dataset
from genlib.latent import (ModelEncoder, bic_aic_curve, best_k, class_means, class_rows, cluster_report,
                           decode, density_grid, embed, embed_cache_info, embed_with_info, fit_gmm, fit_pca,
                           fit_view_density, grid_limits, interpolate, latent_codes, log_likelihood,
                           outlier_threshold, outliers, overall_purity, purity_table, reconstruct,
                           reconstruction_error, sample_and_decode, traverse, umap_error, umap_ready,
                           warm_up_umap)
import importlib
embed_module = importlib.import_module("genlib.latent.embed")  # the package exports the function embed
from genlib.models import FittedModel, ModelError
from genlib.train import TrainSpec, build, train

CPU = torch.device("cpu")
SMALL = {"latent_dim": 4, "enc_width": 64, "dec_width": 64, "lr": 3e-3}


def blobs(n_per: int = 60, centres=((0.0, 0.0, 0.0), (10.0, 0.0, 0.0), (0.0, 10.0, 0.0)), seed: int = 0):
    """Well-separated Gaussian blobs in 3-D and the blob index of each point."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(c, 0.5, size=(n_per, len(c))) for c in centres])
    return x, np.repeat(np.arange(len(centres)), n_per)


def fit_model(name: str, ds, steps: int, config: dict | None = None, seed: int = 0) -> tuple[FittedModel, list]:
    spec = TrainSpec(model=name, dataset=ds, config=config or {}, steps=steps, seed=seed, device="cpu",
                     eval_period_s=None)
    fitted = build(spec, CPU)
    losses: list[float] = []
    train(spec, fitted, lambda p: losses.append(p.losses["loss"]) if p.losses else None, lambda: False)
    return fitted, losses


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def vae_digits(digits) -> FittedModel:
    return fit_model("vae", digits, 150, SMALL)[0]


# ----------------------------------------------------------------------------- codes

def test_vae_codes_batch_and_decode_to_data_units(digits, vae_digits) -> None:
    x = digits.test[:50]
    z = latent_codes(vae_digits, x)
    assert z.shape == (50, 4) and np.all(np.isfinite(z))
    # batching changes nothing
    np.testing.assert_allclose(ModelEncoder(vae_digits, batch_size=7).encode(x), z, rtol=1e-5, atol=1e-6)
    # the codes are the posterior means μ(x) of the model, taken in model space
    mu = vae_digits.model.encode_mean(vae_digits.to_model_space(x)).numpy()
    np.testing.assert_allclose(z, mu, rtol=1e-5, atol=1e-6)
    x_hat = decode(vae_digits, z)
    assert x_hat.shape == (50, 64)
    # decoding goes back through the transform's inverse, i.e. into pixel units, not model units
    f_z = vae_digits.model.decode(torch.as_tensor(z, dtype=torch.float32)).detach().double().numpy()
    np.testing.assert_allclose(x_hat, vae_digits.transform.inverse(f_z), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(reconstruct(vae_digits, x), x_hat, rtol=1e-6, atol=1e-6)


def test_models_without_an_encoder_and_bad_rows_are_refused(digits) -> None:
    gmm, _ = fit_model("gmm", digits, 1, {"n_components": 2})
    with pytest.raises(ModelError, match="no encoder"):
        latent_codes(gmm, digits.test[:5])
    pca = fit_pca(digits.train, 5)
    with pytest.raises(DataError, match="64 columns"):
        latent_codes(pca, digits.test[:5, :10])
    bad = digits.test[:5].copy()
    bad[2, 3] = np.nan
    with pytest.raises(DataError, match="NaN"):
        latent_codes(pca, bad)


def test_pca_with_every_component_reconstructs_exactly_and_fewer_lose_information(digits) -> None:
    full = fit_pca(digits.train)
    assert full.latent_dim == 64
    np.testing.assert_allclose(decode(full, latent_codes(full, digits.test)), digits.test, atol=1e-9)
    assert reconstruction_error(full, digits.test).max() < 1e-18
    assert np.isclose(full.explained_variance_ratio.sum(), 1.0)
    errors = [reconstruction_error(fit_pca(digits.train, k), digits.test).mean() for k in (2, 8, 32)]
    assert errors[0] > errors[1] > errors[2] > 0


def test_cvae_needs_labels_and_decodes_one_code_per_class(digits) -> None:
    cvae, _ = fit_model("cvae", digits, 30, SMALL)
    x, y = digits.test[:20], digits.labels_test[:20]
    with pytest.raises(DataError, match="conditional"):
        latent_codes(cvae, x)
    z = latent_codes(cvae, x, y)
    assert z.shape == (20, 4)
    path = class_rows(z[0], 10)
    images = decode(cvae, path.z, path.labels)
    assert images.shape == (10, 64) and len(np.unique(images.round(6), axis=0)) == 10  # the label matters
    # one label for a whole path
    same = decode(cvae, path.z, np.array([3]))
    np.testing.assert_allclose(same, decode(cvae, path.z, np.full(10, 3)))


# ----------------------------------------------------------------------------- AE + GMM

def test_gmm_log_likelihood_is_sklearns_score_samples_and_flags_a_far_point() -> None:
    clean, _ = blobs()
    g = fit_gmm(clean, 3, "full", seed=0)            # fitted on clean codes, then scoring a new far point
    x = np.vstack([clean, [[50.0, 50.0, 50.0]]])
    assert isinstance(g, GaussianMixture) and g.n_components == 3
    ll = log_likelihood(g, x)
    np.testing.assert_array_equal(ll, g.score_samples(x))
    assert np.argmin(ll) == len(x) - 1
    flagged = outliers(ll, quantile=0.01)
    assert flagged[-1] and flagged.sum() <= 2
    eps = 1e-6
    np.testing.assert_array_equal(outliers(ll, epsilon=eps), ll < np.log(eps))
    assert outlier_threshold(ll, epsilon=eps) == pytest.approx(np.log(eps))
    with pytest.raises(DataError):
        outliers(ll)
    with pytest.raises(DataError):
        outliers(ll, epsilon=0.0)


def test_bic_finds_the_number_of_blobs() -> None:
    x, _ = blobs()
    curve = bic_aic_curve(x, ks=range(1, 7), covariance_type="full")
    assert list(curve.columns) == ["k", "bic", "aic"] and list(curve["k"]) == [1, 2, 3, 4, 5, 6]
    assert best_k(curve, "bic") == 3 == curve.attrs["best_k_bic"]
    fig = figures.latent.bic_aic_figure(curve)
    star = [t for t in fig.data if t.name and t.name.startswith("best k")]
    assert star and list(star[0].x) == [3]


def test_gmm_samples_from_a_vae_decode_to_digit_images(digits, vae_digits) -> None:
    codes = latent_codes(vae_digits, digits.train)
    g = fit_gmm(codes, 10, "full", seed=0)
    z, x = sample_and_decode(g, vae_digits, 60, seed=1)
    assert z.shape == (60, 4) and x.shape == (60, 64) and np.all(np.isfinite(x))
    # digits train with rank-Gauss: its lower tail is clamped at the tied minimum 0, so pixels never go
    # negative; 11 edge pixels have a single maximum and may extrapolate past 16, hence the clip for images.
    assert x.min() >= 0.0
    assert np.mean(x > 16.0) < 0.01
    _, clipped = sample_and_decode(g, vae_digits, 60, seed=1, clip=(0.0, 16.0))
    np.testing.assert_array_equal(clipped, np.clip(x, 0.0, 16.0))
    # seeded: same seed, same rows; another seed, other rows; components mixed, not sorted by component
    np.testing.assert_array_equal(sample_and_decode(g, vae_digits, 60, seed=1)[0], z)
    assert not np.allclose(sample_and_decode(g, vae_digits, 60, seed=2)[0], z)
    fig = figures.latent.image_strip(clipped[:10], (8, 8), col_captions=[str(i) for i in range(10)], vmax=16)
    assert fig.data[0].z.shape == (9, 90)               # 10 tiles of 8×8 with a 1-pixel gap
    assert list(fig.layout.xaxis.tickvals) == [9 * c + 3.5 for c in range(10)]


def test_view_density_peaks_on_the_data() -> None:
    x, _ = blobs()
    view = x[:, :2]
    g2 = fit_view_density(view, 3)
    xlim, ylim = grid_limits(view)
    grid = density_grid(g2, xlim, ylim, n=40)
    assert grid.logp.shape == (40, 40)
    i, j = np.unravel_index(np.argmax(grid.logp), grid.logp.shape)
    peak = np.array([grid.xs[j], grid.ys[i]])
    assert min(np.linalg.norm(peak - c) for c in ([0, 0], [10, 0], [0, 10])) < 1.0
    with pytest.raises(DataError, match="2-D"):
        fit_view_density(x, 3)


# ----------------------------------------------------------------------------- clusters

def test_purity_table_by_hand() -> None:
    a = np.array([0, 0, 0, 1, 1, 1])
    y = np.array(["a", "a", "b", "b", "b", "c"])
    t = purity_table(a, y)
    assert list(t.columns) == ["a", "b", "c", "majority", "size", "purity"]
    np.testing.assert_allclose(t[["a", "b", "c"]].sum(axis=1), 1.0)
    np.testing.assert_allclose(t.loc[0, ["a", "b", "c"]].to_numpy(dtype=float), [2 / 3, 1 / 3, 0])
    assert list(t["majority"]) == ["a", "b"] and list(t["size"]) == [3, 3]
    np.testing.assert_allclose(t["purity"], [2 / 3, 2 / 3])
    assert overall_purity(a, y) == pytest.approx(4 / 6)


def test_perfectly_separated_blobs_give_purity_one(digits) -> None:
    x, y = blobs()
    for method in ("kmeans", "gmm"):
        rep = cluster_report(x, y, k=3, method=method)
        assert rep.purity == 1.0 and rep.ari == pytest.approx(1.0) and rep.nmi == pytest.approx(1.0)
        assert (rep.table["purity"] == 1.0).all() and rep.table["size"].sum() == len(x)
    # real codes: digits' PCA codes cluster far better than chance, and every row is a distribution
    pca = fit_pca(digits.train, 10)
    rep = cluster_report(latent_codes(pca, digits.test), digits.labels_test, k=10)
    labels = [str(k) for k in range(10)]
    np.testing.assert_allclose(rep.table[labels].sum(axis=1), 1.0)
    assert 0.4 < rep.purity < 1.0 and rep.ari > 0.2
    fig = figures.latent.purity_heatmap(rep.table)
    assert fig.data[0].z.shape == (10, 10)


# ----------------------------------------------------------------------------- walks

def test_interpolation_end_points_are_the_inputs_and_slerp_keeps_the_radius() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=6), rng.normal(size=6)
    for mode in ("linear", "slerp"):
        path = interpolate(a, b, 7, mode=mode)
        assert path.z.shape == (7, 6) and path.labels is None and len(path.captions) == 7
        np.testing.assert_array_equal(path.z[0], a)
        np.testing.assert_array_equal(path.z[-1], b)
    b_same_norm = b / np.linalg.norm(b) * np.linalg.norm(a)
    radii = np.linalg.norm(interpolate(a, b_same_norm, 9, mode="slerp").z, axis=1)
    np.testing.assert_allclose(radii, np.linalg.norm(a), rtol=1e-9)
    assert np.linalg.norm(interpolate(a, b_same_norm, 9).z[4]) < np.linalg.norm(a)  # the chord dips inwards
    np.testing.assert_array_equal(interpolate(a, b, 3, label=4).labels, [4, 4, 4])
    with pytest.raises(DataError):
        interpolate(a, b[:3], 5)


def test_traverse_changes_one_coordinate_and_class_means() -> None:
    z = np.arange(4.0)
    path = traverse(z, 2, [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(path.z[:, 2], [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(np.delete(path.z, 2, axis=1), np.tile([0.0, 1.0, 3.0], (3, 1)))
    with pytest.raises(DataError):
        traverse(z, 4, [0.0])
    classes, means = class_means(np.array([[0.0], [2.0], [10.0]]), np.array([1, 1, 5]))
    np.testing.assert_array_equal(classes, [1, 5])
    np.testing.assert_array_equal(means[:, 0], [1.0, 10.0])


# ----------------------------------------------------------------------------- the plain autoencoder

def test_ae_trains_its_reconstruction_error_falls_and_it_samples_from_its_codes(digits) -> None:
    spec = TrainSpec(model="ae", dataset=digits, config=SMALL, steps=300, seed=0, device="cpu", eval_period_s=None)
    fitted = build(spec, CPU)
    before = reconstruction_error(fitted, digits.test).mean()
    losses: list[float] = []
    train(spec, fitted, lambda p: losses.append(p.losses["loss"]) if p.losses else None, lambda: False)
    after = reconstruction_error(fitted, digits.test).mean()
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])
    assert after < 0.6 * before, (before, after)
    # sample() decodes z from the Gaussian of the training codes: that Gaussian sits on the codes
    codes = latent_codes(fitted, digits.train)
    m = fitted.model.code_mean.numpy()
    assert np.all(np.abs(m - codes.mean(0)) < 0.1 * codes.std(0)), (m, codes.mean(0), codes.std(0))  # ≈ 0.01
    cov = np.cov(codes.T)
    assert np.linalg.norm(fitted.model.code_covariance().numpy() - cov) < 0.25 * np.linalg.norm(cov)  # ≈ 0.08
    z_new = fitted.model.sample_prior(4000).numpy()     # what sample() decodes
    assert np.all(np.abs(z_new.mean(0) - codes.mean(0)) < 0.1 * codes.std(0))
    np.testing.assert_allclose(z_new.std(0), codes.std(0), rtol=0.15)
    x = fitted.sample(40, seed=0)
    assert x.shape == (40, 64) and np.all(np.isfinite(x))


# ----------------------------------------------------------------------------- embeddings

def test_embed_rejects_bad_input_with_a_clear_message() -> None:
    x = np.random.default_rng(0).normal(size=(30, 4))
    nan = x.copy()
    nan[3, 1] = np.nan
    cases = [(nan, {}, "NaN"), (x[:4], {}, "at least 5"), (x, {"n_neighbors": 30}, "n_neighbors"),
             (x, {"metric": "nope"}, "unknown metric"), (x, {"method": "tsne"}, "unknown embedding method"),
             (x, {"n_components": 4}, "2 or 3"), (x[:, :1], {"method": "pca"}, "at least 2")]
    for data, kwargs, message in cases:
        with pytest.raises(DataError, match=message):
            embed(data, **kwargs)
    assert issubclass(DataError, ValueError)


def test_pca_embedding_is_sklearns_projection() -> None:
    x, _ = blobs()
    view = embed(x, method="pca", n_components=2)
    from sklearn.decomposition import PCA
    ref = PCA(2).fit_transform(x)
    np.testing.assert_allclose(np.abs(view), np.abs(ref), atol=1e-8)


def test_umap_embedding_has_a_row_per_point_and_the_same_call_is_a_cache_hit(digits) -> None:
    codes = latent_codes(fit_pca(digits.train, 10), digits.test[:200])
    embed_module.clear_embed_cache()
    first = embed_with_info(codes, "umap", n_neighbors=10, seed=0)
    assert not first.cached and first.coords.shape == (200, 2) and np.all(np.isfinite(first.coords))
    first.coords[:] = 0.0                                   # the caller's copy; the cache keeps its own
    again = embed_with_info(codes.copy(), "umap", n_neighbors=10, seed=0)   # same content, new object
    assert again.cached and embed_cache_info()["hits"] == 1
    np.testing.assert_array_equal(again.coords, embed(codes, "umap", n_neighbors=10, seed=0))
    assert not np.all(again.coords == 0.0)
    assert embed_cache_info()["hits"] == 2 and embed_cache_info()["misses"] == 1
    three = embed_with_info(codes, "umap", n_components=3, n_neighbors=10, seed=0)
    assert not three.cached and three.coords.shape == (200, 3)
    # neighbours stay neighbours: a point's UMAP neighbours share its label far more often than chance (0.1)
    y = digits.labels_test[:200]
    d = np.linalg.norm(again.coords[:, None] - again.coords[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    assert np.mean(y[np.argmin(d, axis=1)] == y) > 0.5
    fig = figures.latent.embedding_scatter(again.coords, color=y, highlight=np.arange(200) < 5)
    rows = np.concatenate([np.asarray(t.customdata)[:, 0] for t in fig.data if t.name.startswith("label")])
    assert sorted(rows.astype(int)) == list(range(200))   # every point once, findable by its row index
    pair = figures.latent.embedding_pair(embed(codes, "pca"), again.coords, color=y)
    assert len(pair.data) == 20


def test_warm_up_is_idempotent_and_becomes_ready() -> None:
    warm_up_umap()
    thread = embed_module._warm_thread
    warm_up_umap()
    assert embed_module._warm_thread is thread and thread.daemon
    wait_until(umap_ready, timeout=240, interval=0.05, what="the UMAP warm-up")
    assert umap_error() is None


def test_scatter_colours_numbers_with_a_colour_bar() -> None:
    x, _ = blobs()
    ll = fit_gmm(x, 3).score_samples(x)
    fig = figures.latent.embedding_scatter(x[:, :2], color=ll, color_label="log p")
    assert len(fig.data) == 1 and fig.data[0].marker.showscale
    assert list(np.asarray(fig.data[0].customdata)[:, 0]) == list(range(len(x)))
    fig3 = figures.latent.embedding_scatter(x, color=np.repeat(["a", "b", "c"], 60))
    assert {t.type for t in fig3.data} == {"scatter3d"} and len(fig3.data) == 3
    assert isinstance(figures.latent.loglik_histogram(ll, threshold=float(np.quantile(ll, 0.05))).data[0].x,
                      (np.ndarray, tuple, list))
    assert isinstance(purity_table(np.zeros(3, int), np.array([1, 1, 2])), pd.DataFrame)


def test_ascii_images_draw_the_digit_and_selected_rows_read_the_row_index() -> None:
    from genlib.figures.latent import ascii_images, selected_rows

    img = np.zeros((1, 64))
    img[0, 8:16] = 16.0          # the second pixel row fully dark
    art = ascii_images(img, (8, 8), vmax=16)[0].split("<br>")
    assert len(art) == 8 and all(len(line) == 8 for line in art)
    assert art[1] == "█" * 8 and art[0] == " " * 8
    event = {"selection": {"points": [{"customdata": [12, "a"]}, {"customdata": [3]}, {"x": 1.0}]}}
    assert selected_rows(event) == [3, 12]
    assert selected_rows({"selection": {"points": []}}) == [] and selected_rows(None) == []


# ----------------------------------------------------------------------------- the projection as a job
def _projection_store(tmp_path, make_manager, executor: str | None = None):
    from genlib.store import RunStore
    store = RunStore(tmp_path / "store")
    return store, make_manager(store=store, **({} if executor is None else {"executor": executor}))


def test_projection_job_stores_the_embedding_the_page_would_compute_and_is_found_again(digits, make_manager,
                                                                                       tmp_path) -> None:
    from genlib.latent import ProjectionSettings, ProjectionTask, find_projection, projection_source
    from genlib.store import JobStatus
    store, manager = _projection_store(tmp_path, make_manager)
    codes = latent_codes(fit_pca(digits.train, 10), digits.test[:200])
    rows = np.arange(200) * 2
    source = projection_source("pca", "digits", digits.params, code_size=10)
    view = ProjectionSettings(n_neighbors=10, min_dist=0.2, seed=3)
    job = manager.submit(ProjectionTask(codes, source, view, rows=rows))
    assert job.wait(120)
    snap = job.snapshot()
    assert snap.status is JobStatus.DONE and snap.step == snap.total == 3 and snap.kind == "projection"
    arrays = store.results(snap.run_id)
    embed_module.clear_embed_cache()   # the in-process result below is computed afresh, not read from the cache
    expected = embed(codes, "umap", n_neighbors=10, min_dist=0.2, seed=3)
    np.testing.assert_allclose(arrays["embedding"], expected)
    np.testing.assert_allclose(arrays["pca"], embed(codes, "pca", seed=3))
    np.testing.assert_array_equal(arrays["rows"], rows)
    record = store.get(snap.run_id)
    assert record.kind == "projection" and record.status == "done" and store.list() == []
    assert record.inputs["source"] == source and record.inputs["settings"] == view.to_dict()
    assert record.summary["n_rows"] == 200 and record.summary["code_size"] == 10
    records = store.list(kinds=("projection",))
    assert find_projection(records, source, view, n_rows=200) == record.id
    assert find_projection(records, source, view, n_rows=199) is None
    assert find_projection(records, source, ProjectionSettings(n_neighbors=11, min_dist=0.2, seed=3)) is None
    assert find_projection(records, {**source, "encoder": "some-run"}, view) is None
    # a tuple in the data set's parameters reads back from the row as a list: still the same source
    assert find_projection(records, projection_source("pca", "digits", dict(digits.params), 10), view) == record.id


def test_projection_job_stops_between_phases_and_fails_with_one_line(digits, make_manager, tmp_path,
                                                                     monkeypatch) -> None:
    import threading
    from conftest import SAFETY_TIMEOUT
    from genlib.latent import ProjectionSettings, ProjectionTask, projection_source
    from genlib.store import JobStatus
    task_module = importlib.import_module("genlib.latent.task")
    store, manager = _projection_store(tmp_path, make_manager, executor="thread")   # monkeypatched here, in-process
    codes = latent_codes(fit_pca(digits.train, 6), digits.test[:100])
    source = projection_source("pca", "digits", digits.params, 6)

    entered, release, umap_calls = threading.Event(), threading.Event(), []
    real_embed = task_module.embed

    def slow_pca(*args, **kwargs):   # the PCA phase waits until the test has asked the job to stop
        entered.set()
        release.wait(SAFETY_TIMEOUT)
        return real_embed(*args, **kwargs)

    monkeypatch.setattr(task_module, "embed", slow_pca)
    monkeypatch.setattr(task_module, "embed_with_info", lambda *a, **k: umap_calls.append(a))
    job = manager.submit(ProjectionTask(codes, source, ProjectionSettings(n_neighbors=5)))
    assert entered.wait(SAFETY_TIMEOUT)
    job.stop()
    release.set()
    assert job.wait(SAFETY_TIMEOUT)
    assert job.snapshot().status is JobStatus.STOPPED and umap_calls == []   # UMAP never started
    arrays = store.results(job.snapshot().run_id)
    assert arrays["pca"].shape == (100, 2) and "embedding" not in arrays   # what was complete is kept
    monkeypatch.undo()

    failed = manager.submit(ProjectionTask(codes[:3], source, ProjectionSettings(n_neighbors=2)))
    assert failed.wait(SAFETY_TIMEOUT)
    snap = failed.snapshot()
    assert snap.status is JobStatus.FAILED and snap.error == "need at least 5 points to embed, got 3"
    assert "\n" not in snap.error and store.get(snap.run_id).status == "failed"
    with pytest.raises(DataError, match="unknown embedding method"):
        ProjectionTask(codes, source, ProjectionSettings(method="tsne"))
