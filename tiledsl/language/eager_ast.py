"""Reading a kernel written in TileLang's newer ("eager") style from its Python source.

The style, for ``@tiledsl.jit``::

    def matmul(A, B, block_M, block_N, block_K, dtype=T.float16):
        M, N, K = T.const("M, N, K")         # sizes taken from the tensors (or given to .compile)
        A: T.Tensor((M, K), dtype)            # which parameters are tensors, and their shapes
        B: T.Tensor((K, N), dtype)
        C = T.empty((M, N), dtype)            # an output, allocated by each call
        with T.Kernel(...) as (bx, by):      # the program
            ...
        return C

:func:`analyze` splits the body into a *header* (every top-level statement before the first ``with``/``for``/
``while``: plain Python plus the declarations above) and the *program* (the rest, minus the final ``return``).
The header becomes a plain Python function (:func:`make_probe_source`) run once per elaboration; the program
becomes a ``@T.prim_func`` whose parameters are the tensors and the outputs (:func:`make_program_ast`). Line
numbers stay those of the user's file, so errors point at the user's lines.
"""
from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass, field

from ..errors import TileProgramError

PROBE_TENSOR = "__tiledsl_tensor__"
PROBE_CONST = "__tiledsl_const__"
PRIM_FUNC_DECORATOR = "__tiledsl_prim_func__"
ANNOTATION_PREFIX = "__tiledsl_ann_"
_PROGRAM_STARTS = (ast.With, ast.For, ast.While, ast.AsyncWith, ast.AsyncFor)


@dataclass
class EagerSource:
    """What the source of an eager-style function says."""

    name: str
    params: list[str]
    tensor_params: list[str]                 # parameters annotated as tensors in the body, in parameter order
    outputs: list[str]                       # names made by T.empty, in the order they are returned
    const_names: list[str]                   # names declared by T.const("...") in the header
    header: list[ast.stmt]
    program: list[ast.stmt]
    func_node: ast.FunctionDef
    file_name: str
    first_line: int                          # line of the ``def`` (or its first decorator) in the file
    lines: list = field(default_factory=list)  # the function's source lines
    tensor_lines: dict = field(default_factory=dict)


def _is_call_to(node, attr: str) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == attr) or (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == attr)


def _const_names(call: ast.Call) -> list[str]:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return [n for n in call.args[0].value.replace(",", " ").split() if n]
    return []


def source_of(func) -> tuple[list[str], int, str]:
    """The function's source lines, the line of its first line in its file, and the file name."""
    try:
        lines, first_line = inspect.getsourcelines(func)
        file_name = inspect.getsourcefile(func) or "<unknown>"
    except (OSError, TypeError) as err:
        raise TileProgramError(f"{func.__name__}: the source of a @tiledsl.jit function must be readable (it is "
                               f"parsed); define it in a file, not in an interactive prompt ({err})") from None
    return list(lines), first_line, file_name


def function_tree(func, source=None) -> tuple[ast.FunctionDef, str, int]:
    """The function's ``def`` node (line numbers relative to its own source), file name and first line;
    ``source`` is :func:`source_of`'s result when already known (a build worker has no file to read)."""
    lines, first_line, file_name = source if source is not None else source_of(func)
    tree = ast.parse(textwrap.dedent("".join(lines)))
    node = tree.body[0]
    if not isinstance(node, ast.FunctionDef):
        raise TileProgramError(f"{func.__name__}: expected a plain `def` function")
    return node, file_name, first_line


def looks_eager(func) -> bool:
    """True when the body declares tensors (``A: T.Tensor(...)``), outputs (``T.empty``) or sizes (``T.const``)
    at its top level: TileLang's newer style. A factory returning an inner ``@T.prim_func`` is the classic one."""
    try:
        node, _, _ = function_tree(func)
    except (TileProgramError, SyntaxError):
        return False
    params = {a.arg for a in node.args.args + node.args.kwonlyargs}
    for stmt in node.body:
        if isinstance(stmt, ast.AnnAssign) and stmt.value is None and isinstance(stmt.target, ast.Name) \
                and stmt.target.id in params:
            return True
        value = getattr(stmt, "value", None)
        if isinstance(stmt, ast.Assign) and (_is_call_to(value, "const") or _is_call_to(value, "empty")):
            return True
    return False


