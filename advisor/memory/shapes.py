"""Model shapes: ``ModelShape``, reading one from a config.json / model folder / .gguf, LoRA targets.

``shape_from_config`` imports the ``gguf`` package only for ``.gguf`` files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor.errors import InputError, UsageError, did_you_mean

#: the linears of a decoder layer that LoRA can adapt
TARGETS = ("q", "k", "v", "o", "gate", "up", "down")
#: the MLP's linears (one set per expert in a mixture of experts)
MLP_TARGETS = ("gate", "up", "down")


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
    #: mixture of experts: each layer holds ``experts`` MLPs (and a router), a token uses ``experts_active``
    experts: int = 1
    experts_active: int | None = None
    #: biases on q, k, v (Qwen2), norms per layer (Gemma 2/3: 4), RMSNorm on q and k per head (Gemma 3)
    qkv_bias: bool = False
    norms_per_layer: int = 2
    qk_norm: bool = False
    #: parameters outside the decoder (a vision tower): counted in the weights, never in activations
    extra_params: int = 0

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

    @property
    def active_experts(self) -> int:
        """MLPs a token passes through (1 for a dense model)."""
        return min(self.experts, self.experts_active or self.experts) if self.experts > 1 else 1

    def linear_params(self) -> int:
        """Weights of one layer's linears, every expert's MLP included (what QLoRA quantises)."""
        total = 0
        for name, (a, b) in self.matrices().items():
            total += a * b * (self.experts if name in MLP_TARGETS else 1)
        return total

    def layer_params(self) -> int:
        h = self.hidden
        extra = self.norms_per_layer * h
        if self.qkv_bias:
            extra += (self.heads + 2 * self.kv) * self.d_head
        if self.qk_norm:
            extra += 2 * self.d_head
        if self.experts > 1:
            extra += h * self.experts  # the router
        return self.linear_params() + extra

    def embedding_params(self) -> int:
        return self.vocab * self.hidden * (1 if self.tie_embeddings else 2)

    def largest_param(self) -> int:
        """Elements of the largest single parameter tensor (the embedding, or the widest linear)."""
        return max([self.vocab * self.hidden, *(a * b for a, b in self.matrices().values())])

    def params(self) -> int:
        if self.params_override:
            return self.params_override
        return self.layers * self.layer_params() + self.embedding_params() + self.hidden + self.extra_params

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
    gemma = model_type.startswith(("gemma2", "gemma3"))
    return ModelShape(
        experts=int(get("num_local_experts", "num_experts", default=1) or 1),
        experts_active=get("num_experts_per_tok"),
        qkv_bias=bool(get("attention_bias", default=model_type.startswith("qwen2"))),
        norms_per_layer=4 if gemma else 2,
        qk_norm=model_type.startswith("gemma3"),
        layers=int(layers),
        hidden=int(hidden),
        heads=int(heads),
        kv_heads=get("num_key_value_heads", "n_head_kv", "num_kv_heads"),
        intermediate=get("intermediate_size", "n_inner", "ffn_dim"),
        vocab=int(get("vocab_size", default=32000)),
        tie_embeddings=bool(get("tie_word_embeddings", default=model_type == "gpt2" or gemma)),
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
        t = "lm_head" if t == "output" else t  # torchtune's name for it (apply_lora_to_output)
        if not t:
            continue
        # "all" is PEFT's "all-linear": every decoder linear, not the lm_head
        names = TARGETS if t in ("all", "all-linear") else (t,)
        if t not in (*TARGETS, "lm_head", "all", "all-linear"):
            raise did_you_mean(t, (*TARGETS, "lm_head"), "LoRA target")
        out.extend(n for n in names if n not in out)
    if not out:
        raise UsageError("no LoRA targets given (choose from q,k,v,o,gate,up,down)")
    return tuple(out)


def lora_trainable_params(shape: ModelShape, rank: int, targets: str | Iterable[str] = "q,k,v,o") -> int:
    """Sum over adapted matrices of (d_in + d_out) x r, for every layer (LoRA paper, source 7.4)."""
    mats, names = shape.matrices(), parse_targets(targets)
    per_layer = sum(
        (mats[t][0] + mats[t][1]) * rank * (shape.experts if t in MLP_TARGETS else 1)
        for t in names
        if t in mats
    )
    head = (shape.hidden + shape.vocab) * rank if "lm_head" in names else 0
    return shape.layers * per_layer + head


def lora_matrix_outputs(shape: ModelShape, targets: str | Iterable[str]) -> int:
    """Sum of d_out over the adapted matrices of every layer: DoRA's magnitude vectors."""
    mats, names = shape.matrices(), parse_targets(targets)
    per_layer = sum(mats[t][1] * (shape.experts if t in MLP_TARGETS else 1) for t in names if t in mats)
    return shape.layers * per_layer + (shape.vocab if "lm_head" in names else 0)
