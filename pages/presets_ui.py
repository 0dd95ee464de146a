"""The Presets box of every page (save the page's state under a name, reopen it, hand it on as a JSON file) and the
list of all presets on Home. A page's state is its address (pages/urlstate.py); genlib.presets stores it."""
from __future__ import annotations

import streamlit as st

from genlib.presets import PresetError, delete_preset, export_json, get_preset, import_json, list_presets, save_preset
from pages import urlstate
from pages.identity import viewer
from pages.text import md

#: Page file stem → the title the navigation shows (the Home list names the page of each preset).
TITLES = {"home": "Home", "train": "Train", "compare": "Compare", "lorenz": "Lorenz lab", "latent": "Latent explorer",
          "density": "Density", "anomaly": "Anomalies", "simulator": "Simulator fitting", "runs": "Runs",
          "sources": "Sources"}
_MSG = "_presets_msg"


def page_state(page: str) -> None:
    """The one line each page calls after its title: its widgets' values go to and come from the address, and the
    Presets box. ``page`` is the page's file stem ("density")."""
    urlstate.url_page(page)
    presets_box(page)


def _flash(kind: str, text: str) -> None:
    st.session_state[_MSG] = (kind, text)


def _save(page: str) -> None:
    name = st.session_state.get(f"{page}_preset_name", "")
    try:
        preset = save_preset(page, name, st.query_params.to_dict(), viewer(),
                             broadcast=bool(st.session_state.get(f"{page}_preset_broadcast")))
    except PresetError as exc:
        _flash("error", md(exc))
        return
    st.session_state[f"{page}_preset_pick"] = preset.name
    _flash("success", f"Saved “{md(preset.name)}” ({len(preset.params) or 'no'} changed settings).")


def open_preset(page: str, name: str) -> None:
    """Reopen a preset (a button callback): forget this page's widget values and set the address to the preset's,
    so the next run reads every widget from it."""
    try:
        preset = get_preset(page, name, viewer())
    except PresetError as exc:
        _flash("error", md(exc))
        return
    urlstate.forget_page_keys(page)
    st.query_params.from_dict(preset.params)
    _flash("success", f"Opened “{md(preset.name)}”.")


def _delete(page: str, name: str) -> None:
    try:
        delete_preset(page, name, viewer())
    except PresetError as exc:
        _flash("error", md(exc))
        return
    _flash("success", f"Deleted “{md(name)}”.")


def _import(page: str) -> None:
    file = st.session_state.get(f"{page}_preset_file")
    if file is None:
        _flash("error", "Choose a presets JSON file first.")
        return
    try:
        names = import_json(file.getvalue(), viewer())
    except PresetError as exc:
        _flash("error", f"Cannot import {md(file.name)}: {md(exc)}")
        return
    _flash("success", f"Imported {len(names)} preset(s): {md(', '.join(names)) or 'none in the file'}.")


def presets_box(page: str) -> None:
    """A compact expander: name + Save; this page's presets + Open + Delete; download and upload as JSON."""
    msg = st.session_state.pop(_MSG, None)
    with st.expander("Presets", expanded=msg is not None, icon=":material/bookmarks:"):
        if msg is not None:
            (st.success if msg[0] == "success" else st.error)(msg[1])
        c = st.columns([3, 1])
        c[0].text_input("Preset name", key=f"{page}_preset_name", placeholder="Lesson 3 — KDE bandwidth",
                        label_visibility="collapsed")
        c[1].button("Save", key=f"{page}_preset_save", on_click=_save, args=(page,),
                    help="Save this page's current settings (what the address holds) under this name")
        you = viewer()
        if you.mode.value == "classroom" and you.user.teacher:
            st.checkbox("Show it to the whole class", key=f"{page}_preset_broadcast",
                        help="Every student sees this preset in their Presets box and on Home; only you can delete it.")
        presets = list_presets(page, you)
        names = list(dict.fromkeys(p.name for p in presets))
        labels = {p.name: p.name + (" (from the teacher)" if p.broadcast and p.owner != you.user.id else "")
                  for p in reversed(presets)}
        if not names:
            st.caption("No presets on this page yet. The page's address holds its settings too: copy it to share.")
        else:
            c = st.columns([3, 1, 1])
            pick = c[0].selectbox("Preset", names, key=f"{page}_preset_pick", label_visibility="collapsed",
                                  format_func=lambda n: labels.get(n, n))
            c[1].button("Open", key=f"{page}_preset_open", on_click=open_preset, args=(page, pick))
            c[2].button("Delete", key=f"{page}_preset_delete", on_click=_delete, args=(page, pick))
            st.download_button("Download this page's presets (JSON)", export_json(page, viewer=you),
                               file_name=f"genlab_presets_{page}.json", mime="application/json",
                               key=f"{page}_preset_download")
        c = st.columns([3, 1])
        c[0].file_uploader("Import presets (JSON)", type=["json"], key=f"{page}_preset_file")
        c[1].button("Import", key=f"{page}_preset_import", on_click=_import, args=(page,))


def presets_list() -> None:
    """Home: every saved preset, each a link to its page with its settings."""
    you = viewer()
    presets = list_presets(viewer=you)
    if not presets:
        st.caption("No presets yet: each page has a **Presets** box to save its settings under a name.")
        return
    for p in presets:
        st.page_link(f"pages/{p.page}.py", label=f"{TITLES.get(p.page, p.page)} — {md(p.name)}",
                     query_params=p.params, icon=":material/bookmark:")
    st.download_button("Download all presets (JSON)", export_json(viewer=you), file_name="genlab_presets.json",
                       mime="application/json", key="home_presets_all")
