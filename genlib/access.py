"""Who may see and manage what: the two modes of a GenLab server, its users, and the rules.

*Personal* mode (the default on a loopback address): one person at their own computer; every job and run is theirs.
*Classroom* mode (``GENLAB_MODE=classroom``, and the default whenever the server listens on an address other
computers can reach): every browser belongs to a user, identified by a secret the server issues and the browser
keeps (a cookie). The display name a student types is only a label: typing someone else's name gives none of their
rights, because rights follow the secret. A user sees, stops, cancels, clears and deletes only their own jobs and
runs; a run's owner (or the teacher) can share it with the class, read-only. Whoever enters the token set in
``GENLAB_TEACHER_TOKEN`` is the teacher: sees and manages everything and can broadcast a preset.

Users live in a ``users`` table beside the runs (``$GENLAB_HOME/runs.sqlite``); only a SHA-256 of each secret is
stored, so reading the database does not give anyone's identity away. Bottom layer: stdlib only.
"""
from __future__ import annotations

import enum
import getpass
import hashlib
import hmac
import ipaddress
import os
import re
import secrets
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from genlib.errors import UserError

__all__ = ["Mode", "User", "Viewer", "AccessError", "UserDirectory", "server_mode", "cli_user", "PERSONAL_USER",
           "teacher_token_matches", "redact_paths", "MAX_NAME"]

