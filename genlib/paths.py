"""Where GenLab keeps what must outlive a process: ``$GENLAB_HOME`` (default ``~/.genlab``)."""
from __future__ import annotations

import os
from pathlib import Path


def genlab_home() -> Path:
    """``$GENLAB_HOME`` (default ``~/.genlab``): the run store, its database and the log live under it."""
    return Path(os.environ.get("GENLAB_HOME", Path.home() / ".genlab")).expanduser()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, synced, then renamed into place: a crash mid-write never
    leaves half a file, and a failed write (a full disk: OSError ENOSPC) leaves no temporary file behind."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
