#!/usr/bin/env bash
# Device call behind the "general passes" section of benchmarks/RESULTS.md (run from the repository root with
# PYTHONPATH set to TVM and the repository; logs and JSON go to $OUT):
#   tests   the wgmma GPU tests and every generic-lowering GPU test (pytest -m gpu)
#   bench   benchmarks/bench_general.py (matchers off)
#   all     both
set -u
PY=${PY:-/opt/torch/.venv/bin/python3}
OUT=${OUT:-/tmp/device_out}
mkdir -p "$OUT"
export TILEDSL_CACHE_DIR=${TILEDSL_CACHE_DIR:-/tmp/tiledsl-device-cache} TILEDSL_TEST_KEEP_CACHE_DIR=1 TVM_BACKTRACE=1
nvidia-smi --query-gpu=name,clocks.max.sm,power.limit,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
date -u > "$OUT/date.txt"
run() {  # run NAME TIMEOUT CMD...: log to $OUT/NAME.log, print its tail
  local name=$1 limit=$2; shift 2
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  echo "[$name] rc=$?"; tail -n ${TAIL:-8} "$OUT/$name.log"
}
stage=${1:-all}
if [ "$stage" = tests ] || [ "$stage" = all ]; then
  TAIL=25 run gpu_tests ${TESTS_LIMIT:-280} "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra \
    testing/test_wgmma.py testing/test_cuda_gpu.py
fi
if [ "$stage" = bench ] || [ "$stage" = all ]; then
  TAIL=20 run bench_general ${BENCH_LIMIT:-280} "$PY" benchmarks/bench_general.py ${BENCH_ARGS:-}
fi
