"""AppTest of the Simulator fitting (AVO) page: it explains itself with formulas, a short Poisson fit started from
the page moves the proposal towards the truth and is shown again from its link (live, then from the store), Stop
ends it, bad settings get one clear message, the exact fit and ABC share the
comparison table, and the Weinberg ridge is drawn. Plus the page's figure builders on their own."""
from __future__ import annotations

import numpy as np
from conftest import SAFETY_TIMEOUT, settle_jobs
from streamlit.testing.v1 import AppTest

from pages.text import shown

APP = "../app.py"


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _page(run: str | None = None) -> AppTest:
    """The page in a new session; ``run``: opened with ``?run=<id>``, as a link or a reload would."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/simulator.py")
    if run is not None:
        at.query_params["run"] = run
    at.run()
    _ok(at)
    return at


def _progress(at: AppTest) -> list[str]:
    return [p.text for p in at.get("progress")]


def _estimate(at: AppTest, name: str = "lambda") -> float:
    return float(next(m.value for m in at.metric if m.label == f"{name}: estimate"))


def _table(at: AppTest):
    assert len(at.dataframe) == 1   # the comparison table is the page's only table
    return at.dataframe[0].value


def test_page_explains_avo_with_formulas() -> None:
    at = _page()
    assert at.title[0].value == "Simulator fitting (AVO)"
    latex = " ".join(x.value for x in at.latex)
    assert len(at.latex) >= 5
    for piece in (r"\arg\min", r"\nabla_\psi U", r"\lambda", r"H(q)", r"\mathrm{Poisson}"):
        assert piece in latex, piece
    assert not at.error
    assert any("Press **Start**" in i.value for i in at.info)
    assert _table(at)["estimator"].tolist() == ["truth θ*"]


def test_short_poisson_fit_moves_towards_the_truth_and_joins_the_table() -> None:
    at = _page()
    at.number_input(key="avo_steps").set_value(60)
    at.number_input(key="avo_critic_steps").set_value(2)
    at.number_input(key="avo_critic_warmup").set_value(20)
    at.number_input(key="avo_poisson_n_observed").set_value(2000)
    at.button(key="avo_start").click().run()
    _ok(at)
    from pages.common import job_manager, run_store   # the process-wide engine and store the page used
    run_id = at.query_params["run"]                   # Start put the fit's run into the URL
    job = job_manager().find_run(run_id)
    assert job is not None and job.kind == "avo"
    settle_jobs(job_manager())
    at.run()
    _ok(at)
    res = job.result.value
    assert job.snapshot().status.value == "done"
    assert any("done · step 60/60" in p for p in _progress(at))
    est = _estimate(at)
    assert abs(est - 7.0) < abs(3.0 - 7.0) / 2, est          # from the start μ = 3 at least halfway to λ* = 7
    assert abs(est - res.mu[0]) < 1e-3 * abs(est)
    assert len(at.get("plotly_chart")) >= 3                   # ψ trace, critic, histogram
    labels = [b.label for b in at.get("download_button")]
    assert "History (CSV)" in labels and "Comparison (CSV)" in labels
    assert run_store().get(run_id).kind == "avo"

    # a reload (a new session with the same URL) finds the job of this process, then, once the job is cleared
    # from the engine, the stored run: the same estimate both times, without fitting again
    live = _page(run_id)
    assert any("done · step 60/60" in p for p in _progress(live)) and _estimate(live) == est
    job_manager().remove_finished()
    stored = _page(run_id)
    assert any("Stored fit" in c.value for c in stored.caption)
    assert any("done · step 60/60" in p for p in _progress(stored)) and _estimate(stored) == est
    assert stored.button(key="avo_stop").disabled

    at.button(key="avo_direct").click().run()
    _ok(at)
    table = _table(at)
    assert table["estimator"].tolist() == ["truth θ*", "AVO", "maximum likelihood (x̄)"]
    mle = table.set_index("estimator").loc["maximum likelihood (x̄)"]
    assert abs(mle["lambda"] - 7.0) < 0.3 and mle["simulations"] == 0
    avo = table.set_index("estimator").loc["AVO"]
    assert avo["simulations"] == res.simulations > 0

    at.number_input(key="avo_abc_poisson_n_proposals").set_value(400)
    at.number_input(key="avo_abc_poisson_n_per_dataset").set_value(50)
    at.button(key="avo_abc").click().run()
    _ok(at)
    abc = _table(at).set_index("estimator").loc["rejection ABC"]
    assert abs(abc["lambda"] - 7.0) < 1.0 and abc["simulations"] == 400 * 50


def test_stop_ends_the_fit_and_keeps_it() -> None:
    from pages.common import job_manager, run_store

    at = _page()
    at.number_input(key="avo_steps").set_value(20_000)
    at.number_input(key="avo_poisson_n_observed").set_value(2000)
    at.button(key="avo_start").click().run()
    _ok(at)
    run_id = at.query_params["run"]
    assert not at.button(key="avo_stop").disabled
    # the sidebar, drawn before the click was handled, is drawn again with the new fit and its Stop
    assert any("AVO fit" in p.text for p in at.sidebar.get("progress"))
    assert any(b.key.startswith("sidebar_stop_") for b in at.sidebar.button)
    at.button(key="avo_stop").click().run()
    settle_jobs(job_manager())
    at.run()
    _ok(at)
    assert any("stopped" in p for p in _progress(at)) and at.button(key="avo_stop").disabled
    row = run_store().get(run_id)
    assert row.status == "stopped" and row.steps < 20_000


def test_a_queued_fit_gets_its_link_when_it_starts(monkeypatch) -> None:
    from genlib.avo import AVOConfig, AVOTask
    from pages.common import job_manager

    monkeypatch.setenv("GENLAB_MAX_JOBS", "1")   # read when this test's engine is created (its own GENLAB_HOME)
    blocker = job_manager().submit(AVOTask(AVOConfig(steps=20_000, n_observed=500)))
    at = _page()
    at.number_input(key="avo_steps").set_value(20)
    at.number_input(key="avo_critic_warmup").set_value(0)
    at.number_input(key="avo_poisson_n_observed").set_value(500)
    at.button(key="avo_start").click().run()
    _ok(at)
    assert "run" not in at.query_params and any("queued" in p for p in _progress(at))
    blocker.cancel()
    settle_jobs(job_manager())
    at.run()
    _ok(at)
    assert at.query_params["run"] and any("done · step 20/20" in p for p in _progress(at))


def test_bad_settings_show_an_error_and_disable_start() -> None:
    at = _page()
    at.number_input(key="avo_true_poisson_0").set_value(50.0).run()   # the box is [0.5, 20]
    _ok(at)
    assert at.error and "outside the simulator's range" in at.error[0].value
    assert at.button(key="avo_start").disabled

    at.number_input(key="avo_true_poisson_0").set_value(7.0).run()
    at.multiselect(key="avo_fixed_poisson").set_value(["lambda"]).run()  # nothing left to fit
    _ok(at)
    assert at.error and "every parameter is fixed" in at.error[0].value
    assert at.button(key="avo_start").disabled

    at.multiselect(key="avo_fixed_poisson").set_value([]).run()
    at.number_input(key="avo_sd0_poisson_0").set_value(-1.0).run()
    _ok(at)
    assert at.error and "σ must be positive" in at.error[0].value


def test_a_failed_fit_shows_its_message() -> None:
    from genlib.avo import AVOConfig, AVOTask
    from pages.common import job_manager

    job = job_manager().submit(AVOTask(AVOConfig(steps=5), observed=np.zeros((10, 3))))  # Poisson: one column
    assert job.wait(SAFETY_TIMEOUT)
    at = _page(job.run_id)
    assert any(e.value.startswith("The fit failed: Poisson") and "column" in e.value for e in at.error)
    assert any("failed" in p for p in _progress(at))
    job_manager().remove_finished()   # read back from the store: the row keeps the message
    at = _page(job.run_id)
    assert any(e.value.startswith("The fit failed: Poisson") and "column" in e.value for e in at.error)


def test_a_stored_fit_opens_from_its_link_with_its_figures_and_table_row(make_manager) -> None:
    from genlib.avo import AVOConfig, AVOTask
    from genlib.store import RunStore

    # fitted by another engine (another process, say): the page's own engine has never seen it
    cfg = AVOConfig(simulator="poisson", true_theta=(7.0,), n_observed=50000, steps=30, critic_steps=2,
                    critic_warmup=20)
    store = RunStore()
    job = make_manager(store=store).submit(AVOTask(cfg))
    assert job.wait(SAFETY_TIMEOUT) and job.snapshot().status.value == "done"
    row = store.get(job.run_id)
    at = _page(row.id)
    assert not at.warning and any(f"Stored fit {row.id}" in c.value for c in at.caption)
    assert any("done · step 30/30" in p for p in _progress(at))
    assert abs(_estimate(at) - row.summary["estimate"][0]) < 1e-3 * abs(row.summary["estimate"][0])
    charts = {getattr(c, "key", None) for c in at.get("plotly_chart")}
    assert {"avo_psi", "avo_critic", "avo_hist"} <= charts
    avo = _table(at).set_index("estimator").loc["AVO"]   # same data as the page's settings: it joins the table
    assert avo["simulations"] == row.summary["simulations"] and avo["lambda"] == row.summary["estimate"][0]
    at.query_params.clear()             # a page change drops the URL's query: the session still shows its fit
    at.run()
    _ok(at)
    assert at.query_params["run"] == row.id and any("done · step 30/30" in p for p in _progress(at))

    # the picker lists it and opening it writes its id into the URL
    at = _page()
    assert any("Poisson" in o and "done" in o for o in at.selectbox(key="avo_open").options)
    at.selectbox(key="avo_open").set_value(row.id).run()
    _ok(at)
    assert at.query_params["run"] == row.id and any("done · step 30/30" in p for p in _progress(at))


def test_an_unknown_run_in_the_link_says_so_and_shows_the_default_view() -> None:
    at = _page("20990101-000000-nope00")
    assert len(at.warning) == 1 and "20990101-000000-nope00" in shown(at.warning[0].value)
    assert any("Press **Start**" in i.value for i in at.info) and not at.get("progress")


def test_weinberg_shows_the_identifiability_note_and_the_ridge() -> None:
    at = _page()
    at.selectbox(key="avo_sim").set_value("weinberg").run()
    _ok(at)
    assert any("Only A_FB is identifiable" in i.value for i in at.info)
    at.number_input(key="avo_weinberg_n_observed").set_value(5000).run()
    at.button(key="avo_direct").click().run()
    _ok(at)
    row = _table(at).set_index("estimator").iloc[1]
    assert row["A_FB error %"] < 10 and "Only A_FB is identified" in row["note"]   # the one identifiable number
    assert any(getattr(c, "key", None) == "avo_ridge" for c in at.get("plotly_chart"))
    at.number_input(key="avo_true_weinberg_0").set_value(45.0).run()   # E_beam = M_Z/2: A_FB* = 0, no % error
    at.button(key="avo_direct").click().run()
    _ok(at)
    assert np.isnan(_table(at).set_index("estimator").iloc[1]["A_FB error %"])

    at.selectbox(key="avo_sim").set_value("lorenz").run()
    _ok(at)
    assert at.button(key="avo_direct").disabled   # no tractable likelihood


def test_figure_builders() -> None:
    from genlib import figures
    from genlib.avo import AVOHistory, get_simulator, marginal_samples
    from genlib.avo.baselines import weinberg_loglik_grid

    sim = get_simulator("weinberg")
    hist = AVOHistory(step=[1, 2, 3], mu=[[45.0, 1.0], [44.0, 0.98], [43.0, 0.95]],
                      sigma=[[1.0, 0.1], [0.9, 0.09], [0.8, 0.08]], critic_loss=[0.1, 0.05, 0.0],
                      wasserstein=[0.2, 0.1, 0.05], simulations=[64, 128, 192], elapsed=[0.1, 0.2, 0.3])
    fig = figures.avo.psi_trace_figure(hist, sim)
    assert len(fig.data) == 4 and [a.text for a in fig.layout.annotations].count("true θ") == 2
    assert len(figures.avo.critic_loss_figure(hist).data) == 2
    assert len(figures.avo.psi_trace_figure(AVOHistory(), sim).data) == 0
    obs = sim.observe(2000, np.random.default_rng(0))
    fake = marginal_samples(sim, np.array([43.0, 0.95]), np.array([0.8, 0.08]), 500)
    assert len(figures.avo.histogram_figure(obs, fake, sim).data) == 3    # observed, simulated, exact density
    e, g = np.linspace(40, 50, 11), np.linspace(0.5, 1.5, 9)
    ll = weinberg_loglik_grid(obs, e, g)
    ridge = figures.avo.weinberg_ridge_figure(ll, e, g, np.asarray(hist.mu), sim.true_theta, np.array([[42.0, 0.9]]))
    assert {t.name for t in ridge.data} >= {"true θ", "ABC accepted θ", "AVO: proposal mean μ"}
    lorenz = get_simulator("lorenz")
    x = lorenz.observe(50, np.random.default_rng(0))
    assert len(figures.avo.histogram_figure(x, x, lorenz).data) == 6                         # first 3 features
    assert len(figures.avo.histogram_figure(x, x, lorenz, ["z_t2"]).data) == 2
    pois = get_simulator("poisson")
    c = pois.observe(300, np.random.default_rng(0))
    bars = figures.avo.histogram_figure(c, c + 1, pois).data[0]
    assert np.allclose(np.diff(bars.x), 1.0)                                               # integer bins
