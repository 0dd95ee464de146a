"""Hostile CSVs as a generated corpus (issue 17, "Tests and measurements").

`hostile_corpus` builds well over 100 named files (encodings, separators, headers, magnitudes, shapes, binary data,
a few larger ones), deterministically from a seeded generator. Each goes through the three ways a file gets in:

1. ``genlib.data.load_csv`` on an uploaded file object (bytes with a ``.name``),
2. the upload store: ``genlib.uploads.save_upload`` then ``load_upload``,
3. the CLI in-process: ``genlib train --model gaussian --data FILE`` and, when it trains, ``genlib sample``.

Every one must end in a clean refusal (a `DataError` of one line; the CLI: exit 2 and one ``genlib`` line on stderr)
or in finite data (and, for the CLI, a run whose stored metrics and samples are finite). Any other exception is a
bug. Some variants also say which of the two they must be (`Variant.expect`) and what the refusal must name.
"""
from __future__ import annotations

import gzip
import io
import json
import math
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import pytest

from conftest import lines
from genlib.cli import main
from genlib.data import DataError, Dataset, load_csv
from genlib.data.csv_loader import min_rows
from genlib.metrics.likelihood import is_discrete
from genlib.uploads import load_upload, save_upload

OK, REFUSED = "ok", "refused"
MIN = min_rows()          # 28 at the default test fraction
#: Longest refusal a page or a terminal should have to show (the loader shortens what it quotes from the file).
MAX_MESSAGE = 600
#: Words of pandas' or Python's own errors that must never reach the user.
LEAKS = re.compile(r"Traceback|Error tokenizing|C error|Unnamed: \d|ParserError|dtype|object of type|"
                   r"could not convert|invalid literal|codec can't", re.I)


@dataclass(frozen=True)
class Variant:
    id: str
    data: bytes
    name: str = "data.csv"
    expect: str | None = None   # OK, REFUSED, or None: either is fine as long as it is clean
    says: str = ""              # a regex the refusal's message must match (case-insensitive)


# ----------------------------------------------------------------------------------------------- the corpus


