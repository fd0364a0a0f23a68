"""Sizes and bytes per value: ``parse_size``, ``GB``, the precisions and the fixed byte costs.

Sizes are in bytes, GB means 10^9 bytes.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from advisor.errors import UsageError

GB = 10**9

PRECISION_BYTES: dict[str, float] = {
    "fp64": 8,
    "fp32": 4,
    "tf32": 4,
    "fp16": 2,
    "bf16": 2,
    "int8": 1,
    "fp8": 1,
    "int4": 0.5,
    "fp4": 0.5,
    "nf4": 0.5,
    "int2": 0.25,
    "nf2": 0.25,
}
PRECISIONS = ("fp32", "fp16", "bf16", "int8", "fp8", "int4", "nf4", "nf2", "int2")  # the CLI's choices
#: other spellings of the precisions (torch / Hugging Face dtype names)
PRECISION_ALIASES = {
    "bfloat16": "bf16",
    "float16": "fp16",
    "half": "fp16",
    "float32": "fp32",
    "float": "fp32",
    "float64": "fp64",
    "double": "fp64",
}
#: precisions below 16 bits: a base stored like this cannot be trained, only adapters on top of it
QUANTISED = ("int8", "fp8", "int4", "fp4", "nf4", "int2", "nf2")
#: what a CUDA process holds outside the caching allocator (context, cuBLAS/cuDNN handles): fits() adds it
CUDA_CONTEXT_BYTES = 500 * 10**6
#: NF4 with double quantisation (QLoRA): 4 bits + an 8-bit absmax per 64 values
#: + an fp32 absmax per 256 blocks
NF4_BYTES_PER_PARAM = 0.5 + 1 / 64 + 4 / (64 * 256)
NF4_NO_DQ_BYTES_PER_PARAM = 0.5 + 4 / 64
#: 2-bit (nf2/int2): 2 bits + the same block scales as NF4 (assumed: absmax per 64, double-quantised)
NF2_BYTES_PER_PARAM = 0.25 + 1 / 64 + 4 / (64 * 256)
NF2_NO_DQ_BYTES_PER_PARAM = 0.25 + 4 / 64
#: LLM.int8 (bitsandbytes Linear8bitLt): 1 byte per weight + one fp32 scale per output row
INT8_ROW_SCALE_BYTES = 4

_SIZE_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*$", re.IGNORECASE)
_SUFFIX = {
    "": 1,
    "k": 10**3,
    "m": 10**6,
    "b": 10**9,
    "g": 10**9,
    "t": 10**12,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def parse_size(text: str | int | float, what: str = "size") -> int:
    """``"7B"``, ``"13e9"``, ``"4096"``, ``"125M"``, ``"24GB"``, ``"80GiB"`` -> an int (B/G = 10^9).

    Raises UsageError for negative or unparsable input.
    """
    if isinstance(text, bool):
        raise UsageError(f"invalid {what} {text!r}")
    if isinstance(text, int | float):
        value: float = float(text)
    else:
        s = str(text).strip().replace(",", "").replace("_", "")
        if s.startswith("-"):
            raise UsageError(f"{what} must not be negative: {text!r}")
        m = _SIZE_RE.match(s)
        if not m or m.group(2).lower() not in _SUFFIX:
            raise UsageError(f"cannot read {what} {text!r} (examples: 7B, 13e9, 4096, 24GB, 80GiB)")
        value = float(m.group(1)) * _SUFFIX[m.group(2).lower()]
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"{what} must be a non-negative number: {text!r}")
    return int(round(value))


def has_unit(text: str | int | float) -> bool:
    """Whether a size given as text carries a suffix (``"8B"``, ``"24GB"``) rather than a bare number."""
    if not isinstance(text, str):
        return False
    m = _SIZE_RE.match(text.strip().replace(",", "").replace("_", ""))
    return bool(m and m.group(2))


def parse_param_count(text: str | int | float, what: str = "--params") -> int:
    """A parameter count; a bare number below 10^6 (``"8"``) is refused: it almost surely means ``8B``."""
    n = parse_size(text, what)
    if isinstance(text, str) and not has_unit(text) and n < 10**6:
        raise UsageError(f"{what} {text.strip()} is {n} parameters; did you mean {text.strip()}B?")
    return n


def parse_memory(text: str | int | float, what: str = "--gpu-memory") -> int:
    """A memory size in bytes; a bare number below 10^6 (``"24"``) is refused: it almost surely means GB."""
    n = parse_size(text, what)
    if isinstance(text, str) and not has_unit(text) and n < 10**6:
        raise UsageError(f"{what} {text.strip()} is {n} bytes; did you mean {text.strip()}GB?")
    return n


#: token counts: k = 1024 (``4k`` context = 4096 tokens), m = 1024^2
_TOKEN_SUFFIX = {"": 1, "k": 2**10, "m": 2**20}


def parse_tokens(text: str | int, what: str = "--seq-len") -> int:
    """A token count: ``4096``, ``4k`` (4096), ``32K``, ``128k``; a positive integer."""
    if isinstance(text, bool):
        raise UsageError(f"invalid {what} {text!r}")
    if isinstance(text, int):
        value: float = text
    else:
        m = _SIZE_RE.match(str(text).strip().replace(",", "").replace("_", ""))
        if not m or m.group(2).lower() not in _TOKEN_SUFFIX:
            raise UsageError(f"cannot read {what} {text!r} (examples: 4096, 4k, 32k, 128k)")
        value = float(m.group(1)) * _TOKEN_SUFFIX[m.group(2).lower()]
    if value < 1 or value != int(value):
        raise UsageError(f"{what} must be a positive whole number of tokens, got {text!r}")
    return int(value)


def looks_like_size(s: str | Path) -> bool:
    """Whether ``s`` is a size such as ``"7B"`` (a parameter count) rather than a path."""
    return isinstance(s, str) and bool(_SIZE_RE.match(s.strip().replace(",", "").replace("_", "")))


def precision_bytes(precision: str) -> float:
    """Bytes per value stored at ``precision`` (a key of PRECISION_BYTES)."""
    return PRECISION_BYTES[precision]


def to_int(x: float) -> int:
    """A byte count as the estimate reports it: rounded to the nearest int."""
    return int(round(x))
