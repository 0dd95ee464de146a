"""genlib.avo: simulators, the score-function gradient, the critic's penalty, a short fit, and the baselines."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import SAFETY_TIMEOUT, wait_until
from scipy import stats

from genlib.avo import (AVOConfig, AVOTask, GaussianProposal, SimulatorError, abc_rejection, analytic_score,
                        avo_result_from_run, direct_fit, fit_avo, get_simulator, make_observed, marginal_samples,
                        score_function_surrogate, weinberg_afb, weinberg_density, weinberg_loglik_grid)
from genlib.avo import fit as avo_fit
from genlib.params import make_config
from genlib.store import RunStore
from genlib.train import JobStatus


# ------------------------------------------------------------------------------------------- simulators
def test_poisson_simulator_matches_its_law():
    x = get_simulator("poisson").observe(20000, np.random.default_rng(0))[:, 0]
    assert abs(x.mean() - 7.0) < 0.1 and abs(x.var() - 7.0) < 0.3
    assert np.all(x == np.round(x)) and x.min() >= 0


def test_weinberg_sampler_matches_the_exact_density():
    """The textbook rejection sampler (accept f/max ≥ u), not the reference code's f/max/max."""
    sim = get_simulator("weinberg")
    c = sim.observe(40000, np.random.default_rng(1))[:, 0]
    assert c.min() >= -1 and c.max() <= 1
    grid = np.linspace(-1, 1, 2001)
    cdf = np.cumsum(weinberg_density(grid, 42.0, 0.9)) * (grid[1] - grid[0])
    cdf /= cdf[-1]
    ks = stats.kstest(c, lambda v: np.interp(v, grid, cdf))
    assert ks.pvalue > 0.01
    # E[cos A] = A_FB / 4 under the exact density; the double division would pull it towards 0.
    assert abs(c.mean() - weinberg_afb(42.0, 0.9) / 4) < 0.012


def test_weinberg_density_integrates_to_one_and_only_afb_matters():
    grid = np.linspace(-1, 1, 20001)
    for e, g in [(42.0, 0.9), (48.0, 1.4), (40.0, 0.5)]:
        assert abs(np.trapezoid(weinberg_density(grid, e, g), grid) - 1.0) < 1e-6
    # Two θ on one level curve of A_FB give the same density: the ridge.
    e2 = 43.0
    g2 = weinberg_afb(42.0, 0.9) / weinberg_afb(e2, 1.0)
    assert np.allclose(weinberg_density(grid, 42.0, 0.9), weinberg_density(grid, e2, g2))


def test_lorenz_observer_depends_on_rho():
    sim = get_simulator("lorenz")
    rng = np.random.default_rng(0)
    lo = sim.observe(400, rng, theta=(10.0, 22.0, 8 / 3))
    hi = sim.observe(400, rng, theta=(10.0, 34.0, 8 / 3))
    assert lo.shape == (400, 9) and np.all(np.isfinite(hi))
    assert hi[:, 2].mean() - lo[:, 2].mean() > 8   # z sits near ρ − 1 on the attractor


def test_simulator_rejects_bad_theta():
    sim = get_simulator("weinberg")
    with pytest.raises(SimulatorError, match="outside"):
        sim.with_truth((60.0, 0.9))
    with pytest.raises(SimulatorError, match="2 parameters"):
        sim.check_theta([42.0])
    with pytest.raises(SimulatorError, match="unknown simulator"):
        get_simulator("nope")


# ------------------------------------------------------------------------------ score-function gradient
def test_score_function_gradient_matches_the_analytic_gradient():
    """For f(θ) = θ², E_q[f] = μ² + σ²: ∂/∂μ = 2μ, ∂/∂log σ = 2σ². The REINFORCE estimate, with or without the
    baseline, must agree within its Monte Carlo error."""
    q = GaussianProposal([0.7], [0.3])
    g = torch.Generator().manual_seed(0)
    u = q.sample(200_000, g)
    f = u[:, 0] ** 2
    for baseline in (0.0, float(f.mean())):
        q.zero_grad()
        score_function_surrogate(q, u, f, baseline).backward()
        assert q.mu.grad.item() == pytest.approx(2 * 0.7, rel=0.03)
        assert q.log_sigma.grad.item() == pytest.approx(2 * 0.3 ** 2, rel=0.05)
    # The autograd score equals the closed form row by row.
    d_mu, d_ls = analytic_score(q, u[:5])
    for i in range(5):
        q.zero_grad()
        q.log_prob(u[i:i + 1]).sum().backward()
        assert q.mu.grad.item() == pytest.approx(d_mu[i, 0].item(), rel=1e-9)
        assert q.log_sigma.grad.item() == pytest.approx(d_ls[i, 0].item(), rel=1e-9, abs=1e-12)


