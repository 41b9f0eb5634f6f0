"""Fault injection into the kernel cache, the cubin cache and kernel calls (CPU target).

Each test damages something for real (truncates, flips or replaces files, puts a file where a folder belongs,
changes permissions, kills a writer with SIGKILL, passes sizes beyond 32-bit indices) and checks that the caller's
process survives, the answer is right (compared with torch on fresh inputs, outputs poisoned with NaN) and the
problem is explained. Damaged libraries are never loaded into the test process: the cache is filled by a separate
process, so truncating a file this process has mapped cannot kill the test run.
"""
import json
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import tiledsl
import tiledsl.language as T
from tiledsl.cache import folders
from tiledsl.codegen import artifact
from tiledsl.runtime import compiler

from conftest import poisoned_like

SIZE = 96


def _scale_program(n, factor):
    @T.prim_func
    def kernel(X: T.Tensor((n,), "float32"), Y: T.Tensor((n,), "float32")):
        with T.Kernel(T.ceildiv(n, 32)) as bx:
            for i in T.Parallel(32):
                Y[bx * 32 + i] = X[bx * 32 + i] * factor
    return kernel


# The cache writer: builds two kernels (factor 3 and factor 5) under umask 000, as a user with a careless umask
# would, and optionally kills itself with SIGKILL in the middle of writing an entry.
_WRITER = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {testing!r})
    os.umask(0)
    import tiledsl
    from tiledsl.codegen import artifact
    from test_faults import _scale_program, SIZE
    if sys.argv[1] == "kill-mid-write":
        def die(path):  # the library and source are written, the metadata not yet
            os.kill(os.getpid(), signal.SIGKILL)
        artifact.file_sha256 = die
    for factor in (3.0, 5.0):
        tiledsl.compile(_scale_program(SIZE, factor), target="llvm")
""")


def _write_cache(cache_dir: Path, mode: str = "normal") -> subprocess.CompletedProcess:
    env = dict(os.environ, TILEDSL_CACHE_DIR=str(cache_dir))
    env.pop("TILEDSL_TMP_DIR", None)
    return subprocess.run([sys.executable, "-c", _WRITER.format(testing=str(Path(__file__).parent)), mode],
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def filled_cache(tmp_path_factory) -> Path:
    """A cache folder holding the two kernels, written by another process under umask 000."""
    cache = tmp_path_factory.mktemp("filled") / "cache"
    out = _write_cache(cache)
    assert out.returncode == 0, out.stderr
    return cache


def _entries(cache: Path) -> dict[float, Path]:
    """The kernel entries of a cache copy by their factor (read from the kept source)."""
    found = {}
    for meta in (cache / "kernels").glob("*/*/meta.json"):
        text = (meta.parent / artifact.SOURCE).read_text()
        found[5.0 if "5.0" in text or "5.f" in text else 3.0] = meta.parent
    assert len(found) == 2, found
    return found


@pytest.fixture
def cache_copy(filled_cache, tmp_path, monkeypatch) -> Path:
    """A private copy of the filled cache, used by this test's compiles."""
    cache = tmp_path / "cache"
    shutil.copytree(filled_cache, cache, symlinks=True)
    monkeypatch.setenv("TILEDSL_CACHE_DIR", str(cache))
    compiler.clear_memory_cache()
    yield cache
    compiler.clear_memory_cache()


def _run_scale(factor=3.0):
    """Compile the factor kernel through the cache; check it against torch; return (builds, disk_hits)."""
    before = dict(compiler.STATS)
    kernel = tiledsl.compile(_scale_program(SIZE, factor), target="llvm")
    x = torch.randn(SIZE, dtype=torch.float64).float() + 0.5
    y = poisoned_like(x)
    kernel(x, y)
    torch.testing.assert_close(y.double(), x.double() * factor, rtol=1e-6, atol=1e-6)
    return compiler.STATS["builds"] - before["builds"], compiler.STATS["disk_hits"] - before["disk_hits"]


