"""Path 2: memory arithmetic for running and fine-tuning a model (see docs/memory.md).

Modules: ``units`` (sizes, precisions), ``shapes`` (ModelShape, reading configs, LoRA targets),
``request`` (MemoryRequest: the checked inputs), ``calculator`` (estimate() and its phases),
``activations`` (the activation and peak model), ``result`` (MemoryEstimate), ``suggest`` (what to
change when it does not fit), ``known_models`` (shapes of common models by name), ``checks`` (options
that have no effect). Nothing here imports torch.
"""

from __future__ import annotations

from advisor.memory.calculator import calculate, estimate
from advisor.memory.known_models import KNOWN_MODELS, known_model
from advisor.memory.request import METHODS, OPTIMIZERS, MemoryRequest
from advisor.memory.result import MemoryEstimate
from advisor.memory.shapes import TARGETS, ModelShape, lora_trainable_params, parse_targets, shape_from_config
from advisor.memory.units import CUDA_CONTEXT_BYTES, GB, PRECISION_BYTES, PRECISIONS, parse_size

__all__ = [
    "CUDA_CONTEXT_BYTES",
    "KNOWN_MODELS",
    "GB",
    "METHODS",
    "OPTIMIZERS",
    "PRECISIONS",
    "PRECISION_BYTES",
    "TARGETS",
    "MemoryEstimate",
    "MemoryRequest",
    "ModelShape",
    "calculate",
    "estimate",
    "known_model",
    "lora_trainable_params",
    "parse_size",
    "parse_targets",
    "shape_from_config",
]
