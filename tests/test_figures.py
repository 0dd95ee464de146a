"""The figure builders of genlib.figures (samples, curves, style): structure, colours, and the numbers the traces carry."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from genlib import figures

COLS = ["a", "b", "c"]


@pytest.fixture
def data() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 3))
    samples = {"gmm #1": rng.normal(0.3, 1.2, size=(200, 3)), "vae #2": rng.standard_t(3, size=(250, 3))}
    return real, samples


def _colors(fig: go.Figure) -> dict[str, str]:
    """Trace name -> line/marker colour."""
    out = {}
    for t in fig.data:
        color = t.line.color if t.mode and "lines" in t.mode else t.marker.color
        out.setdefault(t.name, color)
    return out


def _n_axes(fig: go.Figure) -> int:
    return sum(1 for k in fig.layout.to_plotly_json() if k.startswith("xaxis"))


def _integral(trace: go.Scatter) -> float:
    edges, y = np.asarray(trace.x[1:]), np.asarray(trace.y[1:-1])
    return float(np.sum(y * np.diff(edges)))


# --- ECDF ---------------------------------------------------------------------------------------------------------

def test_ecdf_overlay_traces_colours_and_monotone(data) -> None:
    real, samples = data
    fig = figures.samples.ecdf_overlay(real, samples, COLS)
    assert len(fig.data) == 3 * 3 and _n_axes(fig) == 3
    assert [t.name for t in fig.data[:3]] == ["real", "gmm #1", "vae #2"]
    assert sum(t.showlegend for t in fig.data) == 3  # one legend entry per series
    for t in fig.data:
        y = np.asarray(t.y)
        assert np.all(np.diff(y) >= 0) and y[0] == 0 and y[-1] == pytest.approx(1.0)
        assert np.all(np.diff(np.asarray(t.x)) >= 0)
    colors = _colors(fig)
    assert colors["real"] == figures.style.REAL_DARK and colors["gmm #1"] == figures.style.PALETTE[0]
    assert colors["vae #2"] == figures.style.PALETTE[1]


def test_ecdf_is_thinned_for_many_rows() -> None:
    real = np.random.default_rng(1).normal(size=(20_000, 1))
    fig = figures.samples.ecdf_overlay(real, {}, ["x"])
    assert len(fig.data) == 1 and len(fig.data[0].x) <= figures.samples._ECDF_POINTS + 1 and fig.data[0].y[-1] == 1.0


def test_ecdf_edge_cases_empty_nan_log(data) -> None:
    real, samples = data
    fig = figures.samples.ecdf_overlay(real, {}, COLS)  # real only
    assert [t.name for t in fig.data] == ["real"] * 3
    bad = samples["gmm #1"].copy()
    bad[:10, 0] = np.nan
    bad[10, 0] = np.inf
    fig = figures.samples.ecdf_overlay(real, {"empty": np.empty((0, 3)), "gmm #1": bad}, COLS)
    names = {t.name for t in fig.data}
    assert "empty" not in names and "gmm #1" in names
    # the skipped run keeps its slot: "gmm #1" is still the second colour, as in every other figure
    assert _colors(fig)["gmm #1"] == figures.style.PALETTE[1]
    first = next(t for t in fig.data if t.name == "gmm #1")
    assert np.all(np.isfinite(first.x)) and len(first.x) == 200 - 11 + 1
    pos = np.abs(real) + 0.1
    zeros = pos.copy()
    zeros[0, 1] = 0.0
    fig = figures.samples.ecdf_overlay(pos, {"r": zeros}, COLS, log_x=True)
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis2.type != "log" and fig.layout.xaxis3.type == "log"


def test_max_columns_caps_subplots(data) -> None:
    rng = np.random.default_rng(2)
    wide = rng.normal(size=(100, 10))
    cols = [f"c{i}" for i in range(10)]
    fig = figures.samples.ecdf_overlay(wide, {"r": wide[:50]}, cols, max_columns=8)
    assert _n_axes(fig) == 8 and len(fig.data) == 16
    assert [a.text for a in fig.layout.annotations] == cols[:8]
    fig = figures.samples.histogram_overlay(wide, {"r": wide[:50]}, cols, max_columns=5)
    assert [a.text for a in fig.layout.annotations] == cols[:5]


# --- histograms ---------------------------------------------------------------------------------------------------

def test_histogram_overlay_shared_edges_and_unit_mass() -> None:
    rng = np.random.default_rng(3)
    # Integers with many ties at both ends: the 0.1/99.9 % quantiles are the min and max, so nothing is clipped.
    real = rng.integers(0, 6, size=(400, 2)).astype(float)
    samples = {"x": rng.integers(0, 6, size=(300, 2)).astype(float), "y": rng.integers(1, 5, size=(50, 2)) * 1.0}
    fig = figures.samples.histogram_overlay(real, samples, ["p", "q"], bins=12)
    assert len(fig.data) == 6 and [t.name for t in fig.data[:3]] == ["real", "x", "y"]
    for t in fig.data:
        assert t.line.shape == "hv" and t.type == "scatter"  # outlines, not bars
        assert _integral(t) == pytest.approx(1.0)
        assert len(t.x) == 12 + 2 and t.y[0] == 0 and t.y[-1] == 0
    np.testing.assert_array_equal(fig.data[0].x, fig.data[1].x)  # shared bin edges
    np.testing.assert_array_equal(fig.data[0].x, fig.data[2].x)


def test_histogram_overlay_clips_outliers_and_handles_edge_cases(data) -> None:
    real, samples = data
    wild = samples["gmm #1"].copy()
    wild[0, 0] = 1e6
    fig = figures.samples.histogram_overlay(real, {**samples, "gmm #1": wild}, COLS)
    assert max(fig.data[0].x) < 100  # the outlier does not set the range
    assert _integral(fig.data[0]) <= 1.0 + 1e-9
    assert _colors(fig) == _colors(figures.samples.ecdf_overlay(real, samples, COLS))  # same run, same colour
    # real only, a run with no rows, NaN rows, a constant column
    assert [t.name for t in figures.samples.histogram_overlay(real, {}, COLS).data] == ["real"] * 3
    nan = samples["vae #2"].copy()
    nan[:5] = np.nan
    const = real.copy()
    const[:, 2] = 4.0
    fig = figures.samples.histogram_overlay(const, {"none": np.zeros((0, 3)), "nan": nan}, COLS)
    assert {t.name for t in fig.data} == {"real", "nan"}
    assert all(np.all(np.isfinite(t.y)) for t in fig.data)
    # log_x: positive column gets a log axis, a column with zeros falls back to linear
    pos = np.abs(real) + 0.5
    with_zero = pos.copy()
    with_zero[:200, 0] = 0.0
    with_zero[0, 2] = -1.0  # a single non-positive value, inside the clipped-off 0.1 %, still rules out log
    fig = figures.samples.histogram_overlay(with_zero, {"r": pos}, COLS, log_x=True)
    assert fig.layout.xaxis.type != "log" and fig.layout.xaxis2.type == "log" and fig.layout.xaxis3.type != "log"
    assert all(np.all(np.isfinite(t.x)) for t in fig.data)


# --- QQ -----------------------------------------------------------------------------------------------------------

def test_qq_plot_identical_run_on_diagonal(data) -> None:
    real, samples = data
    fig = figures.samples.qq_plot(real, {"same": real.copy(), **samples}, COLS)
    assert len(fig.data) == 3 * (1 + 3)  # diagonal + 3 runs per column
    diag = [t for t in fig.data if t.name == "y = x"]
    assert len(diag) == 3 and diag[0].x == diag[0].y
    same = [t for t in fig.data if t.name == "same"]
    assert len(same) == 3
    for t in same:
        np.testing.assert_allclose(t.x, t.y)
        assert t.mode == "markers" and len(t.x) >= 50
    # probabilities reach into both tails
    p = np.asarray(same[0].customdata)
    assert p.min() <= 0.0011 and p.max() >= 0.9989 and np.sum(p < 0.05) >= 10
    assert _colors(fig)["gmm #1"] == figures.style.PALETTE[1]  # third entry of the dict: "same" is first


def test_qq_plot_edge_cases(data) -> None:
    real, samples = data
    fig = figures.samples.qq_plot(real, {}, COLS)
    assert [t.name for t in fig.data] == ["y = x"] * 3
    nan = samples["gmm #1"].copy()
    nan[::3] = np.nan
    fig = figures.samples.qq_plot(real, {"empty": np.empty((0, 3)), "nan": nan}, COLS)
    assert {t.name for t in fig.data} == {"y = x", "nan"}
    assert all(np.all(np.isfinite(t.y)) for t in fig.data)
    pos = np.abs(real) + 0.1
    zero = pos.copy()
    zero[:, 2] = 0.0
    fig = figures.samples.qq_plot(pos, {"r": zero}, COLS, log=True)
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    assert fig.layout.xaxis3.type != "log"


# --- correlations -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["pearson", "kendall"])
def test_correlation_grid(method: str) -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(800, 1))
    real = np.hstack([x, 2 * x + 1, rng.normal(size=(800, 1))])
    indep = rng.normal(size=(300, 3))
    const = indep.copy()
    const[:, 1] = 3.0
    fig = figures.samples.correlation_grid(real, {"indep": indep, "const": const}, COLS, method=method)
    assert len(fig.data) == 3 and all(t.type == "heatmap" for t in fig.data)
    assert [a.text for a in fig.layout.annotations] == ["real", "indep", "const"]
    assert [t.showscale for t in fig.data] == [False, False, True]  # one colour bar
    assert all(t.zmin == -1 and t.zmax == 1 and t.zmid == 0 for t in fig.data)
    z = np.asarray(fig.data[0].z)
    assert z[0, 1] == pytest.approx(1.0) and z[1, 0] == pytest.approx(1.0)
    np.testing.assert_allclose(np.diag(z), 1.0)
    zc = np.asarray(fig.data[2].z)
    assert np.all(np.isfinite(zc)) and zc[0, 1] == 0 and zc[1, 2] == 0


def test_correlation_grid_edge_cases(data) -> None:
    real, samples = data
    fig = figures.samples.correlation_grid(real, {}, COLS, method="kendall")
    assert len(fig.data) == 1 and fig.data[0].showscale
    nan = samples["gmm #1"].copy()
    nan[:20, 1] = np.nan
    fig = figures.samples.correlation_grid(real, {"e": np.empty((0, 3)), "nan": nan}, COLS)
    assert [t.name for t in fig.data] == ["real", "nan"]
    assert np.all(np.isfinite(np.asarray(fig.data[1].z)))
    wide = np.random.default_rng(5).normal(size=(50, 15))
    fig = figures.samples.correlation_grid(wide, {"r": wide}, [f"c{i}" for i in range(15)])
    assert np.asarray(fig.data[0].z).shape == (12, 12)
    with pytest.raises(ValueError):
        figures.samples.correlation_grid(real, samples, COLS, method="spearmen")


@pytest.mark.parametrize("method", ["pearson", "kendall"])
def test_correlation_figures_show_the_metrics_correlation_matrix(method: str) -> None:
    from genlib.metrics import correlation_matrix

    rng = np.random.default_rng(6)
    x = np.round(rng.normal(size=(1200, 3)) @ [[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 1.0]], 1)  # ties
    want = correlation_matrix(x, method, kendall_rows=figures.samples.KENDALL_FIGURE_ROWS)
    grid = figures.samples.correlation_grid(x, {}, COLS, method=method)
    np.testing.assert_array_equal(np.asarray(grid.data[0].z), want)
    heat = figures.samples.correlation_heatmap(x, COLS, method=method)
    np.testing.assert_array_equal(np.asarray(heat.data[0].z), want)
    with_nan = np.vstack([x, [[np.nan, 1.0, 2.0]]])  # non-finite rows are left out, not shown as NaN
    np.testing.assert_array_equal(np.asarray(figures.samples.correlation_heatmap(with_nan, COLS, method=method)
                                             .data[0].z), want)
    with pytest.raises(ValueError):
        figures.samples.correlation_heatmap(x, COLS, method="spearmen")

# --- training curves ----------------------------------------------------------------------------------------------

def test_loss_curves_multi() -> None:
    steps = list(range(0, 100, 10))
    runs = {
        "gan": (steps, {"loss_d": [1.0] * 10, "loss_g": [2.0] * 10}),
        "vae": (steps, {"loss": list(np.linspace(3.0, 1.0, 10))}),
        "none": ([], {}),
        "flow": (steps[:5], {"loss": [2.0, 1.5, 1.2, 1.1, 1.0]}),
    }
    fig = figures.curves.loss_curves_multi(runs)
    assert [t.name for t in fig.data] == ["gan (loss_d)", "vae", "flow"]
    assert [t.line.color for t in fig.data] == [figures.style.PALETTE[0], figures.style.PALETTE[1], figures.style.PALETTE[3]]
    assert fig.layout.yaxis.type == "linear" and fig.layout.xaxis.title.text == "step"
    spiky = {**runs, "vae": (steps, {"loss": [500.0] + [1.0] * 9})}
    assert figures.curves.loss_curves_multi(spiky).layout.yaxis.type == "log"
    assert figures.curves.loss_curves_multi(spiky, log_y=False).layout.yaxis.type == "linear"
    assert figures.curves.loss_curves_multi({"gan": runs["gan"]}, key="loss_g").data[0].name == "gan"
    negative = {"w": (steps, {"loss": [-100.0] + [1.0] * 9})}
    assert figures.curves.loss_curves_multi(negative).layout.yaxis.type == "linear"
    assert len(figures.curves.loss_curves_multi({}).data) == 0


def test_metric_histories() -> None:
    hist_a = [{"step": s, "elapsed": 0.5 * s, "ad": 1.0 / (s + 1), "c2st": 0.9 - 0.01 * s} for s in range(5)]
    hist_b = [{"step": s, "elapsed": 2.0 * s, "ad": 2.0 / (s + 1)} for s in range(3)]
    fig = figures.curves.metric_histories({"a": hist_a, "b": hist_b, "c": []}, ["ad", "c2st"], ["AD", "C2ST"])
    assert [a.text for a in fig.layout.annotations] == ["AD", "C2ST"]
    assert [(t.name, t.xaxis) for t in fig.data] == [("a", "x"), ("b", "x"), ("a", "x2")]  # b has no c2st
    assert list(fig.data[1].x) == [0.0, 2.0, 4.0] and fig.layout.xaxis.title.text == "seconds"
    assert [t.showlegend for t in fig.data] == [True, True, False]
    assert fig.data[0].line.color == fig.data[2].line.color == figures.style.PALETTE[0]
    fig = figures.curves.metric_histories({"a": hist_a}, ["ad"], x="step")
    assert list(fig.data[0].x) == [0, 1, 2, 3, 4] and fig.layout.annotations[0].text == "ad"


# --- sweeps -------------------------------------------------------------------------------------------------------

def test_sweep_heatmap_2d() -> None:
    z = np.array([[0.5, 0.2, np.nan], [0.3, 0.9, 0.25]])
    fig = figures.curves.sweep_heatmap([1e-3, 1e-2, 0.1], [True, False], z, "lr", "batch_norm", "AD", lower_is_better=True)
    t = fig.data[0]
    np.testing.assert_array_equal(np.asarray(t.z), z)
    assert list(t.x) == ["0.001", "0.01", "0.1"] and list(t.y) == ["True", "False"]
    assert t.text[0][1] == "★ 0.2" and t.text[0][2] == "…" and t.text[1][2] == "0.25"
    assert sum("★" in s for row in t.text for s in row) == 1
    assert t.reversescale is True
    (rect,) = fig.layout.shapes
    assert (rect.x0, rect.x1, rect.y0, rect.y1) == (0.5, 1.5, -0.5, 0.5)
    assert fig.layout.xaxis.type == "category" and fig.layout.yaxis.type == "category"
    fig = figures.curves.sweep_heatmap([1, 2, 3], ["x", "y"], z, "k", "s", "C2ST acc", lower_is_better=False)
    assert fig.data[0].text[1][1] == "★ 0.9" and not fig.data[0].reversescale
    assert fig.data[0].text[0][0] == "0.5"


def test_sweep_heatmap_1d_and_all_nan() -> None:
    for y in ([None], ["None"]):
        fig = figures.curves.sweep_heatmap(["64", "128"], y, np.array([0.123456, 0.5]), "hidden", "", "W1")
        assert np.asarray(fig.data[0].z).shape == (1, 2) and len(fig.data[0].y) == 1
        assert list(fig.data[0].text[0]) == ["★ 0.123", "0.5"]
    fig = figures.curves.sweep_heatmap([1, 2], [None], np.full((1, 2), np.nan), "k", "", "AD")
    assert list(fig.data[0].text[0]) == ["…", "…"] and len(fig.layout.shapes) == 0


def test_real_keeps_its_colour_across_neighbouring_lorenz_charts() -> None:
    """The Lorenz lab draws real vs generated in a butterfly, a time series and a return map side by side: real must
    read the same colour in each, whatever position it is passed in, and generated must never take real's colour."""
    from genlib.figures.style import REAL_COLOR
    rng = np.random.default_rng(0)
    traj = {"generated": rng.normal(size=(50, 3)), "real": rng.normal(size=(50, 3))}
    fly = figures.lorenz.butterfly(traj)
    series = figures.lorenz.time_series(np.arange(50) * 0.01, dict(reversed(traj.items())))
    maps = figures.lorenz.return_map({"real": (np.arange(5.0), np.arange(5.0)),
                                      "generated": (np.arange(5.0), np.arange(5.0))})
    colours: dict[str, set[str]] = {"real": set(), "generated": set()}
    for trace in [*fly.data, *series.data]:
        colours[trace.name].add(trace.line.color)
    for trace in maps.data:
        colours[trace.name].add(trace.marker.color)
    assert colours["real"] == {REAL_COLOR}
    assert len(colours["generated"]) == 1 and REAL_COLOR not in colours["generated"]