def test_baseline_reduces_the_variance_of_the_estimate():
    q = GaussianProposal([0.5], [0.2])
    g = torch.Generator().manual_seed(1)
    grads = {0.0: [], "loo": []}
    for _ in range(300):
        u = q.sample(32, g)
        f = 10.0 + u[:, 0]                     # a large constant offset is what a baseline removes
        for kind in grads:
            b = avo_fit._leave_one_out_mean(f) if kind == "loo" else 0.0
            q.zero_grad()
            score_function_surrogate(q, u, f, b).backward()
            grads[kind].append(q.mu.grad.item())
    assert np.mean(grads["loo"]) == pytest.approx(1.0, abs=0.1)        # ∂/∂μ E[10 + θ] = 1: still unbiased
    assert np.var(grads["loo"]) < 0.05 * np.var(grads[0.0])


def test_entropy_is_the_closed_form():
    q = GaussianProposal([0.0, 1.0], [0.5, 2.0])
    expected = sum(math.log(s) + 0.5 * math.log(2 * math.pi * math.e) for s in (0.5, 2.0))
    assert q.entropy().item() == pytest.approx(expected, rel=1e-12)
    u = q.sample(100_000, torch.Generator().manual_seed(0))
    assert (-q.log_prob(u).mean()).item() == pytest.approx(expected, rel=0.01)


# ------------------------------------------------------------------------------------------------ the fit
def test_critic_penalty_is_computed_on_interpolates(monkeypatch):
    """Every penalty call gets real and simulated rows, and the points it differentiates at lie on the segments
    between them (x̂ = ε x + (1 − ε) x̃), not on either end."""
    seen = []
    real_gp = avo_fit.gradient_penalty

    def spy(critic, real, fake, rng=None):
        penalty, x_hat = real_gp(critic, real, fake, rng)
        seen.append((real.detach().clone(), fake.detach().clone(), x_hat))
        return penalty, x_hat

    monkeypatch.setattr(avo_fit, "gradient_penalty", spy)
    fit_avo(AVOConfig(simulator="weinberg", steps=2, critic_warmup=3, critic_steps=2, n_observed=500))
    assert len(seen) == 3 + 2 * 2
    for real, fake, x_hat in seen:
        eps = ((x_hat - fake) / (real - fake))[:, 0]
        ok = (real - fake).abs()[:, 0] > 1e-6
        assert torch.all((eps[ok] >= 0) & (eps[ok] <= 1))
        assert eps[ok].std() > 0.1      # one ε per row, not a constant


def test_short_poisson_run_moves_the_proposal_toward_the_truth():
    res = fit_avo(AVOConfig(simulator="poisson", steps=80, n_observed=5000, seed=0))
    start, truth = 3.0, 7.0
    assert abs(res.mu[0] - truth) < 0.25 * abs(start - truth)
    assert res.history.mu[0][0] < res.history.mu[-1][0]
    assert res.simulations == (100 + 80 * (5 + 1)) * 64
    assert res.history.simulations[-1] == res.simulations


def test_fixed_parameters_stay_at_their_true_value():
    res = fit_avo(AVOConfig(simulator="weinberg", fixed=("G_f",), steps=5, critic_warmup=5, n_observed=500))
    assert all(m[1] == 0.9 and s[1] == 0.0 for m, s in zip(res.history.mu, res.history.sigma))
    assert res.history.mu[-1][0] != 45.0


def test_bad_config_is_a_clear_error():
    with pytest.raises(SimulatorError, match="every parameter is fixed"):
        fit_avo(AVOConfig(simulator="poisson", fixed=("lambda",)))
    with pytest.raises(SimulatorError, match="cannot fix"):
        fit_avo(AVOConfig(simulator="poisson", fixed=("rho",)))
    with pytest.raises(SimulatorError, match="column"):
        fit_avo(AVOConfig(simulator="lorenz", steps=1), observed=np.zeros((10, 2)))
    with pytest.raises(SimulatorError, match="NaN"):
        fit_avo(AVOConfig(simulator="poisson", steps=1), observed=np.array([1.0, np.nan, 3.0]))


