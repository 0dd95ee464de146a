"""Simulator fitting with adversarial variational optimisation (the AVO talk; Louppe, Hermans & Cranmer 2017): find the
parameters θ of a simulator we can run but whose likelihood we cannot write down, by training a critic to tell
simulated data from observed data and moving a proposal over θ against it. Thin: genlib.avo does the work,
genlib.figures.avo draws."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from genlib import figures
from genlib.avo import (OBSERVED_KEPT, SIMULATORS, AVOConfig, AVOHistory, AVOResult, AVOTask, Simulator,
                        SimulatorError, avo_result_from_run, get_simulator, make_observed, marginal_samples,
                        run_simulator, weinberg_afb)
from genlib.params import Param, make_config, params_of
from genlib.store import RunKind, RunRecord, StoreError
from genlib.train import Job
from genlib.words import word
from pages import urlstate
from pages.text import md
from pages.common import csv_bytes, ensure_app_shell, fmt_time, job_manager, param_widget, run_store, submit_job
from pages.presets_ui import page_state
from pages.presentation import page_sections, section_block

ensure_app_shell()
#: AVOConfig's settings: each widget takes its label, range, default and help from this metadata.
P = {p.name: p for p in params_of(AVOConfig)}

st.title("Simulator fitting (AVO)")
page_state("simulator")
st.markdown(
    "Many sciences have **simulators**: programs that turn parameters θ into synthetic data x (collisions, "
    "weather, epidemics). Running one is easy; writing down its likelihood p(x|θ) is often impossible. Given real "
    "observations drawn from p_r, we want the θ whose simulated data look like them — the θ that makes a distance ρ "
    "between the two distributions smallest. **Adversarial variational optimisation** uses a WGAN whose generator "
    "*is* the simulator: a critic learns to tell real from simulated data, and its verdict steers θ, even though "
    "no gradient can flow through the simulator.")
st.latex(r"\theta^* = \arg\min_\theta\ \rho\big(p_r(x),\ p(x|\theta)\big)")
SECTIONS = ["1 · The simulator and the observed data",
            "2 · The critic: how far are the simulations from the data?",
            "3 · The proposal: moving θ without a gradient through the simulator",
            "4 · Fit",
            "5 · Against the exact fit and rejection ABC, same data"]
show = page_sections("simulator", SECTIONS)   # presentation mode: one at a time (pages/presentation.py)

# --------------------------------------------------------------------------------------------- 1. simulator
with section_block(show, SECTIONS[0]):   # drawn or not, its settings feed the fit
    name = urlstate.choice("simulator to fit", list(SIMULATORS), "avo_sim", format_func=lambda n: SIMULATORS[n].label)
    base: Simulator = SIMULATORS[name]
    st.latex(base.formula)
    left, right = st.columns([3, 2])
    with left:
        st.markdown(base.summary)
        st.markdown("The **observed data** are drawn from the simulator at a true θ* you choose here, so we can tell how "
                    "close each method gets. The fit never sees θ* — only the data.")
        if name == "weinberg":
            st.info("**Only A_FB is identifiable.** The angle's density depends on (E_beam, G_f) only through the "
                    "asymmetry A_FB, so with both parameters free a whole curve of θ fits the data equally well and "
                    "the fit may end anywhere along it (section 5 draws that ridge). Fix one parameter — as an "
                    "experiment knows its beam energy — to make the other one identifiable.", icon=":material/info:")
        if name == "lorenz":
            st.page_link("pages/lorenz.py", label="The same equations, simulated and measured, in the Lorenz lab →",
                         icon=":material/cyclone:")
    with right:
        cols = st.columns(base.n_params)
        # θ*, the fixed parameters and the start of the proposal are in the address too, under keys per simulator
        # (``?avo_true_poisson_0=7&avo_fixed_weinberg=E_beam``); no range here: section 2 explains a value off the box
        truth_in = [param_widget(Param(str(i), float(base.true_theta[i]), f"within the simulator's box [{lo:g}, {hi:g}]",
                                       label=f"true {p}"), f"avo_true_{name}", where=cols[i])
                    for i, (p, (lo, hi)) in enumerate(zip(base.param_names, base.bounds))]
        fixed = param_widget(replace(P["fixed"], name=name, choices=tuple(base.param_names)), "avo_fixed")
        c = st.columns(2)
        with c[0]:
            # The Lorenz observer integrates every row: 5,000 rows (at most 50,000) keep its draw to seconds.
            n_param = replace(P["n_observed"], default=5000, range=(2, 50_000)) if name == "lorenz" else P["n_observed"]
            n_observed = param_widget(n_param, f"avo_{name}")
        with c[1]:
            seed = param_widget(P["seed"], "avo")

errors: list[str] = []
sim: Simulator | None = None
try:
    sim = base.with_truth(truth_in)
except SimulatorError as exc:
    errors.append(f"True θ: {exc}")

# --------------------------------------------------------------------------------------------- 2. critic
with section_block(show, SECTIONS[1]):   # drawn or not, its settings feed the fit
    left, right = st.columns([3, 2])
    with left:
        st.markdown(
            "A proposal q(θ|ψ) spreads θ around a mean μ with a width σ. Each θ ~ q feeds the simulator, so the fake "
            "data x̃ come from the *marginal* model. The critic d is a small network trained as in WGAN-GP: high on "
            "real x, low on x̃, with a penalty keeping its slope near 1 on random points x̂ between them. Its gap "
            "E_r[d] − E_q[d] estimates the Wasserstein distance ρ.")
        st.latex(r"\mathcal L_d = \mathbb E_{\theta\sim q,\,\tilde x\sim p(x|\theta)}[d(\tilde x)] - "
                 r"\mathbb E_{x\sim p_r}[d(x)] + \lambda\,\mathbb E_{\hat x}\big[(\lVert\nabla_{\hat x} d(\hat x)"
                 r"\rVert_2 - 1)^2\big]")
        st.latex(r"\hat x = \epsilon x + (1-\epsilon)\tilde x,\quad \epsilon\sim U[0,1]")
        st.caption(
            "Why λ = 0.025 and not WGAN-GP's usual 10 (or 1): with one feature the penalty is two-sided, so a critic "
            "whose slope is 0 pays the same λ as one with slope 2, and with λ ≈ 1 that barrier at slope 0 trapped "
            "the critic with the wrong sign in our measurements — the proposal was then pushed away from the truth. "
            "The data are standardised before the critic sees them, so one small λ suits counts, angles and Lorenz "
            "states alike.")
    with right:
        critic = {}
        c1, c2 = st.columns(2), st.columns(2)
        for col, key in zip((*c1, *c2), ("critic_steps", "critic_warmup", "lambda_gp", "lr_critic")):
            with col:
                critic[key] = param_widget(P[key], "avo")

# --------------------------------------------------------------------------------------------- 3. proposal
with section_block(show, SECTIONS[2]):   # drawn or not, its settings feed the fit
    left, right = st.columns([3, 2])
    with left:
        st.markdown(
            "Minimising f(θ) = −d(x̃(θ)) over θ directly would need ∂x̃/∂θ, which the simulator cannot give. "
            "Variational optimisation minimises instead the average of f under the proposal: an upper bound on "
            "min f, tight when q shrinks onto the best θ, and whose gradient needs only the score ∇ψ log q — a formula "
            "of the Gaussian, not of the simulator (REINFORCE).")
        st.latex(r"\min_\theta f(\theta)\ \le\ \mathbb E_{\theta\sim q(\theta|\psi)}[f(\theta)] = U(\psi)")
        st.latex(r"\nabla_\psi U = \mathbb E_{q}\big[f(\theta)\,\nabla_\psi \log q(\theta|\psi)\big]")
        st.markdown(
            "With M simulations per step, a baseline b (here the mean of the *other* M − 1 values of −d, which leaves "
            "the estimate unbiased and cuts its variance), and an optional entropy term γ H(q) that shrinks q towards "
            "a point:")
        st.latex(r"\nabla_\psi U_g \approx \frac1M\sum_{m=1}^M\big(-d(\tilde x_m) - b\big)\,\nabla_\psi "
                 r"\log q(\theta_m|\psi)\ +\ \gamma\,\nabla_\psi H(q)")
        st.latex(r"H(q) = \sum_j \Big(\log\sigma_j + \tfrac12\log 2\pi e\Big)")
        st.caption("q is a Gaussian with ψ = (μ, log σ) in the box's unit coordinates; Adam on both; the estimate is "
                   "the mean of μ over the last half of the steps (the last iterate jitters with the noisy gradient).")
    with right:
        free_names = [p for p in base.param_names if p not in fixed]
        cols = st.columns(max(1, len(free_names)))
        mu0, sd0 = list(base.init_mu), list(base.init_sigma)
        for k, p in enumerate(free_names):
            i = base.param_names.index(p)
            mu0[i] = float(param_widget(Param(str(i), float(base.init_mu[i]), label=f"start μ of {p}"),
                                        f"avo_mu0_{name}", where=cols[k]))
            sd0[i] = float(param_widget(Param(str(i), float(base.init_sigma[i]), label=f"start σ of {p}"),
                                        f"avo_sd0_{name}", where=cols[k]))
        proposal = {}
        # 300 steps, not the library's 600: half the wait in front of a class; the estimate is already within a few %.
        shown = {"steps": replace(P["steps"], default=300), **{k: P[k] for k in ("batch", "lr_proposal", "gamma")}}
        c1, c2 = st.columns(2), st.columns(2)
        for col, (key, p) in zip((*c1, *c2), shown.items()):
            with col:
                proposal[key] = param_widget(p, "avo")
        proposal["baseline"] = param_widget(P["baseline"], "avo")

config = AVOConfig(simulator=name, true_theta=tuple(float(t) for t in truth_in), n_observed=n_observed,
                   init_mu=tuple(mu0), init_sigma=tuple(sd0), fixed=tuple(fixed), seed=seed, **critic, **proposal)
if sim is not None:
    try:
        config.check(sim)
    except SimulatorError as exc:
        errors.append(str(exc))
    for i, p in enumerate(base.param_names):
        lo, hi = base.bounds[i]
        if p not in fixed and not lo <= mu0[i] <= hi:
            errors.append(f"the start μ of {p} = {mu0[i]:g} is outside the box [{lo:g}, {hi:g}]")


def _experiment(cfg: AVOConfig) -> tuple[Any, ...]:
    """What defines the observed data and the question: AVO and the baselines are compared on the same key."""
    return cfg.simulator, tuple(cfg.true_theta or ()), cfg.n_observed, cfg.seed, tuple(sorted(cfg.fixed))


@st.cache_data(show_spinner="Drawing the observed data…", max_entries=8)
def _observed(name: str, truth: tuple[float, ...], n: int, seed: int) -> np.ndarray:
    return make_observed(get_simulator(name).with_truth(truth), n, seed)


@dataclass
class ShownFit:
    """The fit section 4 shows: a job of this process (followed live), or a run read back from the store (drawn again
    from its stored history and estimate, never fitted again)."""

    config: AVOConfig
    sim: Simulator
    run_id: str | None
    job: Job | None = None
    record: RunRecord | None = None
    stored: AVOResult | None = None

    def state(self) -> dict[str, Any]:
        """status, step/total, history, result (when finished), error and ETA, from the job or from the store."""
        if self.job is not None:
            snap = self.job.snapshot()
            result = self.job.result.value if snap.status.finished and self.job.result is not None else None
            history = result.history if result is not None else (snap.live or AVOHistory())
            return {"status": snap.status.value, "step": snap.step, "total": snap.total, "history": history,
                    "result": result, "error": snap.error, "eta_s": snap.eta_s, "finished": snap.status.finished}
        assert self.record is not None
        r = self.record
        return {"status": r.status, "step": r.steps, "total": r.total,
                "history": self.stored.history if self.stored is not None else AVOHistory(), "result": self.stored,
                "error": r.error, "eta_s": None, "finished": True}

    def observed(self, state: dict[str, Any]) -> np.ndarray | None:
        given = self.job.spec.observed if self.job is not None else None
        if given is not None:
            return given
        return None if state["result"] is None else state["result"].observed


def _shown_job(job: Job) -> ShownFit:
    cfg = job.spec.config
    return ShownFit(cfg, run_simulator(cfg), job.run_id, job=job)


def _shown_run(run_id: str) -> ShownFit | None:
    """This process's job writing ``run_id`` (live), else the stored run; None (and one line) when it is unknown."""
    job = job_manager().find_run(run_id)
    if job is not None and isinstance(job.spec, AVOTask):
        return _shown_job(job)
    try:
        record = run_store().get(run_id)
        stored = avo_result_from_run(record, run_store().results(run_id))
        config = stored.config if stored is not None else make_config(AVOConfig, record.inputs, error=SimulatorError)
    except (StoreError, SimulatorError) as exc:
        st.warning(f"Cannot show the fit {md(repr(run_id))} of the link: {md(exc)}", icon=":material/link_off:")
        return None
    return ShownFit(config, run_simulator(config), run_id, record=record, stored=stored)


