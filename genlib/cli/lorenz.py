"""``python -m genlib lorenz simulate|lyapunov|fit``: the Lorenz lab's computations without Streamlit.

    genlib lorenz simulate --dt 0.01 --t-max 40 --method rk4 --out traj.csv     # t,x,y,z
    genlib lorenz lyapunov                                   # Benettin on the equations (JSON)
    genlib lorenz lyapunov --data traj.csv --dt 0.01         # Rosenstein on any trajectory, per coordinate
    genlib lorenz fit --dt 0.1 --noise 0.01                  # every parametric method (JSON table)
    genlib lorenz fit --data traj.csv --dt 0.1 --method integrated
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


def run(args: argparse.Namespace) -> int:
    from genlib.dynamics import lorenz as lz

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
