"""Page state in the address (pages/urlstate.py) and uploaded CSVs kept with an id (genlib.uploads): a page opened
with query parameters shows that state, a bad value falls back to the default with one note, a widget change writes
the address, and an address naming an upload reopens it in a fresh session."""
from __future__ import annotations

import re

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from genlib.data import DataError
from genlib.uploads import list_uploads, load_upload, save_upload, upload_root

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60
TOY = "2 · Densities on 2-D toy data"
GOOD = "a,b\n" + "\n".join(f"{i},{i * i % 7}" for i in range(30))


def _open(page: str, params: dict[str, str]) -> AppTest:
    """A fresh session (like another browser) opening ``page`` at an address with ``params``."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.switch_page(page)
    at.query_params.update(params)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _notes(at: AppTest) -> list[str]:
    # as shown: the note quotes the address (user text), escaped for Markdown (pages.text.md)
    return [re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", c.value).replace("\u200b", "") for c in at.caption
            if "Ignored from the address" in c.value]


def test_density_page_opens_the_state_in_its_address() -> None:
    at = _open("pages/density.py", {"dn_section": TOY, "dn_shape": "circles", "dn_k": "5", "dn_noise": "0.1"})
    assert at.radio(key="dn_section").value == TOY
    assert at.selectbox(key="dn_shape").value == "circles"
    assert at.slider(key="dn_k").value == 5
    assert at.select_slider(key="dn_noise").value == 0.1
    assert not _notes(at)


def test_invalid_and_stale_values_fall_back_with_one_note() -> None:
    at = _open("pages/density.py", {"dn_section": TOY, "dn_k": "abc", "dn_shape": "triangle", "dn_n": "3000"})
    assert at.slider(key="dn_k").value == 8 and at.selectbox(key="dn_shape").value == "moons"
    assert at.select_slider(key="dn_n").value == 2000
    notes = _notes(at)
    assert len(notes) == 1, notes
    for part in ("dn_k=abc", "dn_shape=triangle", "dn_n=3000"):
        assert part in notes[0]
    # the defaults replace the bad values in the address
    assert not {"dn_k", "dn_shape", "dn_n"} & set(at.query_params)


def test_a_widget_change_writes_the_address_and_the_default_leaves_it() -> None:
    at = _open("pages/density.py", {"dn_section": TOY})
    assert set(at.query_params) == {"dn_section"}, "defaults are not written"
    at.slider(key="dn_k").set_value(3).run()
    assert at.query_params.get("dn_k") == "3"
    at.slider(key="dn_k").set_value(8).run()
    assert "dn_k" not in at.query_params


def test_train_page_settings_from_the_address() -> None:
    at = _open("pages/train.py", {"train_model": "gmm", "train_steps": "750", "train_batch_size": "64",
                                  "train_transform": "rankgauss", "train_dataset": "toy2d", "train_toy2d_shape": "ring"})
    assert at.selectbox(key="train_model").value == "gmm"
    assert at.selectbox(key="train_dataset").value == "toy2d"
    assert at.selectbox(key="train_toy2d_shape").value == "ring"
    assert at.number_input(key="train_batch_size").value == 64
    assert at.selectbox(key="train_transform").value == "rankgauss"
    assert not _notes(at)


def test_save_and_load_an_upload(genlab_home: Path) -> None:
    uid = save_upload(GOOD.encode(), "good.csv")
    assert save_upload(GOOD.encode(), "again.csv") == uid, "the same bytes keep one id"
    assert (upload_root() / uid / "good.csv").read_text() == GOOD
    ds = load_upload(uid)
    assert ds.columns == ["a", "b"] and len(ds.train) + len(ds.test) == 30
    assert [u.id for u in list_uploads()] == [uid]
    with pytest.raises(DataError, match="name"):
        save_upload(b"a,name\n" + b"".join(b"%d,row%d\n" % (i, i) for i in range(30)), "bad.csv")
    assert [u.id for u in list_uploads()] == [uid], "a bad file is not kept"
    with pytest.raises(DataError, match="no uploaded dataset"):
        load_upload("0123456789ab")
    with pytest.raises(DataError, match="not an upload id"):
        load_upload("../../etc")


def test_an_uploaded_csv_reopens_from_its_address_in_a_fresh_session() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.selectbox(key="home_dataset").set_value("upload a CSV…").run()
    at.file_uploader(key="home_upload").upload("good.csv", GOOD.encode(), "text/csv").run()
    ref = at.query_params.get("home_dataset", "")
    assert ref.startswith("upload:"), at.query_params

    fresh = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    fresh.query_params["home_dataset"] = ref
    fresh.run()
    assert not fresh.exception and not fresh.error
    assert fresh.selectbox(key="home_dataset").value == ref
    assert any("good\\.csv" in m.value for m in fresh.markdown), "the stored upload is loaded, no re-upload"

    stale = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    stale.query_params["home_dataset"] = "upload:0123456789ab"
    stale.run()
    assert stale.selectbox(key="home_dataset").value == "finance"
    assert any("upload:0123456789ab" in n for n in _notes(stale))


def _ignored(at: AppTest, *parts: str) -> None:
    """One "Ignored from the address" line, naming each of ``parts``."""
    notes = _notes(at)
    assert len(notes) == 1, notes
    for part in parts:
        assert part in notes[0], notes


def test_lorenz_lab_settings_from_the_address() -> None:
    at = _open("pages/lorenz.py", {"lz_method": "euler", "lz_eps": "1e-06", "lz_x0": "2.5", "lz_T": "300"})
    assert at.selectbox(key="lz_method").value == "euler"
    assert at.select_slider(key="lz_eps").value == 1e-6
    assert at.number_input(key="lz_x0").value == 2.5
    assert at.slider(key="lz_T").value == 40.0, "out of range: the default"
    _ignored(at, "lz_T=300")
    assert "lz_T" not in at.query_params and at.query_params["lz_method"] == "euler"
    # section 3's settings, among them a choice among today's fitted methods
    at = _open("pages/lorenz.py", {"lz_section": "3 · Fit the equations", "lz_fit_thr": "0.2", "lz_eq_idx": "ż",
                                   "lz_eq_method": "nosuch"})
    assert at.select_slider(key="lz_fit_thr").value == 0.2 and at.radio(key="lz_eq_idx").value == "ż"
    assert at.selectbox(key="lz_eq_method").value == at.selectbox(key="lz_eq_method").options[0]
    _ignored(at, "lz_eq_method=nosuch")


def test_latent_explorer_settings_from_the_address() -> None:
    at = _open("pages/latent.py", {"lt_nn": "30", "lt_metric": "cosine", "lt_mode": "slerp", "lt_k": "4",
                                   "lt_dim": "99"})
    assert at.slider(key="lt_nn").value == 30 and at.selectbox(key="lt_metric").value == "cosine"
    assert at.radio(key="lt_mode").value == "slerp" and at.slider(key="lt_k").value == 4
    assert at.slider(key="lt_dim").value == 0, "beyond the code size: the default"
    _ignored(at, "lt_dim=99")
    assert at.query_params["lt_nn"] == "30" and "lt_dim" not in at.query_params


def test_compare_sweep_settings_from_the_address() -> None:
    at = _open("pages/compare.py", {"cmp_sweep_x": "beta", "cmp_sweep_xv_vae_beta": "0.5, 2",
                                    "cmp_sweep_steps": "600", "cmp_sweep_y": "nosuch"})
    assert at.selectbox(key="cmp_sweep_model").value == "vae"
    assert at.selectbox(key="cmp_sweep_x").value == "beta"
    assert at.text_input(key="cmp_sweep_xv_vae_beta").value == "0.5, 2"
    assert at.number_input(key="cmp_sweep_steps").value == 600
    assert at.selectbox(key="cmp_sweep_y").value == "enc_width", "not a setting: the default"
    _ignored(at, "cmp_sweep_y=nosuch")
    assert any("4 runs of 600 steps" in c.value for c in at.caption), [c.value for c in at.caption]
