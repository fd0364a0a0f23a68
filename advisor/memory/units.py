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
}
PRECISIONS = ("fp32", "fp16", "bf16", "int8", "fp8", "int4", "nf4")  # the CLI's choices
#: what a CUDA process holds outside the caching allocator (context, cuBLAS/cuDNN handles): fits() adds it
CUDA_CONTEXT_BYTES = 500 * 10**6
#: NF4 with double quantisation (QLoRA): 4 bits + an 8-bit absmax per 64 values
#: + an fp32 absmax per 256 blocks
NF4_BYTES_PER_PARAM = 0.5 + 1 / 64 + 4 / (64 * 256)
NF4_NO_DQ_BYTES_PER_PARAM = 0.5 + 4 / 64

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


def looks_like_size(s: str | Path) -> bool:
    """Whether ``s`` is a size such as ``"7B"`` (a parameter count) rather than a path."""
    return isinstance(s, str) and bool(_SIZE_RE.match(s.strip().replace(",", "").replace("_", "")))


def precision_bytes(precision: str) -> float:
    """Bytes per value stored at ``precision`` (a key of PRECISION_BYTES)."""
    return PRECISION_BYTES[precision]


def to_int(x: float) -> int:
    """A byte count as the estimate reports it: rounded to the nearest int."""
    return int(round(x))
