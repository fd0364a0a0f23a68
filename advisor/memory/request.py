"""``MemoryRequest``: every input of one estimate, checked when it is built."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import KW_ONLY, dataclass
from pathlib import Path

from advisor.errors import UsageError, did_you_mean
from advisor.memory.shapes import ModelShape, parse_targets
from advisor.memory.units import PRECISION_BYTES

METHODS = (
    "inference",
    "full",
    "partial",
    "lora",
    "qlora",
    "ia3",
    "prefix-tuning",
    "prompt-tuning",
    "bitfit",
)
#: optimizer -> (states per trainable parameter, bytes per state or None for "at the value precision")
OPTIMIZERS: dict[str, tuple[int, float | None]] = {
    "sgd": (0, None),
    "momentum": (1, None),
    "adam": (2, None),
    "adamw": (2, None),
    "adamw-8bit": (2, 1.0),
}


@dataclass(frozen=True)
class MemoryRequest:
    """What to estimate, exactly as given (``estimate()`` takes the same arguments).

    ``spec`` is a ModelShape, a parameter count, or a path to a config.json / model folder / .gguf;
    ``params`` overrides the parameter count. ``trainable`` is for ``method="partial"`` (default: 10%).
    ``adapters`` counts LoRA adapters stored for one base (merged copies vs kept apart, source 7.4).
    ``adapter_precision`` is the LoRA adapter dtype (default: fp32 when the base is 16-bit in shape mode,
    as peft upcasts adapters; the base precision otherwise). ``matrix=(d_in, d_out)`` makes the model one
    matrix.

    Building one checks the names (method, precision, optimizer, adapter precision, LoRA targets) and the
    counts, and raises ``advisor.errors.UsageError`` with a one-line message. The model itself (reading a
    config, parsing ``params``) is resolved when the estimate runs.
    """

    spec: ModelShape | int | str | Path | None = None
    _: KW_ONLY
    params: int | str | None = None
    method: str = "full"
    precision: str = "bf16"
    optimizer: str = "adamw"
    trainable: int | str | None = None
    rank: int = 8
    targets: str | Iterable[str] = "q,k,v,o"
    batch_size: int | None = None
    seq_len: int | None = None
    gradient_checkpointing: bool = False
    mixed_precision: bool = False
    adapters: int | None = None
    activation_fraction: float = 0.2
    adapter_precision: str | None = None
    matrix: tuple[int, int] | None = None
    double_quant: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.targets, str):
            # an iterator would be used up by the first estimate; keep the names themselves
            object.__setattr__(self, "targets", tuple(self.targets))
        self._check_names()
        self._check_counts()
        if self.adapter_precision is not None and self.adapter_precision not in PRECISION_BYTES:
            raise did_you_mean(self.adapter_precision, tuple(PRECISION_BYTES), "adapter precision")
        parse_targets(self.targets)

    def _check_names(self) -> None:
        if self.method not in METHODS:
            raise did_you_mean(self.method, METHODS, "method")
        if self.precision not in PRECISION_BYTES:
            raise did_you_mean(self.precision, tuple(PRECISION_BYTES), "precision")
        if self.optimizer not in OPTIMIZERS:
            raise did_you_mean(self.optimizer, tuple(OPTIMIZERS), "optimizer")

    def _check_counts(self) -> None:
        for name, val, least in (
            ("rank", self.rank, 1),
            ("batch size", self.batch_size, 1),
            ("sequence length", self.seq_len, 1),
            ("adapters", self.adapters, 0),
        ):
            if val is not None and (not isinstance(val, int) or val < least):
                raise UsageError(f"{name} must be a positive integer, got {val!r}")
        if not 0 <= self.activation_fraction < 100:
            raise UsageError(
                f"activation fraction must be between 0 and 100, got {self.activation_fraction!r}"
            )

    @property
    def target_names(self) -> tuple[str, ...]:
        """The LoRA targets as canonical names (``"q_proj,v"`` -> ``("q", "v")``)."""
        return parse_targets(self.targets)

    @property
    def training(self) -> bool:
        return self.method != "inference"

    @property
    def peft_like(self) -> bool:
        """LoRA or QLoRA: trainable values are adapters at the adapter precision."""
        return self.method in ("lora", "qlora")

    @property
    def tokens(self) -> int | None:
        """Tokens per step (batch size x sequence length), or None when either is not given."""
        return self.batch_size * self.seq_len if self.batch_size and self.seq_len else None
