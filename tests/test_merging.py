"""Merge identities: one LoRA adapter merged alone at weight 1.0 gives that adapter's outputs.

Tiny random Llama models built from a config; the adapters get random (non-zero) A and B so that
they change the outputs and the identity is not trivially about zero deltas.
"""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")

from advisor_plugins.techniques.merging import merge_adapters, slerp  # noqa: E402

TARGETS = ["q_proj", "v_proj"]


def tiny_llama(seed: int = 0):
    torch.manual_seed(seed)
    cfg = transformers.LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=64,
    )
    return transformers.LlamaForCausalLM(cfg).eval()


def lora(r: int, alpha: int = 16):
    # init_lora_weights=False: B random too, so the adapter changes the outputs
    return peft.LoraConfig(
        r=r, lora_alpha=alpha, lora_dropout=0.0, target_modules=TARGETS, init_lora_weights=False
    )


def with_adapters(*ranks: int, seed: int = 1):
    torch.manual_seed(seed)
    model = peft.get_peft_model(tiny_llama(), lora(ranks[0]), adapter_name="one")
    for i, r in enumerate(ranks[1:]):
        model.add_adapter(("two", "three")[i], lora(r))
    return model.eval()


IDS = torch.tensor([[1, 5, 9, 13, 2, 40, 7], [3, 3, 8, 60, 11, 12, 4]])


def logits(model):
    with torch.no_grad():
        return model(input_ids=IDS).logits


def reference(model, name="one"):
    model.set_adapter(name)
    out = logits(model)
    with model.disable_adapter():
        base = logits(model)
    assert not torch.allclose(out, base, atol=1e-4), "the adapter should change the outputs"
    return out


@pytest.mark.parametrize("method", ["linear", "ties", "dare_ties", "dare_linear", "cat", "slerp"])
def test_single_adapter_at_weight_one_is_identity(method):
    model = with_adapters(8)
    expected = reference(model)
    merged = merge_adapters(model, ["one"], [1.0], method, density=1.0)
    if method == "slerp":
        assert not hasattr(merged, "peft_config")  # folded into the base weights
    else:
        assert list(merged.peft_config) == ["merged"] and merged.active_adapter == "merged"
    torch.testing.assert_close(logits(merged), expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("method", ["ties", "dare_ties"])
def test_ties_of_an_adapter_with_its_copy_is_identity(method):
    """PEFT routes a single adapter to its linear path; two equal adapters go through TIES itself
    (trim at density 1.0, sign election, disjoint mean) and must give the adapter back."""
    model = with_adapters(8, 8)
    for _, layer in model.named_modules():
        if hasattr(layer, "lora_A") and "two" in getattr(layer, "lora_A", {}):
            layer.lora_A["two"].weight.data.copy_(layer.lora_A["one"].weight.data)
            layer.lora_B["two"].weight.data.copy_(layer.lora_B["one"].weight.data)
    expected = reference(model)
    merged = merge_adapters(model, ["one", "two"], [1.0, 1.0], method, density=1.0)
    torch.testing.assert_close(logits(merged), expected, atol=1e-5, rtol=1e-4)


def test_concat_has_rank_r1_plus_r2_and_sums_the_deltas():
    model = with_adapters(8, 4)
    deltas = {}
    for name, layer in model.named_modules():
        if hasattr(layer, "get_delta_weight") and "one" in getattr(layer, "lora_A", {}):
            deltas[name] = 0.3 * layer.get_delta_weight("one") + 0.7 * layer.get_delta_weight("two")
    merged = merge_adapters(model, ["one", "two"], [0.3, 0.7], "cat")
    assert merged.peft_config["merged"].r == 12
    seen = 0
    for name, layer in merged.named_modules():
        if name in deltas:
            assert layer.lora_A["merged"].weight.shape[0] == 12
            assert layer.lora_B["merged"].weight.shape[1] == 12
            torch.testing.assert_close(layer.get_delta_weight("merged"), deltas[name], atol=1e-6, rtol=1e-5)
            seen += 1
    assert seen == 2 * len(TARGETS)


def test_slerp_of_two_adapters_folds_into_the_base():
    model = with_adapters(8, 8)
    base = copy.deepcopy(model.get_base_model())
    expected = {}
    for name, layer in model.named_modules():
        if hasattr(layer, "get_delta_weight") and "one" in getattr(layer, "lora_A", {}):
            expected[name.removeprefix("base_model.model.")] = slerp(
                layer.get_delta_weight("one"), layer.get_delta_weight("two"), 0.5
            )
    merged = merge_adapters(model, ["one", "two"], [0.5, 0.5], "slerp")
    modules = dict(merged.named_modules())
    for name, module in dict(base.named_modules()).items():
        if name in expected:
            torch.testing.assert_close(
                modules[name].weight - module.weight, expected[name], atol=1e-6, rtol=1e-5
            )


def test_slerp_math():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    mid = slerp(a, b, 0.5)
    torch.testing.assert_close(mid, torch.tensor([2**-0.5, 2**-0.5]))
    torch.testing.assert_close(slerp(a, b, 0.0), a)
    torch.testing.assert_close(slerp(a, b, 1.0), b)
    torch.testing.assert_close(slerp(a, 2 * a, 0.5), 1.5 * a)  # parallel: linear
    torch.testing.assert_close(slerp(a, torch.zeros(2), 0.5), 0.5 * a)  # zero delta: linear


def test_bad_merge_input():
    from advisor.errors import UsageError

    model = with_adapters(8, 8)
    with pytest.raises(UsageError, match="unknown merge method"):
        merge_adapters(model, ["one", "two"], [0.5, 0.5], "svd-ish")
    with pytest.raises(UsageError, match="one weight per adapter"):
        merge_adapters(model, ["one", "two"], [1.0], "linear")
    with pytest.raises(UsageError, match="density"):
        merge_adapters(model, ["one", "two"], [1.0, 1.0], "ties", density=0.0)
