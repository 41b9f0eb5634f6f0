"""Input tensors for profiling and tuning: ``TensorSupplyType`` and the tensors it makes for a kernel's inputs."""
from __future__ import annotations

import enum

import torch

from ..errors import ConfigError
from ..runtime.params import KernelParam


class TensorSupplyType(enum.Enum):
    """How input tensors are filled (TileLang's names).

    Auto: floats uniform in [-1, 1), signed ints in [-2, 3), unsigned in [0, 3), bool {0, 1}, fp8 from ints;
    Integer: ints in [-2, 3) (cast to the dtype); Uniform: [-1, 1); Normal and Randn: standard normal;
    Zero and One: constants.
    """

    Auto = 0
    Integer = 1
    Uniform = 2
    Normal = 3
    Randn = 4
    Zero = 5
    One = 6


def coerce_supply_type(value) -> TensorSupplyType:
    """A TensorSupplyType from the enum itself or its name ("Auto", "randn", ...)."""
    if isinstance(value, TensorSupplyType):
        return value
    if isinstance(value, str):
        for member in TensorSupplyType:
            if member.name.lower() == value.lower():
                return member
    raise ConfigError(f"supply_type={value!r} is not one of {[m.name for m in TensorSupplyType]}")


def _is_float(dtype: torch.dtype) -> bool:
    return dtype.is_floating_point


def _is_fp8(dtype: torch.dtype) -> bool:
    return "float8" in str(dtype)


def make_tensor(param: KernelParam, supply: TensorSupplyType, device, generator: torch.Generator | None = None):
    """A tensor for ``param`` (whose shape must be static) filled as ``supply`` says."""
    if not param.is_tensor:
        raise ConfigError(f"parameter {param.name} is a {param.dtype} scalar: tuning cannot invent scalars; pass "
                          f"the inputs with tiledsl.set_autotune_inputs(...) or a supply_prog")
    if any(not isinstance(d, int) for d in param.shape):
        raise ConfigError(f"parameter {param.name} has a symbolic shape {param.describe()}: pass concrete inputs "
                          f"with tiledsl.set_autotune_inputs(...) or a supply_prog")
    shape, dtype = tuple(param.storage_shape), param.torch_dtype
    kw = dict(device=device)
    if supply is TensorSupplyType.Zero:
        return torch.zeros(shape, dtype=dtype, **kw)
    if supply is TensorSupplyType.One:
        return torch.full(shape, 0x11 if param.packed else 1, dtype=dtype, **kw)  # packed: 1 in both nibbles
    gen = dict(generator=generator) if generator is not None else {}
    if param.packed:  # 4-bit values two per byte: any byte holds two valid values
        low, high = (0, 256) if dtype == torch.uint8 else (-128, 128)
        return torch.randint(low, high, shape, **kw, **gen).to(dtype)
    if dtype == torch.bool:
        return torch.randint(0, 2, shape, **kw, **gen).bool()
    if _is_fp8(dtype):
        return torch.randint(-128, 128, shape, **kw, **gen).to(torch.float32).div_(16).to(dtype)
    if supply is TensorSupplyType.Integer or (supply is TensorSupplyType.Auto and not _is_float(dtype)):
        low, high = (0, 3) if dtype in (torch.uint8,) else (-2, 3)
        return torch.randint(low, high, shape, **kw, **gen).to(dtype)
    if supply in (TensorSupplyType.Normal, TensorSupplyType.Randn):
        return torch.randn(shape, dtype=torch.float32, **kw, **gen).to(dtype)
    # Auto (floats) and Uniform
    return torch.rand(shape, dtype=torch.float32, **kw, **gen).mul_(2).sub_(1).to(dtype)


def make_inputs(params: list[KernelParam], supply, device, seed: int = 0) -> list:
    """Tensors for every parameter in ``params`` (a kernel's ``input_params``), reproducible from ``seed``."""
    supply = coerce_supply_type(supply)
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return [make_tensor(p, supply, device, generator) for p in params]
