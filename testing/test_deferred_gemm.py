"""The deferred last gemm (``passes/cuda/deferred_gemm.py``; the default, ``TILEDSL_DEFER_LAST_GEMM=0`` off): a TMA-pipelined
loop whose last statement is a wgmma gemm runs it one iteration late, during the next iteration's first gemm and
the statements after it (flash attention's ``P V`` during the next softmax).

nvcc: which loops take it (flash attention causal or not, a relu gemm chain) and which do not (a gemm-only loop, a
loop ending in something else, a loop whose first gemm's statements read the last gemm's result), the order of
commits, waits and barrier releases in the loop, on by default. GPU: flash attention against torch's SDPA in
float32 (1 to 8 iterations, 2 and 3 stages, causal or not) and the gemm chain against a float64 reference, outputs
poisoned with NaN.
"""
import re

import pytest
import torch

import tiledsl
import tiledsl.language as T

import general_programs as bench

SM90A = {"kind": "cuda", "arch": "sm_90a"}
F16 = "float16"


pytestmark = pytest.mark.usefixtures("general_passes_only", "no_kernel_cache")


def gemm_chain(M, N, L, D, block_M=128, block_N=64, stages=2, scale=0.125, form="relu"):
    """Out = sum over key blocks j of (relu(A K_j^T) * scale) V_j, in fp16 operands and fp32 sums: a two-gemm
    pipelined loop without a softmax, whose last gemm reads a fragment the statements in between write. Other
    ``form``s: "reads_result_early" (a statement before the first gemm rescales the last gemm's accumulator: the
    loop keeps the plain ring), "ends_in_a_scale" (the loop does not end in a gemm: plain ring), "shared_p" (no
    relu, P staged in shared memory, ``min(L / block_N, 2 (bx + 1))`` key blocks per row block)."""
    n_keys = T.ceildiv(L, block_N)

    @T.prim_func
    def kernel(A: T.Tensor((M, D), F16), K: T.Tensor((L, D), F16), V: T.Tensor((L, N), F16),
               Out: T.Tensor((M, N), "float32")):
        with T.Kernel(T.ceildiv(M, block_M), threads=256) as bx:
            A_s = T.alloc_shared((block_M, D), F16)
            K_s = T.alloc_shared((block_N, D), F16)
            V_s = T.alloc_shared((block_N, N), F16)
            P_s = T.alloc_shared((block_M, block_N), F16)
            s = T.alloc_fragment((block_M, block_N), "float32")
            p = T.alloc_fragment((block_M, block_N), F16)
            o = T.alloc_fragment((block_M, N), "float32")
            T.copy(A[bx * block_M, 0], A_s)
            T.clear(o)
            for j in T.Pipelined(T.min(n_keys, (bx + 1) * 2) if form == "shared_p" else n_keys, num_stages=stages):
                T.copy(K[j * block_N, 0], K_s)
                if form == "reads_result_early":
                    for i, c in T.Parallel(block_M, N):
                        o[i, c] = o[i, c] * 0.5
                T.clear(s)
                T.gemm(A_s, K_s, s, transpose_B=True)
                if form == "shared_p":
                    T.copy(s, P_s)
                    T.copy(V[j * block_N, 0], V_s)
                    T.gemm(P_s, V_s, o)
                else:
                    if form == "relu":
                        for i, c in T.Parallel(block_M, block_N):
                            s[i, c] = T.max(s[i, c], 0.0) * scale
                    T.copy(s, p)
                    T.copy(V[j * block_N, 0], V_s)
                    T.gemm(p, V_s, o)
                    if form == "ends_in_a_scale":
                        for i, c in T.Parallel(block_M, N):
                            o[i, c] = o[i, c] * 0.5
            T.copy(o, Out[bx * block_M, 0])
    return kernel


def _pipelines(program):
    return tiledsl.compile(program, out_idx=[], target=SM90A).kernel_info["pipelines"]


@pytest.mark.nvcc
def test_on_by_default_and_off_with_the_switch(monkeypatch):
    monkeypatch.setenv("TILEDSL_WARP_SPECIALIZE", "1")
    assert _pipelines(bench.flash_attention(1, 2, 512, 128, False)) == ["tma+deferred_gemm"]
    monkeypatch.setenv("TILEDSL_DEFER_LAST_GEMM", "0")
    assert _pipelines(bench.flash_attention(1, 2, 512, 128, False)) == ["tma"]


