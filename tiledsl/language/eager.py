"""Elaborating TileLang's newer-style kernels: ``T.const``, ``T.empty``, in-body tensor annotations.

An :class:`EagerProgram` wraps one such function (see ``eager_ast`` for the style). :meth:`EagerProgram.signature`
runs the header with the ``T.const`` sizes as symbols to learn the tensors' shapes; :meth:`EagerProgram.sizes`
reads the sizes off actual tensors (or takes them from keywords); :meth:`EagerProgram.build` runs the header again
with the sizes as integers and parses the program with TVMScript into a PrimFunc whose parameters are the input
tensors followed by the outputs.
"""
from __future__ import annotations

import inspect
import threading
from dataclasses import dataclass

import tvm
from tvm import tirx
from tvm.script import tirx as _tirx_script
from tvm.script.ir_builder import IRBuilder
from tvm.script.parser.core import doc
from tvm.script.parser.core.diagnostics import Source
from tvm.script.parser.core.parser import Parser

from ..errors import KernelArgumentError, TileProgramError
from . import eager_ast
from .buffers import is_buffer
from .dtypes import canonical_name

_state = threading.local()
#: Marker sizes for headers that compute with their sizes as numbers: distinct odd primes times 16, so no size
#: derived from one by halving, doubling or tripling equals another, and products stay within int64.
_SENTINELS = [p * 16 for p in (11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
                               97, 101, 103, 107)]


@dataclass
class TensorSpec:
    """One tensor of the program: its name, shape (ints or expressions) and dtype."""

    name: str
    shape: tuple
    dtype: str
    annotation: object


class _Elaboration:
    """What ``T.const``/``T.empty`` and the header's tensor declarations talk to while a header runs."""

    def __init__(self, sizes: dict | None, sentinels: bool = False):
        self.sizes = sizes            # None: sizes are symbols (learning the signature)
        self.sentinels = sentinels    # sizes are distinct marker ints instead (a header that needs numbers)
        self.symbols: dict[str, object] = {}
        self.tensors: dict[str, TensorSpec] = {}
        self.outputs: list[TensorSpec] = []
        self.workspaces: list = []    # T.alloc_global buffers declared in the header

    def const(self, name: str, dtype: str):
        if self.sizes is None:
            var = self.symbols.get(name)
            if var is None:
                var = _SENTINELS[len(self.symbols)] if self.sentinels else tirx.Var(name, canonical_name(dtype))
                self.symbols[name] = var
            return var
        if name not in self.sizes:
            raise TileProgramError(f"T.const: no value for {name!r}")
        return self.sizes[name]

    def tensor(self, name: str, annotation):
        spec = _spec(name, annotation, "annotation")
        self.tensors[name] = spec
        return annotation

    def workspace(self, shape, dtype):
        names = getattr(self, "workspace_names", [])
        k = len(self.workspaces)
        name = names[k] if k < len(names) else f"workspace_{k}"
        buf = tirx.decl_buffer(tuple(shape), dtype, name, scope="global")
        self.workspaces.append(buf)
        return buf

    def empty(self, shape, dtype):
        from .buffers import Tensor

        annotation = Tensor(shape, dtype)
        self.outputs.append(_spec(f"output #{len(self.outputs)}", annotation, "T.empty"))
        return annotation


def _spec(name, annotation, what) -> TensorSpec:
    if not is_buffer(annotation):
        raise TileProgramError(f"{name}: the {what} must be T.Tensor(shape, dtype) (or T.Tensor[shape, dtype]), "
                               f"got {annotation!r}")
    return TensorSpec(name, tuple(annotation.ty.shape), str(annotation.ty.dtype), annotation)


def _current(what: str) -> _Elaboration:
    ctx = getattr(_state, "ctx", None)
    if ctx is None:
        raise TileProgramError(f"{what} is only valid at the top of a @tiledsl.jit function written in TileLang's "
                               f"newer style (before its first `with T.Kernel(...)`)")
    return ctx


