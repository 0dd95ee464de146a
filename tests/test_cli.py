"""``python -m genlib`` end to end.

The happy path (train → sample → evaluate → runs) and one user error run as real subprocesses of
``sys.executable -m genlib``. Each costs ~3.5 CPU-seconds of interpreter + torch + scikit-learn start-up, so
conftest.py starts them at the beginning of the session and the tests reading their results run last.
The full matrix of user errors, listings, and a CSV train → sample-by-run-id round trip run in-process through
``genlib.cli.main`` (all that ``python -m genlib`` calls), which is fast and equally strict: an exception
escaping ``main`` fails the test, and stderr must be exactly one line with no traceback.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import lines
from genlib.cli import main
from genlib.store import RunStore


def assert_ok(res: subprocess.CompletedProcess) -> None:
    assert res.returncode == 0, f"{res.args} exited {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
    assert "Traceback" not in res.stderr


def assert_user_error(rc: int, stdout: str, stderr: str, *fragments: str) -> None:
    assert rc == 2, (rc, stdout, stderr)
    assert "Traceback" not in stderr and "Traceback" not in stdout
    err = lines(stderr)
    assert len(err) == 1, f"expected exactly one line on stderr, got:\n{stderr}"
    assert err[0].startswith("genlib"), err[0]
    for fragment in fragments:
        assert fragment in err[0], (fragment, err[0])


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


def user_table(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)) @ np.array([[1.0, 0.6, 0.0], [0.0, 0.8, 0.3], [0.0, 0.0, 1.0]])
    return pd.DataFrame(x, columns=["height", "weight", "age"])


# ----------------------------------------------------------------------------- in-process: every user error

@pytest.fixture
def files(tmp_path) -> Path:
    write_csv(tmp_path / "user.csv", user_table())
    write_csv(tmp_path / "two.csv", user_table()[["height", "weight"]])
    write_csv(tmp_path / "text.csv", pd.DataFrame({"a": np.arange(40.0), "b": [f"x{i}" for i in range(40)]}))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    return tmp_path


TRAIN = ["train", "--model", "vae", "--data", "finance", "--steps", "5"]

BAD = {
    "unknown model": (["train", "--model", "nope", "--data", "finance"], ["unknown model 'nope'"]),
    "unknown dataset": (["train", "--model", "vae", "--data", "nope"], ["Unknown dataset 'nope'", "finance"]),
    "unknown setting": (TRAIN + ["--set", "latnet_dim=4"], ["unknown setting 'latnet_dim'", "latent_dim"]),
    "out of range setting": (TRAIN + ["--set", "sigma=100"], ["sigma must be between 0.001 and 10; got 100"]),
    "non-numeric setting": (TRAIN + ["--set", "latent_dim=big"], ["latent_dim must be an integer, got 'big'"]),
    "setting without =": (TRAIN + ["--set", "latent_dim"], ["--set expects key=value"]),
    "bad dataset param": (TRAIN + ["--param", "seed=-1"], ["seed", "between 0 and"]),
    "csv with text column": (["train", "--model", "vae", "--data", "{d}/text.csv"], ["non-numeric (text)"]),
    "missing csv": (["train", "--model", "vae", "--data", "{d}/missing.csv"], ["missing.csv", "not found"]),
    "out exists non-empty": (TRAIN, ["already exists and is not empty"]),
    "steps 0": (["train", "--model", "vae", "--data", "finance", "--steps", "0"], ["--steps must be at least 1"]),
    "steps not a number": (["train", "--model", "vae", "--data", "finance", "--steps", "x"], ["--steps"]),
    "cuda without gpu": (TRAIN + ["--device", "cuda"], ["sees no GPU"]),
    "missing required": (["train", "--model", "vae"], ["required", "--data"]),
    "no command": ([], ["required"]),
    "unknown command": (["fly"], ["invalid choice: 'fly'"]),
    "sample unknown run": (["sample", "no-such-run", "-n", "5"], ["no-such-run is neither"]),
    "sample corrupt checkpoint": (["sample", "{d}/text.csv", "-n", "5"], ["text.csv is not a readable GenLab"]),
    "sample folder without checkpoint": (["sample", "{d}/full", "-n", "5"], ["no checkpoint at"]),
    "sample zero rows": (["sample", "{d}/user.csv", "-n", "0"], ["-n must be at least 1"]),
    "evaluate mismatched columns": (["evaluate", "{d}/user.csv", "{d}/two.csv"],
                                    ["column count differs", "user.csv has 3", "two.csv has 2"]),
    "evaluate missing file": (["evaluate", "{d}/user.csv", "{d}/missing.csv"], ["missing.csv", "not found"]),
    "evaluate text column": (["evaluate", "{d}/text.csv", "{d}/user.csv"], ["non-numeric (text)"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_user_errors_exit_2_with_one_line(case, files, capsys, genlab_home) -> None:
    if case == "cuda without gpu" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    argv, fragments = BAD[case]
    argv = [a.format(d=files) for a in argv]
    out_dir = files / ("full" if case == "out exists non-empty" else "new_run")
    if argv and argv[0] == "train" and "--model" in argv and len(argv) > 3:
        argv += ["--out", str(out_dir), "--quiet"]
    if argv and argv[0] == "sample":
        argv += ["--out", str(files / "samples.csv")]
    rc = main(argv)
    captured = capsys.readouterr()
    assert_user_error(rc, captured.out, captured.err, *fragments)
    assert captured.out == ""
    assert not (files / "new_run").exists() and not (files / "samples.csv").exists()
    assert (files / "full" / "keep.txt").read_text() == "mine"
    assert not (genlab_home / "runs").exists()     # nothing got as far as the run store


def test_datasets_lists_the_builtins(capsys) -> None:
    assert main(["datasets"]) == 0
    captured = capsys.readouterr()
    names = [line.split()[0] for line in lines(captured.out)]
    assert {"finance", "toy2d", "digits", "lorenz"} <= set(names) and captured.err == ""


def test_models_lists_vae_and_gmm(capsys) -> None:
    assert main(["models"]) == 0
    captured = capsys.readouterr()
    rows = {line.split()[0]: line for line in lines(captured.out)}
    assert {"vae", "gmm"} <= set(rows) and captured.err == ""
    assert "exact log-likelihood" in rows["gmm"] and "ELBO" in rows["vae"]


def test_evaluate_a_file_against_itself_has_zero_kendall_error(files, capsys) -> None:
    assert main(["evaluate", str(files / "user.csv"), str(files / "user.csv")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["kendall_error"] == 0.0
    assert result["columns"] == ["height", "weight", "age"] and result["n_real"] == result["n_fake"] == 200


def test_evaluate_suite_scores_every_metric_and_its_floor(files, capsys) -> None:
    """--suite adds the Compare page's metrics: a shifted fake is worse than the floor, a copy of train is caught."""
    real = user_table(300, seed=1)
    write_csv(files / "real.csv", real)
    write_csv(files / "train.csv", user_table(300, seed=2))
    write_csv(files / "shifted.csv", user_table(300, seed=3) + 1.5)
    assert main(["evaluate", str(files / "real.csv"), str(files / "shifted.csv"), "--suite",
                 "--train", str(files / "train.csv")]) == 0
    out = json.loads(capsys.readouterr().out)
    suite, floor = out["suite"]["metrics"], out["suite"]["oracle_floor"]
    assert out["suite"]["n_rows"] == 300 and "kendall_error" in out  # the GenHack pair is still there
    for key in ("wasserstein", "mmd", "energy", "anderson_darling"):
        assert suite[key] > 3 * floor[key], key
    assert suite["c2st_auc"] > 0.8 > floor["c2st_auc"]
    # the training set itself as the "fake": close to real by every distance, but its records are copies
    assert main(["evaluate", str(files / "real.csv"), str(files / "train.csv"), "--suite",
                 "--train", str(files / "train.csv")]) == 0
    copy = json.loads(capsys.readouterr().out)["suite"]["metrics"]
    assert copy["dcr_ratio"] == 0.0 and copy["c2st_auc"] < 0.65
    # without --train the train-dependent metric is left out, not faked
    assert main(["evaluate", str(files / "real.csv"), str(files / "shifted.csv"), "--suite"]) == 0
    assert "dcr_ratio" not in json.loads(capsys.readouterr().out)["suite"]["metrics"]