def test_diverging_critic_fails_the_job_with_its_message(monkeypatch, make_manager):
    # No setting inside the parameters' ranges makes this small critic diverge (measured: learning rates up to 1e5
    # stay finite), so the fault is injected: after 20 calls the critic's output turns to inf, as an overflowing
    # network's would. What is tested is the fit's guard and the job's failure path, not the critic.
    forward, calls = avo_fit.Critic.forward, {"n": 0}

    def overflowing(self, x):
        calls["n"] += 1
        out = forward(self, x)
        return out * float("inf") if calls["n"] > 20 else out

    monkeypatch.setattr(avo_fit.Critic, "forward", overflowing)
    store = RunStore()
    manager = make_manager(store=store, executor="thread")   # the monkeypatched critic exists in this process only
    job = manager.submit(AVOTask(AVOConfig(simulator="poisson", steps=50, n_observed=200)))
    assert job.wait(SAFETY_TIMEOUT)
    snap = job.snapshot()
    assert snap.status is JobStatus.FAILED and snap.error.startswith("the critic's loss became")
    assert "\n" not in snap.error and snap.traceback is None          # the user's settings: one line, no traceback
    row = store.get(snap.run_id)
    assert row.kind == "avo" and row.status == "failed" and row.error == snap.error and row.run_dir is None
    assert avo_result_from_run(row, store.results(row.id)) is None    # nothing to draw again, and no crash


def test_avo_settings_are_checked_against_their_declared_ranges():
    with pytest.raises(SimulatorError, match="critic learning rate|lr_critic must be between"):
        fit_avo(AVOConfig(simulator="poisson", lr_critic=1e30, steps=1))
    with pytest.raises(SimulatorError, match="baseline must be one of loo, none"):
        fit_avo(AVOConfig(simulator="poisson", baseline="mean", steps=1))
    with pytest.raises(SimulatorError, match="steps must be between 1 and"):
        fit_avo(AVOConfig(simulator="poisson", steps=0))


# ------------------------------------------------------------------------------------ the fit as a job
SMALL = dict(simulator="poisson", n_observed=2000, critic_steps=2, critic_warmup=20)


def test_avo_task_runs_to_done_and_its_stored_run_reproduces_the_estimate(make_manager):
    store = RunStore()
    cfg = AVOConfig(steps=40, **SMALL)
    job = make_manager(store=store).submit(AVOTask(cfg))
    assert job.wait(SAFETY_TIMEOUT)
    snap = job.snapshot()
    assert snap.status is JobStatus.DONE and snap.step == snap.total == 40 and snap.kind == "avo"
    assert snap.model == "avo" and snap.dataset == "poisson" and snap.seed == cfg.seed
    assert set(snap.losses) == {"critic_loss", "wasserstein"} and snap.loss_steps[-1] == 40
    assert snap.live.step == list(range(1, 41))                       # the page's last copy is the whole history
    res = job.result.value
    assert snap.live is not res.history                                # a copy, not the fit's own list

    row = store.get(snap.run_id)
    assert row.kind == "avo" and row.status == "done"
    assert make_config(AVOConfig, row.inputs) == cfg                  # enough to run it again
    assert [r.id for r in store.list(kinds=("avo",))] == [row.id] and store.list() == []   # not a training run
    assert row.summary["estimate"] == pytest.approx(res.mu.tolist()) and row.summary["truth"] == [7.0]
    assert row.summary["param_names"] == ["lambda"] and row.summary["simulations"] == res.simulations > 0
    arrays = store.results(row.id)
    assert arrays["mu"].shape == (40, 1) and arrays["observed"].shape == (2000, 1)
    # the stored history alone gives the estimate back: the mean of μ over the last half of the steps
    assert np.allclose(arrays["mu"][-20:].mean(0), arrays["estimate_mu"])
    assert np.allclose(arrays["estimate_mu"], res.mu) and np.array_equal(arrays["observed"], res.observed)

    again = avo_result_from_run(row, arrays)                           # what the page draws after a reload
    assert again.config == cfg and again.simulator.true_theta == res.simulator.true_theta
    assert again.history == res.history and np.allclose(again.mu, res.mu) and np.allclose(again.sigma, res.sigma)
    assert again.simulations == res.simulations and not again.stopped


def test_stopping_an_avo_job_keeps_its_partial_history(make_manager):
    store = RunStore()
    job = make_manager(store=store).submit(AVOTask(AVOConfig(steps=20_000, **{**SMALL, "critic_warmup": 0})))
    # wait for its third step however long that takes (not for a fixed time)
    wait_until(lambda: job.snapshot().step >= 3 or job.wait(0), what="the AVO job's third step")
    assert job.snapshot().status is JobStatus.RUNNING
    job.stop()
    assert job.wait(SAFETY_TIMEOUT)
    snap = job.snapshot()
    assert snap.status is JobStatus.STOPPED and 3 <= snap.step < 20_000 and len(snap.live.step) == snap.step
    row = store.get(snap.run_id)
    assert row.status == "stopped" and row.steps == snap.step and row.total == 20_000
    again = avo_result_from_run(row, store.results(row.id))
    assert again.stopped and again.history.step == list(range(1, snap.step + 1))
    assert np.allclose(again.mu, job.result.value.mu)


