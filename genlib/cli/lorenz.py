"""``python -m genlib lorenz simulate|lyapunov|fit``: the Lorenz lab's computations without Streamlit.

    genlib lorenz simulate --dt 0.01 --t-max 40 --method rk4 --out traj.csv     # t,x,y,z
    genlib lorenz lyapunov                                   # Benettin on the equations (JSON)
    genlib lorenz lyapunov --data traj.csv --dt 0.01         # Rosenstein on any trajectory, per coordinate
    genlib lorenz fit --dt 0.1 --noise 0.01                  # every parametric method (JSON table)
    genlib lorenz fit --data traj.csv --dt 0.1 --method integrated
    genlib lorenz generate RUN --n 16 --steps 10000 --out traj.csv   # a sequence model's own trajectories
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

from genlib.data.base import DataError

from genlib.systems.lorenz import BETA, LYAPUNOV_REFERENCE, RHO, SIGMA


def add_parser(sub: Any) -> None:
    lz = sub.add_parser("lorenz", help="Lorenz lab: simulate, Lyapunov exponents, equation fits")
    lsub = lz.add_subparsers(dest="lorenz_command", required=True, parser_class=type(lz))

    def system(p: argparse.ArgumentParser) -> None:
        p.add_argument("--sigma", type=float, default=SIGMA)
        p.add_argument("--rho", type=float, default=RHO)
        p.add_argument("--beta", type=float, default=BETA)

    s = lsub.add_parser("simulate", help="integrate the equations; CSV t,x,y,z")
    system(s)
    s.add_argument("--dt", type=float, default=0.01)
    s.add_argument("--t-max", type=float, default=40.0)
    s.add_argument("--method", default="rk4", choices=["euler", "rk4", "solve_ivp"])
    s.add_argument("--x0", type=float, nargs=3, default=(1.0, 1.0, 1.0), metavar=("X", "Y", "Z"))
    s.add_argument("--out", required=True, help="CSV file to write")

    ly = lsub.add_parser("lyapunov", help="largest Lyapunov exponent (JSON)")
    system(ly)
    ly.add_argument("--data", default=None, help="trajectory CSV (columns x,y,z, optional t): Rosenstein on it; "
                                                   "without it, Benettin on the equations")
    ly.add_argument("--dt", type=float, default=0.01,
                    help="sampling step of --data (read off its t column when there is one), or Benettin's step")
    ly.add_argument("--t-max", type=float, default=200.0, help="Benettin: integration time")

    f = lsub.add_parser("fit", help="recover the equations from a trajectory (JSON)")
    system(f)
    f.add_argument("--data", default=None, help="trajectory CSV (x,y,z); default: simulate one at --dt")
    f.add_argument("--dt", type=float, default=0.01)
    f.add_argument("--t-max", type=float, default=50.0, help="length of the simulated trajectory")
    f.add_argument("--noise", type=float, default=0.0, help="observation noise, fraction of each coordinate's std")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--method", default="all",
                   choices=["all", "stlsq", "lasso", "ridge", "constrained", "integrated"])

    g = lsub.add_parser("generate", help="free-running trajectories of a trained sequence model (e.g. esn); "
                                         "CSV traj,t,x,y,z in the run's dt")
    g.add_argument("run", help="a stored run id, a run folder or a checkpoint file")
    g.add_argument("--n", type=int, default=4, help="number of trajectories")
    g.add_argument("--steps", type=int, default=1000, help="states per trajectory")
    g.add_argument("--seed", type=int, default=0, help="seed of the starting points (same seed, same output)")
    g.add_argument("--out", required=True, help="CSV file to write")


def _read_states(path: str) -> tuple[np.ndarray, np.ndarray | None]:
    """x, y, z columns in file order (a trajectory must not be shuffled, unlike a training table), and t if given."""
    import pandas as pd
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: not a readable CSV ({exc})") from None
    cols = [str(c).strip().lower() for c in frame.columns]
    if all(k in cols for k in "xyz"):
        picked = [cols.index(k) for k in "xyz"]
    elif frame.shape[1] >= 3:
        picked = list(range(frame.shape[1] - 3, frame.shape[1]))
    else:
        raise DataError(f"{path}: a trajectory needs three columns x, y, z; found {list(frame.columns)}")
    try:
        states = frame.iloc[:, picked].to_numpy(dtype=float)
        t = frame.iloc[:, cols.index("t")].to_numpy(dtype=float) if "t" in cols else None
    except ValueError:
        raise DataError(f"{path}: the x, y, z (and t) columns must be numeric") from None
    if not np.all(np.isfinite(states)):
        raise DataError(f"{path}: missing or non-finite values in x, y, z")
    if len(states) < 100:
        raise DataError(f"{path}: {len(states)} rows; a trajectory needs at least 100 states")
    return states, t


def _rosenstein_json(r: Any) -> dict[str, Any]:
    return {"exponent": float(r.exponent), "emb_dim": int(r.emb_dim), "lag": int(r.lag),
            "fit_range_steps": [int(r.fit_start), int(r.fit_stop)]}


def generate(args: argparse.Namespace) -> int:
    """``genlib lorenz generate``: n trajectories of a sequence model, each from a start of its own choosing."""
    from genlib.limits import SAMPLE_ROWS
    from genlib.models import Capability, models_with
    from genlib.dynamics.generation import free_run

    from .main import CliError, load_run

    if args.n < 1 or args.steps < 1:
        raise CliError("--n and --steps must be at least 1")
    SAMPLE_ROWS.check(args.n * args.steps, "--n × --steps")
    fitted = load_run(args.run)
    if not fitted.model.has(Capability.SEQUENCE):
        raise CliError(f"run {args.run} is a {fitted.name}, which does not generate trajectories; train a sequence "
                       f"model ({', '.join(models_with(Capability.SEQUENCE))}) on lorenz_series")
    dt = float((fitted.info.get("dataset_params") or {}).get("dt", 0.0))
    if not dt > 0:
        raise CliError(f"run {args.run} does not record its time step dt (trained on "
                       f"{fitted.info.get('dataset', 'unknown data')!r})")
    states = free_run(fitted, args.n, args.steps, args.seed)
    bad = ~np.all(np.isfinite(states), axis=2)
    if bad.any():
        k, step = np.argwhere(bad)[0]
        raise CliError(f"trajectory {int(k)} left the numbers (overflow) at step {int(step) + 1}: the model is "
                       "unstable when run on its own; nothing was written")
    t = np.tile(np.arange(1, args.steps + 1) * dt, args.n)
    table = np.column_stack([np.repeat(np.arange(args.n), args.steps), t, states.reshape(-1, states.shape[-1])])
    try:
        np.savetxt(args.out, table, delimiter=",", header="traj,t," + ",".join(fitted.columns), comments="",
                   fmt=["%d"] + ["%.10g"] * (table.shape[1] - 1))
    except OSError as exc:
        raise CliError(f"cannot write --out {args.out}: {exc.strerror or exc}") from None
    print(f"wrote {args.n} trajectories × {args.steps} steps (dt = {dt:g}) to {args.out}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    from genlib.dynamics import lorenz as lz

    if args.lorenz_command == "generate":
        return generate(args)

    if args.lorenz_command == "simulate":
        traj = lz.simulate(tuple(args.x0), args.sigma, args.rho, args.beta, dt=args.dt, t_max=args.t_max,
                           method=args.method)
        table = np.column_stack([traj.t, traj.states])
        np.savetxt(args.out, table, delimiter=",", header="t,x,y,z", comments="", fmt="%.10g")
        note = f"; diverged at t = {traj.diverged_at:g} (try a smaller --dt or rk4)" if traj.diverged_at else ""
        print(f"wrote {len(table)} states to {args.out}{note}", file=sys.stderr)
        return 0

    if args.lorenz_command == "lyapunov":
        from genlib.dynamics import lyapunov as ly
        if args.data is None:
            res = ly.benettin(args.sigma, args.rho, args.beta, dt=args.dt, t_max=args.t_max)
            out: dict[str, Any] = {"method": "benettin", "exponent": float(res.exponent),
                                   "reference": LYAPUNOV_REFERENCE, "renormalisations": int(res.n_renorm)}
        else:
            states, t = _read_states(args.data)
            dt = float(np.round((t[-1] - t[0]) / (len(t) - 1), 12)) if t is not None and len(t) > 1 else args.dt
            table = ly.lyapunov_by_coordinate(states, dt)
            out = {"method": "rosenstein", "dt": dt, "n": int(len(states)),
                   "exponents": {k: _rosenstein_json(v) for k, v in table.items()}}
        print(json.dumps(out))
        return 0

    from genlib.dynamics import sindy
    if args.data is None:
        states = sindy.make_observations(args.dt, args.t_max, noise=args.noise, seed=args.seed,
                                         sigma=args.sigma, rho=args.rho, beta=args.beta)
    else:
        states, _ = _read_states(args.data)
    truth = (args.sigma, args.rho, args.beta)
    methods = sindy.ALL_METHODS if args.method == "all" else (args.method,)
    fits = sindy.compare_methods(states, args.dt, methods=methods, known={"sigma": args.sigma}, true_params=truth)
    rows = [{"method": f.method, "rmse": float(f.rmse), "params": {k: float(v) for k, v in f.params.items()},
             "n_terms": int(f.n_terms), "equations": f.equations_text()} for f in fits]
    print(json.dumps({"dt": args.dt, "n": int(len(states)), "noise": args.noise, "fits": rows}))
    return 0
