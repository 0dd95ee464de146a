"""Who is using this browser: the server's mode and, on a classroom server, the user a browser belongs to.

A browser proves who it is with a secret the server issued when its user joined (genlib.access.UserDirectory),
kept in a cookie; the name typed when joining is only a label. ``app.py`` calls :func:`require_user` before any
page runs, and every page reaches jobs and runs through :func:`viewer` (pages/common.py scopes the engine and the
store with it), so a page cannot show or touch another user's work by forgetting a check.
"""
from __future__ import annotations

import hashlib
import json
from typing import Callable

import streamlit as st

from genlib.access import PERSONAL_USER, Mode, User, UserDirectory, Viewer, server_mode
from genlib.errors import UserError
from genlib.logs import also_log
from pages import text
from pages.text import md

COOKIE = "genlab_user"   # + a suffix per store (cookie_name): browsers do not keep cookies apart by port
_SECRET = "_genlab_secret"
_VIEWER = "_genlab_viewer"
_COOKIE_DUE = "_genlab_cookie_due"   # the secret still has to be written into the browser's cookie
_MSG = "_genlab_identity_msg"
_FORGET = "_genlab_forget_cookie"    # the browser's cookie is to be removed (Leave)
_LEFT = "_genlab_left"               # this session left: its cookie (read when it opened) no longer counts
NOBODY = User("nobody", "nobody")    # a classroom browser that has not joined yet: sees nothing


def mode() -> Mode:
    """The server's mode: GENLAB_MODE, else classroom unless Streamlit listens on a loopback address only."""
    return server_mode(st.get_option("server.address"))


def classroom_or_unsure() -> bool:
    """Classroom mode, or a mode setting that cannot be read (then the safe side: show no server detail)."""
    try:
        return mode() is Mode.CLASSROOM
    except UserError:
        return True


@st.cache_resource(show_spinner=False)
def directory(db_path: str) -> UserDirectory:
    return UserDirectory(db_path)


def viewer() -> Viewer:
    """This session's user in this server's mode (what every listing and action is checked against)."""
    found = st.session_state.get(_VIEWER)
    if found is not None:
        return found
    return Viewer(PERSONAL_USER, Mode.PERSONAL) if mode() is Mode.PERSONAL else Viewer(NOBODY, Mode.CLASSROOM)


def require_user(db_path: str) -> Viewer:
    """Personal mode: the one user. Classroom mode: the user of this browser's secret, found again on every script
    run (a changed teacher token takes effect at once); a browser without one is asked for a name first, and the
    page stops there."""
    apply_mode()
    current = mode()
    if current is Mode.PERSONAL:
        found = Viewer(PERSONAL_USER, Mode.PERSONAL)
        st.session_state[_VIEWER] = found
        return found
    users = directory(db_path)
    name = cookie_name(db_path)
    if st.session_state.pop(_FORGET, False):
        _write_cookie(name, None)
    cookie = None if st.session_state.get(_LEFT) else st.context.cookies.get(name)
    secret = st.session_state.get(_SECRET) or cookie
    user = users.find(secret)
    if user is None:
        st.session_state.pop(_VIEWER, None)
        _join_form(users)
        st.stop()
    st.session_state[_SECRET] = secret
    found = Viewer(user, Mode.CLASSROOM)
    st.session_state[_VIEWER] = found
    if st.session_state.get(_COOKIE_DUE) and st.context.cookies.get(name) != secret:
        # On every run of the session that joined (its cookies were read when it opened, before the secret
        # existed): a reload right after Join, before the first script ran in the browser, must still find it.
        _write_cookie(name, secret)
    return found


def apply_mode() -> None:
    """What the mode changes for the whole process, applied first thing on every script run: on a classroom
    server an uncaught exception shows one generic line (its traceback goes to the log) and messages lose server
    paths. A mode setting that cannot be read is treated as a classroom here (:func:`mode` then raises, with the
    reason, shown without paths). Never raises."""
    classroom = classroom_or_unsure()
    text.REDACT_PATHS = classroom
    if classroom:
        st.set_option("client.showErrorDetails", "none")
        also_log("streamlit.error_util")


def cookie_name(db_path: str) -> str:
    """The cookie of this server's store: two GenLab servers on one host (two ports) must not overwrite each
    other's, since browsers share cookies between the ports of a host."""
    return f"{COOKIE}_{hashlib.sha256(db_path.encode()).hexdigest()[:8]}"


