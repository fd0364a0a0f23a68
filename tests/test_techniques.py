"""Every registered technique on a tiny random Llama with a tiny in-test tokenizer (no hub, no lm-eval).

For each technique: its skip reason on a CPU, ``apply`` -> a System that generates, the trainable
parameters it claims, a recorded train loss, and what prompt rewrites put in the prompt. Also:
saving and reloading a LoRA adapter gives identical logits, and ``--set`` settings are checked.
"""

from __future__ import annotations

import math
import re

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("peft")

from advisor.errors import UsageError  # noqa: E402
from advisor.plugins import get_registry  # noqa: E402
from advisor.train.technique import Environment, TaskData, count_parameters  # noqa: E402
from tests.conftest import BUILTIN_TECHNIQUES  # noqa: E402

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|> {{ m['role'] }} {{ m['content'] }} <|im_end|> {% endfor %}"
    "{% if add_generation_prompt %}<|im_start|> assistant {% endif %}"
)
SPECIALS = ["<unk>", "<pad>", "<|im_start|>", "<|im_end|>"]

TRAIN = [
    {"prompt": "what colour is the sky", "target": "blue"},
    {"prompt": "what colour is grass", "target": "green"},
    {"prompt": "what colour is snow", "target": "white"},
    {"prompt": "what colour is coal", "target": "black"},
    {"prompt": "how many legs has a cat", "target": "four"},
    {"prompt": "how many legs has a bird", "target": "two"},
    {"prompt": "how many legs has a spider", "target": "eight"},
    {"prompt": "how many legs has a snake", "target": "zero"},
]
CORPUS = [
    ("zebra.txt", "the zebra has black and white stripes"),
    ("volcano.txt", "a volcano erupts hot lava and ash"),
    ("glacier.txt", "a glacier is a slow river of ice"),
    ("harbour.txt", "ships rest in the harbour at night"),
]
QUESTION = "what erupts from a volcano"

#: small training everywhere: two optimizer steps on short sequences
FAST = {"max_steps": 2, "batch_size": 4, "max_length": 48, "warmup_steps": 1, "val_fraction": 0.0}
#: per-technique settings that keep the tiny model tiny
TINY = {
    "prefix-tuning": {"virtual_tokens": 4},
    "prompt-tuning": {"virtual_tokens": 4},
    "p-tuning": {"virtual_tokens": 4, "encoder_hidden": 16},
    "partial-ft": {"layers": 1},
    "few-shot": {"k": 2},
    "bm25-rag": {"k": 1},
    "embedding-rag": {"k": 1},
}
HIDDEN_LAYERS = 2


def tiny_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = set()
    for text in [QUESTION] + [r["prompt"] + " " + r["target"] for r in TRAIN] + [p for _, p in CORPUS]:
        words.update(re.findall(r"\w+", text.lower()))
    words.update(
        ["user", "assistant", "answer", "example", "here", "are", "solved", "examples", "of", "task"]
    )
    vocab = {tok: i for i, tok in enumerate(SPECIALS + sorted(words))}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = transformers.PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token="<unk>",
        pad_token="<pad>",
        eos_token="<|im_end|>",
        bos_token="<|im_start|>",
    )
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tok.chat_template = CHAT_TEMPLATE
    return tok


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def tiny_model(tokenizer, seed: int = 0):
    torch.manual_seed(seed)
    cfg = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=HIDDEN_LAYERS,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    return transformers.LlamaForCausalLM(cfg).eval()


def task_data():
    return TaskData("tiny", [dict(r) for r in TRAIN], list(CORPUS))


ALL = get_registry().techniques
ENV = Environment(device="cpu", seed=0, progress=False)


def test_every_issue_technique_is_registered():
    assert set(ALL) >= BUILTIN_TECHNIQUES
    for t in ALL.values():
        d = t.describe()
        assert d["kind"] in ("prompting", "retrieval", "peft", "full", "merge")
        assert set(d) >= {"name", "kind", "requires", "description", "defaults", "settings"}
        assert [s["name"] for s in d["settings"]] == list(d["defaults"])


@pytest.mark.parametrize("name", sorted(ALL))
def test_skip_reason_on_cpu(name):
    reason = ALL[name].skip_reason(ENV)
    if name == "qlora":
        assert reason and "CUDA" in reason
    else:
        assert reason is None


