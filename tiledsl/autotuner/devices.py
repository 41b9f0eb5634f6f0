"""Which local devices get a benchmark worker (``benchmark_devices=``): one runner per device, all pulling built
candidates from one queue as they free up (``tuner._Run._build_and_bench``), so N GPUs measure about N times
faster, and a candidate that hangs or crashes one device's worker costs that candidate only (the worker is
replaced; the other devices go on).

``expand_devices`` turns the user's spelling into a list the tuner checks: ``"all"`` is every visible GPU for a
CUDA target; for the CPU target ``"all"`` is one runner and an integer ``n`` (or ``["cpu"] * n``) is n runner
processes on the CPU, which is how the several-device path is exercised on machines without a GPU.
"""
from __future__ import annotations

from ..errors import ConfigError


def expand_devices(devices, kind: str):
    """``devices`` with ``"all"`` and a CPU runner count spelled out; anything else is returned unchanged."""
    if isinstance(devices, str) and devices == "all":
        if kind != "cuda":
            return ["cpu"]
        import torch

        n = torch.cuda.device_count()
        if n == 0:
            raise ConfigError("benchmark_devices='all': no GPU is visible (check CUDA_VISIBLE_DEVICES)")
        return [f"cuda:{i}" for i in range(n)]
    if kind != "cuda" and isinstance(devices, int) and not isinstance(devices, bool):
        if devices < 1:
            raise ConfigError(f"benchmark_devices={devices}: the number of CPU runners must be at least 1")
        return ["cpu"] * devices
    return devices
