"""AppTest of the Lorenz lab page: each section renders its figures and numbers, Euler's failure is shown, and a
generative model trains in the background until the chaos table appears."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import settle_jobs
from streamlit.testing.v1 import AppTest

APP = "../app.py"


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    at.run()
    at.switch_page("pages/lorenz.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_simulator_shows_the_butterfly_and_euler_blowing_up() -> None:
    at = _app()
    assert at.title[0].value == "Lorenz attractor lab"
    assert len(at.latex) >= 2 and len(at.get("plotly_chart")) >= 3  # butterfly, time series, separation
    assert not at.warning
    at.selectbox(key="lz_method").set_value("euler").run()
    at.select_slider(key="lz_dt").set_value(0.08).run()
    _no_exception(at)
    assert at.warning and "blew up" in at.warning[0].value


def test_lyapunov_section_reports_benettin_near_the_reference_and_rosenstein_per_coordinate() -> None:
    at = _app()
    at.radio(key="lz_section").set_value("2 · Lyapunov exponent").run()
    _no_exception(at)
    value = float(at.metric[0].value)
    assert abs(value / 0.9056 - 1) < 0.03
    table = at.dataframe[0].value
    assert list(table["series"]) == ["x", "y", "z", "xyz"]
    # One trajectory: Rosenstein's measured spread over starts is 0.64-1.11 (test_lorenz_dynamics), so this
    # checks the plumbing (a wrong dt would be off by 10x), not the third digit.
    assert 0.5 < float(table.loc[table["series"] == "xyz", "λ (Rosenstein)"].iloc[0]) < 1.5


def test_fit_section_tables_every_method_at_both_steps() -> None:
    at = _app()
    at.radio(key="lz_section").set_value("3 · Fit the equations").run()
    _no_exception(at)
    table = at.dataframe[0].value
    assert set(table["method"]) == {"stlsq", "lasso", "ridge", "constrained", "integrated"}
    assert set(table["dt"]) == {0.01, 0.1}
    stlsq = table[(table["method"] == "stlsq") & (table["dt"] == 0.01)]
    assert float(stlsq["coefficient RMSE"].iloc[0]) <= 0.05
    integ = table[(table["method"] == "integrated") & (table["dt"] == 0.1)]
    assert abs(float(integ["ρ"].iloc[0]) / 28 - 1) < 0.005
    assert len(at.latex) >= 3  # the recovered equations


@pytest.mark.slow
def test_generative_section_trains_a_flow_and_shows_the_chaos_checks() -> None:
    at = _app()
    at.radio(key="lz_section").set_value("4 · Generative models").run()
    _no_exception(at)
    assert any("No model trained here yet" in i.value for i in at.info)
    at.radio(key="lz_gen_kind").set_value("Flow on trajectory windows").run()
    # MAF rather than the default NSF: the page's code is the same for every flow, and 200 MAF steps take a
    # second where 200 NSF steps (and their rescorings) took 25 s of the suite
    at.selectbox(key="lz_gen_model_lorenz_windows").set_value("maf").run()
    at.number_input(key="lz_gen_steps").set_value(200).run()
    at.button(key="lz_gen_start").click().run()
    _no_exception(at)
    from pages.common import job_manager  # the process-wide manager the page submitted to
    jobs = settle_jobs(job_manager())     # blocks on the job's own completion event
    jobs = [j for j in jobs if j.kind == "train"]
    assert [(j.spec.model, j.status.value) for j in jobs] == [("maf", "done")], [j.error for j in jobs]
    losses = jobs[0].snapshot().losses["loss"]
    assert losses[-1] < losses[0], "the flow learned something"
    at.run()
    _no_exception(at)
    shown = [p.text for p in at.get("progress")]
    assert any("lorenz\\_windows — done" in t and "took" in t for t in shown), shown   # not "running" any more
    assert any("Chaos preserved?" in m.value for m in at.markdown)
    assert any("Generate and measure" in i.value for i in at.info)
    run_id = jobs[0].run_id
    assert at.query_params["run"] == run_id, "the model shown is named in the address"
    at.select_slider(key="lz_chaos_n").set_value(16).run()
    at.button(key=f"lz_chaos_go_{run_id}").click().run()   # sampling and measuring is a job too
    _no_exception(at)
    gen = [j for j in settle_jobs(job_manager()) if j.kind == "generation"]
    assert [j.status.value for j in gen] == ["done"], [j.error for j in gen]
    at.run()
    _no_exception(at)
    assert at.query_params["gen"] == gen[0].run_id
    table = at.dataframe[-1].value
    assert {"check", "coordinate", "real", "generated"} <= set(table.columns)
    assert np.isfinite(table["generated"].astype(float)).all(), "every check is measured on the generated data"
    assert any(b.label.startswith("Generated trajectories") for b in at.get("download_button"))


@pytest.mark.slow
def test_a_sequence_model_runs_on_its_own_and_its_reconstruction_is_measured() -> None:
    """The echo state network (fitted in seconds) beside the DCGAN: trained from the page, its long free-running
    trajectories measured by the chaos table with the reconstruction rows and Benettin on its own equations."""
    at = _app()
    at.radio(key="lz_section").set_value("4 · Generative models").run()
    at.radio(key="lz_gen_kind").set_value("Sequence model on whole trajectories (runs on its own)").run()
    _no_exception(at)
    assert at.selectbox(key="lz_gen_model_lorenz_series").value == "neural_map"   # the recommended one
    at.selectbox(key="lz_gen_model_lorenz_series").set_value("esn").run()
    assert any("no steps to choose" in c.value for c in at.caption)   # fitted in one go
    at.button(key="lz_gen_start").click().run()
    from pages.common import job_manager
    jobs = [j for j in settle_jobs(job_manager()) if j.kind == "train"]
    assert [(j.spec.model, j.status.value) for j in jobs] == [("esn", "done")], [j.error for j in jobs]
    at.run()
    _no_exception(at)
    run_id = jobs[0].run_id
    at.select_slider(key="lz_chaos_n").set_value(16).run()
    at.button(key=f"lz_chaos_go_{run_id}").click().run()
    gen = [j for j in settle_jobs(job_manager()) if j.kind == "generation"]
    assert [j.status.value for j in gen] == ["done"], [j.error for j in gen]
    at.run()
    _no_exception(at)
    table = at.dataframe[-1].value.set_index("check")
    lyap = table[table["coordinate"] == "xyz"].loc["Lyapunov exponent (Rosenstein, 1/time)"]
    assert abs(float(lyap["generated"]) / float(lyap["real"]) - 1) < 0.25      # a chaotic free run, not a cycle
    for check in ("state-space divergence D_stsp (KL)", "power-spectrum distance D_H (Hellinger)",
                  "largest exponent by Benettin on the equations (1/time)"):
        assert np.isfinite(float(table.loc[check, "generated"])), check
    assert any("largest exponent, generated vs real" in m.label for m in at.metric)
