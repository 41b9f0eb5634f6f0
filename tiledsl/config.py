"""The one place tiledsl reads environment variables (``TILEDSL_*``).

Each setting is read when asked for, so tests and users may change the environment at run time.

| variable | meaning | default |
|---|---|---|
| TILEDSL_CACHE_DIR | cache root (must be yours, not world-writable: it holds native code) | ``~/.cache/tiledsl`` |
| TILEDSL_TMP_DIR | scratch space for builds (TVM, nvcc) and staging | ``<cache dir>/tmp`` (cache off: private temp) |
| TILEDSL_DISABLE_CACHE | ``1``: no disk cache for kernels (memory cache stays) | 0 |
| TILEDSL_STRICT_SCHEDULES | ``1``: a build that fails with the newer schedules on fails instead of being built again without them (the test suite sets it) | 0 |
| TILEDSL_AUTO_TUNING_DISABLE_CACHE | ``1``: tuning results are neither read from nor written to disk | 0 |
| TILEDSL_AUTO_TUNING_FORCE_RETUNE | ``1``: ignore cached tuning results and tune again (the new result is written) | 0 |
| TILEDSL_AUTO_TUNING_QUIET | ``1``: tuning shows no progress and no winner line on stderr (the log still has them) | 0 |
| TILEDSL_AUTO_TUNING_CPU_COUNTS | number of compile workers; -1 = derive from the CPU count | -1 |
| TILEDSL_AUTO_TUNING_MAX_CPU_COUNT | upper bound on compile workers; -1 = none | -1 |
| TILEDSL_AUTO_TUNING_CPU_UTILITIES | fraction of the available CPUs used for compiling | 0.9 |
| TILEDSL_WORKER_FORK_SERVER | ``0``: every tuning run starts its workers as fresh Python processes (3-5 s of imports), instead of forking them from a fork server this process keeps (``autotuner/fork_server.py``) | 1 |
| TILEDSL_HOPPER_SHORTCUT | ``1``: on sm_90a, a program the whole-kernel matchers recognize (the canonical GEMM, flash attention forward) is replaced by their hand-written kernel instead of lowered by the general passes (off by default since 2026-12-07: no program may be faster only because it matched, issue 9; the general passes run GEMMs as fast and canonical flash attention 1-5 % slower, 5-10 % at TileLang's 64 x 64 example config, H100/H200) | 0 |
| TILEDSL_DISABLE_HOPPER_GEMM | the same switch, inverted (``0``: the shortcut on), for scripts written before the shortcut went off by default; ``TILEDSL_HOPPER_SHORTCUT`` wins where both are set | 1 |
| TILEDSL_TMA | ``0``: pipelined loops on sm_90a keep cp.async instead of TMA loads into an mbarrier ring | 1 |
| TILEDSL_DISABLE_TMA | ``1``: the same as ``TILEDSL_TMA=0`` (TileLang's ``tl.disable_tma_lower`` does it per kernel) | 0 |
| TILEDSL_TMA_VECTORS | ``0``: a pipelined loop whose threads read a 1-d tile it loads (row statistics) keeps cp.async instead of a TMA ring | 1 |
| TILEDSL_WARP_SPECIALIZE | ``0``: no producer warpgroup for TMA pipelines on sm_90a; ``1``: only for loops of copies and gemms; ``all``: also for attention-like loops; ``pingpong``: ``all`` with two consumer warpgroups taking turns at their gemms (slower) | all |
| TILEDSL_TMA_STORE | ``0``: warp-specialized kernels store results per thread instead of via shared memory and TMA stores | 1 |
| TILEDSL_OVERLAP_TRANSFORMS | ``0``: threads filling wgmma operand tiles (int8 -> fp16) use one buffer and wait for each gemm, instead of two buffers with the gemm in flight | 1 |
| TILEDSL_FAST_INT8_CAST | ``0``: vectorized int8/uint8 -> fp16 casts between shared tiles use conversion instructions instead of byte permutes | 1 |
| TILEDSL_MMA_INT8 | ``1``: int8/uint8 gemms (A [M, K], B [N, K], int32 accumulator) on ``mma.sync m16n8k32`` instead of FMA on sm_80+ where wgmma does not take them (GPU tests passed on the H100 2026-12-07, where only narrow k tiles take it; the sm_80-sm_89 code has not run on such a GPU) | 0 |
| TILEDSL_WGMMA_MORE_TYPES | ``0``: int8 gemms (int32 accumulator), fp16/fp8 gemms into fp16 accumulators and 8-bit A fragments take the FMA path instead of wgmma on sm_90a (W8A8 4096^3 on the H100: 0.234 ms with wgmma, 18.1 ms with FMA) | 1 |
| TILEDSL_ASYNC_GEMMS | ``0``: each wgmma gemm waited for before the next statement, instead of independent ones issued together and each waited for where its result is used | 1 |
| TILEDSL_SPLIT_MASKS | ``0``: masked T.Parallel stores (causal, bounds) evaluate the mask on every tile, instead of branching to a plain store where the mask is uniform over the tile | 1 |
| TILEDSL_LONGEST_FIRST | ``1``: blocks whose pipelined loop grows with a block index (causal attention) launch longest first (not yet timed on a GPU) | 0 |
| TILEDSL_WIDE_REGISTER_VECTORS | ``0``: element loops vectorize by their register type (fp16 loads into fp32 fragments 8 bytes at a time) instead of taking 16-byte global/shared accesses | 1 |
| TILEDSL_FUSE_REDUCTIONS | ``1``: two consecutive independent reductions share one shared-memory round (no faster on LayerNorm, H100) | 0 |
| TILEDSL_VECTOR_ATOMICS | ``1``: float32 atomic adds into global memory take 2 or 4 lanes per instruction on sm_90+ (no faster on the attention backward, H100) | 0 |
| TILEDSL_DEFER_LAST_GEMM | ``0``: a TMA-pipelined loop's last wgmma gemm is waited for in its own iteration, instead of running during the next one (attention's ``P V`` during the next softmax) | 1 |
| TILEDSL_TMA_REDUCE | ``0``: atomic adds of a whole fragment into a global tile stay one atomic per element instead of TMA reduce-adds on sm_90a | 1 |
| TILEDSL_TILE_BARRIERS | ``0``: TVM's barrier placement takes a kernel's shared pool for one buffer (a barrier between a write of one tile and a read of another) | 1 |
| TILEDSL_PERSISTENT | ``0``: warp-specialized kernels get one CTA per tile, not one per SM; ``N`` > 1: at most N CTAs | 1 |
| TILEDSL_RASTER | a persistent grid walks each plane of tiles in groups of ``G`` rows of blockIdx.y (L2 reuse of a GEMM's panels); ``0``: launch order, blockIdx.x fastest | 8 |
| TILEDSL_HOIST_OPERAND_READS | ``0``: a statement after a wgmma gemm that only reads its register A operand stays after the gemm, instead of moving above it | 1 |
| TILEDSL_MASK_AFTER_GEMM | ``1``: a 0 / infinity mask written into an accumulator before a gemm adds to it is applied after a cleared gemm (no faster on causal attention, H100) | 0 |
| TILEDSL_ROW_RECIPROCALS | in a T.Parallel nest, a float division by a value the innermost loop does not change is a multiplication by its reciprocal, computed once per row (one more rounding; ``passes/cuda/row_reciprocals.py``; with the packed conversions and deferred row sums, H100 2026-12-07: flash attention 3.77 -> 3.58 ms, TileLang's 64 x 64 config 5.93 -> 5.33 ms; none of the three alone is faster); ``0``: divisions as written | 1 |
| TILEDSL_WS_TRANSFORMS | ``0``: a pipelined loop whose threads convert loaded tiles for its gemms (an int8 weight) keeps cp.async and no producer warpgroup, instead of being warp-specialized with every load on TMA | 1 |
| TILEDSL_HOISTED_FENCES | ``0``: in a TMA ring loop without a producer warpgroup, every wgmma gemm keeps its ``fence.proxy.async`` per iteration (on: a gemm whose shared operands no statement of the loop writes fences once before the loop; attention backward 12.95 -> 12.68 ms on the H100; every backward config right with the staging fix, H100 2026-12-06) | 1 |
| TILEDSL_WAITS_PAST_BARRIERS | ``0``: back-to-back wgmma gemms keep the program's order and every barrier, fence and TMA store of a loop body waits for all gemms in flight (on: issued in the order their results are needed, and those wait only for the gemms they must; the attention backward's dK gemm runs on while its dQ is reduced into global memory: 12.82 -> 12.52 ms, causal 7.05 -> 6.84 ms on the H100; ``passes/cuda/async_gemms.py``) | 1 |
| TILEDSL_PLAIN_POOL | ``0``: a kernel without wgmma tiles leaves its shared tiles to TVM's merging, where barriers are placed as for one buffer (on: tiles that can share no bytes become views of one pool, barriers per tile; the int8-weight GEMM on mma.sync loses 7 of its 8 barriers per k step, M = 16: 1.06 -> 1.09x cuBLAS on the H100; ``smem_swizzle.align_tiles``) | 1 |
| TILEDSL_REGISTER_DEQUANT | on sm_90a, a gemm whose B is an 8-bit tile cast to fp16 or bf16 in the loop ([K, N] or [N, K]) computes the transposed product with the weight converted in registers as wgmma's A operand, no converted tile in shared memory (``passes/cuda/register_dequant.py``; H100: int8-weight M = 4096 0.74-0.76 -> 1.00-1.04x cuBLAS fp16, bf16 0.65 -> 1.01x); ``0``: the program's cast loop as written | 1 |
| TILEDSL_SPLIT_K_GROUP_COUNT | split-K's last-part count waits on a named barrier of the program's threads (``bar.sync`` / ``bar.red.or``) instead of ``__syncthreads``, so the split loop keeps its producer warpgroup and wgmma tiles sum their parts in one launch (``passes/split_k.py``; with the register order, H100: 16 x 4096 x 4096 24.35 -> 23.07 us, 128 rows 26.64 -> 24.18 us against a second launch); ``0``: ``__syncthreads``, and ``TILEDSL_SPLIT_K_SUM=auto`` sums wgmma tiles in a second launch | 1 |
| TILEDSL_SPLIT_K_REGISTER_ORDER | split-K's last-part form passes the partial sums in the accumulators' register order (whole 256-byte runs per warp access, ``passes/cuda/register_order.py``; H100, 16 x 4096 x 4096 on wgmma: 26.19 -> 23.07 us, the whole-kernel shortcut's 23.18); ``0``: in the output's layout (a warp access spread over 8 rows, the sums loaded one float at a time) | 1 |
| TILEDSL_ONE_STAGE_AHEAD | a ``T.Pipelined(..., num_stages=1)`` loop runs its copies one iteration ahead into two buffers, as TileLang's ``num_stages=1`` does (``passes/cuda/pipeline.py``; on sm_90a the code of the same program with ``num_stages=2``; flash attention written so, H100: 1.06x SDPA through the general passes); ``0``: such loops stay plain, every load waited for | 1 |
| TILEDSL_K_MAJOR_COPIES | on sm_90a, a gemm with an 8-bit operand stored MN-major (B as [K, N], A as [K, M]) reads a K-major copy the threads write before it, on wgmma (``passes/cuda/k_major_copies.py``); ``0``: such gemms run on FMA | 1 |
| TILEDSL_WARPGROUP_REDUCE | ``1``: on sm_90a, a TMA reduce-add whose staging panels are each written by one warpgroup (the attention backward's dQ) is staged between that warpgroup's named barriers and issued by its first thread, not between block barriers by thread 0 (``passes/cuda/reduce_barriers.py``; H100: attention backward 12.35-12.42 -> 12.54-12.55 ms, TVM then adds a block barrier before the next dS^T stores) | 0 |
| TILEDSL_PERSISTENT_UNEVEN | ``1``: a warp-specialized loop whose length depends on the tile (causal attention) also runs on a persistent grid, each side counting its ring positions in a register (``passes/cuda/warp_specialize.py``; rings of 3 or more stages only: a 2-stage gemm chain on uneven tiles hung on the H100, cause unknown); off, such kernels keep one CTA per tile, which the hardware balances (H100: causal attention 0.887x SDPA persistent against 0.957x one CTA per tile, same call) | 0 |
| TILEDSL_PACKED_CONVERSIONS | float32 -> float16 / bfloat16 casts into registers (and two-lane stores) a pair per ``cvt.rn.f16x2.f32`` / ``cvt.rn.bf16x2.f32`` instead of lane by lane (``passes/cuda/packed_convert.py``, sm_80+; bit-identical results; a default with the row reciprocals and deferred row sums, see TILEDSL_ROW_RECIPROCALS); ``0``: lane by lane | 1 |
| TILEDSL_DESCRIPTOR_OFFSETS | ``0``: each wgmma's shared-memory descriptor encoded from its address (an add, shift, mask, widening and or per operand) instead of its tile's descriptor plus a constant (one 64-bit add; ``passes/cuda/gemm_wgmma.py``; the same values; H100 2026-12-06: attention 0.960 / 0.980 off, 0.974 / 0.988 on, same call) | 1 |
| TILEDSL_WARP_UNIFORM_INDEX | ``0``: ``threadIdx.x // 128`` (a warpgroup's rows, in wgmma descriptors) computed from ``threadIdx.x``, which nvcc cannot prove warp-uniform (a register-to-uniform move before each wgmma), instead of from a warp index broadcast from lane 0 (``passes/cuda/warp_index.py``) | 1 |
| TILEDSL_DEFER_ROW_SUMS | a loop's running row sum of a tensor-core accumulator (flash attention's ``logsum``) kept per thread and combined across the lanes sharing its rows once after the loop instead of every iteration (``passes/cuda/row_sums.py``; a default with the row reciprocals and packed conversions, see TILEDSL_ROW_RECIPROCALS); ``0``: combined every iteration | 1 |
| TILEDSL_WARPGROUP_RELEASE | ``0``: a warp-specialized ring whose tiles only wgmma gemms read is released by every consumer warp, not by one thread per consumer warpgroup (``passes/cuda/pipeline.py``; the hand-written attention kernel's and CUTLASS's form; the default since 2026-12-07: every GPU test passed with it on the H100, the skinny split GEMM 1 % faster, attention no faster) | 1 |
| TILEDSL_FENCE_AFTER_CONVERSION | ``1``: the int8-weight GEMM's ``wgmma.fence`` after each 32 k's weight conversion into registers, not before it (``passes/cuda/register_dequant.py``): ptxas otherwise fences those registers itself and, where a part of the loop runs few iterations (M = 16 at K = 512, or 4-5 stages at K = 4096 in 4 parts; not the benchmark's config), serializes every wgmma of the kernel (its notes C7519, C7520); opt-in until its GPU tests have run (written 2026-12-07 without a device) | 0 |
| TILEDSL_SPLIT_K_FLAT_GATHER | ``1``: the split-K last part adds the other parts' sums in an unrolled loop with no branch, so their loads are in flight together (``passes/split_k.py``); opt-in until its GPU tests have run (written 2026-12-07 without a device) | 0 |
| TILEDSL_FENCED_DEFERRED_WAIT | ``1``: the wait for a deferred gemm (attention's ``P V``) stays after the statements before it (their registers pinned, then a never-taken branch: ``deferred_gemm.schedule_fence``), instead of where ptxas puts it (into the softmax, as in the hand-written kernel; H100 2026-12-07: flash attention 3.74 ms left to ptxas against 3.97 fenced, causal 2.12 against 2.18) | 0 |
| TILEDSL_SPLIT_K | ``auto``: on CUDA, a GEMM kernel whose grid fills at most half the SMs has its reduction loop split across ``blockIdx.z`` into up to 8 parts (8 warps per SM in all), unless the whole-kernel Hopper GEMM takes the program (it splits its own way); ``S`` > 1: S parts on any target; ``0``: programs run as written (H100, general passes: fp16 GEMMs of 8-32 output tiles 0.50-0.67x -> 0.75-0.94x cuBLAS; int8-weight M = 16 on 16 x 128 tiles 0.67 -> 1.40x) | auto |
| TILEDSL_SPLIT_K_SUM | how a split GEMM sums its parts on CUDA: ``launch`` (a second launch), ``last`` (the last part of a tile to finish, found with an atomic counter, sums them in the same launch; it costs a wgmma loop its producer warpgroup), ``cluster`` (sm_90: the parts of a tile are one thread-block cluster; float32 sums of up to 40 KB through part 0's shared memory, not yet timed), ``auto``: ``last`` (with ``TILEDSL_SPLIT_K_GROUP_COUNT=0``: ``last`` for tiles of fewer than 64 rows, else ``launch``) (H100, int8-weight M = 16: 17.8 -> 17.5 us with 16 x 64 tiles, 18.4 -> 17.0 us on 8 warps; fp16 GEMMs on wgmma: 16.7 -> 20.5 us with ``last``) | auto |
| TILEDSL_SPLIT_K_CLUSTER | ``1``: the same as ``TILEDSL_SPLIT_K_SUM=cluster`` (slower on the H100: int8-weight M = 16, 18.5 against 17.8 us with 4 parts) | 0 |
| TILEDSL_FAST_EXP2 | ``0``: float32 ``T.exp2`` on CUDA is ``exp2f`` (denormal handling around ``ex2``) instead of one ``ex2.approx.ftz.f32`` | 1 |
| TILEDSL_NVCC | path of nvcc | ``$CUDA_HOME/bin/nvcc`` or ``nvcc`` on PATH |
| TILEDSL_NVCC_TIMEOUT | seconds one nvcc run may take | 120 |
| TILEDSL_AUTOTUNE | ``0``: calls never tune (they use cached, shipped or default configs) | 1 |
| TILEDSL_TUNED_CONFIGS | folder of shipped tuned configs (``<dir>/<device>/<factory>.json``) | none |
| TILEDSL_PRINT_AUTOTUNING | ``1``: print each tuning's table (every config's time, the winner) to stderr | 0 |
"""
from __future__ import annotations

