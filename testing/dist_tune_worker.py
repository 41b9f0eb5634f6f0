"""One rank of the distributed tuning tests (run by test_distributed.py, not collected by pytest).

``python dist_tune_worker.py <scenario> <out_dir>`` with RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set: joins a
gloo process group, tunes a tiny CPU GEMM together with the other ranks, checks the tuned kernel against torch and
writes ``<out_dir>/rank<r>.json``. A tuning error is written there too (``error``) and the exit status is 3.
"""
from __future__ import annotations

import datetime
import json
import os
import signal
import sys
import threading
import traceback

import torch
import torch.distributed as dist

import tiledsl
import tiledsl.language as T

SIZE = 64
SYNC_TIMEOUT = 5.0
TARGET = os.environ.get("DIST_TEST_TARGET", "llvm")  # "cuda" for the GPU variant of the tests
DEVICE = "cuda" if TARGET == "cuda" else "cpu"


def gemm(M, N, K, block_M=32, block_N=32, block_K=32, fail_on_rank=-1, slow=0, wrong=0, dtype="float16"):
    """A CPU GEMM; ``fail_on_rank``: the factory raises on that rank only; ``slow``: a long extra loop;
    ``wrong``: skips the last K tile."""
    if fail_on_rank >= 0 and os.environ.get("RANK") == str(fail_on_rank):
        raise RuntimeError(f"this config cannot be built on rank {fail_on_rank}")

    @T.prim_func
    def kernel(A: T.Tensor((M, K), dtype), B: T.Tensor((K, N), dtype), C: T.Tensor((M, N), dtype)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=128) as (bx, by):
            A_s = T.alloc_shared((block_M, block_K), dtype)
            B_s = T.alloc_shared((block_K, block_N), dtype)
            C_f = T.alloc_fragment((block_M, block_N), "float32")
            T.clear(C_f)
            for ko in T.Pipelined(T.ceildiv(K, block_K) - wrong, num_stages=2):
                T.copy(A[by * block_M, ko * block_K], A_s)
                T.copy(B[ko * block_K, bx * block_N], B_s)
                T.gemm(A_s, B_s, C_f)
            T.copy(C_f, C[by * block_M, bx * block_N])
            if slow > 0:
                for i in T.serial(slow):
                    C[1, 1] = C[1, 1] * C[1, 1]
    return kernel


matmul = tiledsl.jit(out_idx=[-1], target=TARGET)(gemm)


def ref_matmul(A, B):
    return A @ B


ctx_matmul = tiledsl.autotune(configs=[dict(block_M=32, block_N=32), dict(block_M=64, block_N=32), dict(wrong=1)],
                              ref_prog=ref_matmul)(tiledsl.jit(out_idx=[-1], target="llvm")(gemm))


def add_into_factory(M, N, block=32, dtype="float32"):
    """Y += X in place (no out_idx): a kernel with a side effect."""
    @T.prim_func
    def kernel(X: T.Tensor((M, N), dtype), Y: T.Tensor((M, N), dtype)):
        with T.Kernel(T.ceildiv(N, block), T.ceildiv(M, block), threads=128) as (bx, by):
            for i, j in T.Parallel(block, block):
                Y[by * block + i, bx * block + j] = Y[by * block + i, bx * block + j] + \
                    X[by * block + i, bx * block + j]
    return kernel


add_into = tiledsl.autotune(configs=[dict(block=16), dict(block=32)])(tiledsl.jit(target="llvm")(add_into_factory))


@tiledsl.contextual_autotune(n_warmup=1, n_repeat=2, autotune_sync_timeout=SYNC_TIMEOUT)
def layer(a, b, out):
    """Two tuned kernels with an all-reduce between them and an in-place update of ``out``."""
    c = ctx_matmul(SIZE, SIZE, SIZE, dtype="float32")(a, b)
    dist.all_reduce(c)
    add_into(SIZE, SIZE)(c, out)
    return out


def contextual(rank: int, world: int) -> dict:
    gen = torch.Generator().manual_seed(7)  # the same inputs on every rank
    a = torch.randn(SIZE, SIZE, generator=gen)
    b = torch.randn(SIZE, SIZE, generator=gen)
    expected = world * (a.double() @ b.double())
    out = torch.zeros(SIZE, SIZE)
    first = layer(a, b, out)
    again = layer(a, b, torch.zeros(SIZE, SIZE))
    return {"results": {k: v["config"] for k, v in layer.results.items()},
            "statuses": {k: [t["status"] for t in v["trials"]] for k, v in layer.results.items()},
            "first_err": float((first.double() - expected).abs().max()), "first_is_out": first is out,
            "again_err": float((again.double() - expected).abs().max())}


