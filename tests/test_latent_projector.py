"""The Latent explorer's Embedding-Projector touches: search by label or row, a point's nearest neighbours in the
code space, and one selection shared by the PCA and UMAP views — the pure functions (genlib.latent.projector,
genlib.figures.latent.projector_views) and the page (AppTest; a box or click in a chart is sent to the app as the
browser sends it: the chart's widget state)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from genlib import latent as lt
from genlib.data import DataError
from genlib.figures.latent import projector_views, view_names

APP = "../app.py"
LABELS = np.array([0, 7, 7, 1, 2, 7, 1, 0])


# ----------------------------------------------------------------------------- search

@pytest.mark.parametrize("text", ["7", "label 7", "Label 7", " class 7 "])
def test_a_label_selects_exactly_the_rows_with_that_label(text: str) -> None:
    found = lt.parse_search(text, LABELS, len(LABELS))
    assert found.rows.tolist() == [1, 2, 5] and found.error is None
    assert "label 7 (3 rows)" in found.description


@pytest.mark.parametrize("text", ["#3", "# 3", "row 3", "ROW 3"])
def test_a_row_selects_that_row_whatever_its_label(text: str) -> None:
    found = lt.parse_search(text, LABELS, len(LABELS))
    assert found.rows.tolist() == [3] and found.error is None and found.description == "row 3"


def test_several_terms_select_the_union_and_a_term_that_matches_nothing_is_named() -> None:
    assert lt.parse_search("0, #5", LABELS, 8).rows.tolist() == [0, 5, 7]
    partial = lt.parse_search("1, label 9", LABELS, 8)
    assert partial.rows.tolist() == [3, 6]                    # what matched is kept…
    assert "“9”" in partial.error and "0, 1, 2, 7" in partial.error   # …and the rest is said, with what exists


def test_nothing_matching_gives_a_clear_message_and_no_rows() -> None:
    none = lt.parse_search("label 12", LABELS, 8)
    assert none.empty and none.error.startswith("No row has the label “12”")
    assert "the labels here: 0, 1, 2, 7" in none.error and "#123" in none.error   # how to search, since nothing did
    far = lt.parse_search("#8", LABELS, 8)
    assert far.empty and "there is no row 8" in far.error.lower() and "0 to 7" in far.error
    bad = lt.parse_search("row seven", LABELS, 8)
    assert bad.empty and "whole number" in bad.error
    assert lt.parse_search("   ", LABELS, 8).error is None and lt.parse_search("", LABELS, 8).empty


def test_without_labels_a_bare_number_is_a_row_and_a_label_search_says_there_are_none() -> None:
    assert lt.parse_search("5", None, 8).rows.tolist() == [5]
    found = lt.parse_search("label 5", None, 8)
    assert found.empty and "no labels" in found.error


def test_text_and_float_labels_match_as_written() -> None:
    words = np.array(["cat", "dog", "Cat"], dtype=object)
    assert lt.parse_search("cat", words, 3).rows.tolist() == [0, 2]
    assert lt.parse_search("2", np.array([2.0, 1.5, 2.0]), 3).rows.tolist() == [0, 2]
    with pytest.raises(ValueError):
        lt.parse_search("1", LABELS, 5)   # labels of other rows: a caller's bug, not a user's typo


# ----------------------------------------------------------------------------- neighbours

def test_neighbours_are_the_nearest_codes_by_brute_force_nearest_first_without_the_point_itself() -> None:
    codes = np.random.default_rng(0).normal(size=(200, 5))
    labels = np.arange(200) % 4
    near = lt.nearest_neighbours(codes, 17, 8, labels)
    dist = np.linalg.norm(codes - codes[17], axis=1)
    dist[17] = np.inf
    expected = np.argsort(dist)[:8]
    assert near.rows.tolist() == expected.tolist() and 17 not in near.rows
    np.testing.assert_allclose(near.distances, dist[expected], rtol=1e-9)
    assert np.all(np.diff(near.distances) >= 0)
    table = near.table()
    assert list(table.columns) == ["rank", "row", "label", "distance in the code space (euclidean)"]
    assert table["rank"].tolist() == list(range(1, 9)) and table["label"].tolist() == (expected % 4).tolist()


def test_cosine_neighbours_and_a_duplicate_of_the_point_counts_as_a_neighbour() -> None:
    codes = np.random.default_rng(1).normal(size=(50, 3))
    codes[9] = codes[4] * 3.0                                    # same direction: cosine distance 0
    near = lt.nearest_neighbours(codes, 4, 3, metric="cosine")
    unit = codes / np.linalg.norm(codes, axis=1, keepdims=True)
    cos = 1 - unit @ unit[4]
    cos[4] = np.inf
    assert near.rows[0] == 9 and near.rows.tolist() == np.argsort(cos)[:3].tolist()
    np.testing.assert_allclose(near.distances, np.maximum(np.sort(cos)[:3], 0), atol=1e-12)
    assert near.labels is None and "label" not in near.table().columns
    dup = codes.copy()
    dup[30] = dup[4]
    assert lt.nearest_neighbours(dup, 4, 1).rows.tolist() == [30]


def test_bad_neighbour_requests_are_refused_in_one_sentence() -> None:
    codes = np.zeros((5, 2))
    for row, k in ((5, 1), (-1, 1), (0, 0), (0, 5)):
        with pytest.raises(DataError):
            lt.nearest_neighbours(codes, row, k)
    with pytest.raises(DataError, match="unknown distance"):
        lt.nearest_neighbours(codes, 0, 1, metric="manhattan")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- selection and the linked views

def test_rows_from_event_reads_rows_from_both_views_once_and_skips_points_without_a_row() -> None:
    event = {"selection": {"points": [{"customdata": [3, "x"]}, {"customdata": [3, "x"]},  # same row, two views
                                      {"customdata": [12]}, {"x": 1.0}, {"customdata": None},
                                      {"customdata": [99]}, {"customdata": ["oops"]}]}}
    assert lt.rows_from_event(event, n_rows=50) == [3, 12]
    assert lt.rows_from_event(event) == [3, 12, 99]
    assert lt.rows_from_event(None) == [] and lt.rows_from_event({"selection": {"points": []}}) == []


def test_selection_drops_rows_that_no_longer_exist() -> None:
    sel = lt.Selection.of([9, 2, 2, 40], "box in the UMAP view")
    assert sel.rows == [2, 9, 40] and sel
    assert sel.valid_for(10).rows == [2, 9] and sel.valid_for(10).how == "box in the UMAP view"
    assert not sel.valid_for(2) and not lt.Selection()


def _rows_of(fig, name: str) -> dict[str, list[int]]:
    """The rows of the traces called ``name``, per view."""
    views = view_names(fig)
    out: dict[str, list[int]] = {}
    for view, tr in zip(views, fig.data):
        if tr.name == name:
            out.setdefault(view, []).extend(int(c[0]) for c in tr.customdata)
    return out


def test_the_same_rows_are_marked_in_both_views() -> None:
    rng = np.random.default_rng(0)
    pca, umap = rng.normal(size=(40, 2)), rng.normal(size=(40, 2))
    labels = np.arange(40) % 3
    fig = projector_views(pca, umap, color=labels, selected=[5, 1, 5, 33], focus=7, neighbours=[8, 9])
    assert _rows_of(fig, "selected") == {"PCA": [1, 5, 33], "UMAP": [1, 5, 33]}
    assert _rows_of(fig, "neighbours") == {"PCA": [8, 9], "UMAP": [8, 9]}
    assert _rows_of(fig, "picked point") == {"PCA": [7], "UMAP": [7]}
    # each marked row sits where that view draws it, and the lines go from the picked point to each neighbour
    for view, coords in (("PCA", pca), ("UMAP", umap)):
        tr = next(t for v, t in zip(view_names(fig), fig.data) if v == view and t.name == "selected")
        np.testing.assert_allclose(np.column_stack([tr.x, tr.y]), coords[[1, 5, 33]])
        spokes = next(t for v, t in zip(view_names(fig), fig.data) if v == view and t.name == "to its neighbours")
        assert list(spokes.x) == [coords[7, 0], coords[8, 0], None, coords[7, 0], coords[9, 0], None]
    # a selected point keeps its class's colour, at full strength, while the rest is dimmed
    for view in ("PCA", "UMAP"):
        tr = next(t for v, t in zip(view_names(fig), fig.data) if v == view and t.name == "selected")
        own = {t.name: t.marker.color for v, t in zip(view_names(fig), fig.data) if v == view}
        assert list(tr.marker.color) == [own[f"label {labels[r]}"] for r in (1, 5, 33)] and tr.marker.opacity == 1
    base = [t for t in fig.data if t.name.startswith("label ")]
    assert len(base) == 6 and all(t.marker.opacity < 0.5 for t in base)   # the rest dimmed, in both views
    plain = projector_views(pca, umap, color=labels)
    assert {t.name for t in plain.data} == {"label 0", "label 1", "label 2"}
    assert all(t.marker.opacity > 0.5 for t in plain.data)


def test_pca_alone_before_umap_and_a_3d_umap_beside_it() -> None:
    rng = np.random.default_rng(0)
    pca = rng.normal(size=(30, 2))
    alone = projector_views(pca, None, selected=[3])
    assert set(view_names(alone)) == {"PCA"} and _rows_of(alone, "selected") == {"PCA": [3]}
    three = projector_views(pca, rng.normal(size=(30, 3)), selected=[3], focus=4, neighbours=[5])
    assert _rows_of(three, "selected") == {"PCA": [3], "UMAP": [3]}
    assert any(t.type == "scatter3d" and t.name == "picked point" for t in three.data)
    with pytest.raises(ValueError):
        projector_views(pca, rng.normal(size=(29, 2)))
    with pytest.raises(ValueError):
        projector_views(pca, None, focus=30)


# ----------------------------------------------------------------------------- the page

def _open(address: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    for key, value in (address or {}).items():   # before the first run: a session takes presentation mode from
        at.query_params[key] = value              # its first address (pages/presentation.py)
    at.run()
    for key, value in (address or {}).items():
        at.query_params[key] = value
    at.switch_page("pages/latent.py").run()
    _ok(at)
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _view(at: AppTest):
    """The linked views' chart element and its figure (as sent to the browser)."""
    import plotly.io as pio

    chart = next(c for c in at.get("plotly_chart") if c.proto.id.endswith("-lt_view"))
    return chart, pio.from_json(chart.proto.spec)


