"""What to change when an estimate does not fit: each candidate change is re-estimated."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from advisor.memory.calculator import calculate
from advisor.memory.request import MemoryRequest
from advisor.memory.result import MemoryEstimate
from advisor.memory.units import CUDA_CONTEXT_BYTES, GB, PRECISION_BYTES, parse_size

#: the last resort, when no single change makes it fit
LARGER_GPU = "a larger GPU or several GPUs (sharding: FSDP / DeepSpeed ZeRO)"

Change = tuple[str, dict[str, Any]]


def suggestions(
    est: MemoryEstimate, gpu_bytes: int | float | str, reserve: int = CUDA_CONTEXT_BYTES
) -> list[str]:
    """``"<change>: <total> GB"`` for every change that fits ``gpu_bytes``; [] when it already fits."""
    gpu = parse_size(gpu_bytes, "GPU memory")
    if est.fits(gpu, reserve):
        return []
    out = []
    for label, change in changes_to_try(est):
        assert est.request is not None
        new = calculate(replace(est.request, **change))
        if new.fits(gpu, reserve):
            out.append(f"{label}: {new.total_bytes / GB:.1f} GB")
    return out or [LARGER_GPU]


def changes_to_try(est: MemoryEstimate) -> list[Change]:
    """The changes that could lower ``est``'s total, most specific first (none without a request)."""
    if est.request is None:
        return []
    return _workload_changes(est.request) + _method_changes(est.request, est.method, est.precision)


def _workload_changes(req: MemoryRequest) -> list[Change]:
    """Smaller batches, checkpointing, shorter sequences."""
    tries: list[Change] = []
    if req.batch_size and req.batch_size > 1:
        tries.append(
            ("batch size 1 (keep the effective batch with gradient accumulation)", {"batch_size": 1})
        )
    if req.batch_size and not req.gradient_checkpointing:
        tries.append(("gradient checkpointing", {"gradient_checkpointing": True}))
    if req.seq_len and req.seq_len > 512:
        tries.append(("sequence length 512", {"seq_len": 512}))
    return tries


def _method_changes(req: MemoryRequest, method: str, precision: str) -> list[Change]:
    """Smaller optimizer states, fewer trainable parameters, fewer bytes per weight."""
    tries: list[Change] = []
    if req.optimizer in ("adam", "adamw") and method != "inference":
        tries.append(("an 8-bit Adam (adamw-8bit)", {"optimizer": "adamw-8bit"}))
    if req.optimizer in ("adam", "adamw", "adamw-8bit") and method != "inference":
        paged = "paged-adamw-8bit" if req.optimizer == "adamw-8bit" else "paged-adamw-32bit"
        tries.append((f"a paged optimizer ({paged}: its states page to CPU memory)", {"optimizer": paged}))
    if req.mixed_precision:
        tries.append(("pure 16-bit training instead of fp32 master weights", {"mixed_precision": False}))
    if method in ("full", "partial"):
        tries.append(("LoRA instead of full fine-tuning", {"method": "lora"}))
    if method in ("full", "partial", "lora"):
        tries.append(("QLoRA (4-bit base model)", {"method": "qlora"}))
    if method == "inference" and PRECISION_BYTES[precision] > 1:
        tries.append(("8-bit weights", {"precision": "int8"}))
        tries.append(("4-bit weights", {"precision": "nf4"}))
    return tries
