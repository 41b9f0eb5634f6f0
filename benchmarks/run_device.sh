#!/usr/bin/env bash
# Device calls behind benchmarks/RESULTS.md, one stage per call (run from the repository root with PYTHONPATH
# set to TVM and the repository; logs and JSON go to $OUT). Stages written before 2026-12-07 (the eighteenth
# session) ran with the whole-kernel shortcut on by default: rerun, their programs take the general passes unless
# TILEDSL_HOPPER_SHORTCUT=1 is set (bench_gemm_hopper.py: --shortcut; bench_attention_hopper.py sets it itself).
#   quick   the Hopper GEMM tests (split-K included), host time per launch, the skinny GEMM benchmark
#   tests   every GPU test (pytest -m gpu) and every example on the GPU
#   gemm    the GEMM benchmarks (large and skinny)
#   bench   host time per launch, softmax/RMSNorm (generic lowering), flash attention
#   attention  flash attention (tuned and fixed variants), host time per launch
#   final   every GPU test and example, then the fp8 GEMM benchmark
#   fp8     the Hopper GEMM tests and examples, then the fp8 GEMM benchmark against cuBLASLt (torch._scaled_mm)
#   causal  the attention tests, then causal flash attention: one CTA per tile against persistent
#   gqa     the attention tests and examples, then grouped-query attention in bfloat16 (4 query heads per K/V head)
#   alltests  every GPU test of the suite (pytest -m gpu, 6 xdist workers when pytest-xdist is importable)
#   general   bench_general.py (plain tile programs against their torch peers, general passes only) and
#           bench_newer_style.py (the newer-style test programs against torch)
#   wgmma   the wgmma GPU tests and every generic-lowering GPU test
#   buckets bench_tune_buckets.py on a decode-like sweep with two sizes per bucket (tuned on the first, served to
#           the second) against per-shape tuning
#   session1  every GPU test (6 xdist workers when pytest-xdist is importable), then every example on the GPU
#   session2  bench_general with the defaults (TMA rings, warp specialization), then with TILEDSL_TMA=0
#           (cp.async) to compare in the same run, then bench_newer_style
#   epilogue  the TMA-store epilogue (TILEDSL_TMA_STORE=1): its GPU tests and every warp-specialization GPU test
#           with it on, then the GEMM programs of bench_general with it off (the default) and on, same run
#   wsall   TILEDSL_WARP_SPECIALIZE=all (attention-like loops warp-specialized) and =pingpong (its two consumer
#           warpgroups taking turns at the gemms): their GPU tests, the attention programs of bench_general with
#           the default, all and pingpong, same run
#   dequant  the int8 switches (TILEDSL_OVERLAP_TRANSFORMS=1, TILEDSL_FAST_INT8_CAST=1, TILEDSL_WGMMA_MORE_TYPES=1): their
#           GPU tests, the int8-weight programs of bench_general with neither, each and both of the first two, then
#           the W8A8 GEMM against torch._int_mm with and without int8 wgmma
#   async   TILEDSL_ASYNC_GEMMS=1 (independent wgmma gemms issued together): its GPU tests, every bench_general
#           program's GPU check with it on, then the attention backward and flash attention with and without it
#   defer   TILEDSL_DEFER_LAST_GEMM=1 (a loop's last gemm run during the next iteration), TILEDSL_SPLIT_MASKS=1
#           (masks branch on uniform tiles), TILEDSL_LONGEST_FIRST=1: their GPU tests, attention with none, adding
#           one at a time, and all three with warp specialization all/pingpong
#   epilogue2  the GEMMs with and without TILEDSL_TMA_STORE=1 (2 rounds), LayerNorm with neither, each and both of
#           TILEDSL_WIDE_REGISTER_VECTORS=1 / TILEDSL_FUSE_REDUCTIONS=1 and GPU checks with both; the attention
#           backward with TILEDSL_VECTOR_ATOMICS=1 (and TILEDSL_ASYNC_GEMMS=1) against the default; the int8 tests
#   priority  for a short lease: the newest switches' GPU tests; attention with the deferred gemm, split masks and
#           longest-first, the attention backward with TILEDSL_TMA_REDUCE=1 (and TILEDSL_TILE_BARRIERS=1), each
#           against the default
#   priority2  the GEMMs with and without the TMA-store epilogue; int8-weight with TILEDSL_TILE_BARRIERS=1 and with
#           all its switches, against the default
#   defaults  the GPU tests of the files that changed with the 2026-12-05 defaults
#   configs  bench_configs.py: int8-weight (with its switches), GEMM and attention programs tuned over a small config
#           space, the winner and the benchmark's fixed config timed against the peer in the same run
#   measure1 / measure2  the short form of dequant / epilogue / wsall / async: each switch's timing against the
#           default in two calls (2 rounds each)
#   fidelity  side effects of replicated fragments, the generic GPU tests, the Hopper GEMM/attention tests and the
#           differential programs (every perturbed program's GPU result against the CPU result of the same program)
#   lease1 / lease1b / lease2 / lease2b / lease3  the calls of the 2026-12-05 evening lease (switch timings, config
#           sweeps, every GPU test with the new defaults, old against new defaults, the mended files' GPU tests)
#   final10  for a short lease: the GPU tests of the last changes, attention with and without fast exp2, every
#           bench_general program; final10a / final10b: the same split in two calls, with the raster and a wider
#           int8 M = 16 sweep
#   next12a / next12b  the calls left for the session after 2026-12-05 evening: the GPU tests, timings and config
#           sweeps of TILEDSL_WS_TRANSFORMS, TILEDSL_SPLIT_K and TILEDSL_HOISTED_FENCES; the attention backward's
#           config grid, the table
#   ncu     Nsight Compute on the int8-weight GEMM at M = 16 (benchmarks/ncu_int8_m16.py)
#   s15b    the split-K default: every GPU test and example with TILEDSL_SPLIT_K=auto, then the table
#   s17b / s17d / s17f  2026-12-06 (fifth session): int8-weight M = 16 over K and by split form at small K, Nsight
#           Compute on the attention backward, deeper rings at M = 16
#   s17e    the programs outside the table (bench_more.py): their GPU tests, then their timings
#   s18b    s18a's attention tests (and the selects' and the deferred gemm's), then flash attention persistent,
#           one CTA per tile and the shortcut, after the zero start of masks proved all-zero and K's early release
#   s18c    every GPU test (spread over 8 workers, hung tests' stacks dumped), then
#           flash attention with and without the packed conversions, and through the shortcut
#   s18d    Nsight Compute on flash attention through the general passes and the shortcut
#   s18e    TILEDSL_DESCRIPTOR_OFFSETS=1 (wgmma descriptors as base + constant): its GPU tests,
#           then the GEMM and flash attention with it off and on, and the shortcut, same call
#   s19a    2026-12-06 (seventh session): the chain-hang probe (benchmarks/probe_chain.py), then s18d
#   s19b    the probe's narrowing variants; the warp-index GPU tests; GEMM and attention with the warp index off,
#           on, on with row reciprocals, and the shortcut, same call
#   s20a    2026-12-06 (eighth session): TILEDSL_DEFER_ROW_SUMS=1: its GPU tests (and the persistent tests' new
#           expectations), then attention and flash decoding with it off / on, ping-pong, the shortcut
#   s20b    the whole table with the current defaults
#   s21a    descriptors as (tile + warp rows) + an immediate, persistent ping-pong: their GPU tests, the table
#           (1 round), attention with ping-pong and through the shortcut
#   s22a    2026-12-06 (ninth session, the first H200): every GPU test with persistent ping-pong on, then attention
#           and GQA with it and with the default, alternating
#   s22b    (prepared, not run: the lease ran out) the producer warpgroup's setmaxnreg.dec 56 instead of 40 (the
#           batched GEMM's producer spills 336 bytes with 40, none with 56; no benchmark kernel spills with 56): the
#           warp-specialized GPU tests at 56, then batched and attention at 56 and at 40 (the constant edited in this
#           copy of the tree), alternating; if 56 passes and is not slower, make it the constant (tests and
#           docs/cuda.md name 40 / 232)
#   s22c    (prepared, not run) item 5 on the H200 (the hand-written attention 8-9 % faster than the general passes,
#           non-causal): flash attention with the default, TILEDSL_ROW_RECIPROCALS=1 (the epilogue's 64 divisions per
#           thread), TILEDSL_PERSISTENT=0, TILEDSL_RASTER=0 and through the shortcut, alternating, 2 rounds
#   s24a    (prepared 2026-12-06, superseded by s25a) the README example and tuning tests on the GPU, the table
#   s26a    (prepared 2026-12-07, for the next session, on an H200) the attention variants with the new default
#           against the fenced wait, P converted before the wait (source edit) and the shortcut, then s25e
#   s26b    (prepared) s24a: the README example and tuning tests, then the table with the current defaults
#   s28a    (2026-12-07, thirteenth session) W8A8 on wgmma by default, split int32 accumulators, the split-K
#           epilogue's early reads: the whole GPU suite, the split-K timeline and variants, W8A8 over tile configs
#           against torch._int_mm, FMA once
#   s28b    the README example and tuning tests, the table (2 rounds), then s28c
#   s33c    (2026-12-07, seventeenth session) every GPU test with the three new defaults (shortcut off)
#   s34a    (2026-12-07, eighteenth session) every GPU test with the shortcut off by default, skinny 128 rows
#   s34b    (2026-12-07, eighteenth session) bench_general, the autotuned fp8 GEMM on the default path
#   s34c    (2026-12-07, eighteenth session) the fp8 linear on both paths against float64, TileLang's attention config
#   s34d    (2026-12-07, eighteenth session) int8-weight M = 16 over configs and splits, the promoted fp8 GEMM's GPU
#           tests and times
#   s34e    (2026-12-07, eighteenth session) the fp8 benchmark (new check, both cuBLASLt modes), attention release
#   s34f    (2026-12-07, eighteenth session) every GPU test with TILEDSL_WARPGROUP_RELEASE=1
#   s36a    (2026-12-08, twentieth session) s35a with split-K's cluster form through shared memory (DSMEM), then the
#           M = 16 kernel in that form over stage counts and parts (run this one; it covers s35a)
#   s36b    (2026-12-08, twentieth session) TileLang's convolution example against cuDNN (probe_conv.py), then s34e
#   s35a    (2026-12-07, nineteenth session; never ran) the same GPU tests and timings without the cluster form:
#           removed, s36a covers it
#   s33g    (2026-12-07, seventeenth session) only the GPU tests of the two fixes
#   s33f    (2026-12-07, seventeenth session) GPU tests of the deferred row sums fix, TileLang's attention config
#   s33e    (2026-12-07, seventeenth session) the three new defaults against none, round-robin, 3 attention programs
#   s33d    (2026-12-07, seventeenth session) every general program with the three new defaults, then without
#   s33b    (2026-12-07, seventeenth session) packed / row sums / reciprocals apart, attention at three configs
#   s33a    (2026-12-07, seventeenth session) the four-warpgroup general GEMM test, then s32d
#   s32d    (2026-12-07, sixteenth session) s32c, then TileLang's attention config (64 x 64, 128 threads) in
#           variants against the shortcut (the largest item-5 gap: 0.647 against 0.802x SDPA)
#   s32c    (2026-12-07, sixteenth session) split-K's new defaults (group count, register order, auto = last):
#           int8-weight M = 16 against the old defaults, skinny fp16 GEMMs autotuned through the general passes
#   s32a    (2026-12-07, sixteenth session) the shortcut GEMM with 3 and 4 consumer warpgroups (register budget),
#           then s31d
#   s31e    (2026-12-07, fifteenth session) the GPU tests of the session's opt-ins (run first next time)
#   s31d    (2026-12-07, fifteenth session) s31e, then attention written with num_stages=1 timed, the skinny probe
#   s31c    (2026-12-07, fifteenth session) s31b and s31a in one call for a short lease, after every GPU test
#   s31b    (2026-12-07, fifteenth session) num_stages=1 one iteration ahead: GPU tests, attention written so
#   s31a    (2026-12-07, fifteenth session) skinny split-K GEMMs: both paths' timelines and times (probe_skinny_split)
#   s30g    (ran 2026-12-07, fifteenth session; prepared 2026-12-07 for the next session) TILEDSL_SPLIT_K_GROUP_COUNT: GPU tests, int8 M = 16, skinny
#   s30f    (2026-12-07, fourteenth session) skinny GEMMs, shortcut against general passes with tunable split-K
#   s30e    (2026-12-07, fourteenth session) the table and W8A8 both layouts, for an H200
#   s30c    (2026-12-07, fourteenth session) the whole GPU suite (ran with the shortcut off by default: not landed)
#   s30d    GEMMs autotuned through the shortcut and the general passes; README example and tuning tests
#   s30a    (2026-12-07, fourteenth session) K-major copies of 8-bit MN-major operands: GPU tests, W8A8 with B [K, N]
#   s29a    (ran 2026-12-07, fourteenth session) the whole GPU suite, W8A8 over tile configs, then s24a
#   s28t    s28a for a short lease: the changed passes' GPU tests, W8A8 over tile configs, the split-K timeline
#   s28c    the attention forward's opt-in schedules (ping-pong, deferred row sums, combined) against the default and
#           the shortcut, 7 rounds
#   s27a    (ran 2026-12-07, thirteenth session) W8A8 gemms on wgmma (then opt-in): their GPU tests, then against
#           torch._int_mm, and FMA
#           (s27b, the double-staged reduce-adds, ran the same day: no faster; the switch was removed)
#   s26g    the last part's sum unrolled without branches: split-K GPU tests, the timeline and variants, int8 programs
#   s26f    the split-K ticket as one release-acquire atomic: the split-K GPU tests, the timeline and its variants,
#           then the int8-weight programs of the table
#   s26c    the int8-weight GEMM at M = 16: each block's timeline (%globaltimer at five points), edits timed
#   s25a    2026-12-07 (eleventh session): the README example and tuning tests on the GPU, then the attention
#           forward's variants (probe_attention_variants.py: switches, edits of the general kernel's source, the
#           shortcut) round-robin in one process
#   s25c    the README example on the GPU again, the attention variants (7 rounds), the GPU tests of the attention
#           programs with ping-pong, packed conversions, deferred row sums and row reciprocals on together
#   s25d    the deferred wait left to ptxas: its GPU tests, then against the default and the shortcut (10 rounds)
#   s25e    Nsight Compute on the attention forward with the deferred wait left to ptxas
#   s25b    Nsight Compute on the attention forward, general passes and shortcut (s18d on the current code)
#   s17i    the whole-kernel shortcut against the general passes (GEMM, flash attention), same call
#   s16d    every GPU test, 8 workers, each test named in the log, hung tests' stacks dumped (the first call of a
#           session after code changes)
#   s18a    persistent grids for general attention loops: their GPU tests (and the attention suites'), then flash
#           attention persistent, one CTA per tile (TILEDSL_PERSISTENT=0), the shortcut, longest-first, no raster
#   s16f    the group-scaled form's GPU tests, every int8 form timed (bench_dequant_forms.py)
#   s16e    the weight stored [N, K] in registers: GPU tests, bench_dequant_forms.py
#   s16a / s16b  TILEDSL_REGISTER_DEQUANT=1: its GPU tests and the int8-weight programs off and on; its config sweeps
#   s15a    2026-12-06 (third session): split-K summed by the last part (GPU tests, int8-weight M = 16 per sum form)
#   s14a    2026-12-06: split-K with TILEDSL_SPLIT_K_CLUSTER=1 (GPU tests, int8-weight M = 16 sweep), backward, M = 16
#   s13a / s13b  2026-12-06: every GPU test, the hoisted-fence and waits-past-barriers tests, the backward timed
#           with both switches; int8-weight M = 16 timed, then tuned with split-K off and auto; the table
#   next13  the next session's first call: the attention backward's 16 tile configs and the hoisted-fence tests with
#           TILEDSL_HOISTED_FENCES=1 (the staging-fence fix of 2026-12-05 late evening, unrun on a GPU: if they
#           pass, the switch can be the default), then every bench_general program with the defaults (the table)
#   next11a / next11b  the next session's first two calls: every GPU test with the current defaults; then the
#           opt-in mask-after-gemm, operand-read hoist and row reciprocals (tests, timings), the wider int8 sweep
#   hoist   TILEDSL_HOIST_OPERAND_READS=1: its GPU tests, then the attention backward with and without it
#   maskafter  TILEDSL_MASK_AFTER_GEMM=1: its GPU tests, then flash attention (causal and not) with and without it
# A stage that times a switch writes one JSON report per setting; benchmarks/compare_runs.py puts them side by side
# (each run's time and ratio, and its speed against the first report).
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
  echo "[$name] rc=$?"; tail -n ${TAIL:-6} "$OUT/$name.log"
}
passed() {  # passed NAME: the pytest log $OUT/NAME.log reports passes and no failure or error
  grep -q " passed" "$OUT/$1.log" && ! grep -q "failed\|error" "$OUT/$1.log"
}
bench_as() {  # bench_as NAME TIMEOUT REPORT ARGS...: run bench_general.py ARGS as NAME, its JSON kept as REPORT.json
  local name=$1 limit=$2 report=$3; shift 3
  run "$name" "$limit" "$PY" benchmarks/bench_general.py "$@"
  mv "$OUT/bench_general.json" "$OUT/$report.json"
}
one_stage_and_skinny() {  # ROUNDS LIMIT_GENERAL LIMIT_SHORTCUT LIMIT_PROBE: flash attention written with
  # num_stages=1 against SDPA on both paths, then the skinny split-K probe at 16 rows
  TILEDSL_ONE_STAGE_AHEAD=1 TAIL=8 bench_as one_stage_general "$2" one_stage_general --rounds "$1" \
    --only flash_attention,flash_attention_stages1,flash_attention_tl_config
  TAIL=8 bench_as one_stage_shortcut "$3" one_stage_shortcut --rounds "$1" --shortcut \
    --only flash_attention_stages1,flash_attention_tl_config
  TAIL=16 run skinny_probe_16 "$4" "$PY" benchmarks/probe_skinny_split.py --rows 16 --rounds 5 \
    --out "$OUT/skinny_probe_16.json"
}
case "${1:-quick}" in
  session1)
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 6 --dist loadfile)
    TAIL=30 run gpu_tests 400 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" testing
    TAIL=6 run examples 150 "$PY" -m pytest -q -p no:cacheprovider testing/test_examples.py
    ;;
  session2)
    TAIL=30 run bench_general 200 "$PY" benchmarks/bench_general.py --rounds 3
    mv "$OUT/bench_general.json" "$OUT/bench_general_default.json"
    TILEDSL_TMA=0 TAIL=20 run bench_cp_async 150 "$PY" benchmarks/bench_general.py --rounds 2
    mv "$OUT/bench_general.json" "$OUT/bench_general_cp_async.json"
    TAIL=15 run bench_newer_style 110 "$PY" benchmarks/bench_newer_style.py --rounds 3
    ;;
  epilogue)
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 6)
    TAIL=20 run tma_store_tests 240 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" \
      testing/test_tma.py testing/test_wgmma.py testing/test_bench_general.py
    TILEDSL_TMA_STORE=1 TAIL=20 run tma_store_all_ws 240 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra \
      "${xdist[@]}" testing/test_tma.py testing/test_bench_general.py testing/test_cuda_limits.py
    only=gemm,gemm_8192,gemm_staged,gemm_residual,gemm_A_T,gemm_B_T,batched,swiglu,grouped
    TAIL=12 run bench_plain_stores 150 "$PY" benchmarks/bench_general.py --only $only --rounds 3
    mv "$OUT/bench_general.json" "$OUT/bench_general_plain_stores.json"
    TILEDSL_TMA_STORE=1 TAIL=12 run bench_tma_store 150 "$PY" benchmarks/bench_general.py --only $only --rounds 3
    mv "$OUT/bench_general.json" "$OUT/bench_general_tma_store.json"
    ;;
  wsall)
    TILEDSL_WARP_SPECIALIZE=all TAIL=20 run wsall_tests 300 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra \
      testing/test_tma.py testing/test_hopper_attention.py testing/test_bench_general.py
    only=flash_attention,flash_attention_causal,flash_decode
    TAIL=8 run bench_attention_default 120 "$PY" benchmarks/bench_general.py --only $only --rounds 3
    mv "$OUT/bench_general.json" "$OUT/bench_general_attention_default.json"
    TILEDSL_WARP_SPECIALIZE=all TAIL=8 run bench_attention_wsall 120 "$PY" benchmarks/bench_general.py --only $only \
      --rounds 3
    mv "$OUT/bench_general.json" "$OUT/bench_general_attention_wsall.json"
    TILEDSL_WARP_SPECIALIZE=pingpong TAIL=8 run pingpong_tests 150 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra \
      testing/test_bench_general.py -k "attention or decode"
    TILEDSL_WARP_SPECIALIZE=pingpong TAIL=8 run bench_attention_pingpong 120 "$PY" benchmarks/bench_general.py \
      --only $only --rounds 3
    mv "$OUT/bench_general.json" "$OUT/bench_general_attention_pingpong.json"
    ;;
  dequant)
    TAIL=20 run dequant_tests 240 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra testing/test_dequant_pipeline.py \
      testing/test_wgmma_more_types.py
    only=int8_weight_m4096,int8_weight_m16
    for sw in "0 0" "1 0" "0 1" "1 1"; do
      set -- $sw
      TILEDSL_OVERLAP_TRANSFORMS=$1 TILEDSL_FAST_INT8_CAST=$2 TAIL=4 run "bench_int8_$1$2" 90 "$PY" \
        benchmarks/bench_general.py --only $only --rounds 3
      mv "$OUT/bench_general.json" "$OUT/bench_general_int8_overlap$1_fast$2.json"
    done
    TILEDSL_WGMMA_MORE_TYPES=1 TAIL=4 run bench_w8a8_wgmma 90 "$PY" benchmarks/bench_int8_gemm.py --rounds 3
    mv "$OUT/bench_int8_gemm.json" "$OUT/bench_int8_gemm_wgmma.json"
    TILEDSL_WGMMA_MORE_TYPES=0 TAIL=4 run bench_w8a8_fma 90 "$PY" benchmarks/bench_int8_gemm.py --shapes 4096x4096x4096 \
      --configs 128x128x64x3x256 --rounds 1
    mv "$OUT/bench_int8_gemm.json" "$OUT/bench_int8_gemm_fma.json"
    ;;
  async)
    TAIL=12 run async_tests 200 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra testing/test_async_gemms.py
    TILEDSL_ASYNC_GEMMS=1 TAIL=12 run async_general_tests 200 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra \
      testing/test_bench_general.py testing/test_wgmma.py
    only=attention_bwd,attention_bwd_causal,flash_attention,swiglu
    TAIL=6 run bench_async_off 150 "$PY" benchmarks/bench_general.py --only $only --rounds 3
    mv "$OUT/bench_general.json" "$OUT/bench_general_async_off.json"
    TILEDSL_ASYNC_GEMMS=1 TAIL=6 run bench_async_on 150 "$PY" benchmarks/bench_general.py --only $only --rounds 3
    mv "$OUT/bench_general.json" "$OUT/bench_general_async_on.json"
    ;;
  defer)  # TILEDSL_DEFER_LAST_GEMM=1, TILEDSL_SPLIT_MASKS=1, TILEDSL_LONGEST_FIRST=1: their GPU tests, then attention
    # timed with none, then adding one at a time, then all three under warp specialization (all, pingpong)
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 6)
    TAIL=8 run defer_tests 240 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" \
      testing/test_deferred_gemm.py testing/test_uniform_selects.py testing/test_longest_first.py
    TILEDSL_DEFER_LAST_GEMM=1 TILEDSL_SPLIT_MASKS=1 TILEDSL_LONGEST_FIRST=1 TAIL=8 run defer_general_tests 200 "$PY" \
      -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" testing/test_bench_general.py testing/test_tma.py \
      -k "attention or decode"
    only=flash_attention,flash_attention_causal,flash_decode
    for sw in "0 0 0 1" "1 0 0 1" "1 1 0 1" "1 1 1 1" "1 1 1 all" "1 1 1 pingpong"; do
      set -- $sw
      TILEDSL_DEFER_LAST_GEMM=$1 TILEDSL_SPLIT_MASKS=$2 TILEDSL_LONGEST_FIRST=$3 TILEDSL_WARP_SPECIALIZE=$4 TAIL=4 \
        bench_as "bench_attn_$1$2$3$4" 100 "attn_defer$1_split$2_longest$3_ws$4" --only $only --rounds 2
    done
    ;;
  priority)  # one call for a short lease: the GPU tests of the newest switches, then attention with the three
    # attention switches, then the attention backward with TMA reduce-adds (and tile barriers), each against the
    # default (2 rounds)
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 6)
    TAIL=8 run priority_tests 200 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" \
      testing/test_deferred_gemm.py testing/test_uniform_selects.py testing/test_longest_first.py \
      testing/test_tile_barriers.py testing/test_tma_reduce.py
    only=flash_attention,flash_attention_causal
    TAIL=4 bench_as bench_attn_default 100 attn_default --only $only --rounds 2
    TILEDSL_DEFER_LAST_GEMM=1 TILEDSL_SPLIT_MASKS=1 TILEDSL_LONGEST_FIRST=1 TAIL=4 \
      bench_as bench_attn_three 100 attn_three --only $only --rounds 2
    only=attention_bwd,attention_bwd_causal
    TAIL=4 bench_as bench_bwd_default 100 bwd_default --only $only --rounds 2
    TILEDSL_TMA_REDUCE=1 TAIL=4 bench_as bench_bwd_tma_reduce 100 bwd_tma_reduce --only $only --rounds 2
    TILEDSL_TMA_REDUCE=1 TILEDSL_TILE_BARRIERS=1 TAIL=4 \
      bench_as bench_bwd_reduce_barriers 100 bwd_reduce_barriers --only $only --rounds 2
    ;;
  priority2)  # the GEMMs with and without the TMA-store epilogue; int8-weight with tile barriers and with all its
    # switches, each against the default (2 rounds)
    only=gemm,gemm_8192
    TAIL=4 bench_as bench_gemm_default 100 gemm_default --only $only --rounds 2
    TILEDSL_TMA_STORE=1 TAIL=4 bench_as bench_gemm_tma_store 100 gemm_tma_store --only $only --rounds 2
    only=int8_weight_m16,int8_weight_m4096
    TAIL=4 bench_as bench_int8_default 100 int8_default --only $only --rounds 2
    TILEDSL_TILE_BARRIERS=1 TAIL=4 bench_as bench_int8_tile_barriers 100 int8_tile_barriers --only $only --rounds 2
    TILEDSL_TILE_BARRIERS=1 TILEDSL_OVERLAP_TRANSFORMS=1 TILEDSL_FAST_INT8_CAST=1 TAIL=4 \
      bench_as bench_int8_all 100 int8_all --only $only --rounds 2
    ;;
  epilogue2)  # the GEMMs with and without the TMA-store epilogue; LayerNorm with neither, each and both of
    # TILEDSL_WIDE_REGISTER_VECTORS=1 and TILEDSL_FUSE_REDUCTIONS=1, and the GPU checks with both on; the attention
    # backward's GPU checks with TILEDSL_VECTOR_ATOMICS=1, and its timing with it (and TILEDSL_ASYNC_GEMMS=1) against
    # the default; then the mended int8 tests
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 6)
    only=gemm,gemm_8192,batched,gemm_A_T
    TAIL=6 bench_as bench_gemm_default 120 gemm_default --only $only --rounds 2
    TILEDSL_TMA_STORE=1 TAIL=6 bench_as bench_gemm_tma_store 120 gemm_tma_store --only $only --rounds 2
    for sw in "0 0" "1 0" "0 1" "1 1"; do
      set -- $sw
      TILEDSL_WIDE_REGISTER_VECTORS=$1 TILEDSL_FUSE_REDUCTIONS=$2 TAIL=4 \
        bench_as "bench_ln_$1$2" 60 "ln_wide$1_fuse$2" --only layernorm --rounds 3
    done
    TILEDSL_WIDE_REGISTER_VECTORS=1 TILEDSL_FUSE_REDUCTIONS=1 TAIL=8 run wide_tests 200 "$PY" -m pytest -q \
      -p no:cacheprovider -m gpu -ra "${xdist[@]}" testing/test_bench_general.py testing/test_cuda_gpu.py \
      testing/test_cuda_programs.py testing/test_fused_reductions.py
    TILEDSL_VECTOR_ATOMICS=1 TAIL=8 run vector_atomics_tests 200 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra \
      "${xdist[@]}" testing/test_vector_atomics.py testing/test_bench_general.py -k "atomic or bwd or added"
    only=attention_bwd,attention_bwd_causal
    for sw in "0 0" "1 0" "1 1"; do
      set -- $sw
      TILEDSL_VECTOR_ATOMICS=$1 TILEDSL_ASYNC_GEMMS=$2 TAIL=4 \
        bench_as "bench_bwd_$1$2" 120 "bwd_vector$1_async$2" --only $only --rounds 2
    done
    TAIL=8 run more_types_tests 150 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra testing/test_wgmma_more_types.py
    ;;
  lease1)  # one call: the GPU tests of the 2026-12-05 defaults, the int8 M=16 config sweep, LayerNorm with its two
    # switches, the attention backward with vector atomics and async gemms (each timing against the default)
    bash "$0" defaults
    int8=TILEDSL_OVERLAP_TRANSFORMS=1,TILEDSL_FAST_INT8_CAST=1,TILEDSL_TILE_BARRIERS=1
    TAIL=4 run configs_int8_weight_m16 200 "$PY" benchmarks/bench_configs.py --only int8_weight_m16 --rounds 3 \
      --switches "$int8"
    mv "$OUT/bench_configs.json" "$OUT/configs_int8_weight_m16.json"
    for sw in "0 0" "1 0" "0 1" "1 1"; do
      set -- $sw
      TILEDSL_WIDE_REGISTER_VECTORS=$1 TILEDSL_FUSE_REDUCTIONS=$2 TAIL=3 \
        bench_as "bench_ln_$1$2" 60 "ln_wide$1_fuse$2" --only layernorm --rounds 3
    done
    for sw in "0 0" "1 0" "0 1" "1 1"; do
      set -- $sw
      TILEDSL_VECTOR_ATOMICS=$1 TILEDSL_ASYNC_GEMMS=$2 TAIL=3 \
        bench_as "bench_bwd_$1$2" 100 "bwd_vector$1_async$2" --only attention_bwd,attention_bwd_causal --rounds 2
    done
    ;;
  lease1b)  # one call: the attention schedules one at a time and under warp specialization, then config sweeps
    only=flash_attention,flash_attention_causal
    for sw in "0 0 0 1" "1 0 0 1" "0 1 0 1" "0 0 1 1" "0 0 0 all" "1 0 0 all" "0 0 0 pingpong"; do
      set -- $sw
      TILEDSL_DEFER_LAST_GEMM=$1 TILEDSL_SPLIT_MASKS=$2 TILEDSL_LONGEST_FIRST=$3 TILEDSL_WARP_SPECIALIZE=$4 TAIL=3 \
        bench_as "bench_attn_$1$2$3$4" 100 "attn_defer$1_split$2_longest$3_ws$4" --only $only --rounds 2
    done
    for p in flash_attention_causal gemm_8192 int8_weight_m4096; do
      case $p in int8*) sw=TILEDSL_OVERLAP_TRANSFORMS=1,TILEDSL_FAST_INT8_CAST=1,TILEDSL_TILE_BARRIERS=1 ;; *) sw= ;; esac
      TAIL=3 run "configs_$p" 150 "$PY" benchmarks/bench_configs.py --only $p --rounds 2 --switches "$sw"
      mv "$OUT/bench_configs.json" "$OUT/configs_$p.json"
    done
    ;;
  lease2)  # one call: every GPU test of the suite with the defaults of 2026-12-05 evening (warp specialization of
    # attention loops, the deferred gemm, split masks, async gemms, wide register vectors, TMA vector loads)
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist loadfile)
    TAIL=30 run gpu_tests 560 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" testing
    ;;
  lease3)  # one call: the GPU tests of the files mended after lease2's run (the deferred gemm refused where both
    # gemms read a loaded tile: MLA decode computed garbage with it), with the TMA vector loads
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist loadfile)
    TAIL=20 run gpu_tests_mended 400 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" \
      testing/test_deferred_gemm.py testing/test_tma.py testing/test_smem_fit.py testing/test_bench_general.py \
      testing/test_tma_vectors.py testing/test_async_gemms.py testing/test_uniform_selects.py
    ;;
  next11a)  # the next session's first call: every GPU test of the suite with the defaults of 2026-12-05 17:30 UTC
    # (fast exp2 and the grouped raster never ran the whole suite as defaults)
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist loadfile)
    TAIL=30 run gpu_tests 560 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" testing
    ;;
  next11b)  # the next session's second call: the three opt-in schedules built without a GPU (their GPU tests, then
    # each program with and without), and the wider int8 M = 16 sweep
    bash "$0" maskafter
    bash "$0" hoist
    TAIL=6 run reciprocal_tests 120 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra testing/test_row_reciprocals.py
    for r in 0 1 0 1; do
      TILEDSL_ROW_RECIPROCALS=$r TAIL=3 run "bench_attn_reciprocals$r" 90 "$PY" benchmarks/bench_general.py \
        --only flash_attention,flash_attention_causal --rounds 2
    done
    int8=TILEDSL_OVERLAP_TRANSFORMS=1,TILEDSL_FAST_INT8_CAST=1,TILEDSL_TILE_BARRIERS=1
    TAIL=2 run configs_int8_weight_m16 150 "$PY" benchmarks/bench_configs.py --only int8_weight_m16 --rounds 3 \
      --switches "$int8"
    ;;
  s11a)  # after next11b's call lost the machine: the two opt-in schedules that cannot stall a kernel (row
    # reciprocals, the mask after the score gemm), their GPU tests, then attention with each off and on
    TAIL=6 run reciprocal_tests 120 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra testing/test_row_reciprocals.py
    TAIL=6 run mask_after_tests 120 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra testing/test_mask_after_gemm.py
    only=flash_attention,flash_attention_causal
    for r in 0 1; do
      TILEDSL_ROW_RECIPROCALS=$r TAIL=3 bench_as "bench_attn_reciprocals$r" 90 attn_reciprocals$r --only $only --rounds 2
      TILEDSL_MASK_AFTER_GEMM=$r TAIL=3 bench_as "bench_attn_mask_after$r" 90 attn_mask_after$r --only $only --rounds 2
    done
    ;;
  s11b)  # the hoisted operand reads (they move a store across wgmma waits): their GPU tests alone first
    TAIL=6 run hoist_tests 120 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra testing/test_async_gemms.py
    for h in 0 1; do
      TILEDSL_HOIST_OPERAND_READS=$h TAIL=3 bench_as "bench_bwd_hoist$h" 90 bwd_hoist$h \
        --only attention_bwd,attention_bwd_causal --rounds 2
    done
    ;;
  s11c)  # the int8-weight programs tuned over the widened spaces of bench_configs.py (16-column tiles and 64 threads
    # at M = 16; 32-deep tiles and 5-8 stages at M = 4096), with the defaults
    for p in int8_weight_m16 int8_weight_m4096; do
      TAIL=2 run "configs_$p" 240 "$PY" benchmarks/bench_configs.py --only $p --rounds 3
      mv "$OUT/bench_configs.json" "$OUT/configs_$p.json"
    done
    ;;
  s11d)  # the GPU tests of the files changed since s11c (double staging of the TMA reduce-add, TileLang's fast-math
    # flags, the hoisted operand reads as a default, the int8 M = 16 config), then the attention backward with
    # TILEDSL_DOUBLE_STAGING=0 / 1, twice each (the double staging was slower and has been taken out since: with
    # this tree the switch does nothing; RESULTS.md has the figures)
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist loadfile)
    TAIL=8 run gpu_tests_s11 240 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" \
      testing/test_tma_reduce.py testing/test_tilelang_compat.py testing/test_async_gemms.py \
      testing/test_bench_general.py testing/test_tile_barriers.py testing/test_tma.py
    for d in 0 1 0 1; do
      TILEDSL_DOUBLE_STAGING=$d TAIL=3 run "bench_bwd_staging$d" 90 "$PY" benchmarks/bench_general.py \
        --only attention_bwd,attention_bwd_causal --rounds 2
      cat "$OUT/bench_general.json" >> "$OUT/bwd_staging$d.json"; echo >> "$OUT/bwd_staging$d.json"
    done
    ;;
  s11e)  # every bench_general program with the defaults (the table), 2 rounds
    TAIL=40 run bench_general 500 "$PY" benchmarks/bench_general.py --rounds 2
    ;;
  s11f)  # TILEDSL_WS_TRANSFORMS=1 (the int8-weight loop warp-specialized, the weight on TMA too): the dequant GPU
    # tests (every switch combination, a persistent grid of 2 CTAs), then, only if they pass, int8-weight M = 4096
    # with the switch off / on twice each, and the config sweep with it on
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8)
    TAIL=8 run ws_transform_tests 100 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra -x "${xdist[@]}" \
      testing/test_dequant_pipeline.py
    passed ws_transform_tests || exit 0
    for w in 0 1 0 1; do
      TILEDSL_WS_TRANSFORMS=$w TAIL=2 run "bench_int8_ws$w" 60 "$PY" benchmarks/bench_general.py \
        --only int8_weight_m4096 --rounds 2
      cat "$OUT/bench_general.json" >> "$OUT/int8_ws$w.json"; echo >> "$OUT/int8_ws$w.json"
    done
    TAIL=2 run configs_int8_ws 120 "$PY" benchmarks/bench_configs.py --only int8_weight_m4096 --rounds 3 \
      --switches TILEDSL_WS_TRANSFORMS=1
    mv "$OUT/bench_configs.json" "$OUT/configs_int8_ws.json"
    ;;
  s12a)  # TILEDSL_SPLIT_K (split-K of few-block GEMMs): its GPU tests, then int8-weight M = 16 tuned with
    # TILEDSL_SPLIT_K=auto over bench_configs.py's space (more columns per block: fewer blocks, split further), and
    # the benchmark's config with 0 / auto / 2 / 4
    TAIL=6 run split_k_tests 120 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra -x testing/test_split_k.py
    passed split_k_tests || exit 0
    TAIL=2 run configs_int8_m16_split 150 "$PY" benchmarks/bench_configs.py --only int8_weight_m16 --rounds 3 \
      --switches TILEDSL_SPLIT_K=auto
    mv "$OUT/bench_configs.json" "$OUT/configs_int8_m16_split.json"
    for s in 0 auto 2 4; do
      TILEDSL_SPLIT_K=$s TAIL=2 run "bench_int8_m16_split_$s" 60 "$PY" benchmarks/bench_general.py \
        --only int8_weight_m16 --rounds 2
    done
    ;;
  next12a)  # the next session's first call: the opt-in schedules built after 2026-12-05's device time ran out
    # (TILEDSL_WS_TRANSFORMS, TILEDSL_SPLIT_K, TILEDSL_HOISTED_FENCES): their GPU tests, timings and config sweeps
    bash "$0" s11f
    bash "$0" s12a
    bash "$0" s12b
    ;;
  s13a)  # the first call of 2026-12-06: every GPU test with the defaults and TILEDSL_PLAIN_POOL=1 (the shared pool
    # of kernels without wgmma tiles: the int8-weight GEMM on mma.sync loses 7 barriers per k step); the hoisted-fence and
    # waits-past-barriers tests with both switches on; the attention backward timed with the switches
    # (fences, waits) = 00 and 11; int8-weight M = 16 at the benchmark's config
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8)
    TILEDSL_PLAIN_POOL=1 TAIL=25 run gpu_tests 300 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" \
      testing
    TILEDSL_HOISTED_FENCES=1 TILEDSL_WAITS_PAST_BARRIERS=1 TAIL=8 run switch_tests 120 "$PY" -m pytest -q \
      -p no:cacheprovider -m gpu -ra "${xdist[@]}" testing/test_hoisted_fences.py testing/test_waits_past_barriers.py \
      testing/test_bench_general.py -k "configs_on_gpu or hoisted or waits"
    passed switch_tests && for fw in 00 11; do
      TILEDSL_HOISTED_FENCES=${fw:0:1} TILEDSL_WAITS_PAST_BARRIERS=${fw:1:1} TAIL=3 run "bench_bwd_$fw" 70 "$PY" \
        benchmarks/bench_general.py --only attention_bwd,attention_bwd_causal --rounds 2
      mv "$OUT/bench_general.json" "$OUT/bwd_$fw.json"
    done
    for p in 0 1; do
      TILEDSL_PLAIN_POOL=$p TAIL=2 run "bench_int8_m16_pool$p" 60 "$PY" benchmarks/bench_general.py \
        --only int8_weight_m16 --rounds 2
    done
    ;;
  ncu)  # Nsight Compute on the int8-weight GEMM at M = 16 (the best split config of 2026-12-06): report and text
    NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
    run ncu_int8_m16 200 "$NCU" -k regex:kernel_kernel --launch-skip 6 --launch-count 1 --set full \
      -o "$OUT/ncu_int8_m16" "$PY" benchmarks/ncu_int8_m16.py
    "$NCU" --import "$OUT/ncu_int8_m16.ncu-rep" --page details > "$OUT/ncu_int8_m16.txt" 2>&1
    ;;
  s15b)  # the split-K default (auto): every GPU test with TILEDSL_SPLIT_K=auto (the suite's programs, which its
    # conftest keeps unsplit otherwise, split wherever their grids are small), the examples likewise, then the table
    TILEDSL_SPLIT_K=auto TAIL=30 run gpu_tests_split_auto 300 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra \
      -n 8 testing
    TILEDSL_SPLIT_K=auto TAIL=6 run examples_split_auto 100 "$PY" -m pytest -q -p no:cacheprovider \
      testing/test_examples.py
    TAIL=30 run bench_general 150 "$PY" benchmarks/bench_general.py --rounds 2
    ;;
  s17b)  # the int8-weight GEMM at M = 16 over K (fixed cost against streaming), then Nsight Compute on the
    # attention backward's main kernel (stall reasons) and on the M = 16 GEMM
    TAIL=10 run m16_sizes 200 "$PY" benchmarks/bench_split_k.py --rounds 3 --ks 256,512,1024,2048,4096,8192 --copy \
      --tiles 16,128,64,256,8 --settings auto:auto
    mv "$OUT/bench_split_k.json" "$OUT/m16_sizes.json"
    NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
    run ncu_bwd 200 "$NCU" -k regex:kernel_kernel --launch-skip 4 --launch-count 1 --set full \
      -o "$OUT/ncu_bwd" "$PY" benchmarks/ncu_program.py attention_bwd 3
    "$NCU" --import "$OUT/ncu_bwd.ncu-rep" --page details > "$OUT/ncu_bwd.txt" 2>&1
    "$NCU" --import "$OUT/ncu_bwd.ncu-rep" --page raw --csv > "$OUT/ncu_bwd_raw.csv" 2>&1
    "$NCU" --import "$OUT/ncu_bwd.ncu-rep" --page source --csv --print-source sass > "$OUT/ncu_bwd_sass.csv" 2>&1
    rm -f "$OUT/ncu_bwd.ncu-rep"
    ;;
  s17d)  # int8-weight M = 16: deeper rings (the whole part's weight in flight from the start) by split parts
    TAIL=30 run split_k_m16_deep 300 "$PY" benchmarks/bench_split_k.py --rounds 2 \
      --tiles "16,128,64,256,8;16,128,64,256,12;16,128,64,256,16;16,128,128,256,6;16,128,128,256,8;16,64,128,128,12" \
      --settings "auto:auto,8:last,2:last"
    ;;
  s17e)  # programs outside bench_general's table (testing/more_programs.py): their GPU tests, then bench_more.py
    # (ONLY=name,name times those alone)
    TAIL=6 run more_tests 200 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra testing/test_more_programs.py
    TAIL=12 run bench_more 300 "$PY" benchmarks/bench_more.py --rounds 3 ${ONLY:+--only "$ONLY"}
    ;;
  s17f)  # int8-weight M = 16 at small K: split parts (none, 2, 4 summed by the last part; 2 in a second launch)
    TAIL=20 run m16_small_k 300 "$PY" benchmarks/bench_split_k.py --rounds 3 --ks 512,1024,2048 --copy \
      --tiles 16,128,64,256,8 --settings "auto:auto,0:auto,2:last,4:last,2:launch"
    mv "$OUT/bench_split_k.json" "$OUT/m16_small_k.json"
    ;;
  s18a)  # 2026-12-06 (sixth session): persistent grids for loops with loads before them / a deferred gemm
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist loadfile)
    TAIL=12 run persistent_tests 240 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" \
      testing/test_persistent_general.py testing/test_deferred_gemm.py testing/test_longest_first.py \
      testing/test_more_programs.py testing/test_bench_general.py
    A=flash_attention,flash_attention_causal
    TAIL=4 bench_as persistent 100 persistent --rounds 3 --only $A
    TILEDSL_PERSISTENT=0 TAIL=4 bench_as one_cta_per_tile 100 one_cta_per_tile --rounds 3 --only $A
    TAIL=4 bench_as shortcut 100 shortcut --rounds 3 --only $A --shortcut
    TILEDSL_LONGEST_FIRST=1 TAIL=4 bench_as longest_first 60 longest_first --rounds 3 --only flash_attention_causal
    TILEDSL_RASTER=0 TAIL=4 bench_as raster0 100 raster0 --rounds 3 --only $A
    ;;
  s18b)  # the attention programs' GPU tests, then flash attention (persistent, one CTA per tile, the shortcut)
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist loadfile)
    TAIL=12 run attention_tests 300 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" \
      testing/test_persistent_general.py testing/test_deferred_gemm.py testing/test_longest_first.py \
      testing/test_uniform_selects.py testing/test_more_programs.py testing/test_bench_general.py -k \
      "attention or chain or gqa or persistent or selects or longest"
    A=flash_attention,flash_attention_causal
    TAIL=4 bench_as persistent 100 persistent --rounds 3 --only $A
    TILEDSL_PERSISTENT=0 TAIL=4 bench_as one_cta_per_tile 100 one_cta_per_tile --rounds 3 --only $A
    TAIL=4 bench_as shortcut 100 shortcut --rounds 3 --only $A --shortcut
    (cd "$OUT" && tar czf logs.tgz *.log *.json && rm -f *.log *.json)
    ;;
  s18c)  # every GPU test (spread over 8 workers, a hung test's stack dumped); then flash attention with the packed
    # conversions, without them (TILEDSL_PACKED_CONVERSIONS=0) and through the shortcut, same call
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist load)
    TAIL=12 run gpu_suite 300 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra -o faulthandler_timeout=150 \
      "${xdist[@]}" testing
    A=flash_attention,flash_attention_causal
    TAIL=4 bench_as packed 75 packed --rounds 3 --only $A
    TILEDSL_PACKED_CONVERSIONS=0 TAIL=4 bench_as lane_casts 75 lane_casts --rounds 3 --only $A
    TAIL=4 bench_as shortcut 75 shortcut --rounds 3 --only $A --shortcut
    (cd "$OUT" && tar czf logs.tgz *.log *.json && rm -f *.log *.json)
    ;;
  s22a)  # prepared 2026-12-06 (eighth session), for the next: every GPU test with persistent ping-pong on (a default
    # candidate for loops of tile-independent length: 1.5-4 % faster on the non-causal forward in three calls), then
    # attention / GQA with it and with "all", alternating, 3 rounds
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist load)
    TILEDSL_WARP_SPECIALIZE=pingpong TAIL=30 run gpu_suite_pingpong 330 "$PY" -m pytest -q -p no:cacheprovider -m gpu \
      -ra -o faulthandler_timeout=150 "${xdist[@]}" --ignore testing/test_differential_gpu.py testing
    G=flash_attention,flash_attention_causal
    for round in 1 2; do
      TILEDSL_WARP_SPECIALIZE=pingpong TAIL=4 bench_as pingpong_$round 60 pingpong_$round --rounds 3 --only $G
      TAIL=4 bench_as all_$round 60 all_$round --rounds 3 --only $G
    done
    TILEDSL_WARP_SPECIALIZE=pingpong TAIL=4 run gqa_pingpong 100 "$PY" benchmarks/bench_more.py --rounds 3 \
      --only gqa_bf16,gqa_bf16_causal
    (cd "$OUT" && tar czf logs.tgz *.log *.json && rm -f *.log *.json)
    ;;
  s26a)  # prepared 2026-12-07 (eleventh session), for the next, on an H200: the attention forward's variants with the
    # new default (the deferred wait left to ptxas) against the fenced form, P converted before the wait (a source
    # edit) and the shortcut, 10 rounds; then the Nsight profile of the new default (s25e)
    TAIL=8 run attention_variants 240 "$PY" benchmarks/probe_attention_variants.py --rounds 10 \
      --only "general,fenced_deferred_wait,convert_before_wait,shortcut" --out "$OUT/attention_variants.json"
    (cd "$OUT" && tar czf variants.tgz *.log *.json && rm -f *.log *.json)
    bash "$0" s25e
    ;;
  s26b)  # prepared 2026-12-07, for the next: the README example and tuning tests on an H200, then the table with the
    # current defaults, 2 rounds (s24a)
    bash "$0" s24a
    ;;
  s28a)  # 2026-12-07 (thirteenth session): int8 x int8 -> int32 gemms on wgmma by default (TILEDSL_WGMMA_MORE_TYPES),
    # the split-K last part's epilogue reading unwritten inputs before the ticket: GPU tests, the timeline and its
    # variants (the old placement as a source edit), W8A8 over tile configs, FMA at one shape
    TAIL=12 run gpu_suite 300 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra -o faulthandler_timeout=150 \
      -n 8 --dist load testing
    bash "$0" s26c
    TAIL=20 run bench_w8a8_wgmma 240 "$PY" benchmarks/bench_int8_gemm.py --rounds 3
    mv "$OUT/bench_int8_gemm.json" "$OUT/bench_int8_gemm_wgmma.json"
    TILEDSL_WGMMA_MORE_TYPES=0 TAIL=4 run bench_w8a8_fma 90 "$PY" benchmarks/bench_int8_gemm.py --shapes 4096x4096x4096 \
      --configs 128x128x64x3x256 --rounds 1
    mv "$OUT/bench_int8_gemm.json" "$OUT/bench_int8_gemm_fma.json"
    (cd "$OUT" && tar czf s28a.tgz *.log *.json && rm -f *.log *.json)
    ;;
  s30f)  # 2026-12-07 (fourteenth session): skinny GEMMs autotuned through the shortcut and the general passes, the
    # general split-K factor now tunable (the program's tiledsl.split_k attribute)
    for path in shortcut general; do
      off=$([ $path = shortcut ] && echo 0 || echo 1)
      TILEDSL_DISABLE_HOPPER_GEMM=$off TAIL=4 run skinny_$path 150 "$PY" benchmarks/bench_gemm_hopper.py \
        --shapes 16x4096x4096,128x4096x4096 --dtypes float16 --rounds 3 $([ $path = shortcut ] && echo --shortcut)
      mv "$OUT/bench_gemm_hopper.json" "$OUT/skinny_$path.json" 2>/dev/null
    done
    (cd "$OUT" && tar czf s30f.tgz *.log *.json && rm -f *.log *.json)
    ;;
  s33c)  # 2026-12-07 (seventeenth session): every GPU test with packed conversions, deferred row sums and row
    # reciprocals on by default (the shortcut off, as a trial of it off by default)
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist load)
    TILEDSL_DISABLE_HOPPER_GEMM=1 TAIL=30 run gpu_suite 300 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra \
      -o faulthandler_timeout=150 "${xdist[@]}" testing
    ;;
  s34a)  # 2026-12-07 (eighteenth session): every GPU test with the whole-kernel shortcut off by default (no
    # switch set: the new defaults as a user gets them; the seventeenth session's two fixes among them), then the
    # skinny GEMM at 128 rows against the shortcut with each difference left between their kernels
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist load)
    TAIL=30 run gpu_suite 300 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra -o faulthandler_timeout=150 \
      "${xdist[@]}" testing
    TAIL=14 run skinny_probe_128 130 "$PY" benchmarks/probe_skinny_split.py --rows 128 --rounds 5 --no-timelines \
      --only shortcut_split2,general_default2,general_default2_warpgroup_release,general_default2_min_blocks_1,general_default2_both \
      --out "$OUT/skinny_probe_128.json"
    ;;
  s34b)  # 2026-12-07 (eighteenth session): every general program (the table on this card), then the
    # autotuned fp8 GEMM through the default path (the general passes since today)
    TAIL=40 bench_as bench_general 270 bench_general --rounds 2
    OUT=$OUT TAIL=20 run gemm_fp8 200 "$PY" benchmarks/bench_gemm_hopper.py --shapes 4096x4096x4096 \
      --dtypes float8_e4m3fn --rounds 3
    ;;
  s34c)  # 2026-12-07 (eighteenth session): the fp8 linear through both paths against float64 (the general path
    # failed bench_gemm_hopper's check in s34b), then TileLang's attention config with the skinny GEMM's two gains
    TAIL=12 run fp8_paths 120 "$PY" benchmarks/probe_fp8_paths.py --out "$OUT/fp8_paths.json"
    TAIL=10 run tl_config_s34 200 "$PY" benchmarks/probe_attention_variants.py --program flash_attention_tl_config \
      --rounds 3 --out "$OUT/tl_config_s34.json" --only general,warpgroup_release,min_blocks_1,warpgroup_release+min_blocks_1,shortcut
    ;;
  s34d)  # 2026-12-07 (eighteenth session): the int8-weight GEMM at M = 16 over tile configs and split-K parts (1.42x
    # on the H200 against the bar's 1.5x); the promoted fp8 GEMM's GPU tests and its time against cuBLASLt
    TAIL=14 run int8_m16 320 "$PY" benchmarks/probe_int8_m16.py --rounds 3 --out "$OUT/int8_m16.json"
    TAIL=6 run more_gpu 120 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra testing/test_more_programs.py
    ;;
  s34e)  # 2026-12-07 (eighteenth session): the fp8 benchmark with its new check and both cuBLASLt modes, then flash
    # attention with one release per warpgroup against the shortcut, round-robin
    TAIL=12 run gemm_fp8 200 "$PY" benchmarks/bench_gemm_hopper.py --shapes 4096x4096x4096 --dtypes float8_e4m3fn \
      --rounds 3
    TAIL=8 run fa_release 150 "$PY" benchmarks/probe_attention_variants.py --program flash_attention \
      --rounds 3 --out "$OUT/fa_release.json" --only general,warpgroup_release,shortcut
    TAIL=6 run bench_fp8_more 120 "$PY" benchmarks/bench_more.py --only gemm_fp8,gemm_fp8_promoted --rounds 3
    ;;
  s36b)  # 2026-12-08 (twentieth session): TileLang's convolution example (scalar gather) against cuDNN, then s34e
    TAIL=8 run conv 200 "$PY" benchmarks/probe_conv.py --rounds 3 --out "$OUT/conv.json"
    bash "$0" s34e
    ;;
  s36a)  # 2026-12-08 (twentieth session): split-K's cluster form through part 0's shared memory (DSMEM), the
    # fence after the weight's conversion, the flat gather: their GPU tests, the int8-weight GEMMs under each, then
    # the M = 16 kernel in the cluster form over stage counts (one wave at 4-5 stages) and parts
    s36a_start=$SECONDS
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 6 --dist load)
    TILEDSL_FENCE_AFTER_CONVERSION=1 TILEDSL_SPLIT_K_FLAT_GATHER=1 TAIL=8 run int8_gpu 150 "$PY" -m pytest -q \
      -p no:cacheprovider -m gpu -ra "${xdist[@]}" testing/test_register_dequant.py testing/test_split_k.py \
      testing/test_more_programs.py
    for v in "0 0 auto" "1 0 cluster" "1 1 auto" "0 0 cluster"; do  # as many as fit in S36A_SECONDS (default 330)
      [ $((SECONDS - s36a_start + 55)) -gt "${S36A_SECONDS:-330}" ] && break
      set -- $v
      TILEDSL_FENCE_AFTER_CONVERSION=$1 TILEDSL_SPLIT_K_FLAT_GATHER=$2 TILEDSL_SPLIT_K_SUM=$3 TAIL=4 \
        run "int8_fence$1_flat$2_$3" 55 "$PY" benchmarks/bench_general.py --only int8_weight_m16,int8_weight_m4096 \
        --rounds 5
    done
    TILEDSL_FENCE_AFTER_CONVERSION=1 TILEDSL_SPLIT_K_SUM=cluster TAIL=8 run m16_cluster_configs \
      $((${S36A_SECONDS:-330} + 200 - (SECONDS - s36a_start))) "$PY" benchmarks/probe_int8_m16.py --rounds 3 \
      --configs 16x128x64s8t256p4,16x128x64s5t256p4,16x128x64s4t256p4,16x64x64s8t128p8,16x128x64s8t256p2 \
      --out "$OUT/m16_cluster_configs.json"
    ;;
  s34f)  # 2026-12-07 (eighteenth session): every GPU test with one release per warpgroup (a default if they pass)
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist load)
    TILEDSL_WARPGROUP_RELEASE=1 TAIL=30 run gpu_suite_release 300 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra \
      -o faulthandler_timeout=150 "${xdist[@]}" testing
    ;;
  s33g)  # 2026-12-07 (seventeenth session), for the shortest lease: only the GPU tests of today's two fixes (a
    # deferred row sum off the tensor-core rows path; a staged epilogue split in two launches)
    TILEDSL_DISABLE_HOPPER_GEMM=1 TAIL=8 run gpu_fixes 120 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra -n 8 \
      testing/test_row_sums.py testing/test_tilelang_constructs.py testing/test_split_k.py \
      -k "loaded_fragment or alloc_global or staged or running_row_sums or group_count"
    ;;
  s33f)  # 2026-12-07 (seventeenth session): the GPU tests of a deferred row sum off the tensor-core rows path (the
    # pair's sums kept whole), of the three new defaults' own files, of split-K (a staged epilogue in two launches), then TileLang's attention config in variants
    TILEDSL_DISABLE_HOPPER_GEMM=1 TAIL=8 run gpu_row_sums 150 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra -n 8 \
      testing/test_row_sums.py testing/test_row_reciprocals.py testing/test_packed_convert.py \
      testing/test_tilelang_constructs.py testing/test_split_k.py
    TAIL=10 run tl_config_more 150 "$PY" benchmarks/probe_attention_variants.py --program flash_attention_tl_config \
      --rounds 3 --out "$OUT/tl_config_more.json" --only general,warpgroup_release,min_blocks_1,no_pins,pins_without_memory,shortcut
    ;;
  s33e)  # 2026-12-07 (seventeenth session): the three new defaults against none of them, round-robin, on causal
    # attention (the one program bench_general had slower with them), the benchmark's and TileLang's configs
    for p in flash_attention_causal flash_attention flash_attention_tl_config; do
      TAIL=4 run three_$p 100 "$PY" benchmarks/probe_attention_variants.py --program $p --rounds 5 \
        --out "$OUT/three_$p.json" --only general,none_of_the_three
    done
    ;;
  s33d)  # 2026-12-07 (seventeenth session): every general program with the three new defaults, then without
    TAIL=24 run bench_new 270 "$PY" benchmarks/bench_general.py --rounds 2
    mv "$OUT/bench_general.json" "$OUT/bench_general_new.json" 2>/dev/null
    TILEDSL_PACKED_CONVERSIONS=0 TILEDSL_DEFER_ROW_SUMS=0 TILEDSL_ROW_RECIPROCALS=0 TAIL=24 run bench_old 270 \
      "$PY" benchmarks/bench_general.py --rounds 2
    mv "$OUT/bench_general.json" "$OUT/bench_general_old.json" 2>/dev/null
    ;;
  s33b)  # 2026-12-07 (seventeenth session): which of packed conversions, deferred row sums and row reciprocals
    # closes the general passes' gap at TileLang's attention config, and what they do at the benchmark's 128 x 128
    v=general,packed,row_sums,reciprocals,packed+row_sums,packed+reciprocals,packed+row_sums+reciprocals
    TAIL=14 run tl_config_split 220 "$PY" benchmarks/probe_attention_variants.py --program flash_attention_tl_config \
      --rounds 3 --out "$OUT/tl_config_split.json" --only $v,packed+row_sums+reciprocals+min_blocks_1,shortcut
    TAIL=10 run fa128_split 200 "$PY" benchmarks/probe_attention_variants.py --program flash_attention \
      --rounds 3 --out "$OUT/fa128_split.json" --only $v,shortcut
    TAIL=10 run stages1_split 120 "$PY" benchmarks/probe_attention_variants.py --program flash_attention_stages1 \
      --rounds 3 --out "$OUT/stages1_split.json" --only general,packed+row_sums+reciprocals
    ;;
  s33a)  # 2026-12-07 (seventeenth session): the four-warpgroup general GEMM test (setmaxnreg.inc 104), then s32d
    TILEDSL_DISABLE_HOPPER_GEMM=1 TAIL=6 run gpu_four_warpgroups 60 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra testing/test_wgmma.py \
      -k four_warpgroups
    bash "$0" s32d
    ;;
  s32d)  # s32c, then flash attention at TileLang's example config in variants (probe_attention_variants.py)
    bash "$0" s32c
    TAIL=14 run tl_config_variants 200 "$PY" benchmarks/probe_attention_variants.py \
      --program flash_attention_tl_config --rounds 3 --out "$OUT/tl_config_variants.json" \
      --only general,no_pins,pins_without_memory,min_blocks_1,one_cta_per_tile,launch_order,packed+row_sums+reciprocals,shortcut
    ;;
  s32c)  # split-K's defaults of 2026-12-07 (group count, register order, auto = last) against the old ones:
    # int8-weight M = 16 (3 rounds each), then skinny fp16 GEMMs autotuned through the general passes
    TAIL=3 bench_as m16_new 60 m16_new --rounds 3 --only int8_weight_m16
    TILEDSL_SPLIT_K_GROUP_COUNT=0 TILEDSL_SPLIT_K_REGISTER_ORDER=0 TAIL=3 bench_as m16_old 60 m16_old --rounds 3 \
      --only int8_weight_m16
    TILEDSL_DISABLE_HOPPER_GEMM=1 TAIL=4 run skinny_general 110 "$PY" benchmarks/bench_gemm_hopper.py \
      --shapes 16x4096x4096,128x4096x4096 --dtypes float16 --rounds 3
    mv "$OUT/bench_gemm_hopper.json" "$OUT/skinny_general.json" 2>/dev/null
    ;;
  s32a)  # the whole-kernel GEMM with 3 and 4 consumer warpgroups (setmaxnreg.inc within the block's pool) and
    # the wgmma tests, then s31d
    TAIL=8 run gpu_hopper_gemm 90 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra -n 8 \
      testing/test_hopper_gemm.py testing/test_wgmma.py
    bash "$0" s31d
    ;;
  s31e)  # the GPU tests of the fifteenth session's opt-ins, for the shortest lease: programs written with
    # num_stages=1 (TILEDSL_ONE_STAGE_AHEAD=1, the shortcut off) and split-K (the register-order sums among them)
    TILEDSL_ONE_STAGE_AHEAD=1 TILEDSL_DISABLE_HOPPER_GEMM=1 TAIL=12 run gpu_one_stage 170 "$PY" -m pytest -q \
      -p no:cacheprovider -m gpu -ra -n 8 testing/test_one_stage_ahead.py testing/test_tilelang_compat.py \
      testing/test_eager_frontend.py testing/test_tilelang_constructs.py testing/test_reduce_barriers.py \
      testing/test_block_sparse_cpu.py testing/test_hopper_attention.py testing/test_examples.py \
      testing/test_split_k.py
    ;;
  s31d)  # s31e, then flash attention written with num_stages=1 against SDPA on both paths (2 rounds), then the
    # skinny split-K probe
    bash "$0" s31e
    one_stage_and_skinny 2 80 50 100
    ;;
  s31c)  # 2026-12-07 (fifteenth session), one call for a short lease: every GPU test (num_stages=1 one iteration
    # ahead is a default; run with the shortcut off), then flash attention written with num_stages=1 against SDPA (general passes, shortcut),
    # then the skinny split-K probe at 16 rows
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist load)
    # the whole-kernel shortcut off, as a trial of it off by default (its own tests ask for it: hopper_shortcut)
    TILEDSL_ONE_STAGE_AHEAD=1 TILEDSL_DISABLE_HOPPER_GEMM=1 TAIL=30 run gpu_suite 270 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra \
      -o faulthandler_timeout=150 "${xdist[@]}" testing
    one_stage_and_skinny 3 90 60 110
    ;;
  s31b)  # 2026-12-07 (fifteenth session): num_stages=1 as TileLang means it (copies one iteration ahead, two
    # buffers): its GPU tests and the TileLang-compatibility ones, then flash attention written with num_stages=1
    # (our tiles, and TileLang's example config 64 x 64 x 128 threads) against SDPA, general passes and shortcut
    TAIL=6 run one_stage_gpu 200 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra -n 8 \
      testing/test_one_stage_ahead.py testing/test_tilelang_compat.py
    TILEDSL_ONE_STAGE_AHEAD=1 TAIL=8 bench_as one_stage_general 150 one_stage_general --rounds 3 \
      --only flash_attention,flash_attention_stages1,flash_attention_tl_config
    TAIL=8 bench_as one_stage_shortcut 150 one_stage_shortcut --rounds 3 --shortcut \
      --only flash_attention_stages1,flash_attention_tl_config
    ;;
  s31a)  # 2026-12-07 (fifteenth session): why the skinny GEMM split in K is faster through the shortcut: timelines
    # and round-robin times of both paths and the general split-K forms (probe_skinny_split.py), 16 and 128 rows
    for rows in 16 128; do
      TAIL=16 run skinny_probe_$rows 200 "$PY" benchmarks/probe_skinny_split.py --rows $rows --rounds 7 \
        --out "$OUT/skinny_probe_$rows.json"
    done
    ;;
  s30g)  # prepared 2026-12-07 (fourteenth session) for the next: split-K's count on a named barrier of the program's
    # threads (TILEDSL_SPLIT_K_GROUP_COUNT=1, opt-in, never run on a GPU): the split-K GPU tests (the new
    # test_the_group_count_matches_torch_on_the_gpu among them), int8-weight M = 16 with and without it (2 rounds
    # each), skinny fp16 GEMMs summed in a second launch and by the warp-specialized last part, then the shortcut
    TAIL=6 run split_gpu 150 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra -n 8 testing/test_split_k.py
    if passed split_gpu; then
      for round in 1 2; do
        TAIL=3 bench_as m16_block_$round 60 m16_block_$round --rounds 3 --only int8_weight_m16
        TILEDSL_SPLIT_K_GROUP_COUNT=1 TAIL=3 bench_as m16_group_$round 60 m16_group_$round --rounds 3 \
          --only int8_weight_m16
      done
      for form in launch last shortcut; do
        sum=$([ $form = shortcut ] && echo auto || echo $form); off=$([ $form = shortcut ] && echo 0 || echo 1)
        TILEDSL_SPLIT_K_GROUP_COUNT=1 TILEDSL_SPLIT_K_SUM=$sum TILEDSL_DISABLE_HOPPER_GEMM=$off TAIL=3 \
          run skinny_$form 100 "$PY" benchmarks/bench_gemm_hopper.py --shapes 16x4096x4096,128x4096x4096 \
          --dtypes float16 --rounds 3
        mv "$OUT/bench_gemm_hopper.json" "$OUT/skinny_$form.json" 2>/dev/null
      done
    fi
    (cd "$OUT" && tar czf s30g.tgz *.log *.json && rm -f *.log *.json)
    ;;
  s30e)  # 2026-12-07 (fourteenth session), for an H200 if one comes: the table (2 rounds), then W8A8 with B [N, K] and
    # [K, N] at their best configs
    TAIL=40 bench_as table 320 table --rounds 2
    for layout in nk kn; do
      TAIL=4 run w8a8_$layout 100 "$PY" benchmarks/bench_int8_gemm.py --rounds 3 --b-layout $layout \
        --shapes 4096x4096x4096,16x4096x4096 --configs 128x128x128x4x256,64x128x128x4x128
    done
    (cd "$OUT" && tar czf s30e.tgz *.log *.json && rm -f *.log *.json)
    ;;
  s30c)  # 2026-12-07 (fourteenth session): the whole GPU suite (run with the shortcut off by default, a trial not landed)
    TAIL=12 run gpu_suite 330 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra -o faulthandler_timeout=150 \
      -n 8 --dist load testing
    (cd "$OUT" && tar czf s30c.tgz *.log && rm -f *.log)
    ;;
  s30d)  # 2026-12-07 (fourteenth session): GEMMs autotuned through the shortcut and through the general passes (each
    # against cuBLAS in its own alternating rounds), then the README example and the tuning tests
    for path in shortcut general; do
      off=$([ $path = shortcut ] && echo 0 || echo 1)
      TILEDSL_DISABLE_HOPPER_GEMM=$off TAIL=8 run gemm_$path 200 "$PY" benchmarks/bench_gemm_hopper.py \
        --shapes 4096x4096x4096,16x4096x4096,128x4096x4096 --dtypes float16 --rounds 3 \
        $([ $path = shortcut ] && echo --shortcut)
      mv "$OUT/bench_gemm_hopper.json" "$OUT/gemm_$path.json" 2>/dev/null
    done
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist loadfile)
    TAIL=8 run tuning_tests 150 "$PY" -m pytest -q -p no:cacheprovider -m "not slow" -ra "${xdist[@]}" \
      testing/test_autotune_example.py testing/test_tune_gpu.py testing/test_fork_server.py
    (cd "$OUT" && tar czf s30d.tgz *.log *.json && rm -f *.log *.json)
    ;;
  s30a)  # 2026-12-07 (fourteenth session): 8-bit operands stored MN-major copied K-major for wgmma (KMajorCopies):
    # their GPU tests and the 8-bit tests around them, then W8A8 with B stored [K, N] against torch._int_mm
    TAIL=8 run k_major_tests 200 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra -n 4 testing/test_k_major_copies.py \
      testing/test_wgmma_more_types.py
    TAIL=16 run bench_w8a8_kn 240 "$PY" benchmarks/bench_int8_gemm.py --rounds 3 --b-layout kn
    (cd "$OUT" && tar czf s30a.tgz *.log *.json && rm -f *.log *.json)
    ;;
  s29a)  # prepared 2026-12-07 (thirteenth session) for the next: the whole GPU suite (the thirteenth's was cut at 97 %;
    # the W8A8 split test with its precondition fixed, the scaled W8A8 test and TILEDSL_MMA_INT8's tests have not
    # run), W8A8 over tile configs, then the README example, the tuning tests and the table
    TAIL=12 run gpu_suite 330 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra -o faulthandler_timeout=150 \
      -n 8 --dist load testing
    TAIL=20 run bench_w8a8_wgmma 200 "$PY" benchmarks/bench_int8_gemm.py --rounds 3
    (cd "$OUT" && tar czf s29a.tgz *.log *.json && rm -f *.log *.json)
    bash "$0" s24a
    ;;
  s28t)  # s28a for a short lease: the GPU tests of the changed passes, the split-K timeline, W8A8 over tile configs
    TAIL=8 run s28_tests 200 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra -n 4 testing/test_wgmma_more_types.py \
      testing/test_split_k.py testing/test_tma.py testing/test_tma_reduce.py
    TAIL=20 run bench_w8a8_wgmma 200 "$PY" benchmarks/bench_int8_gemm.py --rounds 2
    TAIL=8 run split_k_timeline 150 "$PY" benchmarks/probe_split_k_timeline.py --launches 4 --rounds 5 \
      --out "$OUT/split_k_timeline.json"
    (cd "$OUT" && tar czf s28t.tgz *.log *.json && rm -f *.log *.json)
    ;;
  s28c)  # 2026-12-07 (thirteenth session): the attention forward's opt-in schedules again, now that the deferred wait
    # is left to ptxas by default (ping-pong consumers, row sums deferred, both with packed conversions and
    # reciprocals), against the default and the hand-written shortcut (issue 9, item 5), 7 rounds
    TAIL=10 run attention_variants 400 "$PY" benchmarks/probe_attention_variants.py --rounds 7 \
      --only "general,pingpong,pingpong+row_sums,combined (pingpong+packed+row_sums+reciprocals),shortcut" \
      --out "$OUT/attention_variants.json"
    ;;
  s28b)  # 2026-12-07 (thirteenth session): the README example and the tuning tests, the table (2 rounds), then s28c
    bash "$0" s24a
    bash "$0" s28c
    ;;
  s27a)  # prepared 2026-12-07 (twelfth session) for the next: int8 x int8 -> int32 gemms take FMA unless
    # TILEDSL_WGMMA_MORE_TYPES=1 (GPU tests passed in the 2026-12-07 suite, never timed); time it to make it a default
    TAIL=8 run more_types_tests 200 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra testing/test_wgmma_more_types.py
    TILEDSL_WGMMA_MORE_TYPES=1 TAIL=6 run bench_w8a8_wgmma 150 "$PY" benchmarks/bench_int8_gemm.py --rounds 3
    mv "$OUT/bench_int8_gemm.json" "$OUT/bench_int8_gemm_wgmma.json"
    TILEDSL_WGMMA_MORE_TYPES=0 TAIL=4 run bench_w8a8_fma 120 "$PY" benchmarks/bench_int8_gemm.py --shapes 4096x4096x4096 \
      --configs 128x128x64x3x256 --rounds 1
    mv "$OUT/bench_int8_gemm.json" "$OUT/bench_int8_gemm_fma.json"
    ;;
  s26g)  # prepared 2026-12-07 (twelfth session), run in the thirteenth: every part's sums in an unrolled loop
    # without branches, then s26f's split-K GPU tests, timeline, variants and int8 programs
    bash "$0" s26f
    ;;
  s26f)  # 2026-12-07 (twelfth session): the split-K ticket as one release-acquire atomic (no __threadfence):
    # its GPU tests, the int8-weight M = 16 timeline and variants (the old fenced ticket as a source edit), the
    # int8-weight programs of the table
    TAIL=6 run split_k_tests 150 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra testing/test_split_k.py
    bash "$0" s26c
    TAIL=12 bench_as int8_programs 150 int8_programs --only int8_weight_m16,int8_weight_m4096 --rounds 5
    ;;
  s26c)  # 2026-12-07 (twelfth session): where the split-K kernel's time goes (int8 weight, M = 16): each block's
    # timeline, then the sum's edits timed round-robin against cuBLAS
    TAIL=30 run split_k_timeline 200 "$PY" benchmarks/probe_split_k_timeline.py --launches 6 --rounds 7 \
      --out "$OUT/split_k_timeline.json"
    ;;
  s25a)  # 2026-12-07 (eleventh session): the README example and the tuning tests on the GPU (s24a's first part),
    # then the attention forward's variants (benchmarks/probe_attention_variants.py: switches, edits of the general
    # kernel's source, the shortcut) timed round-robin in one process
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist loadfile)
    TAIL=8 run tuning_tests 200 "$PY" -m pytest -q -p no:cacheprovider -m "not slow" -ra "${xdist[@]}" \
      testing/test_autotune_example.py testing/test_autotune_sources.py testing/test_tune_gpu.py \
      testing/test_distributed_devices.py testing/test_fork_server.py
    TAIL=4 run warpgroup_release_tests 120 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra \
      testing/test_warpgroup_release.py
    TAIL=16 run attention_variants 300 "$PY" benchmarks/probe_attention_variants.py --rounds 5 \
      --out "$OUT/attention_variants.json"
    (cd "$OUT" && tar czf logs.tgz *.log *.json && rm -f *.log *.json)
    ;;
  s25c)  # the README example on the GPU (its cached winner's key order fixed again), the attention forward's variants
    # (7 rounds), then the GPU tests of the attention programs with the combination of switches that won
    TAIL=4 run example_test 150 "$PY" -m pytest -q -p no:cacheprovider -ra testing/test_autotune_example.py
    only="general,packed+row_sums+reciprocals,combined (pingpong+packed+row_sums+reciprocals),combined+launch_order"
    only="$only,combined+warpgroup_release,unfenced_deferred_wait,shortcut"
    TAIL=12 run attention_variants 240 "$PY" benchmarks/probe_attention_variants.py --rounds 7 --only "$only" \
      --out "$OUT/attention_variants.json"
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist load)
    TILEDSL_WARP_SPECIALIZE=pingpong TILEDSL_PACKED_CONVERSIONS=1 TILEDSL_DEFER_ROW_SUMS=1 TILEDSL_ROW_RECIPROCALS=1 \
      TAIL=6 run combined_tests 150 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" \
      testing/test_bench_general.py testing/test_persistent_general.py testing/test_row_sums.py \
      testing/test_packed_convert.py testing/test_row_reciprocals.py
    (cd "$OUT" && tar czf logs.tgz *.log *.json && rm -f *.log *.json)
    ;;
  s25d)  # the deferred wait left to ptxas (TILEDSL_FENCED_DEFERRED_WAIT=0): its GPU tests, then against the default and
    # the shortcut, 10 rounds
    TILEDSL_FENCED_DEFERRED_WAIT=0 TAIL=4 run unfenced_tests 120 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra \
      testing/test_deferred_gemm.py -k "unfenced or warp_specialized_flash"
    TAIL=6 run attention_free_wait 200 "$PY" benchmarks/probe_attention_variants.py --rounds 10 \
      --only "general,unfenced_deferred_wait,shortcut" --out "$OUT/attention_free_wait.json"
    (cd "$OUT" && tar czf logs.tgz *.log *.json && rm -f *.log *.json)
    ;;
  s25e)  # Nsight Compute on the attention forward with the deferred wait left to ptxas (the probe's check launch)
    NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
    run ncu_attention_free_wait 150 "$NCU" -k regex:main_kernel --launch-count 1 --section WarpStateStats \
      --section InstructionStats --section SourceCounters -o "$OUT/ncu_free" "$PY" \
      benchmarks/probe_attention_variants.py --rounds 0 --only unfenced_deferred_wait
    "$NCU" --import "$OUT/ncu_free.ncu-rep" --page source --csv --print-source sass \
      > "$OUT/ncu_attention_free_wait_sass.csv" 2>&1
    rm -f "$OUT/ncu_free.ncu-rep"
    (cd "$OUT" && tar czf logs.tgz *.log *.csv && rm -f *.log *.csv)
    ;;
  s25b)  # Nsight Compute on the attention forward, general passes and shortcut (s18d on the current code)
    bash "$0" s18d
    ;;
  s24a)  # prepared 2026-12-06 (tenth session), for the next: the README's GEMM example on the GPU (its cached
    # winner's keys now keep their order: unrun on a GPU), the fork server's GPU tuning tests, then the table with
    # the new defaults (producer registers 56, LayerNorm on 128 threads), 2 rounds
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist loadfile)
    TAIL=8 run tuning_tests 200 "$PY" -m pytest -q -p no:cacheprovider -m "not slow" -ra "${xdist[@]}" \
      testing/test_autotune_example.py testing/test_autotune_sources.py testing/test_tune_gpu.py \
      testing/test_distributed_devices.py testing/test_fork_server.py
    TAIL=40 bench_as table 320 table --rounds 2
    (cd "$OUT" && tar czf logs.tgz *.log *.json && rm -f *.log *.json)
    ;;
  s23a)  # 2026-12-06 (tenth session): the tuning tests with workers forked from the fork server (new), on the GPU
    # where they have GPU tests, and back-to-back tuning runs with and without it; LayerNorm over its launch shape
    # against the copy rate
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist loadfile)
    TAIL=8 run tuning_tests 200 "$PY" -m pytest -q -p no:cacheprovider -m "not slow" -ra "${xdist[@]}" \
      testing/test_fork_server.py testing/test_tune_gpu.py testing/test_distributed_devices.py \
      testing/test_autotune.py testing/test_autotune_example.py
    TAIL=4 run tuning_start 120 "$PY" benchmarks/bench_tuning_start.py --runs 4 --out "$OUT/tuning_start.json"
    TAIL=12 run norm_configs 150 "$PY" benchmarks/bench_norm_configs.py --rounds 3 --out "$OUT/norm_configs.json"
    (cd "$OUT" && tar czf logs.tgz *.log *.json && rm -f *.log *.json)
    ;;
  s23b)  # 2026-12-06 (tenth session): s22c in one round, for a short lease: the attention forward (non-causal and
    # causal) by default, with one CTA per tile, with row reciprocals, and through the shortcut
    G=flash_attention,flash_attention_causal
    TAIL=4 bench_as default 60 default --rounds 3 --only $G
    TILEDSL_PERSISTENT=0 TAIL=4 bench_as one_cta_per_tile 60 one_cta_per_tile --rounds 3 --only $G
    TILEDSL_ROW_RECIPROCALS=1 TAIL=4 bench_as reciprocals 60 reciprocals --rounds 3 --only $G
    TAIL=4 bench_as shortcut 60 shortcut --rounds 3 --only $G --shortcut
    (cd "$OUT" && tar czf logs.tgz *.log *.json && rm -f *.log *.json)
    ;;
  s22c)  # prepared 2026-12-06 (ninth session), for the next: what the general attention forward lacks on the H200
    G=flash_attention,flash_attention_causal
    for round in 1 2; do
      TAIL=4 bench_as default_$round 60 default_$round --rounds 3 --only $G
      TILEDSL_ROW_RECIPROCALS=1 TAIL=4 bench_as reciprocals_$round 60 reciprocals_$round --rounds 3 --only $G
      TILEDSL_PERSISTENT=0 TAIL=4 bench_as one_cta_per_tile_$round 60 one_cta_per_tile_$round --rounds 3 --only $G
      TILEDSL_RASTER=0 TAIL=4 bench_as launch_order_$round 60 launch_order_$round --rounds 3 --only $G
      TAIL=4 bench_as shortcut_$round 60 shortcut_$round --rounds 3 --only $G --shortcut
    done
    (cd "$OUT" && tar czf logs.tgz *.log *.json && rm -f *.log *.json)
    ;;
  s22b)  # prepared 2026-12-06 (ninth session), for the next: producer registers 56 against 40 (the default)
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist load)
    WS=tiledsl/passes/cuda/warp_specialize.py
    sed -i 's/^PRODUCER_REGS = .*/PRODUCER_REGS = 56/' $WS  # (the tests' expected 40 / 232 then fail: 56 / 224)
    TAIL=6 run ws_tests 100 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" testing/test_tma.py \
      testing/test_persistent_general.py -k "not chain"
    G=batched,flash_attention
    for round in 1 2; do
      sed -i 's/^PRODUCER_REGS = .*/PRODUCER_REGS = 56/' $WS; TAIL=8 bench_as regs56_$round 45 regs56_$round --rounds 2 --only $G
      sed -i 's/^PRODUCER_REGS = .*/PRODUCER_REGS = 40/' $WS; TAIL=8 bench_as regs40_$round 45 regs40_$round --rounds 2 --only $G
    done
    sed -i 's/^PRODUCER_REGS = .*/PRODUCER_REGS = 40/' $WS
    (cd "$OUT" && tar czf logs.tgz *.log *.json && rm -f *.log *.json)
    ;;
  s21a)  # 2026-12-06 (eighth session, a short lease): wgmma descriptors as (tile + warp rows) + an immediate (the
    # backward spilled with one 64-bit sum per wgmma) and persistent ping-pong: their GPU tests, the table (1 round),
    # attention with ping-pong and through the shortcut
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist load)
    TAIL=8 run descriptor_tests 150 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" \
      testing/test_wgmma_descriptors.py testing/test_warp_index.py testing/test_bench_general.py \
      testing/test_persistent_general.py -k "not chain"
    TAIL=40 bench_as table 100 table --rounds 1
    G=flash_attention,flash_attention_causal
    TILEDSL_WARP_SPECIALIZE=pingpong TAIL=4 bench_as pingpong 60 pingpong --rounds 2 --only $G
    TAIL=4 bench_as shortcut 60 shortcut --rounds 2 --only $G --shortcut
    (cd "$OUT" && tar czf logs.tgz *.log *.json && rm -f *.log *.json)
    ;;
  s20a)  # the next session's second call (after s16d, the whole suite): TILEDSL_DEFER_ROW_SUMS=1's GPU tests, then
    # attention with it off / on, ping-pong consumers (timed again now that descriptors are uniform), the shortcut
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist load)
    TAIL=8 run row_sums_tests 200 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" \
      testing/test_row_sums.py testing/test_persistent_general.py
    G=flash_attention,flash_attention_causal,flash_decode
    TAIL=4 bench_as row_sums_off 100 row_sums_off --rounds 3 --only $G
    TILEDSL_DEFER_ROW_SUMS=1 TAIL=4 bench_as row_sums_on 100 row_sums_on --rounds 3 --only $G
    TILEDSL_WARP_SPECIALIZE=pingpong TAIL=4 bench_as pingpong 100 pingpong --rounds 3 --only $G
    TAIL=4 bench_as shortcut 100 shortcut --rounds 3 --only $G --shortcut
    TAIL=4 run gqa_row_sums_off 100 "$PY" benchmarks/bench_more.py --rounds 3 --only gqa_bf16,gqa_bf16_causal
    TILEDSL_DEFER_ROW_SUMS=1 TAIL=4 run gqa_row_sums_on 100 "$PY" benchmarks/bench_more.py --rounds 3 \
      --only gqa_bf16,gqa_bf16_causal
    (cd "$OUT" && tar czf logs.tgz *.log *.json && rm -f *.log *.json)
    ;;
  s20b)  # every bench_general program with the defaults of 2026-12-06 evening (the table), 2 rounds
    TAIL=40 bench_as table 500 table --rounds 2
    ;;
  s19b)  # the chain probe's narrowing variants; the warp-index GPU tests; GEMM and attention with the warp index off /
    # on / on with row reciprocals, and through the shortcut, in one call
    TAIL=12 run probe_chain2 200 "$PY" benchmarks/probe_chain.py inb_s2_persistent inb_s2_persistent_no_empty_tile \
      inb_s2_persistent_not_deferred inb_s2_persistent_even_tiles_uneven_ring
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist load)
    TAIL=8 run warp_index_tests 200 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" \
      testing/test_warp_index.py testing/test_wgmma_descriptors.py
    G=gemm,flash_attention,flash_attention_causal
    TILEDSL_WARP_UNIFORM_INDEX=0 TAIL=4 bench_as warp_index_off 100 warp_index_off --rounds 3 --only $G
    TAIL=4 bench_as warp_index_on 100 warp_index_on --rounds 3 --only $G
    TILEDSL_ROW_RECIPROCALS=1 TAIL=4 bench_as warp_index_reciprocals 100 warp_index_reciprocals --rounds 3 --only $G
    TAIL=4 bench_as shortcut 100 shortcut --rounds 3 --only $G --shortcut
    (cd "$OUT" && tar czf logs.tgz *.log *.json && rm -f *.log *.json)
    ;;
  s19a)  # 2026-12-06 (seventh session): which chain variants hang (benchmarks/probe_chain.py), then s18d's profile
    # of both attention kernels with descriptor offsets on (the new default)
    TAIL=20 run probe_chain 200 "$PY" benchmarks/probe_chain.py
    bash "$0" s18d
    ;;
  s18d)  # Nsight Compute on the attention forward through the general passes and through the shortcut (same
    # sections, SASS with per-instruction counts): what the 4-10 % between them is made of
    NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
    for path in general shortcut; do
      off=1; [ $path = shortcut ] && off=0
      TILEDSL_DISABLE_HOPPER_GEMM=$off run "ncu_attention_$path" 200 "$NCU" -k regex:main_kernel --launch-skip 2 \
        --launch-count 1 --section SpeedOfLight --section WarpStateStats --section InstructionStats \
        --section SchedulerStats --section LaunchStats --section Occupancy --section SourceCounters \
        --section MemoryWorkloadAnalysis -o "$OUT/ncu_$path" "$PY" benchmarks/ncu_program.py flash_attention 3
      "$NCU" --import "$OUT/ncu_$path.ncu-rep" --page details > "$OUT/ncu_attention_$path.txt" 2>&1
      "$NCU" --import "$OUT/ncu_$path.ncu-rep" --page source --csv --print-source sass \
        > "$OUT/ncu_attention_${path}_sass.csv" 2>&1
      rm -f "$OUT/ncu_$path.ncu-rep"
    done
    (cd "$OUT" && tar czf logs.tgz *.log *.csv ncu*.txt && rm -f *.log *.csv ncu*.txt)
    ;;
  s18e)  # wgmma descriptors as the tile's descriptor + a constant (TILEDSL_DESCRIPTOR_OFFSETS=1): every benchmark
    # program at small sizes with it on the GPU, then GEMM and attention timed off / on / through the shortcut
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist load)
    TAIL=8 run descriptor_tests 200 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" \
      testing/test_wgmma_descriptors.py
    G=gemm,flash_attention,flash_attention_causal
    TAIL=4 bench_as descriptors_off 100 descriptors_off --rounds 3 --only $G
    TILEDSL_DESCRIPTOR_OFFSETS=1 TAIL=4 bench_as descriptors_on 100 descriptors_on --rounds 3 --only $G
    TAIL=4 bench_as shortcut 100 shortcut --rounds 3 --only $G --shortcut
    (cd "$OUT" && tar czf logs.tgz *.log *.json && rm -f *.log *.json)
    ;;
  s17i)  # the whole-kernel Hopper shortcut against the general passes on the programs it takes (issue 9, item 5):
    # the GEMM and flash attention (causal and not), general passes then shortcut, same call
    TAIL=4 bench_as shortcut_off 150 shortcut_off --rounds 3 --only gemm,flash_attention,flash_attention_causal
    TAIL=4 bench_as shortcut_on 150 shortcut_on --rounds 3 --only gemm,flash_attention,flash_attention_causal \
      --shortcut
    ;;
  s16a)  # 2026-12-06 (fourth session): TILEDSL_REGISTER_DEQUANT=1 (the int8 weight converted in registers, C^T =
    # W^T A^T): its GPU tests, then the int8-weight programs with it off and on, same run
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8)
    TAIL=8 run register_dequant_tests 240 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" \
      testing/test_register_dequant.py
    for s in 0 1; do
      TILEDSL_REGISTER_DEQUANT=$s TAIL=12 bench_as "int8_register_dequant_$s" 150 "int8_register_dequant_$s" \
        --rounds 3 --only int8_weight_m4096,int8_weight_m16
    done
    ;;
  s16b)  # the int8-weight configs tuned with TILEDSL_REGISTER_DEQUANT=1 (M = 4096, then M = 16)
    for m in m4096 m16; do
      TAIL=3 run "configs_int8_${m}_dequant" 250 "$PY" benchmarks/bench_configs.py --only int8_weight_$m \
        --rounds 3 --switches TILEDSL_REGISTER_DEQUANT=1
      mv "$OUT/bench_configs.json" "$OUT/configs_int8_${m}_dequant.json"
    done
    ;;
  s16e)  # the weight stored [N, K] converted in registers: the register-dequant GPU tests, then both layouts at
    # M = 4096 and 16, the weight in registers and the cast loop as written (bench_dequant_forms.py)
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8)
    TAIL=8 run register_dequant_tests 240 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" \
      testing/test_register_dequant.py testing/test_dequant_pipeline.py
    TAIL=10 run dequant_forms 240 "$PY" benchmarks/bench_dequant_forms.py --rounds 3
    ;;
  s16f)  # the group-scaled form: the register-dequant GPU tests, then bench_dequant_forms.py (every form)
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8)
    TAIL=8 run register_dequant_tests 200 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" \
      testing/test_register_dequant.py
    TAIL=4 run dequant_forms 240 "$PY" benchmarks/bench_dequant_forms.py --rounds 3
    ;;
  s16d)  # every GPU test with the current defaults, 8 workers (spread test by test), each test named in the log
    # (-v: a run cut by its limit shows which tests did not run) and a hung test's stack dumped after 150 s
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist load)
    TAIL=30 run gpu_suite 520 "$PY" -m pytest -v -p no:cacheprovider -m gpu -ra -o faulthandler_timeout=150 \
      "${xdist[@]}" --ignore testing/test_differential_gpu.py testing  # (its own stage: differential)
    ;;
  s16c)  # int8-weight M = 16 with the weight converted in registers: wgmma tiles by split parts and sum forms
    TAIL=30 run split_k_m16_dequant 300 "$PY" benchmarks/bench_split_k.py --rounds 2 \
      --tiles "16,128,64,256,8;16,64,64,128,8;16,256,64,256,6;16,128,128,256,4" \
      --settings "auto:auto,8:last,8:launch,16:last"
    ;;
  s15a)  # 2026-12-06 (third session): split-K summed by the last part of each tile (TILEDSL_SPLIT_K_SUM=last) and
    # skinny mma.sync warp tiles: their GPU tests, then int8-weight M = 16 over three tiles and each sum form
    TAIL=8 run split_k_tests 150 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra testing/test_split_k.py \
      testing/test_cuda_gpu.py
    TAIL=3 run split_k_m16 200 "$PY" benchmarks/bench_split_k.py
    ;;
  s14a)  # split-K in one launch (TILEDSL_SPLIT_K_CLUSTER=1): its GPU tests, then int8-weight
    # M = 16 over two tiles with 0 / 4 / 8 / auto parts in clusters and 4 parts in two launches; the backward and M = 16
    TAIL=8 run split_k_tests 100 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra testing/test_split_k.py
    TAIL=3 run split_k_m16 120 "$PY" benchmarks/bench_split_k.py
    TAIL=40 run bench_general 120 "$PY" benchmarks/bench_general.py --rounds 2 \
      --only int8_weight_m16,attention_bwd,attention_bwd_causal
    ;;
  s13b)  # the second call: int8-weight M = 16 tuned with split-K off and auto over bench_configs.py's space, then
    # the table with the defaults
    for s in 0 auto; do
      TAIL=2 run "configs_int8_m16_split_$s" 150 "$PY" benchmarks/bench_configs.py --only int8_weight_m16 \
        --rounds 3 --switches TILEDSL_SPLIT_K=$s
      mv "$OUT/bench_configs.json" "$OUT/configs_int8_m16_split_$s.json"
    done
    bash "$0" s11e
    ;;
  next13)  # see the header
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8)
    TILEDSL_HOISTED_FENCES=1 TAIL=8 run fence_fix_tests 200 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra \
      "${xdist[@]}" testing/test_hoisted_fences.py testing/test_bench_general.py -k "configs_on_gpu or hoisted"
    bash "$0" s11e
    ;;
  next12b)  # the next session's second call: the attention backward over a grid of tile configs, then the table
    TAIL=20 run bwd_configs 300 "$PY" benchmarks/bench_bwd_configs.py --rounds 2
    bash "$0" s11e
    ;;
  s12b)  # TILEDSL_HOISTED_FENCES=1 (one fence before a TMA ring loop instead of one per gemm and iteration): its GPU
    # tests, then the attention backward (the one program with 4 fewer fences per iteration) off / on, twice each
    TAIL=6 run hoisted_fences_tests 120 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra -x \
      testing/test_hoisted_fences.py
    passed hoisted_fences_tests || exit 0
    for f in 0 1 0 1; do
      TILEDSL_HOISTED_FENCES=$f TAIL=3 run "bench_bwd_fences$f" 90 "$PY" benchmarks/bench_general.py \
        --only attention_bwd,attention_bwd_causal --rounds 2
    done
    ;;
  hoist)  # TILEDSL_HOIST_OPERAND_READS=1 (the attention backward's dS^T store above the dK gemm): its GPU tests,
    # then the attention backward with and without it, twice each (2 rounds)
    TAIL=6 run hoist_tests 150 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra testing/test_async_gemms.py
    for h in 0 1 0 1; do
      TILEDSL_HOIST_OPERAND_READS=$h TAIL=3 run "bench_bwd_hoist$h" 90 "$PY" benchmarks/bench_general.py \
        --only attention_bwd,attention_bwd_causal --rounds 2
    done
    ;;
  maskafter)  # TILEDSL_MASK_AFTER_GEMM=1 (causal attention's mask after a cleared score gemm): its GPU tests, then
    # attention with and without it, twice each (2 rounds)
    TAIL=6 run mask_after_tests 150 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra testing/test_mask_after_gemm.py
    for m in 0 1 0 1; do
      TILEDSL_MASK_AFTER_GEMM=$m TAIL=3 run "bench_attn_mask_after$m" 90 "$PY" benchmarks/bench_general.py \
        --only flash_attention,flash_attention_causal --rounds 2
    done
    ;;
  final10)  # one call for a short lease: the GPU tests of the files the last changes touch (fast exp2, the raster,
    # attention, the benchmark programs), attention with and without fast exp2, then every bench_general program
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8 --dist loadfile)
    TAIL=12 run gpu_tests_final 120 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" \
      testing/test_fast_exp2.py testing/test_raster.py testing/test_bench_general.py testing/test_deferred_gemm.py \
      testing/test_cuda_gpu.py testing/test_uniform_selects.py testing/test_smem_fit.py
    only=flash_attention,flash_attention_causal,attention_bwd,attention_bwd_causal
    TILEDSL_FAST_EXP2=0 TAIL=4 bench_as bench_no_fast_exp2 60 attn_no_fast_exp2 --only $only --rounds 2
    TAIL=40 bench_as bench_general 180 general_final --rounds 2
    ;;
  final10a)  # one call: with TILEDSL_RASTER=8 the grouped order's GPU tests and the GEMM GPU tests, the GEMMs with
    # TILEDSL_RASTER=0 / 8 twice each, then the int8 M = 16 config sweep over a wider space
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8)
    TILEDSL_RASTER=8 TAIL=6 run raster_tests 150 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" \
      testing/test_raster.py testing/test_tma.py testing/test_bench_general.py -k \
      "raster or grouped or persistent or gemm or batched or swiglu or grouped"
    for r in 0 8 0 8; do
      TILEDSL_RASTER=$r TAIL=3 run "bench_raster$r" 60 "$PY" benchmarks/bench_general.py --only gemm,gemm_8192 --rounds 2
      cat "$OUT/bench_general.json" >> "$OUT/gemm_raster$r.json"; echo >> "$OUT/gemm_raster$r.json"
    done
    int8=TILEDSL_OVERLAP_TRANSFORMS=1,TILEDSL_FAST_INT8_CAST=1,TILEDSL_TILE_BARRIERS=1
    TAIL=2 run configs_int8_weight_m16 150 "$PY" benchmarks/bench_configs.py --only int8_weight_m16 --rounds 3 \
      --switches "$int8"
    ;;
  final10b)  # one call: every bench_general program with the defaults (the table)
    TAIL=40 run bench_general 400 "$PY" benchmarks/bench_general.py --rounds 2
    ;;
  lease2b)  # one call: the programs the 2026-12-05 evening defaults change, with the new defaults and with the old
    # ones (2 rounds each), then the attention backward without TMA vector loads
    only=flash_attention,flash_attention_causal,flash_decode,attention_bwd,attention_bwd_causal,layernorm
    TAIL=10 bench_as bench_new 240 new_defaults --only $only,int8_weight_m16,int8_weight_m4096 --rounds 2
    old=(TILEDSL_WARP_SPECIALIZE=1 TILEDSL_DEFER_LAST_GEMM=0 TILEDSL_SPLIT_MASKS=0 TILEDSL_ASYNC_GEMMS=0
         TILEDSL_WIDE_REGISTER_VECTORS=0 TILEDSL_TMA_VECTORS=0)
    (export "${old[@]}"; TAIL=8 bench_as bench_old 200 old_defaults --only $only --rounds 2)
    (export TILEDSL_TMA_VECTORS=0; TAIL=3 bench_as bench_no_tma_vectors 80 without_tma_vectors \
      --only attention_bwd,attention_bwd_causal --rounds 2)
    ;;
  defaults)  # after the switch to the new defaults: the GPU tests of the files that changed with it
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8)
    TAIL=8 run defaults_tests 150 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" \
      testing/test_tma_reduce.py testing/test_tile_barriers.py testing/test_vector_atomics.py \
      testing/test_dequant_pipeline.py testing/test_bench_general.py
    ;;
  configs)  # how much of each gap is the tile configuration (bench_configs.py), one program per run; the int8
    # programs tuned with their switches on (the fixed config timed with and without them)
    int8=TILEDSL_OVERLAP_TRANSFORMS=1,TILEDSL_FAST_INT8_CAST=1,TILEDSL_TILE_BARRIERS=1
    for p in int8_weight_m16 int8_weight_m4096 gemm flash_attention flash_attention_causal gemm_8192; do
      case $p in int8*) sw=$int8 ;; *) sw= ;; esac
      TAIL=2 run "configs_$p" 150 "$PY" benchmarks/bench_configs.py --only $p --rounds 3 --switches "$sw"
      mv "$OUT/bench_configs.json" "$OUT/configs_$p.json"
    done
    ;;
  measure1)  # the int8 tests mended after their first GPU run, then int8-weight and GEMM timings with their switches
    TAIL=8 run more_types_tests 150 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra testing/test_wgmma_more_types.py
    only=int8_weight_m4096,int8_weight_m16
    TAIL=4 run bench_int8_default 100 "$PY" benchmarks/bench_general.py --only $only --rounds 2
    mv "$OUT/bench_general.json" "$OUT/int8_default.json"
    TILEDSL_OVERLAP_TRANSFORMS=1 TILEDSL_FAST_INT8_CAST=1 TAIL=4 run bench_int8_switches 100 "$PY" \
      benchmarks/bench_general.py --only $only --rounds 2
    mv "$OUT/bench_general.json" "$OUT/int8_switches.json"
    only=gemm,gemm_8192,gemm_staged,batched
    TAIL=6 run bench_gemm_default 120 "$PY" benchmarks/bench_general.py --only $only --rounds 2
    mv "$OUT/bench_general.json" "$OUT/gemm_default.json"
    TILEDSL_TMA_STORE=1 TAIL=6 run bench_gemm_tma_store 120 "$PY" benchmarks/bench_general.py --only $only --rounds 2
    mv "$OUT/bench_general.json" "$OUT/gemm_tma_store.json"
    ;;
  measure2)  # attention (all, pingpong), the attention backward (async gemms), W8A8 on wgmma
    only=flash_attention,flash_attention_causal
    TAIL=4 run bench_attn_default 100 "$PY" benchmarks/bench_general.py --only $only --rounds 2
    mv "$OUT/bench_general.json" "$OUT/attn_default.json"
    TILEDSL_WARP_SPECIALIZE=all TAIL=4 run bench_attn_all 100 "$PY" benchmarks/bench_general.py --only $only --rounds 2
    mv "$OUT/bench_general.json" "$OUT/attn_all.json"
    TILEDSL_WARP_SPECIALIZE=pingpong TAIL=4 run bench_attn_pingpong 100 "$PY" benchmarks/bench_general.py \
      --only $only --rounds 2
    mv "$OUT/bench_general.json" "$OUT/attn_pingpong.json"
    only=attention_bwd,attention_bwd_causal
    TAIL=4 run bench_bwd_default 100 "$PY" benchmarks/bench_general.py --only $only --rounds 2
    mv "$OUT/bench_general.json" "$OUT/bwd_default.json"
    TILEDSL_ASYNC_GEMMS=1 TAIL=4 run bench_bwd_async 100 "$PY" benchmarks/bench_general.py --only $only --rounds 2
    mv "$OUT/bench_general.json" "$OUT/bwd_async.json"
    TILEDSL_WGMMA_MORE_TYPES=1 TAIL=4 run bench_w8a8 100 "$PY" benchmarks/bench_int8_gemm.py \
      --shapes 4096x4096x4096,8192x8192x8192 --rounds 2
    ;;
  buckets)
    TAIL=12 run tune_buckets 560 "$PY" benchmarks/bench_tune_buckets.py --rounds 3 \
      --ms 3,4,5,8,12,16,20,32,40,64,100,128,200,256,600,1024,1500,2048,3000,4096
    ;;
  quick)
    run hopper_gemm_tests 300 "$PY" -m pytest -q -p no:cacheprovider -x testing/test_hopper_gemm.py
    run launch 120 "$PY" benchmarks/bench_launch.py
    TAIL=10 run gemm_skinny 300 "$PY" benchmarks/bench_gemm_hopper.py --shapes 16x4096x4096,128x4096x4096 --rounds 5
    ;;
  tests)
    TAIL=15 run gpu_tests 420 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra testing
    run examples 150 "$PY" -m pytest -q -p no:cacheprovider testing/test_examples.py
    ;;
  gemm)
    TAIL=5 run gemm_large 240 "$PY" benchmarks/bench_gemm_hopper.py --shapes 4096x4096x4096,8192x8192x8192 --rounds 5
    mv "$OUT/bench_gemm_hopper.json" "$OUT/gemm_large.json"
    TAIL=5 run gemm_skinny 300 "$PY" benchmarks/bench_gemm_hopper.py --shapes 16x4096x4096,128x4096x4096 --rounds 5
    mv "$OUT/bench_gemm_hopper.json" "$OUT/gemm_skinny.json"
    ;;
  attention)
    TAIL=12 run attention 420 "$PY" benchmarks/bench_attention_hopper.py --no-small --rounds 7 \
      --variants persistent,tile --causal-variants tile
    run launch 120 "$PY" benchmarks/bench_launch.py
    ;;
  final)
    TAIL=15 run gpu_tests 420 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra testing
    run examples 150 "$PY" -m pytest -q -p no:cacheprovider testing/test_examples.py
    TAIL=6 run gemm_fp8 240 "$PY" benchmarks/bench_gemm_hopper.py --dtypes float8_e4m3fn \
      --shapes 4096x4096x4096,8192x8192x8192 --rounds 5
    mv "$OUT/bench_gemm_hopper.json" "$OUT/gemm_fp8.json"
    ;;
  fp8)
    TAIL=4 run gemm_tests 300 "$PY" -m pytest -q -p no:cacheprovider -ra testing/test_hopper_gemm.py \
      testing/test_examples.py
    TAIL=6 run gemm_fp8 300 "$PY" benchmarks/bench_gemm_hopper.py --dtypes float8_e4m3fn \
      --shapes 4096x4096x4096,8192x8192x8192 --rounds 5
    mv "$OUT/bench_gemm_hopper.json" "$OUT/gemm_fp8.json"
    ;;
  causal)
    TAIL=4 run attention_tests 300 "$PY" -m pytest -q -p no:cacheprovider -ra testing/test_hopper_attention.py
    TAIL=12 run attention_causal 420 "$PY" benchmarks/bench_attention_hopper.py --no-small --rounds 7 --variants "" \
      --causal-variants tile,persistent,persistent_nopp
    mv "$OUT/bench_attention_hopper.json" "$OUT/attention_causal.json"
    ;;
  gqa)
    TAIL=4 run attention_tests 300 "$PY" -m pytest -q -p no:cacheprovider -ra testing/test_hopper_attention.py \
      testing/test_examples.py
    TAIL=12 run attention_gqa 420 "$PY" benchmarks/bench_attention_hopper.py --no-small --rounds 7 --groups 4 \
      --dtype bfloat16 --variants persistent,tile --causal-variants tile
    mv "$OUT/bench_attention_hopper.json" "$OUT/attention_gqa.json"
    ;;
  alltests)
    xdist=(); "$PY" -c "import xdist" 2>/dev/null && xdist=(-n 6 --dist loadfile)
    TAIL=30 run gpu_tests 480 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra "${xdist[@]}" testing
    ;;
  wgmma)
    TAIL=25 run gpu_tests 280 "$PY" -m pytest -q -p no:cacheprovider -m gpu -ra testing/test_wgmma.py \
      testing/test_bench_general.py testing/test_cuda_gpu.py
    ;;
  general)
    TAIL=25 run bench_general 480 "$PY" benchmarks/bench_general.py --rounds 3
    TAIL=15 run bench_newer_style 150 "$PY" benchmarks/bench_newer_style.py --rounds 3
    ;;
  fidelity)
    TAIL=8 run side_effects 300 "$PY" -m pytest -q -p no:cacheprovider -ra -m gpu testing/test_cuda_side_effects.py \
      testing/test_cuda_gpu.py
    TAIL=8 run hopper_tests 400 "$PY" -m pytest -q -p no:cacheprovider -ra -m gpu testing/test_hopper_gemm.py \
      testing/test_hopper_attention.py
    TAIL=12 run differential 500 "$PY" -m pytest -q -p no:cacheprovider -ra -m gpu testing/test_differential_gpu.py
    ;;
  bench)
    run launch 120 "$PY" benchmarks/bench_launch.py
    TILEDSL_DISABLE_HOPPER_GEMM=1 TAIL=12 run norms 120 "$PY" benchmarks/bench_cuda.py --only softmax,rmsnorm
    TAIL=12 run attention 420 "$PY" benchmarks/bench_attention_hopper.py --no-small --rounds 7 \
      --variants persistent,tile --causal-variants tile
    ;;
esac
