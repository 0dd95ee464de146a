"""Issue 17, point 3: user text is text. A file name, a column header, a run name never renders as a link, an image,
bold or HTML — in Streamlit Markdown (pages.text.md) or in a Plotly figure (genlib.figures.style.plain)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from conftest import settle_jobs
from streamlit.testing.v1 import AppTest

from genlib import figures
from genlib.figures.style import plain
from pages.text import md

ROOT = Path(__file__).resolve().parents[1]
HOSTILE_FILE = "**URGENT** [Exam answers here](https:example.org) ![x](https:example.org?pixel).csv"
HOSTILE_COLUMN = "<b>x</b>"
#: What would render as markup if it reached Markdown unescaped.
RAW = ("**URGENT**", "__URGENT__", "[Exam answers here](", "![x](", "<b>", "</b>", "<a ")
#: genlib.uploads keeps the file under a safe name (``*``, ``[``, ``(``, ``!``, ``:``, ``?`` become ``_``), and the
#: dataset is named after it: still Markdown (``__URGENT__`` is bold, ``_…_`` italic) until escaped.
SHOWN = "__URGENT__"


# --- the helpers ---------------------------------------------------------------------------------------------
def _unescape(text: str) -> str:
    """What CommonMark shows for text made only of backslash escapes (and the zero-width space md adds)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text).replace("\u200b", "")


def _all_specials_escaped(text: str) -> bool:
    i = 0
    while i < len(text):
        if text[i] == "\\":
            if i + 1 >= len(text) or not re.match(r"[!-/:-@\[-`{-~]", text[i + 1]):
                return False
            i += 2
        elif text[i] in "*_`[]()!#<>|~$:.-+&/":
            return False
        else:
            i += 1
    return True


def test_md_escapes_every_markdown_and_html_special() -> None:
    for raw in (HOSTILE_FILE, HOSTILE_COLUMN, "<a href='https://e.org'>go</a>", "# heading", "1. item", "- item",
                "> quote", "a | b", "~~gone~~", "$x^2$", "`code`", "_it_", "www.example.org", "https://e.org",
                ":red[alert]", ":material/home: :smile:", "back\\slash", "x & y"):
        out = md(raw)
        assert _unescape(out) == raw, (raw, out)        # shown literally, nothing lost
        assert _all_specials_escaped(out), (raw, out)   # every special character comes backslash-escaped
    assert md(HOSTILE_FILE).startswith(r"\*\*URGENT\*\* \[Exam answers here\]\(https\:")
    assert md(":smile:") == "\\:\u200bsmile\\:"           # no emoji shortcode
    assert md("two\nlines") == "two lines"                # a name cannot start a block of its own
    assert md(ValueError("bad <b>")) == r"bad \<b\>"
    assert md("plain name 42") == "plain name 42"


def test_plain_escapes_plotly_html() -> None:
    assert plain("<a href='https://e.org'>go</a>") == "&lt;a href='https://e.org'&gt;go&lt;/a&gt;"
    assert plain("<b>x</b> & y") == "&lt;b&gt;x&lt;/b&gt; &amp; y"
    assert plain("col_1") == "col_1"


# --- figures -------------------------------------------------------------------------------------------------
def _no_raw_html(fig) -> str:
    data = [{k: v for k, v in trace.items() if k != "legendgroup"} for trace in fig.to_plotly_json()["data"]]
    text = json.dumps(data) + json.dumps(fig.to_plotly_json()["layout"])   # (a legend group is an id, never shown)
    text = text.replace("\\u003c", "<").replace("\\u003e", ">")
    assert "<b>" not in text and "<a " not in text, text[:500]
    return text


def test_figures_escape_hostile_column_and_run_names() -> None:
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
    cols = [HOSTILE_COLUMN, "<a href='https://e.org'>y</a>"]
    run = "gmm on <b>bold</b>"
    for fig in (figures.samples.marginal_histograms(real, cols, fake),
                figures.samples.scatter_2d(real, fake, columns=cols),
                figures.samples.pair_scatter(real, cols, fake),
                figures.samples.correlation_heatmap(real, cols),
                figures.samples.ecdf_overlay(real, {run: fake}, cols),
                figures.samples.histogram_overlay(real, {run: fake}, cols),
                figures.samples.qq_plot(real, {run: fake}, cols),
                figures.samples.correlation_grid(real, {run: fake}, cols),
                figures.curves.loss_curves_multi({run: ([1, 2, 3], {"loss": [3.0, 2.0, 1.0]})}),
                figures.curves.metric_histories({run: [{"elapsed": 1.0, "m": 0.5}]}, ["m"])):
        text = _no_raw_html(fig)
        assert "&lt;b&gt;" in text
    fig = figures.samples.marginal_histograms(real, cols, fake)
    assert [a.text for a in fig.layout.annotations][:2] == ["&lt;b&gt;x&lt;/b&gt;", plain(cols[1])]
    fig = figures.samples.ecdf_overlay(real, {run: fake}, cols)
    assert plain(run) in {t.name for t in fig.data}


# --- the app -------------------------------------------------------------------------------------------------
def _shown_markdown(at: AppTest) -> list[str]:
    """Every Markdown string of the page and the sidebar: bodies, captions, alerts, headings, progress texts, toasts,
    expander labels."""
    out: list[str] = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "toast", "title", "header",
                 "subheader"):
        out += [str(e.value) for e in at.get(kind)]
    out += [str(p.text) for p in at.get("progress")]
    out += [str(e.label) for e in at.get("expander")]
    return out


def _assert_only_escaped(at: AppTest) -> list[str]:
    assert not at.exception, [e.value for e in at.exception]
    shown = _shown_markdown(at)
    for text in shown:
        for raw in RAW:
            assert raw not in text, (raw, text)
    return shown


def test_hostile_upload_trains_and_shows_only_as_text() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("pages/train.py").run()
    at.selectbox(key="train_dataset").set_value("upload a CSV…").run()
    x = np.random.default_rng(0).normal(size=(200, 2))
    rows = "\n".join(f"{a:.5f},{b:.5f}" for a, b in x)
    at.file_uploader(key="train_upload").upload(HOSTILE_FILE, f"{HOSTILE_COLUMN},b\n{rows}".encode(), "text/csv").run()
    assert not at.error, [e.value for e in at.error]
    at.selectbox(key="train_model").set_value("gmm").run()
    at.button(key="train_start").click().run()
    from pages.common import job_manager
    settle_jobs(job_manager())
    at.run()
    shown = _assert_only_escaped(at)
    assert any(md(SHOWN) in t for t in shown), shown              # the job line names it, escaped
    progress = [p.text for p in at.get("progress")]
    assert any(t.startswith("done") for t in progress), progress

    at.switch_page("pages/runs.py").run()
    shown = _assert_only_escaped(at)
    assert any(md(SHOWN) in t for t in shown), shown              # the run's heading line and the sidebar
    table = at.dataframe[0].value
    assert any(SHOWN in str(v) for v in table["data"])     # a table cell is text already: as typed
