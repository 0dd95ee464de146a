#!/usr/bin/env python3
"""GenLab's two entry points on a fresh machine that has only Python 3.11.

    python3.11 scripts/dev.py run    # create .venv if missing, install requirements, start the app
    python3.11 scripts/dev.py test   # the same set-up, then the whole test suite (what CI runs)
    python3.11 scripts/dev.py bench  # the benchmarks in benchmarks/

The environment is rebuilt only when requirements.txt or pyproject.toml changes (their hash is stamped in .venv);
requirements.txt installs genlib itself in editable mode, so benchmarks and notebooks import the installed package.
Extra arguments go to streamlit (run) or pytest (test).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("GENLAB_VENV", ROOT / ".venv"))
PY = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
REQUIREMENTS = ROOT / "requirements.txt"
RAY_REQUIREMENTS = ROOT / "requirements-ray.txt"   # the optional Ray executor: the tests install it (CI tests it)
PYPROJECT = ROOT / "pyproject.toml"  # requirements.txt installs genlib itself from it (editable)
STAMP = VENV / ".requirements.sha256"


def say(msg: str) -> None:
    print(f"[genlab] {msg}", flush=True)


def ensure_env(with_ray: bool = False) -> None:
    """Create the virtual environment and install the pinned requirements when missing or changed (and Ray's, for
    the tests)."""
    if sys.version_info[:2] < (3, 11):
        sys.exit(f"GenLab needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes() + PYPROJECT.read_bytes()).hexdigest()
    if PY.exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        if with_ray:
            ensure_ray()
        return
    has_pip = PY.exists() and subprocess.call([str(PY), "-m", "pip", "--version"], stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL) == 0
    if not has_pip:   # missing, or left half-made by an interrupted set-up: make it afresh
        say(f"creating virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True, clear=PY.exists()).create(VENV)
    say("installing requirements (pinned; torch is the CPU build unless you install a CUDA one)")
    subprocess.check_call([str(PY), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    subprocess.check_call([str(PY), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)], cwd=ROOT)
    STAMP.write_text(wanted)
    if with_ray:
        ensure_ray()


def ensure_ray() -> None:
    """Install the optional Ray executor's pinned requirements when missing or changed (stamped like the rest)."""
    stamp = VENV / ".requirements-ray.sha256"
    wanted = hashlib.sha256(RAY_REQUIREMENTS.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text().strip() == wanted:
        return
    say("installing the optional Ray executor for its tests (requirements-ray.txt)")
    subprocess.check_call([str(PY), "-m", "pip", "install", "--quiet", "-r", str(RAY_REQUIREMENTS)], cwd=ROOT)
    stamp.write_text(wanted)


def ensure_chromium() -> None:
    """The browser test drives Debian's Chromium; install it when missing and we may (root + apt-get)."""
    if Path("/usr/bin/chromium").exists():
        return
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        say("installing Debian's chromium for the browser test")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        ok = subprocess.call(["apt-get", "update", "-qq"], env=env) == 0 and subprocess.call(
            ["apt-get", "install", "-y", "-qq", "chromium"], env=env, stdout=subprocess.DEVNULL) == 0
        if not ok:
            say("could not install chromium: the browser test will report it")
    else:
        say("no /usr/bin/chromium and no root: the browser test will be skipped (fails under CI=true)")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "bench"}:
        print(__doc__)
        return 2
    command, extra = argv[0], argv[1:]
    ensure_env(with_ray=command in ("test", "bench"))
    os.chdir(ROOT)
    if command == "run":
        address = os.environ.get("GENLAB_ADDRESS", "127.0.0.1")
        return subprocess.call([str(PY), "-m", "streamlit", "run", "app.py", "--server.address", address, *extra])
    if command == "test":
        ensure_chromium()
        code = subprocess.call([str(PY), "-m", "pytest", "-q", *extra])
        return 1 if code == 5 else code  # 5 = no tests collected: never a green run
    code = 0
    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        say(f"benchmark {script.name}")
        code |= subprocess.call([str(PY), str(script), *extra])
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