import os
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}


def _flag(name: str, default: str = "0") -> bool:
    return (os.environ.get(name, default).strip().lower() or default) in _TRUE


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer") from None


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None


def cache_dir_setting() -> Path:
    """The cache root as configured (TILEDSL_CACHE_DIR or ``~/.cache/tiledsl``), not checked or created."""
    return Path(os.environ.get("TILEDSL_CACHE_DIR") or Path.home() / ".cache" / "tiledsl").expanduser()


def cache_dir() -> Path:
    """Root folder of every tiledsl cache: created 0700 and checked once per process (a folder of another user or
    one everyone may write to raises CacheFolderError); a private temporary folder, with a warning, when it cannot
    be written to. See :mod:`tiledsl.cache.folders`."""
    from .cache.folders import usable_folder

    return usable_folder(cache_dir_setting(), "TILEDSL_CACHE_DIR")


def tmp_dir() -> Path:
    """Scratch folder for builds and staging, created 0700: TILEDSL_TMP_DIR (a world-writable one such as /tmp gets
    a private ``tiledsl-<uid>`` folder inside), else ``<cache dir>/tmp``; with TILEDSL_DISABLE_CACHE=1 and no
    TILEDSL_TMP_DIR, a private temporary folder of this process, so the cache folder is never touched."""
    from .cache.folders import make_private_dirs, process_temp_dir, usable_folder

    explicit = os.environ.get("TILEDSL_TMP_DIR")
    if explicit:
        return usable_folder(explicit, "TILEDSL_TMP_DIR", share_world_writable=True)
    if disk_cache_disabled():
        return make_private_dirs(process_temp_dir() / "tmp")
    return make_private_dirs(cache_dir() / "tmp")