@pytest.mark.nvcc
@pytest.mark.parametrize("name", ["attention", "attention_causal", "chain"])
def test_loops_that_end_in_a_gemm_defer_it(name, monkeypatch):
    monkeypatch.setenv("TILEDSL_WARP_SPECIALIZE", "1")  # without a producer warpgroup (see the next test)
    program = {"attention": lambda: bench.flash_attention(1, 2, 512, 128, False),
               "attention_causal": lambda: bench.flash_attention(1, 2, 512, 128, True),
               "chain": lambda: gemm_chain(256, 128, 512, 64)}[name]()
    assert _pipelines(program) == ["tma+deferred_gemm"]


@pytest.mark.nvcc
@pytest.mark.parametrize("mode", ["all", "pingpong"])
def test_warp_specialized_attention_defers_pv(mode, monkeypatch):
    """With a producer warpgroup: the same order in the consumers' loop, K and V on rings of their own that the
    producer refills in turn; with pingpong, QK^T of i and PV of i - 1 are issued in one turn."""
    monkeypatch.setenv("TILEDSL_DEFER_LAST_GEMM", "1")
    monkeypatch.setenv("TILEDSL_WARP_SPECIALIZE", mode)
    kernel = tiledsl.compile(bench.flash_attention(1, 2, 512, 128, True), out_idx=[], target=SM90A)
    assert kernel.kernel_info["pipelines"] == [KINDS[mode]]
    src = kernel.get_kernel_source()
    producer = src.split("__global__")[-1].split("} else {", 1)[0]
    assert "K_shared_empty" in producer and "V_shared_empty" in producer
    events = _loop_events(src.split("__global__")[-1].split("} else {", 1)[1])
    assert events[:6] == ["C:acc_s", "C:acc_o", "W1", "R:K", "W0", "R:V"], events
    if mode == "pingpong":
        loop = re.split(r"for \(int \w+_p", src.split("__global__")[-1].split("} else {", 1)[1], maxsplit=1)[1]
        sync, arrive = loop.index("bar_sync_count_sync"), loop.index("bar_arrive_arrive")
        gemms = [m.start() for m in re.finditer(r"mma_async[a-z0-9_]*\(acc_[so]_ptr\[0\]", loop)]
        assert sync < gemms[0] and max(g for g in gemms if g < arrive) > gemms[0] and arrive < \
            loop.index("wait_group_sync_aligned_1()")


@pytest.mark.nvcc
@pytest.mark.parametrize("name,program", [
    ("gemm_only", lambda: bench.batched_gemm(2, 256, 256, 512, block_N=128)),
    ("reads_result_before_first_gemm", lambda: gemm_chain(256, 128, 512, 64, form="reads_result_early")),
    ("ends_in_a_scale", lambda: gemm_chain(256, 128, 512, 64, form="ends_in_a_scale"))])
def test_other_loops_are_left_alone(name, program, monkeypatch):
    default = _pipelines(program())
    monkeypatch.setenv("TILEDSL_DEFER_LAST_GEMM", "1")
    assert _pipelines(program()) == default and "tma+deferred_gemm" not in default


def _loop_events(src):
    """The loop's wgmma commits (C:<accumulator>), waits (W<n>), the schedule fence (F) and stage releases
    (R:<tile>), in source order."""
    body = src.split("__global__")[-1]
    loop = re.split(r"for \(int \w+_p", body, maxsplit=1)[1]
    pattern = (r"(wgmma_[a-z0-9_]*mma_async[a-z0-9_]*\((acc_[a-z]+)_ptr\[0\])|(commit_group_sync_aligned\(\))|"
               r"wait_group_sync_aligned_(\d)\(\)|(tiledsl_schedule_fence\(\))|"
               r"mbarrier_arrive_arrive_shared_b64\(tvm_builtin_cuda_cvta_generic_to_shared\(\(&\(([A-Za-z]+)_shared_empty")
    events, last_acc = [], None
    for m in re.finditer(pattern, loop):
        if m.group(2):
            last_acc = m.group(2)
        elif m.group(3):
            events.append("C:" + last_acc)
        elif m.group(4):
            events.append("W" + m.group(4))
        elif m.group(5):
            events.append("F")
        elif m.group(6):
            events.append("R:" + m.group(6))
    return events


