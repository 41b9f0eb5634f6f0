#!/usr/bin/env bash
# The one device call behind benchmarks/RESULTS.md "Flash attention on Hopper" (run from the repository root with
# PYTHONPATH set to TVM and the repository, $OUT a folder for the logs):
# 1. every kernel variant checked once on a small shape, each in its own process with a time limit (a hung kernel
#    cannot stall the rest); 2. testing/test_hopper_attention.py; 3. the benchmark, with the variants that passed.
set -u
PY=${PY:-/opt/torch/.venv/bin/python3}
OUT=${OUT:-/tmp/attn_out}
mkdir -p "$OUT"
export TILEDSL_CACHE_DIR=${TILEDSL_CACHE_DIR:-/tmp/tiledsl-attn-cache} TILEDSL_TEST_KEEP_CACHE_DIR=1 TVM_BACKTRACE=1
nvidia-smi --query-gpu=name,clocks.max.sm,power.limit,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
date -u > "$OUT/date.txt"
specs="tile persistent tile_nopp persistent_nopp tile:causal tile_nopp:causal"
for s in $specs; do
  ( timeout 120 "$PY" benchmarks/bench_attention_hopper.py --smoke "$s" > "$OUT/smoke_${s/:/_}.log" 2>&1
    echo "rc=$?" >> "$OUT/smoke_${s/:/_}.log" ) &
done
wait
cat "$OUT"/smoke_*.log | grep -E "SMOKE|rc=|Error" | tail -40
pass() { grep -q "SMOKE_OK $1 " "$OUT/smoke_${1/:/_}.log"; }
nc=""; for v in tile persistent tile_nopp persistent_nopp; do pass "$v" && nc="$nc,$v"; done
cv=""; for v in tile tile_nopp; do pass "$v:causal" && cv="$cv,$v"; done
echo "passing: non-causal [${nc#,}] causal [${cv#,}]"
if "$PY" -c "import pytest" 2>/dev/null; then
  timeout 200 "$PY" -m pytest -q -p no:cacheprovider testing/test_hopper_attention.py > "$OUT/pytest.log" 2>&1
  echo "pytest rc=$?" >> "$OUT/pytest.log"; tail -5 "$OUT/pytest.log"
  small=--no-small
else
  echo "no pytest on this machine: the benchmark runs its own small-shape checks"; small=""
fi
timeout ${BENCH_TIMEOUT:-240} "$PY" benchmarks/bench_attention_hopper.py $small --rounds ${ROUNDS:-7} \
  --variants "${nc#,}" --causal-variants "${cv#,}" > "$OUT/bench.log" 2>&1
echo "bench rc=$?"; tail -c 5000 "$OUT/bench.log"
