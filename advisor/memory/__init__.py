"""Path 2: memory arithmetic for running and fine-tuning a model (see docs/memory.md).

Nothing here imports torch.
"""

from __future__ import annotations

from advisor.memory.calculator import (
    CUDA_CONTEXT_BYTES,
    GB,
    METHODS,
    OPTIMIZERS,
    PRECISION_BYTES,
    PRECISIONS,
    TARGETS,
    MemoryEstimate,
    ModelShape,
    estimate,
    lora_trainable_params,
    parse_size,
    parse_targets,
    shape_from_config,
)

__all__ = [
    "CUDA_CONTEXT_BYTES",
    "GB",
    "METHODS",
    "OPTIMIZERS",
    "PRECISIONS",
    "PRECISION_BYTES",
    "TARGETS",
    "MemoryEstimate",
    "ModelShape",
    "estimate",
    "lora_trainable_params",
    "parse_size",
    "parse_targets",
    "shape_from_config",
]
