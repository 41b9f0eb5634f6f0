"""Split masks (``passes/cuda/uniform_selects.py``; the default, ``TILEDSL_SPLIT_MASKS=0`` off): masked
``T.Parallel`` stores branch to a plain store on tiles where the mask is the same for every element.

CPU: the closed-form "holds everywhere" / "holds nowhere" conditions against brute force over the tile, for
comparisons of every kind, conjunctions, disjunctions, negations and negative coefficients, at every offset in a
range. nvcc: causal and ragged flash attention get the branches, other selects do not, on by default. GPU: flash
attention (causal or not, ragged lengths, with and without the deferred last gemm) against torch's SDPA.
"""
import itertools
import re

import pytest
from tvm import tirx
from tvm.sym import Analyzer

import tiledsl
import tiledsl.language as T
from tiledsl.passes.cuda import uniform_selects
from tiledsl.passes.rewriter import substitute

import general_programs as bench

SM90A = {"kind": "cuda", "arch": "sm_90a"}


pytestmark = pytest.mark.usefixtures("general_passes_only", "no_kernel_cache")


I, J = tirx.Var("i", "int32"), tirx.Var("j", "int32")
BX, K = tirx.Var("bx", "int32"), tirx.Var("k", "int32")
LOOPS = [(I, 8), (J, 4)]

CONDITIONS = {
    "causal": lambda: BX * 8 + I >= K * 4 + J,
    "strict": lambda: BX * 8 + I > K * 4 + J,
    "bounds": lambda: K * 4 + J < 13,
    "le_negative": lambda: 3 - I <= BX - 2 * J,
    "and": lambda: tirx.And(BX * 8 + I >= K * 4 + J, K * 4 + J < 13),
    "or": lambda: tirx.Or(I < BX, J * 2 > K),
    "not": lambda: tirx.Not(BX * 8 + I >= K * 4 + J),
}


@pytest.mark.parametrize("name", list(CONDITIONS))
def test_tile_conditions_match_brute_force(name):
    cond = CONDITIONS[name]()
    everywhere, nowhere = uniform_selects._bounds(cond, LOOPS)
    ana = Analyzer()

    def value(expr, **at):
        result = ana.simplify(substitute(expr, {v: tirx.const(at[v.name], "int32") for v in (BX, K, I, J)
                                               if v.name in at}))
        assert isinstance(result, tirx.IntImm), result
        return bool(result.value)
    for bx, k in itertools.product(range(-2, 6), range(-2, 6)):
        values = [value(cond, bx=bx, k=k, i=i, j=j) for i in range(8) for j in range(4)]
        got_everywhere, got_nowhere = value(everywhere, bx=bx, k=k), value(nowhere, bx=bx, k=k)
        assert got_everywhere == all(values), (name, bx, k)
        assert got_nowhere == (not any(values)), (name, bx, k)


def test_conditions_on_values_or_without_the_loop_variables_are_not_split():
    assert uniform_selects._bounds(I * J >= BX, LOOPS) is None  # not linear
    assert uniform_selects._bounds(BX >= K, LOOPS) is None  # the same on every element already
    assert uniform_selects._bounds(tirx.floordiv(I, 2) >= BX, LOOPS) is None  # the loop variable under a division
    u = tirx.Var("u", "uint32")
    assert uniform_selects._bounds(tirx.Cast("uint32", I) >= u, LOOPS) is None  # unsigned differences wrap
    x = tirx.decl_buffer((8,), "float32", "x")
    assert uniform_selects._bounds(tirx.BufferLoad(x, [I]) > tirx.const(0, "float32"), LOOPS) is None


def _source(program):
    return tiledsl.compile(program, out_idx=[], target=SM90A).get_kernel_source()


@pytest.mark.nvcc
def test_causal_attention_branches_on_the_diagonal(monkeypatch):
    """Default: tiles left of the diagonal (bx - k >= 1) store 0 without a compare, tiles right of it store -inf,
    the diagonal keeps the mask. ``TILEDSL_SPLIT_MASKS=0``: the mask is computed per element on every tile."""
    monkeypatch.setenv("TILEDSL_PERSISTENT", "0")  # one CTA per tile: the Q tile is blockIdx.x in the source
    program = lambda: bench.flash_attention(1, 2, 512, 64, True)  # noqa: E731
    split = _source(program())
    monkeypatch.setenv("TILEDSL_SPLIT_MASKS", "0")
    plain = _source(program())
    assert "(((int)blockIdx.x) - k" not in plain
    assert "(((int)blockIdx.x) - k" in split and "make_float2(-CUDART_INF_F, -CUDART_INF_F)" in split


def _qk_wgmmas(src):
    """The QK^T wgmma calls (shared A and B, into acc_s) of a kernel's source."""
    return re.findall(r"_ss_mma_async[a-z0-9_]*\(acc_s_ptr\[0\][^;]*;", src)