def analyze(func, source=None) -> EagerSource:
    """Split an eager-style function into its declarations, header and program (see the module doc)."""
    node, file_name, first_line = function_tree(func, source)
    if node.args.vararg or node.args.kwarg or node.args.posonlyargs:
        raise TileProgramError(f"{node.name}: *args, **kwargs and positional-only parameters are not supported in "
                               f"an eager-style @tiledsl.jit function")
    params = [a.arg for a in node.args.args + node.args.kwonlyargs]
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]  # docstring
    split = next((i for i, s in enumerate(body) if isinstance(s, _PROGRAM_STARTS)), len(body))
    header, program = body[:split], body[split:]
    tensors, outputs_made, consts, tensor_lines = [], [], [], {}
    new_header = []
    for stmt in header:
        if isinstance(stmt, ast.AnnAssign) and stmt.value is None and isinstance(stmt.target, ast.Name):
            name = stmt.target.id
            if name not in params:
                raise TileProgramError(_where(file_name, first_line, stmt) + f"`{name}: ...` annotates a name that "
                                       f"is not a parameter of {node.name}; tensors are declared by annotating "
                                       f"parameters (outputs are made with T.empty)")
            tensors.append(name)
            tensor_lines[name] = stmt.lineno
            call = ast.Call(func=ast.Name(PROBE_TENSOR, ast.Load()),
                            args=[ast.Constant(name), stmt.annotation], keywords=[])
            new_header.append(ast.copy_location(
                ast.Assign(targets=[ast.Name(name, ast.Store())], value=call), stmt))
            continue
        if isinstance(stmt, ast.Assign) and _is_call_to(stmt.value, "empty"):
            if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                raise TileProgramError(_where(file_name, first_line, stmt) + "assign T.empty(...) to one name, "
                                       "like `C = T.empty((M, N), dtype)`")
            outputs_made.append(stmt.targets[0].id)
        if isinstance(stmt, ast.Assign) and _is_call_to(stmt.value, "const"):
            consts += _const_names(stmt.value)
        new_header.append(stmt)
    for stmt in program:
        for sub in ast.walk(stmt):
            if isinstance(sub, ast.AnnAssign) and sub.value is None and isinstance(sub.target, ast.Name) \
                    and sub.target.id in params:
                raise TileProgramError(_where(file_name, first_line, sub) + f"declare the tensor `{sub.target.id}` "
                                       f"before the first `with`/`for` of {node.name} (with the other "
                                       f"declarations at the top of the body)")
    returned = []
    if program and isinstance(program[-1], ast.Return):
        ret = program.pop()
        returned = _returned_names(ret, file_name, first_line)
    elif not program and header and isinstance(header[-1], ast.Return):
        returned = _returned_names(new_header.pop(), file_name, first_line)
    for name in returned:
        if name not in outputs_made:
            raise TileProgramError(f"{node.name} returns `{name}`, which is not made by T.empty(...) before the "
                                   f"kernel; only T.empty outputs can be returned")
    for name in outputs_made:
        if name not in returned:
            raise TileProgramError(f"{node.name}: the output `{name} = T.empty(...)` is never returned; add it to "
                                   f"the `return` at the end")
    implicit = _implicit_sizes(new_header, params, func)
    if implicit:  # names a tensor shape uses without defining them are sizes, as if declared with T.const
        consts = implicit + consts
        decl = ast.Assign(targets=[ast.Tuple([ast.Name(n, ast.Store()) for n in implicit], ast.Store())],
                          value=ast.Call(func=ast.Name(PROBE_CONST, ast.Load()),
                                         args=[ast.Constant(", ".join(implicit) + ",")], keywords=[]))
        new_header.insert(0, ast.copy_location(decl, new_header[0]))
    ordered_tensors = [p for p in params if p in tensors]
    return EagerSource(name=node.name, params=params, tensor_params=ordered_tensors, outputs=returned,
                       const_names=consts, header=new_header, program=program, func_node=node,
                       file_name=file_name, first_line=first_line, tensor_lines=tensor_lines,
                       lines=list(source[0]) if source is not None else source_of(func)[0])