def disk_cache_disabled() -> bool:
    """True when compiled kernels must not be read from or written to disk."""
    return _flag("TILEDSL_DISABLE_CACHE")


def strict_schedules() -> bool:
    """TILEDSL_STRICT_SCHEDULES=1 (the test suite sets it): a build that fails with the newer schedules on fails,
    instead of being built again without them (``codegen/compile.py``), so a bug in a schedule cannot pass for a
    schedule that changed nothing."""
    return _flag("TILEDSL_STRICT_SCHEDULES")


def tuning_cache_disabled() -> bool:
    """True when tuning results must not be read from or written to disk."""
    return _flag("TILEDSL_AUTO_TUNING_DISABLE_CACHE") or disk_cache_disabled()


def force_retune() -> bool:
    """True when cached tuning results must be ignored (and replaced)."""
    return _flag("TILEDSL_AUTO_TUNING_FORCE_RETUNE")


def tuning_quiet() -> bool:
    """True when tuning runs must not write progress or the winner to stderr."""
    return _flag("TILEDSL_AUTO_TUNING_QUIET")


def worker_fork_server() -> bool:
    """Whether tuning workers are forked from this process's fork server (TILEDSL_WORKER_FORK_SERVER, default on)."""
    return _flag("TILEDSL_WORKER_FORK_SERVER", "1")


