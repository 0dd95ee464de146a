"""Failures are easy to debug: the user gets one sentence, the log under $GENLAB_HOME/logs/ gets the traceback,
and the CLI's exit status tells a user's mistake (2) from a bug (1)."""
from __future__ import annotations

import logging

import pytest

from genlib.cli.main import COMMANDS, main
from genlib.logs import configure_logging, log_file


def test_the_log_follows_genlab_home_and_is_written_by_the_genlib_logger(tmp_path) -> None:
    path = configure_logging(tmp_path / "a")
    assert path == (tmp_path / "a").resolve() / "logs" / "genlab.log" and log_file() == path
    logging.getLogger("genlib.test").warning("first home")
    moved = configure_logging(tmp_path / "b")            # a second store: the handler moves, nothing duplicates
    logging.getLogger("genlib.test").warning("second home")
    assert "first home" in path.read_text() and "second home" not in path.read_text()
    assert moved.read_text().count("second home") == 1
    logging.getLogger("elsewhere").warning("not ours")     # only genlib's loggers are written
    assert "not ours" not in moved.read_text()


def test_a_bug_in_a_command_exits_1_and_leaves_its_traceback_in_the_log(genlab_home, monkeypatch, capsys) -> None:
    def broken(args):  # fault injection: a command with a bug in it
        return {}["missing key"]

    monkeypatch.setitem(COMMANDS, "models", broken)
    monkeypatch.delenv("GENLAB_DEBUG", raising=False)
    assert main(["models"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    log = genlab_home.resolve() / "logs" / "genlab.log"
    assert err == [f"genlib: internal error — see {log} (set GENLAB_DEBUG=1 to get the traceback here)"]
    text = log.read_text()
    assert "internal error in 'genlib models'" in text and "KeyError: 'missing key'" in text and "Traceback" in text


def test_a_value_error_deep_inside_is_a_bug_not_a_user_error(genlab_home, monkeypatch, capsys) -> None:
    """It used to exit 2 like a user's mistake: only UserError (and unreadable files) mean "your input"."""
    def broken(args):
        raise ValueError("operands could not be broadcast together")

    monkeypatch.setitem(COMMANDS, "models", broken)
    assert main(["models"]) == 1
    assert "internal error" in capsys.readouterr().err


def test_user_mistakes_still_exit_2_with_one_line_and_no_log_entry(genlab_home, tmp_path, capsys) -> None:
    assert main(["train", "--model", "vae", "--data", "finance", "--set", "sigma=100",
                          "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "sigma must be between 0.001 and 10; got 100" in err[0]
    log = genlab_home.resolve() / "logs" / "genlab.log"
    assert not log.exists() or "Traceback" not in log.read_text()


def test_debug_mode_reraises(monkeypatch) -> None:
    monkeypatch.setitem(COMMANDS, "models", lambda args: 1 / 0)
    monkeypatch.setenv("GENLAB_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["models"])
