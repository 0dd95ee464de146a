"""Training as an instrument, and honest time, as widgets every training page shares (not a page of its own).

:func:`control_strip` pauses, resumes, steps and slows a job (through the engine's pace, genlib.train.pacing, so it
works for every job and executor) and sets how often the page's live views redraw; :func:`start_button` says how long
a budget should take before it starts and asks for a confirmation above five minutes (genlib.train.estimate).
"""
from __future__ import annotations

from typing import Any, Callable

import streamlit as st

from genlib.errors import UserError
from genlib.models import get_model_class
from genlib.train import Job, TrainSpec
from genlib.train.estimate import WARN_ABOVE_S, Estimate, estimate_spec, spec_key
from pages.common import job_manager, run_store
from pages.identity import viewer

#: Speed caps offered (steps per second); 0 is "no cap".
SPEEDS = (0.0, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
#: How often the live views may redraw (seconds).
REDRAWS = (0.5, 1.0, 2.0, 5.0, 10.0)


def _speed_label(v: float) -> str:
    return "no cap" if v == 0 else f"{v:g}"


def redraw_every(key: str) -> float:
    """The seconds between two redraws of this page's live views (the strip's control; 1 s until it is set)."""
    return float(st.session_state.get(f"{key}_redraw", 1.0))


def _pace(job_id: str, **change: Any) -> None:
    """A button's callback: change the job's pace; a refusal (another user's job) shows once above the page."""
    try:
        job_manager().pace(job_id, **change)
    except (UserError, KeyError, PermissionError) as exc:
        st.session_state["_refused"] = str(exc)


def _set_rate(job_id: str, wkey: str) -> None:
    _pace(job_id, rate=float(st.session_state[wkey]))


def control_strip(job: Job, key: str) -> float:
    """Pause / resume, one step, k steps, a speed cap and the redraw interval for ``job``; returns the redraw
    interval (seconds), for the page's live fragments' ``run_every``. Only the job's owner (or the teacher) gets
    the buttons; others see the redraw control alone."""
    s = job.snapshot()
    mine = viewer().can_manage(job.owner_id)
    done = s.status.finished
    k = f"{key}_{job.id}"
    cols = st.columns([1.1, 1.1, 1, 1.2]) + st.columns(2)
    if mine:
        if s.paused:
            cols[0].button("Resume", key=f"{k}_resume", on_click=_pace, args=(job.id,), kwargs={"pause": False},
                           disabled=done, icon=":material/play_arrow:", help="run on at the chosen speed")
        else:
            cols[0].button("Pause", key=f"{k}_pause", on_click=_pace, args=(job.id,), kwargs={"pause": True},
                           disabled=done, icon=":material/pause:", help="hold it before its next step")
        cols[1].button("One step", key=f"{k}_one", on_click=_pace, args=(job.id,), kwargs={"steps": 1},
                       disabled=done, help="take one step, then hold (pauses it if it was running)")
        n = int(cols[2].number_input("steps", min_value=1, max_value=100_000, value=10, step=1, key=f"{k}_k",
                                     label_visibility="collapsed", disabled=done, help="how many steps to take"))
        cols[3].button(f"{n} steps", key=f"{k}_some", on_click=_pace, args=(job.id,), kwargs={"steps": n},
                       disabled=done, help=f"take {n} steps, then hold")
        wkey = f"{k}_speed"
        if wkey not in st.session_state:
            st.session_state[wkey] = min(SPEEDS, key=lambda v: abs(v - s.max_rate))
        cols[4].select_slider("Speed cap (steps per second)", SPEEDS, key=wkey, format_func=_speed_label,
                              on_change=_set_rate, args=(job.id, wkey), disabled=done,
                              help="the most steps per second it may take: slow a GAN down to watch it move")
    cols[5].select_slider("Redraw live views every (s)", REDRAWS, key=f"{key}_redraw", value=redraw_every(key),
                          help="how often the progress, curves and pictures below are drawn again")
    return redraw_every(key)


# --- before a start -----------------------------------------------------------------------------------------
def _records(spec: TrainSpec) -> list[Any]:
    try:
        return run_store().list(model=spec.model, dataset=spec.dataset.name)
    except Exception:  # noqa: BLE001 - an estimate is a courtesy: an unreadable store just means "no history"
        return []


def known_estimate(spec: TrainSpec) -> Estimate | None:
    """An estimate without training anything: earlier runs, or a probe this process already timed."""
    try:
        return estimate_spec(spec, _records(spec), probe=False)
    except Exception:  # noqa: BLE001 - a model that cannot even be built reports that when it starts
        return None


def _estimate(spec: TrainSpec) -> Estimate | None:
    try:
        return estimate_spec(spec, _records(spec), probe=True, run=job_manager().run_now)   # in a worker
    except Exception:  # noqa: BLE001 - see known_estimate
        return None


def _clicked(spec: TrainSpec, key: str, on_start: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """Start, unless the estimate is above :data:`WARN_ABOVE_S`: then hold it for a second, confirming click."""
    est = _estimate(spec)
    if est is not None and est.too_long:
        st.session_state[f"{key}_confirm"] = (spec_key(spec), spec.steps, est)
        return
    st.session_state.pop(f"{key}_confirm", None)
    on_start(*args)


def _confirmed(key: str, on_start: Callable[..., Any], args: tuple[Any, ...]) -> None:
    st.session_state.pop(f"{key}_confirm", None)
    on_start(*args)


def _probe_only(spec: TrainSpec) -> None:
    _estimate(spec)


def start_button(label: str, spec: TrainSpec | None, key: str, on_start: Callable[..., Any],
                 args: tuple[Any, ...] = (), disabled: bool = False, primary: bool = True) -> None:
    """A start button that says how long the budget should take ("about 3 min on CPU") and, above five minutes,
    starts only after a second, explicit click. ``on_start(*args)`` submits the job (a callback)."""
    st.button(label, type="primary" if primary else "secondary", key=key, disabled=disabled or spec is None,
              on_click=_clicked if spec is not None else None,
              args=(spec, key, on_start, args) if spec is not None else None)
    if spec is None:
        return
    iterative = get_model_class(spec.model).iterative
    est = known_estimate(spec) if iterative else None
    held = st.session_state.get(f"{key}_confirm")
    if held is not None and held[0] == spec_key(spec) and held[1] == spec.steps:
        est = held[2]
        st.warning(f"{spec.steps:,} steps should take {est.text()}: more than {WARN_ABOVE_S / 60:.0f} minutes. "
                   "Fewer steps (or a GPU) finish sooner; you can also start it and stop it when the pictures "
                   "look right.", icon=":material/timer:")
        st.button("Start anyway", key=f"{key}_anyway", on_click=_confirmed, args=(key, on_start, args))
    elif est is not None:
        st.caption(f"Time: {est.text()}.")
    elif iterative:
        c1, c2 = st.columns([3, 2])
        c1.caption("Time: measured from a few real steps when you press start.")
        c2.button("Estimate the time", key=f"{key}_probe", on_click=_probe_only, args=(spec,),
                  help="time a few real training steps of this model on this device")