def tuning_cpu_counts() -> int:
    """Explicit number of compile workers, or -1."""
    return _int("TILEDSL_AUTO_TUNING_CPU_COUNTS", -1)


def tuning_max_cpu_count() -> int:
    """Upper bound on compile workers, or -1."""
    return _int("TILEDSL_AUTO_TUNING_MAX_CPU_COUNT", -1)


def tuning_cpu_utilities() -> float:
    """Fraction of the available CPUs given to compile workers."""
    return _float("TILEDSL_AUTO_TUNING_CPU_UTILITIES", 0.9)


def nvcc_path() -> str | None:
    """The nvcc to use: TILEDSL_NVCC, then $CUDA_HOME/bin/nvcc, then nvcc on PATH, else None."""
    import shutil

    explicit = os.environ.get("TILEDSL_NVCC")
    if explicit:
        return explicit
    for home in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if home and (Path(home) / "bin" / "nvcc").exists():
            return str(Path(home) / "bin" / "nvcc")
    return shutil.which("nvcc")


def nvcc_timeout() -> float:
    """Seconds one nvcc run may take before it is killed."""
    return _float("TILEDSL_NVCC_TIMEOUT", 120.0)


def hopper_specialization_disabled() -> bool:
    """True unless the whole-kernel Hopper shortcut is switched on (``TILEDSL_HOPPER_SHORTCUT=1``, or the older
    ``TILEDSL_DISABLE_HOPPER_GEMM=0``): programs then go through the general passes only, the default."""
    shortcut = os.environ.get("TILEDSL_HOPPER_SHORTCUT", "").strip()
    if shortcut:
        return shortcut.lower() not in _TRUE
    return _flag("TILEDSL_DISABLE_HOPPER_GEMM", "1")


