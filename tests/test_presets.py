"""Named presets: genlib.presets (save, list, export, import, bad files) and the Presets box on a page (save, change
a widget, open the preset: the value is back; export and import as JSON)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pages.text import shown

from genlib.presets import (PresetError, delete_preset, export_json, get_preset, import_json, list_presets,
                            preset_file, save_preset)

ROOT = Path(__file__).resolve().parents[1]
TOY = "2 · Densities on 2-D toy data"


def test_save_list_get_delete() -> None:
    save_preset("density", "Lesson 3 — KDE bandwidth", {"dn_section": TOY, "dn_k": "4"})
    save_preset("train", "vae quick", {"train_steps": "200"})
    assert [p.name for p in list_presets("density")] == ["Lesson 3 — KDE bandwidth"]
    assert [(p.page, p.name) for p in list_presets()] == [("density", "Lesson 3 — KDE bandwidth"),
                                                         ("train", "vae quick")]
    assert get_preset("density", "Lesson 3 — KDE bandwidth").params == {"dn_section": TOY, "dn_k": "4"}
    save_preset("density", "Lesson 3 — KDE bandwidth", {"dn_k": "5"})  # same name: replaced
    assert get_preset("density", "Lesson 3 — KDE bandwidth").params == {"dn_k": "5"}
    delete_preset("train", "vae quick")
    with pytest.raises(PresetError, match="no preset"):
        get_preset("train", "vae quick")
    with pytest.raises(PresetError, match="name"):
        save_preset("density", "  ", {})
    with pytest.raises(PresetError, match="text"):
        save_preset("density", "x", {"dn_k": 4})


def test_export_import_round_trip(genlab_home: Path, tmp_path_factory, monkeypatch) -> None:
    save_preset("density", "a", {"dn_k": "4"})
    save_preset("train", "b", {"train_steps": "200"})
    text = export_json()
    assert json.loads(text)["format"] == "genlab-presets"
    # a colleague's empty GenLab
    monkeypatch.setenv("GENLAB_HOME", str(tmp_path_factory.mktemp("colleague")))
    assert list_presets() == []
    assert import_json(text) == ["a", "b"]
    assert get_preset("density", "a").params == {"dn_k": "4"}
    assert import_json(text) == ["a", "b"], "the same presets again: nothing duplicated"
    assert len(list_presets()) == 2
    save_preset("density", "a", {"dn_k": "9"})  # the colleague changed theirs: an import does not overwrite it
    assert import_json(text) == ["a (imported)", "b"]
    assert get_preset("density", "a").params == {"dn_k": "9"}
    assert get_preset("density", "a (imported)").params == {"dn_k": "4"}
    assert export_json("train", ["b"]).count('"name"') == 1


@pytest.mark.parametrize("text, match", [
    ("not json", "not a JSON file"),
    ('{"presets": []}', "not a GenLab presets file"),
    ('{"format": "genlab-presets", "version": 9, "presets": []}', "version"),
    ('{"format": "genlab-presets", "version": 1, "presets": [{"page": "density", "name": "x", "params": [1]}]}',
     "preset 1: params"),
    ('{"format": "genlab-presets", "version": 1, "presets": [{"page": "../x", "name": "x", "params": {}}]}',
     "page"),
])
def test_a_bad_file_is_refused_with_a_clear_error_and_adds_nothing(text: str, match: str) -> None:
    save_preset("density", "kept", {})
    with pytest.raises(PresetError, match=match):
        import_json(text)
    assert [p.name for p in list_presets()] == ["kept"]
    assert json.loads(preset_file().read_text())["presets"][0]["name"] == "kept"


def test_preset_round_trip_on_the_density_page() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("pages/density.py")
    at.query_params["dn_section"] = TOY
    at.run()
    at.slider(key="dn_k").set_value(4).run()
    at.select_slider(key="dn_noise").set_value(0.1).run()
    at.text_input(key="density_preset_name").input("Lesson 3 — KDE bandwidth").run()
    at.button(key="density_preset_save").click().run()
    assert not at.exception
    assert any("Saved" in s.value for s in at.success)
    assert at.selectbox(key="density_preset_pick").options == ["Lesson 3 — KDE bandwidth"]

    at.slider(key="dn_k").set_value(12).run()
    at.select_slider(key="dn_noise").set_value(0.2).run()
    assert at.slider(key="dn_k").value == 12
    at.button(key="density_preset_open").click().run()
    assert not at.exception
    assert at.slider(key="dn_k").value == 4 and at.select_slider(key="dn_noise").value == 0.1
    assert at.query_params.get("dn_k") == "4"

    # Home lists it, a link to its page with its settings
    at.switch_page("pages/home.py").run()
    links = [p for p in at.get("page_link") if "Lesson 3" in p.proto.label]
    assert len(links) == 1 and "dn_k=4" in links[0].proto.query_string


def test_presets_box_imports_a_json_file() -> None:
    save_preset("density", "from a colleague", {"dn_section": TOY, "dn_k": "6"})
    text = export_json()
    preset_file().unlink()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("pages/density.py").run()
    at.file_uploader(key="density_preset_file").upload("lesson.json", text.encode(), "application/json").run()
    at.button(key="density_preset_import").click().run()
    assert not at.exception
    assert any("Imported 1" in s.value for s in at.success)
    at.button(key="density_preset_open").click().run()
    assert at.radio(key="dn_section").value == TOY and at.slider(key="dn_k").value == 6

    at.file_uploader(key="density_preset_file").upload("bad.json", b"{oops", "application/json").run()
    at.button(key="density_preset_import").click().run()
    assert any("Cannot import bad.json" in shown(e.value) and "JSON" in shown(e.value) for e in at.error)