@pytest.mark.nvcc
def test_a_mask_the_loop_range_proves_all_zero_becomes_the_gemms_zero_start():
    """Non-causal attention at S = 512: the bounds mask ``k * 128 + j >= seq_len`` holds on no tile of the loop,
    whose length (4) the kernel keeps in a scalar: the nest becomes a plain zero fill, which the first QK^T wgmma
    of each iteration replaces (scale-d 0) instead of 64 register moves. At S = 200 the second tile is partial:
    the branch stays and every wgmma accumulates."""
    whole = _source(bench.flash_attention(1, 2, 512, 64, False))
    loop = re.split(r"for \(int \w+_p", whole.split("__global__")[-1], maxsplit=1)[1]
    assert "acc_s_ptr + 0) = make_float2(0x0p+0f" not in loop
    assert [w.endswith("(bool)0);") for w in _qk_wgmmas(loop)][:4] == [True, False, False, False]
    partial = _source(bench.flash_attention(1, 2, 200, 64, False))
    assert all(w.endswith("(bool)1);") for w in _qk_wgmmas(partial)) and "-CUDART_INF_F" in partial


@pytest.mark.nvcc
def test_selects_on_values_and_shared_stores_are_left_alone(monkeypatch):
    M, N = 128, 128

    @T.prim_func
    def kernel(X: T.Tensor((M, N), "float32"), Y: T.Tensor((M, N), "float32")):
        with T.Kernel(1, threads=128) as bx:
            x = T.alloc_fragment((M, N), "float32")
            s = T.alloc_shared((M, N), "float32")
            T.copy(X[0, 0], x)
            for i, j in T.Parallel(M, N):
                x[i, j] = T.if_then_else(x[i, j] > 0, x[i, j], 0.0)  # a relu: depends on the values
            for i, j in T.Parallel(M, N):
                s[i, j] = T.if_then_else(bx * M + i >= j, x[i, j], 0.0)  # shared: no branch around barriers
            T.copy(s, Y[0, 0])
    plain = _source(kernel)
    monkeypatch.setenv("TILEDSL_SPLIT_MASKS", "1")
    assert _source(kernel) == plain


@pytest.mark.gpu
@pytest.mark.parametrize("defer", ["0", "1"])
@pytest.mark.parametrize("causal,S,D", [(True, 384, 64), (True, 72, 64), (True, 1000, 128), (False, 200, 64),
                                        (False, 1024, 128)])
def test_flash_attention_matches_torch(causal, S, D, defer, monkeypatch):
    monkeypatch.setenv("TILEDSL_SPLIT_MASKS", "1")
    monkeypatch.setenv("TILEDSL_DEFER_LAST_GEMM", defer)
    bench.check_flash_attention_on_gpu(2, 2, S, D, causal)


@pytest.mark.nvcc
def test_a_build_that_fails_with_its_schedules_is_built_without_them(monkeypatch, caplog):
    """Fault injection: the split pass raises what TVM raises when it refuses a vector (as wide register vectors
    did on TileLang's linear attention); the build logs it and lowers the program again without the opt-in
    schedules switched on (longest-first), then without those on by default, which gives the kernel built with
    them all switched off."""
    from tiledsl import config

    program = lambda: bench.flash_attention(1, 2, 640, 64, True)  # noqa: E731  (a shape no other test builds)
    with monkeypatch.context() as m:
        for name, default in config.OPT_IN_SCHEDULES.items():
            m.setenv(name, "0")
        plain = _source(program())

    def refuse(cond, loops):
        raise RuntimeError("Check failed: (eval_vec_) is false: injected")
    monkeypatch.setattr(uniform_selects, "_bounds", refuse)
    monkeypatch.setenv("TILEDSL_LONGEST_FIRST", "1")
    with pytest.raises(tiledsl.CompileError, match="injected"):  # the test suite's strict mode: the bug shows
        _source(program())
    monkeypatch.setenv("TILEDSL_STRICT_SCHEDULES", "0")  # a user's build: rebuilt without the schedules
    with caplog.at_level("WARNING", logger="tiledsl"):
        kernel = tiledsl.compile(program(), out_idx=[], target=SM90A)
    rebuilt = kernel.get_kernel_source()
    # TVM numbers its common-subexpression variables per process, and the failed lowering took some numbers
    assert re.sub(r"cse_v\d+", "cse_v", rebuilt) == re.sub(r"cse_v\d+", "cse_v", plain)
    assert "TILEDSL_LONGEST_FIRST" in caplog.text and "TILEDSL_SPLIT_MASKS" in caplog.text
    assert "building without them" in caplog.text
    # the kernel says what it was built without, and why
    dropped = kernel.kernel_info["schedules_dropped"]
    assert [d["schedules"][0] for d in dropped] == ["TILEDSL_LONGEST_FIRST", "TILEDSL_DEFER_LAST_GEMM"]
    assert "TILEDSL_SPLIT_MASKS" in dropped[1]["schedules"] and all("injected" in d["error"] for d in dropped)


