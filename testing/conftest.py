"""Shared test set-up: a private cache per test session, seeded inputs, and markers for GPU/nvcc tests."""
import os
import shutil

import pytest
import torch

os.environ.setdefault("TVM_BACKTRACE", "1")
os.environ.setdefault("TILEDSL_STRICT_SCHEDULES", "1")  # a schedule that breaks a build fails its test
# tests build small programs whose few-block grids the default (auto) split-K would rewrite: each test sees the
# program as written unless it asks for a split (test_split_k.py tests the default); TILEDSL_SPLIT_K=auto in the
# environment runs the whole suite split (on the GPU: every small-grid program's split checked against torch)
os.environ.setdefault("TILEDSL_SPLIT_K", "0")
# tests switch the whole-kernel Hopper shortcut with its older variable (TILEDSL_DISABLE_HOPPER_GEMM), which the
# newer one would override: the suite reads the older one only
os.environ.pop("TILEDSL_HOPPER_SHORTCUT", None)


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Every test session gets its own cache dir, so tests never read a developer's cache. The xdist workers of one
    session share it (the cache is content-addressed and safe for concurrent processes), so a kernel or cubin one
    worker built is not built again by the other."""
    if "TILEDSL_TEST_KEEP_CACHE_DIR" not in os.environ:
        base = tmp_path_factory.getbasetemp()
        if os.environ.get("PYTEST_XDIST_WORKER"):  # base is <session temp>/popen-gwN: share the session's folder
            base = base.parent
        folder = base / "tiledsl-cache"
        folder.mkdir(exist_ok=True)
        os.environ["TILEDSL_CACHE_DIR"] = str(folder)
    yield


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A private, empty cache for one test, with every tuning switch at its default and no tuning result in memory
    (tests of the tuner, of tiledsl.tune and of distributed tuning use it)."""
    import tiledsl

    d = tmp_path / "cache"
    monkeypatch.setenv("TILEDSL_CACHE_DIR", str(d))
    for name in ("TILEDSL_AUTO_TUNING_FORCE_RETUNE", "TILEDSL_AUTO_TUNING_DISABLE_CACHE", "TILEDSL_DISABLE_CACHE",
                 "TILEDSL_AUTOTUNE", "TILEDSL_TUNED_CONFIGS", "TILEDSL_PRINT_AUTOTUNING"):
        monkeypatch.delenv(name, raising=False)
    tiledsl.AutoTuner._memory.clear()
    tiledsl.tune.reset_autotune_switch()
    return d


@pytest.fixture
def general_passes_only(monkeypatch):
    """The whole-program Hopper matchers off: the program goes through the general passes (issue 9's tests). A test
    module asks for it with ``pytestmark = pytest.mark.usefixtures("general_passes_only")``."""
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "1")


@pytest.fixture
def hopper_shortcut(monkeypatch):
    """The whole-program Hopper matchers allowed to replace the programs they recognize (their own tests). A test
    module asks for it with ``pytestmark = pytest.mark.usefixtures("hopper_shortcut")``."""
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "0")


@pytest.fixture
def no_kernel_cache(monkeypatch):
    """Every build compiles afresh (tests that compare the code of one program under two switch settings)."""
    monkeypatch.setenv("TILEDSL_DISABLE_CACHE", "1")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# Test files that take longest (multi-process tuning, many nvcc builds), run first so that the two xdist workers of
# scripts/test.sh (each taking whole files) do not end on one long file while the other is idle.
_LONGEST_FIRST = ("test_distributed.py", "test_autotune.py", "test_tune_workflow.py", "test_wgmma.py",
                  "test_bench_general.py", "test_autotune_faults.py", "test_autotune_units.py", "test_differential.py",
                  "test_cuda_side_effects.py", "test_autotune_sources.py", "test_distributed_devices.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(_LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order kept otherwise
    has_gpu = torch.cuda.is_available()
    has_nvcc = shutil.which("nvcc") is not None or bool(os.environ.get("TILEDSL_NVCC"))
    for item in items:
        if "gpu" in item.keywords and not has_gpu:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))
        if "nvcc" in item.keywords and not has_nvcc:
            item.add_marker(pytest.mark.skip(reason="needs nvcc"))


def poisoned_like(t: torch.Tensor) -> torch.Tensor:
    """A tensor like ``t`` filled with NaN (or -123 for integers), so unwritten outputs are caught."""
    if t.dtype.is_floating_point:
        return torch.full_like(t, float("nan"))
    return torch.full_like(t, -123)
