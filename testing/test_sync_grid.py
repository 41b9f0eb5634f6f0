"""``T.sync_grid()``: a kernel cut at its grid barriers into consecutive launches of the same grid.

Programs written for these tests (not TileLang's): two phases through a global workspace (per-block partial sums,
then every block combines all of them), a persistent-style wave loop on each side of the barrier, and three
phases. Each runs on the CPU against torch in float64 (fresh random inputs, outputs and workspaces poisoned with
NaN first), builds for sm_90a (and sm_80) with nvcc, and runs on a GPU where there is one (marked ``gpu``). The
refused programs (a barrier inside a loop or an ``if``, on-chip state living across a barrier) must raise a
``TileProgramError`` naming the mistake.
"""
import re

import pytest
import torch

import tiledsl
import tiledsl.language as T
from tiledsl.passes.split_grid_sync import split_grid_sync, split_grid_sync_module
from tiledsl.profiler import bind

SM90A = {"kind": "cuda", "arch": "sm_90a"}
SM80 = {"kind": "cuda", "arch": "sm_80"}


def run_checked(kernel, inputs):
    """Run ``kernel`` on ``inputs`` with its outputs and workspaces poisoned first; the output."""
    run, outs = bind(kernel, inputs)
    run()
    return outs[0]


# ---------------------------------------------------------------------------------------------- programs
@tiledsl.jit(out_idx=[-1])
def normalize_by_total(N, blocks, block, threads=64, dtype="float32"):
    """Out = A / sum(|A|): each block sums |A| over its tile into a workspace, then (after the barrier) every block
    adds all partial sums and divides its tile by the total."""

    @T.prim_func
    def main(A: T.Tensor((N,), dtype), Out: T.Tensor((N,), dtype)):
        W = T.alloc_global((blocks,), dtype)
        with T.Kernel(blocks, threads=threads) as bx:
            a_s = T.alloc_shared((block,), dtype)
            a_f = T.alloc_fragment((block,), dtype)
            part = T.alloc_fragment((1,), dtype)
            total = T.alloc_var(dtype)
            T.copy(A[bx * block], a_s)
            T.copy(a_s, a_f)
            T.reduce_abssum(a_f, part, dim=0)
            W[bx] = part[0]
            T.sync_grid()
            total = 0.0
            for k in T.serial(blocks):
                total += W[k]
            T.copy(A[bx * block], a_s)
            for i in T.Parallel(block):
                a_f[i] = a_s[i] / total
            T.copy(a_f, Out[bx * block])
    return main


def ref_normalize_by_total(a):
    a = a.double()
    return a / a.abs().sum()


@tiledsl.jit(out_idx=[-1])
def persistent_mirror_rows(M, N, sms, block_M, threads=128, dtype="float32"):
    """A persistent kernel of ``sms`` blocks: waves over row tiles compute the row sums of 2 * A into a workspace;
    after the barrier, waves again add to each tile of A the row sums of the mirrored tile (written by another
    block): Out[t, i, :] = A[t, i, :] + rowsum(2 * A)[T - 1 - t, i]."""
    tiles = M // block_M
    waves = (tiles + sms - 1) // sms

    @T.prim_func
    def main(A: T.Tensor((M, N), dtype), Out: T.Tensor((M, N), dtype)):
        R = T.alloc_global((M,), dtype)
        with T.Kernel(sms, threads=threads) as bx:
            a_s = T.alloc_shared((block_M, N), dtype)
            a_f = T.alloc_fragment((block_M, N), dtype)
            sums = T.alloc_fragment((block_M,), dtype)
            for w in T.serial(waves):
                tile = w * sms + bx
                if tile < tiles:
                    T.copy(A[tile * block_M, 0], a_s)
                    T.copy(a_s, a_f)
                    for i, j in T.Parallel(block_M, N):
                        a_f[i, j] = a_f[i, j] * 2.0
                    T.reduce_sum(a_f, sums, dim=1)
                    T.copy(sums, R[tile * block_M])
            T.sync_grid()
            for w in T.serial(waves):
                tile = w * sms + bx
                if tile < tiles:
                    T.copy(A[tile * block_M, 0], a_f)
                    for i in T.Parallel(block_M):
                        sums[i] = R[(tiles - 1 - tile) * block_M + i]
                    for i, j in T.Parallel(block_M, N):
                        a_f[i, j] = a_f[i, j] + sums[i]
                    T.copy(a_f, Out[tile * block_M, 0])
    return main


