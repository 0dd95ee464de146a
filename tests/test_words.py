"""Words, not keys: every setting and metric has a plain name, tables and charts show it, missing values show as "—",
no page says "seed 00N", and the Sources page lists each document with a link to each page that uses it."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from genlib.anomaly.settings import SCENARIO_SETTINGS, ScoreSettings
from genlib.avo.baselines import ABCSettings
from genlib.avo.fit import AVOConfig
from genlib.data import list_datasets
from genlib.data.csv_loader import CsvParams
from genlib.metrics.suite import SUITE
from genlib.models import REGISTRY
from genlib.params import Param, params_of
from genlib.sources import SOURCES
from genlib.train import TrainSettings
from genlib.words import MISSING, MISSING_HELP, WORDS, column_help, metric_title, plain_columns, raw_keys, shown_value, word

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["home", "train", "compare", "lorenz", "latent", "density", "anomaly", "simulator", "runs", "sources"]


def _settings() -> Iterator[tuple[str, Param]]:
    """Every setting a user can meet: each registered model, each built-in dataset, training, anomaly scenarios and
    scores, simulator fits and their baseline, CSV uploads."""
    for name, cls in REGISTRY.items():
        yield from ((f"model {name}", p) for p in params_of(cls.Config))
    for info in list_datasets():
        yield from ((f"dataset {info.name}", p) for p in info.params)
    for cls in (TrainSettings, ScoreSettings, AVOConfig, ABCSettings, CsvParams, *SCENARIO_SETTINGS.values()):
        yield from ((cls.__name__, p) for p in params_of(cls))


#: What the app must never show as a label or column: every setting's field name, every metric's key, and every
#: key the words module renames.
RAW = {p.name for _, p in _settings()} | set(SUITE) | raw_keys()
#: The keys with an underscore, which no column or label may contain either ("heldout_ll_per_dim").
RAW_UNDERSCORED = sorted(k for k in RAW if "_" in k)


def _is_raw(text: str) -> bool:
    """``text`` is a raw key, or contains one that has an underscore (as a whole word)."""
    text = str(text).strip()
    if text in RAW:
        return True
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(k)}(?![A-Za-z0-9])", text) for k in RAW_UNDERSCORED)


# ------------------------------------------------------------------------------------------- the metadata


def test_every_setting_has_a_label_in_words() -> None:
    missing = [f"{where}: {p.name}" for where, p in _settings() if not p.label]
    assert not missing, f"give these settings a label= in plain words: {missing}"
    same = [f"{where}: {p.name}" for where, p in _settings() if p.title.strip() in RAW or "_" in p.title]
    assert not same, f"these labels are a raw key: {same}"


def test_the_settings_the_issue_names_read_as_words() -> None:
    vae = {p.name: p.title for p in params_of(REGISTRY["vae"].Config)}
    assert vae["latent_dim"] == "latent dimensions"
    assert vae["grad_clip"] == "gradient clipping (max norm)"
    assert vae["learn_sigma"] == "learn the decoder's σ"
    assert vae["lr"] == "learning rate"


def test_every_metric_has_a_plain_name_and_its_unit_in_the_title() -> None:
    for key, info in SUITE.items():
        assert info.label and info.label != key and "_" not in info.label, key
        assert metric_title(key).startswith(info.label)
        assert (f"({info.unit})" in metric_title(key)) == bool(info.unit), key
    assert SUITE["anderson_darling"].label == "Anderson–Darling distance"
    assert metric_title("log_likelihood") == "Held-out log-likelihood (nats/dim)"
    with pytest.raises(KeyError):
        metric_title("no_such_metric")


def test_no_help_text_or_label_says_seed_00() -> None:
    said = [f"{where}: {p.name}" for where, p in _settings() if "seed 00" in (p.help + p.title).lower()]
    said += [f"model {n}: summary" for n, cls in REGISTRY.items() if "seed 00" in getattr(cls, "summary", "")]
    said += [f"dataset {i.name}" for i in list_datasets() if "seed 00" in i.description]
    assert not said, said


# ------------------------------------------------------------------------------------------- word, plain_columns


def test_word_uses_the_dicts_then_the_metadata_then_spaces() -> None:
    assert word("heldout_ll") == "held-out log-likelihood (nats/row)"       # the general dict
    assert word("grid_integral") == "integral of p over the grid"
    assert word("anderson_darling") == "Anderson–Darling distance"         # a metric's label
    assert word("log_likelihood") == "Held-out log-likelihood (nats/dim)"   # ... with its unit
    assert word("latent_dim") == "latent dimensions"                        # a setting's label
    assert word("some_new_key") == "some new key"                           # nobody described it
    for key, words in WORDS.items():
        assert word(key) == words


def test_plain_columns_renames_every_column_but_the_kept_ones() -> None:
    frame = pd.DataFrame({"heldout_ll": [1.0], "kendall_error": [0.1], "price_usd": [3.0], "lr": [1e-3],
                          "model": ["vae"]})
    out = plain_columns(frame, extra={"model": "model (run)"}, keep=["price_usd"])
    assert list(out.columns) == ["held-out log-likelihood (nats/row)", "Kendall error", "price_usd",
                                 "learning rate", "model (run)"]
    assert out.iloc[0].tolist() == frame.iloc[0].tolist()                  # values untouched
    assert list(frame.columns)[0] == "heldout_ll"                          # the input is not changed
    assert not any(_is_raw(c) for c in out.columns if c != "price_usd")


def test_shown_value_hides_every_kind_of_missing_value() -> None:
    for missing in (None, float("nan"), np.nan, np.float32("nan"), np.float64("nan"), pd.NA):
        assert shown_value(missing) == MISSING
    for value in (0, 0.0, -1.5, True, False, "x", "", np.int64(3), math.inf):
        assert shown_value(value) is value or shown_value(value) == value
    assert MISSING == "—"


def test_column_help_explains_the_metric_and_the_dash() -> None:
    assert column_help("kendall_error").startswith(SUITE["kendall_error"].description)
    assert MISSING in column_help("kendall_error") and column_help("kendall_error").endswith(MISSING_HELP)
    assert column_help("heldout_ll") == MISSING_HELP


# ------------------------------------------------------------------------------------------- the pages


def _app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)


def _walk(node: Any) -> Iterator[Any]:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def _labels(at: AppTest) -> list[str]:
    """Every widget, expander, tab, metric, link and download label on the page (main area and sidebar)."""
    out = []
    for el in _walk(at._tree):
        proto = getattr(el, "proto", None)
        label = getattr(el, "label", None) or (getattr(proto, "label", None) if proto is not None else None)
        if isinstance(label, str) and label:
            out.append(label)
    return out


def _texts(at: AppTest) -> list[str]:
    """Every text the page shows: markdown, captions, titles, alerts, LaTeX, labels and their tooltips."""
    out = []
    for el in _walk(at._tree):
        proto = getattr(el, "proto", None)
        for attr in ("body", "help", "label", "placeholder"):
            v = getattr(proto, attr, None) if proto is not None else None
            if isinstance(v, str) and v:
                out.append(v)
    return out


def _columns(at: AppTest) -> list[str]:
    """The headers the page's tables show: a column's column_config label where it has one, else its name."""
    out = []
    for df in at.dataframe:
        config = json.loads(df.proto.columns or "{}")
        for col in df.value.columns:
            shown = (config.get(str(col)) or {}).get("label") or col
            out.append(str(shown))
    return out


def _chart_words(at: AppTest) -> list[str]:
    """Titles, axis titles, colour-bar titles and subplot titles of every Plotly chart."""
    out = []
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec or "{}")
        lay = spec.get("layout", {})
        for key, value in lay.items():
            if key == "title" or key.startswith(("xaxis", "yaxis", "coloraxis")) or key == "scene":
                out += _titles(value)
        out += [a.get("text", "") for a in lay.get("annotations", [])]
        for trace in spec.get("data", []):
            out += _titles(trace.get("colorbar", {}))
    return [re.sub(r"<[^>]+>", " ", t) for t in out if t]


def _titles(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        title = obj.get("title")
        found = _titles(title.get("text") if isinstance(title, dict) else title) if title is not None else []
        found += [obj["text"]] if isinstance(obj.get("text"), str) else []
        for k in ("xaxis", "yaxis", "zaxis"):
            found += _titles(obj.get(k, {})) if isinstance(obj.get(k), dict) else []
        return found
    return []


@pytest.fixture(scope="module", params=PAGES)
def page(request: pytest.FixtureRequest) -> AppTest:
    at = _app()
    if request.param == "home":
        at.run()
    else:
        at.switch_page(f"pages/{request.param}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_no_label_is_a_raw_key(page: AppTest) -> None:
    raw = sorted({label for label in _labels(page) if _is_raw(label)})
    assert not raw, f"widget/expander/metric labels that are raw keys: {raw}"


def test_no_table_column_is_a_raw_key(page: AppTest) -> None:
    raw = sorted({c for c in _columns(page) if _is_raw(c)})
    assert not raw, f"table columns that are raw keys: {raw}"


def test_no_chart_title_or_axis_is_a_raw_key(page: AppTest) -> None:
    raw = sorted({t for t in _chart_words(page) if _is_raw(t)})
    assert not raw, f"chart titles or axes that are raw keys: {raw}"


def test_no_page_says_seed_00(page: AppTest) -> None:
    said = sorted({"…" + t[max(m.start() - 60, 0):m.end() + 20] + "…" for t in _texts(page)
                   for m in re.finditer(r"seed\s*00\d", t, re.I)})
    assert not said, f"name the document instead (genlib.sources.cite): {said}"


def test_no_table_shows_none_or_nan_as_text(page: AppTest) -> None:
    shown = []
    for df in page.dataframe:
        frame = df.value
        for col in frame.columns:
            if frame[col].dtype == object and frame[col].map(lambda v: str(v) in ("None", "nan", "NaN")).any():
                shown.append(str(col))
    assert not shown, f"columns with a literal None/nan cell (show {MISSING} instead): {shown}"


# ------------------------------------------------------------------------------------------- the Sources page


def test_sources_page_lists_each_document_with_a_link_to_each_page_it_names() -> None:
    from pages.presets_ui import TITLES
    at = _app()
    at.switch_page("pages/sources.py").run()
    assert not at.exception, [e.value for e in at.exception]
    headers = [h.value for h in at.header]
    links = [(pl.proto.label, pl.proto.page) for pl in at.get("page_link")]
    stem = {title: s for s, title in TITLES.items()}
    for s in SOURCES.values():
        name = s.name[0].upper() + s.name[1:]
        assert name in headers, f"no section for {s.name}"
        for title in s.where:
            url = "" if stem[title] == "home" else stem[title]      # the default page has the empty path
            assert (title, url) in links, f"{s.name}: no link to {title}"
    text = " ".join(_texts(at))
    for s in SOURCES.values():
        assert s.title in text and all(t[:20].lower() in text.lower() for t in s.takes), s.key
    assert len(at.latex) >= len(SOURCES), "each document shows the formulas GenLab reproduces from it"
    table = at.dataframe[0].value
    assert len(table) == len(SOURCES)



def test_sources_page_in_presentation_mode_shows_one_document_at_a_time() -> None:
    at = _app()
    at.query_params["present"] = "1"
    at.switch_page("pages/sources.py").run()
    assert not at.exception, [e.value for e in at.exception]
    names = [s.name[0].upper() + s.name[1:] for s in SOURCES.values()]
    assert [h.value for h in at.header if h.value in names] == names[:1]
    at.button(key="sources_section_next").click().run()
    assert [h.value for h in at.header if h.value in names] == names[1:2]


# ------------------------------------------------------------------------------------------- the charts


def test_training_metric_charts_are_titled_in_words() -> None:
    """The Train page's live metric chart (figures.curves.metric_history) with the suite's keys: its panel titles
    and trace names are the metrics' names, not anderson_darling / kendall_error."""
    from genlib import figures
    history = [{"step": s, "anderson_darling": 1.0 / s, "kendall_error": 0.1} for s in (1, 2, 3)]
    fig = figures.curves.metric_history(history, ["anderson_darling", "kendall_error"])
    words = [a.text for a in fig.layout.annotations] + [t.name for t in fig.data]
    assert not [w for w in words if _is_raw(w)], words
    histories = {"run a": history}
    fig = figures.curves.metric_histories(histories, ["anderson_darling", "kendall_error"])
    words = [a.text for a in fig.layout.annotations]
    assert not [w for w in words if _is_raw(w)], words