def test_cancelling_an_avo_job_keeps_no_run(make_manager, genlab_home):
    store = RunStore()
    job = make_manager(store=store).submit(AVOTask(AVOConfig(steps=20_000, **SMALL)))
    wait_until(lambda: job.run_id is not None or job.wait(0), what="the AVO job's run row")
    job.cancel()
    assert job.wait(SAFETY_TIMEOUT)
    assert store.list(kinds=None) == [] and job.run_id is None
    assert not [p for p in (genlab_home / "runs").rglob("*") if p.is_file()]   # no folder, no staging left


def test_observed_data_with_nan_fail_the_job_with_one_line(make_manager):
    store = RunStore()
    bad = np.array([1.0, np.nan, 3.0])
    job = make_manager(store=store).submit(AVOTask(AVOConfig(steps=5, simulator="poisson"), observed=bad))
    assert job.wait(SAFETY_TIMEOUT)
    snap = job.snapshot()
    assert snap.status is JobStatus.FAILED and snap.error == "the observed data contain NaN or infinite values"
    row = store.get(snap.run_id)
    assert row.status == "failed" and row.error == snap.error and store.results(row.id) == {}


def test_only_avo_runs_reopen_as_fits(make_manager, finance):
    from genlib.train import TrainSpec
    store = RunStore()
    job = make_manager(store=store).submit(TrainSpec("gmm", finance, steps=1, eval_period_s=None))
    assert job.wait(SAFETY_TIMEOUT) and job.snapshot().status is JobStatus.DONE
    with pytest.raises(SimulatorError, match="not an AVO fit"):
        avo_result_from_run(store.get(job.run_id), {})


def test_marginal_samples_do_not_touch_a_fit_and_follow_the_proposal():
    sim = get_simulator("poisson")
    x = marginal_samples(sim, np.array([7.0]), np.array([0.0]), 20000, seed=3)
    assert abs(x.mean() - 7.0) < 0.1
    assert np.array_equal(x, marginal_samples(sim, np.array([7.0]), np.array([0.0]), 20000, seed=3))


# ---------------------------------------------------------------------------------------------- baselines
def test_direct_fit_poisson_is_the_sample_mean():
    sim = get_simulator("poisson")
    obs = make_observed(sim, 1000, 0)
    res = direct_fit(sim, obs)
    assert res.theta[0] == pytest.approx(obs.mean()) and res.simulations == 0
    assert res.theta_std[0] == pytest.approx(math.sqrt(obs.mean() / 1000))


def test_direct_fit_weinberg_recovers_the_known_parameter():
    sim = get_simulator("weinberg")
    obs = make_observed(sim, 50000, 1)
    g = direct_fit(sim, obs, fixed=("E_beam",))
    assert abs(g.theta[1] - 0.9) < 3 * g.theta_std[1] and g.theta[0] == 42.0
    e = direct_fit(sim, obs, fixed=("G_f",))
    assert abs(e.theta[0] - 42.0) < 3 * e.theta_std[0]
    both = direct_fit(sim, obs)
    assert "Only A_FB is identified" in both.note
    assert weinberg_afb(*both.theta) == pytest.approx(weinberg_afb(*g.theta), rel=1e-6)
    assert direct_fit(get_simulator("lorenz"), np.zeros((3, 9))) is None


def test_weinberg_likelihood_ridge_passes_through_the_truth():
    sim = get_simulator("weinberg")
    obs = make_observed(sim, 5000, 0)[:, 0]
    e = np.linspace(40, 50, 41)
    g = np.linspace(0.5, 1.5, 41)
    ll = weinberg_loglik_grid(obs, e, g)
    # Along the ridge (same A_FB) the likelihood is flat; far off it, much lower.
    on_a = weinberg_loglik_grid(obs, [42.0, 43.0], [0.9, weinberg_afb(42, 0.9) / weinberg_afb(43, 1.0)])
    assert abs(on_a[0, 0] - on_a[1, 1]) < 1e-6
    assert ll.max() - ll.min() > 1000


def test_abc_rejection_poisson_gets_close_and_counts_simulations():
    sim = get_simulator("poisson")
    obs = make_observed(sim, 5000, 0)
    res = abc_rejection(sim, obs, n_proposals=1000, n_per_dataset=100, quantile=0.05, seed=0)
    assert res.simulations == 100_000
    assert abs(res.theta[0] - 7.0) < 0.5
    assert res.accepted.shape == (50, 1)
    # The accepted θ are far more concentrated than the prior box [0.5, 20].
    assert res.theta_std[0] < 0.2 * (20 - 0.5) / math.sqrt(12)