def _start(cfg: AVOConfig) -> None:
    """Called in the script body, not as an on_click callback: a callback would get the settings of the previous
    run, missing a value typed just before the click. The run's id goes into the URL, so a reload (or the link)
    shows this fit again."""
    old = st.session_state.get("avo_job")
    try:
        if old is not None:
            job_manager().get(old).stop()   # one fit per session at a time; the stopped one keeps its run
    except KeyError:
        pass
    obs = _observed(cfg.simulator, tuple(cfg.true_theta), cfg.n_observed, cfg.seed)
    job = submit_job(AVOTask(cfg, obs))
    if job is None:   # refused (a fair-share limit): the message shows above the page
        return
    st.session_state["avo_job"] = job.id
    deadline = time.monotonic() + 2.0   # a free slot starts it at once: its run id comes within milliseconds
    while job.thread is not None and job.run_id is None and time.monotonic() < deadline and not job.wait(0.01):
        pass
    if job.run_id is not None:
        st.query_params["run"] = job.run_id
        st.session_state.pop("avo_pending", None)
    else:   # queued behind other jobs: the URL gets its run id when it starts
        st.session_state["avo_pending"] = job.id
        st.query_params.pop("run", None)


def _open_stored() -> None:
    run_id = st.session_state.get("avo_open")
    if run_id:
        st.query_params["run"] = run_id
        st.session_state.pop("avo_pending", None)


