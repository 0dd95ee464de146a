"""Presentation mode: GenLab in front of a class — larger type, the sidebar collapsed, one section at a time.

The mode is a toggle remembered in the address (``?present=1``), so a teacher can bookmark it. Each page declares
its sections once and asks, section by section, whether to draw it::

    show = page_sections("density", ["Gaussian mixture", "Critic view"])
    if show("Gaussian mixture"):
        ...   # the section's widgets and figures

Outside presentation mode ``show`` draws the section's header and returns True for every section; in presentation
mode a picker (with previous/next) sits at the top and only the chosen section is drawn (the others cost nothing).
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import streamlit as st

_PARAM = "present"
_SECTION = "section"
_STATE = "presentation_mode"   # the sidebar toggle's key: the session's own answer, once it has one
ASSETS = Path(__file__).resolve().parents[1] / "assets"


def presenting() -> bool:
    """Whether this browser is in presentation mode: the toggle's state in this session, else the address
    (``present=1``; a bookmark or a reload). The session wins so that a link which drops the parameter (any
    ``st.page_link`` without it) does not end a presentation."""
    if _STATE in st.session_state:
        return bool(st.session_state[_STATE])
    return st.query_params.get(_PARAM) == "1"


def set_presenting(on: bool) -> None:
    """Switch presentation mode for this browser (written to the address)."""
    if on:
        st.query_params[_PARAM] = "1"
    else:
        st.query_params.pop(_PARAM, None)
        st.query_params.pop(_SECTION, None)


def _toggled() -> None:
    set_presenting(bool(st.session_state[_STATE]))


def presentation_toggle() -> None:
    """The sidebar's "Presentation mode" toggle (app.py, every page), kept in step with the address: the first run
    of a session takes the address's word; later, a page reached by a link that dropped ``present=1`` gets it back."""
    on = presenting()
    st.session_state[_STATE] = on
    if on != (st.query_params.get(_PARAM) == "1"):
        set_presenting(on)
    st.sidebar.toggle("Presentation mode", key=_STATE, on_change=_toggled,
                      help="For a projector: larger type, the sidebar folded away, one section of a page at a "
                           "time (◀ Previous / Next ▶). Kept in the address (?present=1): bookmark it.")


def shell_styles() -> None:
    """Styles for every page: formulas that wrap and shrink to fit their box (assets/formulas.css); in
    presentation mode, larger type too (assets/presentation.css). Style-only HTML takes no room on the page."""
    st.html(ASSETS / "formulas.css")
    if presenting():
        st.html(ASSETS / "presentation.css")


def sidebar_navigation(pages: Mapping[str, Sequence[st.Page]]) -> None:
    """GenLab's navigation in the sidebar: one link per page (title and icon), grouped as ``pages`` is. app.py
    hides Streamlit's own navigation, which on a fresh server's first run would list module names instead. In
    presentation mode every link keeps ``present=1``."""
    keep = {_PARAM: "1"} if presenting() else None
    nav = st.sidebar.container(key="genlab_nav")
    for group, group_pages in pages.items():
        nav.caption(group)
        for page in group_pages:
            nav.page_link(page, label=page.title, icon=page.icon, query_params=keep, width="stretch")


def page_sections(page: str, titles: list[str]) -> Callable[[str], bool]:
    """The sections of ``page`` in order; returns ``show(title) -> bool`` (see the module docstring)."""
    if not titles:
        raise ValueError("a page needs at least one section")
    if not presenting():
        def show_all(title: str) -> bool:
            if title not in titles:   # a typo must not pass unnoticed until someone presents
                raise ValueError(f"section {title!r} is not one of {titles}")
            st.header(title)
            return True
        return show_all
    chosen = st.query_params.get(_SECTION)
    if chosen not in titles:
        chosen = titles[0]
    i = titles.index(chosen)

    def go(to: int) -> None:
        st.query_params[_SECTION] = titles[to]

    left, mid, right = st.columns([2, 5, 2], vertical_alignment="center")   # room for "◀ Previous" in large type
    left.button("◀ Previous", key=f"{page}_section_prev", disabled=i == 0, on_click=go, args=(i - 1,),
                use_container_width=True)
    mid.markdown(f"**Section {i + 1} of {len(titles)}**")
    right.button("Next ▶", key=f"{page}_section_next", disabled=i == len(titles) - 1, on_click=go, args=(i + 1,),
                 use_container_width=True)

    def show_one(title: str) -> bool:
        if title not in titles:
            raise ValueError(f"section {title!r} is not one of {titles}")
        if title != chosen:
            return False
        st.header(title)
        return True
    return show_one


@contextmanager
def section_block(show: Callable[[str], bool], title: str) -> Iterator[bool]:
    """A section whose code must run even when it is not shown, because its widgets feed later sections (the
    Simulator fitting page's settings feed its fit). A section ``show`` does not draw is drawn into a placeholder
    that is emptied at once (even if the section stops the script), so its widgets keep their values and the code
    below sees them, but nothing stays on screen. Yields whether the section is on screen."""
    if show(title):
        yield True
        return
    hidden = st.empty()
    try:
        with hidden.container():
            yield False
    finally:
        hidden.empty()
