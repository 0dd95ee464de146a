"""Named page states ("Lesson 3 — KDE bandwidth"): a page's address parameters saved under a name, listed, reopened,
and handed to a colleague as a JSON file.

A preset is ``(page, name) → params``: ``page`` is the page's file stem ("density"), ``params`` the page's query
parameters as text (what the address carries; each page checks them again when it opens them, so a preset made by
an older GenLab falls back to defaults where a setting changed, with the same one-line note as a stale address).

On a classroom server (genlib.access) each preset belongs to the user who saved it: a user sees their own presets
and the ones the teacher broadcast to the class; two students may use the same name without touching each other's.

Storage: one JSON file, ``$GENLAB_HOME/presets.json``, written atomically (a temporary file, then a rename). Why
not SQLite like the run store: presets are few and small, the export format is the same JSON (one format to read
and validate), and a person can read or mend the file. Writes in this process are serialised by a lock; two
processes saving at the same moment keep the last write (presets are edited by hand, seldom at once).
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from genlib.errors import UserError
from genlib.paths import genlab_home

if TYPE_CHECKING:
    from genlib.access import Viewer

__all__ = ["Preset", "PresetError", "FORMAT", "preset_file", "save_preset", "list_presets", "get_preset",
           "delete_preset", "export_json", "import_json"]

#: What the first key of an exported file says, so a wrong JSON file is refused with a clear sentence.
FORMAT = "genlab-presets"
VERSION = 1
MAX_NAME = 100
_PAGE = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_LOCK = threading.Lock()


class PresetError(UserError):
    """A preset that cannot be saved, found or imported (one sentence)."""


@dataclass(frozen=True)
class Preset:
    page: str
    name: str
    params: dict[str, str] = field(default_factory=dict)
    saved: float = 0.0
    owner: str | None = None     # the user who saved it (None: saved before users existed, or imported as is)
    broadcast: bool = False      # the teacher showed it to the whole class

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"page": self.page, "name": self.name, "params": dict(self.params), "saved": self.saved}
        if self.owner is not None:
            out["owner"] = self.owner
        if self.broadcast:
            out["broadcast"] = True
        return out


def _visible(p: Preset, viewer: "Viewer | None") -> bool:
    return viewer is None or viewer.sees_everything or p.owner == viewer.user.id or p.broadcast


def _mine(p: Preset, viewer: "Viewer | None") -> bool:
    return viewer is None or p.owner == viewer.user.id


def preset_file() -> Path:
    """``$GENLAB_HOME/presets.json``."""
    return genlab_home() / "presets.json"


def _check(page: Any, name: Any, params: Any, where: str = "") -> tuple[str, str, dict[str, str]]:
    if not isinstance(page, str) or not _PAGE.match(page):
        raise PresetError(f"{where}page must be a page name like 'density'; got {page!r}")
    if not isinstance(name, str) or not name.strip():
        raise PresetError(f"{where}a preset needs a name")
    name = name.strip()
    if len(name) > MAX_NAME:
        raise PresetError(f"{where}a preset name has at most {MAX_NAME} characters; got {len(name)}")
    if not isinstance(params, Mapping):
        raise PresetError(f"{where}params must be an object of text values; got {type(params).__name__}")
    bad = [k for k, v in params.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise PresetError(f"{where}params must map names to text; not text: {', '.join(map(str, bad))}")
    return page, name, dict(params)


def _read() -> list[Preset]:
    path = preset_file()
    if not path.is_file():
        return []
    return _parse(path.read_text(encoding="utf-8"), f"{path}: ")


def _parse(text: str, where: str = "") -> list[Preset]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PresetError(f"{where}not a JSON file ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise PresetError(f"{where}not a GenLab presets file (it must be an object with \"format\": \"{FORMAT}\")")
    if doc.get("version") != VERSION:
        raise PresetError(f"{where}presets file version {doc.get('version')!r}; this GenLab reads version {VERSION}")
    items = doc.get("presets")
    if not isinstance(items, list):
        raise PresetError(f"{where}\"presets\" must be a list")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise PresetError(f"{where}preset {i + 1} is not an object")
        page, name, params = _check(item.get("page"), item.get("name"), item.get("params"), f"{where}preset {i + 1}: ")
        saved = item.get("saved", 0.0)
        owner = item.get("owner")
        out.append(Preset(page, name, params, float(saved) if isinstance(saved, (int, float)) else 0.0,
                          owner if isinstance(owner, str) else None, item.get("broadcast") is True))
    return out


def _dump(presets: Iterable[Preset]) -> str:
    return json.dumps({"format": FORMAT, "version": VERSION, "presets": [p.to_json() for p in presets]},
                      indent=2, ensure_ascii=False)


def _write(presets: list[Preset]) -> None:
    path = preset_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".presets-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(_dump(presets))
        os.replace(tmp, path)  # atomic: a crash mid-write never leaves half a file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_preset(page: str, name: str, params: Mapping[str, str], viewer: "Viewer | None" = None,
                broadcast: bool = False) -> Preset:
    """Save (or replace) ``viewer``'s preset ``name`` of ``page``; ``broadcast`` (the teacher only) shows it to the
    whole class."""
    page, name, params = _check(page, name, params)
    if broadcast and viewer is not None and not viewer.user.teacher:
        raise PresetError("only the teacher can show a preset to the whole class")
    owner = None if viewer is None else viewer.user.id
    preset = Preset(page, name, params, time.time(), owner, broadcast)
    with _LOCK:
        presets = [p for p in _read() if (p.page, p.name, p.owner) != (page, name, owner)]
        _write(presets + [preset])
    return preset


def list_presets(page: str | None = None, viewer: "Viewer | None" = None) -> list[Preset]:
    """Every preset ``viewer`` may see (of ``page`` if given; all of them without a viewer), by page then name, the
    viewer's own first."""
    with _LOCK:
        presets = _read()
    return sorted((p for p in presets if (page is None or p.page == page) and _visible(p, viewer)),
                  key=lambda p: (p.page, p.name.lower(), not _mine(p, viewer)))


