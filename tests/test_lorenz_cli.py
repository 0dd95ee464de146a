"""``python -m genlib lorenz …``: the Lorenz lab's computations from the command line (in-process)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from genlib.cli import main


def test_simulate_then_rosenstein_on_the_file(tmp_path, capsys) -> None:
    out = tmp_path / "traj.csv"
    assert main(["lorenz", "simulate", "--dt", "0.01", "--t-max", "60", "--method", "rk4", "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["t", "x", "y", "z"] and len(frame) == 6001
    assert np.allclose(frame.iloc[0, 1:], [1.0, 1.0, 1.0])
    capsys.readouterr()
    assert main(["lorenz", "lyapunov", "--data", str(out)]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["method"] == "rosenstein" and res["dt"] == 0.01  # read off the t column
    # One trajectory: Rosenstein's measured spread over starts is 0.78-1.11 at this length (test_lorenz_dynamics),
    # so the bound checks the plumbing (a wrong dt or column would be off by 10x), not the third digit.
    assert 0.5 < res["exponents"]["xyz"]["exponent"] < 1.5


def test_benettin_and_the_integrated_fit_at_large_dt(capsys) -> None:
    assert main(["lorenz", "lyapunov", "--t-max", "100"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert abs(res["exponent"] / 0.9056 - 1) < 0.05
    assert main(["lorenz", "fit", "--dt", "0.1", "--noise", "0.01", "--t-max", "60", "--method", "integrated"]) == 0
    fit = json.loads(capsys.readouterr().out)["fits"][0]
    assert abs(fit["params"]["rho"] / 28 - 1) < 0.005 and abs(fit["params"]["sigma"] / 10 - 1) < 0.005
    assert fit["equations"][0].startswith("dx/dt")


def test_euler_blow_up_is_reported_and_bad_input_is_one_line(tmp_path, capsys) -> None:
    assert main(["lorenz", "simulate", "--dt", "0.1", "--method", "euler", "--out", str(tmp_path / "e.csv")]) == 0
    assert "diverged at t" in capsys.readouterr().err
    assert main(["lorenz", "simulate", "--dt", "-1", "--out", str(tmp_path / "bad.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "dt" in err[0]
    (tmp_path / "two.csv").write_text("a,b\n" + "\n".join(f"{i},{i}" for i in range(200)))
    assert main(["lorenz", "lyapunov", "--data", str(tmp_path / "two.csv")]) == 2
    assert "three columns" in capsys.readouterr().err
