"""Shared fixtures. Every test runs with GENLAB_HOME pointing at a private temporary folder, so nothing
the suite does (stores, CLI runs, jobs) ever touches the user's ~/.genlab."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest
import torch

from threadpoolctl import threadpool_limits

# The suite's models are tiny: they gain nothing from intra-op threads, and on a busy 2-core machine the
# spinning OpenMP / OpenBLAS worker threads of torch and scipy slow them 10-30x (measured: a 3-cluster GMM
# fit 1-2 s instead of 0.09 s, 1500 VAE steps 60-90 s instead of 3 s). One thread keeps timings stable.
torch.set_num_threads(1)
_BLAS_LIMIT = threadpool_limits(limits=1)
SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(scope="session", autouse=True)
def _session_genlab_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Covers module- and session-scoped fixtures, which run before the per-test fixture below."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_HOME", str(tmp_path_factory.mktemp("genlab_session_home")))
        mp.delenv("GENLAB_MAX_JOBS", raising=False)
        mp.delenv("GENLAB_DEBUG", raising=False)
        # AppTest has no server address, which genlib.access reads as "every interface" (classroom): the suite runs
        # in personal mode unless a test asks for a classroom
        mp.setenv("GENLAB_MODE", "personal")
        for var in ("GENLAB_TEACHER_TOKEN", "GENLAB_USER_RUNNING", "GENLAB_USER_QUEUED", "GENLAB_SWEEP_MAX",
                    "GENLAB_QUEUE_MAX"):
            mp.delenv(var, raising=False)
        for var in ("GENLAB_MAX_COLUMNS", "GENLAB_MAX_SAMPLE_ROWS", "GENLAB_EVAL_ROWS", "GENLAB_MAX_MODEL_MB"):
            mp.delenv(var, raising=False)  # genlib.limits: the suite checks the defaults
        for var in ("GENLAB_EXECUTOR", "GENLAB_RAY_ADDRESS", "GENLAB_WORKER_SPARES", "GENLAB_TORCH_THREADS"):
            mp.delenv(var, raising=False)  # jobs run where the app runs them: the local worker pool
        yield


@pytest.fixture(autouse=True)
def genlab_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """A fresh, empty GENLAB_HOME for each test (returned as a Path)."""
    home = tmp_path_factory.mktemp("genlab_home")
    monkeypatch.setenv("GENLAB_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def finance():
    from genlib.data import load_dataset
    return load_dataset("finance")


def gaussian_dataset(n_train: int = 3000, n_test: int = 1000, mean=(1.0, -2.0), std=(1.0, 0.5), corr: float = 0.8,
                     seed: int = 0, name: str = "gauss2d"):
    """A correlated 2-D Gaussian as a genlib Dataset (float64, data units = model units with transform none)."""
    from genlib.data import Dataset
    mean, std = np.asarray(mean, float), np.asarray(std, float)
    cov = np.outer(std, std) * np.array([[1.0, corr], [corr, 1.0]])
    x = np.random.default_rng(seed).multivariate_normal(mean, cov, size=n_train + n_test)
    return Dataset(name=name, description="correlated 2-D Gaussian (test data)", columns=["a", "b"],
                   train=x[:n_train], test=x[n_train:])


#: Seconds any wait in the suite may take before the test fails instead of hanging. A safety net, never a
#: measurement: the suite also has to pass on a loaded 2-core machine (where it has run 3x slower than on a
#: quiet one), so it is minutes, and below pytest-timeout's 300 s so a stuck wait fails with its own message.
SAFETY_TIMEOUT = 240.0


def wait_until(predicate: Callable[[], bool], timeout: float = SAFETY_TIMEOUT, interval: float = 0.005,
               what: str = "condition") -> None:
    """Poll ``predicate`` until it is true; fail the test (instead of hanging) after ``timeout`` seconds, a
    safety net (see SAFETY_TIMEOUT), not something a test measures."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def steady_step(job, seconds: float = 0.8) -> int:
    """The job's step once it has not moved for ``seconds`` (a paused job's last step has reached the job)."""
    deadline = time.monotonic() + SAFETY_TIMEOUT
    last, since = job.snapshot().step, time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        step = job.snapshot().step
        if step != last:
            last, since = step, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return step
    raise AssertionError(f"{job.id} never held still (step {last})")


def settle_jobs(manager, timeout: float = SAFETY_TIMEOUT) -> list:
    """Block until every job of ``manager`` (queued ones included) has finished and its thread has ended, by
    waiting on the jobs' own completion events and joining their threads: no polling, no guessed delays.
    A joined thread has also persisted its run and started whatever was queued behind it (JobManager._run), so
    once this returns the store, ``manager.active`` and the job list are final. Returns the jobs."""
    deadline = time.monotonic() + timeout
    while True:
        pending = [j for j in manager.jobs() if not j.wait(0) or (j.thread is not None and j.thread.is_alive())]
        if not pending:
            return manager.jobs()
        for job in pending:
            left = deadline - time.monotonic()
            if not job.wait(max(0.0, left)):
                pytest.fail(f"timed out after {timeout}s waiting for {job.id} ({job.snapshot().status.value})")
            if job.thread is not None:
                job.thread.join(max(0.0, deadline - time.monotonic()))
                if job.thread.is_alive():
                    pytest.fail(f"the thread of {job.id} did not end within {timeout}s")


