"""Tensors on their way to a worker process: dtype name, shape and raw bytes.

Pickling a tensor is not reliable for every dtype (torch 2.11 fails on float8 CPU tensors: "UntypedStorage has no
attribute 'dtype'"), so ``set_autotune_inputs`` tensors travel as :class:`PackedTensor` and are rebuilt in the
worker, bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PackedTensor:
    """A tensor as (dtype name, shape, bytes)."""

    dtype: str
    shape: tuple
    data: bytes

    @staticmethod
    def pack(tensor) -> "PackedTensor":
        """The bytes of ``tensor`` (any device, any layout)."""
        import torch

        flat = tensor.detach().to("cpu").contiguous().reshape(-1)
        data = flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""
        return PackedTensor(str(tensor.dtype).removeprefix("torch."), tuple(tensor.shape), data)

    def unpack(self, device):
        """The tensor again, on ``device``."""
        import torch

        dtype = getattr(torch, self.dtype)
        if not self.data:
            return torch.empty(self.shape, dtype=dtype, device=device)
        raw = torch.frombuffer(bytearray(self.data), dtype=torch.uint8)
        return raw.view(dtype).reshape(self.shape).to(device)


def pack_inputs(values) -> list:
    """Tensors packed, anything else (scalars) as it is."""
    import torch

    return [PackedTensor.pack(v) if isinstance(v, torch.Tensor) else v for v in values]


def unpack_inputs(values, device) -> list:
    """The inverse of :func:`pack_inputs`, tensors placed on ``device``."""
    return [v.unpack(device) if isinstance(v, PackedTensor) else v for v in values]
