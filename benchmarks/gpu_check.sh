#!/usr/bin/env bash
# The GPU checks, as one prepared script for a lent GPU machine (the device tool runs it from the repository root;
# CI has no GPU and never runs it). Everything it prints goes to $OUT/gpu_check.log as well.
#
#   bash benchmarks/gpu_check.sh            # ~5 min on one H200
#
# 1. the machine: nvidia-smi, torch and CUDA versions;
# 2. benchmarks/device_check.py: every registered model trains, improves, samples and scores on CUDA, and its
#    checkpoint reloads on the CPU with the same held-out log-likelihood; speed against the CPU in the same run;
# 3. benchmarks/engine_overhead.py --device cuda: the engine's overhead against a bare loop on the GPU;
# 4. benchmarks/lorenz_chaos.py --device cuda: the Lorenz lab's DCGAN trained far longer than a CPU allows,
#    to see whether "chaos preserved?" changes with training (on the CPU it did not from 1,000 to 3,000 steps).
# Each part has its own time limit, so one slow part cannot eat the others' time.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/genlab-gpu-check}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
# The GPU machine's image has torch, numpy, scipy, scikit-learn and pandas but no pip access: genlib runs from the
# checkout (its training code needs nothing else).
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
exec > >(tee "$OUT/gpu_check.log") 2>&1

status=0
part() {  # part NAME SECONDS COMMAND...
  local name=$1 limit=$2
  shift 2
  echo
  echo "=== $name (limit ${limit}s) ==="
  local t0=$SECONDS
  timeout "$limit" "$@"
  local rc=$?
  echo "=== $name: exit $rc after $((SECONDS - t0)) s ==="
  [ "$rc" -eq 0 ] || status=1
}

echo "=== machine ==="
date -u
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi"
$PY -c 'import sys, torch; print("python", sys.version.split()[0], "| torch", torch.__version__, "| CUDA", torch.version.cuda, "| GPU", torch.cuda.is_available() and torch.cuda.get_device_name(0), "| CPUs", __import__("os").cpu_count())'

part "device_check" 150 $PY benchmarks/device_check.py --steps 300
part "engine_overhead --device cuda" 60 $PY benchmarks/engine_overhead.py --device cuda --steps 1000 --repeats 3
part "lorenz_chaos --device cuda" 200 $PY benchmarks/lorenz_chaos.py --device cuda --steps 12000 --every 4000 --n 32

echo
echo "gpu_check: $([ $status -eq 0 ] && echo 'all parts passed' || echo 'a part FAILED or ran out of time (see above)')"
exit $status