def ref_persistent_mirror_rows(a, block_M):
    a = a.double()
    rows = (2 * a).sum(dim=1).view(-1, block_M).flip(0).reshape(-1)
    return a + rows[:, None]


@tiledsl.jit(out_idx=[-1])
def three_phase_prefix(N, blocks, block, threads=64, dtype="float32"):
    """Two barriers: block sums S (phase 1), their inclusive prefix P[b] = S[0] + ... + S[b] (phase 2), then
    Out[tile b] = A[tile b] * P[blocks - 1 - b] (phase 3, reading what another block wrote in phase 2)."""

    @T.prim_func
    def main(A: T.Tensor((N,), dtype), Out: T.Tensor((N,), dtype)):
        S = T.alloc_global((blocks,), dtype)
        P = T.alloc_global((blocks,), dtype)
        with T.Kernel(blocks, threads=threads) as bx:
            a_f = T.alloc_fragment((block,), dtype)
            part = T.alloc_fragment((1,), dtype)
            acc = T.alloc_var(dtype)
            T.copy(A[bx * block], a_f)
            T.reduce_sum(a_f, part, dim=0)
            S[bx] = part[0]
            T.sync_grid()
            acc = 0.0
            for k in T.serial(bx + 1):
                acc += S[k]
            P[bx] = acc
            T.sync_grid()
            T.copy(A[bx * block], a_f)
            for i in T.Parallel(block):
                a_f[i] = a_f[i] * P[blocks - 1 - bx]
            T.copy(a_f, Out[bx * block])
    return main


@tiledsl.jit
def center_rows(X, blocks=4):
    """Newer style: one block per row tile sums its rows into a workspace; after the barrier every block subtracts
    the mean of all rows (columns' means) from its tile: Y = X - X.mean(0)."""
    M, N = T.const("M, N")
    X: T.Tensor((M, N), T.float32)
    sums = T.alloc_global((blocks, N), T.float32)
    Y = T.empty((M, N), T.float32)
    rows = M // blocks
    with T.Kernel(blocks, threads=64) as b:
        x = T.alloc_fragment((rows, N), T.float32)
        col = T.alloc_fragment((N,), T.float32)
        T.copy(X[b * rows, 0], x)
        T.reduce_sum(x, col, dim=0)
        T.copy(col, sums[b, 0:N])
        T.sync_grid()
        T.clear(col)
        for k in T.serial(blocks):
            for j in T.Parallel(N):
                col[j] += sums[k, j]
        T.copy(X[b * rows, 0], x)
        for i, j in T.Parallel(rows, N):
            x[i, j] = x[i, j] - col[j] / M
        T.copy(x, Y[b * rows, 0])
    return Y


def ref_three_phase_prefix(a, blocks):
    a = a.double()
    prefix = a.view(blocks, -1).sum(dim=1).cumsum(0)
    return (a.view(blocks, -1) * prefix.flip(0)[:, None]).reshape(-1)


