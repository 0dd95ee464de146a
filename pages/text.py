"""User text is text: the one escaping helper for anything a user typed or uploaded (file names, dataset and column
names, run and preset names, job labels, error messages quoting them) on its way into Streamlit Markdown.

Streamlit renders Markdown (GitHub-flavoured, with HTML, LaTeX ``$…$``, emoji and ``:material/…:`` shortcodes and
``:red[…]`` directives) in ``st.markdown``, ``st.caption``, titles and headers, alerts, ``st.toast``, the ``text`` of
``st.progress`` and the labels of widgets, expanders, tabs and page links. Select-box and multiselect options and
table cells are plain text already: they must *not* go through :func:`md` (the backslashes would show).
"""
from __future__ import annotations

import re

from genlib.access import redact_paths

#: Set by pages/identity.py on a classroom server: then :func:`md` also hides server paths (an error message that
#: quotes a folder of the server, a checkpoint's path…): errors reach users through it.
REDACT_PATHS = False

# Every ASCII punctuation character may be backslash-escaped in CommonMark, and an escaped one is always literal.
# Escaping all of them (not only * _ [ ] ( ) ! # < > | ~ $ ` \) also breaks the constructs that start at a line's
# beginning (1. lists, - items, + items, = and - setext headings, > quotes) and GFM's bare autolinks
# (www.example.org, https://…, name@example.org).
_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")
# Emoji and icon shortcodes (:smile:, :material/home:) are replaced in the parsed text, after escapes are undone:
# a zero-width space after the opening colon keeps them literal.
_SHORTCODE = re.compile(r":(?=[\w+/-]+:)")


def md(text: object) -> str:
    """``text`` (a user's file name, column header, run name, …) as Streamlit Markdown that shows it literally: no
    link, image, bold, heading, HTML, LaTeX or emoji. Line breaks become spaces (a caption line stays one line). On a
    classroom server, absolute server paths become "…"."""
    s = " ".join(str(text).splitlines())
    if REDACT_PATHS:
        s = redact_paths(s)
    s = _SHORTCODE.sub(":\u200b", s)
    return _PUNCT.sub(r"\\\1", s)


def shown(markdown: str) -> str:
    """What a reader sees of text that went through :func:`md` (the escapes and zero-width spaces removed): tests
    compare page text with this."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u200b", "")