def tma_lowering_enabled() -> bool:
    """True when pipelined copies on sm_90a become TMA loads into an mbarrier ring (the default; off with
    ``TILEDSL_TMA=0`` or ``TILEDSL_DISABLE_TMA=1``)."""
    return _flag("TILEDSL_TMA", "1") and not _flag("TILEDSL_DISABLE_TMA")


def warp_specialization_enabled() -> bool:
    """True when TMA pipelines of gemm-only loops on sm_90a get a producer warpgroup (the default; off with
    ``TILEDSL_WARP_SPECIALIZE=0``)."""
    return warp_specialize_mode() is not None


def warp_specialize_mode() -> str | None:
    """TILEDSL_WARP_SPECIALIZE: None (``0``), "gemm" (``1``: gemm-only loops), "all" (``all``, the default since
    it timed flash attention 0.96 -> 1.0x SDPA with the deferred gemm on the H100: also loops that compute more
    than gemms, such as attention, with the tiles loaded before the loop) or "pingpong" (``pingpong``: "all", and
    two consumer warpgroups take turns at their gemms; 0.75x, slower)."""
    raw = os.environ.get("TILEDSL_WARP_SPECIALIZE", "all").strip().lower() or "all"
    if raw in ("all", "pingpong"):
        return raw
    return "gemm" if raw in _TRUE else None


