"""``advisor memory``: the memory and parameter calculator (logic in :mod:`advisor.memory`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from advisor.errors import AdvisorError, UsageError
from advisor.hookspecs import hookimpl
from advisor.memory import GB, METHODS, OPTIMIZERS, PRECISIONS, TARGETS, ModelShape, estimate, parse_size


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
    params: int | None,
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
    trainable: int | None,
    rank: int,
    targets: str,
    batch_size: int | None,
    seq_len: int | None,
    gradient_checkpointing: bool,
    mixed_precision: bool,
    activation_fraction: float,
    adapters: int | None,
    gpu_memory: int | None,
    as_json: bool,
) -> None:
    """Estimate the memory to run or fine-tune a model (weights, activations, gradients, optimizer)."""
    try:
        _run(**locals())
    except AdvisorError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)


def _run(
    *,
    model,
    params,
    layers,
    hidden,
    heads,
    kv_heads,
    intermediate,
    vocab,
    matrix,
    method,
    precision,
    optimizer,
    trainable,
    rank,
    targets,
    batch_size,
    seq_len,
    gradient_checkpointing,
    mixed_precision,
    activation_fraction,
    adapters,
    gpu_memory,
    as_json,
) -> None:  # noqa: ANN001
    params, trainable = _size(params, "--params"), _size(trainable, "--trainable")
    gpu_memory = _size(gpu_memory, "--gpu-memory")
    spec: ModelShape | Path | None = None
    if model:
        spec = _resolve_model(model)
        from advisor.memory import shape_from_config

        spec = shape_from_config(spec)
    if layers or hidden:
        if not (layers and hidden):
            raise UsageError("a shape needs both --layers and --hidden")
        base = spec if isinstance(spec, ModelShape) else None
        spec = ModelShape(
            layers=layers,
            hidden=hidden,
            heads=heads or (base.heads if base else max(1, hidden // 128)),
            kv_heads=kv_heads,
            intermediate=intermediate,
            vocab=vocab or (base.vocab if base else 32000),
            name="given shape",
        )
    elif isinstance(spec, ModelShape) and (heads or kv_heads or intermediate or vocab):
        from dataclasses import replace

        spec = replace(
            spec,
            heads=heads or spec.heads,
            kv_heads=kv_heads or spec.kv_heads,
            intermediate=intermediate or spec.intermediate,
            vocab=vocab or spec.vocab,
        )
    mat = None
    if matrix:
        try:
            d_in, d_out = (int(x) for x in matrix.lower().split("x"))
            if d_in < 1 or d_out < 1:
                raise ValueError
        except ValueError:
            raise UsageError(
                f"--matrix wants INxOUT with positive sizes, e.g. 4096x4096, got {matrix!r}"
            ) from None
        mat = (d_in, d_out)
    est = estimate(
        spec,
        params=params,
        method=method,
        precision=precision,
        optimizer=optimizer,
        trainable=trainable,
        rank=rank,
        targets=targets,
        batch_size=batch_size,
        seq_len=seq_len,
        gradient_checkpointing=gradient_checkpointing,
        mixed_precision=mixed_precision,
        adapters=adapters,
        activation_fraction=activation_fraction,
        matrix=mat,
    )
    out = est.to_dict()
    if gpu_memory is not None:
        out["gpu_memory_bytes"] = gpu_memory
        out["fits"] = est.fits(gpu_memory)
        out["suggestions"] = est.suggestions(gpu_memory)
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(
        f"{method} at {precision}: {est.total_params:,} parameters, {est.trainable_params:,} trainable"
    )
    for key in ("weights", "activations", "gradients", "optimizer", "overhead", "total"):
        click.echo(f"  {key:<12} {out[key + '_bytes'] / GB:10.2f} GB")
    if est.adapters:
        a = est.adapters
        click.echo(
            f"  {a['count']} adapters: {a['merged_params']:,} parameters merged, "
            f"{a['separate_params']:,} kept apart"
        )
    for note in est.assumptions:
        click.echo(f"  - {note}")
    if gpu_memory is not None:
        verdict = "fits" if out["fits"] else "does not fit"
        click.echo(f"{verdict} in {gpu_memory / GB:.1f} GB (with a {0.5:.1f} GB CUDA context)")
        for s in out["suggestions"]:
            click.echo(f"  try {s}")


@hookimpl
def advisor_register_commands(cli):
    cli.add_command(memory)
