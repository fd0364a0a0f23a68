"""``MemoryRequest``: every input of one estimate, checked when it is built."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import KW_ONLY, dataclass
from pathlib import Path

from advisor.errors import UsageError, did_you_mean
from advisor.memory.shapes import ModelShape, parse_targets
from advisor.memory.units import PRECISION_ALIASES, PRECISION_BYTES, QUANTISED

METHODS = (
    "inference",
    "full",
    "partial",
    "lora",
    "qlora",
    "dora",
    "ia3",
    "prefix-tuning",
    "prompt-tuning",
    "bitfit",
)
#: other names of the methods (``freeze``: LLaMA-Factory's name for training the top blocks)
METHOD_ALIASES = {"freeze": "partial", "full-finetuning": "full", "fft": "full"}
#: methods that may sit on a quantised (below 16-bit) base: they train adapters, never the base
QUANTISED_OK = ("inference", "lora", "qlora", "dora")
#: optimizer -> (states per trainable parameter, bytes per state or None for "at the value precision");
#: adafactor's factored second moment is counted per matrix (calculator.optimizer_states)
OPTIMIZERS: dict[str, tuple[int, float | None]] = {
    "sgd": (0, None),
    "momentum": (1, None),
    "adam": (2, None),
    "adamw": (2, None),
    "adamw-8bit": (2, 1.0),
    "paged-adamw-8bit": (2, 1.0),
    "paged-adamw-32bit": (2, 4.0),
    "adafactor": (0, None),
    "lion": (1, None),
}
#: Hugging Face ``optim=`` spellings (underscores are read as hyphens first)
OPTIMIZER_ALIASES = {
    "adamw-torch": "adamw",
    "adamw-torch-fused": "adamw",
    "adamw-hf": "adamw",
    "adamw-bnb-8bit": "adamw-8bit",
    "adam8bit": "adamw-8bit",
    "lion-32bit": "lion",
}
LOSSES = ("standard", "chunked", "fused")
SHARDING = ("none", "fsdp", "zero1", "zero2", "zero3")


def canonical(name: str, aliases: dict[str, str], *, hyphens: bool = False) -> str:
    """``name`` lower-cased (underscores as hyphens when ``hyphens``) and mapped through ``aliases``."""
    n = str(name).strip().lower()
    if hyphens:
        n = n.replace("_", "-")
    return aliases.get(n, n)


@dataclass(frozen=True)
class MemoryRequest:
    """What to estimate, exactly as given (``estimate()`` takes the same arguments).

    ``spec`` is a ModelShape, a parameter count, or a path to a config.json / model folder / .gguf;
    ``params`` overrides the parameter count. ``trainable`` is for ``method="partial"`` (default: 10%).
    ``adapters`` counts LoRA adapters stored for one base (merged copies vs kept apart, source 7.4).
    ``adapter_precision`` is the LoRA adapter dtype (default: fp32 when the base is 16-bit in shape mode,
    as peft upcasts adapters; the base precision otherwise). ``matrix=(d_in, d_out)`` makes the model one
    matrix.

    ``loss`` is ``standard``, ``chunked`` (torchtune's 8-chunk loss) or ``fused`` (fused linear
    cross-entropy); ``activation_offloading`` keeps two layers' saved activations on the GPU;
    ``optimizer_in_backward`` frees each gradient once its parameter steps; ``compile`` is torch.compile
    (elementwise results recomputed in backward instead of kept); ``kbit_upcast`` (None: on for a
    quantised base) is peft's prepare_model_for_kbit_training (unquantised parameters in fp32); ``gpus``
    and ``sharding`` (none, zero1, zero2, zero3, fsdp) make every byte count per GPU.

    Building one maps aliases to canonical names (``bfloat16``, ``paged_adamw_8bit``, ``freeze``), checks
    the names (method, precision, optimizer, loss, sharding, adapter precision, LoRA targets), refuses a
    quantised precision with a method that trains the base, checks the counts, and raises
    ``advisor.errors.UsageError`` with a one-line message. The model itself (reading a
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
    loss: str = "standard"
    activation_offloading: bool = False
    optimizer_in_backward: bool = False
    compile: bool = False
    kbit_upcast: bool | None = None
    gpus: int = 1
    sharding: str = "none"

    def __post_init__(self) -> None:
        if not isinstance(self.targets, str):
            # an iterator would be used up by the first estimate; keep the names themselves
            object.__setattr__(self, "targets", tuple(self.targets))
        self._canonical_names()
        self._check_names()
        self._check_counts()
        if self.adapter_precision is not None and self.adapter_precision not in PRECISION_BYTES:
            raise did_you_mean(self.adapter_precision, tuple(PRECISION_BYTES), "adapter precision")
        parse_targets(self.targets)

    def _canonical_names(self) -> None:
        """Aliases (``bfloat16``, ``adamw_8bit``, ``freeze``) become the names the calculator uses."""
        object.__setattr__(self, "method", canonical(self.method, METHOD_ALIASES))
        object.__setattr__(self, "precision", canonical(self.precision, PRECISION_ALIASES))
        object.__setattr__(self, "optimizer", canonical(self.optimizer, OPTIMIZER_ALIASES, hyphens=True))
        if self.adapter_precision is not None:
            object.__setattr__(
                self, "adapter_precision", canonical(self.adapter_precision, PRECISION_ALIASES)
            )

    def _check_names(self) -> None:
        for value, choices, what in (
            (self.method, METHODS, "method"),
            (self.precision, tuple(PRECISION_BYTES), "precision"),
            (self.optimizer, tuple(OPTIMIZERS), "optimizer"),
            (self.loss, LOSSES, "loss"),
            (self.sharding, SHARDING, "sharding"),
        ):
            if value not in choices:
                raise did_you_mean(value, choices, what)
        if self.precision in QUANTISED and self.method not in QUANTISED_OK:
            raise UsageError(
                f"method {self.method} cannot train a base stored in {self.precision}: quantised bases "
                "train only adapters (use --method qlora, or --method lora on the quantised base; "
                "or a 16-bit precision)"
            )

    def _check_counts(self) -> None:
        for name, val, least in (
            ("rank", self.rank, 1),
            ("batch size", self.batch_size, 1),
            ("sequence length", self.seq_len, 1),
            ("adapters", self.adapters, 0),
            ("gpus", self.gpus, 1),
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
        """LoRA, DoRA or QLoRA: trainable values are adapters at the adapter precision."""
        return self.method in ("lora", "qlora", "dora")

    @property
    def quantised_base(self) -> bool:
        """Whether the frozen base's linears are stored below 16 bits (QLoRA, or LoRA on int8/nf4/...)."""
        return self.method == "qlora" or (self.peft_like and self.precision in QUANTISED)

    @property
    def upcast(self) -> bool:
        """PEFT's prepare_model_for_kbit_training: on by default for a quantised base."""
        return self.quantised_base if self.kbit_upcast is None else self.kbit_upcast and self.quantised_base

    @property
    def shards(self) -> int:
        """GPUs the weights/gradients/optimizer states are split over (1 without sharding)."""
        return self.gpus if self.sharding != "none" else 1

    @property
    def tokens(self) -> int | None:
        """Tokens per step (batch size x sequence length), or None when either is not given."""
        return self.batch_size * self.seq_len if self.batch_size and self.seq_len else None
