"""``TILEDSL_LONGEST_FIRST=1`` (``passes/cuda/longest_first.py``; opt-in until timed on a GPU): blocks whose
pipelined loop grows with a block index launch in reverse order of it.

CPU: which loop extents count as growing. nvcc: causal attention's q-tile index is reversed, non-causal attention
and a GEMM are built byte for byte as without the switch. GPU: causal attention (with the other attention switches
too) against torch's SDPA.
"""
import pytest
from tvm import tirx

import tiledsl
from tiledsl.passes.cuda import longest_first

import general_programs as bench

SM90A = {"kind": "cuda", "arch": "sm_90a"}
BX, BY = tirx.Var("bx", "int32"), tirx.Var("by", "int32")
LAUNCHES = {BX: tirx.const(32, "int32"), BY: tirx.const(4, "int32")}


# an opt-in schedule: its tests are marked slow (scripts/test.sh -m slow runs them; CI keeps its 10 minutes)
pytestmark = [pytest.mark.usefixtures("general_passes_only", "no_kernel_cache"), pytest.mark.slow]


@pytest.mark.parametrize("name,extent,grows", [
    ("causal", lambda: tirx.min(tirx.const(32, "int32"), tirx.floordiv((BX + 1) * 128 + 127, 128)), True),
    ("decreasing", lambda: 32 - BX, False),
    ("constant", lambda: tirx.const(32, "int32") + BX * 0, False),
    ("two_indices", lambda: BX + BY, False),
    ("not_monotone", lambda: tirx.floormod(BX, 3) + 1, False),
])
def test_which_extents_grow_with_a_block_index(name, extent, grows):
    got = longest_first._growing_index(extent(), LAUNCHES)
    assert (got is not None and got.same_as(BX)) == grows


def _source(program):
    return tiledsl.compile(program, out_idx=[], target=SM90A).get_kernel_source()


@pytest.mark.nvcc
def test_causal_attention_launches_the_last_q_tiles_first(monkeypatch):
    monkeypatch.setenv("TILEDSL_PERSISTENT", "0")  # one CTA per tile: the launch order is blockIdx.x's
    plain = _source(bench.flash_attention(1, 2, 4096, 64, True))
    monkeypatch.setenv("TILEDSL_LONGEST_FIRST", "1")
    reversed_ = _source(bench.flash_attention(1, 2, 4096, 64, True))
    assert "loop_range_ptr[0] = (((int)blockIdx.x) + 1);" in plain
    assert "loop_range_ptr[0] = (32 - ((int)blockIdx.x));" in reversed_


@pytest.mark.nvcc
@pytest.mark.parametrize("program", [lambda: bench.flash_attention(1, 2, 1024, 64, False),
                                     lambda: bench.batched_gemm(2, 256, 256, 512, block_N=128)])
def test_balanced_kernels_are_unchanged(program, monkeypatch):
    plain = _source(program())
    monkeypatch.setenv("TILEDSL_LONGEST_FIRST", "1")
    assert _source(program()) == plain


@pytest.mark.gpu
@pytest.mark.parametrize("others", ["0", "1"])
@pytest.mark.parametrize("S,D", [(384, 64), (1000, 128), (72, 64)])
def test_causal_attention_matches_torch(S, D, others, monkeypatch):
    monkeypatch.setenv("TILEDSL_LONGEST_FIRST", "1")
    monkeypatch.setenv("TILEDSL_SPLIT_MASKS", others)
    monkeypatch.setenv("TILEDSL_DEFER_LAST_GEMM", others)
    bench.check_flash_attention_on_gpu(2, 2, S, D, True)


def growing_sums(n_blocks=4, with_atomic=False):
    """Block bx sums rows 0 .. 16 (bx + 1) of X (a loop that grows with bx); with ``with_atomic`` it also adds its
    result into a total: blocks that touch one another's memory keep their launch order."""
    import tiledsl.language as T

    @T.prim_func
    def kernel(X: T.Tensor((16 * n_blocks, 32), "float32"), Out: T.Tensor((n_blocks, 32), "float32"),
               Total: T.Tensor((32,), "float32")):
        with T.Kernel(n_blocks, threads=32) as bx:
            X_s = T.alloc_shared((16, 32), "float32")
            acc = T.alloc_fragment((32,), "float32")
            T.clear(acc)
            for k in T.Pipelined(bx + 1, num_stages=2):
                T.copy(X[k * 16, 0], X_s)
                T.reduce_sum(X_s, acc, dim=0, clear=False)
            T.copy(acc, Out[bx, 0])
            if with_atomic:
                for j in T.Parallel(32):
                    T.atomic_add(Total[j], acc[j])
    return kernel


@pytest.mark.nvcc
def test_blocks_that_may_talk_keep_their_order(monkeypatch):
    plain = [_source(growing_sums(with_atomic=a)) for a in (False, True)]
    monkeypatch.setenv("TILEDSL_LONGEST_FIRST", "1")
    assert _source(growing_sums(with_atomic=False)) != plain[0]  # reversed
    assert _source(growing_sums(with_atomic=True)) == plain[1]  # an atomic: left alone
