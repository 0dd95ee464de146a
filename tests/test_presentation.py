"""Presentation mode under AppTest: the sidebar toggle writes ``present=1`` to the address and back, one section is
drawn at a time with ◀ Previous / Next ▶, the mode survives a page change, a bookmark with ``?present=1`` opens in
it, and a page asking for a section it never declared is an error, in both modes. GenLab's own navigation lists
its ten pages. (The browser side, the first paint and formulas that fit, is in test_browser.py.)"""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from genlib.sources import SOURCES

ROOT = Path(__file__).resolve().parents[1]
TOGGLE = "presentation_mode"
#: The Sources page: cheap to run, one section per document.
SECTIONS = [s.name[0].upper() + s.name[1:] for s in SOURCES.values()]
TITLES = ["Home", "Train", "Compare", "Lorenz lab", "Latent explorer", "Density", "Anomalies", "Simulator fitting",
          "Runs", "Sources"]


def _sources(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(query or {})
    at.switch_page("pages/sources.py").run()
    _ok(at)
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _headers(at: AppTest) -> list[str]:
    return [h.value for h in at.main.header]


def _present(at: AppTest) -> str | None:
    value = at.query_params.get("present")
    return value[0] if isinstance(value, list) else value


def _button(at: AppTest, label: str):
    return next(b for b in at.main.button if b.label == label)


def test_the_toggle_shows_one_section_at_a_time_and_writes_the_address() -> None:
    at = _sources()
    assert _headers(at) == SECTIONS and _present(at) is None   # normal mode: every section, under its header
    at.sidebar.toggle(key=TOGGLE).set_value(True).run()
    _ok(at)
    assert _present(at) == "1"
    assert _headers(at) == SECTIONS[:1]
    assert any(m.value == f"**Section 1 of {len(SECTIONS)}**" for m in at.main.markdown)
    assert _button(at, "◀ Previous").disabled and not _button(at, "Next ▶").disabled
    _button(at, "Next ▶").click().run()
    _ok(at)
    assert _headers(at) == SECTIONS[1:2]
    assert any(m.value == f"**Section 2 of {len(SECTIONS)}**" for m in at.main.markdown)
    _button(at, "◀ Previous").click().run()
    assert _headers(at) == SECTIONS[:1]
    at.sidebar.toggle(key=TOGGLE).set_value(False).run()
    _ok(at)
    assert _present(at) is None and "section" not in at.query_params
    assert _headers(at) == SECTIONS
    assert not [b for b in at.main.button if b.label in ("◀ Previous", "Next ▶")]


def test_a_bookmark_opens_in_presentation_mode_and_a_page_change_keeps_it() -> None:
    at = _sources({"present": "1", "section": SECTIONS[2]})
    assert at.sidebar.toggle(key=TOGGLE).value is True
    assert _headers(at) == SECTIONS[2:3]
    at.query_params.clear()   # a link to another page carries no parameters: the session keeps the mode
    at.switch_page("pages/home.py").run()
    _ok(at)
    assert _present(at) == "1" and at.sidebar.toggle(key=TOGGLE).value is True
    assert _headers(at) == ["Built-in data"]
    at.switch_page("pages/sources.py").run()
    assert _headers(at) == SECTIONS[:1]


def test_genlab_draws_its_own_navigation_of_the_ten_pages() -> None:
    at = _sources()
    links = [link.proto.label for link in at.sidebar.get("page_link")]
    assert links == TITLES


def _asks_for(title: str, present: bool) -> None:
    import streamlit as st

    from pages.presentation import page_sections
    if present:
        st.query_params["present"] = "1"
    show = page_sections("test", ["One", "Two"])
    show(title)


@pytest.mark.parametrize("present", [False, True], ids=["normal", "presenting"])
def test_page_sections_refuses_a_section_it_was_not_given(present: bool) -> None:
    at = AppTest.from_function(_asks_for, args=("Three", present), default_timeout=30).run()
    assert at.exception and "'Three' is not one of" in at.exception[0].value
    ok = AppTest.from_function(_asks_for, args=("Two", present), default_timeout=30).run()
    _ok(ok)


def test_page_sections_needs_a_section() -> None:
    from pages.presentation import page_sections
    with pytest.raises(ValueError):
        page_sections("empty", [])


def test_simulator_page_presents_one_section_and_its_hidden_settings_still_feed_the_fit() -> None:
    """The Simulator fitting page runs its settings sections even when another one is on screen (their widgets
    feed the fit): only the chosen section's header and formulas are drawn, and the fit section can start."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update({"present": "1", "section": "4 · Fit"})
    at.switch_page("pages/simulator.py").run()
    _ok(at)
    assert _headers(at) == ["4 · Fit"]
    formulas = [m.value for m in at.main.latex]   # the page's own, above the sections; none of sections 1-3
    assert len(formulas) == 1 and r"\arg\min_\theta" in formulas[0], formulas
    start = next(b for b in at.main.button if b.label == "Start")
    assert not start.disabled and not at.main.error   # the hidden sections' settings are valid and were read
