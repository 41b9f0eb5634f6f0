"""Every example runs and checks itself against torch (on the CPU here; on the GPU where there is one)."""
import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SELF_CHECKING = ["gemm", "gemm_fp8", "elementwise_add", "softmax", "rmsnorm", "flash_attention"]


def _load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", SELF_CHECKING)
def test_example_runs_and_matches_torch(name, capsys):
    _load(name).main()
    assert "matches torch" in capsys.readouterr().out
