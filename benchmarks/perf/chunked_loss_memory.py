"""Measure on CPU what torchtune's chunked cross-entropy keeps, against `advisor memory`'s loss terms.

    .venv/bin/python benchmarks/perf/chunked_loss_memory.py [--json out.json]
    .venv/bin/python benchmarks/perf/chunked_loss_memory.py --saved   # what autograd keeps, per variant

The loss alone, as torchtune's CEWithChunkedOutputLoss runs it: an lm_head applied to 8 chunks of the
hidden states, then per chunk `cross_entropy(logits.float(), labels, reduction="sum")`, eager or with
that function compiled (torch.compile, Inductor's C++ backend: needs a C compiler). Each setting runs
in a fresh process: two warm-up steps, then the peak RSS (VmHWM, reset) of one step above the RSS
before it, with MALLOC_MMAP_THRESHOLD_ pinned so that freed buffers go back to the kernel.

Settings: a frozen lm_head in bf16 (what LoRA keeps: the logits and the loss buffers), and a trained
lm_head in fp32 (full fine-tuning: its gradient is a sum over the chunks). The trained rows run in fp32
because CPU bf16 matmuls go through an fp32 buffer of their own that a GPU does not have. Predicted =
`loss_buffers()` kept + transient (and, trained, the gradient and its out-of-place sum) for the same
sizes, from advisor/memory/activations.py; a few MB of inputs and workspace are not predicted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

V, H, BATCH, SEQ = 32000, 1024, 2, 256
MB = 2**20
SETTINGS = [
    ("eager", "bf16", False),
    ("compiled", "bf16", False),
    ("eager", "fp32", True),
    ("compiled", "fp32", True),
]


def predict(mode: str, dtype: str, train: bool) -> float:
    from advisor.memory.activations import CHUNKS, loss_buffers
    from advisor.memory.shapes import ModelShape

    e = 2 if dtype == "bf16" else 4
    tokens = BATCH * SEQ
    shape = ModelShape(1, H, 8, vocab=V)
    kept, transient, _ = loss_buffers("chunked", shape, e, compiled=mode == "compiled")
    if e == 4 and mode == "eager":
        transient = e * V  # .float() of an fp32 tensor is the tensor itself: no upcast copy
    total = (kept + transient) * tokens
    if train:  # the gradient, and once two chunks are freed the out-of-place sum of two partials
        head_sum = 2 * V * H * e - 2 / CHUNKS * kept * tokens
        total = kept * tokens + H * V * e + max(transient * tokens, head_sum)
    return total


def _chunked_loss(mode: str, dt, train: bool):
    """The lm_head weight and a function from hidden states to torchtune's chunked loss (eager or with
    the per-chunk loss compiled); the logits list is dropped before it returns, as the recipe does."""
    import torch
    import torch.nn.functional as F

    def ce(logits, labels):
        return F.cross_entropy(logits.float(), labels, ignore_index=-100, reduction="sum")

    if mode == "compiled":
        ce = torch.compile(ce)
    weight = torch.randn(V, H, dtype=dt).requires_grad_(train)
    labels = torch.randint(0, V, (BATCH, SEQ))

    def loss(x):
        logits = [F.linear(c, weight) for c in x.chunk(8, dim=1)]
        pairs = zip(logits, labels.chunk(8, dim=1), strict=True)
        return sum(ce(lc.reshape(-1, V), lb.reshape(-1)) for lc, lb in pairs)

    return weight, loss


def child(mode: str, dtype: str, train: bool) -> float:
    import torch

    torch.manual_seed(0)
    dt = torch.bfloat16 if dtype == "bf16" else torch.float32
    weight, loss = _chunked_loss(mode, dt, train)

    def step() -> None:
        loss(torch.randn(BATCH, SEQ, H, dtype=dt, requires_grad=True)).backward()
        weight.grad = None

    step()
    step()
    base = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    step()
    return (_status_kb("VmHWM") - base) * 1024


def saved(mode: str) -> list[str]:
    """What autograd keeps for backward in the bf16 loss (saved_tensors_hooks), summed per dtype and shape."""
    import torch

    weight, loss = _chunked_loss(mode, torch.bfloat16, False)
    kept: dict[int, tuple[str, int]] = {}

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        what = "the lm_head weight" if ptr == weight.untyped_storage().data_ptr() else tuple(t.shape)
        kept[ptr] = (f"{t.dtype} {what}", t.untyped_storage().nbytes())
        return t

    x = torch.randn(BATCH, SEQ, H, dtype=torch.bfloat16, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss(x).backward()
    by: dict[str, list[int]] = {}
    for what, nbytes in kept.values():
        by.setdefault(what, [0, 0])
        by[what][0] += 1
        by[what][1] += nbytes
    return [f"{n} x {what}: {b / MB:.1f} MB" for what, (n, b) in sorted(by.items(), key=lambda kv: -kv[1][1])]


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{key} not in /proc/self/status")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", help="write the rows to this file")
    ap.add_argument("--saved", action="store_true", help="list what autograd keeps (eager and compiled)")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.saved:
        for mode in ("eager", "compiled"):
            print(mode, "bf16, frozen lm_head, saved for backward:")
            for line in saved(mode):
                print("   ", line)
        return 0
    if args.child:
        mode, dtype, train = args.child
        print(child(mode, dtype, train == "train"))
        return 0
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    rows = []
    print(f"V={V:,} h={H:,} tokens={BATCH * SEQ}, 8 chunks; MB = 2^20 bytes")
    for mode, dtype, train in SETTINGS:
        cmd = [sys.executable, __file__, "--child", mode, dtype, "train" if train else "frozen"]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        measured = float(out.strip().splitlines()[-1])
        predicted = predict(mode, dtype, train)
        row = dict(
            mode=mode,
            dtype=dtype,
            lm_head="trained" if train else "frozen",
            predicted_mb=round(predicted / MB, 1),
            measured_mb=round(measured / MB, 1),
            error=round(predicted / measured - 1, 3),
        )
        rows.append(row)
        print(
            f"{mode:9} {dtype} lm_head {row['lm_head']:8} predicted {row['predicted_mb']:7.1f} MB  "
            f"measured {row['measured_mb']:7.1f} MB  {row['error']:+.1%}",
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
