"""Regression tests for the data and CLI defects testers found (issue 17, point 7): one test per defect.

Files in other encodings, renamed headers, integers beyond float64, files too short for the metric suite, a zero
batch size, CLI write errors, and CSV cells a spreadsheet would run as formulas.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import genlib
from conftest import lines
from genlib.cli import main
from genlib.data import DataError, csv_safe, load_csv, load_dataset
from genlib.data.csv_loader import MIN_ROWS, MIN_TEST_ROWS, min_rows, split_rows


def _text(n: int = 40, header: str = "a,b,c") -> str:
    return header + "\n" + "\n".join(f"{i},{i * i % 7},{np.sin(i):.4f}" for i in range(n)) + "\n"


def _load(data: bytes, name: str = "data.csv"):
    upload = io.BytesIO(data)
    upload.name = name
    return load_csv(upload)


def _one_line_exit_2(capsys, rc: int, *fragments: str) -> str:
    captured = capsys.readouterr()
    assert rc == 2, (rc, captured.out, captured.err)
    assert "Traceback" not in captured.err
    err = lines(captured.err)
    assert len(err) == 1 and err[0].startswith("genlib"), captured.err
    for fragment in fragments:
        assert fragment in err[0], (fragment, err[0])
    return err[0]


# ----------------------------------------------------------------------------- encodings


@pytest.mark.parametrize("encode", [
    lambda t: t.encode("utf-16"),                           # LE with BOM (Excel's "Unicode text", PowerShell)
    lambda t: b"\xfe\xff" + t.encode("utf-16-be"),          # BE with BOM
    lambda t: t.encode("utf-8-sig"),                        # UTF-8 with BOM (Excel's "CSV UTF-8")
    lambda t: t.encode("utf-32"),
], ids=["utf16le", "utf16be", "utf8bom", "utf32"])
def test_unicode_csvs_with_a_bom_are_read(encode) -> None:
    ds = _load(encode(_text(header="höhe,b,c")))
    assert ds.columns == ["höhe", "b", "c"]
    together = np.sort(np.vstack([ds.train, ds.test])[:, 0])
    np.testing.assert_array_equal(together, np.arange(40))


def test_utf16_binary_garbage_is_still_rejected() -> None:
    with pytest.raises(DataError, match="binary|UTF"):
        _load(b"\xff\xfe" + bytes(range(256)) * 4)


# ----------------------------------------------------------------------------- headers


@pytest.mark.parametrize(("header", "words"), [
    ("a,a,c", ["duplicate", "'a'"]),
    ("a,b,a", ["duplicate", "'a'"]),
    ("a,,c", ["without a name", "column 2"]),
    ("a, ,c", ["without a name", "column 2"]),
    ("a;;c", ["without a name", "column 2"]),   # the ';' fallback is checked too
])
def test_duplicate_and_blank_headers_are_refused_by_name(header: str, words: list[str]) -> None:
    text = _text(header=header)
    if ";" in header:
        text = text.replace(",", ";")
    with pytest.raises(DataError) as err:
        _load(text.encode())
    msg = str(err.value)
    for w in words:
        assert w in msg, msg
    assert "a.1" not in msg and "Unnamed" not in msg and "\n" not in msg


# ----------------------------------------------------------------------------- large integers


def test_integers_near_the_int64_limit_are_numbers_with_a_note() -> None:
    big = 9223372036854775807
    text = "id,x\n" + "\n".join(f"{big - i * 10**12},{i}" for i in range(40)) + "\n"
    ds = _load(text.encode())
    assert ds.columns == ["id", "x"]
    col = np.vstack([ds.train, ds.test])[:, 0]
    assert np.ptp(col) > 0 and abs(col.max() / big - 1) < 1e-9
    assert "precision lost" in ds.description and "'id'" in ds.description


def test_integers_beyond_int64_are_numbers_not_text() -> None:
    text = "id,x\n" + "\n".join(f"{10**25 + i * 10**20 + 1},{i}" for i in range(40)) + "\n"
    ds = _load(text.encode())
    assert np.vstack([ds.train, ds.test])[:, 0].min() == pytest.approx(1e25)
    assert "precision lost" in ds.description


def test_integers_only_float64_cannot_tell_apart_are_not_called_constant() -> None:
    text = "id,x\n" + "\n".join(f"{9223372036854775807 - i},{i}" for i in range(40)) + "\n"
    with pytest.raises(DataError) as err:
        _load(text.encode())
    assert "constant columns" not in str(err.value) and "16 significant digits" in str(err.value)


def test_real_text_columns_are_still_text() -> None:
    text = "id,x\n" + "\n".join(f"{10**25 + i}{'x' if i == 7 else ''},{i}" for i in range(40)) + "\n"
    with pytest.raises(DataError, match="non-numeric"):
        _load(text.encode())


# ----------------------------------------------------------------------------- minimum rows


def test_minimum_rows_is_what_the_metric_suite_needs() -> None:
    from genlib.metrics.suite import PRDC_K, make_reference
    assert MIN_TEST_ROWS == PRDC_K + 1
    assert MIN_ROWS == min_rows(0.2) == 28
    rng = np.random.default_rng(0)
    x = rng.normal(size=(MIN_ROWS, 2))
    train, test, _, _ = split_rows(x, np.random.default_rng(0), 0.2)
    make_reference(test, train)                                 # the smallest accepted file scores
    train, test, _, _ = split_rows(x[:-1], np.random.default_rng(0), 0.2)
    with pytest.raises(DataError):
        make_reference(test, train)                             # one row fewer would not


@pytest.mark.parametrize("test_fraction", [0.1, 0.2, 0.5, 0.9])
def test_files_too_short_for_the_metric_suite_are_refused_by_the_loader(tmp_path: Path, test_fraction) -> None:
    need = min_rows(test_fraction)
    short = tmp_path / "short.csv"
    short.write_text(_text(n=need - 1))
    with pytest.raises(DataError) as err:
        load_csv(short, test_fraction=test_fraction)
    assert f"only {need - 1} data rows" in str(err.value) and f"at least {need} rows" in str(err.value)
    ds = load_csv(_write(tmp_path, _text(n=need)), test_fraction=test_fraction)
    assert len(ds.test) >= MIN_TEST_ROWS and len(ds.train) >= 2


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ok.csv"
    path.write_text(text)
    return path


def test_the_smallest_accepted_csv_trains_and_scores(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, _text(n=MIN_ROWS))
    assert main(["train", "--model", "gaussian", "--data", str(path), "--out", str(tmp_path / "run"),
                 "--quiet"]) == 0
    assert "anderson_darling=" in capsys.readouterr().err


# ----------------------------------------------------------------------------- batch size


@pytest.mark.parametrize("value", ["0", "-4"])
def test_cli_train_batch_size_below_one_is_a_bad_argument(tmp_path: Path, capsys, value: str) -> None:
    rc = main(["train", "--model", "vae", "--data", "finance", "--steps", "3", "--batch-size", value,
               "--out", str(tmp_path / "run"), "--quiet"])
    _one_line_exit_2(capsys, rc, "--batch-size must be at least 1")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("value", [0, -1, 2.5, True])
def test_api_fit_batch_size_below_one_is_refused(value) -> None:
    with pytest.raises(genlib.models.ModelError, match="batch size"):
        genlib.fit("vae", load_dataset("toy2d", n=200), steps=2, batch_size=value)


def test_continue_with_a_stored_batch_size_of_zero_is_a_user_error() -> None:
    """`genlib continue` takes the batch size from the run's record: the spec it builds checks it too."""
    from genlib.train import TrainSpec
    with pytest.raises(genlib.models.ModelError, match="batch size"):
        TrainSpec(model="vae", dataset=load_dataset("toy2d", n=200), steps=2, batch_size=0)


