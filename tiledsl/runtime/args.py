"""Argument checking for kernel calls.

The compiled function checks its arguments itself (in C, cheaply); when it rejects a call, :func:`explain_rejection`
rebuilds the reason in terms of the user's parameters, so the fast path pays nothing for good messages.
"""
from __future__ import annotations

import torch

from ..errors import KernelArgumentError
from .params import KernelParam


def _describe_value(value) -> str:
    if isinstance(value, torch.Tensor):
        dims = ", ".join(str(s) for s in value.shape)
        layout = "" if value.is_contiguous() else ", not contiguous"
        return f"{str(value.dtype).replace('torch.', '')} tensor of shape ({dims}{',' if value.dim() == 1 else ''}) " \
               f"on {value.device}{layout}"
    return f"{type(value).__name__} {value!r}"


def check_arguments(params: list[KernelParam], values, device_type: str) -> None:
    """Raise KernelArgumentError naming the first parameter that ``values`` does not fit."""
    bound: dict[str, tuple[int, str]] = {}
    for position, (param, value) in enumerate(zip(params, values)):
        where = f"argument {position} ({param.name})"
        if not param.is_tensor:
            if isinstance(value, torch.Tensor):
                raise KernelArgumentError(f"{where}: expected a {param.dtype} scalar, got a tensor")
            continue
        if not isinstance(value, torch.Tensor):
            raise KernelArgumentError(f"{where}: expected a {param.describe()}, got {_describe_value(value)}")
        problems = []
        if value.dtype != param.torch_dtype:
            problems.append(f"dtype {str(value.dtype).replace('torch.', '')} instead of {param.dtype}")
        if value.dim() != len(param.shape):
            problems.append(f"{value.dim()} dimensions instead of {len(param.shape)}")
        else:
            for d, (want, got) in enumerate(zip(param.storage_shape, value.shape)):
                if isinstance(want, int):
                    if want != got:
                        problems.append(f"size {got} in dimension {d} instead of {want}")
                elif want in bound and bound[want][0] != got:
                    problems.append(f"size {got} in dimension {d}, but {want} = {bound[want][0]} from "
                                    f"{bound[want][1]}")
                else:
                    bound.setdefault(want, (got, param.name))
        if value.device.type != device_type:
            problems.append(f"device {value.device} instead of {device_type}")
        if not value.is_contiguous():
            problems.append("a non-contiguous layout (call .contiguous() first)")
        if problems:
            raise KernelArgumentError(f"{where}: expected a {param.describe()} on {device_type}, got "
                                      f"{_describe_value(value)}: " + "; ".join(problems))


def explain_rejection(params: list[KernelParam], values, device_type: str, error: Exception) -> Exception:
    """The KernelArgumentError for a call the compiled function rejected (or the original error)."""
    try:
        check_arguments(params, values, device_type)
    except KernelArgumentError as mine:
        mine.__cause__ = error
        return mine
    text = str(error).strip().splitlines()
    if "cuTensorMapEncode" in str(error) or "tensor_ptr) & 0b1111" in str(error):  # the driver's or TVM's check
        return _tma_rejection(params, values, text)
    if text and text[0].startswith(("Mismatched", "Misaligned")) or "when calling" in str(error):
        return KernelArgumentError(f"the kernel rejected its arguments: {' '.join(t.strip() for t in text[:3])}")
    return error


#: The start address the CUDA driver requires of a tensor loaded with TMA (cuTensorMapEncodeTiled, without
#: interleave): a view 16 bytes into its storage is accepted, one 8 bytes in is not (checked on the H200).
TMA_ADDRESS_ALIGNMENT = 16


def _tma_rejection(params: list[KernelParam], values, text: list[str]) -> KernelArgumentError:
    """The error for a call whose TMA descriptors (tensor maps, built by the host code from the arguments) the
    driver refused: name the tensor that starts at a misaligned address (a view into a larger tensor), if any."""
    for position, (param, value) in enumerate(zip(params, values)):
        if isinstance(value, torch.Tensor) and value.data_ptr() % TMA_ADDRESS_ALIGNMENT:
            return KernelArgumentError(
                f"argument {position} ({param.name}): its data starts at an address that is not "
                f"{TMA_ADDRESS_ALIGNMENT}-byte aligned (a view at storage offset {value.storage_offset()}); this "
                f"kernel loads it with TMA, which needs aligned tensors: pass a copy (.clone()), or compile the "
                f"kernel with TILEDSL_TMA=0")
    detail = " ".join(t.strip() for t in text[-3:])
    return KernelArgumentError(f"the CUDA driver refused the TMA descriptors built from this call's tensors "
                               f"({detail}); compile the kernel with TILEDSL_TMA=0 to load with cp.async")


def dynamic_size_error(param: KernelParam, position: int, shape, what: str = "argument") -> KernelArgumentError:
    """The error for a tensor whose dynamic sizes are 0 or too large for the kernel's indices."""
    sizes = ", ".join(f"{name} = {got}" for name, got in zip(param.shape, shape) if isinstance(name, str))
    numel = 1
    for got in shape:
        numel *= int(got)
    where = f"{what} {position} ({param.name})"
    if numel == 0:
        return KernelArgumentError(f"{where}: a {param.describe()} with {sizes} is empty; every size of a kernel's "
                                   f"tensor must be at least 1 (skip the call for empty inputs)")
    return KernelArgumentError(
        f"{where}: a {param.describe()} with {sizes} has {numel} elements, more than the {param.max_elements} "
        f"this kernel can index with 32-bit integers; split the work into smaller calls, or declare the size as "
        f"T.dynamic(name, \"int64\")")