@pytest.mark.nvcc
@pytest.mark.parametrize("causal", [False, True])
def test_attention_loop_issues_pv_of_the_previous_iteration_after_qk(causal, monkeypatch):
    """Iteration i: QK^T of i (acc_s), PV of i - 1 (acc_o), wait for QK^T only, K's stage of i released (only
    QK^T read it), the softmax, the wait for PV (no schedule fence by default), V's stage of i - 1 released. Then, after the loop, the last PV and its
    wait, and V's last stage released; Q (loaded before the loop, read by QK^T only) is released before that last
    PV, so a persistent CTA's producer may load the next tile's Q during it. K and V have rings of their own."""
    monkeypatch.setenv("TILEDSL_DEFER_LAST_GEMM", "1")
    src = tiledsl.compile(bench.flash_attention(1, 2, 512, 128, causal), out_idx=[], target=SM90A) \
        .get_kernel_source()
    assert "K_shared_full" in src and "V_shared_full" in src
    events = _loop_events(src)
    assert events[:6] == ["C:acc_s", "C:acc_o", "W1", "R:K", "W0", "R:V"], events
    assert events[6:] == ["R:Q", "C:acc_o", "W0", "R:V"], events  # the last PV after the loop


@pytest.mark.nvcc
@pytest.mark.slow  # the fenced form is an opt-in schedule now
def test_chain_waits_for_the_deferred_gemm_before_rewriting_its_a_fragment(monkeypatch):
    """The relu runs while the previous iteration's ``p V`` runs; the copy into ``p`` (that gemm's A, read from
    registers) comes after the wait; with ``TILEDSL_FENCED_DEFERRED_WAIT=1`` a schedule fence keeps the relu before
    the wait."""
    monkeypatch.setenv("TILEDSL_DEFER_LAST_GEMM", "1")
    monkeypatch.setenv("TILEDSL_FENCED_DEFERRED_WAIT", "1")
    src = tiledsl.compile(gemm_chain(256, 128, 512, 64), out_idx=[], target=SM90A).get_kernel_source()
    loop = re.split(r"for \(int \w+_p", src.split("__global__")[-1], maxsplit=1)[1]
    wait1 = loop.index("wait_group_sync_aligned_1()")
    fence, wait0 = loop.index("tiledsl_schedule_fence()"), loop.index("wait_group_sync_aligned_0()")
    relu = loop.index("max(")
    p_writes = [m.start() for m in re.finditer(r"\*\(half2\*\)\(p_ptr \+ \d+\) = ", loop)]
    assert p_writes and wait1 < relu < fence < wait0 < min(p_writes)


@pytest.mark.nvcc
def test_the_deferred_wait_is_left_to_ptxas_when_unfenced(monkeypatch):
    """``TILEDSL_FENCED_DEFERRED_WAIT=0``: no schedule fence and no pins of the finished registers before the
    deferred gemm's wait (the register pins around the gemms stay)."""
    monkeypatch.setenv("TILEDSL_FENCED_DEFERRED_WAIT", "0")
    src = tiledsl.compile(bench.flash_attention(1, 2, 512, 128, False), out_idx=[], target=SM90A).get_kernel_source()
    loop = re.split(r"for \(int \w+_p", src.split("__global__")[-1], maxsplit=1)[1]
    assert "tiledsl_schedule_fence()" not in loop and "tiledsl_pin_f32(logsum" not in loop
    assert "tiledsl_pin_f32(acc_s" in loop and "wait_group_sync_aligned_0()" in loop


@pytest.mark.nvcc
def test_a_loaded_tile_both_gemms_read_is_not_deferred():
    """MLA decode (``test_smem_fit.latent_decode``): ``S = Q C^T`` and ``O += P C`` both read the loaded latent
    tile C. Deferred, C moved to the late ring, waited for only where ``P C`` is issued, so ``Q C^T`` read it
    before it landed (wrong results on the H100); such a loop keeps the plain schedule."""
    from test_smem_fit import BUILD_SIZES, latent_decode

    assert _pipelines(latent_decode(**BUILD_SIZES)) == ["tma"]


# ---------------------------------------------------------------- GPU
KINDS = {"1": "tma+warp_specialized+deferred_gemm", "all": "tma+warp_specialized+deferred_gemm",
         "pingpong": "tma+warp_specialized+deferred_gemm"}


def _attention_matches_torch(B, H, S, D, causal, stages, mode="1"):
    kernel = bench.check_flash_attention_on_gpu(B, H, S, D, causal, stages=stages)
    assert kernel.kernel_info["pipelines"] == ["tma+deferred_gemm" if mode == "1" else KINDS[mode]]


@pytest.mark.gpu
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("S,D,stages", [(72, 64, 2), (200, 64, 2), (384, 64, 2), (1024, 128, 2), (1024, 64, 3),
                                        (256, 128, 3)])
def test_flash_attention_matches_torch(causal, S, D, stages, monkeypatch):
    """Without a producer warpgroup (``TILEDSL_WARP_SPECIALIZE=1``: attention keeps the plain ring)."""
    monkeypatch.setenv("TILEDSL_WARP_SPECIALIZE", "1")
    _attention_matches_torch(1, 2, S, D, causal, stages)