def warp_specialize_all() -> bool:
    """True when loops that compute more than gemms are warp-specialized too (modes "all" and "pingpong")."""
    return warp_specialize_mode() in ("all", "pingpong")


def tma_store_enabled() -> bool:
    """True when the result copies of a warp-specialized kernel become TMA stores through shared memory
    (the default since its GPU tests passed and it timed 0.84 -> 0.97x cuBLAS on a 4096^3 GEMM on the H100;
    ``TILEDSL_TMA_STORE=0`` turns it off)."""
    return _flag("TILEDSL_TMA_STORE", "1")


def overlap_transforms_enabled() -> bool:
    """True when a cp.async-pipelined loop whose threads fill wgmma operand tiles (an int8 weight converted to
    fp16) double-buffers those tiles and keeps its gemm in flight (the default; ``TILEDSL_OVERLAP_TRANSFORMS=0``
    turns it off)."""
    return _flag("TILEDSL_OVERLAP_TRANSFORMS", "1")


def fast_int8_cast_enabled() -> bool:
    """True when vectorized int8/uint8 -> fp16 casts between shared tiles become byte permutes and an fp16
    subtract (``passes/cuda/int8_convert.py``; the default; ``TILEDSL_FAST_INT8_CAST=0`` turns it off)."""
    return _flag("TILEDSL_FAST_INT8_CAST", "1")


def mma_int8_enabled() -> bool:
    """True when int8/uint8 gemms with A [M, K], B [N, K] and an int32 accumulator run on ``mma.sync m16n8k32``
    (sm_80+; on sm_90a where wgmma does not take them) instead of FMA (``TILEDSL_MMA_INT8=1``; opt-in: its GPU
    tests passed on the H100, where only narrow k tiles take it; the sm_80-sm_89 code has not run on such a GPU)."""
    return _flag("TILEDSL_MMA_INT8")


