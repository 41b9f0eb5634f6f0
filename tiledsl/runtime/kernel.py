"""JITKernel: a compiled kernel called with torch tensors."""
from __future__ import annotations

from pathlib import Path

import torch

from ..codegen import artifact
from ..errors import KernelArgumentError, TargetError
from .args import check_arguments, dynamic_size_error, explain_rejection
from .params import KernelParam, plan_outputs


class JITKernel:
    """A compiled kernel. ``kernel(*inputs)`` runs it; the parameters named by ``out_idx`` are allocated and
    returned (one tensor, or a list for several), the others are passed in order."""

    def __init__(self, function, meta: artifact.ArtifactMeta, source: str, prim_func=None, folder: Path | None = None,
                 not_runnable_reason: str | None = None):
        self.params: list[KernelParam] = [KernelParam.from_json(p) for p in meta.params]
        self.out_idx: list[int] = list(meta.out_idx)
        self.target: str = meta.target
        self.target_kind: str = meta.target_kind
        self.entry: str = meta.entry
        #: how it was built: {"path": "hopper_gemm" | "hopper_attention" | "generic", the parameters the kernel really
        #: uses (a Hopper kernel's block_K / num_stages may differ from the program's), the SM count it assumes, ...}
        self.kernel_info: dict = dict(meta.kernel_info)
        self.prim_func = prim_func
        self.artifact_dir = Path(folder) if folder is not None else None
        self._meta = meta
        self._source = source
        self._function = function
        self._not_runnable = not_runnable_reason
        self._device_type = "cpu" if self.target_kind == "llvm" else "cuda"
        self._input_positions = [i for i in range(len(self.params))
                                 if i not in self.out_idx and not self.params[i].workspace]
        self._plans = plan_outputs(self.params, self.out_idx)  # outputs and T.alloc_global workspaces
        self._zeroed: dict = {}  # (parameter, device, stream) -> a workspace kept zeroed between calls
        self._returned = [k for k, plan in enumerate(self._plans) if plan.param_index in self.out_idx]
        self._first_tensor_input = next((k for k, i in enumerate(self._input_positions)
                                         if self.params[i].is_tensor), None)
        # the common case, one output of static shape after all inputs (out_idx=-1), takes a short path in __call__:
        # (position of the first tensor input, shape, dtype)
        only = self._plans[0] if len(self._plans) == 1 else None
        self._fast_output = (self._first_tensor_input, tuple(only.dims), only.dtype) if (
            only is not None and only.param_index == len(self.params) - 1 and only.param_index in self.out_idx and
            function is not None and
            all(isinstance(d, int) for d in only.dims) and self._first_tensor_input is not None) else None
        self._n_inputs = len(self._input_positions)
        # inputs with T.dynamic sizes, checked on each call (TVM binds a size to an int32 and would truncate it):
        # (position among the inputs, most elements allowed)
        self._sized_inputs = tuple((k, self.params[i].max_elements) for k, i in enumerate(self._input_positions)
                                   if self.params[i].has_dynamic_size)
        # tuning results, set by the autotuner
        self.latency = None
        self.config = None
        self.ref_latency = None

    # ------------------------------------------------------------------ calling
    def __call__(self, *inputs):
        if self._sized_inputs:  # inline, not a method: this runs on every call (about 0.2 us per tensor)
            try:
                for k, limit in self._sized_inputs:
                    numel = inputs[k].numel()
                    if numel == 0 or numel > limit:
                        self._refuse_size(inputs, k)
            except (AttributeError, IndexError):  # not a tensor, or too few inputs: explained on the usual path
                pass
        fast = self._fast_output
        if fast is not None and len(inputs) == self._n_inputs:
            first = inputs[fast[0]]
            if isinstance(first, torch.Tensor):
                out = first.new_empty(fast[1], dtype=fast[2])  # on first's device; the cheapest torch allocation
                self._run((*inputs, out))
                return out
        if len(inputs) != len(self._input_positions):
            raise KernelArgumentError(self._arity_message(len(inputs)))
        if self._function is None:
            raise TargetError(f"kernel {self.entry} was built for {self.short_target} and cannot run here: "
                              f"{self._not_runnable}")
        if not self._plans:
            self._run(inputs)
            return None
        allocated = self._allocate_outputs(inputs)
        values = list(inputs)
        for plan, out in zip(self._plans, allocated):
            values.insert(plan.param_index, out)
        self._run(values)
        outputs = [allocated[k] for k in self._returned]
        if not outputs:
            return None
        return outputs[0] if len(outputs) == 1 else outputs

    def _refuse_size(self, inputs, k: int):
        """Raise for an input whose dynamic sizes are 0 or too large for the kernel's 32-bit indices (TVM would
        truncate the size to int32 and return at once, or compute part of the output)."""
        i = self._input_positions[k]
        raise dynamic_size_error(self.params[i], i, inputs[k].shape)

    def _run(self, values):
        """Call the compiled function; it checks its own arguments, and a rejection is explained by parameter."""
        try:
            self._function(*values)
        except Exception as err:
            raise explain_rejection(self.params, values, self._device_type, err) from None

    def _allocate_outputs(self, inputs) -> list[torch.Tensor]:
        device = self._output_device(inputs)
        outs = []
        for plan in self._plans:
            shape = []
            for d in plan.dims:
                if isinstance(d, int):
                    shape.append(d)
                else:
                    source = inputs[d[0]]
                    if not isinstance(source, torch.Tensor) or source.dim() <= d[1]:
                        check_arguments(self.input_params, inputs, self._device_type)
                    shape.append(source.shape[d[1]])
            param = self.params[plan.param_index]
            numel = 1
            for size in shape:
                numel *= int(size)
            if param.has_dynamic_size and not 0 < numel <= param.max_elements:
                raise dynamic_size_error(param, plan.param_index, shape, what="output")
            if param.zeroed:
                outs.append(self._zeroed_workspace(plan.param_index, shape, plan.dtype, device))
            else:
                outs.append(torch.empty(shape, dtype=plan.dtype, device=device))
        return outs

    def _zeroed_workspace(self, index: int, shape, dtype, device) -> torch.Tensor:
        """A workspace the kernel leaves zero (split-K's per-tile counters): allocated zeroed once per device and
        CUDA stream, then reused; launches on one stream run one after the other, so none sees another's counts."""
        device = torch.device(device)
        stream = torch.cuda.current_stream(device).cuda_stream if device.type == "cuda" else 0
        key = (index, str(device), stream)
        found = self._zeroed.get(key)
        if found is None:
            found = self._zeroed.setdefault(key, torch.zeros(shape, dtype=dtype, device=device))
        return found

    def _output_device(self, inputs):
        if self._first_tensor_input is not None:
            first = inputs[self._first_tensor_input]
            if isinstance(first, torch.Tensor):
                return first.device
        return torch.device("cuda", torch.cuda.current_device()) if self._device_type == "cuda" else "cpu"

    def _arity_message(self, given: int) -> str:
        names = [self.params[i].name for i in self._input_positions]
        outs = [self.params[i].name for i in self.out_idx]
        msg = f"kernel {self.entry} takes {len(names)} inputs ({', '.join(names)}) but got {given}"
        if outs:
            msg += f"; {', '.join(outs)} {'is an output' if len(outs) == 1 else 'are outputs'} (out_idx) and is " \
                   f"allocated for you"
        return msg

    # ------------------------------------------------------------------ inspection
    def get_profiler(self, tensor_supply_type=None):
        """A Profiler (TileLang's API): ``assert_allclose(ref_prog, rtol, atol)`` and ``do_bench()`` on inputs
        generated once with ``tensor_supply_type`` (default ``TensorSupplyType.Auto``)."""
        from ..profiler.kernel_profiler import Profiler
        from ..profiler.supply import TensorSupplyType

        return Profiler(self, tensor_supply_type if tensor_supply_type is not None else TensorSupplyType.Auto)

    def get_kernel_source(self) -> str:
        """The device source: CUDA C for CUDA targets, the lowered TIR for the CPU."""
        return self._source

    def get_tir(self):
        """The tile program this kernel was built from (None when loaded from disk)."""
        return self.prim_func

    @property
    def input_params(self) -> list[KernelParam]:
        """The parameters passed by the caller, in order."""
        return [self.params[i] for i in self._input_positions]

    @property
    def workspace_params(self) -> list[KernelParam]:
        """The T.alloc_global workspaces, allocated by every call and neither passed nor returned."""
        return [p for p in self.params if p.workspace]

    @property
    def output_params(self) -> list[KernelParam]:
        """The parameters allocated by the kernel call and returned."""
        return [self.params[i] for i in self.out_idx]

    def save(self, folder) -> Path:
        """Copy this kernel's artifact (library, source, cubin, metadata; checked first) into ``folder``."""
        if self.artifact_dir is None:
            raise RuntimeError("this kernel has no artifact folder to save")
        return artifact.copy_artifact(self.artifact_dir, Path(folder))

    @property
    def short_target(self) -> str:
        """The target in a few words: ``CUDA sm_90a`` or ``the CPU (llvm)``."""
        import json

        try:
            spec = json.loads(self.target)
        except ValueError:
            return self.target_kind
        if self.target_kind == "cuda":
            return f"CUDA {spec.get('arch', '(no arch)')}"
        return "the CPU (llvm)" if self.target_kind == "llvm" else self.target_kind

    @classmethod
    def load(cls, folder) -> "JITKernel":
        """A kernel from an artifact folder (written by :meth:`save` or the cache); no compiling. The folder is
        verified first (ArtifactError when damaged); its library is native code that runs in this process, so load
        only folders you trust."""
        from .loader import load_kernel

        return load_kernel(Path(folder))

    def __repr__(self) -> str:
        sig = ", ".join(f"{p.name}: {p.describe()}" for p in self.params)
        return f"JITKernel({self.entry}({sig}) for {self.target_kind}, out_idx={self.out_idx})"