def _cell(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return format(float(v), ".17g")


def _csv(header: Sequence[str] | None, rows: Any, sep: str = ",", eol: str = "\n", final_eol: bool = True) -> str:
    out = [] if header is None else [sep.join(header)]
    out += [sep.join(_cell(v) for v in row) for row in rows]
    return eol.join(out) + (eol if final_eol else "")


def hostile_corpus(seed: int = 17) -> list[Variant]:
    """The corpus, the same every call (everything random comes from one seeded generator)."""
    rng = np.random.default_rng(seed)
    variants: list[Variant] = []

    def add(id: str, data: bytes | str, name: str = "", expect: str | None = None, says: str = "") -> None:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        variants.append(Variant(id, raw, name or f"{id}.csv", expect, says))

    def normal(n: int = 40, d: int = 3) -> np.ndarray:
        return rng.normal(size=(n, d)) * np.geomspace(1, 100, d) + np.arange(d)

    def good(n: int = 40, header: Sequence[str] = ("a", "b", "c"), **kw) -> str:
        return _csv(header, normal(n, len(header)), **kw)

    # -- encodings
    accented = ("höhe", "température", "façade")
    add("enc_utf8", good(header=accented), expect=OK)
    add("enc_utf8_bom", good(header=accented).encode("utf-8-sig"), expect=OK)
    add("enc_utf16le_bom", b"\xff\xfe" + good(header=accented).encode("utf-16-le"), expect=OK)
    add("enc_utf16be_bom", b"\xfe\xff" + good(header=accented).encode("utf-16-be"), expect=OK)
    add("enc_utf32le_bom", good(header=accented).encode("utf-32"), expect=OK)
    add("enc_utf32be_bom", b"\x00\x00\xfe\xff" + good(header=accented).encode("utf-32-be"), expect=OK)
    add("enc_latin1_header", good(header=accented).encode("latin-1"), expect=OK)
    add("enc_cp1252_euro", good(header=("€ price", "“quoted”", "naïve")).encode("cp1252"), expect=OK)
    add("enc_utf16le_no_bom", good().encode("utf-16-le"), expect=REFUSED, says="binary")
    add("enc_utf16_truncated", good().encode("utf-16")[:-1], expect=REFUSED, says="UTF-16")
    add("enc_utf32_garbage", b"\xff\xfe\x00\x00" + bytes(rng.integers(0, 256, 400, dtype=np.uint8)), expect=REFUSED)
    add("enc_invalid_utf8_header", b"a\xc3\x28,b,c\n" + _csv(None, normal()).encode(), expect=OK)
    add("enc_undecodable_bytes", b"a\x81\x8d,b\x90,c\n" + _csv(None, normal()).encode(), expect=REFUSED,
        says="not readable text")
    add("enc_invalid_utf8_in_cell", good().encode().replace(b"\n", b"\n\xff\xfe\xfd", 1), expect=REFUSED)
    add("enc_double_bom", "\ufeff\ufeff" + good(), expect=None)
    add("enc_nbsp_around_numbers", _csv(("a", "b"), [[f"\u00a0{x:.3f}\u00a0", f"{y:.3f}"] for x, y in normal(40, 2)]))
    add("enc_fullwidth_digits", _csv(("a", "b"), [["１２", "３"]] + normal(39, 2).tolist()), expect=REFUSED)
    add("enc_zero_width_header", good(header=("a\u200b", "a", "b")), expect=None)
    add("eol_crlf", good(eol="\r\n"), expect=OK)
    add("eol_cr_only", good(eol="\r"), expect=None)
    text = good(n=45).split("\n")
    add("eol_mixed", "".join(line + ("\r\n", "\r", "\n")[i % 3] for i, line in enumerate(text[:-1])))
    add("eol_no_final_newline", good(final_eol=False), expect=OK)

    # -- separators
    add("sep_comma", good(), expect=OK)
    add("sep_semicolon", good(sep=";"), expect=OK)
    add("sep_tab", good(sep="\t"), expect=OK, name="sep_tab.tsv")
    add("sep_pipe", good(sep="|"), expect=REFUSED)
    add("sep_space", good(sep=" "), expect=REFUSED)
    add("sep_aligned_spaces", _csv(("a", "b"), [[f"{x:>12.4f}", f"{y:>12.4f}"] for x, y in normal(40, 2)], sep="   "))
    comma_head = good().split("\n")
    add("sep_header_comma_rows_semicolon", "\n".join([comma_head[0]] + [r.replace(",", ";") for r in comma_head[1:]]))
    add("sep_mixed_in_rows", "\n".join(r.replace(",", ";", 1) if i % 2 else r for i, r in enumerate(comma_head)))
    add("sep_decimal_comma", _csv(("a", "b"), [[f"{x:.3f}".replace(".", ","), f"{y:.3f}".replace(".", ",")]
                                               for x, y in normal(40, 2)], sep=";"), expect=REFUSED)
    add("sep_decimal_comma_tab", _csv(("a", "b"), [[f"{x:.3f}".replace(".", ","), f"{y:.3f}".replace(".", ",")]
                                                   for x, y in normal(40, 2)], sep="\t"), expect=REFUSED)
    add("sep_decimal_comma_unquoted", _csv(("a", "b"), [[f"{x:.3f}".replace(".", ","), f"{y:.3f}".replace(".", ",")]
                                                        for x, y in normal(40, 2)]), expect=REFUSED, says="fields")
    add("sep_spaces_after_comma", good(sep=", "), expect=OK)
    add("sep_spaces_before_comma", good(sep=" ,"), expect=None)
    add("sep_thousands_quoted", _csv(("a", "b"), [[f'"{x * 1e4:,.1f}"', f"{y:.2f}"] for x, y in normal(40, 2)]),
        expect=REFUSED, says="text")
    add("sep_semicolon_with_commas_in_header", _csv(("a,1", "b,2"), normal(40, 2), sep=";"), expect=None)

    # -- headers
    add("hdr_none", _csv(None, normal()), expect=REFUSED, says="header")
    add("hdr_numeric_names", good(header=("1", "2.5", "-3")), expect=REFUSED, says="header")
    add("hdr_some_numeric_names", good(header=("1", "b", "3")), expect=OK)
    add("hdr_nan_inf_names", good(header=("nan", "inf", "x")), expect=None)
    add("hdr_duplicates", good(header=("a", "b", "a")), expect=REFUSED, says="duplicate")
    add("hdr_duplicates_after_strip", good(header=("a", "a ", "b")), expect=REFUSED, says="duplicate")
    add("hdr_case_differs", good(header=("a", "A", "b")), expect=OK)
    add("hdr_blank", good(header=("a", "", "c")), expect=REFUSED, says="without a name")
    add("hdr_all_blank", good(header=("", "", "")), expect=REFUSED, says="without a name")
    add("hdr_index_column", good(header=("", "a", "b")), expect=REFUSED, says="without a name")
    add("hdr_very_long_names", good(header=("x" * 5000, "y" * 300, "z")), expect=OK)
    add("hdr_very_long_name_text_column",
        _csv(("x" * 5000, "b"), [["word", f"{v:.3f}"] for v in normal(40, 1)[:, 0]]), expect=REFUSED, says="text")
    add("hdr_formula", good(header=("=cmd|' /C calc'!A0", "+1+1", "@SUM(A1)")), expect=OK)
    add("hdr_formula_quoted", good(header=('"=HYPERLINK(""http://x"",""y"")"', "-2-2", "b")), expect=OK)
    add("hdr_markdown_html", good(header=("**x** <b>", "<script>alert(1)</script>", "[l](http://x)")), expect=OK)
    add("hdr_emoji", good(header=("📈 price", "🙂", "温度")), expect=OK)
    add("hdr_newline_in_quoted", good(header=('"a\nb"', "c", "d")), expect=None)
    add("hdr_newline_in_quoted_text_column", _csv(('"a\nb"', "c"), [["w", f"{v:.2f}"] for v in normal(40, 1)[:, 0]]),
        expect=REFUSED, says=r"'a\\nb'")
    add("hdr_line_separator_text_column", _csv(("a\u2028b", "c"), [["w", f"{v:.2f}"] for v in normal(40, 1)[:, 0]]),
        expect=REFUSED, says="text")
    add("hdr_crlf_in_quoted_nan", _csv(('"a\r\nb"', "c"), [["", "1"]] + normal(39, 2).tolist()), expect=REFUSED)
    add("hdr_only", "a,b,c\n", expect=REFUSED, says="rows")
    add("hdr_only_no_newline", "a,b,c", expect=REFUSED, says="rows")
    add("hdr_quoted", good(header=('"a"', '"b"', '"c"')), expect=OK)
    add("hdr_unbalanced_quote", good(header=('"a', "b", "c")), expect=REFUSED)
    add("hdr_padded_names", good(header=("  a ", " b", "c  ")), expect=OK)
    add("hdr_tabs_in_names", good(header=("a\tb", "c", "d")), expect=None)
    add("hdr_comment_line", "# exported by a tool\n" + good(), expect=None)
    add("hdr_two_header_lines", "a,b,c\n" + good(), expect=REFUSED, says="text")

    # -- magnitudes
    def column(values: Sequence[Any], n: int = 40) -> str:
        """One hostile column next to a normal one: ``values`` cycled over n rows."""
        return _csv(("x", "y"), [[values[i % len(values)], f"{v:.6f}"] for i, v in enumerate(normal(n, 1)[:, 0])])

    add("mag_1e300", column([1e300, -2e300, 3e300]), expect=REFUSED, says="too large")
    add("mag_pm1e308", column([1e308, -1e308, 1.7e308]), expect=REFUSED, says="too large")
    add("mag_max_float", column([np.finfo(float).max, -np.finfo(float).max, 0.0]), expect=REFUSED, says="too large")
    add("mag_just_above_limit", column([1.0000001e150, 0.5, -3.0]), expect=REFUSED, says="too large")
    add("mag_at_limit", column([1e150, -1e150, 0.0, 5e149]), expect=OK)
    add("mag_1e_minus_300", column([1e-300, 2e-300, 3e-300]), expect=REFUSED, says="differ by less")
    add("mag_denormals", column([5e-324, 1e-320, 0.0]), expect=REFUSED, says="differ by less")
    add("mag_tiny_but_trainable", column([1e-140, 2e-140, 3.5e-140]), expect=OK)
    add("mag_inf", column([1.0, "inf", 2.0, 3.0]), expect=REFUSED, says="inf")
    add("mag_minus_inf", column([1.0, "-inf", 2.0]), expect=REFUSED, says="inf")
    add("mag_infinity_word", column([1.0, "Infinity", 2.0]), expect=REFUSED)
    add("mag_nan", column([1.0, "nan", 2.0]), expect=REFUSED, says="NaN")
    add("mag_nan_texts", column([1.0, "NaN", "NA", "N/A", "null", "NULL", "#N/A", 2.0]), expect=REFUSED, says="NaN")
    add("mag_empty_cells", column([1.0, "", 2.0, 3.0]), expect=REFUSED, says="missing")
    add("mag_all_empty_column", column([""]), expect=REFUSED, says="missing")
    add("mag_1e1000_overflow", column([1.0, "1e1000", 2.0]), expect=REFUSED, says="1.8e308")
    add("mag_minus_1e1000_overflow", column([1.0, "-1e1000", 2.0]), expect=REFUSED)
    add("mag_1e_minus_1000_underflow", column(["1e-1000", "2e-1000", "3e-1000"]), expect=REFUSED)
    x = normal(40, 1)[:, 0]
    add("mag_scale_gap_1e200", _csv(("big", "small"), np.column_stack([x * 1e100, normal(40, 1)[:, 0] * 1e-100])),
        expect=OK)
    add("mag_scale_gap_1e290", _csv(("big", "small"), np.column_stack([x * 1e145, normal(40, 1)[:, 0] * 1e-145])),
        expect=OK)
    add("mag_scale_gap_1e400", _csv(("big", "small"), np.column_stack([x * 1e200, normal(40, 1)[:, 0] * 1e-200])),
        expect=REFUSED)
    add("mag_constant_column", column([4.25]), expect=REFUSED, says="constant")
    add("mag_all_constant", _csv(("a", "b"), [[1, 2]] * 40), expect=REFUSED, says="constant")
    add("mag_int64_max", column([2**63 - 1 - i * 10**12 for i in range(40)]), expect=OK)
    add("mag_int64_min", column([-(2**63) + i * 10**12 for i in range(40)]), expect=OK)
    add("mag_uint64_max", column([2**64 - 1 - i * 10**12 for i in range(40)]), expect=OK)
    add("mag_beyond_int64", column([10**25 + i * 10**20 for i in range(40)]), expect=OK)
    add("mag_int64_indistinct", column([2**63 - 1 - i for i in range(40)]), expect=REFUSED, says="significant")
    add("mag_integers_1e400", column([10**400 + i for i in range(40)]), expect=REFUSED, says="1.8e308")
    add("mag_negative_integers_1e400", column([-(10**400) - i for i in range(40)]), expect=REFUSED, says="1.8e308")
    add("mag_huge_integer_among_floats", column([1.5, 10**400, -2.25]), expect=REFUSED)
    add("mag_negative_zeros", column(["-0.0", "0.0", "-0", "1.5", "-2.5"]), expect=OK)
    add("mag_only_negative_zeros", column(["-0.0", "0.0", "-0"]), expect=REFUSED, says="constant")
    add("mag_exponent_forms", column(["1E5", "1e+05", ".5", "5.", "+3", "-.25e-3", "7"]), expect=OK)
    add("mag_hex", column(["0x1A", "0xff", "1"]), expect=REFUSED, says="text")
    add("mag_underscores", column(["1_000", "2_000", "3"]), expect=REFUSED, says="text")
    add("mag_big_offset_small_spread", column([1e15 + i * 0.125 for i in range(40)]), expect=OK)
    add("mag_zero_one", column([0, 1]), expect=OK)

    # -- shapes
    add("shape_0_rows_blank_lines", "a,b,c\n\n\n\n", expect=REFUSED, says="rows")
    add("shape_1_row", good(n=1), expect=REFUSED, says="rows")
    add("shape_10_rows", good(n=10), expect=REFUSED, says="rows")
    add("shape_27_rows", good(n=27), expect=REFUSED, says="rows")
    add("shape_min_minus_1_rows", good(n=MIN - 1), expect=REFUSED, says=f"only {MIN - 1} data rows")
    add("shape_min_rows", good(n=MIN), expect=OK)
    add("shape_min_plus_1_rows", good(n=MIN + 1), expect=OK)
    add("shape_1_column", good(header=("only",)), expect=OK)
    add("shape_2_columns", good(header=("a", "b")), expect=OK)
    add("shape_1000_columns", _csv([f"c{i}" for i in range(1000)], normal(MIN, 1000)), expect=None)
    add("shape_1001_columns", _csv([f"c{i}" for i in range(1001)], normal(MIN, 1001)), expect=REFUSED,
        says="1,001 columns")
    add("shape_1001_columns_semicolon", _csv([f"c{i}" for i in range(1001)], normal(MIN, 1001), sep=";"),
        expect=REFUSED, says="columns")
    add("shape_1001_columns_header_only", ",".join(f"c{i}" for i in range(1001)) + "\n", expect=REFUSED)
    rows = good().split("\n")
    add("shape_ragged_long_row", "\n".join(r + (",9" if i == 20 else "") for i, r in enumerate(rows)),
        expect=REFUSED, says="fields")
    add("shape_ragged_short_row", "\n".join(r.rsplit(",", 1)[0] if i == 20 else r for i, r in enumerate(rows)),
        expect=REFUSED)
    add("shape_ragged_everywhere", "\n".join(",".join(r.split(",")[: 1 + i % 3]) for i, r in enumerate(rows)),
        expect=REFUSED)
    add("shape_trailing_commas_everywhere", "\n".join(r + "," if r else r for r in rows), expect=REFUSED)
    add("shape_trailing_commas_data_only", "\n".join(r + "," if r and i else r for i, r in enumerate(rows)),
        expect=REFUSED, says="fields")
    add("shape_extra_field_every_row", "\n".join(r + ",7" if r and i else r for i, r in enumerate(rows)),
        expect=REFUSED, says="fields")
    add("shape_extra_unnamed_column", _csv(("a", "b", "c"), normal(40, 4)), expect=REFUSED, says="4 fields")
    add("shape_one_name_two_fields", _csv(("a",), normal(40, 2)), expect=REFUSED, says="2 fields")
    # Row numbers 0, 1, … without a header name: pandas takes them as its index and the columns come out right.
    add("shape_unnamed_row_numbers", _csv(("a", "b"), [[i, *r] for i, r in enumerate(normal(40, 2))]))
    add("shape_quoted_numbers", _csv(('"a"', '"b"'), [[f'"{x:.4f}"', f'"{y:.4f}"'] for x, y in normal(40, 2)]),
        expect=OK)
    add("shape_text_column", _csv(("a", "name"), [[f"{v:.3f}", f"item{i}"] for i, v in enumerate(x)]),
        expect=REFUSED, says="text")
    add("shape_mixed_numeric_text", column([1.0, 2.0, "oops", 3.0]), expect=REFUSED, says="text")
    add("shape_booleans", column(["True", "False"]), expect=None)
    add("shape_booleans_lowercase", column(["true", "false", "TRUE"]), expect=None)
    add("shape_yes_no", column(["yes", "no"]), expect=REFUSED, says="text")
    add("shape_dates", column(["2024-01-01", "2024-02-01", "2024-03-05"]), expect=REFUSED, says="text")
    add("shape_percent", column(["5%", "7.5%", "10%"]), expect=REFUSED, says="text")
    add("shape_currency", column(["$5", "$7.50", "€3"]), expect=REFUSED, says="text")
    add("shape_blank_lines_between", "\n\n".join(rows), expect=OK)
    add("shape_whitespace_lines_between", "\n   \n".join(rows[:-1]) + "\n", expect=None)
    add("shape_quoted_newline_in_cell", column(['"1\n2"', 3.0, 4.5]), expect=REFUSED)
    add("shape_all_identical_rows", _csv(("a", "b", "c"), [[1.5, -2.0, 3.0]] * 40), expect=REFUSED, says="constant")
    add("shape_long_and_thin", good(n=3000, header=("t",)), expect=OK)

    # -- binary data
    add("bin_random_bytes", bytes(rng.integers(0, 256, 4096, dtype=np.uint8)), expect=REFUSED)
    add("bin_random_high_bytes", bytes(rng.integers(128, 256, 2048, dtype=np.uint8)), expect=REFUSED)
    add("bin_png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(rng.integers(0, 256, 512, dtype=np.uint8)),
        name="plot.png", expect=REFUSED, says="binary")
    add("bin_gzip_csv", gzip.compress(good().encode(), mtime=0), name="data.csv.gz", expect=REFUSED)
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr(zipfile.ZipInfo("data.csv", date_time=(2020, 1, 1, 0, 0, 0)), good())
    add("bin_zip", zbuf.getvalue(), name="data.zip", expect=REFUSED)
    add("bin_xlsx_named_csv", zbuf.getvalue(), name="book.csv", expect=REFUSED)
    add("bin_pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + bytes(rng.integers(0, 256, 512, dtype=np.uint8)),
        name="paper.pdf", expect=REFUSED)
    add("bin_elf", b"\x7fELF\x02\x01\x01" + bytes(64), name="a.out", expect=REFUSED, says="binary")
    add("bin_nul_inside", good().encode().replace(b"\n", b"\n\x00", 3), expect=REFUSED, says="binary")
    add("bin_nul_only", bytes(100), expect=REFUSED, says="binary")
    add("bin_ansi_escapes", good(header=("\x1b[31mred\x1b[0m", "b", "c")), expect=REFUSED, says="control")
    add("bin_bell_and_backspace", good().replace("\n", "\n\x07\x08", 2), expect=REFUSED, says="control")
    add("bin_empty", b"", expect=REFUSED, says="empty")
    add("bin_whitespace_only", " \n\t\n\r\n   ", expect=REFUSED, says="empty")
    add("bin_single_newline", "\n", expect=REFUSED, says="empty")
    add("bin_utf8_bom_only", b"\xef\xbb\xbf", expect=REFUSED, says="empty")
    add("bin_utf16_bom_only", b"\xff\xfe", expect=REFUSED, says="empty")
    add("bin_printable_noise", bytes(rng.integers(32, 127, 3000, dtype=np.uint8)), expect=REFUSED)
    add("bin_json", json.dumps({"a": normal(5, 1)[:, 0].tolist()}), name="data.json", expect=REFUSED)
    add("bin_html", "<html><body><table><tr><td>1</td></tr></table></body></html>\n", name="page.html",
        expect=REFUSED)

    # -- names the file arrives under
    add("name_no_extension", good(), name="data", expect=OK)
    add("name_txt", good(), name="data.txt", expect=OK)
    add("name_upper_case", good(), name="DATA.CSV", expect=OK)
    add("name_spaces_and_accents", good(), name="mes données (1).csv", expect=OK)
    add("name_path_like", good(), name="../../etc/passwd.csv", expect=OK)
    add("name_hidden", good(), name=".hidden.csv", expect=OK)
    add("name_newline", good(header=("a", "b")), name="two\nlines.csv", expect=OK)
    add("name_newline_refused", _csv(None, normal()), name="two\nlines.csv", expect=REFUSED,
        says=r"'two(\\n|_)lines\.csv'")  # the loader escapes the line break, the upload store replaces it
    add("name_only_extension", good(), name=".CSV", expect=OK)
    add("name_very_long", good(header=("a", "c")), name="n" * 200 + ".csv", expect=OK)

    # -- a few larger ones (kept small enough for the suite)
    add("large_20000_rows", good(n=20000, header=("a", "b", "c", "d")), expect=OK)
    add("large_50_columns", _csv([f"f{i}" for i in range(50)], normal(1500, 50)), expect=OK)
    add("large_one_huge_cell", column(["1", "x" * 1_000_000, "2"]), expect=REFUSED, says="text")
    add("large_nan_at_the_end", good(n=15000) + "nan,1,2\n", expect=REFUSED, says="NaN")
    return variants


CORPUS = hostile_corpus()
IDS = [v.id for v in CORPUS]


# ----------------------------------------------------------------------------------------------- helpers


def _attempt(load) -> tuple[Any, str | None]:
    """(result, None) or (None, message of a DataError); any other exception propagates: it is a bug. A warning is
    a bug too: outside the test it is printed on the CLI's stderr next to its one-line message."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result, msg = load(), None
        except DataError as exc:
            result, msg = None, str(exc)
    assert not caught, [f"{w.category.__name__}: {w.message}" for w in caught]
    return result, msg


def _upload_buffer(v: Variant) -> io.BytesIO:
    buf = io.BytesIO(v.data)
    buf.name = v.name  # type: ignore[attr-defined]
    return buf


def _check_message(v: Variant, msg: str, where: str) -> None:
    assert msg and msg == msg.strip(), (where, msg)
    assert "\n" not in msg and "\r" not in msg, (where, msg)
    assert len(msg) <= MAX_MESSAGE, (where, len(msg), msg[:300])
    assert not LEAKS.search(msg), (where, msg)
    if v.says:
        assert re.search(v.says, msg, re.I), (where, v.says, msg)


def _check_dataset(v: Variant, ds: Dataset, where: str) -> None:
    d = len(ds.columns)
    assert d >= 1 and len(set(ds.columns)) == d and all(isinstance(c, str) and c for c in ds.columns), where
    for part in (ds.train, ds.test):
        assert part.dtype == np.float64 and part.ndim == 2 and part.shape[1] == d, (where, part.shape)
        assert np.isfinite(part).all(), (where, "non-finite values accepted")
    assert len(ds.train) + len(ds.test) >= MIN and len(ds.test) >= 1, where


def _finite_numbers(obj: Any) -> list[float]:
    """Every number in a JSON value (None and strings skipped); used to assert none is NaN or ±inf."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return []
    if isinstance(obj, (int, float)):
        return [float(obj)]
    if isinstance(obj, dict):
        return [x for value in obj.values() for x in _finite_numbers(value)]
    if isinstance(obj, list):
        return [x for value in obj for x in _finite_numbers(value)]
    return []


def _cli(capsys, *args: Any) -> tuple[int, str, str]:
    """``genlib ARGS`` in this process: (exit status, stdout, stderr). Python warnings count as stderr output (outside
    pytest they are printed there), so any makes the test fail."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rc = main([str(a) for a in args])
    captured = capsys.readouterr()
    assert not caught, [f"{w.category.__name__}: {w.message}" for w in caught]
    return rc, captured.out, captured.err


def _one_clean_line(rc: int, err: str, where: str) -> str:
    assert rc == 2, (where, rc, err)
    assert "Traceback" not in err, (where, err)
    err_lines = lines(err)
    assert len(err_lines) == 1 and err_lines[0].startswith("genlib"), (where, err)
    return err_lines[0]


# ----------------------------------------------------------------------------------------------- tests


def test_the_corpus_is_large_distinct_and_covers_every_kind() -> None:
    assert len(CORPUS) >= 100
    assert len(set(IDS)) == len(CORPUS)
    assert len({(v.data, v.name) for v in CORPUS}) == len(CORPUS)
    kinds = {v.id.split("_")[0] for v in CORPUS}
    assert {"enc", "eol", "sep", "hdr", "mag", "shape", "bin", "large"} <= kinds
    again = hostile_corpus()
    assert [(v.id, v.data, v.name) for v in again] == [(v.id, v.data, v.name) for v in CORPUS]  # deterministic


def test_both_outcomes_occur() -> None:
    """The corpus is not vacuous: many files load, many are refused (and the per-variant test checks each)."""
    outcome = {v.id: _attempt(lambda: load_csv(_upload_buffer(v)))[1] is None for v in CORPUS}
    accepted = [i for i, ok in outcome.items() if ok]
    refused = [i for i, ok in outcome.items() if not ok]
    assert len(accepted) >= 30 and len(refused) >= 50, (len(accepted), len(refused))
    expected = {v.id: v.expect for v in CORPUS if v.expect}
    assert sum(e == OK for e in expected.values()) >= 30 and sum(e == REFUSED for e in expected.values()) >= 50


@pytest.mark.parametrize("variant", CORPUS, ids=IDS)
def test_hostile_file_is_refused_cleanly_or_loads_finite(variant: Variant, tmp_path: Path, capsys) -> None:
    v = variant

    # 1. the loader, on an uploaded file object
    ds, msg = _attempt(lambda: load_csv(_upload_buffer(v)))
    if v.expect == OK:
        assert ds is not None, f"{v.id} was refused: {msg}"
    elif v.expect == REFUSED:
        assert ds is None, f"{v.id} was accepted: {ds.columns[:5]} {ds.train.shape}"
    if ds is None:
        _check_message(v, msg, "load_csv")
    else:
        _check_dataset(v, ds, "load_csv")

    # 2. the upload store: the same verdict, the same data; a refused file is not kept
    root = tmp_path / "uploads"
    uid, up_msg = _attempt(lambda: save_upload(v.data, v.name, root=root))
    if ds is None:
        assert uid is None, f"{v.id}: the upload store kept a file load_csv refuses"
        _check_message(v, up_msg, "save_upload")
        assert not root.exists() or not any(root.iterdir()), f"{v.id}: a refused upload left files behind"
    else:
        assert up_msg is None, f"{v.id}: load_csv accepts it, the upload store refuses it: {up_msg}"
        stored = load_upload(uid, root=root)
        _check_dataset(v, stored, "load_upload")
        assert stored.columns == ds.columns
        np.testing.assert_array_equal(stored.train, ds.train)
        np.testing.assert_array_equal(stored.test, ds.test)

    # 3. the CLI, in-process: train the cheapest model on the file, then sample from the run
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / (Path(v.name).name or "data.csv")
    path.write_bytes(v.data)
    run = tmp_path / "run"
    rc, out, err = _cli(capsys, "train", "--model", "gaussian", "--data", path, "--steps", 1, "--out", run, "--quiet")
    if ds is None:
        _check_message(v, _one_clean_line(rc, err, "genlib train"), "genlib train")
        assert not run.exists(), f"{v.id}: a refused file left a run folder"
        return
    assert rc == 0, (v.id, rc, err)
    assert "Traceback" not in err
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "done" and record["columns"] == ds.columns
    metrics = dict(record["metrics"])
    if is_discrete(ds.test) and metrics.get("log_likelihood") is not None and math.isnan(metrics["log_likelihood"]):
        del metrics["log_likelihood"]  # by design: no density of integer levels (genlib.metrics.likelihood)
    numbers = _finite_numbers(metrics)
    assert len(numbers) >= 10 and all(math.isfinite(x) for x in numbers), (v.id, record["metrics"])

    samples = tmp_path / "samples.csv"
    rc, out, err = _cli(capsys, "sample", run, "-n", 25, "--out", samples)
    assert rc == 0, (v.id, rc, err)
    table = pd.read_csv(samples)
    assert table.shape == (25, len(ds.columns)), table.shape
    values = table.to_numpy(dtype=np.float64)
    assert np.isfinite(values).all(), f"{v.id}: non-finite samples written"
    header = samples.read_text(encoding="utf-8").splitlines()[0]
    assert not header.startswith(("=", "+", "@")), f"{v.id}: a formula header was written as-is: {header[:80]}"
