"""The repository's examples (``examples/<name>.py``) loaded as modules, for the tests and the benchmark programs."""
from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name: str, module_name: str | None = None):
    """Run ``examples/<name>.py`` as a fresh module named ``module_name`` (default ``example_<name>``)."""
    spec = importlib.util.spec_from_file_location(module_name or f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