def _said(at: AppTest, start: str) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith(start)]


def _send_selection(at: AppTest, points: list[dict], box: bool) -> AppTest:
    """What the browser sends after a box (or a click) in the views: the chart's new widget state."""
    from streamlit.proto.WidgetStates_pb2 import WidgetStates

    chart, _ = _view(at)
    states: WidgetStates = at._tree.get_widget_states()
    state = states.widgets.add()
    state.id = chart.proto.id
    state.string_value = json.dumps({"selection": {
        "points": points, "point_indices": [p["point_number"] for p in points],
        "box": [{"xref": "x2", "yref": "y2", "x": [0, 1], "y": [0, 1]}] if box else [], "lasso": []}})
    at._run(states)
    _ok(at)
    return at


def _digits_codes() -> tuple[np.ndarray, np.ndarray]:
    """The page's default codes: the PCA baseline with 16 components on every digit row (training then test)."""
    from genlib.data import load_dataset

    ds = load_dataset("digits")
    x = np.concatenate([ds.train, ds.test])
    return lt.latent_codes(lt.fit_pca(ds.train, 16), x), np.concatenate([ds.labels_train, ds.labels_test])


def test_search_selects_a_class_and_a_row_picks_a_point_with_its_neighbours(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GENLAB_HOME", str(tmp_path))
    codes, labels = _digits_codes()
    at = _open()
    assert not _said(at, "**The ")
    at.text_input(key="lt_search").input("label 7").run()
    _ok(at)
    sevens = np.flatnonzero(labels == 7).tolist()
    assert _said(at, f"**{len(sevens)} selected**")
    _, fig = _view(at)
    assert _rows_of(fig, "selected") == {"PCA": sevens}

    at.slider(key="lt_near_k").set_value(6).run()
    at.text_input(key="lt_search").input("#12").run()     # a row: selected, and the point whose neighbours are shown
    _ok(at)
    assert at.number_input(key="lt_focus").value == 12 and _said(at, "**1 selected**")
    table = next(d.value for d in at.dataframe if "rank" in d.value.columns)
    dist = np.linalg.norm(codes - codes[12], axis=1)
    dist[12] = np.inf
    assert len(table) == 6 and table["row"].tolist() == np.argsort(dist)[:6].tolist()
    col = "distance in the code space (euclidean)"
    assert np.all(np.diff(table[col]) >= 0)
    np.testing.assert_allclose(table[col], np.sort(dist)[:6], rtol=1e-6)
    assert table["label"].tolist() == labels[table["row"]].tolist()
    assert any(c.proto.id.endswith("-lt_near_imgs") for c in at.get("plotly_chart"))   # the neighbours' digits
    _, fig = _view(at)
    assert _rows_of(fig, "neighbours") == {"PCA": table["row"].tolist()} and _rows_of(fig, "picked point")

    at.text_input(key="lt_search").input("label 12").run()
    _ok(at)
    assert any("No row has the label “12”" in w.value for w in at.warning) and not _said(at, "**1 selected**")
    at.button(key="lt_clear").click().run()
    _ok(at)
    assert not at.warning and at.text_input(key="lt_search").value == "" and not _said(at, "**The ")
    _, fig = _view(at)
    assert _rows_of(fig, "selected") == {} and _rows_of(fig, "picked point") == {}


@pytest.fixture
def stored_umap(tmp_path, monkeypatch) -> str:
    """A UMAP projection of the page's default codes, stored as the page's own job would store it."""
    monkeypatch.setenv("GENLAB_HOME", str(tmp_path))
    from genlib.data import load_dataset
    from genlib.store import RunStore
    from genlib.train import JobManager

    ds = load_dataset("digits")
    codes, _ = _digits_codes()
    manager = JobManager(store=RunStore(tmp_path))
    job = manager.submit(lt.ProjectionTask(codes, lt.projection_source("pca", ds.name, ds.params, 16),
                                           lt.ProjectionSettings()))
    assert job.wait(300) and job.snapshot().status.value == "done"
    manager.shutdown(timeout=30)
    return job.snapshot().run_id


def test_a_box_in_the_umap_view_marks_the_same_rows_in_the_pca_view_and_a_click_picks_a_point(stored_umap) -> None:
    at = _open({"proj": stored_umap})
    chart, fig = _view(at)
    views = view_names(fig)
    assert set(views) == {"PCA", "UMAP"}
    # box over three digits in the UMAP panel: the browser reports their traces (curve numbers) and customdata
    umap_traces = [i for i, v in enumerate(views) if v == "UMAP"]
    points = [{"curve_number": umap_traces[0], "point_number": j, "customdata": list(fig.data[umap_traces[0]]
                                                                                    .customdata[j])}
              for j in (0, 1, 2)]
    rows = sorted(int(p["customdata"][0]) for p in points)
    _send_selection(at, points, box=True)
    assert _said(at, "**3 selected** (box in the UMAP view)")
    _, fig = _view(at)
    assert _rows_of(fig, "selected") == {"PCA": rows, "UMAP": rows}
    at.run()                                     # a rerun keeps the selection (it lives in the session)
    assert _said(at, "**3 selected** (box in the UMAP view)")

    # one click on a point in the PCA view: it becomes the picked point, its neighbours drawn in both views
    _, fig = _view(at)
    pca_trace = view_names(fig).index("PCA")
    clicked = int(fig.data[pca_trace].customdata[4][0])
    _send_selection(at, [{"curve_number": pca_trace, "point_number": 4,
                          "customdata": list(fig.data[pca_trace].customdata[4])}], box=False)
    assert at.number_input(key="lt_focus").value == clicked and _said(at, "**1 selected** (click in the PCA view)")
    _, fig = _view(at)
    near = _rows_of(fig, "neighbours")
    assert set(near) == {"PCA", "UMAP"} and near["PCA"] == near["UMAP"] and len(near["PCA"]) == 10
    assert _rows_of(fig, "picked point") == {"PCA": [clicked], "UMAP": [clicked]}


def test_presentation_mode_shows_one_section_of_the_explorer_at_a_time(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GENLAB_HOME", str(tmp_path))
    at = _open({"present": "1", "section": "The codes, drawn: PCA beside UMAP"})
    assert [h.value for h in at.header] == ["The codes, drawn: PCA beside UMAP"]
    assert at.selectbox(key="lt_source").value == "pca"       # the encoder picker stays, above the sections
    at.text_input(key="lt_search").input("3").run()
    _ok(at)
    assert _said(at, "**183 selected**") and not at.metric   # the encoder's numbers belong to another section