@pytest.mark.gpu
@pytest.mark.parametrize("mode", ["all", "pingpong"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("S,D,stages", [(72, 64, 2), (200, 64, 2), (1024, 128, 2), (256, 128, 3)])
def test_warp_specialized_flash_attention_matches_torch(mode, causal, S, D, stages, monkeypatch):
    """With a producer warpgroup (TILEDSL_WARP_SPECIALIZE=all / pingpong): each consumer warp's lane 0 releases
    K's stage once QK^T finished and V's in the next iteration; the producer refills each ring as its stages free."""
    monkeypatch.setenv("TILEDSL_DEFER_LAST_GEMM", "1")
    monkeypatch.setenv("TILEDSL_WARP_SPECIALIZE", mode)
    _attention_matches_torch(2, 2, S, D, causal, stages, mode)


@pytest.mark.gpu
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("S,D,stages", [(200, 64, 2), (1024, 128, 2), (256, 128, 3)])
def test_flash_attention_with_an_unfenced_deferred_wait_matches_torch(causal, S, D, stages, monkeypatch):
    monkeypatch.setenv("TILEDSL_FENCED_DEFERRED_WAIT", "0")
    _attention_matches_torch(2, 2, S, D, causal, stages, "all")


def _chain_matches_torch(L, stages=2, form="relu", kind="tma+deferred_gemm"):
    """:func:`gemm_chain` (M 256, N 128, D 64) built for the GPU with the deferred gemm (pipeline ``kind``),
    checked against a float64 reference on fresh inputs (output poisoned with NaN)."""
    M, N, D = 256, 128, 64
    kernel = tiledsl.compile(gemm_chain(M, N, L, D, stages=stages, form=form), out_idx=[], target="cuda")
    assert kernel.kernel_info["pipelines"] == [kind]
    a, k, v = torch.randn(M, D, device="cuda").half(), torch.randn(L, D, device="cuda").half(), \
        torch.randn(L, N, device="cuda").half()
    out = torch.full((M, N), float("nan"), device="cuda")
    kernel(a, k, v, out)
    torch.cuda.synchronize()
    want = torch.empty(M, N, dtype=torch.float64, device="cuda")
    for bx in range(M // 128):
        keys = min(L // 64, 2 * (bx + 1)) * 64 if form == "shared_p" else L
        s = a[bx * 128:(bx + 1) * 128].double() @ k[:keys].double().T
        p = (torch.relu(s) * 0.125 if form == "relu" else s).half().double()  # the kernel rounds P to fp16
        want[bx * 128:(bx + 1) * 128] = p @ v[:keys].double()
    assert not torch.isnan(out).any()
    torch.testing.assert_close(out.double(), want, rtol=1e-2, atol=5e-2)


@pytest.mark.gpu
@pytest.mark.parametrize("mode", ["1", "all"])
@pytest.mark.parametrize("L,stages", [(64, 2), (128, 2), (512, 2), (448, 3)])
def test_gemm_chain_matches_torch(L, stages, mode, monkeypatch):
    """With the plain ring (``TILEDSL_WARP_SPECIALIZE=1``) and with a producer warpgroup (the default)."""
    monkeypatch.setenv("TILEDSL_WARP_SPECIALIZE", mode)
    _chain_matches_torch(L, stages, kind="tma+deferred_gemm" if mode == "1" else KINDS[mode])


@pytest.mark.nvcc
def test_a_shared_operand_is_rewritten_after_every_warpgroup_waited(monkeypatch):
    """P in shared memory: both warpgroups' deferred gemms read it, so a block barrier separates the wait for
    the deferred gemm from the threads' next write of P (ThreadSync's, from the gemm's shared read)."""
    monkeypatch.setenv("TILEDSL_DEFER_LAST_GEMM", "1")
    kernel = tiledsl.compile(gemm_chain(256, 128, 512, 64, form="shared_p"), out_idx=[], target=SM90A)
    assert kernel.kernel_info["pipelines"] == ["tma+deferred_gemm"]
    loop = re.split(r"for \(int \w+_p", kernel.get_kernel_source().split("__global__")[-1], maxsplit=1)[1]
    wait0 = loop.index("wait_group_sync_aligned_0()")
    first_write = loop.index("*(half2*)(P_s + ")
    assert wait0 < loop.index("__syncthreads()", wait0) < first_write


@pytest.mark.gpu
def test_chain_through_shared_matches_torch():
    _chain_matches_torch(512, form="shared_p")
