"""Build a tile program for a target: ``passes.pipeline.lower`` decides the lowering, then TVM's pipeline and
code generator (and nvcc for CUDA) make the binary. Nothing here chooses how a program is lowered."""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field

import tvm
from tvm import tirx

from .. import config, pass_config
from ..errors import CompileError, ConfigError, SharedMemoryError, TileDSLError
from ..passes.cuda.warp_specialize import WarpSpecializationRefused
from ..passes.pipeline import lower
from ..runtime.target import target_kind
from .nvcc import ptxas_notes

logger = logging.getLogger(__name__)


@dataclass
class BuildResult:
    """What a build gives: the TVM executable, the device source and the seconds it took."""

    executable: tvm.runtime.Executable
    entry: str
    source: str
    seconds: float
    cubin: bytes | None = None  # CUDA: the nvcc-built binary of ``source``
    kernel_info: dict = field(default_factory=dict)  # the path taken and the parameters the kernel really uses


def entry_name(func: tirx.PrimFunc) -> str:
    """The exported name of a PrimFunc (its global symbol)."""
    attrs = func.attrs
    if attrs is not None and "global_symbol" in attrs:
        return str(attrs["global_symbol"])
    return "main"


#: TVM passes every build leaves out. CompactBufferAllocation shrinks a buffer to the elements its accesses name,
#: and takes ``address_of(buf[i])`` handed to a call for that one element: a helper reading or writing more than one
#: element through it then runs past the shrunk buffer (a static (3, 2048) float32 buffer named only so came out as
#: 1533 floats with row stride 511, 2026-12-08). Our passes size every buffer themselves; with the pass left out
#: every benchmark program's CUDA source is unchanged (checked for sm_90a and sm_80 the same day).
DISABLED_TVM_PASSES = ["s_tir.CompactBufferAllocation"]


def _pass_context(tvm_configs: dict) -> tvm.transform.PassContext:
    try:
        return tvm.transform.PassContext(opt_level=3, config=tvm_configs, disabled_pass=DISABLED_TVM_PASSES)
    except Exception as err:  # TVM rejects unknown keys with a long message
        raise ConfigError(f"pass_configs {tvm_configs!r} were rejected by TVM: {_first_line(err)}") from None


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    for line in text.splitlines():
        if line.strip() and not line.startswith(("Traceback", "  File")):
            return line.strip()
    return text[:300]


_SYNC_IN_BRANCH = "Cannot insert syncs inside condition"
_WIDE_VECTOR = "to CUDA type"  # "Cannot convert type float32x32 to CUDA type"
# nvcc on TVM's broadcast of an 8-bit integer to 8 or 16 lanes, printed as make_int2 / make_int4 with one
# argument per lane (``x * -1``, ``x + 3``, ``max(x, 0)`` on int8 vectors); 4 lanes print correctly
_BYTE_BROADCAST = "too many arguments in function call"
#: (what TVM says when it refuses a CUDA build, the lowering switch that builds the program instead); each is used
#: only for programs that failed without it, so every program that built before builds as it did:
#: - a branch on a scalar assigned in the kernel (`tile = w * sms + bx; if tile < tiles:`) that needs a barrier
#:   inside: such scalars are proved block-uniform;
#: - a T.vectorized loop wider than CUDA's vector types, or 8-bit integer arithmetic with a constant on 8 or 16
#:   lanes (refused by nvcc, not TVM): split into vectors that fit (4 lanes of 8-bit).
_CUDA_RETRIES = ((_SYNC_IN_BRANCH, "uniform_scalar_branches"), (_WIDE_VECTOR, "split_wide_vectors"),
                 (_BYTE_BROADCAST, "split_wide_vectors"))


def _retry_switch(err: Exception, switches: dict) -> str | None:
    """The lowering switch (of _CUDA_RETRIES) that builds a program whose CUDA build failed with ``err``, unless it
    is already on."""
    return next((name for text, name in _CUDA_RETRIES if text in str(err) and not switches.get(name)), None)


def _schedules_to_drop(kind: str, switches: dict, err: Exception, dropped: list) -> str | None:
    """The lowering switch that leaves out the schedules a build that failed with ``err`` had on, when it may be
    tried without them: first the opt-in ones the environment switched on (``allow_opt_in_schedules``), then those
    on by default (``allow_default_schedules``); None when none is left. The schedules left out and why are
    appended to ``dropped`` (the kernel's ``kernel_info["schedules_dropped"]``) and logged as a warning: the
    program then builds as without them, which a developer of a schedule must see."""
    if config.strict_schedules():  # the test suite: a schedule that breaks a build is a bug to see, not to hide
        return None
    for switch, defaults in (("allow_opt_in_schedules", False), ("allow_default_schedules", True)):
        on = config.opt_in_schedules_on(defaults, kind)
        if on and switches.get(switch, True):
            logger.warning("the %s build failed with %s on (%s); building without them", kind, ", ".join(on),
                           _first_line(err))
            dropped.append({"schedules": list(on), "error": _first_line(err)})
            return switch
    return None


#: ptxas notes that cost a wgmma kernel speed: it fenced register operands itself (C7519), it serialized wgmma (C7520)
SERIALIZING_NOTES = ("7519", "7520")


