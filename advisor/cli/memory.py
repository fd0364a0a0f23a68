"""``advisor memory``: the memory and parameter calculator (logic in :mod:`advisor.memory`)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from advisor.errors import AdvisorError, UsageError
from advisor.hookspecs import hookimpl
from advisor.memory import (
    CUDA_CONTEXT_BYTES,
    GB,
    METHODS,
    OPTIMIZERS,
    PRECISIONS,
    TARGETS,
    MemoryEstimate,
    MemoryRequest,
    ModelShape,
    calculate,
    parse_size,
    shape_from_config,
)


def _size(value: str | None, option: str) -> int | None:
    # parsed inside the command (not a click callback) so that bad input is one line and exit 2
    return None if value is None else parse_size(value, option)


def _resolve_model(name: str) -> Path:
    """A path as given, else a model name the advisor knows (the embedded SmolLM2)."""
    p = Path(name).expanduser()
    if p.exists():
        return p
    try:
        from advisor.train import models
    except ImportError as e:  # pragma: no cover - models.py ships with the package
        raise UsageError(f"no such file or folder: {name}") from e
    if name.lower() not in getattr(models, "ALIASES", {}):
        raise UsageError(f"no such file or folder: {name} (known names: {', '.join(models.ALIASES)})")
    return models.smollm2_gguf_path()


@click.command("memory")
@click.option(
    "--model", "model", metavar="NAME|PATH", help="config.json, model folder, .gguf or a known name."
)
@click.option("--params", metavar="N", help="Parameter count (7B, 13e9, 125M).")
@click.option("--layers", type=click.IntRange(min=1), help="Number of decoder layers.")
@click.option("--hidden", type=click.IntRange(min=1), help="Hidden size (d_model).")
@click.option("--heads", type=click.IntRange(min=1), help="Attention heads (default hidden/128).")
@click.option("--kv-heads", type=click.IntRange(min=1), help="Key/value heads (default: --heads).")
@click.option("--intermediate", type=click.IntRange(min=1), help="MLP width (default ~8/3 hidden, SwiGLU).")
@click.option("--vocab", type=click.IntRange(min=1), help="Vocabulary size (default 32000).")
@click.option("--matrix", metavar="INxOUT", help="The model is one INxOUT matrix (adapter storage examples).")
@click.option("--method", type=click.Choice(METHODS), default="full", show_default=True)
@click.option("--precision", type=click.Choice(PRECISIONS), default="bf16", show_default=True)
@click.option("--optimizer", type=click.Choice(tuple(OPTIMIZERS)), default="adamw", show_default=True)
@click.option("--trainable", metavar="N", help="Trainable parameters (for partial).")
@click.option("--rank", type=click.IntRange(min=1), default=8, show_default=True, help="LoRA rank.")
@click.option(
    "--targets", default="q,k,v,o", show_default=True, help=f"LoRA targets from {','.join(TARGETS)}."
)
@click.option(
    "--batch-size", type=click.IntRange(min=1), help="Batch size (with --seq-len: computed activations)."
)
@click.option("--seq-len", type=click.IntRange(min=1), help="Sequence length in tokens.")
@click.option("--gradient-checkpointing", is_flag=True, help="Recompute activations in backward.")
@click.option("--mixed-precision", is_flag=True, help="fp32 master weights and optimizer states.")
@click.option(
    "--activation-fraction",
    type=click.FloatRange(min=0),
    default=0.2,
    show_default=True,
    help="Activations as a share of the weights when no batch/shape is given (source: 0.2).",
)
@click.option("--adapters", type=click.IntRange(min=1), help="Number of LoRA adapters stored for one base.")
@click.option("--gpu-memory", metavar="SIZE", help="GPU memory (24GB, 80GiB): does it fit?")
@click.option("--json", "as_json", is_flag=True, help="Print the estimate as JSON.")
def memory(
    model: str | None,
    params: str | None,
    layers: int | None,
    hidden: int | None,
    heads: int | None,
    kv_heads: int | None,
    intermediate: int | None,
    vocab: int | None,
    matrix: str | None,
    method: str,
    precision: str,
    optimizer: str,
    trainable: str | None,
    rank: int,
    targets: str,
    batch_size: int | None,
    seq_len: int | None,
    gradient_checkpointing: bool,
    mixed_precision: bool,
    activation_fraction: float,
    adapters: int | None,
    gpu_memory: str | None,
    as_json: bool,
) -> None:
    """Estimate the memory to run or fine-tune a model (weights, activations, gradients, optimizer)."""
    shape = ShapeOptions(layers, hidden, heads, kv_heads, intermediate, vocab)
    try:
        # sizes first, then the model, then the matrix: the first bad option is the one reported
        params_n, trainable_n = _size(params, "--params"), _size(trainable, "--trainable")
        gpu_bytes = _size(gpu_memory, "--gpu-memory")
        request = MemoryRequest(
            _model_spec(model, shape),
            params=params_n,
            method=method,
            precision=precision,
            optimizer=optimizer,
            trainable=trainable_n,
            rank=rank,
            targets=targets,
            batch_size=batch_size,
            seq_len=seq_len,
            gradient_checkpointing=gradient_checkpointing,
            mixed_precision=mixed_precision,
            adapters=adapters,
            activation_fraction=activation_fraction,
            matrix=_parse_matrix(matrix),
        )
        est = calculate(request)
        report = _report(est, gpu_bytes)
    except AdvisorError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        _print_text(est, report, gpu_bytes)


@dataclass(frozen=True)
class ShapeOptions:
    """``--layers --hidden --heads --kv-heads --intermediate --vocab`` as given (None: not given)."""

    layers: int | None = None
    hidden: int | None = None
    heads: int | None = None
    kv_heads: int | None = None
    intermediate: int | None = None
    vocab: int | None = None

    def apply(self, base: ModelShape | None) -> ModelShape | None:
        """A shape from ``--layers``/``--hidden`` (filling gaps from ``base``), or ``base`` adjusted."""
        layers, hidden = self.layers, self.hidden
        if layers or hidden:
            if not (layers and hidden):
                raise UsageError("a shape needs both --layers and --hidden")
            return ModelShape(
                layers=layers,
                hidden=hidden,
                heads=self.heads or (base.heads if base else max(1, hidden // 128)),
                kv_heads=self.kv_heads,
                intermediate=self.intermediate,
                vocab=self.vocab or (base.vocab if base else 32000),
                name="given shape",
            )
        if base is not None and (self.heads or self.kv_heads or self.intermediate or self.vocab):
            return replace(
                base,
                heads=self.heads or base.heads,
                kv_heads=self.kv_heads or base.kv_heads,
                intermediate=self.intermediate or base.intermediate,
                vocab=self.vocab or base.vocab,
            )
        return base


def _model_spec(model: str | None, shape: ShapeOptions) -> ModelShape | None:
    """The shape from ``--model`` (read first) with the shape options applied."""
    base = shape_from_config(_resolve_model(model)) if model else None
    return shape.apply(base)


def _parse_matrix(matrix: str | None) -> tuple[int, int] | None:
    """``--matrix INxOUT`` -> (IN, OUT), both positive."""
    if not matrix:
        return None
    try:
        d_in, d_out = (int(x) for x in matrix.lower().split("x"))
        if d_in < 1 or d_out < 1:
            raise ValueError
    except ValueError:
        raise UsageError(
            f"--matrix wants INxOUT with positive sizes, e.g. 4096x4096, got {matrix!r}"
        ) from None
    return d_in, d_out


def _report(est: MemoryEstimate, gpu_bytes: int | None) -> dict[str, Any]:
    """The estimate as JSON-ready data, with the verdict and suggestions when a GPU size is given."""
    out = est.to_dict()
    if gpu_bytes is not None:
        out["gpu_memory_bytes"] = gpu_bytes
        out["fits"] = est.fits(gpu_bytes)
        out["suggestions"] = est.suggestions(gpu_bytes)
    return out


def _print_text(est: MemoryEstimate, report: dict[str, Any], gpu_bytes: int | None) -> None:
    """The estimate as text: the parts in GB, the adapters, the assumptions, the verdict."""
    click.echo(
        f"{est.method} at {est.precision}: {est.total_params:,} parameters, "
        f"{est.trainable_params:,} trainable"
    )
    for key in ("weights", "activations", "gradients", "optimizer", "overhead", "total"):
        click.echo(f"  {key:<12} {report[key + '_bytes'] / GB:10.2f} GB")
    if est.adapters:
        a = est.adapters
        click.echo(
            f"  {a['count']} adapters: {a['merged_params']:,} parameters merged, "
            f"{a['separate_params']:,} kept apart"
        )
    for note in est.assumptions:
        click.echo(f"  - {note}")
    if gpu_bytes is not None:
        verdict = "fits" if report["fits"] else "does not fit"
        click.echo(
            f"{verdict} in {gpu_bytes / GB:.1f} GB (with a {CUDA_CONTEXT_BYTES / GB:.1f} GB CUDA context)"
        )
        for s in report["suggestions"]:
            click.echo(f"  try {s}")


@hookimpl
def advisor_register_commands(cli):
    cli.add_command(memory)