SPACES = {
    "agree": [dict(block_M=m, block_N=n) for m in (32, 64) for n in (32, 64)],
    # config 0 is measured by rank 0 (split), is a finalist, and cannot be built on rank 1
    "fail_one_rank": [dict(block_M=64, block_N=64, fail_on_rank=1), dict(block_M=32, block_N=32),
                      dict(block_M=32, block_N=64)],
    # every rank measures every candidate (autotune_split=False): rank 1 cannot build the first one
    "fail_all_measure": [dict(block_M=64, block_N=64, fail_on_rank=1), dict(block_M=32, block_N=32),
                         dict(block_M=64, block_N=32)],
    "mismatch": [dict(block_M=m, block_N=n) for m in (32, 64) for n in (32, 64)],
    "die": [dict(slow=3000000, block_M=m) for m in (32, 64)] + [dict(slow=3000000, block_N=64),
                                                               dict(slow=3000000, block_K=64)],
}


def tune(scenario: str):
    space = SPACES["die" if scenario.startswith("die") else scenario]
    if scenario == "mismatch" and dist.get_rank() == 1:  # a rank with a different config list
        space = space[:3]
    tuner = tiledsl.AutoTuner.from_kernel(matmul, configs=space)
    tuner.set_profile_args(warmup=1, rep=3, timeout=60, ref_prog=ref_matmul, top_k=4, retime_rounds=1)
    tuner.set_kernel_parameters((SIZE, SIZE, SIZE))
    if scenario.startswith("die") and dist.get_rank() == int(os.environ.get("DIE_RANK", "1")):
        # dies while the ranks tune (its workers follow it)
        threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGKILL)).start()
    return tuner.run(autotune_sync_timeout=SYNC_TIMEOUT, autotune_split=scenario != "fail_all_measure")


class _Done(Exception):
    pass


def main(scenario: str, out_dir: str) -> int:
    dist.init_process_group("gloo", init_method="env://", timeout=datetime.timedelta(seconds=30))
    rank = dist.get_rank()
    if DEVICE == "cuda":
        torch.cuda.set_device(rank % torch.cuda.device_count())
    report: dict = {"rank": rank}
    code = 0
    try:
        if scenario == "contextual":
            report.update(contextual(rank, dist.get_world_size()))
            raise _Done
        result = tune(scenario)
        a = torch.randn(SIZE, SIZE, dtype=torch.float16, device=DEVICE)
        b = torch.randn(SIZE, SIZE, dtype=torch.float16, device=DEVICE)
        out = result.kernel(a, b).double()
        ref = a.double() @ b.double()
        report.update(config=result.config, latency=result.latency, from_cache=result.from_cache,
                      max_err=float((out - ref).abs().max()), statuses={json.dumps(t.config, sort_keys=True):
                                                                        [t.status, t.reason] for t in result.trials})
        again = tuner_again(scenario)
        report["again_same"] = again is result
        if scenario == "fail_one_rank":
            again = tune("fail_all_measure")
            report.update(replicate_config=again.config, replicate_statuses={json.dumps(
                t.config, sort_keys=True): [t.status, t.reason] for t in again.trials})
        if scenario == "agree":  # then the ranks disagree on the configs: both must stop, naming it
            try:
                tune("mismatch")
            except Exception as err:
                report.update(mismatch_error=f"{type(err).__name__}: {err}", mismatch_kind=type(err).__name__)
    except _Done:
        pass
    except Exception as err:  # the test reads what went wrong
        report.update(error=f"{type(err).__name__}: {err}", kind=type(err).__name__,
                      is_autotune_error=isinstance(err, tiledsl.AutotuneError),
                      traceback=traceback.format_exc())
        code = 3
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(report, f)
    # as torch asks of every program: a gloo group left to the interpreter's exit after collectives sometimes
    # aborts the process there ("terminate called without an active exception", seen in the contextual scenario)
    try:
        dist.destroy_process_group()
    except Exception:  # a peer already gone (the scenarios that kill a rank): nothing left to tear down cleanly
        pass
    return code


def tuner_again(scenario: str):
    """The same tuning once more in this process: a memory hit on every rank, no waiting."""
    tuner = tiledsl.AutoTuner.from_kernel(matmul, configs=SPACES[scenario])
    tuner.set_profile_args(warmup=1, rep=3, timeout=60, ref_prog=ref_matmul, top_k=4, retime_rounds=1)
    tuner.set_kernel_parameters((SIZE, SIZE, SIZE))
    return tuner.run(autotune_sync_timeout=SYNC_TIMEOUT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