@pytest.fixture
def make_manager():
    """Factory for JobManagers that are always shut down (threads stopped and joined) after the test,
    so a failing test never leaves training threads burning CPU for the rest of the session."""
    from genlib.train import JobManager
    managers: list[JobManager] = []

    def factory(**kwargs) -> JobManager:
        manager = JobManager(**kwargs)
        managers.append(manager)
        return manager

    yield factory
    for manager in managers:
        manager.shutdown(timeout=30)
        for job in manager.jobs():
            if job.thread is not None:
                job.thread.join(timeout=30)


REPO_ROOT = Path(__file__).resolve().parents[1]


def cli_environ(home: Path) -> dict[str, str]:
    """Environment for ``python -m genlib`` subprocesses: the given GENLAB_HOME, the repository importable
    from any working directory, no debug tracebacks, single-threaded BLAS/OpenMP (see above)."""
    env = dict(os.environ)
    env["GENLAB_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.update(SINGLE_THREAD_ENV)
    for key in ("GENLAB_DEBUG", "GENLAB_MAX_JOBS"):
        env.pop(key, None)
    return env


# --------------------------------------------------------------------------- the CLI's subprocess chain

CLI_TIMEOUT = 180


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cli_chain: reads results of the python -m genlib subprocess chain "
                                       "(moved after the other fast tests so the processes overlap them)")


def _run_order(item: pytest.Item) -> int:
    """0: the fast tests; 1: the cli_chain readers (their subprocesses ran meanwhile); 2: ``slow`` end-to-end
    tests; 3: ``browser`` tests (a real server and Chromium each)."""
    if item.get_closest_marker("browser"):
        return 3
    if item.get_closest_marker("slow"):
        return 2
    return 1 if item.get_closest_marker("cli_chain") else 0


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    """Fast tests first, so a failure there shows within minutes; the few slow end-to-end ones last.
    (A stable sort: within each group the files keep their order.)"""
    items.sort(key=_run_order)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def genlib_cli(*args) -> list[str]:
    return [sys.executable, "-m", "genlib", *map(str, args)]


class CliChain(threading.Thread):
    """``python -m genlib``: train → (sample ∥ runs) → evaluate, and a user error, as real processes driven
    from a background thread. Results are kept for the ``cli_chain`` tests; a failed step stops the chain
    (the later results stay missing and their tests say so)."""

    def __init__(self, work: Path, home: Path, errors_home: Path):
        super().__init__(daemon=True, name="cli-chain")
        self.work, self.home, self.errors_home = work, home, errors_home
        self.results: dict[str, subprocess.CompletedProcess] = {}
        self.procs: list[subprocess.Popen] = []

    def _start(self, *args, home: Path | None = None) -> subprocess.Popen:
        proc = subprocess.Popen(genlib_cli(*args), cwd=self.work, env=cli_environ(home or self.home),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(proc)
        return proc

    @staticmethod
    def _finish(proc: subprocess.Popen) -> subprocess.CompletedProcess:
        out, err = proc.communicate(timeout=CLI_TIMEOUT)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def run(self) -> None:
        # At most two processes at a time, next to the in-process tests.
        bad = self._start("train", "--model", "nope", "--data", "finance", "--out", "never", home=self.errors_home)
        self.results["train"] = self._finish(
            self._start("train", "--model", "vae", "--data", "finance", "--steps", 200, "--out", "vae_run"))
        self.results["bad_model"] = self._finish(bad)
        if self.results["train"].returncode != 0:
            return
        runs = self._start("runs")
        self.results["sample"] = self._finish(self._start("sample", "vae_run", "-n", 50, "--out", "fake.csv"))
        self.results["runs"] = self._finish(runs)
        if self.results["sample"].returncode == 0:
            self.results["evaluate"] = self._finish(self._start("evaluate", "real.csv", "fake.csv"))

    def result(self, name: str) -> subprocess.CompletedProcess:
        self.join(2 * CLI_TIMEOUT)
        assert not self.is_alive(), "the CLI chain did not finish"
        if name not in self.results:
            pytest.fail(f"'{name}' did not run: an earlier step failed ({sorted(self.results)} ran)")
        return self.results[name]


@pytest.fixture(scope="session")
def cli_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliChain]:
    import pandas as pd
    from genlib.data import load_dataset
    work = tmp_path_factory.mktemp("cli_work")
    finance = load_dataset("finance")
    pd.DataFrame(finance.test, columns=finance.columns).to_csv(work / "real.csv", index=False)
    chain = CliChain(work, tmp_path_factory.mktemp("cli_home"), tmp_path_factory.mktemp("cli_errors_home"))
    chain.start()
    yield chain
    chain.join(2 * CLI_TIMEOUT)
    for proc in chain.procs:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.fixture(scope="session", autouse=True)
def _start_cli_chain_early(request: pytest.FixtureRequest) -> None:
    """Start the subprocess chain with the first test when any cli_chain test is selected."""
    if any(item.get_closest_marker("cli_chain") for item in request.session.items):
        request.getfixturevalue("cli_chain")
