"""wgmma shared-memory descriptors as the tile's descriptor plus a constant (the default since 2026-12-06;
``TILEDSL_DESCRIPTOR_OFFSETS=0`` switches it off; ``passes/cuda/gemm_wgmma._Descriptor.at``) instead of encoding each k-step's address.

CPU: the two forms give the same 64-bit descriptor for every 16-byte-aligned shared address below 2^18 and
every 16-byte offset that keeps the matrix inside shared memory (negative ones too), the code's own expressions
evaluated with C's integer widths; an offset not provably a multiple of 16 keeps the encoding. nvcc: the
switch turns every wgmma operand of a GEMM and of flash attention into base + constant. GPU: every program of the
benchmark (small sizes) with the switch off against its float32 reference (on: ``test_bench_general.py``).
"""
import random
import re

import pytest
from tvm import tirx

import tiledsl
from tiledsl.passes.cuda import gemm_wgmma

import general_programs as G

SM90A = {"kind": "cuda", "arch": "sm_90a"}

pytestmark = pytest.mark.usefixtures("general_passes_only", "no_kernel_cache")


def _descriptor(addr_var, high):
    """A :class:`gemm_wgmma._Descriptor` whose tile address is ``addr_var`` (the rest of the object unused)."""
    desc = object.__new__(gemm_wgmma._Descriptor)
    desc.addr, desc.high = addr_var, high
    return desc


_BINARY = {"Add": lambda a, b: a + b, "Sub": lambda a, b: a - b, "Mul": lambda a, b: a * b,
           "FloorDiv": lambda a, b: a // b, "FloorMod": lambda a, b: a % b, "BitwiseAnd": lambda a, b: a & b,
           "BitwiseOr": lambda a, b: a | b, "RShift": lambda a, b: a >> b, "LShift": lambda a, b: a << b}


def _eval(expr, env):
    """An integer expression of the descriptor code evaluated as the generated C would (each result wrapped to
    its type's width; signed types as two's complement)."""
    dtype = expr.ty.dtype
    bits, signed = dtype.bits, str(dtype).startswith("int")
    kind = type(expr).__name__
    if isinstance(expr, tirx.IntImm):
        value = int(expr.value)
    elif isinstance(expr, tirx.Var):
        value = env[expr]
    elif kind == "Cast":
        value = _eval(expr.value, env)
    elif kind in _BINARY:
        value = _BINARY[kind](_eval(expr.a, env), _eval(expr.b, env))
    else:
        raise AssertionError(f"no evaluation for {kind}: {expr}")
    value %= 1 << bits
    return value - (1 << bits) if signed and value >= 1 << (bits - 1) else value


def _value(expr, addr_var, addr):
    """``expr`` (a 64-bit descriptor) with the tile address ``addr``."""
    return _eval(expr, {addr_var: addr}) % (1 << 64)


@pytest.mark.parametrize("swizzle_code,lbo,sbo", [(1, 1, 64), (1, 512, 64), (2, 1, 32), (3, 1, 16)])
def test_base_plus_offset_is_the_encoded_address(swizzle_code, lbo, sbo, monkeypatch):
    addr_var = tirx.Var("addr", "uint32")
    high = (tirx.Cast("uint64", tirx.const(swizzle_code, "int32")) << tirx.const(62, "uint64")) | \
        tirx.const((sbo << 32) | (lbo << 16), "uint64")
    desc = _descriptor(addr_var, high)
    rng = random.Random(swizzle_code * 1000 + lbo)
    cases = [(0, 0), (16, 0), ((1 << 18) - 16, 0), ((1 << 18) - 4096, 4080), (4096, -4096), (65536, -16)]
    cases += [(a, o) for a, o in ((rng.randrange(0, 1 << 14) * 16, rng.randrange(-4096, 4096) * 16)
                                  for _ in range(200)) if 0 <= a + o < (1 << 18)]
    for addr, offset in cases:
        monkeypatch.setenv("TILEDSL_DESCRIPTOR_OFFSETS", "1")
        added = desc.at(tirx.const(offset, "int32"))
        monkeypatch.setenv("TILEDSL_DESCRIPTOR_OFFSETS", "0")
        encoded = desc.at(tirx.const(offset, "int32"))
        assert _value(added, addr_var, addr) == _value(encoded, addr_var, addr), (addr, offset)


def test_an_offset_not_provably_a_multiple_of_16_keeps_the_encoding(monkeypatch):
    monkeypatch.setenv("TILEDSL_DESCRIPTOR_OFFSETS", "1")
    desc = _descriptor(tirx.Var("addr", "uint32"), tirx.const(0, "uint64"))
    row = tirx.Var("row", "int32")
    assert str(desc.at(row * 8)) == str(desc._encode(desc.addr + tirx.Cast("uint32", row * 8)))
    assert str(desc.at(row * 32)) != str(desc._encode(desc.addr + tirx.Cast("uint32", row * 32)))


def _descriptor_args(src):
    """The wgmma descriptor arguments of a kernel's source that add an offset to an encoded base."""
    return re.findall(r"\| \(\(\(uint64_t\)1ULL << \(uint64_t\)62ULL\) \| \(uint64_t\)\d+ULL\)\) \+ \(\(uint64_t\)",
                      src)


@pytest.mark.nvcc
@pytest.mark.parametrize("program", [lambda: G.gemm(256, 256, 256), lambda: G.flash_attention(1, 2, 512, 128, False)],
                         ids=["gemm", "attention"])
def test_the_switch_adds_offsets_to_one_descriptor(program, monkeypatch):
    monkeypatch.setenv("TILEDSL_DESCRIPTOR_OFFSETS", "0")
    plain = tiledsl.compile(program(), out_idx=[], target=SM90A).get_kernel_source()
    monkeypatch.setenv("TILEDSL_DESCRIPTOR_OFFSETS", "1")
    added = tiledsl.compile(program(), out_idx=[], target=SM90A).get_kernel_source()
    assert not _descriptor_args(plain) and len(_descriptor_args(added)) >= 3  # (offset 0 is the base itself)


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(G.cases(small=True)))
def test_program_with_encoded_descriptors_matches_torch_on_gpu(name, monkeypatch):
    """The switched-off form (each descriptor encoded from its address; the default form runs in
    ``test_bench_general.py``'s GPU test)."""
    monkeypatch.setenv("TILEDSL_DESCRIPTOR_OFFSETS", "0")
    G.check_case_on_gpu(name)
