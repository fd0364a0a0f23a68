"""GPU check of the trainable techniques: LoRA, QLoRA and full fine-tuning with bf16 autocast.

Trains each technique for a few steps through advisor's own training loop on a random-init
Llama model of a real shape (default: the Llama-3.2-1B shape with SmolLM2's tokenizer and
vocabulary), on the json_extract training prompts, and reports training tokens/s and
``torch.cuda.max_memory_allocated`` (the calculator's own GPU comparison is benchmarks/perf/gpu_memory.py).

    python benchmarks/perf/gpu_techniques.py --tokenizer DIR [--steps 20] [--out results.json]
    python benchmarks/perf/gpu_techniques.py --tokenizer DIR --tiny     # CPU smoke test of the code path

QLoRA needs CUDA and bitsandbytes; on a CPU it is reported as skipped.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "plugins"))

SHAPES = {
    "llama-1b": dict(
        hidden_size=2048,
        num_hidden_layers=16,
        num_attention_heads=32,
        num_key_value_heads=8,
        intermediate_size=8192,
    ),
    "tiny": dict(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=128,
    ),
}


def rows(limit: int) -> list[dict]:
    out = []
    with (ROOT / "benchmarks" / "tasks" / "json_extract" / "train.jsonl").open() as fh:
        for line in fh:
            d = json.loads(line)
            out.append({"prompt": d["input"], "target": d["target"]})
            if len(out) >= limit:
                break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokenizer", required=True, type=Path)
    ap.add_argument("--shape", default="llama-1b", choices=sorted(SHAPES))
    ap.add_argument("--tiny", action="store_true", help="tiny shape, a few steps (CPU smoke test)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--techniques", default="lora,qlora,full-ft")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from advisor.train.loop import TrainConfig, train
    from advisor.train.technique import Environment, count_parameters
    from advisor_plugins.techniques.finetune import FullFT
    from advisor_plugins.techniques.peft_methods import Lora, QLora

    shape = SHAPES["tiny" if args.tiny else args.shape]
    steps = 2 if args.tiny else args.steps
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tok = AutoTokenizer.from_pretrained(args.tokenizer)
    config = LlamaConfig(
        vocab_size=len(tok),
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        **shape,
    )
    data = rows(args.batch_size * steps + 16)
    env = Environment(device=device, progress=False)
    techniques = {"lora": Lora(), "qlora": QLora(), "full-ft": FullFT()}
    saved = Path(tempfile.mkdtemp(prefix="gpu-model-"))
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(saved)  # QLoRA reloads the base in 4-bit from here
    results = []
    for name in args.techniques.split(","):
        technique = techniques[name]
        reason = technique.skip_reason(env)
        if reason:
            results.append({"technique": name, "status": "skipped", "reason": reason})
            print(f"{name}: skipped ({reason})", flush=True)
            continue
        settings = technique.settings(
            {
                "max_steps": steps,
                "batch_size": args.batch_size,
                "max_length": args.max_length,
                "val_fraction": 0.0,
            }
        )
        model = LlamaForCausalLM.from_pretrained(saved, torch_dtype=torch.float32).to(device)
        if device == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        model = technique.prepare(model, settings, env)
        trainable, total = count_parameters(model)
        stats = train(model, tok, data, TrainConfig.from_settings(settings), env)
        row = {
            "technique": name,
            "status": "ok",
            "device": device,
            "shape": "tiny" if args.tiny else args.shape,
            "trainable_params": trainable,
            "total_params": total,
            "steps": stats.steps,
            "batch_size": args.batch_size,
            "max_length": args.max_length,
            "tokens_per_s": round(stats.tokens_per_s, 1),
            "seconds": round(time.perf_counter() - started, 1),
            "loss_first": stats.train_loss[0],
            "loss_last": stats.train_loss[-1],
        }
        if device == "cuda":
            row["peak_cuda_bytes"] = int(torch.cuda.max_memory_allocated())
            row["gpu"] = torch.cuda.get_device_name()
        results.append(row)
        print(json.dumps(row), flush=True)
        del model
        gc.collect()
        if device == "cuda":
            torch.cuda.empty_cache()
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    print(f"\n{'technique':<10}{'status':<9}{'trainable':>14}{'tokens/s':>11}{'peak GB':>9}")
    for r in results:
        peak = f"{r['peak_cuda_bytes'] / 1e9:.2f}" if "peak_cuda_bytes" in r else "-"
        print(
            f"{r['technique']:<10}{r['status']:<9}{r.get('trainable_params', 0):>14,}"
            f"{r.get('tokens_per_s', 0):>11}{peak:>9}"
        )


if __name__ == "__main__":
    main()