def get_preset(page: str, name: str, viewer: "Viewer | None" = None) -> Preset:
    """``viewer``'s own preset of that name, else one broadcast to the class (or, for the teacher, anyone's)."""
    for p in list_presets(page, viewer):
        if p.name == name:
            return p
    raise PresetError(f"no preset {name!r} on page {page!r}")


def delete_preset(page: str, name: str, viewer: "Viewer | None" = None) -> None:
    """Delete the preset :func:`get_preset` finds; only its owner (or the teacher) may."""
    target = get_preset(page, name, viewer)
    if viewer is not None and not (viewer.sees_everything or target.owner == viewer.user.id):
        raise PresetError(f"the preset {name!r} was shared by the teacher; only the teacher can delete it")
    with _LOCK:
        presets = _read()
        kept = [p for p in presets if (p.page, p.name, p.owner) != (target.page, target.name, target.owner)]
        if len(kept) == len(presets):
            raise PresetError(f"no preset {name!r} on page {page!r}")
        _write(kept)


def export_json(page: str | None = None, names: Iterable[str] | None = None, viewer: "Viewer | None" = None) -> str:
    """The presets ``viewer`` may see (of ``page``; only ``names`` if given) as the JSON text :func:`import_json`
    reads."""
    wanted = None if names is None else set(names)
    return _dump(p for p in list_presets(page, viewer) if wanted is None or p.name in wanted)


def import_json(text: str | bytes, viewer: "Viewer | None" = None) -> list[str]:
    """Add the presets of an exported file; returns their names as stored.

    The whole file is checked first (a bad file adds nothing; the error says what is wrong). A preset equal to a
    stored one is not duplicated; one whose name is taken on its page by a different state is kept under
    "name (imported)" (then "(imported 2)", …) rather than overwriting the stored one."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise PresetError("not a presets file: it is not UTF-8 text") from None
    incoming = _parse(text)
    owner = None if viewer is None else viewer.user.id   # imported presets are the importer's own
    names = []
    with _LOCK:
        presets = _read()
        for new in incoming:
            taken = {p.name: p for p in presets if p.page == new.page and (viewer is None or p.owner == owner)}
            name, n = new.name, 1
            while name in taken and taken[name].params != new.params:
                n += 1
                name = f"{new.name} (imported)" if n == 2 else f"{new.name} (imported {n - 1})"
            if name not in taken:
                presets.append(Preset(new.page, name, new.params, new.saved or time.time(),
                                      owner if viewer is not None else new.owner))
            names.append(name)
        _write(presets)
    return names
