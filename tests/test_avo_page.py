"""AppTest of the Simulator fitting (AVO) page: it explains itself with formulas, a short Poisson fit started from
the page moves the proposal towards the truth, bad settings get one clear message, the exact fit and ABC share the
comparison table, and the Weinberg ridge is drawn. Plus the page's figure builders on their own."""
from __future__ import annotations

import numpy as np
from conftest import SAFETY_TIMEOUT
from streamlit.testing.v1 import AppTest

APP = "../app.py"


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/simulator.py").run()
    _ok(at)
    return at


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
    assert _table(at)["method"].tolist() == ["truth θ*"]


def test_short_poisson_fit_moves_towards_the_truth_and_joins_the_table() -> None:
    at = _page()
    at.number_input(key="avo_steps").set_value(60)
    at.number_input(key="avo_critic_steps").set_value(2)
    at.number_input(key="avo_critic_warmup").set_value(20)
    at.number_input(key="avo_poisson_n_observed").set_value(2000)
    at.button(key="avo_start").click().run()
    _ok(at)
    run = at.session_state["avo_run"]
    assert run.wait(SAFETY_TIMEOUT), "the AVO thread finished"
    at.run()
    _ok(at)
    assert run.snapshot()["status"] == "done"
    assert any("done · step 60/60" in p.text for p in at.get("progress"))
    est = float(next(m.value for m in at.metric if m.label == "lambda: estimate"))
    assert abs(est - 7.0) < abs(3.0 - 7.0) / 2, est          # from the start μ = 3 at least halfway to λ* = 7
    assert abs(est - run.result.mu[0]) < 1e-3 * abs(est)
    assert len(at.get("plotly_chart")) >= 3                   # ψ trace, critic, histogram
    labels = [b.label for b in at.get("download_button")]
    assert "History (CSV)" in labels and "Comparison (CSV)" in labels

    at.button(key="avo_direct").click().run()
    _ok(at)
    table = _table(at)
    assert table["method"].tolist() == ["truth θ*", "AVO", "maximum likelihood (x̄)"]
    mle = table.set_index("method").loc["maximum likelihood (x̄)"]
    assert abs(mle["lambda"] - 7.0) < 0.3 and mle["simulations"] == 0
    avo = table.set_index("method").loc["AVO"]
    assert avo["simulations"] == run.result.simulations > 0

    at.number_input(key="avo_abc_poisson_n_proposals").set_value(400)
    at.number_input(key="avo_abc_poisson_n_per_dataset").set_value(50)
    at.button(key="avo_abc").click().run()
    _ok(at)
    abc = _table(at).set_index("method").loc["rejection ABC"]
    assert abs(abc["lambda"] - 7.0) < 1.0 and abc["simulations"] == 400 * 50


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
    from genlib.avo import AVOConfig, AVORun

    at = _page()
    run = AVORun(AVOConfig(steps=5), observed=np.zeros((10, 3))).start()   # Poisson data have one column
    assert run.wait(SAFETY_TIMEOUT)
    at.session_state["avo_run"] = run
    at.run()
    _ok(at)
    assert any(e.value.startswith("The fit failed: SimulatorError") and "column" in e.value for e in at.error)
    assert any("failed" in p.text for p in at.get("progress"))


def test_weinberg_shows_the_identifiability_note_and_the_ridge() -> None:
    at = _page()
    at.selectbox(key="avo_sim").set_value("weinberg").run()
    _ok(at)
    assert any("Only A_FB is identifiable" in i.value for i in at.info)
    at.number_input(key="avo_weinberg_n_observed").set_value(5000).run()
    at.button(key="avo_direct").click().run()
    _ok(at)
    row = _table(at).set_index("method").iloc[1]
    assert row["A_FB error %"] < 10 and "Only A_FB is identified" in row["note"]   # the one identifiable number
    assert any(getattr(c, "key", None) == "avo_ridge" for c in at.get("plotly_chart"))
    at.number_input(key="avo_true_weinberg_0").set_value(45.0).run()   # E_beam = M_Z/2: A_FB* = 0, no % error
    at.button(key="avo_direct").click().run()
    _ok(at)
    assert np.isnan(_table(at).set_index("method").iloc[1]["A_FB error %"])

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