def _pending() -> Job | None:
    """A fit this session started that was queued: once it has a run id, the URL gets it."""
    job_id = st.session_state.get("avo_pending")
    try:
        job = job_manager().get(job_id) if job_id else None
    except KeyError:
        job = None
    if job is not None and job.run_id is not None:
        st.query_params["run"] = job.run_id
    if job is None or job.run_id is not None or job.snapshot().status.finished:
        st.session_state.pop("avo_pending", None)
    return job


# --------------------------------------------------------------------------------------------- 4. run
with section_block(show, SECTIONS[3]) as fit_drawn:
    for msg in errors:
        st.error(msg)
    c = st.columns([1, 1, 4])
    if c[0].button("Start", type="primary", key="avo_start", disabled=bool(errors)):
        _start(config)
        st.rerun()   # the sidebar was drawn before this click was handled: draw it again, with the new job
    stored_fits = run_store().list(kinds=(RunKind.AVO.value,))
    if stored_fits:
        fit_labels = {r.id: f"{SIMULATORS[r.dataset].label if r.dataset in SIMULATORS else r.dataset} · {r.status} · "
                            f"{fmt_time(r.created)}" for r in stored_fits}
        c[2].selectbox("Open a stored fit", list(fit_labels), index=None, format_func=fit_labels.get, key="avo_open",
                       on_change=_open_stored, placeholder=f"{len(stored_fits)} stored fit(s), newest first",
                       help="Every fit is kept in the run store: open one to see its figures again, without refitting.")
    pending = _pending()
    shown: ShownFit | None = None
    # the URL's run; else (the URL lost it on a page change) the one this session showed last
    link = st.query_params.get("run") or (None if pending is not None else st.session_state.get("avo_shown_run"))
    if link:
        shown = _shown_run(link)
        if shown is None:
            st.session_state.pop("avo_shown_run", None)
        else:
            st.session_state["avo_shown_run"] = link
            if st.query_params.get("run") != link:
                st.query_params["run"] = link
    elif pending is not None:
        shown = _shown_job(pending)
    c[1].button("Stop", key="avo_stop", on_click=shown.job.stop if shown is not None and shown.job is not None else None,
                disabled=shown is None or shown.job is None or shown.job.snapshot().status.finished,
                help="End the fit after the current step; what it did is kept")
    if shown is None:
        st.info("Press **Start**: the fit runs in the background and the figures below follow it live.")
    elif shown.job is None:
        assert shown.record is not None
        st.caption(f"Stored fit {shown.run_id} of {fmt_time(shown.record.created)}, read back from the run store "
                   "(not fitted again).")