def _settings(technique):
    overrides = dict(TINY.get(technique.name, {}))
    overrides.update({k: v for k, v in FAST.items() if k in technique.defaults})
    if "r" in technique.defaults:
        overrides["r"] = 4
    if "r1" in technique.defaults:
        overrides.update(r1=4, r2=2)
    return technique.settings(overrides)


def _generate(system, tokenizer):
    text = system.prompt(QUESTION)
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        out = system.model.generate(
            input_ids=ids["input_ids"],
            attention_mask=ids["attention_mask"],
            max_new_tokens=3,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
    assert out.shape[-1] >= ids["input_ids"].shape[-1] + 1
    return out


@pytest.mark.parametrize("name", [n for n in sorted(ALL) if n != "qlora"])
def test_apply_gives_a_system_that_generates(name, tokenizer):
    technique = ALL[name]
    model = tiny_model(tokenizer)
    _, base_total = count_parameters(model)
    system = technique.apply(model, tokenizer, task_data(), _settings(technique), ENV)
    assert system.tokenizer is tokenizer
    _generate(system, tokenizer)
    info = system.info
    kind = technique.kind

    if kind in ("prompting", "retrieval"):
        assert info["trainable_params"] == 0
        rewritten = system.prompt(QUESTION)
        assert rewritten.endswith(QUESTION)
        if name == "prompting":
            assert rewritten == QUESTION
        elif name == "few-shot":
            assert sum(r["prompt"] in rewritten for r in TRAIN) == 2
            assert sum(f"Answer: {r['target']}" in rewritten for r in TRAIN) >= 2
        else:  # the volcano passage is the one that answers
            assert "a volcano erupts hot lava and ash" in rewritten
            assert sum(p in rewritten for _, p in CORPUS) == 1
        return

    # trainable techniques: loss recorded, parameter counts as the technique promises
    train = info["train"]
    expected_steps = FAST["max_steps"] * (2 if kind == "merge" else 1)
    assert train["steps"] == expected_steps
    assert len(train["train_loss"]) == expected_steps
    assert all(math.isfinite(loss) and loss > 0 for loss in train["train_loss"])
    assert train["tokens"] > 0 and train["tokens_per_s"] > 0
    trainable, total = info["trainable_params"], info["total_params"]
    assert 0 < trainable <= total

    named = dict(system.model.named_parameters())
    if name == "full-ft":
        assert trainable == total == base_total
    elif name == "bitfit":
        grads = [n for n, p in named.items() if p.requires_grad]
        assert grads and all(n.endswith(".bias") for n in grads)
        assert trainable == sum(named[n].numel() for n in grads) < total
    elif name == "partial-ft":
        last = HIDDEN_LAYERS - 1
        grads = [n for n, p in named.items() if p.requires_grad]
        assert grads and all(
            n.startswith(f"model.layers.{last}.") or n.startswith("model.norm.") for n in grads
        )
        assert any(n.startswith(f"model.layers.{last}.") for n in grads)
    elif name in ("lora", "ia3"):
        assert trainable < total
        tag = "lora_" if name == "lora" else "ia3_"
        grads = [n for n, p in named.items() if p.requires_grad]
        assert grads and all(tag in n for n in grads)
        if name == "lora":  # r=4 on q_proj and v_proj (32x32) in 2 layers
            assert trainable == HIDDEN_LAYERS * 2 * (4 * 32 + 32 * 4)
    elif kind == "peft":  # prompt learning: a small trainable prompt, the base frozen
        assert trainable < total / 4
    elif kind == "merge":
        merge = info["merge"]
        assert trainable < total
        assert [a["trainable_params"] for a in merge["adapters"]] and sum(
            a["trainable_params"] for a in merge["adapters"]
        ) == trainable
        assert sum(a["rows"] for a in merge["adapters"]) == len(TRAIN)  # two halves
        assert not any(p.requires_grad for p in system.model.parameters())
        if name == "merge-slerp":
            assert merge["folded_into_base"] and not hasattr(system.model, "peft_config")
        else:
            assert list(system.model.peft_config) == ["merged"]
            r = system.model.peft_config["merged"].r
            assert r == (4 + 2 if name == "merge-concat" else 4)


def test_lora_adapter_saves_and_reloads_with_identical_logits(tokenizer, tmp_path):
    from peft import PeftModel

    lora = ALL["lora"]
    system = lora.apply(tiny_model(tokenizer), tokenizer, task_data(), _settings(lora), ENV)
    system.model.save_pretrained(tmp_path / "adapter")
    assert (tmp_path / "adapter" / "adapter_config.json").exists()
    assert (tmp_path / "adapter" / "adapter_model.safetensors").exists()
    reloaded = PeftModel.from_pretrained(tiny_model(tokenizer), tmp_path / "adapter").eval()
    ids = tokenizer(QUESTION, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        want = system.model(input_ids=ids).logits
        got = reloaded(input_ids=ids).logits
        base = tiny_model(tokenizer)(input_ids=ids).logits
    assert torch.equal(want, got)
    assert not torch.allclose(want, base)  # the trained adapter does something


def test_merged_adapter_saves_only_the_merge(tokenizer, tmp_path):
    tech = ALL["merge-linear"]
    system = tech.apply(tiny_model(tokenizer), tokenizer, task_data(), _settings(tech), ENV)
    system.model.save_pretrained(tmp_path / "adapter")
    configs = sorted(p.parent.name for p in (tmp_path / "adapter").rglob("adapter_config.json"))
    assert configs == ["merged"]


def test_unknown_setting_names_the_valid_keys():
    with pytest.raises(UsageError) as err:
        ALL["lora"].settings({"rank": "16"})
    message = str(err.value)
    assert "rank" in message
    for key in ("r", "alpha", "learning_rate", "targets"):
        assert re.search(rf"\b{key}\b", message)
    with pytest.raises(UsageError, match="does not take"):
        ALL["prompting"].settings({"k": "3"})


def test_set_values_are_coerced_to_the_default_type():
    s = ALL["lora"].settings({"r": "16", "learning_rate": "3e-4", "gradient_checkpointing": "true"})
    assert s["r"] == 16 and isinstance(s["r"], int)
    assert s["learning_rate"] == pytest.approx(3e-4)
    assert s["gradient_checkpointing"] is True
    assert ALL["merge-ties"].settings({"density": "0.7"})["density"] == pytest.approx(0.7)
    assert ALL["merge-concat"].settings({"r1": "6", "r2": "2"})["r2"] == 2
    with pytest.raises(UsageError, match="expected a int"):
        ALL["lora"].settings({"r": "sixteen"})


def test_merge_settings_are_checked_before_apply(tokenizer):
    with pytest.raises(UsageError, match="method"):
        ALL["merge-ties"].settings({"method": "svd"})
    with pytest.raises(UsageError, match="weights"):
        ALL["merge-linear"].settings({"weights": "1"})
    # apply still checks a settings dict that did not come through settings()
    bad = {**ALL["merge-ties"].defaults, "method": "svd"}
    with pytest.raises(UsageError, match="method"):
        ALL["merge-ties"].apply(tiny_model(tokenizer), tokenizer, task_data(), bad, ENV)
    bad = {**ALL["merge-linear"].defaults, "weights": "1"}
    with pytest.raises(UsageError, match="weights"):
        ALL["merge-linear"].apply(tiny_model(tokenizer), tokenizer, task_data(), bad, ENV)


@pytest.mark.parametrize(
    "name",
    [
        "lora",
        "ia3",
        "prompt-tuning",
        "p-tuning",
        # PEFT 0.21 passes the prefix as past_key_values, which transformers 5's generate() overrides with its
        # own cache unless peft_methods._pass_prefix_as_cache moves it: this catches a regression of that fix.
        "prefix-tuning",
    ],
)
def test_generation_uses_what_was_trained(name, tokenizer):
    """The first generated token's scores equal the forward pass's last logits (the adapter is active)."""
    technique = ALL[name]
    settings = _settings(technique)
    settings["learning_rate"] = 0.05
    system = technique.apply(tiny_model(tokenizer), tokenizer, task_data(), settings, ENV)
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": QUESTION}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        forward = system.model(**ids).logits[0, -1]
        scores = system.model.generate(
            **ids,
            max_new_tokens=1,
            do_sample=False,
            output_scores=True,
            return_dict_in_generate=True,
            pad_token_id=tokenizer.pad_token_id,
        ).scores[0][0]
        base = tiny_model(tokenizer)(**ids).logits[0, -1]
    assert not torch.allclose(forward, base, atol=1e-4)  # training changed the model
    torch.testing.assert_close(scores, forward, atol=1e-4, rtol=1e-4)
