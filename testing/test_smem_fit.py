"""Kernels that fit sm_90's 227 KiB of shared memory only when their reductions' scratch is tight.

``latent_decode`` is a decode attention over a compressed (latent) cache with a rotary part, the shape of an MLA
decode kernel: its wgmma operand tiles take 224 KiB, and its two row reductions inside the pipelined loop each add a
cross-warp scratch tile of 2 KiB (8 warps x 64 rows). With lifetimes counted in top-level statements (the loop is
one), both are alive at once and the pool needs 229 KiB. Such a kernel is lowered a second time with tight
scratch: one scratch row per column of warps (0.5 KiB each, 226 KiB in all), and statement-level lifetimes for tile
ops' scratch (passes/cuda/smem_statement_lifetimes.py), which alone would fit it too (the two share bytes: 227 KiB).

Checked on the CPU against torch in float64 (outputs poisoned), built by nvcc for sm_90a with the pool's size
asserted, and (marked ``gpu``) run on a GPU. The barrier planner is also checked on hand-built TIR.
"""
from __future__ import annotations

import re

import pytest
import torch
import tvm
import tvm_ffi
from tvm import tirx

import tiledsl
import tiledsl.language as T
from conftest import poisoned_like
from tiledsl.errors import SharedMemoryError, TileProgramError
from tiledsl.passes.cuda import lower_tile_ops, smem_swizzle
from tiledsl.passes.cuda.smem_statement_lifetimes import insert_statement_barriers, plan_statement_pool

SM90A = {"kind": "cuda", "arch": "sm_90a"}
LOG2E = 1.4426950408889634


