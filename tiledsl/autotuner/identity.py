"""Stable identities of Python objects for cache keys: a function is its module, qualname and source hash (plus
its closure), never ``id()`` or ``repr`` with an address, so a ``ref_prog`` or ``supply_prog`` keeps caching on."""
from __future__ import annotations

import hashlib
import inspect
import types


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def function_identity(fn, _depth: int = 0):
    """A JSON-able identity of a callable (None stays None)."""
    if fn is None:
        return None
    if isinstance(fn, types.MethodType):
        return {"method": function_identity(fn.__func__, _depth), "self": value_identity(fn.__self__, _depth + 1)}
    target = inspect.unwrap(fn) if callable(fn) else fn
    if not isinstance(target, (types.FunctionType, types.BuiltinFunctionType)) and callable(target):
        if hasattr(target, "func") and callable(target.func):  # JITImpl and friends
            return {"wrapper": type(target).__name__, "func": function_identity(target.func, _depth)}
        target = type(target)
    ident = {"module": getattr(target, "__module__", None), "qualname": getattr(target, "__qualname__", None)}
    try:
        ident["source"] = _sha(inspect.getsource(target))
    except (OSError, TypeError):
        code = getattr(target, "__code__", None)
        if code is not None:
            ident["code"] = _sha(repr(code.co_code) + repr(code.co_consts))
    code = getattr(target, "__code__", None)
    closure = getattr(target, "__closure__", None)
    if code is not None and closure and _depth < 3:
        cells = {}
        for name, cell in zip(code.co_freevars, closure):
            try:
                cells[name] = value_identity(cell.cell_contents, _depth + 1)
            except ValueError:  # empty cell
                cells[name] = None
        ident["closure"] = cells
    defaults = getattr(target, "__defaults__", None)
    if defaults and _depth < 3:
        ident["defaults"] = [value_identity(d, _depth + 1) for d in defaults]
    return ident


def value_identity(value, _depth: int = 0):
    """A JSON-able identity of an argument or closure value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [value_identity(v, _depth) for v in value]
    if isinstance(value, dict):
        return {str(k): value_identity(v, _depth) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    try:
        import torch

        if isinstance(value, torch.Tensor):
            return {"tensor": str(value.dtype), "shape": list(value.shape), "stride": list(value.stride()),
                    "device": value.device.type}
        if isinstance(value, torch.dtype):
            return str(value)
    except ImportError:  # pragma: no cover
        pass
    if callable(value) and _depth < 3:
        return function_identity(value, _depth)
    if isinstance(value, types.ModuleType):
        return {"module": value.__name__}
    text = repr(value)
    if " at 0x" in text:
        text = type(value).__qualname__
    return {"type": type(value).__qualname__, "repr": text}


def tensor_digest(tensors) -> list:
    """Shapes, dtypes and a content hash of tensors (``set_autotune_inputs``)."""
    import torch

    out = []
    for t in tensors:
        if isinstance(t, torch.Tensor):
            data = t.detach().to("cpu").contiguous()
            h = hashlib.sha256(data.reshape(-1).view(torch.uint8).numpy().tobytes() if data.numel() else b"").hexdigest()[:16]
            out.append({"dtype": str(t.dtype), "shape": list(t.shape), "sha": h})
        else:
            out.append(value_identity(t))
    return out
