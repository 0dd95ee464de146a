"""Uploaded CSV files kept as datasets with an id, so an address (``?train_dataset=upload:3f2a9c01b7de``) or a preset
can name one and reopen it in another browser or after a restart, without uploading it again.

The id is the first 12 hex digits of the file's SHA-256: the same file uploaded twice is stored once, and an id
always means the same bytes. Each file lives in ``$GENLAB_HOME/datasets/<id>/`` under its original name; the folder
is written under a temporary name and renamed into place, so a crash never leaves half a dataset. A file is checked
(:func:`genlib.data.load_csv`) before it is kept: the store holds only usable datasets.

On a classroom server each user's dataset list shows the files they uploaded (``owners.txt`` in the folder lists
the users who uploaded those bytes); an id in an address still opens the file, so a shared run's data can be
rebuilt by whoever may see the run.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> uid = save_upload(b"a,b\\n" + b"".join(b"%d,%d\\n" % (i, i % 7) for i in range(30)), "my.csv", root=root)
    >>> load_upload(uid, root=root).columns, [u.name for u in list_uploads(root=root)]
    (['a', 'b'], ['my.csv'])
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from genlib.access import Viewer
from genlib.data import DataError, Dataset, load_csv
from genlib.data.csv_loader import DEFAULT_MAX_BYTES
from genlib.paths import genlab_home

__all__ = ["UploadInfo", "PREFIX", "upload_root", "upload_id", "save_upload", "load_upload", "list_uploads",
           "parse_upload_ref"]

#: How an address names a stored upload: ``upload:<id>``.
PREFIX = "upload:"
_ID = re.compile(r"^[0-9a-f]{12}$")


@dataclass(frozen=True)
class UploadInfo:
    id: str
    name: str      # the file's original name
    size: int      # bytes
    saved: float   # modification time of the stored file

    @property
    def ref(self) -> str:
        """What an address carries: ``upload:<id>``."""
        return PREFIX + self.id


def upload_root() -> Path:
    """``$GENLAB_HOME/datasets``."""
    return genlab_home() / "datasets"


def upload_id(data: bytes) -> str:
    """The id of a file's bytes: 12 hex digits of their SHA-256."""
    return hashlib.sha256(data).hexdigest()[:12]


def parse_upload_ref(text: str) -> str | None:
    """``"upload:3f2a9c01b7de"`` → ``"3f2a9c01b7de"``; anything else → None."""
    if isinstance(text, str) and text.startswith(PREFIX) and _ID.match(text[len(PREFIX):]):
        return text[len(PREFIX):]
    return None


def _safe_name(name: str) -> str:
    base = Path(str(name or "")).name.strip()
    base = re.sub(r"[^\w.\- ]", "_", base)[:100] or "upload.csv"
    # Always a lower-case ".csv": the store finds its files by "*.csv", so a "DATA.CSV" was kept and then never found.
    return (base[:-4] if base.lower().endswith(".csv") else base) + ".csv"


def _read(data: bytes, name: str, max_bytes: int) -> Dataset:
    buf = io.BytesIO(data)
    buf.name = name  # type: ignore[attr-defined]
    return load_csv(buf, name=name, max_bytes=max_bytes)


OWNERS = "owners.txt"


def _add_owner(folder: Path, owner: str | None) -> None:
    if owner is None:
        return
    path = folder / OWNERS
    known = path.read_text(encoding="utf-8").split() if path.is_file() else []
    if owner not in known:
        with open(path, "a", encoding="utf-8") as f:   # one id per line; an append is atomic for lines this short
            f.write(owner + "\n")


def _owners(folder: Path) -> set[str]:
    path = folder / OWNERS
    return set(path.read_text(encoding="utf-8").split()) if path.is_file() else set()


def save_upload(data: bytes, name: str, *, max_bytes: int = DEFAULT_MAX_BYTES, root: Path | None = None,
                owner: str | None = None) -> str:
    """Check the CSV (:class:`DataError` if unusable), keep it, return its id (the same bytes: the same id).
    ``owner``: the user who uploaded it (their dataset list shows it)."""
    name = _safe_name(name)
    _read(data, name, max_bytes)
    uid = upload_id(data)
    root = Path(root) if root is not None else upload_root()
    folder = root / uid
    if folder.is_dir() and any(folder.glob("*.csv")):
        _add_owner(folder, owner)
        return uid
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{uid}-"))
    try:
        (tmp / name).write_bytes(data)
        try:
            os.replace(tmp, folder)  # atomic; fails if another thread stored the same file first
        except OSError:
            if not (folder.is_dir() and any(folder.glob("*.csv"))):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _add_owner(folder, owner)
    return uid


def _file(uid: str, root: Path | None) -> Path:
    if not isinstance(uid, str) or not _ID.match(uid):
        raise DataError(f"{uid!r} is not an upload id (12 hex digits)")
    folder = (Path(root) if root is not None else upload_root()) / uid
    files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if not files:
        raise DataError(f"no uploaded dataset {uid} (it was deleted, or uploaded under another GENLAB_HOME)")
    return files[0]


def load_upload(uid: str, *, max_bytes: int = DEFAULT_MAX_BYTES, root: Path | None = None) -> Dataset:
    """The stored upload ``uid`` as a Dataset, read through the same checks as a fresh upload."""
    path = _file(uid, root)
    # The id becomes the dataset's parameter: a run trained on it records where its data are (Continue, the pages
    # that reopen the run), and two uploads with the same file name are not taken for the same data.
    return replace(_read(path.read_bytes(), path.name, max_bytes), params={"upload": uid})


def list_uploads(*, root: Path | None = None, viewer: Viewer | None = None) -> list[UploadInfo]:
    """Every stored upload ``viewer`` uploaded (every one without a viewer, in personal mode and for the teacher),
    newest first."""
    root = Path(root) if root is not None else upload_root()
    out = []
    for folder in root.iterdir() if root.is_dir() else ():
        if _ID.match(folder.name) and folder.is_dir():
            files = sorted(folder.glob("*.csv"))
            if files and (viewer is None or viewer.sees_everything or viewer.user.id in _owners(folder)):
                st = files[0].stat()
                out.append(UploadInfo(folder.name, files[0].name, st.st_size, st.st_mtime))
    return sorted(out, key=lambda u: (-u.saved, u.id))
