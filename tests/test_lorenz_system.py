"""Lorenz-63 is defined once (genlib.systems.lorenz), and every consumer runs that one definition.

The datasets (genlib.data), the lab and its Lyapunov estimates (genlib.dynamics), the equation fits (sindy) and the
AVO simulator must give the system's own numbers, bit for bit where the same integrator runs; the data sit below
the analysis, so genlib.data never imports genlib.dynamics, and genlib.systems imports no other genlib module
(but genlib.errors, the leaf every user-facing error derives from).
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import genlib.dynamics as dynamics
from genlib.avo import simulators
from genlib.data import lorenz_images
from genlib.data import trajectory_codec as codec
from genlib.data.csv_loader import split_rows
from genlib.data.lorenz import TEST_FRACTION, load_lorenz, lorenz_trajectories
from genlib.dynamics import lyapunov, sindy
from genlib.systems import lorenz as system

ROOT = Path(__file__).resolve().parents[1]
PARAMS = (9.0, 27.0, 2.5)


def _modules(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def _imported(path: Path) -> set[str]:
    """Every module an import statement of `path` names, anywhere in the file (lazy imports included)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            out.add(module)
            out.update(f"{module}.{alias.name}" for alias in node.names)
    return out


# ----------------------------------------------------------------------------- one vector field


def test_every_form_of_the_vector_field_is_lorenz_rhs() -> None:
    pts = np.random.default_rng(0).normal(0.0, 10.0, size=(40, 3))
    ref = np.column_stack(system.lorenz_rhs(pts[:, 0], pts[:, 1], pts[:, 2], *PARAMS))
    assert system.lorenz_rhs(1.0, 2.0, 3.0, 10.0, 28.0, 8.0 / 3.0) == (10.0, 23.0, 2.0 - 8.0)  # floats too
    np.testing.assert_array_equal(system.lorenz_derivative(pts, *PARAMS), ref)
    np.testing.assert_array_equal(system.lorenz_ivp(0.0, pts.ravel(), *PARAMS).reshape(-1, 3), ref)  # batch
    for p, r in zip(pts[:5], ref[:5]):
        np.testing.assert_array_equal(system.lorenz_ivp(0.0, p, *PARAMS), r)  # the scalar fast path
        np.testing.assert_array_equal(system.lorenz_derivative(p, *PARAMS), r)
    fit = sindy.IntegratedFit(*PARAMS, rel_errors={}, cost=0.0, n_pairs=0, success=True, message="")
    np.testing.assert_array_equal(fit.rhs(pts), ref)
    np.testing.assert_allclose(sindy.polynomial_library(pts) @ sindy.true_coefficients(*PARAMS), ref, rtol=1e-12)
    # The Jacobians are those of lorenz_rhs (central differences).
    ju, jt = system.lorenz_jacobians(pts[:3], *PARAMS)
    eps = 1e-6
    for j in range(3):
        d = np.zeros(3)
        d[j] = eps
        num = (system.lorenz_derivative(pts[:3] + d, *PARAMS) - system.lorenz_derivative(pts[:3] - d, *PARAMS))
        np.testing.assert_allclose(ju[:, :, j], num / (2 * eps), rtol=1e-6, atol=1e-6)
        up, down = np.array(PARAMS, dtype=float), np.array(PARAMS, dtype=float)
        up[j], down[j] = up[j] + eps, down[j] - eps
        num = system.lorenz_derivative(pts[:3], *up) - system.lorenz_derivative(pts[:3], *down)
        np.testing.assert_allclose(jt[:, :, j], num / (2 * eps), rtol=1e-6, atol=1e-6)


def test_the_right_hand_side_is_written_out_in_one_module_only() -> None:
    """No code (docstrings aside) outside genlib/systems/lorenz.py spells out a line of the Lorenz equations."""
    lines = {"sigma * (y - x)", "x * (rho - z) - y", "x * y - beta * z"}
    found = {}
    for path in _modules("genlib", "pages", "benchmarks"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        hits = {ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.BinOp)} & lines
        if hits:
            found[str(path.relative_to(ROOT))] = hits
    assert found == {"genlib/systems/lorenz.py": lines}


# ----------------------------------------------------------------------------- one set of integrators


def test_the_labs_fast_loop_is_step_rk4_and_step_euler_to_the_bit() -> None:
    x0 = system.on_attractor(0)
    for method, step in (("rk4", system.step_rk4), ("euler", system.step_euler)):
        states = [x0]
        for _ in range(200):
            states.append(step(lambda s: system.lorenz_derivative(s, *PARAMS), states[-1], 0.01))
        tr = dynamics.simulate(x0, *PARAMS, dt=0.01, t_max=2.0, method=method)
        np.testing.assert_array_equal(tr.states, np.array(states))


