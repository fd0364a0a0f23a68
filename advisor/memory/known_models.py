"""Shapes of common open models by name, offline: ``known_model("meta-llama/Llama-3.1-8B")``.

Each entry is the model's Hugging Face ``config.json`` (text model) as a ``ModelShape``, with the
parameter count its model card / safetensors index publishes (``published``). tests/test_memory.py
checks that the count computed from the shape is within 0.5% of the published one. Names match
case-insensitively, with or without the hub organisation, and with ``-hf`` / ``-Instruct`` suffixes.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace

from advisor.errors import UsageError
from advisor.memory.shapes import ModelShape


@dataclass(frozen=True)
class KnownModel:
    """A named shape and its published parameter count."""

    name: str  # the hub id
    shape: ModelShape
    published: int


def _llama(layers: int, hidden: int, heads: int, kv: int, ffn: int, vocab: int, tied: bool) -> ModelShape:
    return ModelShape(
        layers=layers,
        hidden=hidden,
        heads=heads,
        kv_heads=kv,
        intermediate=ffn,
        vocab=vocab,
        tie_embeddings=tied,
    )


def _qwen(layers: int, hidden: int, heads: int, kv: int, ffn: int, vocab: int, tied: bool) -> ModelShape:
    return replace(_llama(layers, hidden, heads, kv, ffn, vocab, tied), qkv_bias=True)


def _gemma2(layers: int, hidden: int, heads: int, kv: int, head_dim: int, ffn: int) -> ModelShape:
    # Gemma 2: head_dim is not hidden / heads, four RMSNorms per layer, tied 256k vocabulary
    return replace(_llama(layers, hidden, heads, kv, ffn, 256000, True), head_dim=head_dim, norms_per_layer=4)


def _gemma3(layers: int, hidden: int, heads: int, kv: int, head_dim: int, ffn: int, vocab: int) -> ModelShape:
    # Gemma 3 adds an RMSNorm on q and on k (head_dim each)
    return replace(_gemma2(layers, hidden, heads, kv, head_dim, ffn), vocab=vocab, qk_norm=True)


#: Gemma 3 4B/12B/27B are image-text models: a SigLIP vision tower (27 layers, width 1152, MLP 4304,
#: 4096 patch positions of 14x14x3) = 416,866,032 parameters, plus a projector (1152 + 1152 x hidden)
_SIGLIP = 27 * (4 * (1152 * 1152 + 1152) + 2 * 1152 * 4304 + 4304 + 1152 + 4 * 1152) + (
    3 * 14 * 14 * 1152 + 1152 + 4096 * 1152 + 2 * 1152
)


def _gemma3_vision(layers: int, hidden: int, heads: int, kv: int, head_dim: int, ffn: int) -> ModelShape:
    text = _gemma3(layers, hidden, heads, kv, head_dim, ffn, 262208)
    return replace(text, extra_params=_SIGLIP + 1152 + 1152 * hidden)


_LLAMA3_8B = _llama(32, 4096, 32, 8, 14336, 128256, False)
_LLAMA3_70B = _llama(80, 8192, 64, 8, 28672, 128256, False)
_PHI3_MINI = _llama(32, 3072, 32, 32, 8192, 32064, False)

#: (hub id, shape, published parameter count)
_TABLE: tuple[tuple[str, ModelShape, int], ...] = (
    # LLaMA 1 (the QLoRA paper's Guanaco bases), as converted to HF by huggyllama
    ("huggyllama/llama-7b", _llama(32, 4096, 32, 32, 11008, 32000, False), 6_738_415_616),
    ("huggyllama/llama-13b", _llama(40, 5120, 40, 40, 13824, 32000, False), 13_015_864_320),
    ("huggyllama/llama-30b", _llama(60, 6656, 52, 52, 17920, 32000, False), 32_528_943_616),
    ("huggyllama/llama-65b", _llama(80, 8192, 64, 64, 22016, 32000, False), 65_285_660_672),
    ("meta-llama/Llama-2-7b-hf", _llama(32, 4096, 32, 32, 11008, 32000, False), 6_738_415_616),
    ("meta-llama/Llama-2-13b-hf", _llama(40, 5120, 40, 40, 13824, 32000, False), 13_015_864_320),
    ("meta-llama/Llama-2-70b-hf", _llama(80, 8192, 64, 8, 28672, 32000, False), 68_976_648_192),
    ("meta-llama/Meta-Llama-3-8B", _LLAMA3_8B, 8_030_261_248),
    ("meta-llama/Meta-Llama-3-70B", _LLAMA3_70B, 70_553_706_496),
    ("meta-llama/Llama-3.1-8B", _LLAMA3_8B, 8_030_261_248),
    ("meta-llama/Llama-3.1-70B", _LLAMA3_70B, 70_553_706_496),
    ("meta-llama/Llama-3.1-405B", _llama(126, 16384, 128, 8, 53248, 128256, False), 405_853_388_800),
    ("meta-llama/Llama-3.2-1B", _llama(16, 2048, 32, 8, 8192, 128256, True), 1_235_814_400),
    ("meta-llama/Llama-3.2-3B", _llama(28, 3072, 24, 8, 8192, 128256, True), 3_212_749_824),
    ("meta-llama/Llama-3.3-70B-Instruct", _LLAMA3_70B, 70_553_706_496),
    ("Qwen/Qwen2.5-0.5B", _qwen(24, 896, 14, 2, 4864, 151936, True), 494_032_768),
    ("Qwen/Qwen2.5-1.5B", _qwen(28, 1536, 12, 2, 8960, 151936, True), 1_543_714_304),
    ("Qwen/Qwen2.5-3B", _qwen(36, 2048, 16, 2, 11008, 151936, True), 3_085_938_688),
    ("Qwen/Qwen2.5-7B", _qwen(28, 3584, 28, 4, 18944, 152064, False), 7_615_616_512),
    ("Qwen/Qwen2.5-14B", _qwen(48, 5120, 40, 8, 13824, 152064, False), 14_770_033_664),
    ("Qwen/Qwen2.5-32B", _qwen(64, 5120, 40, 8, 27648, 152064, False), 32_763_876_352),
    ("Qwen/Qwen2.5-72B", _qwen(80, 8192, 64, 8, 29568, 152064, False), 72_706_203_648),
    ("mistralai/Mistral-7B-v0.1", _llama(32, 4096, 32, 8, 14336, 32000, False), 7_241_732_096),
    (
        "mistralai/Mixtral-8x7B-v0.1",
        replace(_llama(32, 4096, 32, 8, 14336, 32000, False), experts=8, experts_active=2),
        46_702_792_704,
    ),
    ("google/gemma-2-2b", _gemma2(26, 2304, 8, 4, 256, 9216), 2_614_341_888),
    ("google/gemma-2-9b", _gemma2(42, 3584, 16, 8, 256, 14336), 9_241_705_984),
    ("google/gemma-2-27b", _gemma2(46, 4608, 32, 16, 128, 36864), 27_227_128_320),
    ("google/gemma-3-1b-pt", _gemma3(26, 1152, 4, 1, 256, 6912, 262144), 999_885_952),
    ("google/gemma-3-4b-pt", _gemma3_vision(34, 2560, 8, 4, 256, 10240), 4_300_079_472),
    ("google/gemma-3-12b-pt", _gemma3_vision(48, 3840, 16, 8, 256, 15360), 12_187_325_040),
    ("google/gemma-3-27b-pt", _gemma3_vision(62, 5376, 32, 16, 128, 21504), 27_432_406_640),
    ("microsoft/Phi-3-mini-4k-instruct", _PHI3_MINI, 3_821_079_552),
    ("microsoft/Phi-3-medium-4k-instruct", _llama(40, 5120, 40, 10, 17920, 32064, False), 13_960_238_080),
    ("microsoft/Phi-3.5-mini-instruct", _PHI3_MINI, 3_821_079_552),
    ("HuggingFaceTB/SmolLM2-135M", _llama(30, 576, 9, 3, 1536, 49152, True), 134_515_008),
    ("HuggingFaceTB/SmolLM2-360M", _llama(32, 960, 15, 5, 2560, 49152, True), 361_821_120),
    ("HuggingFaceTB/SmolLM2-1.7B", _llama(24, 2048, 32, 32, 8192, 49152, True), 1_711_376_384),
)

KNOWN_MODELS: tuple[KnownModel, ...] = tuple(
    KnownModel(hub_id, replace(shape, name=hub_id), published) for hub_id, shape, published in _TABLE
)

_SUFFIXES = ("-hf", "-instruct", "-it", "-pt", "-chat", "-base", "-4k", "-128k", "-v0.1")


def _key(name: str) -> str:
    """``"meta-llama/Meta-Llama-3.1-8B-Instruct"`` -> ``"llama-3.1-8b"``: the lookup key of a name."""
    k = name.strip().lower().rsplit("/", 1)[-1].replace("_", "-").replace(" ", "-")
    k = k.removeprefix("meta-")
    changed = True
    while changed:
        changed = False
        for suffix in _SUFFIXES:
            if k.endswith(suffix) and len(k) > len(suffix):
                k, changed = k[: -len(suffix)], True
    return k


_BY_KEY: dict[str, KnownModel] = {}
for _m in KNOWN_MODELS:
    _BY_KEY.setdefault(_key(_m.name), _m)


def known_model_entry(name: str) -> KnownModel | None:
    """The table entry for ``name`` (case-insensitive, hub organisation optional), or None."""
    return _BY_KEY.get(_key(name))


def known_model(name: str) -> ModelShape | None:
    """The shape of a model the table knows by name, or None (``advisor diagnose --model NAME`` uses it)."""
    entry = known_model_entry(name)
    return entry.shape if entry else None


def known_names() -> tuple[str, ...]:
    """Every hub id in the table."""
    return tuple(m.name for m in KNOWN_MODELS)


def unknown_model_error(name: str) -> UsageError:
    """An error for a name that is neither a path nor in the table, naming the closest known models."""
    keys = list(_BY_KEY)
    close = difflib.get_close_matches(_key(name), keys, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(_BY_KEY[c].name for c in close)}?" if close else ""
    return UsageError(
        f"no such file or folder, and no known model named {name!r}{hint} "
        "(give a config.json, a model folder, a .gguf, or a name from docs/memory.md)"
    )