def wgmma_more_types_enabled() -> bool:
    """True when gemms on sm_90a take wgmma in three more forms: int8/uint8 operands with an int32 accumulator,
    fp16/fp8 operands with a float16 accumulator, and an 8-bit A held in a fragment (written to a shared tile
    first) (the default since 2026-12-07, when W8A8 4096^3 took 0.234 ms on wgmma against 18.1 ms on FMA, H100;
    ``TILEDSL_WGMMA_MORE_TYPES=0`` sends these gemms to the FMA path)."""
    return _flag("TILEDSL_WGMMA_MORE_TYPES", "1")


#: Schedules of the lowering that a failing build drops (the split masks and the longest-first order run on the CPU
#: too): a build that fails with any of them on is lowered again without those switched on by the environment,
#: then without those on by default (``codegen/compile.py``); name -> default. What each does is in the table at
#: the top of this module; a pass asks ``passes.lowering_options.schedule(name)``, the kernel cache key records
#: them all, and ``benchmarks/RESULTS.md`` has the timings behind each default.
OPT_IN_SCHEDULES = {"TILEDSL_DEFER_LAST_GEMM": "1", "TILEDSL_SPLIT_MASKS": "1", "TILEDSL_LONGEST_FIRST": "0",
                    "TILEDSL_WIDE_REGISTER_VECTORS": "1", "TILEDSL_FUSE_REDUCTIONS": "0",
                    "TILEDSL_VECTOR_ATOMICS": "0", "TILEDSL_TILE_BARRIERS": "1", "TILEDSL_TMA_REDUCE": "1",
                    "TILEDSL_ASYNC_GEMMS": "1", "TILEDSL_TMA_VECTORS": "1", "TILEDSL_HOIST_OPERAND_READS": "1",
                    "TILEDSL_MASK_AFTER_GEMM": "0", "TILEDSL_ROW_RECIPROCALS": "1", "TILEDSL_WS_TRANSFORMS": "1",
                    "TILEDSL_HOISTED_FENCES": "1", "TILEDSL_WAITS_PAST_BARRIERS": "1",
                    "TILEDSL_PLAIN_POOL": "1", "TILEDSL_REGISTER_DEQUANT": "1", "TILEDSL_K_MAJOR_COPIES": "1",
                    "TILEDSL_WARPGROUP_REDUCE": "0", "TILEDSL_PERSISTENT_UNEVEN": "0",
                    "TILEDSL_PACKED_CONVERSIONS": "1",
                    "TILEDSL_DESCRIPTOR_OFFSETS": "1", "TILEDSL_WARP_UNIFORM_INDEX": "1",
                    "TILEDSL_DEFER_ROW_SUMS": "1", "TILEDSL_WARPGROUP_RELEASE": "1",
                    "TILEDSL_FENCED_DEFERRED_WAIT": "0", "TILEDSL_SPLIT_K_GROUP_COUNT": "1",
                    "TILEDSL_ONE_STAGE_AHEAD": "1", "TILEDSL_SPLIT_K_REGISTER_ORDER": "1",
                    "TILEDSL_FENCE_AFTER_CONVERSION": "0", "TILEDSL_SPLIT_K_FLAT_GATHER": "0"}


#: The schedules of :data:`OPT_IN_SCHEDULES` that the CPU lowering runs too (the others are CUDA's only)
CPU_SCHEDULES = ("TILEDSL_SPLIT_MASKS", "TILEDSL_LONGEST_FIRST")


def schedule_enabled(name: str) -> bool:
    """Whether the schedule ``name`` of :data:`OPT_IN_SCHEDULES` is switched on: its default there, unless the
    environment says otherwise."""
    return _flag(name, OPT_IN_SCHEDULES[name])


def opt_in_schedules_on(defaults: bool = False, target_kind: str = "cuda") -> list:
    """The names in :data:`OPT_IN_SCHEDULES` that are switched on for a build for ``target_kind``: of those off by
    default (switched on by the environment), or with ``defaults`` of those on by default (and not switched off)."""
    return [name for name, default in OPT_IN_SCHEDULES.items()
            if (default == "1") == defaults and schedule_enabled(name)
            and (target_kind == "cuda" or name in CPU_SCHEDULES)]


