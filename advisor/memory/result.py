"""``MemoryEstimate``: the result of one estimate, and whether it fits on a device."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from advisor.memory.units import CUDA_CONTEXT_BYTES, parse_size

if TYPE_CHECKING:
    from advisor.memory.request import MemoryRequest


@dataclass
class MemoryEstimate:
    """One estimate. Byte counts are ints; ``total_bytes`` is what must fit on the device."""

    total_params: int
    trainable_params: int
    weights_bytes: int
    activations_bytes: int
    gradients_bytes: int
    optimizer_bytes: int
    overhead_bytes: int
    total_bytes: int
    #: optimizer states in CUDA unified memory (paged optimizers): part of optimizer_bytes, not of
    #: total_bytes; they use the GPU's free memory and page to CPU memory when it runs out
    paged_bytes: int = 0
    #: parts of activations_bytes: the KV cache (inference) and the logits / loss inputs kept (0: none)
    kv_cache_bytes: int = 0
    logits_bytes: int = 0
    #: the byte counts are per GPU: of ``gpus``, split as ``sharding`` says
    gpus: int = 1
    sharding: str = "none"
    assumptions: list[str] = field(default_factory=list)
    method: str = "full"
    precision: str = "bf16"
    adapters: dict[str, int] | None = None
    #: what was asked (suggestions() re-estimates variations of it); None for a hand-built estimate
    request: MemoryRequest | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Every field but ``request`` (and ``adapters`` when there are none), as JSON-ready values."""
        d = {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self) if f.name != "request"}
        if d["adapters"] is None:
            d.pop("adapters")
        return d

    def fits(self, gpu_bytes: int | float | str, reserve: int = CUDA_CONTEXT_BYTES) -> bool:
        """Whether the total plus ``reserve`` (the CUDA context outside the allocator) fits."""
        return self.total_bytes + reserve <= parse_size(gpu_bytes, "GPU memory")

    def suggestions(self, gpu_bytes: int | float | str, reserve: int = CUDA_CONTEXT_BYTES) -> list[str]:
        """What to change so that it fits, each checked by re-estimating; [] when it already fits."""
        from advisor.memory.suggest import suggestions  # suggest re-estimates: it imports the calculator

        return suggestions(self, gpu_bytes, reserve)