def _error_pct(value: float, truth: float) -> float:
    """|value − truth| / |truth| in %; NaN where the truth is 0 (A_FB at E_beam = M_Z/2)."""
    return 100 * abs(value - truth) / abs(truth) if truth != 0 else float("nan")


def _estimate(state: dict[str, Any]) -> np.ndarray | None:
    """The finished fit's estimate (mean of μ over the last steps), or the current μ while it runs."""
    if state["result"] is not None:
        return np.asarray(state["result"].mu, float)
    hist: AVOHistory = state["history"]
    return np.asarray(hist.mu[-1], float) if hist.mu else None


def _metrics(state: dict[str, Any], rsim: Simulator, cfg: AVOConfig) -> None:
    est = _estimate(state)
    if est is None:
        return
    truth = np.asarray(rsim.true_theta, float)
    shown_params = [i for i, p in enumerate(rsim.param_names) if p not in cfg.fixed]
    extra = 1 if rsim.name == "weinberg" else 0
    cols = st.columns(len(shown_params) + extra)
    word = "estimate" if state["result"] is not None else "current μ"
    for col, i in zip(cols, shown_params):
        err = _error_pct(est[i], truth[i])
        col.metric(f"{rsim.param_names[i]}: {word}", f"{est[i]:.4g}", f"{err:.1f} % from the truth {truth[i]:.4g}",
                   delta_color="off", delta_arrow="off")
    if extra:
        a_est, a_true = float(weinberg_afb(est[0], est[1])), float(weinberg_afb(truth[0], truth[1]))
        cols[-1].metric(f"A_FB: {word}", f"{a_est:.4f}",
                        f"{_error_pct(a_est, a_true):.1f} % from the truth {a_true:.4f}" if a_true
                        else f"{a_est - a_true:+.4f} from the truth 0",
                        delta_color="off", delta_arrow="off")