def persistent_grid_ctas() -> int | None:
    """TILEDSL_PERSISTENT: None when warp-specialized kernels keep one CTA per tile (``0``), 0 for a persistent
    grid of one CTA per SM (the default, ``1``), N for at most N CTAs (``N`` > 1, to test tile loops on small
    problems)."""
    raw = os.environ.get("TILEDSL_PERSISTENT", "1").strip().lower() or "1"
    if raw in ("0", "false", "no", "off"):
        return None
    if raw in _TRUE:
        return 0
    count = _int("TILEDSL_PERSISTENT", 1)
    if count < 1:
        raise ValueError(f"TILEDSL_PERSISTENT={raw!r}: use 0 (off), 1 (one CTA per SM) or a CTA count > 1")
    return count


# ---------------------------------------------------------------------- tuning for real workloads (tiledsl.tune)

def autotune_enabled() -> bool:
    """TILEDSL_AUTOTUNE: False when calls must never tune (``tiledsl.enable_autotune()`` overrides it)."""
    raw = os.environ.get("TILEDSL_AUTOTUNE", "1").strip().lower()
    if raw in _TRUE or raw == "":
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"TILEDSL_AUTOTUNE={raw!r}: use 0 (never tune on a call) or 1 (tune on a miss)")


def tuned_configs_dir() -> Path | None:
    """TILEDSL_TUNED_CONFIGS: the folder of shipped tuned configs, or None."""
    raw = os.environ.get("TILEDSL_TUNED_CONFIGS", "").strip()
    return Path(raw).expanduser() if raw else None


def print_autotuning() -> bool:
    """TILEDSL_PRINT_AUTOTUNING: True when each tuning's table must be printed to stderr."""
    return _flag("TILEDSL_PRINT_AUTOTUNING")


def persistent_raster_rows() -> int:
    """TILEDSL_RASTER: G > 0 (8, the default) when a persistent grid walks its tiles in groups of G rows of
    blockIdx.y, down their rows first (``warp_specialize.py``; GEMM 8192^3 0.92 -> 1.01-1.03x cuBLAS on the H100),
    0 for launch order (blockIdx.x fastest)."""
    rows = _int("TILEDSL_RASTER", 8)
    if rows < 0:
        raise ValueError(f"TILEDSL_RASTER={rows} must be 0 (launch order) or a positive number of rows")
    return rows


def split_k():
    """TILEDSL_SPLIT_K: ``"auto"`` (the default: CUDA grids of at most half the SMs are split, the CPU's never), a
    number S > 1 of parts a qualifying GEMM's reduction loop is split into across ``blockIdx.z``, or 0 (programs run
    as written; ``passes/split_k.py``)."""
    raw = os.environ.get("TILEDSL_SPLIT_K", "auto").strip().lower() or "auto"
    if raw == "auto":
        return "auto"
    if raw in ("off", "false", "no"):
        return 0
    if not raw.isdigit():
        raise ValueError(f"TILEDSL_SPLIT_K={raw!r}: use 0 (off), a number of parts, or auto")
    return int(raw)


SPLIT_K_SUMS = ("auto", "launch", "last", "cluster")


def split_k_sum() -> str:
    """TILEDSL_SPLIT_K_SUM: how the parts of a split GEMM are summed on CUDA (``passes/split_k.py``):
    ``launch`` (a second launch of the grid), ``last`` (the last part of a tile to finish sums them in the same
    launch, found with an atomic counter), ``cluster`` (sm_90+, the parts of a tile form a thread-block cluster;
    ``TILEDSL_SPLIT_K_CLUSTER=1``, the older switch, asks for it too) or ``auto`` (the default: ``last`` for tiles
    of fewer than 64 rows, which run mma.sync, else ``launch``, which keeps a wgmma loop's producer warpgroup). The
    CPU always uses ``launch``."""
    raw = os.environ.get("TILEDSL_SPLIT_K_SUM", "").strip().lower()
    if not raw:
        return "cluster" if _flag("TILEDSL_SPLIT_K_CLUSTER", "0") else "auto"
    if raw not in SPLIT_K_SUMS:
        raise ValueError(f"TILEDSL_SPLIT_K_SUM={raw!r}: use one of {', '.join(SPLIT_K_SUMS)}")
    return raw


def fast_exp2_enabled() -> bool:
    """True when float32 ``T.exp2`` on CUDA becomes one ``ex2.approx.ftz.f32`` (``passes/cuda/fast_exp2.py``:
    2 ulp as ``exp2f``, subnormals flushed to zero; the default; ``TILEDSL_FAST_EXP2=0`` keeps ``exp2f``)."""
    return _flag("TILEDSL_FAST_EXP2", "1")