def const(names: str, dtype="int32"):
    """``M, N, K = T.const("M, N, K")``: sizes taken from the tensors' shapes at each call (one compile per
    distinct sizes) or given as keywords to ``.compile(M=..., ...)``."""
    ctx = _current("T.const")
    parts = [n for n in str(names).replace(",", " ").split() if n]
    if not parts:
        raise TileProgramError(f"T.const({names!r}): give one or more names, like T.const(\"M, N\")")
    values = tuple(ctx.const(n, dtype) for n in parts)
    return values[0] if len(values) == 1 else values


def empty(shape, dtype="float32"):
    """``C = T.empty((M, N), dtype)``: an output tensor, allocated by each call and returned."""
    if not isinstance(shape, (tuple, list)):
        shape = (shape,)
    return _current("T.empty").empty(tuple(shape), dtype)


class EagerProgram:
    """An eager-style function, ready to elaborate for given sizes and arguments."""

    def __init__(self, func, source=None):
        self.func = func
        self.source = eager_ast.analyze(func, source)
        self.signature = inspect.signature(func)
        self._probe = self._compile_probe()
        self._signatures: dict = {}

    # ------------------------------------------------------------------ the header as a Python function
    def _compile_probe(self):
        code = self.func.__code__
        freevars = list(code.co_freevars)
        module = eager_ast.make_probe_source(self.source, freevars)
        namespace = dict(self.func.__globals__)
        namespace[eager_ast.PROBE_TENSOR] = _declare_tensor
        namespace[eager_ast.PROBE_CONST] = lambda names: _as_tuple(const(names))
        exec(compile(module, self.source.file_name, "exec"), namespace)  # noqa: S102 - the user's own code
        cells = [c.cell_contents if _cell_full(c) else None for c in (self.func.__closure__ or ())]
        return namespace["__tiledsl_make__"](*cells)

    def run_header(self, values: dict, sizes: dict | None, sentinels: bool = False) -> tuple[_Elaboration, dict]:
        """Run the header with the parameters' ``values``; ``sizes`` None makes the T.const sizes symbols (or
        marker ints with ``sentinels``)."""
        ctx = _Elaboration(sizes, sentinels)
        ctx.workspace_names = self._assigned_from("alloc_global")
        previous = getattr(_state, "ctx", None)
        _state.ctx = ctx
        try:
            local_vars = self._probe(**values)
        except TileProgramError:
            raise
        except Exception as err:
            raise TileProgramError(f"{self.source.name}: the declarations at the top of the body failed: "
                                   f"{type(err).__name__}: {err}") from err
        finally:
            _state.ctx = previous
        return ctx, local_vars

    # ------------------------------------------------------------------ sizes
    def symbolic_signature(self, config: dict, key) -> _Elaboration:
        """The header run with symbolic sizes (cached per ``key``, the non-tensor arguments)."""
        sig = self._signatures.get(key)
        if sig is None:
            values = dict(config)
            values.update({t: None for t in self.source.tensor_params})
            try:
                sig, _ = self.run_header(values, None)
            except TileProgramError as err:
                if not isinstance(err.__cause__, TypeError):
                    raise
                sig, _ = self.run_header(values, None, sentinels=True)  # e.g. (1.0 / D) ** 0.5 needs a number
            missing = [t for t in self.source.tensor_params if t not in sig.tensors]
            if missing:  # the annotation sat inside an `if` that did not run
                raise TileProgramError(f"{self.source.name}: tensors {missing} were not declared")
            self._signatures[key] = sig
        return sig

    def sizes(self, sig: _Elaboration, tensors: dict, given: dict) -> dict:
        """The value of every T.const size: from ``given`` keywords, else read off the tensors' shapes."""
        out = {}
        for name, var in sig.symbols.items():
            if name in given:
                out[name] = int(given[name])
                continue
            found = None
            for tname in self.source.tensor_params:
                t = tensors.get(tname)
                if t is None:
                    continue
                for i, dim in enumerate(sig.tensors[tname].shape):
                    if _is_size(dim, var):
                        if len(t.shape) != len(sig.tensors[tname].shape):
                            raise KernelArgumentError(
                                f"{self.source.name}: {tname} has {len(t.shape)} dimensions, expected "
                                f"{len(sig.tensors[tname].shape)} ({_fmt(sig.tensors[tname].shape)})")
                        found = int(t.shape[i])
                        break
                if found is not None:
                    break
            if found is None:
                raise TileProgramError(
                    f"{self.source.name}: no value for the size {name!r} (T.const): pass the tensor whose shape "
                    f"holds it, or {name}=... to .compile(...) / get_tir(...)")
            out[name] = found
        return out

    # ------------------------------------------------------------------ the PrimFunc
    def build(self, config: dict, sizes: dict) -> tirx.PrimFunc:
        """Elaborate the program for these non-tensor arguments and sizes."""
        values = dict(config)
        values.update({t: None for t in self.source.tensor_params})
        ctx, local_vars = self.run_header(values, sizes)
        names = self.source.tensor_params + self.source.outputs
        annotations = {t: ctx.tensors[t].annotation for t in self.source.tensor_params}
        for name, spec in zip(self._output_assignment_order(), ctx.outputs):
            annotations[name] = spec.annotation
        extra = dict(self.func.__globals__)
        extra.update(_closure_vars(self.func))
        extra.update({k: v for k, v in local_vars.items() if k not in names})
        extra.update({eager_ast.ANNOTATION_PREFIX + n: annotations[n] for n in names})
        extra[eager_ast.PRIM_FUNC_DECORATOR] = _tirx_script.prim_func
        prim = self._parse(names, extra)
        if ctx.workspaces:  # T.alloc_global in the header: allocated at the top, as in a classic program
            prim = prim.with_body(tirx.SeqStmt([tirx.AllocBuffer(b) for b in ctx.workspaces] + [prim.body]))
        return prim

    def _output_assignment_order(self) -> list[str]:
        return self._assigned_from("empty")

    def _assigned_from(self, call: str) -> list[str]:
        """Names assigned ``T.<call>(...)`` in the header, in order."""
        import ast

        names = []
        for stmt in self.source.header:
            if (isinstance(stmt, ast.Assign) and eager_ast._is_call_to(stmt.value, call)
                    and isinstance(stmt.targets[0], ast.Name)):
                names.append(stmt.targets[0].id)
        return names

    def _parse(self, names, extra) -> tirx.PrimFunc:
        module = eager_ast.make_program_ast(self.source, names)
        source = _ProgramSource(self.source, doc.to_doc(module))
        parser = Parser(source, {})
        try:
            with IRBuilder() as builder:
                try:
                    parser.parse(extra_vars=extra)
                except Exception as err:  # ParserError and friends: report at the node
                    from tvm.script.parser.core.error import ParserError

                    if isinstance(err, ParserError):
                        parser.report_error(err.node, err.args[0])
                    raise
            prim = builder.get()
        except tvm.error.DiagnosticError as err:
            raise TileProgramError(str(err).removeprefix("error: ").strip()) from None
        if not isinstance(prim, tirx.PrimFunc):
            raise TileProgramError(f"{self.source.name}: the program did not produce a function")
        return prim.with_attr("global_symbol", self.source.name)