if shown is not None and fit_drawn:   # the live figures only where the fit section is on screen
    rsim = shown.sim
    was_running = not shown.state()["finished"]
    feats: list[str] | None = None
    if rsim.n_features > 3:
        feats = st.multiselect("features to compare", list(rsim.feature_names), list(rsim.feature_names[:3]),
                               key="avo_feats")

    @st.fragment(run_every=1.0 if was_running else None)
    def _live() -> None:
        state = shown.state()
        if shown.job is not None and shown.job.run_id and st.query_params.get("run") != shown.job.run_id:
            st.query_params["run"] = shown.job.run_id   # a queued fit has just started: its link
        hist: AVOHistory = state["history"]
        sims = hist.simulations[-1] if hist.simulations else 0
        eta = f" · about {state['eta_s']:.0f} s left" if state["eta_s"] else ""
        st.progress(state["step"] / max(state["total"], 1),
                    text=f"{rsim.label} — {state['status']} · step {state['step']}/{state['total']} · "
                         f"{sims:,} simulations{eta}")
        if state["error"]:
            message = md(state["error"])   # md hides server paths on a classroom server
            st.error(f"The fit failed: {message}" if state["status"] == "failed" else message)
        _metrics(state, rsim, shown.config)
        left, right = st.columns(2)
        left.plotly_chart(figures.avo.psi_trace_figure(hist, rsim), key="avo_psi")
        right.plotly_chart(figures.avo.critic_loss_figure(hist), key="avo_critic")
        observed = shown.observed(state)
        if hist.mu and observed is not None:
            n = 500 if rsim.name == "lorenz" else 5000
            res = state["result"]
            mu, sd = (res.mu, res.sigma) if res is not None else (hist.mu[-1], hist.sigma[-1])
            fake = marginal_samples(rsim, np.asarray(mu), np.asarray(sd), n, seed=len(hist.mu))
            obs = observed[:OBSERVED_KEPT]
            st.plotly_chart(figures.avo.histogram_figure(obs, fake, rsim, feats), key="avo_hist")
            where = "the estimate" if res is not None else f"the current proposal q(θ|ψ), step {hist.step[-1]}"
            st.caption(f"Observed rows (first {len(obs):,}) against {n:,} rows simulated from {where}. When the fit "
                       "has converged the two cannot be told apart — which is all the critic ever checks.")
        if was_running and state["finished"]:
            st.rerun()  # the whole page: the comparison table gets AVO's final row

    _live()
    final = shown.state()
    if final["finished"] and final["history"].step:
        h = final["history"]
        table = pd.DataFrame({"step": h.step})
        for j, p in enumerate(rsim.param_names):
            table[f"mu_{p}"] = [m[j] for m in h.mu]
            table[f"sigma_{p}"] = [s[j] for s in h.sigma]
        table["critic_loss"], table["wasserstein"] = h.critic_loss, h.wasserstein
        table["simulations"], table["seconds"] = h.simulations, h.elapsed
        st.download_button("History (CSV)", table.pipe(csv_bytes), f"avo_{rsim.name}_history.csv",
                           "text/csv", key="avo_history_dl")


