"""GenLab's log: one file under ``$GENLAB_HOME/logs/``, where jobs, the app and the CLI write what went wrong.

Why a file: a training job runs in a background thread (or another process), so its traceback would otherwise
vanish; a user sees one clear sentence on the page or the CLI, and whoever debugs opens the log (the job's entry in
the sidebar shows its traceback and offers the log file). Everything is written through the standard ``logging``
module under the ``genlib`` logger, so a notebook user can attach their own handlers instead.

Example:
    >>> import logging, tempfile
    >>> from genlib.logs import configure_logging, log_file
    >>> path = configure_logging(tempfile.mkdtemp())
    >>> logging.getLogger("genlib.demo").warning("written to the file")
    >>> "written to the file" in path.read_text()
    True
"""
from __future__ import annotations

import logging
import logging.handlers
import threading
from pathlib import Path

from genlib.paths import genlab_home

__all__ = ["LOG_NAME", "log_file", "configure_logging"]

LOG_NAME = "genlab.log"
_LOCK = threading.Lock()
_HANDLER: logging.Handler | None = None
_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"


def log_file(home: str | Path | None = None) -> Path:
    """The log file's path (it may not exist yet): under ``home``, else the one logging writes to now, else
    under ``$GENLAB_HOME``."""
    handler = _HANDLER
    if home is None and handler is not None:
        return Path(handler.baseFilename)  # type: ignore[attr-defined]
    return Path(home or genlab_home()).expanduser().resolve() / "logs" / LOG_NAME


def configure_logging(home: str | Path | None = None, level: int = logging.INFO) -> Path | None:
    """Send the ``genlib`` logger to the log file (rotating: 2 MB × 3 files); returns the file's path, or None when
    the folder cannot be written (logging then stays as it was: a read-only home must not stop a run).

    Idempotent per file: calling it again for the same home does nothing; for another home (a test, a second
    store) the one handler moves there. The logger's level is lowered to ``level`` only if nobody set one."""
    global _HANDLER
    path = log_file(home if home is not None else genlab_home())
    with _LOCK:
        if _HANDLER is not None and getattr(_HANDLER, "baseFilename", None) == str(path):
            return path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8"):   # writable now, or no handler: a later write must not fail
                pass
            handler = logging.handlers.RotatingFileHandler(path, maxBytes=2 * 2**20, backupCount=3,
                                                           encoding="utf-8", delay=True)
        except (OSError, ValueError):   # ValueError: a path the OS cannot take (an embedded NUL)
            return None
        handler.setFormatter(logging.Formatter(_FORMAT))
        logger = logging.getLogger("genlib")
        if _HANDLER is not None:
            logger.removeHandler(_HANDLER)
            _HANDLER.close()
        logger.addHandler(handler)
        if logger.level == logging.NOTSET:
            logger.setLevel(level)
        _HANDLER = handler
    return path


def also_log(name: str) -> None:
    """Send the records of logger ``name`` (e.g. Streamlit's uncaught-exception logger) to the log file too, so a
    classroom server, which shows students one line, keeps the details. Idempotent; a no-op without a log file."""
    with _LOCK:
        handler = _HANDLER
        if handler is None:
            return
        logger = logging.getLogger(name)
        if handler not in logger.handlers:
            logger.addHandler(handler)
