"""Tile programs that hit general limits of the CUDA lowering (shapes TileLang's examples use), each checked three
ways: on the CPU target against torch, built by nvcc for sm_80 and sm_90a, and (marked ``gpu``) on a GPU against
torch. Outputs are poisoned (NaN) before every run.

* ``blocksparse``: a ``T.Pipelined`` loop whose whole body sits under a block-uniform ``if`` (a block mask), so the
  barriers around its shared tiles are inside a branch.
* ``paged``: a pipelined copy whose rows come from a scalar looked up in the loop body (a block table).
* ``fragment_rows``: parts of a tensor-core accumulator copied out by row range (to shared, global and a
  fragment of another layout) and atomically added by row range.
* ``ragged_atomic``: tile atomics into a ragged output (the guard of an ``address_of`` target).
* ``two_layouts``: one ``T.Parallel`` loop over fragments of two layouts (a gemm accumulator and a striped one).
* ``replicated_rows``: row statistics of a tensor-core accumulator that every thread needs (compact code).
* ``guarded_rows``: a guarded T.Parallel fill of a swizzled operand tile with 24 chunks per row (vectorized only
  where the swizzle provably keeps a vector's lanes together).
* ``epilogue_reuse``: shared tiles that only fit sm_90's limit when tiles with disjoint lifetimes share bytes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytest
import torch

import tiledsl
import tiledsl.language as T
from conftest import poisoned_like

ARCHS = ["sm_80", "sm_90a"]


@dataclass
class Program:
    """A tile program, its inputs (made on a device) and its torch reference (float32 or float64)."""

    func: object
    inputs: Callable  # device -> list of input tensors
    reference: Callable  # inputs -> list of expected outputs
    out_shapes: list  # (shape, torch dtype) of each output, passed after the inputs
    tol: float = 2e-2
    accumulate: tuple = ()  # indices of outputs that start at zero (atomics add into them); the others are NaN


# ---------------------------------------------------------------------------------------------------- programs
def blocksparse(M=128, N=128, K=128, bM=64, bN=64, bK=32, stages=2, threads=128):
    """C = A @ B over the (bM, bN, bK) blocks that Mask selects: the pipelined loop's body is one ``if``."""
    @T.prim_func
    def kernel(A: T.Tensor((M, K), "float16"), B: T.Tensor((K, N), "float16"),
               Mask: T.Tensor((M // bM, N // bN, K // bK), "bool"), C: T.Tensor((M, N), "float16")):
        with T.Kernel(T.ceildiv(N, bN), T.ceildiv(M, bM), threads=threads) as (bx, by):
            A_s = T.alloc_shared((bM, bK), "float16")
            B_s = T.alloc_shared((bK, bN), "float16")
            C_f = T.alloc_fragment((bM, bN), "float32")
            T.clear(C_f)
            for k in T.Pipelined(T.ceildiv(K, bK), num_stages=stages):
                if Mask[by, bx, k]:
                    T.copy(A[by * bM, k * bK], A_s)
                    T.copy(B[k * bK, bx * bN], B_s)
                    T.gemm(A_s, B_s, C_f)
            T.copy(C_f, C[by * bM, bx * bN])

    def inputs(device):
        mask = torch.rand(M // bM, N // bN, K // bK) > 0.4
        mask[0, 0, :] = False  # one output block with no k-block at all
        mask[-1, -1, :] = True
        return [torch.randn(M, K, device=device).half(), torch.randn(K, N, device=device).half(), mask.to(device)]

    def reference(a, b, mask):
        full = mask.repeat_interleave(bM, 0).repeat_interleave(bN, 1).repeat_interleave(bK, 2)  # (M, N, K)
        prod = a.double().unsqueeze(1) * b.double().t().unsqueeze(0)  # (M, N, K)
        return [(prod * full.double()).sum(-1)]
    return Program(kernel, inputs, reference, [((M, N), torch.float16)])


def paged(batch=2, pages=4, page=64, D=64, bN=32, stages=2, threads=128):
    """Out[b] = (the rows of V that batch b's page table lists, in order) @ W, one page slice per iteration."""
    rows = pages * page

    @T.prim_func
    def kernel(V: T.Tensor((batch * rows, D), "float16"), W: T.Tensor((D, 64), "float16"),
               table: T.Tensor((batch, pages), "int32"), Out: T.Tensor((batch, bN, 64), "float32")):
        with T.Kernel(batch, threads=threads) as bx:
            V_s = T.alloc_shared((bN, D), "float16")
            W_s = T.alloc_shared((D, 64), "float16")
            acc = T.alloc_fragment((bN, 64), "float32")
            T.copy(W[0, 0], W_s)
            T.clear(acc)
            for k in T.Pipelined(rows // bN, num_stages=stages):
                start = table[bx, (k * bN) // page] * page + (k * bN) % page
                T.copy(V[start:start + bN, :], V_s)
                T.gemm(V_s, W_s, acc)
            T.copy(acc, Out[bx, 0, 0])

    def inputs(device):
        table = torch.stack([torch.randperm(batch * pages)[:pages] for _ in range(batch)]).int()
        return [torch.randn(batch * rows, D, device=device).half(), torch.randn(D, 64, device=device).half(),
                table.to(device)]

    def reference(v, w, table):
        out = []
        for b in range(batch):
            gathered = torch.cat([v[int(p) * page:(int(p) + 1) * page] for p in table[b].cpu()]).double()
            out.append((gathered.reshape(-1, bN, D) @ w.double()).sum(0))
        return [torch.stack(out)]
    return Program(kernel, inputs, reference, [((batch, bN, 64), torch.float32)], tol=5e-2)


def fragment_rows(M=64, N=64, K=32, rows=4, row0=8, threads=128):
    """acc = A @ B on tensor cores; rows [row0, row0 + rows) of acc are copied out through shared memory, straight
    to global memory (half the columns), into a fragment of another layout (then reduced), and atomically added."""
    @T.prim_func
    def kernel(A: T.Tensor((M, K), "float16"), B: T.Tensor((K, N), "float16"), O1: T.Tensor((rows, N), "float32"),
               O2: T.Tensor((rows, N // 2), "float32"), O3: T.Tensor((rows,), "float32"),
               O4: T.Tensor((rows, N), "float32")):
        with T.Kernel(1, threads=threads) as bx:
            A_s = T.alloc_shared((M, K), "float16")
            B_s = T.alloc_shared((K, N), "float16")
            O_s = T.alloc_shared((rows, N), "float32")
            acc = T.alloc_fragment((M, N), "float32")
            part = T.alloc_fragment((rows, N), "float32")
            total = T.alloc_fragment((rows,), "float32")
            T.copy(A[0, 0], A_s)
            T.copy(B[0, 0], B_s)
            T.gemm(A_s, B_s, acc, clear_accum=True)
            T.copy(acc[row0:row0 + rows, :], O_s)
            T.copy(O_s, O1[0, 0])
            T.copy(acc[row0:row0 + rows, N // 2:N], O2[0, 0])
            T.copy(acc[row0:row0 + rows, :], part)
            T.reduce_sum(part, total, dim=1)
            T.copy(total, O3[0])
            T.atomic_add(O4[0, 0], acc[row0:row0 + rows, :])

    def inputs(device):
        return [torch.randn(M, K, device=device).half(), torch.randn(K, N, device=device).half()]

    def reference(a, b):
        acc = (a.double() @ b.double())[row0:row0 + rows]
        return [acc, acc[:, N // 2:], acc.sum(1), acc]
    outs = [((rows, N), torch.float32), ((rows, N // 2), torch.float32), ((rows,), torch.float32),
            ((rows, N), torch.float32)]
    return Program(kernel, inputs, reference, outs, accumulate=(3,))


def two_layouts(M=64, N=64, K=64, threads=128):
    """Out = A @ B + R * d[0], with R loaded into a fragment that meets the accumulator only in a T.Parallel."""
    @T.prim_func
    def kernel(A: T.Tensor((M, K), "float16"), B: T.Tensor((K, N), "float16"), R: T.Tensor((M, N), "float16"),
               d: T.Tensor((1,), "float32"), Out: T.Tensor((M, N), "float32")):
        with T.Kernel(1, threads=threads) as bx:
            A_s = T.alloc_shared((M, K), "float16")
            B_s = T.alloc_shared((K, N), "float16")
            R_s = T.alloc_shared((M, N), "float16")
            acc = T.alloc_fragment((M, N), "float32")
            res = T.alloc_fragment((M, N), "float32")
            scale = T.alloc_fragment((1,), "float32")
            T.copy(A[0, 0], A_s)
            T.copy(B[0, 0], B_s)
            T.gemm(A_s, B_s, acc, clear_accum=True)
            scale[0] = d[0]
            T.copy(R[0, 0], R_s)
            T.copy(R_s, res)
            for i, j in T.Parallel(M, N):
                acc[i, j] += res[i, j] * scale[0]
            T.copy(acc, Out[0, 0])

    def inputs(device):
        return [torch.randn(M, K, device=device).half(), torch.randn(K, N, device=device).half(),
                torch.randn(M, N, device=device).half(), torch.randn(1, device=device)]

    def reference(a, b, r, d):
        return [a.double() @ b.double() + r.double() * d.double()]
    return Program(kernel, inputs, reference, [((M, N), torch.float32)])


def ragged_atomic(M=100, N=64, R=40, bM=32, threads=128, scatter=True):
    """Scatter-add of rows through an index table, and a tile atomic, both over a ragged last tile (M % bM != 0):
    the atomics' addresses are guarded loads (``atomicAdd(&Out[idx[i], j], v)``)."""
    @T.prim_func
    def kernel(X: T.Tensor((M, N), "float32"), idx: T.Tensor((M,), "int32"), Out: T.Tensor((R, N), "float32"),
               Out2: T.Tensor((M, N), "float32")):
        with T.Kernel(T.ceildiv(M, bM), threads=threads) as bx:
            acc = T.alloc_fragment((bM, N), "float32")
            T.copy(X[bx * bM, 0], acc)
            if scatter:
                for i, j in T.Parallel(bM, N):
                    T.atomic_add(Out[idx[bx * bM + i], j], acc[i, j])
            T.atomic_add(Out2[bx * bM, 0], acc)

    def inputs(device):
        return [torch.randn(M, N, device=device), torch.randint(0, R, (M,), device=device).int()]

    def reference(x, idx):
        return [torch.zeros(R, N, dtype=torch.float64).index_add_(0, idx.long(), x.double()), x.double()]
    return Program(kernel, inputs, reference, [((R, N), torch.float32), ((M, N), torch.float32)], tol=1e-4,
                   accumulate=(0, 1))


def epilogue_reuse(M=256, N=256, K=256, bM=128, bN=256, bK=64, stages=3, threads=256):
    """C = A @ B with a float32 epilogue tile: the staged operand tiles (144 KiB) and the epilogue tile (128 KiB)
    only fit in sm_90's 227 KiB because they are never alive at the same time."""
    @T.prim_func
    def kernel(A: T.Tensor((M, K), "float16"), B: T.Tensor((K, N), "float16"), C: T.Tensor((M, N), "float32")):
        with T.Kernel(T.ceildiv(N, bN), T.ceildiv(M, bM), threads=threads) as (bx, by):
            A_s = T.alloc_shared((bM, bK), "float16")
            B_s = T.alloc_shared((bK, bN), "float16")
            C_s = T.alloc_shared((bM, bN), "float32")
            acc = T.alloc_fragment((bM, bN), "float32")
            T.clear(acc)
            for k in T.Pipelined(T.ceildiv(K, bK), num_stages=stages):
                T.copy(A[by * bM, k * bK], A_s)
                T.copy(B[k * bK, bx * bN], B_s)
                T.gemm(A_s, B_s, acc)
            T.copy(acc, C_s)
            T.copy(C_s, C[by * bM, bx * bN])

    def inputs(device):
        return [torch.randn(M, K, device=device).half(), torch.randn(K, N, device=device).half()]

    def reference(a, b):
        return [a.double() @ b.double()]
    return Program(kernel, inputs, reference, [((M, N), torch.float32)])


def replicated_rows(M=64, N=128, K=32, threads=128):
    """Row max and row sum of a tensor-core accumulator, read in a loop that is not over the accumulator (so every
    thread needs every row): reduced per thread's own rows, then broadcast through shared memory."""
    @T.prim_func
    def kernel(A: T.Tensor((M, K), "float16"), B: T.Tensor((K, N), "float16"), O: T.Tensor((M, 8), "float32")):
        with T.Kernel(1, threads=threads) as bx:
            A_s = T.alloc_shared((M, K), "float16")
            B_s = T.alloc_shared((K, N), "float16")
            acc = T.alloc_fragment((M, N), "float32")
            mx = T.alloc_fragment((M,), "float32")
            sm = T.alloc_fragment((M,), "float32")
            T.copy(A[0, 0], A_s)
            T.copy(B[0, 0], B_s)
            T.gemm(A_s, B_s, acc, clear_accum=True)
            T.fill(mx, 1.0)
            T.reduce_max(acc, mx, dim=1, clear=False)
            T.reduce_sum(acc, sm, dim=1)
            for i, j in T.Parallel(M, 8):
                O[i, j] = mx[i] + sm[i] * j

    def inputs(device):
        return [torch.randn(M, K, device=device).half(), torch.randn(K, N, device=device).half()]

    def reference(a, b):
        acc = a.double() @ b.double()
        mx = acc.amax(1).clamp(min=1.0)
        return [mx[:, None] + acc.sum(1)[:, None] * torch.arange(8, dtype=torch.float64)]
    return Program(kernel, inputs, reference, [((M, 8), torch.float32)])


def guarded_rows(L=200, D=192, bM=128, threads=128):
    """O = Q @ K^T over rows < n, with Q's tile filled by a T.Parallel whose rows are guarded: a vectorized store
    into a tile swizzled for the tensor cores, 192 columns wide (24 chunks of 16 bytes per row)."""
    @T.prim_func
    def kernel(Q: T.Tensor((L, D), "float16"), K: T.Tensor((64, D), "float16"), n: T.int32,
               O: T.Tensor((2 * bM, 64), "float32")):
        with T.Kernel(2, threads=threads) as bx:
            Q_s = T.alloc_shared((bM, D), "float16")
            K_s = T.alloc_shared((64, D), "float16")
            acc = T.alloc_fragment((bM, 64), "float32")
            for i, d in T.Parallel(bM, D):
                if bx * bM + i < n:
                    Q_s[i, d] = Q[bx * bM + i, d]
                else:
                    Q_s[i, d] = 0.0
            T.copy(K[0, 0], K_s)
            T.gemm(Q_s, K_s, acc, transpose_B=True, clear_accum=True)
            T.copy(acc, O[bx * bM, 0])

    def inputs(device):
        return [torch.randn(L, D, device=device).half(), torch.randn(64, D, device=device).half(), 150]

    def reference(q, k, n):
        q = torch.cat([q.double(), torch.zeros(2 * bM - L, D, dtype=torch.float64)])
        q[n:] = 0
        return [q @ k.double().t()]
    return Program(kernel, inputs, reference, [((2 * bM, 64), torch.float32)])


PROGRAMS = {
    "blocksparse": blocksparse,
    "blocksparse_3_stages": lambda: blocksparse(stages=3),
    "paged": paged,
    "fragment_rows": fragment_rows,
    "two_layouts": two_layouts,
    "ragged_atomic": ragged_atomic,
    "epilogue_reuse": epilogue_reuse,
    "replicated_rows": replicated_rows,
    "guarded_rows": guarded_rows,
}


# ---------------------------------------------------------------------------------------------------- running
def run(prog: Program, target, device):
    """Compile ``prog`` for ``target``, run it on fresh inputs and poisoned outputs; (got, expected) lists."""
    kernel = tiledsl.compile(prog.func, out_idx=[], target=target)
    ins = prog.inputs(device)
    outs = []
    for shape, dtype in prog.out_shapes:
        empty = torch.empty(shape, dtype=dtype, device=device)
        outs.append(torch.zeros_like(empty) if len(outs) in prog.accumulate else poisoned_like(empty))
    kernel(*ins, *outs)
    return outs, prog.reference(*[t.cpu() if isinstance(t, torch.Tensor) else t for t in ins])


def check(prog, got, want):
    for g, w in zip(got, want):
        g = g.cpu().double()
        assert not torch.isnan(g).any(), "some outputs were never written"
        torch.testing.assert_close(g, w.double(), rtol=prog.tol, atol=prog.tol)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_on_cpu(name):
    prog = PROGRAMS[name]()
    got, want = run(prog, "llvm", "cpu")
    check(prog, got, want)


@pytest.mark.nvcc
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_builds_with_nvcc(name, arch, monkeypatch):
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "1")
    kernel = tiledsl.compile(PROGRAMS[name]().func, out_idx=[], target={"kind": "cuda", "arch": arch})
    # no tile op (tiledsl.copy, ...) reached the code generator
    assert "tiledsl." not in kernel.get_kernel_source().split("__global__", 1)[1]


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_on_gpu(name, monkeypatch):
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "1")
    prog = PROGRAMS[name]()
    got, want = run(prog, "cuda", "cuda")
    torch.cuda.synchronize()
    check(prog, got, want)


@pytest.mark.parametrize("arch", ARCHS)
def test_fragment_rows_side_effects_once_per_element(arch):
    """Walking every thread of the lowered kernel: each element of the row range is stored / added exactly once."""
    from thread_effects import per_element, side_effects

    effects = side_effects(fragment_rows().func, arch=arch, only=["O2", "O4", "O_s"])
    for buf, kind, count in (("O2", "store", 4 * 32), ("O4", "atomic", 4 * 64), ("O_s", "store", 4 * 64)):
        seen = per_element(effects, buf, kind)
        assert len(seen) == count and set(seen.values()) == {1}, buf


@pytest.mark.parametrize("arch", ARCHS)
def test_ragged_tile_atomic_adds_each_element_once(arch, monkeypatch):
    from thread_effects import per_element, side_effects

    monkeypatch.setenv("TILEDSL_TMA_REDUCE", "0")  # the element atomics (the TMA unit's adds: test_tma_reduce.py)

    seen = per_element(side_effects(ragged_atomic(scatter=False).func, arch=arch, only=["Out2"]), "Out2", "atomic")
    assert len(seen) == 100 * 64 and set(seen.values()) == {1}


@pytest.mark.nvcc
@pytest.mark.parametrize("arch", ARCHS)
def test_replicated_row_statistics_stay_compact(arch, monkeypatch):
    """Every thread reduces only its own rows (not a select per (row, register) pair: 1.9 MB of CUDA for this
    kernel on sm_90a before, which nvcc took minutes over in TileLang's varlen decoding example)."""
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "1")
    source = tiledsl.compile(replicated_rows().func, out_idx=[], target={"kind": "cuda", "arch": arch})
    assert len(source.get_kernel_source()) < 150_000


@pytest.mark.nvcc
@pytest.mark.parametrize("stages", [2, 3])
def test_a_masked_pipelined_loop_keeps_cp_async_on_sm90a(stages, monkeypatch):
    """A pipelined loop under a block-uniform guard (a block mask) is not given a TMA ring: the ring issues and
    computes every iteration, and on the H200 it computed the masked-out blocks too (2026-12-05)."""
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "1")
    kernel = tiledsl.compile(blocksparse(stages=stages).func, out_idx=[], target={"kind": "cuda", "arch": "sm_90a"})
    body = kernel.get_kernel_source().split("__global__", 1)[1]
    assert "cp_async_bulk_tensor" not in body and "cp_async_cg" in body and "wgmma" in body
    assert kernel.kernel_info["pipelines"] == ["cp.async"]