def latent_decode(B=1, H=64, S=128, D=512, R=64, bH=64, bN=64, stages=2, threads=256):
    """O[b, h] = softmax([Q, Qr][b, h] . [C, Cr][b, :]^T / sqrt(D + R)) @ C[b]: one block per (bH heads, batch)."""
    scale = (D + R) ** -0.5 * LOG2E

    @T.prim_func
    def kernel(Q: T.Tensor((B, H, D), "float16"), Qr: T.Tensor((B, H, R), "float16"),
               C: T.Tensor((B, S, D), "float16"), Cr: T.Tensor((B, S, R), "float16"),
               O: T.Tensor((B, H, D), "float16")):
        with T.Kernel(H // bH, B, threads=threads) as (hb, b):
            q_s = T.alloc_shared((bH, D), "float16")
            qr_s = T.alloc_shared((bH, R), "float16")
            c_s = T.alloc_shared((bN, D), "float16")
            cr_s = T.alloc_shared((bN, R), "float16")
            p_s = T.alloc_shared((bH, bN), "float16")
            o_s = T.alloc_shared((bH, D), "float16")
            s_f = T.alloc_fragment((bH, bN), "float32")
            o_f = T.alloc_fragment((bH, D), "float32")
            m = T.alloc_fragment((bH,), "float32")
            m_old = T.alloc_fragment((bH,), "float32")
            corr = T.alloc_fragment((bH,), "float32")
            row_sum = T.alloc_fragment((bH,), "float32")
            total = T.alloc_fragment((bH,), "float32")
            T.copy(Q[b, hb * bH, 0], q_s)
            T.copy(Qr[b, hb * bH, 0], qr_s)
            T.fill(o_f, 0)
            T.fill(total, 0)
            T.fill(m, -T.infinity("float32"))
            for n in T.Pipelined(T.ceildiv(S, bN), num_stages=stages):
                T.copy(C[b, n * bN, 0], c_s)
                T.copy(Cr[b, n * bN, 0], cr_s)
                T.clear(s_f)
                T.gemm(q_s, c_s, s_f, transpose_B=True, policy=T.GemmWarpPolicy.FullCol)
                T.gemm(qr_s, cr_s, s_f, transpose_B=True, policy=T.GemmWarpPolicy.FullCol)
                T.copy(m, m_old)
                T.reduce_max(s_f, m, dim=1, clear=False)  # the running maximum: m starts from the old one
                for i in T.Parallel(bH):
                    corr[i] = T.exp2((m_old[i] - m[i]) * scale)
                for i, j in T.Parallel(bH, bN):
                    s_f[i, j] = T.exp2((s_f[i, j] - m[i]) * scale)
                T.reduce_sum(s_f, row_sum, dim=1)
                for i in T.Parallel(bH):
                    total[i] = total[i] * corr[i] + row_sum[i]
                T.copy(s_f, p_s)
                for i, j in T.Parallel(bH, D):
                    o_f[i, j] *= corr[i]
                T.gemm(p_s, c_s, o_f, policy=T.GemmWarpPolicy.FullCol)
            for i, j in T.Parallel(bH, D):
                o_f[i, j] /= total[i]
            T.copy(o_f, o_s)
            T.copy(o_s, O[b, hb * bH, 0])

    return kernel


def _inputs(B, H, S, D, R, device):
    return [torch.randn(*shape, device=device).half() for shape in ((B, H, D), (B, H, R), (B, S, D), (B, S, R))]


def _reference(q, qr, c, cr):
    scores = torch.einsum("bhd,bsd->bhs", q.double(), c.double()) + torch.einsum("bhr,bsr->bhs", qr.double(),
                                                                                  cr.double())
    weights = torch.softmax(scores / (q.shape[-1] + qr.shape[-1]) ** 0.5, dim=-1)
    return torch.einsum("bhs,bsd->bhd", weights, c.double())


def _run(sizes, target, device):
    kernel = tiledsl.compile(latent_decode(**sizes), out_idx=[], target=target)
    ins = _inputs(sizes["B"], sizes["H"], sizes["S"], sizes["D"], sizes["R"], device)
    out = poisoned_like(torch.empty(sizes["B"], sizes["H"], sizes["D"], device=device).half())
    kernel(*ins, out)
    return out, _reference(*[t.cpu() for t in ins])


def _check(got, want):
    got = got.cpu().double()
    assert not torch.isnan(got).any(), "some outputs were never written"
    torch.testing.assert_close(got, want, rtol=2e-2, atol=2e-2)


# the sizes the nvcc build uses (the tiles of an MLA decode kernel); the CPU runs them too, with 2 batches
BUILD_SIZES = dict(B=1, H=64, S=128, D=512, R=64)


@pytest.mark.parametrize("sizes", [dict(BUILD_SIZES, B=2), dict(B=2, H=32, S=96, D=128, R=32, bH=16, bN=32,
                                                                 threads=128)], ids=["build_sizes", "small"])
def test_latent_decode_on_cpu(sizes):
    out, want = _run(sizes, "llvm", "cpu")
    _check(out, want)


def _pool_bytes(func, allow_tma: bool = False) -> int:
    """Bytes of the kernel's shared pool on sm_90a (cp.async pipelines unless ``allow_tma``: no mbarriers)."""
    from tiledsl.passes.pipeline import lower

    lowered = lower(tvm.IRModule({"main": func}), tvm.target.Target(SM90A), allow_hopper_shortcut=False,
                    allow_tma=allow_tma)
    found = []
    tvm_ffi.structural_walk(lowered.mod["main"].body, (tirx.AllocBuffer, lambda s: found.append(s.buffer)
                                                        if s.buffer.name == "smem_pool" else None))
    assert len(found) == 1
    return int(found[0].ty.shape[0])


@pytest.fixture
def whole_row_sums(monkeypatch):
    """The program's reductions as written: the sizes below are those of its two in-loop reductions' scratch, which
    deferred row sums (``passes/cuda/row_sums.py``) would make one in the loop and one after it."""
    monkeypatch.setenv("TILEDSL_DEFER_ROW_SUMS", "0")


@pytest.mark.usefixtures("whole_row_sums")
def test_tight_scratch_fits_sm90():
    """Lowered again with tight scratch: each reduction's cross-warp scratch holds one row per column of warps
    ((2, 64) floats, 0.5 KiB, instead of one per warp, (8, 64)): 224 KiB of tiles + 1 KiB + the 1 KiB for the
    run-time 1024-byte alignment."""
    assert _pool_bytes(latent_decode(**BUILD_SIZES)) == 226 * 1024


def _loose_scratch(monkeypatch):
    """The lowering keeps the reductions' scratch at full size even in its second try."""
    init = lower_tile_ops._Lowerer.__init__

    def loose(self, func_body, tight_scratch=False):
        init(self, func_body, tight_scratch)
        self.tight_scratch = False
    monkeypatch.setattr(lower_tile_ops._Lowerer, "__init__", loose)


def test_statement_lifetimes_alone_fit_it(monkeypatch):
    """With full-size scratch, the two reductions' scratch tiles share bytes (statement-level lifetimes in the
    loop body): exactly sm_90's 227 KiB."""
    _loose_scratch(monkeypatch)
    assert _pool_bytes(latent_decode(**BUILD_SIZES)) == smem_swizzle.SM90_SHARED_BYTES == 227 * 1024


@pytest.mark.nvcc
def test_a_kernel_that_fits_only_without_the_tma_ring_loads_with_cp_async(monkeypatch):
    """Exactly 227 KiB of tiles: the TMA ring's mbarriers (static shared memory) would not fit beside them, so the
    build lowers the kernel again with cp.async pipelines."""
    from tiledsl.codegen.compile import build

    _loose_scratch(monkeypatch)
    with pytest.raises(SharedMemoryError, match=r"static shared memory \(mbarriers\)"):
        _pool_bytes(latent_decode(**BUILD_SIZES), allow_tma=True)
    result = build(latent_decode(**BUILD_SIZES), tvm.target.Target(SM90A))
    assert result.kernel_info["pipelines"] == ["cp.async"] and "wgmma" in result.source


@pytest.mark.usefixtures("whole_row_sums")
def test_without_either_it_does_not_fit(monkeypatch):
    """Neither (full-size scratch, top-level lifetimes only): 229 KiB, a clear error that shows the pool."""
    _loose_scratch(monkeypatch)
    monkeypatch.setattr(smem_swizzle, "plan_statement_pool", lambda *args: None)
    with pytest.raises(TileProgramError, match=r"need 229\.0 KiB.*row_scratch scratch \(8, 64\): 2 KiB at 224 KiB"):
        _pool_bytes(latent_decode(**BUILD_SIZES))


def test_still_too_large_after_the_second_lowering_is_a_clear_error():
    with pytest.raises(TileProgramError, match=r"need 297\.5 KiB.*fewer num_stages \(the pool: q_s \(64, 512\)"):
        _pool_bytes(latent_decode(**dict(BUILD_SIZES, stages=3)))


def test_tight_scratch_is_written_once_per_row_and_column_of_warps():
    """Walking every thread of the lowered kernel (one block, one loop iteration): each (column of warps, row)
    element of the tight scratch is stored exactly once by each of the two reductions, and no other."""
    from thread_effects import per_element, side_effects

    effects = side_effects(latent_decode(**dict(BUILD_SIZES, S=64)), only=["row_scratch"])
    seen = per_element(effects, "row_scratch", "store")  # the two reductions' scratch tiles share the name
    assert seen == {(c, r): 2 for c in range(2) for r in range(64)}


@pytest.mark.nvcc
def test_latent_decode_builds_for_sm90a(monkeypatch):
    # the row scratch packing as planned for the loop as written (the deferred P C keeps more tiles live)
    monkeypatch.setenv("TILEDSL_DEFER_LAST_GEMM", "0")
    kernel = tiledsl.compile(latent_decode(**BUILD_SIZES), out_idx=[], target=SM90A)
    source = kernel.get_kernel_source()
    assert "wgmma" in source
    offsets = sorted(int(off) for off in re.findall(
        r"float\* row_scratch\w* = \(\(float\*\)\(&\(smem_pool_ptr\[\(smem_pad \+ (\d+)\)\]", source))
    assert len(offsets) == 2 and offsets[1] - offsets[0] == 2 * 64 * 4  # tight: (2 columns of warps, 64 rows)


@pytest.mark.gpu
def test_latent_decode_on_gpu():
    out, want = _run(dict(BUILD_SIZES, B=3, S=320), SM90A if torch.cuda.get_device_capability() == (9, 0)
                     else "cuda", "cuda")
    torch.cuda.synchronize()
    _check(out, want)


# ------------------------------------------------------------------------------- the planner on hand-built TIR
def _sync():
    return tirx.Evaluate(tirx.call_intrin("int32", "tirx.tvm_storage_sync", "shared"))


def _use(buf, tx):
    """One op's use of a scratch tile: write an element, then read it into a register buffer."""
    reg = tirx.decl_buffer((1,), "float32", "reg", scope="local")
    return [tirx.BufferStore(buf, tirx.const(1.0, "float32"), [tx]),
            tirx.BufferStore(reg, tirx.BufferLoad(buf, [tx]), [0])]


def _plan(with_syncs):
    a = tirx.decl_buffer((128,), "float32", "a_scratch", scope="shared.dyn")
    b = tirx.decl_buffer((128,), "float32", "b_scratch", scope="shared.dyn")
    tile = tirx.decl_buffer((256,), "float32", "tile", scope="shared.dyn")
    k = tirx.Var("k", "int32")

    def loop(tx):
        stmts = _use(a, tx) + ([_sync()] if with_syncs else []) + _use(b, tx) + ([_sync()] if with_syncs else [])
        return tirx.For(k, 0, 4, tirx.ForKind.SERIAL, tirx.SeqStmt(stmts))
    tx = tirx.Var("tx", "int32")
    launch = tirx.AttrStmt(tirx.IterVar(None, tx, 1, "threadIdx.x"), "thread_extent", tirx.const(128, "int32"),
                           tirx.SeqStmt([tirx.BufferStore(tile, tirx.const(0.0, "float32"), [tx]), loop(tx)]))
    bufs = [tile, a, b]
    return launch, bufs, plan_statement_pool(launch, bufs, [1024, 512, 512], [128, 128, 128], {a, b})


def test_scratch_in_one_loop_shares_bytes_with_barriers_both_ways():
    """Two scratch tiles used one after the other in a loop share bytes, and each use starts with a barrier (the
    next iteration hands the bytes back); the tile dead before the loop lends its bytes, with one barrier before
    the loop."""
    launch, bufs, (offsets, total, barriers) = _plan(with_syncs=False)
    assert offsets == [0, 0, 0] and total == 1024
    body = insert_statement_barriers(launch, barriers)
    text = body.script()
    loop_text = text[text.index("for k"):]
    assert text.count("tvm_storage_sync") == 3  # before the loop, and before each use inside it
    assert loop_text.count("tvm_storage_sync") == 2
    first_use = loop_text.index("a_scratch")
    assert loop_text.index("tvm_storage_sync") < first_use


def test_existing_barriers_are_not_doubled():
    launch, bufs, (offsets, total, barriers) = _plan(with_syncs=True)
    assert offsets == [0, 0, 0]
    text = insert_statement_barriers(launch, barriers).script()
    assert text[text.index("for k"):].count("tvm_storage_sync") == 2  # only the ones the ops already had
    assert text.count("tvm_storage_sync") == 3  # and the one handing the tile's bytes over, before the loop
