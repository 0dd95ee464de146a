"""Where GenLab keeps what must outlive a process: ``$GENLAB_HOME`` (default ``~/.genlab``)."""
from __future__ import annotations

import os
from pathlib import Path


def genlab_home() -> Path:
    """``$GENLAB_HOME`` (default ``~/.genlab``): the run store, its database and the log live under it."""
    return Path(os.environ.get("GENLAB_HOME", Path.home() / ".genlab")).expanduser()
