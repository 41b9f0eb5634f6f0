"""``tilelang.carver.arch``: the GPU a tile configuration is planned for.

``CUDA(target)`` describes an NVIDIA GPU by its limits (multiprocessors, shared memory per block, L2 size,
compute capability). They come from the visible GPU when there is one, otherwise from a table of known
architectures keyed by the target's ``arch`` (``CUDA({"kind": "cuda", "arch": "sm_90a"})`` plans for an H100/H200
on a machine without a GPU). ``CDNA`` (AMD) is not supported and raises ConfigError.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import TargetError
from . import _name

CDNA = _name("CDNA")


@dataclass(frozen=True)
class _Known:
    name: str
    sms: int
    smem_per_block: int  # bytes a block may opt into
    l2_bytes: int
    flops_per_byte: float  # dense fp16 tensor-core peak over DRAM bandwidth: where a tile stops being memory bound


#: Limits of known GPUs, by compute capability (the flagship part of each generation).
KNOWN_ARCHS = {
    80: _Known("NVIDIA A100", 108, 163 * 1024, 40 * 2 ** 20, 312e12 / 2.0e12),
    86: _Known("NVIDIA RTX A6000", 84, 99 * 1024, 6 * 2 ** 20, 155e12 / 0.77e12),
    89: _Known("NVIDIA L40S", 142, 99 * 1024, 96 * 2 ** 20, 362e12 / 0.86e12),
    90: _Known("NVIDIA H100", 132, 227 * 1024, 50 * 2 ** 20, 989e12 / 3.35e12),
}


class TensorInstruction:
    """A tensor-core instruction by name and its (M, N) tile."""

    def __init__(self, name: str, shape: list[int]):
        self.name, self.shape = name, list(shape)


def _sm_version(arch: str) -> int:
    match = re.match(r"^(?:sm_)?(\d+)[a-z]*$", str(arch))
    if not match:
        raise TargetError(f"carver: {arch!r} is not an NVIDIA architecture (sm_80, sm_90a, ...)")
    return int(match.group(1))


def _visible_gpu():
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_properties(0)


class CUDA:
    """An NVIDIA GPU's limits for tile planning: ``CUDA("cuda")`` (the visible GPU) or ``CUDA({"kind": "cuda",
    "arch": "sm_90a"})`` (that architecture, with or without a GPU)."""

    platform = "CUDA"
    warp_size = 32
    reg_cap = 65536
    sm_partition = 4
    transaction_size = [32, 128]  # bytes
    bandwidth = [750, 12080]  # TileLang's relative global / shared bandwidths

    def __init__(self, target="cuda"):
        arch = target.get("arch") if isinstance(target, dict) else None
        if arch is None and not isinstance(target, (str, dict)):  # a tvm.target.Target
            arch = target.attrs.get("arch") if "arch" in target.attrs else None
        gpu = _visible_gpu()
        if arch is None and gpu is None:
            raise TargetError("carver.arch.CUDA: no CUDA GPU is visible; name the architecture to plan for, e.g. "
                              "CUDA({'kind': 'cuda', 'arch': 'sm_90a'})")
        self.sm_version = _sm_version(arch) if arch is not None else gpu.major * 10 + gpu.minor
        known = KNOWN_ARCHS.get(self.sm_version) or KNOWN_ARCHS[max(v for v in KNOWN_ARCHS if v <= max(
            self.sm_version, 80))]
        use_gpu = gpu is not None and gpu.major * 10 + gpu.minor == self.sm_version
        self.target = target
        self.arch = arch or f"sm_{self.sm_version}"
        self.name = gpu.name if use_gpu else known.name
        self.compute_capability = str(self.sm_version)
        self.compute_max_core = gpu.multi_processor_count if use_gpu else known.sms
        self.smem_cap = known.smem_per_block
        self.max_smem_usage = 2 * self.smem_cap
        self.l2_cache_size_bytes = getattr(gpu, "L2_cache_size", known.l2_bytes) if use_gpu else known.l2_bytes
        self.flops_per_byte = known.flops_per_byte
        self.available_tensor_instructions = None

    def get_avaliable_tensorintrin_shapes(self):  # TileLang's spelling
        """The (M, N) tiles of the tensor-core instructions (mma.sync: 16 x 16)."""
        self.available_tensor_instructions = (TensorInstruction("mma", [16, 16]), TensorInstruction("wmma", [16, 16]))
        return [t.shape for t in self.available_tensor_instructions]

    def __repr__(self):
        return f"CUDA({self.arch}, {self.name}, {self.compute_max_core} SMs)"


def is_cuda_arch(arch) -> bool:
    """True for a CUDA architecture."""
    return isinstance(arch, CUDA)


def is_ampere_arch(arch) -> bool:
    """Compute capability 8.0 to 8.8."""
    return is_cuda_arch(arch) and 80 <= arch.sm_version < 89


def is_ada_arch(arch) -> bool:
    """Compute capability 8.9."""
    return is_cuda_arch(arch) and arch.sm_version == 89


def is_hopper_arch(arch) -> bool:
    """Compute capability 9.0."""
    return is_cuda_arch(arch) and arch.sm_version == 90


def has_mma_support(arch) -> bool:
    """mma.sync tensor cores (sm_80 and newer)."""
    return is_cuda_arch(arch) and arch.sm_version >= 80


def auto_infer_current_arch():
    """The visible GPU as a ``CUDA`` (TargetError without one)."""
    return CUDA("cuda")


class driver:  # noqa: N801 - TileLang's module name, used as ``driver.get_num_sms()``
    """``tilelang.carver.arch.driver``: device queries through torch."""

    @staticmethod
    def get_num_sms(device_id: int = 0) -> int:
        """Streaming multiprocessors of the GPU."""
        import torch

        return torch.cuda.get_device_properties(device_id).multi_processor_count
