"""Lorenz lab: simulate the attractor, measure chaos, recover the equations, and ask whether generated
trajectories are still chaotic — the Lorenz study's question, live. Thin: every computation lives in ``genlib.dynamics`` (the system
itself in ``genlib.systems.lorenz``)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from genlib import figures
from genlib.dynamics import lorenz as lz
from genlib.dynamics import lyapunov as ly
from genlib.data.lorenz import LorenzSystemParams
from genlib.dynamics import sindy
from genlib.params import Param, params_of
from genlib.sources import cite
from genlib.systems import lorenz as system
from pages import urlstate
from pages.addressing import url_value
from pages.common import csv_bytes, ensure_app_shell, param_widget
from pages.presets_ui import page_state
from pages.lorenz_gen import generative_section
from pages.presentation import page_sections, presenting

ensure_app_shell()

# The lab's own settings (σ, ρ, β come from LorenzSystemParams): each widget's value lives in the address, under the
# widget key (``lz_`` + the prefix given to param_widget + the name), e.g. ``?lz_method=euler&lz_dt=0.05``.
METHOD = Param("method", lz.METHODS[1], "explicit Euler, classical Runge–Kutta 4, or scipy's DOP853 as the accurate "
               "reference", choices=tuple(lz.METHODS), label="integrator")
DT = Param("dt", 0.01, "", choices=(0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1), widget="slider",
           label="time step dt")
T_MAX = Param("T", 40.0, "", range=(5.0, 100.0), widget="slider", step=5.0, label="duration T")
X0 = Param("x0", 1.0, "", range=(-30.0, 30.0), step=0.01, label="x₀")
_EPS = (1e-10, 1e-8, 1e-6, 1e-4, 1e-2)
EPS = Param("eps", 1e-8, "", choices=_EPS, widget="slider", label="nudge ε of the second start",
            labels={v: f"{v:.0e}" for v in _EPS})
BEN_T = Param("T", 200.0, "", choices=(50.0, 100.0, 200.0, 400.0), widget="slider", label="integration time T")
BEN_DT = Param("dt", 0.01, "", choices=(0.005, 0.01, 0.02), widget="slider", label="dt ")
ROS_DT = Param("dt", 0.01, f"{cite('lorenz_study', capital=True)}'s data use 0.1: fewer points per orbit make the estimate harder",
               choices=(0.01, 0.02, 0.05, 0.1), widget="slider", label="sampling step")
ROS_T = Param("T", 100.0, "", choices=(50.0, 100.0, 200.0), widget="slider", label="length T")
FIT_NOISE = Param("noise", 0.0, "", choices=(0.0, 0.5, 1.0, 2.0, 5.0), widget="slider",
                  label="observation noise (% of std)")
FIT_T = Param("T", 50.0, "", choices=(20.0, 50.0, 100.0), widget="slider", label="trajectory length T")
FIT_THR = Param("thr", 0.1, "", choices=(0.02, 0.05, 0.1, 0.2, 0.5), widget="slider", label="STLSQ threshold")
FIT_SEED = Param("seed", 0, "", range=(0, 10_000), label="random seed")
EQ_DT = Param("dt", 0.01, "", choices=(0.01, 0.1), widget="radio", label="equations at dt")
EQ_IDX = Param("idx", "ẋ", "", choices=("ẋ", "ẏ", "ż"), widget="radio", label="equation")

st.title("Lorenz attractor lab")
page_state("lorenz")
st.markdown(
    "Lorenz's 1963 model of convection: three ordinary differential equations whose solutions never settle and "
    "never repeat, and whose nearby starts separate exponentially — **chaos**. "
    f"{cite('lorenz_study', capital=True)} asks whether a generative model trained on such trajectories produces trajectories that are still chaotic. Work through the sections: "
    "simulate, measure the largest Lyapunov exponent, recover the equations from data, then train models and "
    "compare their trajectories with the real ones.")
st.latex(r"\dot x = \sigma (y - x), \qquad \dot y = x(\rho - z) - y, \qquad \dot z = xy - \beta z")

SECTIONS = ("1 · Simulate", "2 · Lyapunov exponent", "3 · Fit the equations", "4 · Generative models")
if (url_value("run") or url_value("gen")) and "lz_section" not in st.session_state:
    st.session_state["lz_section"] = SECTIONS[3]   # a link to a model run (or its trajectories) opens section 4
if presenting():   # one section at a time, with ◀ Previous / Next ▶ (pages/presentation.py)
    if (url_value("run") or url_value("gen")) and "section" not in st.query_params:
        st.query_params["section"] = SECTIONS[3]
    show = page_sections("lorenz", list(SECTIONS))
else:              # the lab's own picker (its choice in the address): one section at a time too, named by the radio
    section = urlstate.choice("Section", SECTIONS, "lz_section", radio=True, label_visibility="collapsed")

    def show(title: str) -> bool:
        return title == section


# --- cached computations (pure genlib calls) ---------------------------------------------------------------------
@st.cache_data(show_spinner="Integrating…", max_entries=32)
def _simulate(x0: tuple[float, float, float], sigma: float, rho: float, beta: float, dt: float, t_max: float,
              method: str) -> lz.Trajectory:
    return lz.simulate(x0, sigma, rho, beta, dt=dt, t_max=t_max, method=method)


@st.cache_data(show_spinner="Benettin: integrating a pair of trajectories…", max_entries=16)
def _benettin(sigma: float, rho: float, beta: float, dt: float, t_max: float) -> ly.BenettinResult:
    return ly.benettin(sigma, rho, beta, dt=dt, t_max=t_max)


@st.cache_data(show_spinner="Rosenstein: nearest neighbours and their divergence…", max_entries=16)
def _rosenstein_table(sigma: float, rho: float, beta: float, dt: float, t_max: float) -> dict[str, Any]:
    traj = lz.simulate(system.on_attractor(seed=1), sigma, rho, beta, dt=dt, t_max=t_max, method="solve_ivp")
    return ly.lyapunov_by_coordinate(traj.states, dt)


@st.cache_data(show_spinner="Fitting the equations…", max_entries=16)
def _fits(dt: float, noise: float, t_max: float, threshold: float, seed: int) -> list[Any]:
    states = sindy.make_observations(dt, t_max, noise=noise, seed=seed)
    return sindy.compare_methods(states, dt, threshold=threshold, known={"sigma": system.SIGMA})


@st.cache_data(show_spinner="Lyapunov exponent of the fitted system…", max_entries=64)
def _fitted_exponent(method: str, dt: float, coef: bytes) -> tuple[float | None, str]:
    fit = sindy.SparseFit(method=method, coef=np.frombuffer(coef).reshape(len(sindy.TERMS), 3).copy(), dt=dt,
                          params={}, rmse=float("nan"), n_terms=0)
    try:
        return float(ly.benettin_rhs(fit.rhs, system.on_attractor(seed=2), dt=0.01, t_max=60.0).exponent), ""
    except (lz.DynamicsError, FloatingPointError, ValueError) as exc:
        return None, str(exc)


# --- 1. simulator ------------------------------------------------------------------------------------------------
def simulator() -> None:
    c = st.columns(4)
    values = {}
    for col, p in zip(c, params_of(LorenzSystemParams)):  # σ, ρ, β as every Lorenz dataset declares them
        with col:
            values[p.name] = param_widget(p, "lz")
    sigma, rho, beta = values["sigma"], values["rho"], values["beta"]
    method = param_widget(METHOD, "lz", where=c[3])
    c = st.columns(4)
    dt = param_widget(DT, "lz", where=c[0])
    t_max = param_widget(T_MAX, "lz", where=c[1])
    x0 = (param_widget(X0, "lz", where=c[2]), 1.0, 1.0)
    eps = param_widget(EPS, "lz", where=c[3])
    if method == "euler":
        st.latex(r"x_{n+1} = x_n + \Delta t\, f(x_n)\quad\text{(error} \propto \Delta t\text{; unstable when }"
                 r"\Delta t \text{ is large)}")
    elif method == "rk4":
        st.latex(r"x_{n+1} = x_n + \tfrac{\Delta t}{6}(k_1 + 2k_2 + 2k_3 + k_4),\quad k_1 = f(x_n),\ "
                 r"k_2 = f(x_n + \tfrac{\Delta t}{2}k_1),\ \dots\quad\text{(error} \propto \Delta t^4)")
    a = _simulate(tuple(x0), sigma, rho, beta, dt, t_max, method)
    b = _simulate((x0[0] + eps, x0[1], x0[2]), sigma, rho, beta, dt, t_max, method)
    if a.diverged_at is not None:
        st.warning(f"**{method} blew up at t = {a.diverged_at:.2f}** with dt = {dt:g}: the numerical scheme is "
                   "unstable at this step size, not the system. Try RK4, or a smaller dt.")
    elif method != "solve_ivp":
        ref = _simulate(tuple(x0), sigma, rho, beta, dt, min(t_max, 5.0), "solve_ivp")
        n = min(len(ref.states), len(a.states))
        err = float(np.max(np.linalg.norm(a.states[:n] - ref.states[:n], axis=1)))
        st.caption(f"Largest distance from the accurate solution (DOP853) over the first {ref.t[n - 1]:.0f} time "
                   f"units: {err:.2g}. Chaos amplifies any integration error, so even a good scheme parts from "
                   "the reference after a while.")
    left, right = st.columns([3, 2])
    left.plotly_chart(figures.lorenz.butterfly({"start x₀": a.states, "start x₀ + ε": b.states}), key="lz_fly")
    right.plotly_chart(figures.lorenz.time_series(a.t, {"start x₀": a.states, "start x₀ + ε": b.states}),
                       key="lz_ts")
    st.markdown("**Sensitive dependence on initial conditions.** The two starts differ by ε in x. Their distance "
                "grows like ε·e^(λt) — a straight line on this log axis, with slope the largest Lyapunov exponent "
                "λ ≈ 0.906 — until it reaches the size of the attractor. (For the first few time units it barely "
                "grows: the nudge must first turn into the most unstable direction.)")
    d = lz.separation(a, b)
    st.plotly_chart(figures.lorenz.separation_plot(a.t, d, system.LYAPUNOV_REFERENCE, d0=eps), key="lz_sep")


# --- 2. Lyapunov --------------------------------------------------------------------------------------------------
def lyapunov() -> None:
    st.markdown("#### From the equations: Benettin's two-trajectory method")
    st.markdown("Follow a trajectory and a companion d₀ away. After every step, measure their distance d_k, add "
                "ln(d_k/d₀) to a running sum, and pull the companion back to distance d₀ along the same "
                "direction. The companion then aligns with the most unstable direction, and the average growth "
                "rate is the largest exponent.")
    st.latex(r"\lambda_1 = \lim_{N\to\infty} \frac{1}{N\,\Delta t}\sum_{k=1}^{N} \ln\frac{d_k}{d_0}")
    c = st.columns(2)
    t_max = param_widget(BEN_T, "lz_ben", where=c[0])
    dt = param_widget(BEN_DT, "lz_ben", where=c[1])
    res = _benettin(system.SIGMA, system.RHO, system.BETA, dt, t_max)
    err = 100 * (res.exponent / system.LYAPUNOV_REFERENCE - 1)
    m = st.columns(3)
    m[0].metric("λ₁ (Benettin)", f"{res.exponent:.4f}", f"{err:+.1f} % vs 0.9056", delta_color="off")
    m[1].metric("reference", f"{system.LYAPUNOV_REFERENCE}")
    m[2].metric("renormalisations", f"{res.n_renorm:,}")
    st.plotly_chart(figures.lorenz.running_exponent(res.times, res.running, system.LYAPUNOV_REFERENCE), key="lz_ben")

    st.markdown("#### From data alone: Rosenstein's method")
    st.markdown("Without equations — as for a generated trajectory — embed the series, find each point's nearest "
                "neighbour (not a time-neighbour), and follow the pairs: the average log distance grows "
                "linearly at the rate λ before it saturates. The slope of the straight part is the estimate; a "
                "single coordinate is delay-embedded first.")
    st.latex(r"d_j(i) \approx C_j\, e^{\lambda\, i\,\Delta t}\ \Rightarrow\ "
             r"\langle \ln d_j(i) \rangle_j \approx \ln C + \lambda\, i\,\Delta t")
    c = st.columns(2)
    rdt = param_widget(ROS_DT, "lz_ros", where=c[0])
    rT = param_widget(ROS_T, "lz_ros", where=c[1])
    table = _rosenstein_table(system.SIGMA, system.RHO, system.BETA, rdt, rT)
    st.dataframe(pd.DataFrame([{"series": k, "λ (Rosenstein)": r.exponent,
                                "error vs 0.9056": f"{100 * (r.exponent / system.LYAPUNOV_REFERENCE - 1):+.0f} %",
                                "embedding dim": r.emb_dim, "lag (steps)": r.lag} for k, r in table.items()]),
                 hide_index=True, key="lz_ros_table")
    st.plotly_chart(figures.lorenz.rosenstein_fits(table), key="lz_ros_fig")
    st.caption("Dashed: the fitted straight part. An estimator that is only ever checked on the system it was "
               "tuned for proves little: the same code runs on generated trajectories in section 4.")


# --- 3. parametric fits -------------------------------------------------------------------------------------------
def fits() -> None:
    st.markdown(f"As in {cite('lorenz_study')} (slides 10–12): estimate dX/dt from the samples, then regress it on a library of "
                "candidate terms — every monomial of x, y, z up to degree 2 — and hope the right seven survive.")
    st.latex(r"\dot X \approx \Theta(X)\,\Xi,\qquad \Theta = [1,\ x,\ y,\ z,\ x^2,\ xy,\ xz,\ y^2,\ yz,\ z^2]")
    st.markdown("**LASSO** adds λ‖Ξ‖₁; **Ridge** λ‖Ξ‖²₂ (never exactly zero); **STLSQ** (sequentially "
                "thresholded least squares) fits, zeroes every coefficient below a threshold and refits on the "
                "survivors; the **constrained** fit (the study's Galerkin) fixes the structure and one known "
                "parameter. All of them need a finite-difference derivative, which is fine at dt = 0.01 and "
                "useless at dt = 0.1. The **integrated** fit never differentiates: it integrates the model over "
                "each sampling step with RK4 and fits σ, ρ, β to land on the next sample.")
    st.latex(r"\min_{\sigma,\rho,\beta}\ \sum_i \big\lVert \Phi^{\mathrm{RK4}}_{\Delta t}(x_i;\sigma,\rho,\beta)"
             r" - x_{i+1} \big\rVert^2")
    c = st.columns(4)
    noise = param_widget(FIT_NOISE, "lz_fit", where=c[0])
    t_max = param_widget(FIT_T, "lz_fit", where=c[1])
    threshold = param_widget(FIT_THR, "lz_fit", where=c[2])
    seed = int(param_widget(FIT_SEED, "lz_fit", where=c[3]))
    rows, by_dt = [], {}
    for dt in (0.01, 0.1):
        results = _fits(dt, noise / 100, t_max, threshold, seed)
        by_dt[dt] = results
        for f in results:
            lam, why = _fitted_exponent(f.method, dt, np.ascontiguousarray(f.coef, dtype=float).tobytes())
            rows.append({"dt": dt, "method": f.method, "coefficient RMSE": f.rmse, "σ": f.params.get("sigma"),
                         "ρ": f.params.get("rho"), "β": f.params.get("beta"), "terms": f.n_terms,
                         "λ of fitted system": lam, "note": "fitted system diverges" if why else ""})
    table = pd.DataFrame(rows)
    st.dataframe(table.style.format({"dt": "{:g}", "coefficient RMSE": "{:.3g}", "σ": "{:.3f}", "ρ": "{:.3f}", "β": "{:.4f}",
                                     "λ of fitted system": "{:.3f}"}, na_rep="—"),
                 hide_index=True, key="lz_fit_table")
    st.caption("True values σ = 10, ρ = 28, β = 8/3 ≈ 2.6667; RMSE over all 30 library coefficients. The study's "
               "methods reach RMSE 5.9–8.3 at dt = 0.1.")
    st.download_button("Download the table (CSV)", table.pipe(csv_bytes), "lorenz_fits.csv",
                       "text/csv", key="lz_fit_dl")
    c = st.columns([1, 1, 2])
    dt_pick = param_widget(EQ_DT, "lz_eq", where=c[0])
    pick = urlstate.choice("method", [f.method for f in by_dt[dt_pick]], "lz_eq_method", where=c[1])
    fit = next(f for f in by_dt[dt_pick] if f.method == pick)
    for eq in fit.equations_latex():
        st.latex(eq)
    eq_idx = param_widget(EQ_IDX, "lz_eq", where=c[2])
    st.plotly_chart(figures.lorenz.coefficient_bars(sindy.TERMS, {f.method: f.coef for f in by_dt[dt_pick]},
                                                  sindy.true_coefficients(), ("ẋ", "ẏ", "ż").index(eq_idx)),
                    key="lz_coef_fig")


for title, draw in zip(SECTIONS, (simulator, lyapunov, fits, generative_section)):
    if show(title):
        draw()