# --------------------------------------------------------------------------------------------- 5. baselines
if show(SECTIONS[4]):   # the last section: nothing below needs it
    st.markdown(
        "**Maximum likelihood** needs the likelihood: the Poisson and Weinberg densities are known, so they give the gold "
        "standard with zero simulations (none for Lorenz). **Rejection ABC** needs only the simulator: draw θ from the "
        "box, simulate a whole dataset for each, and keep the θ whose summary statistics (means and spreads) land "
        "closest to the observed ones. Its cost is counted in simulator calls, like AVO's.")
    if errors or sim is None:
        st.caption("Fix the settings above to compare methods.")
        st.stop()

    from genlib.avo import baselines as bl  # noqa: E402

    key = _experiment(config)
    observed = _observed(name, tuple(config.true_theta), n_observed, seed)
    store: dict[str, Any] = st.session_state.setdefault("avo_baselines", {}).setdefault(key, {})
    lorenz = name == "lorenz"
    c = st.columns([1, 1, 1, 1, 1])
    ABC = {p.name: p for p in params_of(bl.ABCSettings)}
    # The Lorenz observer integrates every simulated row: fewer draws and rows keep ABC to seconds there.
    small = {"n_proposals": 300, "n_per_dataset": 20} if lorenz else {}
    abc = {}
    for col, setting in zip(c[2:], ABC.values()):
        with col:
            abc[setting.name] = param_widget(replace(setting, default=small.get(setting.name, setting.default)),
                                             f"avo_abc_{name}")
    abc_n, abc_rows, abc_q = abc["n_proposals"], abc["n_per_dataset"], abc["quantile"]
    if c[0].button("Maximum likelihood", key="avo_direct", disabled=lorenz,
                   help="no tractable likelihood for the Lorenz observer" if lorenz else None):
        store["direct"] = bl.direct_fit(sim, observed, tuple(fixed))
    if c[1].button("Run ABC", key="avo_abc", help=f"{abc_n * abc_rows:,} simulator calls"):
        try:
            with st.spinner(f"ABC: {abc_n * abc_rows:,} simulator calls…"):
                store["abc"] = bl.abc_rejection(sim, observed, abc_n, abc_rows, abc_q, tuple(fixed), seed)
        except SimulatorError as exc:
            st.error(f"ABC: {exc}")

    avo_result: AVOResult | None = None
    shown_state = shown.state() if shown is not None else None
    if shown_state is not None and shown_state["result"] is not None and _experiment(shown.config) == key:
        avo_result = shown_state["result"]
    elif shown_state is not None and shown_state["result"] is not None:
        st.caption("The AVO fit shown above used other data or other known parameters: press **Start** to add AVO to the "
                   "table.")


    def _row(method: str, theta: np.ndarray, std: np.ndarray | None, sims: float, secs: float,
             note: str) -> dict[str, Any]:
        truth = np.asarray(sim.true_theta, float)
        row: dict[str, Any] = {"estimator": method}   # table columns in words (genlib.words)
        for i, p in enumerate(sim.param_names):
            row[p] = float(theta[i])
            row[f"{p} ± std"] = float(std[i]) if std is not None else np.nan
            row[f"{p} error %"] = _error_pct(theta[i], truth[i]) if std is not None else np.nan
        if name == "weinberg":
            a, a_true = float(weinberg_afb(theta[0], theta[1])), float(weinberg_afb(truth[0], truth[1]))
            row["A_FB"], row["A_FB error %"] = a, (_error_pct(a, a_true) if std is not None else np.nan)
        row["simulations"], row[word("seconds")], row["note"] = sims, secs, note
        return row


    rows = [_row("truth θ*", np.asarray(sim.true_theta), None, np.nan, np.nan,
                 "known (fixed): " + ", ".join(fixed) if fixed else "")]
    if avo_result is not None:
        rows.append(_row("AVO", avo_result.mu, avo_result.sigma, avo_result.simulations, avo_result.seconds,
                         f"{len(avo_result.history.step)} steps; ± is the final proposal σ"
                         + (" (stopped early)" if avo_result.stopped else "")))
    for k in ("direct", "abc"):
        res = store.get(k)
        if res is not None:
            rows.append(_row(res.method, res.theta, res.theta_std, res.simulations, res.seconds, res.note))
    table = pd.DataFrame(rows)
    if lorenz:
        st.caption("The Lorenz observer has no tractable likelihood: AVO and ABC are the only options here.")
    if len(rows) == 1:
        st.info("Run AVO (section 4) and the baselines (buttons above) to fill the table.")
    num = {c: "{:.4g}" for c in table.columns if c not in ("estimator", "note", "simulations", word("seconds"))}
    num.update({c: "{:.1f}" for c in table.columns if c.endswith("error %")})
    st.dataframe(table.style.format({**num, "simulations": "{:,.0f}", word("seconds"): "{:.2f}"}, na_rep="—"),
                 hide_index=True, key="avo_table",
                 column_config={"estimator": st.column_config.TextColumn(width="medium"),
                                "note": st.column_config.TextColumn(width="large")})
    st.download_button("Comparison (CSV)", table.pipe(csv_bytes), f"avo_{name}_comparison.csv", "text/csv",
                       key="avo_table_dl")

    if name == "weinberg":
        @st.cache_data(show_spinner="Exact log-likelihood over the (E_beam, G_f) grid…", max_entries=8)
        def _ridge(key: tuple[Any, ...], _obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            (lo_e, hi_e), (lo_g, hi_g) = SIMULATORS["weinberg"].bounds
            e, g = np.linspace(lo_e, hi_e, 61), np.linspace(lo_g, hi_g, 61)
            return bl.weinberg_loglik_grid(_obs[:20_000], e, g), e, g

        ll, e_vals, g_vals = _ridge(key[:4], observed)   # the data, not the known parameters
        path = np.asarray(avo_result.history.mu) if avo_result is not None else None
        if path is None and shown_state is not None and _experiment(shown.config) == key and shown_state["history"].mu:
            path = np.asarray(shown_state["history"].mu)
        abc_res = store.get("abc")
        st.plotly_chart(figures.avo.weinberg_ridge_figure(ll, e_vals, g_vals, path, sim.true_theta,
                                                        abc_res.accepted if abc_res is not None else None),
                        key="avo_ridge")
        st.caption("Colour: the exact log-likelihood of (the first 20,000 of) the observed angles, relative to its "
                   "maximum. It is flat along the dotted curve of constant A_FB, so neither AVO nor ABC nor maximum "
                   "likelihood can pick one point on it unless a parameter is known.")
