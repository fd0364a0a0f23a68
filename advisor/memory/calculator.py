"""Memory and parameter arithmetic for inference and fine-tuning (DESIGN.md section 4, source 7.3/7.4).

The rules engine calls::

    from advisor.memory import estimate
    est = estimate(params="7B", method="lora", precision="bf16")
    est.fits(24e9)          # True / False (the total plus a CUDA context reserve)
    est.suggestions(24e9)   # what to change when it does not fit, as short sentences

Two modes, chosen by what is known:

* **Source mode** (only a parameter count, or no batch size and sequence length): every value is
  stored at ``precision``; weights ``N x M``; gradients ``T x M``; optimizer states ``T x k x M``
  (k = 0 SGD, 1 momentum, 2 Adam); activations a flat ``activation_fraction`` (20%) of the weights;
  ``total = weights + activations + gradients + optimizer``. This reproduces the source's examples.
* **Shape mode** (a model shape plus ``batch_size`` and ``seq_len``): activations come from the layer
  shapes of a Llama-style decoder as PyTorch autograd stores them (see ``_layer_saved_bytes``), plus the
  logits and loss buffers, and ``total`` is the modelled *peak*: gradients and saved activations are
  not at their maxima at the same time (backward frees activations as it creates gradients), so
  ``total = weights + optimizer + max(activations + overhead + lm_head gradient, gradients [+ 2 V h M
  with tied embeddings])``; ``overhead_bytes`` is whichever transient term set the peak. Checked
  against measured peaks in docs/memory.md (CPU RSS within 15%, GPU allocator peak within 3%).

Sizes are in bytes, GB means 10^9 bytes. Nothing here imports torch; ``shape_from_config`` imports the
``gguf`` package only for ``.gguf`` files.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from advisor.errors import InputError, UsageError, did_you_mean

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
TARGETS = ("q", "k", "v", "o", "gate", "up", "down")
#: what a CUDA process holds outside the caching allocator (context, cuBLAS/cuDNN handles): fits() adds it
CUDA_CONTEXT_BYTES = 500 * 10**6
#: NF4 with double quantisation (QLoRA): 4 bits + an 8-bit absmax per 64 values + an fp32 absmax per 256 blocks
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


@dataclass(frozen=True)
class ModelShape:
    """A decoder-only transformer. ``mlp="gated"`` is SwiGLU (Llama: gate, up, down); "plain" is GPT-2."""

    layers: int
    hidden: int
    heads: int
    kv_heads: int | None = None
    intermediate: int | None = None
    vocab: int = 32000
    tie_embeddings: bool = False
    head_dim: int | None = None
    mlp: str = "gated"
    name: str = ""
    #: the exact count when known (a .gguf's tensors); else it is computed from the shape
    params_override: int | None = None

    @property
    def kv(self) -> int:
        return self.kv_heads or self.heads

    @property
    def d_head(self) -> int:
        return self.head_dim or self.hidden // self.heads

    @property
    def ffn(self) -> int:
        if self.intermediate:
            return self.intermediate
        return 4 * self.hidden if self.mlp == "plain" else int(8 * self.hidden / 3 / 256 + 1) * 256

    def llama_config(self, **overrides: Any) -> Any:
        """A ``transformers.LlamaConfig`` of this shape (for building random-init models to measure)."""
        from transformers import LlamaConfig

        fields_ = dict(
            hidden_size=self.hidden,
            num_hidden_layers=self.layers,
            num_attention_heads=self.heads,
            num_key_value_heads=self.kv,
            intermediate_size=self.ffn,
            vocab_size=self.vocab,
            tie_word_embeddings=self.tie_embeddings,
            max_position_embeddings=4096,
        )
        return LlamaConfig(**{**fields_, **overrides})

    def matrices(self) -> dict[str, tuple[int, int]]:
        """(d_in, d_out) of each linear of one layer, by target name."""
        h, q, kv, f = self.hidden, self.heads * self.d_head, self.kv * self.d_head, self.ffn
        mats = {"q": (h, q), "k": (h, kv), "v": (h, kv), "o": (q, h), "up": (h, f), "down": (f, h)}
        if self.mlp == "gated":
            mats["gate"] = (h, f)
        return mats

    def layer_params(self) -> int:
        return sum(a * b for a, b in self.matrices().values()) + 2 * self.hidden

    def embedding_params(self) -> int:
        return self.vocab * self.hidden * (1 if self.tie_embeddings else 2)

    def params(self) -> int:
        if self.params_override:
            return self.params_override
        return self.layers * self.layer_params() + self.embedding_params() + self.hidden

    @classmethod
    def guess(cls, params: int) -> ModelShape:
        """A Llama-like shape for a bare parameter count: N ~ 12 L h^2 with h = 128 L (7B: 4096 x 32)."""
        hidden = max(64, int(round((params * 128 / 12) ** (1 / 3) / 64)) * 64)
        layers = max(1, int(round(hidden / 128)))
        return cls(
            layers=layers,
            hidden=hidden,
            heads=max(1, hidden // 128),
            intermediate=4 * hidden,
            name="guessed",
            params_override=params,
        )


def shape_from_config(path: str | Path) -> ModelShape:
    """Read a ModelShape from a config.json, a model folder holding one, or a .gguf file."""
    p = Path(path).expanduser()
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise UsageError(f"{p} has no config.json (give a model folder, a config.json or a .gguf)")
        p = p / "config.json"
    if not p.is_file():
        raise UsageError(f"no such file or folder: {path}")
    if p.suffix.lower() == ".gguf":
        return _shape_from_gguf(p)
    try:
        cfg = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"cannot read {p} as JSON: {e}") from e
    if not isinstance(cfg, dict):
        raise InputError(f"{p} is not a JSON object")
    return _shape_from_hf(cfg, str(p.parent.name or p.name))


def _shape_from_hf(cfg: dict[str, Any], name: str) -> ModelShape:
    if "hidden_size" not in cfg and isinstance(cfg.get("text_config"), dict):
        cfg = cfg["text_config"]  # multimodal configs nest the language model

    def get(*keys: str, default: Any = None) -> Any:
        for k in keys:
            if cfg.get(k) is not None:
                return cfg[k]
        return default

    hidden = get("hidden_size", "n_embd", "d_model")
    layers = get("num_hidden_layers", "n_layer", "num_layers")
    heads = get("num_attention_heads", "n_head")
    if not (hidden and layers and heads):
        raise InputError(f"config of {name} lacks hidden_size / num_hidden_layers / num_attention_heads")
    model_type = str(cfg.get("model_type", ""))
    plain = model_type in {"gpt2", "gpt_neox", "gptj", "opt", "bloom", "falcon", "phi"}
    return ModelShape(
        layers=int(layers),
        hidden=int(hidden),
        heads=int(heads),
        kv_heads=get("num_key_value_heads", "n_head_kv", "num_kv_heads"),
        intermediate=get("intermediate_size", "n_inner", "ffn_dim"),
        vocab=int(get("vocab_size", default=32000)),
        tie_embeddings=bool(get("tie_word_embeddings", default=model_type == "gpt2")),
        head_dim=get("head_dim"),
        mlp="plain" if plain else "gated",
        name=name,
    )


def _shape_from_gguf(path: Path) -> ModelShape:
    try:
        from gguf import GGUFReader
    except ImportError as e:  # pragma: no cover - gguf is in the ml extra
        raise UsageError("reading a .gguf needs the gguf package: pip install gguf") from e
    try:
        reader = GGUFReader(str(path))
    except Exception as e:  # noqa: BLE001 - gguf raises plain ValueError/struct errors on bad files
        raise InputError(f"cannot read {path} as GGUF: {e}") from e

    def field(key: str) -> Any:
        f = reader.fields.get(key)
        return None if f is None else f.contents()

    arch = field("general.architecture") or "llama"
    block = field(f"{arch}.block_count")
    hidden = field(f"{arch}.embedding_length")
    heads = field(f"{arch}.attention.head_count")
    if not (block and hidden and heads):
        raise InputError(f"{path} lacks {arch}.block_count / embedding_length / attention.head_count")
    tokens = reader.fields.get("tokenizer.ggml.tokens")
    vocab = field(f"{arch}.vocab_size") or (len(tokens.data) if tokens is not None else 32000)
    names = {t.name for t in reader.tensors}
    return ModelShape(
        layers=int(block),
        hidden=int(hidden),
        heads=int(heads),
        kv_heads=field(f"{arch}.attention.head_count_kv"),
        intermediate=field(f"{arch}.feed_forward_length"),
        vocab=int(vocab),
        tie_embeddings="output.weight" not in names,
        head_dim=field(f"{arch}.attention.key_length"),
        mlp="gated" if any(n.endswith("ffn_gate.weight") for n in names) else "plain",
        name=str(field("general.name") or path.stem),
        params_override=int(sum(int(t.n_elements) for t in reader.tensors)),
    )


def parse_targets(targets: str | Iterable[str]) -> tuple[str, ...]:
    """``"q,k,v,o"`` or ``["q_proj", "v"]`` -> ``("q", "k", "v", "o")``; ``"all"`` is every linear."""
    items = targets.split(",") if isinstance(targets, str) else list(targets)
    out: list[str] = []
    for raw in items:
        t = raw.strip().lower().removesuffix("_proj")
        if not t:
            continue
        if t in ("all", "all-linear"):
            return TARGETS
        if t not in TARGETS:
            raise did_you_mean(t, TARGETS, "LoRA target")
        if t not in out:
            out.append(t)
    if not out:
        raise UsageError("no LoRA targets given (choose from q,k,v,o,gate,up,down)")
    return tuple(out)


def lora_trainable_params(shape: ModelShape, rank: int, targets: str | Iterable[str] = "q,k,v,o") -> int:
    """Sum over adapted matrices of (d_in + d_out) x r, for every layer (LoRA paper, source 7.4)."""
    mats = shape.matrices()
    per_layer = sum((mats[t][0] + mats[t][1]) * rank for t in parse_targets(targets) if t in mats)
    return shape.layers * per_layer


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
    assumptions: list[str] = field(default_factory=list)
    method: str = "full"
    precision: str = "bf16"
    adapters: dict[str, int] | None = None
    request: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("request")
        if d["adapters"] is None:
            d.pop("adapters")
        return d

    def fits(self, gpu_bytes: int | float | str, reserve: int = CUDA_CONTEXT_BYTES) -> bool:
        """Whether the total plus ``reserve`` (the CUDA context outside the allocator) fits."""
        return self.total_bytes + reserve <= parse_size(gpu_bytes, "GPU memory")

    def suggestions(self, gpu_bytes: int | float | str, reserve: int = CUDA_CONTEXT_BYTES) -> list[str]:
        """What to change so that it fits, each checked by re-estimating; [] when it already fits."""
        gpu = parse_size(gpu_bytes, "GPU memory")
        if self.fits(gpu, reserve):
            return []
        req, out = self.request, []
        tries: list[tuple[str, dict[str, Any]]] = []
        if req.get("batch_size") and req["batch_size"] > 1:
            tries.append(
                ("batch size 1 (keep the effective batch with gradient accumulation)", {"batch_size": 1})
            )
        if req.get("batch_size") and not req.get("gradient_checkpointing"):
            tries.append(("gradient checkpointing", {"gradient_checkpointing": True}))
        if req.get("seq_len") and req["seq_len"] > 512:
            tries.append(("sequence length 512", {"seq_len": 512}))
        if req.get("optimizer") in ("adam", "adamw") and self.method != "inference":
            tries.append(("an 8-bit Adam (adamw-8bit)", {"optimizer": "adamw-8bit"}))
        if req.get("mixed_precision"):
            tries.append(("pure 16-bit training instead of fp32 master weights", {"mixed_precision": False}))
        if self.method in ("full", "partial"):
            tries.append(("LoRA instead of full fine-tuning", {"method": "lora"}))
        if self.method in ("full", "partial", "lora"):
            tries.append(("QLoRA (4-bit base model)", {"method": "qlora"}))
        if self.method == "inference" and PRECISION_BYTES[self.precision] > 1:
            tries.append(("8-bit weights", {"precision": "int8"}))
            tries.append(("4-bit weights", {"precision": "nf4"}))
        for label, change in tries:
            new = estimate(**{**req, **change})
            if new.fits(gpu, reserve):
                out.append(f"{label}: {new.total_bytes / GB:.1f} GB")
        if not out:
            out.append("a larger GPU or several GPUs (sharding: FSDP / DeepSpeed ZeRO)")
        return out


def _bytes(precision: str) -> float:
    return PRECISION_BYTES[precision]


def _layer_saved_bytes(
    shape: ModelShape,
    e: float,
    *,
    trainable_layer: bool,
    targets: tuple[str, ...],
    rank: int,
    adapter_bytes: float,
) -> float:
    """Bytes autograd keeps per token for one decoder layer (PyTorch eager, SDPA/flash attention).

    Counted from what each op saves for backward (checked with torch.autograd.graph.saved_tensors_hooks):
    RMSNorm upcasts to fp32 and keeps its fp32 input (4h) and rsqrt, plus its 16-bit product when the
    norm weight trains; flash attention keeps q, k, v, the output and an fp32 logsumexp per head; the
    SwiGLU MLP keeps gate, silu(gate), up and their product (4 e f) when its weights train, else the
    first three; a trained linear keeps its input. LoRA adds its input (a separate fp32 copy per adapted
    matrix when peft upcasts adapters to fp32) and the r-wide output of A.
    """
    h, f = shape.hidden, shape.ffn
    q, kv = shape.heads * shape.d_head, shape.kv * shape.d_head
    attn = e * (2 * q + 2 * kv) + 4 * shape.heads
    mlp_gated = shape.mlp == "gated"
    if trainable_layer:
        norms = 2 * (4 * h + 2 * e * h + 4)
        mlp = (4 if mlp_gated else 2) * e * f
        return norms + attn + mlp
    norms = 2 * (4 * h + 4)
    mlp = (3 if mlp_gated else 1) * e * f
    inputs = {
        "q": ("n1", h),
        "k": ("n1", h),
        "v": ("n1", h),
        "o": ("attn", q),
        "gate": ("n2", h),
        "up": ("n2", h),
        "down": ("prod", f),
    }
    lora = 0.0
    shared: set[str] = {"attn"}  # already kept by attention
    for t in targets:
        if t not in shape.matrices():
            continue
        src, width = inputs[t]
        if adapter_bytes != e:
            lora += adapter_bytes * width  # peft casts the input to the adapter dtype: one copy each
        elif src not in shared:
            lora += e * width
            shared.add(src)
        lora += adapter_bytes * rank
    return norms + attn + mlp + lora


def estimate(
    spec: ModelShape | int | str | None = None,
    *,
    params: int | str | None = None,
    method: str = "full",
    precision: str = "bf16",
    optimizer: str = "adamw",
    trainable: int | str | None = None,
    rank: int = 8,
    targets: str | Iterable[str] = "q,k,v,o",
    batch_size: int | None = None,
    seq_len: int | None = None,
    gradient_checkpointing: bool = False,
    mixed_precision: bool = False,
    adapters: int | None = None,
    activation_fraction: float = 0.2,
    adapter_precision: str | None = None,
    matrix: tuple[int, int] | None = None,
    double_quant: bool = True,
) -> MemoryEstimate:
    """Estimate memory for running or fine-tuning a model. See the module docstring for the two modes.

    ``spec`` is a ModelShape, a parameter count, or a path to a config.json / model folder / .gguf.
    ``params`` overrides the parameter count. ``trainable`` is for ``method="partial"`` (default: 10%).
    ``adapters`` counts LoRA adapters stored for one base (merged copies vs kept apart, source 7.4).
    ``adapter_precision`` is the LoRA adapter dtype (default: fp32 when the base is 16-bit, as peft
    upcasts adapters; the base precision otherwise). ``matrix=(d_in, d_out)`` makes the model one matrix.
    """
    request = {k: v for k, v in locals().items() if k != "request"}
    if method not in METHODS:
        raise did_you_mean(method, METHODS, "method")
    if precision not in PRECISION_BYTES:
        raise did_you_mean(precision, tuple(PRECISION_BYTES), "precision")
    if optimizer not in OPTIMIZERS:
        raise did_you_mean(optimizer, tuple(OPTIMIZERS), "optimizer")
    for name, val in (
        ("rank", rank),
        ("batch size", batch_size),
        ("sequence length", seq_len),
        ("adapters", adapters),
    ):
        if val is not None and (not isinstance(val, int) or val < (0 if name == "adapters" else 1)):
            raise UsageError(f"{name} must be a positive integer, got {val!r}")
    if not 0 <= activation_fraction < 100:
        raise UsageError(f"activation fraction must be between 0 and 100, got {activation_fraction!r}")
    notes: list[str] = []

    shape: ModelShape | None = None
    if isinstance(spec, ModelShape):
        shape = spec
    elif isinstance(spec, str | Path) and not _looks_like_size(spec):
        shape = shape_from_config(spec)
    elif spec is not None:
        params = spec if params is None else params
    if params is not None:
        n_params = parse_size(params, "parameter count")
        if n_params == 0:
            raise UsageError("parameter count must be positive")
        if shape is not None:
            shape = replace(shape, params_override=n_params)
    elif matrix is not None:
        n_params = matrix[0] * matrix[1]
    elif shape is not None:
        n_params = shape.params()
    else:
        raise UsageError(
            "give a model (--model), a parameter count (--params) or a shape (--layers, --hidden, ...)"
        )
    if shape is not None:
        notes.append(
            f"shape: {shape.layers} layers, hidden {shape.hidden}, {shape.heads} heads "
            f"({shape.kv} kv), MLP {shape.ffn} {shape.mlp}, vocab {shape.vocab}"
            + (", tied embeddings" if shape.tie_embeddings else "")
        )

    M = _bytes(precision)
    training = method != "inference"
    peft_like = method in ("lora", "qlora")
    shape_mode = shape is not None and bool(batch_size) and bool(seq_len)
    if adapter_precision is None:
        # peft upcasts 16-bit adapters to fp32 (autocast_adapter_dtype); the source stores all at M
        if shape_mode and M <= 2:
            adapter_precision = "fp32"
        else:
            adapter_precision = precision if M >= 2 else "bf16"
    elif adapter_precision not in PRECISION_BYTES:
        raise did_you_mean(adapter_precision, tuple(PRECISION_BYTES), "adapter precision")
    A_bytes = _bytes(adapter_precision)
    tgt = parse_targets(targets)

    # --- trainable parameters
    lora_shape = shape
    if matrix is not None:
        lora_shape = None
        lora_n = (matrix[0] + matrix[1]) * rank
    elif peft_like or adapters:
        if lora_shape is None:
            lora_shape = ModelShape.guess(n_params)
            notes.append(
                f"no shape given: LoRA sizes use a guessed Llama-like shape "
                f"({lora_shape.layers} layers, hidden {lora_shape.hidden})"
            )
        lora_n = lora_trainable_params(lora_shape, rank, tgt)
    else:
        lora_n = 0
    if method == "inference":
        n_train = 0
    elif method == "full":
        n_train = n_params
    elif method == "partial":
        n_train = parse_size(trainable, "trainable count") if trainable is not None else n_params // 10
        if trainable is None:
            notes.append("partial: 10% of the parameters train (give --trainable)")
        if n_train > n_params:
            raise UsageError(f"trainable count {n_train} exceeds the parameter count {n_params}")
    elif peft_like:
        n_train = lora_n
        notes.append(f"LoRA r={rank} on {','.join(tgt)}: (d_in + d_out) x r per matrix")
    elif trainable is not None:
        n_train = parse_size(trainable, "trainable count")
    else:
        n_train, why = _peft_small(method, shape or ModelShape.guess(n_params))
        notes.append(why)

    # --- weights
    if method == "qlora":
        q_bytes = NF4_BYTES_PER_PARAM if double_quant else NF4_NO_DQ_BYTES_PER_PARAM
        base16 = M if M >= 2 else 2
        s = shape or ModelShape.guess(n_params)
        linear = min(n_params, s.layers * sum(a * b for a, b in s.matrices().values()))
        weights = linear * q_bytes + (n_params - linear) * base16 + n_train * A_bytes
        notes.append(
            f"QLoRA: decoder linears in NF4 at {q_bytes:.4f} bytes/param (4 bits + "
            f"{'double-quantised ' if double_quant else ''}absmax per 64), embeddings and norms at "
            f"{base16:g} bytes, adapters at {A_bytes:g} bytes"
        )
        M_train = A_bytes
    elif peft_like or (method in ("ia3", "prefix-tuning", "prompt-tuning") and n_train):
        weights = n_params * M + n_train * A_bytes
        M_train = A_bytes
    else:
        weights = n_params * M
        M_train = M
    if mixed_precision and training:
        weights += n_train * 4
        notes.append(
            "mixed precision: 16-bit working weights and gradients, fp32 master weights and "
            "optimizer states (16 bytes per trainable parameter with Adam)"
        )
        M_state = 4.0
    else:
        M_state = M_train
        notes.append(
            f"every value at {precision} ({M:g} bytes)"
            if not peft_like
            else f"base weights at {precision}, trainable values at {adapter_precision}"
        )

    grads = n_train * M_train if training else 0
    k, fixed = OPTIMIZERS[optimizer]
    opt = n_train * k * (fixed if fixed is not None else M_state) if training else 0
    if training:
        notes.append(f"{optimizer}: {k} state(s) per trainable parameter" + (" at 1 byte" if fixed else ""))

    # --- activations
    overhead = 0.0
    head_grad = 0.0
    if shape_mode:
        assert shape is not None
        acts, overhead, head_grad = _activations(
            shape,
            method=method,
            e=max(2.0, min(M, 4.0)) if not mixed_precision else 2.0,
            tokens=batch_size * seq_len,
            n_train=n_train,
            checkpointing=gradient_checkpointing,
            targets=tgt,
            rank=rank,
            adapter_bytes=A_bytes,
            M_train=M_train,
            notes=notes,
        )
        phase_a = acts + overhead + head_grad
        # tied embeddings: the embedding's dense gradient is added out of place to the lm_head's at the
        # very end of backward, so two more vocab x hidden buffers exist next to all the gradients
        tied_tmp = (
            2 * shape.vocab * shape.hidden * M_train if (method == "full" and shape.tie_embeddings) else 0
        )
        phase_g = grads + tied_tmp
        if training and phase_g > phase_a:
            total = weights + opt + phase_g
            overhead = tied_tmp
            notes.append(
                "peak at the end of backward: all gradients"
                + (" plus two vocab x hidden buffers (tied embedding gradient)" if tied_tmp else "")
            )
        else:
            total = weights + opt + phase_a
            if training:
                notes.append("peak at the start of backward: all saved activations and the loss buffers")
    else:
        acts = weights * activation_fraction
        total = weights + acts + grads + opt
        notes.append(
            f"activations and KV cache: {activation_fraction:.0%} of the weights (source 7.3.2; "
            "give --batch-size, --seq-len and a shape to compute them)"
        )

    adapter_info = None
    if adapters:
        base_n = n_params
        adapter_info = {
            "count": adapters,
            "params_per_adapter": lora_n,
            "merged_params": base_n * adapters,
            "separate_params": base_n + lora_n * adapters,
        }
        notes.append(
            f"{adapters} adapters: merged = {adapters} full copies; separate = one base + "
            f"{adapters} x {lora_n:,} adapter parameters"
        )

    return MemoryEstimate(
        total_params=int(n_params),
        trainable_params=int(n_train),
        weights_bytes=_r(weights),
        activations_bytes=_r(acts),
        gradients_bytes=_r(grads),
        optimizer_bytes=_r(opt),
        overhead_bytes=_r(overhead),
        total_bytes=_r(total),
        assumptions=notes,
        method=method,
        precision=precision,
        adapters=adapter_info,
        request=request,
    )


def _r(x: float) -> int:
    return int(round(x))


def _looks_like_size(s: str | Path) -> bool:
    return isinstance(s, str) and bool(_SIZE_RE.match(s.strip().replace(",", "").replace("_", "")))


def _peft_small(method: str, shape: ModelShape) -> tuple[int, str]:
    h, L = shape.hidden, shape.layers
    if method == "ia3":
        return L * (2 * shape.kv * shape.d_head + shape.ffn), "IA3: one scale vector on k, v and the MLP"
    if method == "prefix-tuning":
        return L * 2 * 20 * h, "prefix tuning: 20 virtual tokens of keys and values per layer"
    if method == "prompt-tuning":
        return 20 * h, "prompt tuning: 20 virtual token embeddings"
    return L * (shape.ffn + 4 * h) + h, "BitFit: bias vectors only (as many as a biased model has)"


def _activations(
    shape: ModelShape,
    *,
    method: str,
    e: float,
    tokens: int,
    n_train: int,
    checkpointing: bool,
    targets: tuple[str, ...],
    rank: int,
    adapter_bytes: float,
    M_train: float,
    notes: list[str],
) -> tuple[float, float, float]:
    """(activations, transient overhead, head gradient) bytes at the start of backward, or in inference."""
    h, V, f, L = shape.hidden, shape.vocab, shape.ffn, shape.layers
    kv_width = 2 * shape.kv * shape.d_head
    if method == "inference":
        kv_cache = L * kv_width * e * tokens
        # no_grad: a layer's temporaries live only inside it; the logits of every position at the end
        layer_tmp = (3 * f + 2 * h) * e * tokens
        logits = V * e * tokens
        notes.append(
            f"inference (prefill of {tokens} tokens): KV cache {kv_cache / GB:.3g} GB, "
            f"logits of every position, one layer's temporaries"
        )
        return kv_cache + logits, layer_tmp, 0.0
    full_layers = L
    if method == "partial":
        # the top k blocks train; autograd keeps nothing below the first trainable block
        full_layers = min(L, math.ceil(n_train / max(1, shape.layer_params())))
        notes.append(f"partial: the top {full_layers} of {L} blocks train; nothing is kept below them")
    trainable_layer = method in ("full", "partial")
    per_layer = _layer_saved_bytes(
        shape, e, trainable_layer=trainable_layer, targets=targets, rank=rank, adapter_bytes=adapter_bytes
    )
    n_layers = full_layers if method == "partial" else L
    if method in ("ia3", "prefix-tuning", "prompt-tuning", "bitfit"):
        per_layer = _layer_saved_bytes(shape, e, trainable_layer=False, targets=(), rank=0, adapter_bytes=e)
    head_trains = method == "full"
    head = 4 * V + (4 * h + 2 * e * h + 4 if head_trains else 0) + 16
    # loss buffers at the start of backward: grads of the fp32 log-softmax output and of its input
    loss_tmp = 8 * V
    # backward working memory of one layer (gradients of its activations); it runs after the loss
    # buffers are gone, so the two are not added
    bwd_tmp = (2 * f + 4 * h) * e
    if checkpointing:
        # keep each layer's input; a layer is recomputed only once the head's buffers are freed
        acts = (n_layers * e * h + head) * tokens
        overhead = max(loss_tmp, per_layer + bwd_tmp - head) * tokens
        notes.append("gradient checkpointing: one layer input per layer kept, one layer recomputed")
    else:
        acts = (n_layers * per_layer + head) * tokens
        overhead = max(loss_tmp, bwd_tmp) * tokens
    head_grad = V * h * M_train if head_trains else 0.0
    notes.append(
        f"activations per token: {per_layer:,.0f} bytes per layer x {n_layers} layers"
        f"{' (checkpointed)' if checkpointing else ''} + fp32 log-softmax over {V:,} tokens; "
        "overhead: the loss gradients (8 x vocab bytes per token) or one layer's backward"
    )
    return acts, overhead, head_grad