def _implicit_sizes(header: list, params: list, func) -> list[str]:
    """Names read in tensor declarations (``T.Tensor`` annotations, ``T.empty``) that nothing defines: not a
    parameter, not assigned in the header, not a global, closure variable or builtin."""
    import builtins

    assigned = set(params)
    for stmt in header:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                assigned.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
                names = [a.asname or a.name for a in node.names] if isinstance(node, (ast.Import, ast.ImportFrom)) \
                    else [node.name]
                assigned.update(n.split(".")[0] for n in names)
    known = assigned | set(func.__globals__) | set(func.__code__.co_freevars) | set(dir(builtins))
    found = []
    for stmt in header:
        call = stmt.value if isinstance(stmt, ast.Assign) else None
        is_decl = isinstance(call, ast.Call) and (
            (isinstance(call.func, ast.Name) and call.func.id == PROBE_TENSOR) or _is_call_to(call, "empty"))
        if not is_decl:
            continue
        for node in ast.walk(call):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in known \
                    and node.id != PROBE_TENSOR and node.id not in found:
                found.append(node.id)
    return found


def _returned_names(ret: ast.Return, file_name, first_line) -> list[str]:
    value = ret.value
    if value is None:
        return []
    items = value.elts if isinstance(value, (ast.Tuple, ast.List)) else [value]
    if not all(isinstance(v, ast.Name) for v in items):
        raise TileProgramError(_where(file_name, first_line, ret) + "return the T.empty outputs by name, like "
                               "`return C` or `return C, D`")
    return [v.id for v in items]


def _where(file_name: str, first_line: int, node) -> str:
    return f"{file_name}:{first_line + node.lineno - 1}: "


def make_probe_source(src: EagerSource, freevars: list[str]) -> ast.Module:
    """A module defining ``__tiledsl_make__(*freevars)`` that returns the header as a function of the parameters,
    ending in ``return locals()``. Line numbers are the file's."""
    ret = ast.Return(value=ast.Call(func=ast.Name("locals", ast.Load()), args=[], keywords=[]))
    probe = ast.FunctionDef(
        name=src.name, args=ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in src.params], vararg=None,
                                          kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
        body=list(src.header) + [ret], decorator_list=[], returns=None, type_params=[])
    ast.copy_location(probe, src.func_node)
    ast.copy_location(ret, src.func_node)
    maker = ast.FunctionDef(
        name="__tiledsl_make__", args=ast.arguments(posonlyargs=[], args=[ast.arg(v) for v in freevars],
                                                   vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
                                                   defaults=[]),
        body=[probe, ast.Return(value=ast.Name(src.name, ast.Load()))], decorator_list=[], returns=None,
        type_params=[])
    ast.copy_location(maker, src.func_node)
    module = ast.Module(body=[maker], type_ignores=[])
    ast.fix_missing_locations(module)
    ast.increment_lineno(module, src.first_line - 1)
    return module


def make_program_ast(src: EagerSource, param_names: list[str]) -> ast.Module:
    """``@__tiledsl_prim_func__ def name(A: __tiledsl_ann_A, ...): <program>`` with the function's own relative
    line numbers (what TVMScript's diagnostics expect)."""
    body = list(src.program) or [ast.Pass()]
    args = [ast.arg(p, annotation=ast.Name(ANNOTATION_PREFIX + p, ast.Load())) for p in param_names]
    fdef = ast.FunctionDef(
        name=src.name, args=ast.arguments(posonlyargs=[], args=args, vararg=None, kwonlyargs=[], kw_defaults=[],
                                          kwarg=None, defaults=[]),
        body=body, decorator_list=[ast.Name(PRIM_FUNC_DECORATOR, ast.Load())], returns=None, type_params=[])
    ast.copy_location(fdef, src.func_node)
    for a in args:
        ast.copy_location(a, src.func_node)
        ast.copy_location(a.annotation, src.func_node)
    ast.copy_location(fdef.decorator_list[0], src.func_node)
    module = ast.Module(body=[fdef], type_ignores=[])
    ast.fix_missing_locations(module)
    return module