def _log_serialized_wgmma(resources: dict) -> None:
    """A log line (INFO while the int8-weight GEMM's fix is opt-in, ``TILEDSL_FENCE_AFTER_CONVERSION``) naming each
    kernel whose wgmmas ptxas fenced or serialized by itself (ptxas_notes of ``kernel_info["resources"]``): a
    lowering defect the kernel still runs correctly with, only slower."""
    for name, usage in resources.items():
        notes = sorted(ptxas_notes({name: usage}) & set(SERIALIZING_NOTES))
        if notes:
            logger.info("ptxas fenced or serialized the wgmmas of kernel %s itself (notes %s): it runs correctly "
                        "but slower; please report the program", name, ", ".join("C" + n for n in notes))


def _lower_and_build(mod, target, kind: str, entry: str, switches: dict, compile_flags):
    """(lowered, executable, source, cubin or None) for one lowering of ``mod`` with ``switches``."""
    lowered = lower(mod, target, **switches)
    if kind == "cuda":
        from .cuda import build_cuda, last_cubin, last_resources
        executable, source = build_cuda(lowered.mod, target, compile_flags, tir_pipeline=lowered.tir_pipeline)
        resources = last_resources()
        if resources:
            lowered.kernel_info["resources"] = resources
            _log_serialized_wgmma(resources)
        return lowered, executable, source, last_cubin()
    executable = tvm.compile(lowered.mod, target=target)
    return lowered, executable, lowered.mod[entry].script(), None


def build(func: tirx.PrimFunc, target: tvm.target.Target, pass_configs: dict | None = None,
          compile_flags=None) -> BuildResult:
    """Lower ``func`` with tiledsl's passes for ``target`` and build it with TVM."""
    kind = target_kind(target)
    entry = entry_name(func)
    mod = tvm.IRModule({entry: func})
    start = time.perf_counter()
    cubin = None
    dropped = []  # the schedules a failing build was retried without (kernel_info["schedules_dropped"])
    tl_options, tvm_configs = pass_config.split(pass_configs)
    switches = pass_config.lowering_switches(tl_options)
    if kind == "cuda":
        compile_flags = list(compile_flags or []) + pass_config.nvcc_flags(tl_options)
    with _pass_context(tvm_configs):
        try:
            while True:
                try:
                    lowered, executable, source, cubin = _lower_and_build(mod, target, kind, entry, switches,
                                                                          compile_flags)
                    break
                except WarpSpecializationRefused as err:
                    # TILEDSL_WARP_SPECIALIZE=all: the lowered consumers turned out to need shared scratch
                    logger.debug("%s; lowering again without warp specialization", err)
                    switches = dict(switches, allow_warp_specialization=False)
                except SharedMemoryError:
                    # the TMA ring's mbarriers (static shared memory) can tip a kernel that fits with cp.async over
                    # the limit: such a kernel loads with cp.async instead
                    if kind != "cuda" or not switches.get("allow_tma", True):
                        raise
                    logger.debug("the shared tiles do not fit with TMA rings; lowering again with cp.async")
                    switches = dict(switches, allow_tma=False)
                except CompileError as err:  # nvcc's refusals (ours to report: TileDSLError)
                    retry = _retry_switch(err, switches) if kind == "cuda" else None
                    drop = _schedules_to_drop(kind, switches, err, dropped) if retry is None else None
                    if drop is not None:
                        switches = dict(switches, **{drop: False})
                        continue
                    if retry is None:
                        raise
                    logger.debug("nvcc refused the CUDA source (%s); retrying with %s", _first_line(err), retry)
                    switches = dict(switches, **{retry: True})
                except TileDSLError:
                    raise
                except Exception as err:
                    if kind == "cuda" and _SYNC_IN_BRANCH in str(err) and config.warp_specialize_all() \
                            and switches.get("allow_warp_specialization", True):
                        # a barrier TVM wants inside the consumers' branch: the kernel is not warp-specialized
                        switches = dict(switches, allow_warp_specialization=False)
                        continue
                    retry = _retry_switch(err, switches)
                    drop = _schedules_to_drop(kind, switches, err, dropped) if retry is None else None
                    if drop is not None:
                        switches = dict(switches, **{drop: False})
                        continue
                    if kind != "cuda" or retry is None:
                        raise
                    logger.debug("the CUDA build failed (%s); retrying with %s", _first_line(err), retry)
                    switches = dict(switches, **{retry: True})
        except TileDSLError:
            raise
        except Exception as err:
            raise CompileError(f"building {entry} for {kind} failed: {_first_line(err)}") from err
    seconds = time.perf_counter() - start
    logger.debug("built %s for %s in %.3f s", entry, kind, seconds)
    kernel_info = dict(lowered.kernel_info)
    kernel_info["source_sha256"] = hashlib.sha256(source.encode()).hexdigest()  # identical kernels, one hash
    if dropped:
        kernel_info["schedules_dropped"] = dropped
    for name, usage in kernel_info.get("resources", {}).items():
        if usage.get("spill_stores"):
            logger.info("kernel %s spills %d bytes to local memory (%d registers)", name, usage["spill_stores"],
                        usage["registers"])
    return BuildResult(executable, entry, source, seconds, cubin, kernel_info)