def test_intact_cache_is_a_disk_hit(cache_copy):
    assert _run_scale() == (0, 1)


def _truncate(path: Path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip(path: Path):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    for i in range(middle, middle + 64):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _replace_with_other(path: Path, other: Path):
    shutil.copyfile(other, path)


@pytest.mark.parametrize("damage", ["truncate-library", "flip-library", "replace-library", "library-is-folder",
                                    "truncate-source", "truncate-meta", "flip-meta-entry", "delete-library"])
def test_damaged_entry_is_rebuilt(cache_copy, damage, caplog):
    entries = _entries(cache_copy)
    entry, other = entries[3.0], entries[5.0]
    lib = entry / artifact.LIBRARY
    if damage == "truncate-library":
        _truncate(lib)
    elif damage == "flip-library":
        _flip(lib)
    elif damage == "replace-library":  # another valid kernel's library: would silently compute x * 5
        _replace_with_other(lib, other / artifact.LIBRARY)
    elif damage == "library-is-folder":
        lib.unlink()
        lib.mkdir()
    elif damage == "truncate-source":
        _truncate(entry / artifact.SOURCE)
    elif damage == "truncate-meta":
        _truncate(entry / artifact.META)
    elif damage == "flip-meta-entry":  # valid JSON, wrong content
        meta = json.loads((entry / artifact.META).read_text())
        meta["entry"] = "other"
        (entry / artifact.META).write_text(json.dumps(meta))
    elif damage == "delete-library":
        lib.unlink()
    with caplog.at_level(logging.WARNING, logger="tiledsl"):
        assert _run_scale(3.0) == (1, 0)
    assert any("rebuilding the kernel" in r.getMessage() for r in caplog.records)
    assert _run_scale(5.0) == (0, 1)  # the other entry is untouched
    compiler.clear_memory_cache()
    assert _run_scale(3.0) == (0, 1)  # the rebuilt entry is whole


@pytest.mark.slow
def test_truncated_library_would_kill_an_unchecked_loader(cache_copy):
    """The fault is real: TVM's load_module on the truncated library kills its process with SIGBUS here (so the
    check matters), while JITKernel.load refuses the folder with an error."""
    lib = _entries(cache_copy)[3.0] / artifact.LIBRARY
    _truncate(lib)
    probe = "import sys, tvm; f = tvm.runtime.load_module(sys.argv[1])['kernel']; print('loaded')"
    out = subprocess.run([sys.executable, "-c", probe, str(lib)], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "loaded" not in out.stdout
    with pytest.raises(tiledsl.TileDSLError, match="sha256"):
        tiledsl.JITKernel.load(lib.parent)


def test_unknown_format_is_rebuilt(cache_copy, caplog):
    entry = _entries(cache_copy)[3.0]
    meta = json.loads((entry / artifact.META).read_text())
    meta["format"] = 99
    (entry / artifact.META).write_text(json.dumps(meta))
    with caplog.at_level(logging.WARNING, logger="tiledsl"):
        assert _run_scale(3.0) == (1, 0)
    assert any("format 99" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("where", ["entry", "prefix", "store"])
def test_file_where_a_folder_belongs_is_replaced(cache_copy, where, caplog):
    entry = _entries(cache_copy)[3.0]
    target = {"entry": entry, "prefix": entry.parent, "store": cache_copy / "kernels"}[where]
    shutil.rmtree(target)
    target.write_text("not a folder")
    with caplog.at_level(logging.WARNING, logger="tiledsl"):
        assert _run_scale(3.0) == (1, 0)
    assert target.is_dir()
    assert any("a folder belongs there" in r.getMessage() for r in caplog.records)


def test_saved_kernel_that_was_modified_is_refused(cache_copy, tmp_path):
    kernel = tiledsl.compile(_scale_program(SIZE, 3.0), target="llvm")
    saved = kernel.save(tmp_path / "saved")
    assert sorted(p.name for p in saved.iterdir()) == sorted([artifact.LIBRARY, artifact.SOURCE, artifact.META])
    _replace_with_other(saved / artifact.LIBRARY, _entries(cache_copy)[5.0] / artifact.LIBRARY)
    with pytest.raises(tiledsl.TileDSLError, match=r"kernel\.so does not match the sha256"):
        tiledsl.JITKernel.load(saved)


def test_cache_is_private_under_umask_000(filled_cache):
    """The writer ran under umask 000: every folder is still 0700, libraries 0700 and other files 0600."""
    assert stat.S_IMODE(filled_cache.stat().st_mode) == 0o700
    for path in filled_cache.rglob("*"):
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_dir():
            assert mode == 0o700, path
        elif path.suffix == ".so":
            assert mode == 0o700, path
        else:
            assert mode == 0o600, path


def test_writer_killed_mid_write_leaves_no_entry(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    out = _write_cache(cache, "kill-mid-write")
    assert out.returncode == -signal.SIGKILL
    assert not list((cache / "kernels").glob("*/*/meta.json"))  # nothing half-written is visible
    leftovers = list((cache / "kernels" / ".staging").iterdir())
    assert leftovers  # the killed writer's staging folder
    monkeypatch.setenv("TILEDSL_CACHE_DIR", str(cache))
    compiler.clear_memory_cache()
    for old in leftovers:
        os.utime(old, (time.time() - 2 * folders.STALE_SECONDS,) * 2)
    assert _run_scale(3.0) == (1, 0)
    assert not any(p in leftovers for p in (cache / "kernels" / ".staging").iterdir())  # stale staging removed
    compiler.clear_memory_cache()
    assert _run_scale(3.0) == (0, 1)


# ---------------------------------------------------------------------------------------------- cache folders
def _fresh_program():
    """A program no other test compiles, so compile() reaches the disk cache."""
    return _scale_program(SIZE, 7.0 + time.time_ns() % 1000)


def test_world_writable_cache_root_is_refused(tmp_path, monkeypatch):
    root = tmp_path / "shared"
    root.mkdir()
    root.chmod(0o777)
    monkeypatch.setenv("TILEDSL_CACHE_DIR", str(root))
    with pytest.raises(tiledsl.CacheFolderError, match=rf"{root}.*every user.*TILEDSL_CACHE_DIR"):
        tiledsl.compile(_fresh_program(), target="llvm")
    assert not any(root.iterdir())


def test_cache_root_of_another_user_is_refused(tmp_path, monkeypatch):
    if os.getuid() == 0:
        root = tmp_path / "theirs"
        root.mkdir(mode=0o700)
        os.chown(root, 65534, 65534)
    else:
        root = Path("/usr")  # owned by root
    monkeypatch.setenv("TILEDSL_CACHE_DIR", str(root))
    with pytest.raises(tiledsl.CacheFolderError, match=rf"{root}.*another user.*TILEDSL_CACHE_DIR"):
        tiledsl.compile(_fresh_program(), target="llvm")


def _unwritable_folder(tmp_path: Path) -> Path:
    """A cache path that cannot be created: under a regular file (works as root too)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    return blocker / "cache"


def test_unwritable_cache_falls_back_to_a_private_temporary_folder(tmp_path, monkeypatch, caplog):
    root = _unwritable_folder(tmp_path)
    monkeypatch.setenv("TILEDSL_CACHE_DIR", str(root))
    monkeypatch.delenv("TILEDSL_TMP_DIR", raising=False)
    compiler.clear_memory_cache()
    with caplog.at_level(logging.WARNING, logger="tiledsl"):
        assert _run_scale(3.0) == (1, 0)
    assert any("TILEDSL_CACHE_DIR" in r.getMessage() and "private temporary folder" in r.getMessage()
               for r in caplog.records)


@pytest.mark.skipif(os.getuid() == 0, reason="root writes through folder permissions")
def test_read_only_cache_folder_falls_back(tmp_path, monkeypatch, caplog):
    root = tmp_path / "ro"
    root.mkdir(mode=0o500)
    monkeypatch.setenv("TILEDSL_CACHE_DIR", str(root))
    compiler.clear_memory_cache()
    with caplog.at_level(logging.WARNING, logger="tiledsl"):
        assert _run_scale(3.0) == (1, 0)
    assert any("TILEDSL_CACHE_DIR" in r.getMessage() for r in caplog.records)


def test_disabled_cache_never_touches_the_cache_folder(tmp_path, monkeypatch):
    root = tmp_path / "shared"
    root.mkdir()
    root.chmod(0o777)  # would be refused if it were used at all
    monkeypatch.setenv("TILEDSL_CACHE_DIR", str(root))
    monkeypatch.setenv("TILEDSL_DISABLE_CACHE", "1")
    monkeypatch.delenv("TILEDSL_TMP_DIR", raising=False)
    compiler.clear_memory_cache()
    assert _run_scale(3.0) == (1, 0)
    assert not any(root.iterdir())


def test_build_scratch_goes_to_tiledsl_tmp_dir_and_is_removed(tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    monkeypatch.setenv("TILEDSL_TMP_DIR", str(scratch))
    monkeypatch.setenv("TILEDSL_DISABLE_CACHE", "1")
    scratch.mkdir()
    stale = scratch / "tiledsl-export-1-old"
    stale.mkdir()
    os.utime(stale, (time.time() - 2 * folders.STALE_SECONDS,) * 2)
    compiler.clear_memory_cache()
    assert _run_scale(3.0) == (1, 0)
    names = [p.name for p in scratch.iterdir()]
    assert not any(n.startswith("tiledsl-export-") for n in names), names  # ours removed, the stale one too
    assert any(n.startswith("kernel-") for n in names)  # the uncached kernel lives there until exit


def test_world_writable_tmp_dir_gets_a_private_subfolder(tmp_path, monkeypatch):
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setenv("TILEDSL_TMP_DIR", str(shared))
    got = tiledsl.config.tmp_dir()
    assert got.parent == shared and got.name == f"tiledsl-{os.getuid()}"
    assert stat.S_IMODE(got.stat().st_mode) == 0o700


# ---------------------------------------------------------------------------------------------- cubin cache
_CUDA_SOURCE = 'extern "C" __global__ void add_one(float* x) { x[threadIdx.x] += 1.0f; }\n'


@pytest.mark.nvcc
@pytest.mark.parametrize("damage", ["truncate", "no-digest"])
def test_damaged_cached_cubin_is_rebuilt(tmp_path, monkeypatch, caplog, damage):
    from tiledsl.codegen import nvcc

    monkeypatch.setenv("TILEDSL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TILEDSL_TMP_DIR", str(tmp_path / "scratch"))
    first = nvcc.compile_cubin(_CUDA_SOURCE, "sm_80")
    entry = nvcc.cubin_store().get(nvcc.cubin_key(_CUDA_SOURCE, "sm_80"))
    if damage == "truncate":
        _truncate(entry / nvcc.CUBIN)
    else:  # an entry of the old format (no recorded sha256)
        (entry / nvcc.DIGEST).unlink()
    with caplog.at_level(logging.WARNING, logger="tiledsl"):
        again = nvcc.compile_cubin(_CUDA_SOURCE, "sm_80")
    assert again == first
    assert any("rebuilding the cubin" in r.getMessage() for r in caplog.records)
    assert nvcc.compile_cubin(_CUDA_SOURCE, "sm_80") == first
    assert not list((tmp_path / "scratch").glob("tiledsl-nvcc-*"))  # nvcc's scratch folders are removed


# ---------------------------------------------------------------------------------------------- dynamic sizes
@tiledsl.jit(out_idx=[-1], target="llvm")
def dynamic_scale(block=32, index_dtype="int32"):
    N = T.dynamic("N", index_dtype)

    @T.prim_func
    def kernel(X: T.Tensor((N,), "float32"), Y: T.Tensor((N,), "float32")):
        with T.Kernel(T.ceildiv(N, block)) as bx:
            for i in T.Parallel(block):
                if bx * block + i < N:
                    Y[bx * block + i] = X[bx * block + i] * 2.0
    return kernel


@tiledsl.jit(target="llvm")
def dynamic_rows(block=32):
    M = T.dynamic("M")

    @T.prim_func
    def kernel(X: T.Tensor((M, 4096), "float32"), Y: T.Tensor((M, 4096), "float32")):
        with T.Kernel(T.ceildiv(M, block)) as bx:
            for i, j in T.Parallel(block, 4096):
                if bx * block + i < M:
                    Y[bx * block + i, j] = X[bx * block + i, j] + 1.0
    return kernel


@pytest.mark.parametrize("n", [2**31 + 1024, 2**32 + 1024, 2**31 - 1])
def test_dynamic_size_beyond_32_bit_indices_is_refused(n):
    kernel = dynamic_scale()
    huge = torch.zeros(1).expand(n)  # n elements of view, 4 bytes of memory
    with pytest.raises(tiledsl.KernelArgumentError, match=rf"argument 0 \(X\).*N = {n}.*32-bit"):
        kernel(huge)


def test_derived_extent_beyond_32_bit_indices_is_refused():
    rows = 2**31 // 4096 + 1  # each size fits in int32, the flattened index (rows * 4096) does not
    x = torch.zeros(1, 1).expand(rows, 4096)
    with pytest.raises(tiledsl.KernelArgumentError, match=r"argument 0 \(X\).*M = 524289.*elements"):
        dynamic_rows()(x, x)


def test_dynamic_size_zero_is_explained():
    with pytest.raises(tiledsl.KernelArgumentError, match=r"argument 0 \(X\).*N = 0 is empty"):
        dynamic_scale()(torch.zeros(0))


@pytest.mark.parametrize("index_dtype", ["int32", "int64"])
def test_dynamic_sizes_in_range_still_compute(index_dtype):
    kernel = dynamic_scale(index_dtype=index_dtype)
    for n in (1, 33, 1000):
        x = torch.randn(n) + 0.5
        torch.testing.assert_close(kernel(x).double(), x.double() * 2)


def test_int64_dynamic_size_is_not_limited_to_32_bits():
    kernel = dynamic_scale(index_dtype="int64")
    huge = torch.zeros(1).expand(2**31 + 1024)
    with pytest.raises(tiledsl.KernelArgumentError, match="non-contiguous"):  # the size passes our check
        kernel(huge)


def test_artifact_problem_for_recorded_trials(cache_copy, tmp_path):
    from tiledsl.runtime.loader import artifact_problem

    entries = _entries(cache_copy)
    store_root = compiler.kernel_store().root
    assert artifact_problem(entries[3.0], inside=store_root) is None
    outside = shutil.copytree(entries[3.0], tmp_path / "elsewhere")
    assert "outside" in artifact_problem(outside, inside=store_root)
    assert artifact_problem(outside) is None
    _flip(entries[5.0] / artifact.LIBRARY)
    assert "sha256" in artifact_problem(entries[5.0], inside=store_root)


def test_private_temporary_folder_of_a_killed_process_is_removed(tmp_path, monkeypatch):
    """A process killed with SIGKILL leaves its private temporary folder; the next process removes it."""
    monkeypatch.setattr(folders.tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(folders, "_process_dir", None)
    dead = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead.kill()
    dead.wait()
    left = tmp_path / f"tiledsl-{dead.pid}-abc"
    alive = tmp_path / f"tiledsl-{os.getpid()}-def"
    for folder in (left, alive):
        folder.mkdir()
        (folder / "kernel.so").write_bytes(b"x")
        os.utime(folder, (time.time() - 2 * folders.STALE_SECONDS,) * 2)
    mine = folders.process_temp_dir()
    assert mine.parent == tmp_path and not left.exists() and alive.exists()
    folders._remove_process_dir()
    assert not mine.exists()