MAX_NAME = 40
_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    teacher_hash TEXT,
    created REAL NOT NULL
)
"""


class AccessError(UserError):
    """Something this user may not do (another user's job or run); one sentence, no detail about the other user."""


class Mode(str, enum.Enum):
    PERSONAL = "personal"
    CLASSROOM = "classroom"


def _loopback(address: str | None) -> bool:
    """True for 127.x, ::1 and "localhost"; an unset address means every interface, so it is not a loopback one."""
    if not address:
        return False
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def server_mode(address: str | None) -> Mode:
    """``GENLAB_MODE`` when set (personal or classroom), else classroom unless the server listens on a loopback
    address only. ``address``: the server's ``server.address`` (None when Streamlit listens on every interface)."""
    raw = os.environ.get("GENLAB_MODE", "").strip().lower()
    if raw:
        try:
            return Mode(raw)
        except ValueError:
            raise UserError(f"GENLAB_MODE must be 'personal' or 'classroom'; got {raw!r}") from None
    return Mode.PERSONAL if _loopback(address) else Mode.CLASSROOM


@dataclass(frozen=True)
class User:
    """Who owns a job or a run. ``id`` is what rights follow; ``name`` is only a label for people to read."""

    id: str
    name: str
    teacher: bool = False


#: The one user of personal mode (and the owner recorded for its runs).
PERSONAL_USER = User("local", "personal", teacher=True)


def cli_user() -> User:
    """The owner recorded for runs started from the command line: the login of whoever ran it (the CLI runs on the
    server itself, so whoever can use it can read the store anyway)."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):   # no login name in a container without a passwd entry
        login = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return User(f"cli:{login}", f"{login} (command line)", teacher=True)


@dataclass(frozen=True)
class Viewer:
    """A user in a mode: the rules every listing and every action goes through."""

    user: User
    mode: Mode = Mode.PERSONAL

    @property
    def sees_everything(self) -> bool:
        return self.mode is Mode.PERSONAL or self.user.teacher

    def can_see(self, owner: str | None, shared: bool = False) -> bool:
        return self.sees_everything or owner == self.user.id or shared

    def can_manage(self, owner: str | None) -> bool:
        """Stop, cancel, clear, delete, share: the owner or the teacher (everyone in personal mode)."""
        return self.sees_everything or owner == self.user.id

    def check_manage(self, owner: str | None, what: str) -> None:
        if not self.can_manage(owner):
            raise AccessError(f"{what} belongs to another user; only its owner or the teacher can change it")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def teacher_token_matches(token: str) -> bool:
    """Whether ``token`` is ``GENLAB_TEACHER_TOKEN`` (compared in constant time). No token set: nobody is teacher."""
    expected = os.environ.get("GENLAB_TEACHER_TOKEN", "")
    return bool(expected) and hmac.compare_digest(token.encode(), expected.encode())


def _current_teacher_hash() -> str | None:
    token = os.environ.get("GENLAB_TEACHER_TOKEN", "")
    return _hash("teacher:" + token) if token else None


def clean_name(name: str) -> str:
    """A display name: one line, no control characters, at most MAX_NAME characters (it is shown to everyone)."""
    text = re.sub(r"\s+", " ", "".join(ch for ch in str(name) if ch.isprintable() or ch.isspace())).strip()
    if not text:
        raise UserError("type a name (it is only shown as a label beside your runs)")
    if len(text) > MAX_NAME:
        raise UserError(f"a name has at most {MAX_NAME} characters; got {len(text)}")
    return text


class UserDirectory:
    """The users of a classroom server: issue a secret for a new user, find the user a secret belongs to."""

    def __init__(self, db_path: str | Path):
        self.db_path = Path(db_path)
        with closing(self._connect()) as con, con:
            con.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.db_path, timeout=30)

    def issue(self, name: str) -> tuple[User, str]:
        """A new user called ``name`` and the secret its browser keeps (only its hash is stored)."""
        name = clean_name(name)
        secret = secrets.token_urlsafe(32)
        user = User("u-" + secrets.token_hex(6), name)
        with closing(self._connect()) as con, con:
            con.execute("INSERT INTO users (id, name, secret_hash, created) VALUES (?, ?, ?, ?)",
                        (user.id, user.name, _hash(secret), time.time()))
        return user, secret

    def find(self, secret: str | None) -> User | None:
        """The user this secret was issued to (teacher if they entered the current teacher token), or None."""
        if not isinstance(secret, str) or not secret or len(secret) > 200:
            return None
        with closing(self._connect()) as con:
            row = con.execute("SELECT id, name, teacher_hash FROM users WHERE secret_hash = ?",
                              (_hash(secret),)).fetchone()
        if row is None:
            return None
        teacher = row[2] is not None and row[2] == _current_teacher_hash()   # a changed token revokes it
        return User(row[0], row[1], teacher=teacher)

    def make_teacher(self, user: User, token: str) -> User:
        """Grant the teacher's rights to ``user`` if ``token`` is the teacher token (AccessError otherwise). Kept with
        the user until the token changes, so a reload does not ask again."""
        if not teacher_token_matches(token):
            time.sleep(1.0)   # a wrong guess costs a second: guessing a token over the websocket stays slow
            raise AccessError("that is not the teacher token" if os.environ.get("GENLAB_TEACHER_TOKEN")
                              else "no teacher token is set on this server (GENLAB_TEACHER_TOKEN)")
        with closing(self._connect()) as con, con:
            con.execute("UPDATE users SET teacher_hash = ? WHERE id = ?", (_current_teacher_hash(), user.id))
        return User(user.id, user.name, teacher=True)

    def drop_teacher(self, user: User) -> User:
        """Give the teacher's rights up (the teacher typed the token in a student's browser, say)."""
        with closing(self._connect()) as con, con:
            con.execute("UPDATE users SET teacher_hash = NULL WHERE id = ?", (user.id,))
        return User(user.id, user.name)

    def rename(self, user: User, name: str) -> User:
        name = clean_name(name)
        with closing(self._connect()) as con, con:
            con.execute("UPDATE users SET name = ? WHERE id = ?", (name, user.id))
        return User(user.id, name, teacher=user.teacher)

    def names(self) -> dict[str, str]:
        """Every user's label by id (for the teacher's tables)."""
        with closing(self._connect()) as con:
            return dict(con.execute("SELECT id, name FROM users").fetchall())


#: An absolute path of two or more parts (a server path a student need not see).
_PATH = re.compile(r"(?<![\w.:/])(?:/[^\s/'\"`:;,()\[\]]+){2,}/?")


def redact_paths(text: str) -> str:
    """``text`` with absolute server paths replaced by "…" (classroom mode shows no server path)."""
    return _PATH.sub("…", str(text))