# ----------------------------------------------------------------------------- CLI write errors


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    genlib.save_run(genlib.fit("gaussian", load_dataset("finance")), folder)
    return folder


def test_sample_into_an_existing_folder_is_one_line(saved_run: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "out").mkdir()
    rc = main(["sample", str(saved_run), "-n", "5", "--out", str(tmp_path / "out")])
    _one_line_exit_2(capsys, rc, "is a folder")


@pytest.mark.parametrize("where", ["/proc/x.csv", "{file}/x.csv"], ids=["proc", "under-a-file"])
def test_sample_to_an_unwritable_path_is_one_line(saved_run: Path, tmp_path: Path, capsys, where: str) -> None:
    (tmp_path / "file").write_text("x")
    rc = main(["sample", str(saved_run), "-n", "5", "--out", where.format(file=tmp_path / "file")])
    _one_line_exit_2(capsys, rc, "cannot write --out")


def test_sample_of_a_diverged_model_is_one_line(saved_run: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    from genlib.models.fitted import FittedModel

    def diverged(self, n, seed=None, labels=None):
        raise FloatingPointError(f"{self.name} produced non-finite samples; the model has diverged")
    monkeypatch.setattr(FittedModel, "sample", diverged)
    rc = main(["sample", str(saved_run), "-n", "5", "--out", str(tmp_path / "s.csv")])
    _one_line_exit_2(capsys, rc, "non-finite samples")
    assert not (tmp_path / "s.csv").exists()


# ----------------------------------------------------------------------------- formulas in CSVs


def test_csv_safe_neutralises_formula_cells_and_headers() -> None:
    frame = pd.DataFrame({"=HYPERLINK(\"x\")": [-1.5, 2.0], "note": ["+cmd", "fine"], "@sum": ["\tx", "\ry"]})
    safe = csv_safe(frame)
    assert list(safe.columns) == ["'=HYPERLINK(\"x\")", "note", "'@sum"]
    assert safe["note"].tolist() == ["'+cmd", "fine"] and safe["'@sum"].tolist() == ["'\tx", "'\ry"]
    assert safe.iloc[:, 0].tolist() == [-1.5, 2.0]                 # numbers stay numbers
    assert list(frame.columns)[0].startswith("=")                   # the input is not changed
    assert csv_safe(["-x", "y"]) == ["'-x", "y"]


def test_cli_sample_writes_formula_headers_neutralised(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.normal(size=(60, 2)), columns=["=1+1", "-b"])
    table.to_csv(tmp_path / "evil.csv", index=False)
    assert main(["train", "--model", "gaussian", "--data", str(tmp_path / "evil.csv"), "--out",
                 str(tmp_path / "run"), "--quiet"]) == 0
    assert main(["sample", str(tmp_path / "run"), "-n", "4", "--out", str(tmp_path / "s.csv")]) == 0
    header = (tmp_path / "s.csv").read_text().splitlines()[0]
    assert header == "'=1+1,'-b"
