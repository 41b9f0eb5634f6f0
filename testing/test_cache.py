"""The kernel cache: memory hits, disk hits in a fresh process, atomic entries, and keys that change."""
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
import torch

import tiledsl
import tiledsl.language as T
from tiledsl.cache import DiskStore, content_key
from tiledsl.runtime import compiler


@tiledsl.jit(out_idx=[-1], target="llvm")
def axpy(N, alpha=2.0, block=32):
    @T.prim_func
    def kernel(X: T.Tensor((N,), "float32"), Y: T.Tensor((N,), "float32"), Z: T.Tensor((N,), "float32")):
        with T.Kernel(T.ceildiv(N, block)) as bx:
            for i in T.Parallel(block):
                Z[bx * block + i] = X[bx * block + i] * alpha + Y[bx * block + i]
    return kernel


def test_repeated_factory_call_is_a_lookup():
    first = axpy(100)
    assert axpy(100) is first
    assert axpy(100, alpha=3.0) is not first
    start = time.perf_counter()
    for _ in range(1000):
        axpy(100)
    per_call = (time.perf_counter() - start) / 1000
    assert per_call < 0.01  # a sanity bound (a dict look-up), not a timing claim
    x, y = torch.randn(100), torch.randn(100)
    torch.testing.assert_close(first(x, y), 2 * x + y)


def test_same_program_twice_hits_memory_cache():
    prim = axpy.get_tir(64)
    k1 = tiledsl.compile(prim, out_idx=[-1], target="llvm")
    hits = compiler.STATS["memory_hits"]
    k2 = tiledsl.compile(axpy.get_tir(64), out_idx=[-1], target="llvm")
    assert k1 is k2 and compiler.STATS["memory_hits"] == hits + 1
    k3 = tiledsl.compile(prim, out_idx=None, target="llvm")  # out_idx is part of the key
    assert k3 is not k1


_FRESH_PROCESS = textwrap.dedent("""
    import json, sys, time
    start = time.perf_counter()
    import torch, tiledsl
    import tiledsl.language as T
    from tiledsl.runtime import compiler
    imported = time.perf_counter()

    @tiledsl.jit(out_idx=[-1], target="llvm")
    def scale(N, block=16):
        @T.prim_func
        def kernel(X: T.Tensor((N,), "float32"), Y: T.Tensor((N,), "float32")):
            with T.Kernel(T.ceildiv(N, block)) as bx:
                for i in T.Parallel(block):
                    Y[bx * block + i] = X[bx * block + i] * 3.0
        return kernel

    k = scale(50)
    ready = time.perf_counter()
    x = torch.randn(50)
    ok = bool(torch.allclose(k(x), x * 3))
    print(json.dumps({"stats": compiler.STATS, "ok": ok, "after_import_s": ready - imported}))
""")


def _run_fresh(tmp_path, cache_dir):
    script = tmp_path / "fresh.py"
    script.write_text(_FRESH_PROCESS)
    env = dict(os.environ, TILEDSL_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_fresh_process_is_served_from_disk(tmp_path):
    cache_dir = tmp_path / "cache"
    first = _run_fresh(tmp_path, cache_dir)
    assert first["ok"] and first["stats"]["builds"] == 1 and first["stats"]["disk_hits"] == 0
    second = _run_fresh(tmp_path, cache_dir)
    assert second["ok"] and second["stats"]["builds"] == 0 and second["stats"]["disk_hits"] == 1


def test_disabled_disk_cache_builds_again(tmp_path, monkeypatch):
    monkeypatch.setenv("TILEDSL_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("TILEDSL_DISABLE_CACHE", "1")
    compiler.clear_memory_cache()
    builds = compiler.STATS["builds"]
    kernel = tiledsl.compile(axpy.get_tir(32, alpha=5.0), out_idx=[-1], target="llvm")
    assert compiler.STATS["builds"] == builds + 1
    assert not (tmp_path / "c" / "kernels").exists()
    x, y = torch.randn(32), torch.randn(32)
    torch.testing.assert_close(kernel(x, y), 5 * x + y)


def test_corrupt_entry_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("TILEDSL_CACHE_DIR", str(tmp_path))
    compiler.clear_memory_cache()
    prim = axpy.get_tir(48, alpha=7.0)
    kernel = tiledsl.compile(prim, out_idx=[-1], target="llvm")
    (kernel.artifact_dir / "meta.json").write_text("{ truncated")
    compiler.clear_memory_cache()
    builds = compiler.STATS["builds"]
    again = tiledsl.compile(prim, out_idx=[-1], target="llvm")
    assert compiler.STATS["builds"] == builds + 1
    x, y = torch.randn(48), torch.randn(48)
    torch.testing.assert_close(again(x, y), 7 * x + y)


def test_disk_store_first_writer_wins(tmp_path):
    store = DiskStore("t", root=tmp_path)
    key = content_key({"a": 1})
    first = store.put(key, lambda d: (d / "v").write_text("first"))
    second = store.put(key, lambda d: (d / "v").write_text("second"))
    assert first == second and (first / "v").read_text() == "first"
    assert not any((tmp_path / ".staging").iterdir())


def test_content_key_is_canonical():
    assert content_key({"a": 1, "b": [1, 2]}) == content_key({"b": [1, 2], "a": 1})
    assert content_key({"a": 1}) != content_key({"a": 2})


def test_kernel_save_and_load_round_trip(tmp_path):
    kernel = axpy(40, alpha=-1.0)
    folder = kernel.save(tmp_path / "saved")
    loaded = tiledsl.JITKernel.load(folder)
    x, y = torch.randn(40), torch.randn(40)
    torch.testing.assert_close(loaded(x, y), y - x)
    assert loaded.params == kernel.params and loaded.out_idx == kernel.out_idx


@pytest.mark.parametrize("arch", ["sm_80", "sm_90a"])
def test_key_depends_on_target(arch):
    import tvm
    prim = axpy.get_tir(16)
    keys = {compiler.kernel_key(prim, tvm.target.Target(t), [2], None, [])
            for t in ("llvm", {"kind": "cuda", "arch": arch})}
    assert len(keys) == 2


def test_key_depends_on_hopper_switch(monkeypatch):
    import tvm
    prim = axpy.get_tir(16)
    target = tvm.target.Target({"kind": "cuda", "arch": "sm_90a"})
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "0")
    on = compiler.kernel_key(prim, target, [2], None, [])
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "1")
    assert compiler.kernel_key(prim, target, [2], None, []) != on
