"""Predicted vs measured peak GPU memory (torch.cuda.max_memory_allocated) for full, LoRA and QLoRA.

    python3 benchmarks/perf/gpu_memory.py            # on a CUDA machine, ~2 minutes on one H100
    python3 benchmarks/perf/gpu_memory.py --dry-run  # tiny config on CPU: exercises every code path

Random-initialised Llama models of two real shapes (Llama-3.2-1B and Llama-3.2-3B; values do not
change memory) in bf16, trained for three steps per setting with fused AdamW (the Hugging Face Trainer
default), ``zero_grad(set_to_none=True)``, SDPA attention. LoRA: r=8 on q,k,v,o through peft (adapters
upcast to fp32, peft's default). QLoRA: every decoder linear replaced by a bitsandbytes NF4
``Linear4bit`` with double quantisation (compute in bf16), embeddings and norms kept in bf16, then the
same LoRA. The peak allocator figure leaves out the CUDA context (~0.5 GB, outside the allocator).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from advisor.memory import ModelShape, estimate  # noqa: E402

SHAPES = {
    "llama-1b": ModelShape(
        layers=16,
        hidden=2048,
        heads=32,
        kv_heads=8,
        intermediate=8192,
        vocab=128256,
        tie_embeddings=True,
        name="Llama-3.2-1B shape",
    ),
    "llama-3b": ModelShape(
        layers=28,
        hidden=3072,
        heads=24,
        kv_heads=8,
        intermediate=8192,
        vocab=128256,
        tie_embeddings=True,
        name="Llama-3.2-3B shape",
    ),
}
TINY = {
    "tiny": ModelShape(
        layers=2,
        hidden=256,
        heads=8,
        kv_heads=2,
        intermediate=704,
        vocab=1000,
        tie_embeddings=True,
        name="tiny",
    )
}
SETTINGS = [(2, 512), (4, 1024)]
METHODS = ["full", "lora", "qlora"]
EXTRA = [("llama-3b", "full", True, (4, 1024)), ("llama-3b", "lora", True, (4, 1024))]  # checkpointing
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]


def build(shape: ModelShape, method: str, device: str, gc_on: bool):
    import torch
    from transformers import AutoModelForCausalLM

    cfg = shape.llama_config()
    dtype = torch.bfloat16
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=dtype)
    if method == "qlora":
        import bitsandbytes as bnb

        for layer in model.model.layers:
            for parent in (layer.self_attn, layer.mlp):
                for name, lin in list(parent.named_children()):
                    if not isinstance(lin, torch.nn.Linear):
                        continue
                    q = bnb.nn.Linear4bit(
                        lin.in_features,
                        lin.out_features,
                        bias=False,
                        compute_dtype=dtype,
                        compress_statistics=True,
                        quant_type="nf4",
                        device="meta",
                    )
                    q.weight = bnb.nn.Params4bit(
                        lin.weight.data, requires_grad=False, quant_type="nf4", compress_statistics=True
                    )
                    q = q.to(device)  # quantises on the way to the GPU
                    setattr(parent, name, q)
                    del lin
        model.is_loaded_in_4bit = True  # what peft looks at to pick its bnb LoRA layer
    if gc_on:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False
    if method in ("lora", "qlora"):
        from peft import LoraConfig, get_peft_model

        if gc_on:
            model.enable_input_require_grads()
        model = get_peft_model(
            model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=TARGETS)
        )
    model.train()
    return model


def predict(shape: ModelShape, method: str, batch: int, seq: int, gc_on: bool):
    return estimate(
        shape,
        method=method,
        precision="bf16",
        optimizer="adamw",
        batch_size=batch,
        seq_len=seq,
        rank=8,
        targets="q,k,v,o",
        gradient_checkpointing=gc_on,
        # this benchmark loads the 4-bit base without prepare_model_for_kbit_training (no fp32 upcast)
        kbit_upcast=False,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="tiny config on CPU, no measurement")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args()
    import torch

    device = "cpu" if args.dry_run else "cuda"
    if not args.dry_run and not torch.cuda.is_available():
        print("no CUDA device; use --dry-run")
        return 2
    shapes = TINY if args.dry_run else SHAPES
    settings = [(2, 32)] if args.dry_run else SETTINGS
    extra = [("tiny", "full", True, (2, 32))] if args.dry_run else EXTRA
    if not args.dry_run:
        print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    try:
        import bitsandbytes  # noqa: F401

        methods = METHODS
    except Exception as e:  # noqa: BLE001
        print(f"bitsandbytes unavailable ({type(e).__name__}: {e}); QLoRA rows skipped")
        methods = [m for m in METHODS if m != "qlora"]
    plan = [(name, m, False, settings) for name in shapes for m in methods]
    plan += [(name, m, True, [bs]) for name, m, _g, bs in extra]
    hdr = (
        f"{'shape':<9} {'method':<6} {'gc':<3} {'b x s':>7} {'train':>8} "
        f"{'pred GB':>8} {'meas GB':>8} {'error':>7}"
    )
    print(hdr)
    print("-" * len(hdr))
    rows, t0 = [], time.time()
    for name, method, gc_on, sets in plan:
        shape = shapes[name]
        if device == "cuda":
            torch.cuda.empty_cache()
            base = torch.cuda.memory_allocated()
        model = build(shape, method, device, gc_on)
        n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
        opt = torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad], lr=1e-5, fused=not args.dry_run
        )
        for batch, seq in sets:
            x = torch.randint(0, shape.vocab, (batch, seq), device=device)
            if device == "cuda":
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            for _ in range(args.steps):
                loss = model(input_ids=x, labels=x).loss
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
                del loss
            measured = torch.cuda.max_memory_allocated() - base if device == "cuda" else float("nan")
            est = predict(shape, method, batch, seq, gc_on)
            err = (est.total_bytes - measured) / measured
            print(
                f"{name:<9} {method:<6} {'yes' if gc_on else 'no':<3} {f'{batch}x{seq}':>7} "
                f"{n_train / 1e6:7.1f}M {est.total_bytes / 1e9:8.2f} {measured / 1e9:8.2f} {err:+7.1%}",
                flush=True,
            )
            if n_train != est.trainable_params:
                print(f"   note: trainable predicted {est.trainable_params:,}, model has {n_train:,}")
            rows.append(
                {
                    "shape": name,
                    "method": method,
                    "gc": gc_on,
                    "batch": batch,
                    "seq": seq,
                    "predicted": est.total_bytes,
                    "measured": measured,
                    "error": err,
                    "estimate": est.to_dict(),
                }
            )
        del model, opt, x
        gc.collect()
    print(f"\n{len(rows)} rows in {time.time() - t0:.0f} s; GB = 1e9 bytes; target |error| <= 10%")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