def test_evaluate_train_without_suite_is_a_user_error(files, capsys) -> None:
    rc = main(["evaluate", str(files / "user.csv"), str(files / "user.csv"), "--train", str(files / "user.csv")])
    captured = capsys.readouterr()
    assert_user_error(rc, captured.out, captured.err, "--train only makes sense with --suite")


def test_train_into_an_existing_empty_folder_and_list_runs_as_json(files, capsys, genlab_home) -> None:
    (files / "empty").mkdir()
    assert main(["train", "--model", "gmm", "--data", str(files / "user.csv"), "--out", str(files / "empty"),
                 "--quiet"]) == 0
    captured = capsys.readouterr()
    run_id = captured.out.strip()
    assert (files / "empty" / "model.pt").is_file()
    assert lines(captured.err) and lines(captured.err)[-1].startswith("done: 1 steps")
    assert main(["runs", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in listed] == [run_id] and listed[0]["run_dir"] == str((files / "empty").resolve())
    assert (genlab_home / "runs.sqlite").is_file()


def test_runs_with_an_empty_store(capsys, genlab_home) -> None:
    assert main(["runs"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "no runs yet" in captured.err
    assert main(["runs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_failed_training_exits_2_and_names_the_divergence(files, capsys) -> None:
    blowup = ["sigma=1e-3", "lr=0.1", "grad_clip=0", "activation=elu", "enc_depth=6", "dec_depth=6",
              "enc_width=1024", "dec_width=1024"]
    argv = ["train", "--model", "vae", "--data", "finance", "--steps", "50", "--transform", "standardize",
            "--batch-size", "32", "--out", str(files / "boom"), "--quiet"]
    for pair in blowup:
        argv += ["--set", pair]
    rc = main(argv)
    captured = capsys.readouterr()
    assert_user_error(rc, captured.out, captured.err, "training failed: loss 'loss' became inf at step")
    # The failure is still recorded (the Runs page shows it), without a checkpoint.
    [record] = RunStore().list()
    assert record.status == "failed" and "became inf" in record.error
    assert not (files / "boom" / "model.pt").exists()


def test_train_on_a_user_csv_then_sample_by_run_id_from_elsewhere(tmp_path, monkeypatch, capsys) -> None:
    """In-process (same code path as the subprocess, without another interpreter start-up). The --out
    folder is relative, and sampling by run id happens from a different working directory."""
    (tmp_path / "project").mkdir()
    (tmp_path / "elsewhere").mkdir()
    write_csv(tmp_path / "project" / "user.csv", user_table())
    monkeypatch.chdir(tmp_path / "project")
    assert main(["train", "--model", "gmm", "--data", "user.csv", "--set", "n_components=2", "--out", "csv_run",
                 "--quiet"]) == 0
    captured = capsys.readouterr()
    run_id = captured.out.strip()
    assert "Traceback" not in captured.err and lines(captured.err)[-1].startswith("done: 1 steps")
    record = json.loads((tmp_path / "project" / "csv_run" / "run.json").read_text())
    assert record["id"] == run_id and record["dataset"] == "user"
    assert record["columns"] == ["height", "weight", "age"]

    monkeypatch.chdir(tmp_path / "elsewhere")
    for name in ("a.csv", "b.csv"):
        assert main(["sample", run_id, "-n", "30", "--seed", "7", "--out", name]) == 0
    a, b = pd.read_csv("a.csv"), pd.read_csv("b.csv")
    assert list(a.columns) == ["height", "weight", "age"] and a.shape == (30, 3)
    assert a.equals(b)      # --seed reproduces the rows
    assert "wrote 30 rows" in capsys.readouterr().err


# ----------------------------------------------------------------------------- subprocess end to end
# The processes run from the first test of the session (see ``cli_chain`` in conftest.py); these tests,
# marked ``cli_chain``, are moved after the other fast tests and only read the results.

@pytest.mark.cli_chain
def test_train_prints_run_id_and_writes_run_folder(cli_chain) -> None:
    res = cli_chain.result("train")
    assert_ok(res)
    assert len(lines(res.stdout)) == 1, res.stdout          # progress and summary go to stderr
    run_id = lines(res.stdout)[-1].strip()
    assert "done: 200 steps" in res.stderr
    folder = cli_chain.work / "vae_run"
    assert sorted(p.name for p in folder.iterdir()) == ["model.pt", "results.npz", "run.json"]  # + latent codes
    record = json.loads((folder / "run.json").read_text())
    assert record["id"] == run_id and record["status"] == "done" and record["steps"] == 200
    assert record["model"] == "vae" and record["dataset"] == "finance"


@pytest.mark.cli_chain
def test_sample_writes_csv_in_data_units(cli_chain) -> None:
    assert_ok(cli_chain.result("sample"))
    fake = cli_chain.work / "fake.csv"
    assert fake.read_text().splitlines()[0] == "f1,f2,f3,f4"
    frame = pd.read_csv(fake)
    assert frame.shape == (50, 4)
    assert np.all(np.isfinite(frame.to_numpy())) and (frame.to_numpy() >= 0).all()


@pytest.mark.cli_chain
def test_evaluate_prints_one_json_object(cli_chain) -> None:
    res = cli_chain.result("evaluate")
    assert_ok(res)
    assert len(lines(res.stdout)) == 1
    result = json.loads(res.stdout)
    assert isinstance(result, dict)
    assert np.isfinite(result["anderson_darling"]) and result["anderson_darling"] >= 0
    assert 0 <= result["kendall_error"] <= 1
    assert result["columns"] == ["f1", "f2", "f3", "f4"] and (result["n_real"], result["n_fake"]) == (144, 50)


@pytest.mark.cli_chain
def test_runs_lists_the_run_in_a_new_process(cli_chain) -> None:
    run_id = lines(cli_chain.result("train").stdout)[-1].strip()
    res = cli_chain.result("runs")
    assert_ok(res)
    rows = lines(res.stdout)
    assert rows[0].split()[:3] == ["id", "kind", "model"]
    assert len(rows) == 2 and rows[1].split()[:5] == [run_id, "train", "vae", "finance", "done"]


@pytest.mark.cli_chain
def test_user_error_in_a_real_process(cli_chain) -> None:
    res = cli_chain.result("bad_model")
    assert_user_error(res.returncode, res.stdout, res.stderr, "unknown model 'nope'", "gmm", "vae")
    assert not (cli_chain.work / "never").exists()
