#!/usr/bin/env bash
# The prepared GPU check (issue 18, point 4): one script for a lent GPU machine, one markdown table at the end.
# CI has no GPU and never runs it. It runs benchmarks/gpu_check.py (sections, each with its own time budget:
# env, engine overhead on CUDA, DCGAN-on-lorenz_images steps/s CPU vs GPU, two concurrent jobs on one GPU, a short
# default training of every model family on CUDA, every genlib module imports); see that file's docstring.
#
# THE DEVICE-TOOL CALL (the machine has no network; its own python3 is 3.12 with torch 2.11.0+cu130, numpy,
# scipy, scikit-learn, pandas, tqdm, numba, narwhals; see .library/device/KINDS.md). The tool sends the checkout
# the session started in (the main checkout, not a helper's worktree): run it there, with .whl/ in that root.
#
#   run(command="bash benchmarks/gpu_check.sh", carry=[".whl"], timeout_s=450)
#
# An estimated 4-5 minutes on one H200 (not yet timed there); the Python part stops itself at 420 s with the
# table of what it measured, and the `timeout` below kills it at 440 s. Out of a session's 15 minutes of device
# time (the machine's start, 1-2 min, included) that leaves room for one rerun of the sections that failed, e.g.
#
#   run(command="GPU_CHECK_SECTIONS=families bash benchmarks/gpu_check.sh", carry=[".whl"], timeout_s=200)
#
# then give_back. What comes back under $OUT: gpu_check.md (the table, also rewritten after each section),
# gpu_check.log (everything printed) and genlab.log (genlib's own log: tracebacks of failed jobs).
# Deeper per-model checks that this script no longer runs (checkpoint reloaded on the CPU with the same exact
# log-likelihood; long DCGAN chaos runs) stay available as their own calls: benchmarks/device_check.py and
# benchmarks/lorenz_chaos.py --device cuda (see benchmarks/README.md).
#
# WHEELS. genlib's training path imports only torch, numpy, scipy, scikit-learn and pandas (sklearn itself pulls
# narwhals; torch.hub pulls tqdm): all on the machine, so the training sections need no wheel. umap-learn (and
# pynndescent) is imported lazily by the Latent explorer alone: not needed, not carried. The one wheel carried is
# plotly, for the "imports" section (genlib.figures); without it those modules are listed as not imported and
# everything else runs. Prepare it once, here, in the main checkout's root (9.2 MiB; .whl/ is git-ignored):
#
#   grep -qx '/.whl/' .git/info/exclude || echo '/.whl/' >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
#     --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl plotly==7.1.0
#
# (plotly 7.1.0 as pinned in requirements.txt; its needs, narwhals and packaging, are on the machine). Do not
# carry numpy, scipy, scikit-learn or pandas at requirements.txt's pins: the machine's compiled packages were
# built against its own numpy, and a second version of one stops the install. benchmarks/WHEELS.md has more.
#
# CPU MODE (try the script itself on a machine without a GPU; tiny budgets, GPU cells say "not run"):
#
#   nice -n 10 env GENLAB_GPU_CHECK_DEVICE=cpu PYTHON=.venv/bin/python bash benchmarks/gpu_check.sh
#
# Variables: PYTHON (default python3), OUT (default /tmp/genlab-gpu-check), GPU_CHECK_SECTIONS (comma list),
# GENLAB_GPU_CHECK_DEVICE (cuda|cpu), GPU_CHECK_INSTALL_WHEELS=0 to ignore .whl/. Arguments go to gpu_check.py.
set -uo pipefail
cd "$(dirname "$0")/.."
export OUT=${OUT:-/tmp/genlab-gpu-check}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
exec > >(tee "$OUT/gpu_check.log") 2>&1

# Carried wheels: installed into a folder of their own, --no-deps (each one's needs are on the machine or
# carried too), and put after the checkout on PYTHONPATH (genlib always comes from this checkout).
SITE=/tmp/genlab-gpu-check-site
WHEELS=""
if [ "${GPU_CHECK_INSTALL_WHEELS:-1}" != 0 ] && compgen -G ".whl/*.whl" >/dev/null; then
  if "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
      .whl/*.whl; then
    WHEELS=$(cd .whl && ls -- *.whl | sed 's/-py[0-9].*//; s/-cp[0-9].*//' | tr '\n' ' ')
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
  else
    echo "gpu_check: installing the carried wheels failed; going on without them"
  fi
fi
export GPU_CHECK_WHEELS="$WHEELS"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
GENLAB_HOME=$(mktemp -d /tmp/genlab-gpu-check-home.XXXXXX)
export GENLAB_HOME

echo "=== machine ==="
date -u
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
echo "python: $("$PY" -c 'import sys; print(sys.version.split()[0], sys.executable)')"

timeout -k 5 440 "$PY" benchmarks/gpu_check.py "$@"
rc=$?
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  echo "gpu_check: killed by its 440 s limit; the table so far is in $OUT/gpu_check.md"
fi
cp "$GENLAB_HOME"/logs/*.log "$OUT"/ 2>/dev/null
rm -rf "$GENLAB_HOME"
echo "gpu_check: exit $rc ($([ "$rc" -eq 0 ] && echo 'every row ok' || echo 'a row FAILED or the run was cut short'))"
exit "$rc"