def _is_size(dim, var) -> bool:
    if isinstance(var, int):
        return isinstance(dim, (int, tirx.IntImm)) and int(dim) == var
    return isinstance(dim, tirx.Var) and dim.same_as(var)


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


def _declare_tensor(name, annotation):
    return _current(f"`{name}: T.Tensor(...)`").tensor(name, annotation)


def _cell_full(cell) -> bool:
    try:
        cell.cell_contents
        return True
    except ValueError:
        return False


def _closure_vars(func) -> dict:
    code = func.__code__
    return {n: c.cell_contents for n, c in zip(code.co_freevars, func.__closure__ or ()) if _cell_full(c)}


def _fmt(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


class _ProgramSource(Source):
    """The user's function as TVMScript's diagnostics see it, with the rewritten AST as what is parsed."""

    def __init__(self, src: eager_ast.EagerSource, tree):  # pylint: disable=super-init-not-called
        import textwrap

        self.source_name = src.file_name
        self.start_line = src.first_line
        first = src.lines[0] if src.lines else ""
        self.start_column = len(first) - len(first.lstrip())
        self.source = textwrap.dedent("".join(src.lines))
        try:
            with open(src.file_name) as f:
                self.full_source = f.read()
        except OSError:
            self.full_source = self.source
        self._tree = tree

    def as_ast(self):
        return self._tree
