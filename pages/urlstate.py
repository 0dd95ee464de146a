"""A page's state in its address: every widget built from a :class:`genlib.params.Param` reads its first value from
``st.query_params`` and writes its value back, so a copied address (or a preset) reopens the same view.

One path for every widget that belongs in the address: :func:`bind` seeds the widget's session value BEFORE it is
created (the widget is then built without ``value=``/``index=``, so Streamlit never sees two sources), and writes
the value back after. Widgets that have no Param of their own (a model choice, a section, a run id) get one on the
fly (:func:`choice_param`) and go the same way.

Rules:

- the address is read only for a widget whose key is not in ``st.session_state`` yet: a fresh session (reload,
  another browser, after a restart), or after :func:`forget_page_keys` (opening a preset);
- the text is parsed and checked by the Param (kind, range, choices); an invalid or stale value (a choice that no
  longer exists) gives the default and ONE caption near the top of the page naming every ignored parameter;
- only values that differ from the default are written (short addresses); a key returning to its default leaves
  the address. Address keys are the widget keys (``dn_h``, ``train_vae_latent_dim``).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import streamlit as st

from genlib.params import Param, ParamError
from pages.text import md

_RUN = "_urlstate_run"     # {"page": str, "notes": [str], "slot": DeltaGenerator | None}: this script run
_KEYS = "_urlstate_keys"   # {page: {widget keys bound on it}}: what opening a preset forgets


def url_page(page: str) -> None:
    """Start the address binding of ``page`` for this script run (call once, near the top of the page): the place
    for the one "Ignored from the address" line, and the page whose widget keys a preset forgets."""
    st.session_state[_RUN] = {"page": page, "notes": [], "slot": st.empty()}


def current_page() -> str | None:
    run = st.session_state.get(_RUN)
    return run["page"] if run else None


def choice_param(name: str, options: Iterable[Any], default: Any = None, help: str = "",
                 labels: dict[Any, str] | None = None) -> Param:
    """A Param for a choice that is not a declared setting (a model, a section, a run id): its options are today's,
    so an address naming one that is gone falls back to ``default`` (the first option if None or not offered)."""
    options = tuple(options)
    if default not in options:
        default = options[0] if options else None
    return Param(name, default, help, choices=options, labels=labels, kind=type(default) if options else str)


def to_text(p: Param, value: Any) -> str | None:
    """A widget's value as address text; None when it is the default (left out of the address)."""
    if p.kind is tuple and isinstance(value, str):  # a tuple setting's text box
        try:
            value = p.validate(value)
        except ParamError:
            return value
    if p.kind is tuple and isinstance(value, list):  # a multiselect
        value = tuple(value)
    if value == p.default or (value is None and p.default is None):
        return None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def from_text(p: Param, text: str) -> Any:
    """Address text → the widget's value (:class:`ParamError` if it is not a valid value of ``p``)."""
    if text == "" and p.default is None:
        return None
    return _widget_value(p, p.validate(text))


def _widget_value(p: Param, value: Any) -> Any:
    """A setting's value as its widget holds it: a tuple setting with choices is a multiselect (a list), one
    without is a comma-separated text box."""
    if p.kind is tuple:
        return list(value or ()) if p.choices is not None else ", ".join(map(str, value or ()))
    return value


def note(text: str) -> None:
    """Add to the one line that says what the address asked for and did not get (it quotes the address: user text)."""
    text = md(text)
    run = st.session_state.get(_RUN)
    if run is None:
        st.caption(f":material/link_off: Ignored from the address: {text}")
        return
    if text not in run["notes"]:
        run["notes"].append(text)
    if run["slot"] is not None:
        run["slot"].caption(":material/link_off: Ignored from the address (defaults used): " + "; ".join(run["notes"]))


def seed(p: Param, wkey: str) -> None:
    """Before the widget ``wkey`` is created: give it its value from the address (checked) or its default, unless
    the session already has one."""
    run = st.session_state.get(_RUN)
    if run is not None:
        st.session_state.setdefault(_KEYS, {}).setdefault(run["page"], set()).add(wkey)
    if wkey in st.session_state:
        return
    value = _widget_value(p, p.default)
    text = st.query_params.get(wkey)
    if text is not None:
        try:
            value = from_text(p, text)
        except ParamError as exc:
            note(f"{wkey}={text} ({_reason(exc, p)})")
    st.session_state[wkey] = value


def keep_valid(p: Param, wkey: str) -> None:
    """Before a widget whose range or choices depend on the data (a row index, a code dimension): drop a session
    value that today's ``p`` rejects, so the widget starts again from the default instead of failing."""
    if wkey not in st.session_state:
        return
    try:
        p.validate(st.session_state[wkey])
    except ParamError:
        st.session_state[wkey] = _widget_value(p, p.default)


def _reason(exc: ParamError, p: Param) -> str:
    msg = str(exc)
    if p.choices is not None and len(p.choices) > 6 and "must be one of" in msg:
        return "not offered here"
    return msg[len(p.name) + 1:] if msg.startswith(p.name + " ") else msg


def write_back(p: Param, wkey: str, value: Any = None) -> None:
    """After the widget is created: its value into the address (or out of it, when it is the default)."""
    if value is None:
        value = st.session_state.get(wkey)
    set_url(wkey, to_text(p, value))


def set_url(wkey: str, text: str | None) -> None:
    """Write one address key (None: remove it); nothing is sent when it is unchanged."""
    if text is None:
        if wkey in st.query_params:
            del st.query_params[wkey]
    elif st.query_params.get(wkey) != text:
        st.query_params[wkey] = text


def bind(p: Param, wkey: str, build: Callable[[], Any]) -> Any:
    """The one path: seed ``wkey`` from the address, ``build()`` the widget (with ``key=wkey`` and no value), write
    its value back; returns what ``build`` returned."""
    seed(p, wkey)
    out = build()
    write_back(p, wkey)
    return out


def choice(label: str, options: Iterable[Any], key: str, default: Any = None, *, radio: bool = False,
           format_func: Callable[[Any], str] = str, help: str | None = None, where: Any = None, **kwargs) -> Any:
    """A selectbox (or horizontal radio) bound to the address, for a choice without a declared setting."""
    options = list(options)
    p = choice_param(key, options, default, help or "")
    where = where if where is not None else st
    widget = where.radio if radio else where.selectbox
    if radio:
        kwargs.setdefault("horizontal", True)
    return bind(p, key, lambda: widget(label, options, format_func=format_func, help=help, key=key, **kwargs))


def forget_page_keys(page: str) -> None:
    """Drop the session values of every widget bound on ``page`` (so the next run reads the address again)."""
    for key in st.session_state.get(_KEYS, {}).get(page, set()):
        if key in st.session_state:
            del st.session_state[key]