# ---------------------------------------------------------------------------------------------- CPU correctness
def test_two_phases_through_a_workspace():
    kernel = normalize_by_total.compile(N=256, blocks=4, block=64, target="llvm")
    a = torch.randn(256) + 0.1
    torch.testing.assert_close(run_checked(kernel, [a]).double(), ref_normalize_by_total(a), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sms", [3, 8])
def test_persistent_waves_on_each_side_of_the_barrier(sms):
    kernel = persistent_mirror_rows.compile(M=128, N=32, sms=sms, block_M=16, target="llvm")
    a = torch.randn(128, 32)
    torch.testing.assert_close(run_checked(kernel, [a]).double(), ref_persistent_mirror_rows(a, 16),
                               rtol=1e-5, atol=1e-5)


def test_three_phases_two_barriers():
    kernel = three_phase_prefix.compile(N=256, blocks=8, block=32, target="llvm")
    a = torch.randn(256)
    torch.testing.assert_close(run_checked(kernel, [a]).double(), ref_three_phase_prefix(a, 8),
                               rtol=1e-5, atol=1e-5)


def test_newer_style_program_with_a_barrier():
    x = torch.randn(64, 32)
    kernel = center_rows.compile(M=64, N=32, target="llvm")
    torch.testing.assert_close(run_checked(kernel, [x]).double(), x.double() - x.double().mean(0), rtol=1e-5, atol=1e-5)


def test_each_phase_is_a_launch_of_the_same_grid():
    func = three_phase_prefix.get_tir(N=256, blocks=8, block=32)
    out = split_grid_sync(func)
    launches = [s for s in out.body.seq if getattr(s, "attr_key", None) == "thread_extent"]
    assert len(launches) == 3
    assert {int(s.value) for s in launches} == {8}
    assert len({s.node.var.name for s in launches}) == 3  # fresh block indices per launch
    assert "sync_grid" not in out.script()


def test_a_barrier_with_nothing_on_one_side_adds_no_launch():
    @T.prim_func
    def main(A: T.Tensor((64,), "float32"), Out: T.Tensor((64,), "float32")):
        with T.Kernel(2, threads=32) as bx:
            f = T.alloc_fragment((32,), "float32")
            T.sync_grid()
            T.copy(A[bx * 32], f)
            T.copy(f, Out[bx * 32])
            T.sync_grid()
            T.sync_grid()

    out = split_grid_sync(main)
    assert "sync_grid" not in out.script()
    assert getattr(out.body, "attr_key", None) == "thread_extent"  # one launch, not a sequence of launches
    kernel = tiledsl.compile(main, out_idx=[-1], target="llvm")
    a = torch.randn(64)
    torch.testing.assert_close(run_checked(kernel, [a]), a)


def test_a_program_without_barrier_is_left_as_it_is():
    import tvm


    @T.prim_func
    def main(A: T.Tensor((64,), "float32")):
        with T.Kernel(1, threads=32) as _:
            A[0] = 1.0

    mod = tvm.IRModule({"main": main})
    assert split_grid_sync(main).same_as(main)
    assert split_grid_sync_module(mod) is mod


# ---------------------------------------------------------------------------------------------- refused programs
@tiledsl.jit(out_idx=[-1])
def _program(body_kind):
    """A small program whose barrier or state use is wrong in the way ``body_kind`` names."""
    @T.prim_func
    def main(A: T.Tensor((64,), "float32"), Out: T.Tensor((64,), "float32")):
        with T.Kernel(2, threads=32) as bx:
            f = T.alloc_fragment((32,), "float32")
            v = T.alloc_var("float32", init=1.0)
            if body_kind == "in_loop":
                for w in T.serial(2):
                    T.copy(A[bx * 32], f)
                    T.sync_grid()
                T.copy(f, Out[bx * 32])
            elif body_kind == "in_if":
                T.copy(A[bx * 32], f)
                if bx == 0:
                    T.sync_grid()
                T.copy(f, Out[bx * 32])
            elif body_kind == "fragment_across":
                T.copy(A[bx * 32], f)
                T.sync_grid()
                T.copy(f, Out[bx * 32])
            elif body_kind == "var_across":
                T.copy(A[bx * 32], f)
                for i in T.serial(2):
                    v = v + A[i]
                T.sync_grid()
                T.copy(A[bx * 32], f)
                for i in T.Parallel(32):
                    f[i] = f[i] * v
                T.copy(f, Out[bx * 32])
            elif body_kind == "partial_write_after":
                T.copy(A[bx * 32], f)
                T.sync_grid()
                for i in T.Parallel(16):
                    f[i] = A[bx * 32 + i]
                T.copy(f, Out[bx * 32])
            elif body_kind == "written_in_one_branch":
                T.sync_grid()
                if bx == 0:
                    T.fill(f, 1.0)
                T.copy(f, Out[bx * 32])
            elif body_kind == "view_across":
                T.copy(A[bx * 32], f)
                s = T.alloc_shared((32,), "float32")
                T.copy(f, s)
                s2 = T.Tensor((4, 8), "float32", s.data)
                T.sync_grid()
                T.copy(A[bx * 32], s)
                Out[bx * 32] = s2[0, 0]
            elif body_kind == "view_after":
                s = T.alloc_shared((32,), "float32")
                T.copy(A[bx * 32], s)
                T.sync_grid()
                s2 = T.Tensor((4, 8), "float32", s.data)
                Out[bx * 32] = s2[0, 0]
            elif body_kind == "scalar_across":
                t = T.min(T.Cast("int32", A[0] * A[0]), 0) + bx * 32
                T.sync_grid()
                T.copy(A[t], f)
                T.copy(f, Out[t])
    return main


@pytest.mark.parametrize("kind, message", [
    ("in_loop", r"(?s)directly in the body of `with T.Kernel\(...\)`, but this one is inside a loop.*"
                r"test_sync_grid.py:\d+"),
    ("in_if", r"directly in the body of `with T.Kernel\(...\)`, but this one is inside an if"),
    ("fragment_across", r"f \(a fragment allocated before grid barrier 1\) is read by T.copy after the barrier"),
    ("var_across", r"v \(a T.alloc_var / scalar .*\) is read by the store into f"),
    ("partial_write_after", r"f \(a fragment .*\) is read by T.copy"),
    ("written_in_one_branch", r"f \(a fragment .*\) is read by T.copy"),
    ("scalar_across", r"t \(a T.alloc_var / scalar .*\) is read by T.copy"),
    ("view_across", r"the view s2 is declared before grid barrier 1 and used after it"),
    ("view_after", r"s \(a shared buffer .*\) is read by a DeclBuffer statement"),
])
def test_unsound_barriers_are_refused(kind, message):
    with pytest.raises(tiledsl.TileProgramError, match=message):
        _program.compile(body_kind=kind, target="llvm")


def test_a_nested_barrier_is_refused_by_the_pass_too():
    """The front end refuses a nested T.sync_grid() at the user's line; the pass refuses IR built otherwise."""
    import tvm_ffi
    from tvm import tirx

    from tiledsl.ir.grid_sync import is_sync_grid

    func = normalize_by_total.get_tir(N=256, blocks=4, block=64)
    nested = tvm_ffi.structural_map(func.body, [(tirx.Evaluate, lambda s: tirx.For(
        tirx.Var("w", "int32"), 0, 2, tirx.ForKind.SERIAL, s) if is_sync_grid(s) else s)], order="post")
    with pytest.raises(tiledsl.TileProgramError, match="but one is inside a loop"):
        split_grid_sync(func.with_body(nested))


def test_sync_grid_outside_a_kernel_is_refused():
    @tiledsl.jit(out_idx=[-1])
    def barrier_first():
        @T.prim_func
        def main(A: T.Tensor((64,), "float32")):
            T.sync_grid()
            with T.Kernel(1, threads=32) as _:
                A[0] = 1.0
        return main

    with pytest.raises(tiledsl.TileProgramError, match=r"T.sync_grid\(\) is only valid inside `with T.Kernel"):
        barrier_first.get_tir()


@tiledsl.jit(out_idx=[-1])
def scalars_across_a_barrier(N=64, block=32):
    """Scalars assigned once before the barrier from indices and constants (``t``, ``u``, ``T.alloc_var`` with
    ``init``) keep their values after it: the later launch assigns them again."""

    @T.prim_func
    def main(A: T.Tensor((N,), "float32"), Out: T.Tensor((N,), "float32")):
        W = T.alloc_global((N,), "float32")
        with T.Kernel(N // block, threads=32) as bx:
            f = T.alloc_fragment((block,), "float32")
            scale = T.alloc_var("float32", init=2.0)
            t = bx * block
            u = t + 0
            T.copy(A[t], f)
            T.copy(f, W[t])
            T.sync_grid()
            T.copy(A[u], f)
            for i in T.Parallel(block):
                f[i] = f[i] * scale + W[(N - block) - t + i]
            T.copy(f, Out[u])
    return main


def test_scalars_assigned_once_before_the_barrier_keep_their_values():
    kernel = scalars_across_a_barrier.compile(target="llvm")
    a = torch.randn(64)
    want = a.double() * 2 + a.double().view(2, 32).flip(0).reshape(-1)
    torch.testing.assert_close(run_checked(kernel, [a]).double(), want, rtol=1e-6, atol=1e-6)


def test_state_written_in_both_branches_after_the_barrier_is_accepted():
    @T.prim_func
    def main(A: T.Tensor((64,), "float32"), Out: T.Tensor((64,), "float32")):
        with T.Kernel(2, threads=32) as bx:
            f = T.alloc_fragment((32,), "float32")
            T.copy(A[bx * 32], f)
            T.copy(f, Out[bx * 32])
            T.sync_grid()
            if bx == 0:
                T.fill(f, 2.0)
            else:
                for i in T.Parallel(32):
                    f[i] = Out[32 + i] * 3.0
            T.copy(f, Out[bx * 32])

    kernel = tiledsl.compile(main, out_idx=[-1], target="llvm")
    a = torch.randn(64)
    want = torch.cat([torch.full((32,), 2.0, dtype=torch.float64), a[32:].double() * 3])
    torch.testing.assert_close(run_checked(kernel, [a]).double(), want)


# ---------------------------------------------------------------------------------------------- uniform scalars
def test_uniform_scalars_are_the_block_uniform_ones():
    from tvm import tirx

    from tiledsl.passes.cuda.uniform_scalars import uniform_scalars

    bx, tx, w = tirx.Var("bx", "int32"), tirx.Var("tx", "int32"), tirx.Var("w", "int32")
    A = tirx.decl_buffer((64,), "int32", "A")
    scalar = {name: tirx.decl_buffer((1,), "int32", name, scope="local")
              for name in ("tile", "next", "lane", "after_lane", "in_branch", "shuffled")}
    load = {name: tirx.BufferLoad(b, [0]) for name, b in scalar.items()}

    def store(name, value):
        return tirx.BufferStore(scalar[name], value, [0])

    shuffle = tirx.call_intrin("int32", "tirx.tvm_warp_shuffle", tirx.const(0xFFFFFFFF, "uint32"), bx, 0, 32, 32)
    body = tirx.For(w, 0, 4, tirx.ForKind.SERIAL, tirx.SeqStmt([
            store("tile", w * 8 + bx),                                   # uniform
            store("next", load["tile"] + A[load["tile"]]),               # uniform (a global load at a uniform index)
            store("lane", tx % 32),                                      # a thread index
            store("after_lane", load["lane"] + 1),                       # from a per-thread scalar
            tirx.IfThenElse(tx < 16, store("in_branch", bx), None),      # uniform value, per-thread control
            store("shuffled", shuffle),                                  # a call (a shuffle) is never uniform
        ]))
    names = {b.name for b in uniform_scalars(body, [tx])}
    assert names == {"tile", "next"}


def test_a_branch_on_a_per_thread_scalar_still_refuses_a_barrier():
    """The retry with uniform scalar branches must not accept a condition that differs between threads."""
    @T.prim_func
    def main(A: T.Tensor((64,), "float32"), Out: T.Tensor((64,), "float32")):
        with T.Kernel(1, threads=64) as _:
            S = T.alloc_shared((64,), "float32")
            tx = T.get_thread_binding()
            half = tx // 32
            if half < 1:
                S[tx] = A[tx]
                Out[tx] = S[63 - tx]

    with pytest.raises(tiledsl.CompileError, match="Cannot insert syncs inside condition"):
        tiledsl.compile(main, out_idx=[-1], target=SM90A)


# ---------------------------------------------------------------------------------------------- nvcc builds
_BUILDS = {
    "two_phases": (lambda t: normalize_by_total.compile(N=1024, blocks=8, block=128, target=t), 2),
    "persistent": (lambda t: persistent_mirror_rows.compile(M=256, N=64, sms=5, block_M=32, target=t), 2),
    "three_phases": (lambda t: three_phase_prefix.compile(N=1024, blocks=8, block=128, target=t), 3),
    "newer_style": (lambda t: center_rows.compile(M=256, N=64, blocks=4, target=t), 2),
    "scalars_across": (lambda t: scalars_across_a_barrier.compile(target=t), 2),
}


def _kernel_names(source: str) -> set:
    return set(re.findall(r"__global__ void (?:__launch_bounds__\(\d+\) )?(\w+)\(", source))


@pytest.mark.nvcc
@pytest.mark.parametrize("name", sorted(_BUILDS))
@pytest.mark.parametrize("target", [SM90A, SM80], ids=["sm_90a", "sm_80"])
def test_builds_one_cuda_kernel_per_phase(name, target):
    build, phases = _BUILDS[name]
    source = build(target).get_kernel_source()
    assert len(_kernel_names(source)) == phases
    assert "sync_grid" not in source and "grid.sync" not in source


# ---------------------------------------------------------------------------------------------- GPU
@pytest.mark.gpu
def test_gpu_phases_match_torch():
    a = torch.randn(1024, device="cuda") + 0.1
    kernel = normalize_by_total.compile(N=1024, blocks=8, block=128, target="auto")
    torch.testing.assert_close(run_checked(kernel, [a]).double(), ref_normalize_by_total(a), rtol=1e-5, atol=1e-6)
    kernel = three_phase_prefix.compile(N=1024, blocks=8, block=128, target="auto")
    torch.testing.assert_close(run_checked(kernel, [a]).double(), ref_three_phase_prefix(a, 8), rtol=1e-5, atol=1e-4)
    m = torch.randn(256, 64, device="cuda")
    kernel = persistent_mirror_rows.compile(M=256, N=64, sms=5, block_M=32, target="auto")
    torch.testing.assert_close(run_checked(kernel, [m]).double(), ref_persistent_mirror_rows(m, 32),
                               rtol=1e-5, atol=1e-4)
    kernel = center_rows.compile(M=256, N=64, blocks=4, target="auto")
    torch.testing.assert_close(run_checked(kernel, [m]).double(), m.double() - m.double().mean(0),
                               rtol=1e-5, atol=1e-5)
