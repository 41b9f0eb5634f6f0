"""Launch a JITKernel with outputs allocated once, so timing measures the kernel and not the allocator.

``bind(kernel, inputs)`` returns ``(run, outputs)``: ``run()`` launches with the same output tensors every time.
Outputs are filled with NaN (floats) or a sentinel (ints) first, so a kernel that forgets to write part of its
output cannot pass a check by finding a previous run's result in recycled memory.
"""
from __future__ import annotations

import torch

from ..runtime.args import check_arguments


def _poison(t: torch.Tensor) -> torch.Tensor:
    if t.dtype.is_floating_point:
        if "float8" in str(t.dtype):
            return t.zero_()
        return t.fill_(float("nan"))
    if t.dtype == torch.bool:
        return t.fill_(True)
    return t.fill_(-7 if t.dtype.is_signed else 7)


def output_tensors(kernel, inputs, poison: bool = True) -> list[torch.Tensor]:
    """Fresh output tensors for ``kernel(*inputs)``, poisoned unless ``poison`` is False. A workspace the kernel
    keeps zeroed between calls (split-K's counters) is the kernel's own and never poisoned: its counts would be
    wrong for every later call."""
    outs = kernel._allocate_outputs(list(inputs))  # noqa: SLF001 - same package, shape rules live there
    kept = [kernel.params[plan.param_index].zeroed for plan in kernel._plans]  # noqa: SLF001
    return [o if keep or not poison else _poison(o) for o, keep in zip(outs, kept)]


def bind(kernel, inputs, poison: bool = True):
    """``(run, outputs)`` where ``run()`` launches ``kernel`` on ``inputs`` writing into ``outputs`` (its
    ``T.alloc_global`` workspaces are allocated and poisoned too, but not among ``outputs``)."""
    inputs = list(inputs)
    check_arguments(kernel.input_params, inputs, kernel._device_type)  # noqa: SLF001
    outs = output_tensors(kernel, inputs, poison)
    values = list(inputs)
    for plan, out in zip(kernel._plans, outs):  # noqa: SLF001
        values.insert(plan.param_index, out)
    function = kernel._function  # noqa: SLF001
    if function is None:
        kernel(*inputs)  # raises the kernel's own "cannot run here" error

    def run():
        function(*values)

    return run, [outs[k] for k in kernel._returned]  # noqa: SLF001