def _write_cookie(name: str, secret: str | None) -> None:
    """Keep (or, with None, forget) the secret in this browser: a first-party cookie for this server's pages, read
    back by ``st.context.cookies`` when the browser opens a new session (a reload, a new tab); ``Secure`` when the
    page came over HTTPS."""
    value = "" if secret is None else secret
    age = 0 if secret is None else 180 * 24 * 3600
    cookie = json.dumps(f"{name}={value}; path=/; max-age={age}; SameSite=Strict")
    script = f"document.cookie = {cookie} + (location.protocol === 'https:' ? '; Secure' : '');"
    st.html(f"<script>{script}</script>", unsafe_allow_javascript=True)


def _join(users: UserDirectory) -> None:
    try:
        user, secret = users.issue(st.session_state.get("identity_name", ""))
    except UserError as exc:
        st.session_state[_MSG] = md(exc)
        return
    st.session_state[_SECRET] = secret
    st.session_state[_COOKIE_DUE] = True
    st.session_state[_VIEWER] = Viewer(user, Mode.CLASSROOM)


def _join_form(users: UserDirectory) -> None:
    st.title("Welcome to GenLab")
    st.markdown("This GenLab is shared by a class. Type the name your teacher should see beside your runs. Your "
                "jobs and runs are yours: other students cannot see, stop or delete them, unless you share a run "
                "with the class. This browser remembers you (a cookie); the name itself is only a label.")
    msg = st.session_state.pop(_MSG, None)
    if msg:
        st.error(msg)
    with st.form("identity_join", border=False):
        st.text_input("Your name", key="identity_name", max_chars=40, placeholder="e.g. Ada L.")
        st.form_submit_button("Join", type="primary", on_click=_join, args=(users,))


def _change_user(change: Callable[[User, str], User], field: str) -> None:
    """Apply ``change`` (a rename, the teacher's grant) to this session's user with the text typed in ``field``; a
    refusal is shown in the sidebar."""
    current = viewer()
    try:
        user = change(current.user, st.session_state.get(field, ""))
    except UserError as exc:   # AccessError included: a wrong teacher token
        st.session_state[_MSG] = md(exc)
    else:
        st.session_state[_VIEWER] = Viewer(user, current.mode)


def _teacher(users: UserDirectory) -> None:
    _change_user(users.make_teacher, "identity_token")
    st.session_state["identity_token"] = ""   # the token does not stay in the box


def _rename(users: UserDirectory) -> None:
    _change_user(users.rename, "identity_rename")


def _drop_teacher(users: UserDirectory) -> None:
    _change_user(lambda user, _: users.drop_teacher(user), "identity_token")


def _leave() -> None:
    """Forget this browser's identity (a shared computer): the next visitor joins under their own name."""
    st.session_state.pop(_SECRET, None)
    st.session_state.pop(_VIEWER, None)
    st.session_state[_FORGET] = True
    st.session_state[_LEFT] = True


def sidebar_identity(db_path: str) -> None:
    """The sidebar's first lines on a classroom server: who you are, the teacher's token box, rename and leave."""
    current = viewer()
    if current.mode is Mode.PERSONAL:
        return
    users = directory(db_path)
    role = "teacher" if current.user.teacher else "student"
    st.sidebar.markdown(f":material/person: **{md(current.user.name)}** · {role}")
    msg = st.session_state.pop(_MSG, None)
    if msg:
        st.sidebar.error(msg)
    with st.sidebar.expander("You", icon=":material/badge:"):
        st.caption("Your jobs and runs are visible to you and the teacher only, unless you share a run (on Runs).")
        st.text_input("Change your name", key="identity_rename", max_chars=40)
        st.button("Rename", key="identity_rename_go", on_click=_rename, args=(users,))
        if not current.user.teacher:
            st.text_input("Teacher token", type="password", key="identity_token",
                          help="The teacher enters the token set in GENLAB_TEACHER_TOKEN to see and manage every "
                               "job and run.")
            st.button("Enter as teacher", key="identity_teacher", on_click=_teacher, args=(users,))
        else:
            st.button("Leave teacher mode", key="identity_not_teacher", on_click=_drop_teacher, args=(users,),
                      help="Back to a student's view (e.g. after typing the token in a student's browser).")
        st.button("Leave (forget me on this browser)", key="identity_leave", on_click=_leave,
                  help="On a shared computer: the next person joins under their own name. Your runs stay on the "
                       "server (the teacher still sees them), but this browser will not reach them again.")