def test_sindy_integrates_with_the_same_rk4_step() -> None:
    rows = dynamics.simulate(system.on_attractor(1), dt=0.05, t_max=2.0).states
    expected = rows
    for _ in range(5):
        expected = system.step_rk4(lambda u: system.lorenz_derivative(u, *PARAMS), expected, 0.02)
    np.testing.assert_array_equal(sindy.rk4_map(rows, PARAMS, 0.1, 5), expected)
    states, _ = sindy._shoot(rows, np.array(PARAMS), 0.1, 5, 1)
    np.testing.assert_array_equal(states[:, 1], expected)


def test_datasets_the_lab_and_the_fits_share_the_batch_integrator() -> None:
    # `lorenz`: the seeded starts, integrated, burn-in dropped, pooled and split with the same generator.
    ds = load_lorenz(*PARAMS, dt=0.01, T=2.0, n_traj=2, burn_in=1.0, seed=3)
    rng = np.random.default_rng(3)
    x0 = system.random_initial_states(2, rng)
    pooled = system.simulate_lorenz(x0, *PARAMS, dt=0.01, T=300 * 0.01)[:, 100:].reshape(-1, 3)
    train, test, _, _ = split_rows(pooled, rng, TEST_FRACTION)
    np.testing.assert_array_equal(ds.train, train)
    np.testing.assert_array_equal(ds.test, test)
    # `lorenz_images` / `lorenz_windows` are cut from lorenz_trajectories: the same integrator, 10 units dropped.
    x0 = system.random_initial_states(3, np.random.default_rng(5))
    np.testing.assert_array_equal(lorenz_trajectories(3, 50, dt=0.1, seed=5, sigma=PARAMS[0], rho=PARAMS[1],
                                                      beta=PARAMS[2]),
                                  system.simulate_lorenz(x0, *PARAMS, dt=0.1, T=149 * 0.1)[:, 100:])
    # sindy's observed trajectories.
    start = system.random_initial_states(1, np.random.default_rng(4))[0]
    np.testing.assert_array_equal(sindy.make_observations(0.05, 3.0, seed=4, burn_in=1.0),
                                  system.simulate_lorenz(start, dt=0.05, T=80 * 0.05)[20:])


# ----------------------------------------------------------------------------- one definition of each name


def test_consumers_use_the_systems_objects() -> None:
    for name in ("SIGMA", "RHO", "BETA", "LYAPUNOV_REFERENCE", "LorenzError", "lorenz_derivative", "on_attractor",
                 "step_euler", "step_rk4"):
        assert getattr(dynamics, name) is getattr(system, name), name
    assert lyapunov.lorenz_derivative is system.lorenz_derivative and lyapunov.step_rk4 is system.step_rk4
    assert simulators.lorenz_derivative is system.lorenz_derivative and simulators.step_rk4 is system.step_rk4
    assert sindy.TRUE_PARAMS == (system.SIGMA, system.RHO, system.BETA)
    assert simulators.get_simulator("lorenz").true_theta == sindy.TRUE_PARAMS
    assert lorenz_images.STEPS_PER_IMAGE is codec.STEPS_PER_IMAGE and lorenz_images.COORDS is codec.COORDS


@pytest.mark.parametrize("name", [
    "SIGMA", "RHO", "BETA", "LYAPUNOV_REFERENCE", "MAX_STEPS", "MAX_STATES", "DIVERGENCE_LIMIT",
    "IMAGE_SIDE", "STEPS_PER_IMAGE", "COORDS", "lorenz_rhs", "lorenz_derivative", "lorenz_jacobians", "step_euler",
    "step_rk4", "simulate_lorenz", "random_initial_states", "on_attractor", "lorenz_trajectories", "ChannelScaler",
    "to_images", "from_images", "windows", "unwindow", "compare_methods",
])
def test_each_name_is_defined_in_one_module(name: str) -> None:
    where = []
    for path in _modules("genlib", "pages"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
                where.append(path)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
                if name in names:
                    where.append(path)
    assert len(where) == 1, (name, where)


# ----------------------------------------------------------------------------- layering


def test_genlib_data_never_imports_genlib_dynamics() -> None:
    for path in _modules("genlib/data"):
        bad = {m for m in _imported(path) if m == "genlib.dynamics" or m.startswith("genlib.dynamics.")}
        assert not bad, (path, bad)
    for path in _modules("genlib/systems"):  # a leaf: only the error base class every layer shares
        assert not {m for m in _imported(path) if m.startswith("genlib") and not m.startswith("genlib.errors")}, path
    # At run time too: importing genlib.data and building the Lorenz datasets loads no genlib.dynamics module.
    code = (
        "import sys\n"
        "from genlib.data import load_dataset\n"
        "load_dataset('lorenz', T=1.0, n_traj=1)\n"
        "load_dataset('lorenz_images', n_traj=16)\n"
        "load_dataset('lorenz_windows', n_traj=4, n_steps=64)\n"
        "print(sorted(m for m in sys.modules if m.startswith('genlib.dynamics')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