@pytest.mark.nvcc
def test_a_strict_build_is_not_served_the_lenient_builds_kernel(monkeypatch):
    """A lenient build (a user's) that fell back without a failing schedule is cached; a strict build of the same
    program (the test suite's) must still fail, not be served that kernel from the memory or disk cache."""
    def refuse(cond, loops):
        raise RuntimeError("Check failed: (eval_vec_) is false: injected")
    monkeypatch.setattr(uniform_selects, "_bounds", refuse)
    program = lambda: bench.flash_attention(1, 2, 704, 64, True)  # noqa: E731  (a shape no other test builds)
    monkeypatch.setenv("TILEDSL_STRICT_SCHEDULES", "0")
    _source(program())
    monkeypatch.setenv("TILEDSL_STRICT_SCHEDULES", "1")
    with pytest.raises(tiledsl.CompileError, match="injected"):
        _source(program())


@pytest.mark.parametrize("causal,S", [(True, 200), (True, 64), (False, 200)])
def test_flash_attention_on_cpu_matches_torch(causal, S, monkeypatch):
    """The mask split and the reversed block order are target-independent passes: on the CPU, with both on, the
    causal (and ragged) flash attention of ``examples/flash_attention.py`` still matches torch; a spy on each
    pass's decision shows it applied."""
    import torch

    from example_modules import load_example
    from tiledsl.passes.cuda import longest_first

    decisions = {"split": [], "reversed": []}

    def spy(record, original):
        def wrapped(*args):
            result = original(*args)
            record.append(result is not None)
            return result
        return wrapped
    monkeypatch.setattr(uniform_selects, "_bounds", spy(decisions["split"], uniform_selects._bounds))
    monkeypatch.setattr(longest_first, "_growing_index", spy(decisions["reversed"], longest_first._growing_index))
    monkeypatch.setenv("TILEDSL_SPLIT_MASKS", "1")
    monkeypatch.setenv("TILEDSL_LONGEST_FIRST", "1")
    example = load_example("flash_attention", "test_uniform_selects_fa")
    B, H, D = 1, 2, 32
    q, k, v = (torch.randn(B, S, H, D).half() for _ in range(3))
    out = example.flash_attention(B, H, S, D, causal)(q, k, v)
    torch.testing.assert_close(out.double(), example.reference(q, k, v, causal), rtol=2e-2, atol=2e-2)
    assert any(decisions["split"])
    assert any(decisions["reversed"]) == (causal and S > 64)  # (one q tile of 64 rows: nothing to reorder)


def test_the_cpu_build_retries_without_the_schedules_it_runs_only(monkeypatch):
    """The CPU lowering runs the split masks and the longest-first order, nothing else of config.OPT_IN_SCHEDULES:
    a failing CPU build names (and drops) only those, never the CUDA-only defaults."""
    from tiledsl import config

    monkeypatch.setenv("TILEDSL_LONGEST_FIRST", "1")
    monkeypatch.setenv("TILEDSL_VECTOR_ATOMICS", "1")
    assert config.opt_in_schedules_on(False, "llvm") == ["TILEDSL_LONGEST_FIRST"]
    assert config.opt_in_schedules_on(True, "llvm") == ["TILEDSL_SPLIT_MASKS"]
    assert config.opt_in_schedules_on(False, "cuda") == ["TILEDSL_LONGEST_FIRST", "TILEDSL_VECTOR_ATOMICS"]
    assert config.opt_in_schedules_on(True, "cuda") == ["TILEDSL_DEFER_LAST_GEMM", "TILEDSL_SPLIT_MASKS",
                                                        "TILEDSL_WIDE_REGISTER_VECTORS", "TILEDSL_TILE_BARRIERS",
                                                        "TILEDSL_TMA_REDUCE", "TILEDSL_ASYNC_GEMMS",
                                                        "TILEDSL_TMA_VECTORS", "TILEDSL_HOIST_OPERAND_READS",
                                                        "TILEDSL_ROW_RECIPROCALS",
                                                        "TILEDSL_WS_TRANSFORMS", "TILEDSL_HOISTED_FENCES",
                                                        "TILEDSL_WAITS_PAST_BARRIERS", "TILEDSL_PLAIN_POOL",
                                                        "TILEDSL_REGISTER_DEQUANT", "TILEDSL_K_MAJOR_COPIES",
                                                        "TILEDSL_PACKED_CONVERSIONS", "TILEDSL_DESCRIPTOR_OFFSETS",
                                                        "TILEDSL_WARP_UNIFORM_INDEX", "TILEDSL_DEFER_ROW_SUMS",
                                                        "TILEDSL_WARPGROUP_RELEASE", "TILEDSL_SPLIT_K_GROUP_COUNT",
                                                        "TILEDSL_ONE_STAGE_AHEAD",
                                                        "TILEDSL_SPLIT_K_REGISTER_ORDER"]
