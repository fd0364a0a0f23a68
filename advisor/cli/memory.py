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
    known_model,
    parse_size,
    shape_from_config,
)
from advisor.memory.checks import no_effect
from advisor.memory.known_models import unknown_model_error
from advisor.memory.units import parse_memory, parse_param_count, parse_tokens


def _size(value: str | None, option: str) -> int | None:
    # parsed inside the command (not a click callback) so that bad input is one line and exit 2
    return None if value is None else parse_size(value, option)


def _resolve_model(name: str) -> Path | ModelShape:
    """A path as given, the embedded SmolLM2 (``smollm2``), or a model the built-in table knows."""
    p = Path(name).expanduser()
    if p.exists():
        return p
    try:
        from advisor.train import models
    except ImportError:  # pragma: no cover - models.py ships with the package
        models = None
    shape = known_model(name)
    if models is not None and name.lower() in getattr(models, "ALIASES", {}):
        try:
            return models.smollm2_gguf_path()  # the embedded model's exact tensors
        except AdvisorError:
            if shape is None:
                raise
    if shape is not None:
        return shape
    if name.startswith((".", "/", "~")) or name.endswith((".json", ".gguf")):
        raise UsageError(f"no such file or folder: {name}")
    raise unknown_model_error(name)


_HELP_CHOICES = {
    "method": METHODS + ("freeze",),
    "precision": PRECISIONS + ("bfloat16", "float16", "float32", "half"),
    "optimizer": tuple(OPTIMIZERS) + ("adamw_torch", "adamw_8bit", "paged_adamw_8bit", "paged_adamw_32bit"),
}


@click.command("memory")
@click.option(
    "--model", "model", metavar="NAME|PATH", help="config.json, model folder, .gguf or a known name."
)
@click.option("--params", metavar="N", help="Parameter count (7B, 13e9, 125M).")
@click.option("--layers", type=click.IntRange(min=1), help="Number of decoder layers.")
@click.option("--hidden", type=click.IntRange(min=1), help="Hidden size (d_model).")
@click.option("--heads", type=click.IntRange(min=1), help="Attention heads (default hidden/128).")
@click.option("--kv-heads", type=click.IntRange(min=1), help="Key/value heads (default: --heads).")
@click.option(
    "--head-dim", type=click.IntRange(min=1), help="Width of a head (default hidden/heads; Gemma: 256)."
)
@click.option("--intermediate", type=click.IntRange(min=1), help="MLP width (default ~8/3 hidden, SwiGLU).")
@click.option("--vocab", type=click.IntRange(min=1), help="Vocabulary size (default 32000).")
@click.option("--tied-embeddings/--untied-embeddings", default=None, help="lm_head shares the embedding.")
@click.option(
    "--mlp", type=click.Choice(("gated", "plain")), help="gated: SwiGLU (3 matrices); plain: 4h, 2."
)
@click.option("--experts", type=click.IntRange(min=1), help="MoE: experts per layer (MLPs in the weights).")
@click.option("--experts-active", type=click.IntRange(min=1), help="MoE: experts a token uses (activations).")
@click.option("--matrix", metavar="INxOUT", help="The model is one INxOUT matrix (adapter storage examples).")
@click.option(
    "--method", default="full", show_default=True, help=f"One of {', '.join(_HELP_CHOICES['method'])}."
)
@click.option(
    "--precision", default="bf16", show_default=True, help=f"One of {', '.join(_HELP_CHOICES['precision'])}."
)
@click.option(
    "--optimizer", default="adamw", show_default=True, help=f"One of {', '.join(_HELP_CHOICES['optimizer'])}."
)
@click.option("--trainable", metavar="N", help="Trainable parameters (for partial).")
@click.option("--rank", type=click.IntRange(min=1), default=8, show_default=True, help="LoRA rank.")
@click.option(
    "--targets",
    default="q,k,v,o",
    show_default=True,
    help=f"LoRA targets from {','.join(TARGETS)},lm_head (alias output); all: every decoder linear.",
)
@click.option(
    "--adapter-precision", help="LoRA adapter dtype: fp32, bf16, fp16 (default fp32 on a 16-bit base)."
)
@click.option(
    "--kbit-upcast/--no-kbit-upcast", default=None, help="prepare_model_for_kbit_training (on for qlora)."
)
@click.option(
    "--batch-size", type=click.IntRange(min=1), help="Batch size (with --seq-len: computed activations)."
)
@click.option("--seq-len", metavar="TOKENS", help="Sequence length in tokens (4096, 4k, 128k; k = 1024).")
@click.option("--gradient-checkpointing", is_flag=True, help="Recompute activations in backward.")
@click.option("--activation-offloading", is_flag=True, help="Saved activations move to CPU memory.")
@click.option(
    "--loss",
    default="standard",
    show_default=True,
    help="standard, chunked (torchtune; give --compile as its recipes do: then only the 16-bit logits "
    "are kept) or fused.",
)
@click.option("--optimizer-in-backward", is_flag=True, help="Step each parameter as its gradient is ready.")
@click.option(
    "--compile",
    "compile_",
    is_flag=True,
    help="torch.compile: elementwise results (SiLU, gate product, norm upcasts) are recomputed, not kept.",
)
@click.option("--mixed-precision", is_flag=True, help="fp32 master weights and optimizer states.")
@click.option(
    "--gpus", type=click.IntRange(min=1), default=1, show_default=True, help="GPUs (per-GPU figures)."
)
@click.option("--sharding", default="none", show_default=True, help="none, fsdp, zero1, zero2 or zero3.")
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
def memory(**opts: Any) -> None:
    """Estimate the memory to run or fine-tune a model (weights, activations, gradients, optimizer)."""
    try:
        # sizes first, then the model, then the matrix: the first bad option is the one reported
        gpu_bytes = None if opts["gpu_memory"] is None else parse_memory(opts["gpu_memory"], "--gpu-memory")
        request = _request(opts)
        est = calculate(request)
        report = _report(est, gpu_bytes)
    except AdvisorError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    warnings = no_effect(request, shape_known=isinstance(request.spec, ModelShape))
    if warnings:
        click.echo(f"warning: {'; '.join(warnings)}", err=True)
    if opts["as_json"]:
        click.echo(json.dumps(report, indent=2))
    else:
        _print_text(est, report, gpu_bytes)


def _request(opts: dict[str, Any]) -> MemoryRequest:
    """The checked request from the command's options."""
    params_n = None if opts["params"] is None else parse_param_count(opts["params"], "--params")
    trainable_n = _size(opts["trainable"], "--trainable")
    seq_len = None if opts["seq_len"] is None else parse_tokens(opts["seq_len"], "--seq-len")
    shape = ShapeOptions(**{k: opts[k] for k in ShapeOptions.__dataclass_fields__})
    return MemoryRequest(
        _model_spec(opts["model"], shape),
        params=params_n,
        method=opts["method"],
        precision=opts["precision"],
        optimizer=opts["optimizer"],
        trainable=trainable_n,
        rank=opts["rank"],
        targets=opts["targets"],
        batch_size=opts["batch_size"],
        seq_len=seq_len,
        gradient_checkpointing=opts["gradient_checkpointing"],
        mixed_precision=opts["mixed_precision"],
        adapters=opts["adapters"],
        activation_fraction=opts["activation_fraction"],
        adapter_precision=opts["adapter_precision"],
        matrix=_parse_matrix(opts["matrix"]),
        loss=opts["loss"].lower(),
        activation_offloading=opts["activation_offloading"],
        optimizer_in_backward=opts["optimizer_in_backward"],
        compile=opts["compile_"],
        kbit_upcast=opts["kbit_upcast"],
        gpus=opts["gpus"],
        sharding=opts["sharding"].lower(),
    )


@dataclass(frozen=True)
class ShapeOptions:
    """``--layers --hidden --heads --kv-heads --intermediate --vocab`` as given (None: not given)."""

    layers: int | None = None
    hidden: int | None = None
    heads: int | None = None
    kv_heads: int | None = None
    intermediate: int | None = None
    vocab: int | None = None
    head_dim: int | None = None
    tied_embeddings: bool | None = None
    mlp: str | None = None
    experts: int | None = None
    experts_active: int | None = None

    def apply(self, base: ModelShape | None) -> ModelShape | None:
        """A shape from ``--layers``/``--hidden`` (filling gaps from ``base``), or ``base`` adjusted."""
        layers, hidden = self.layers, self.hidden
        if layers or hidden:
            if not (layers and hidden):
                raise UsageError("a shape needs both --layers and --hidden")
            shape = ModelShape(
                layers=layers,
                hidden=hidden,
                heads=self.heads or (base.heads if base else max(1, hidden // 128)),
                kv_heads=self.kv_heads,
                intermediate=self.intermediate,
                vocab=self.vocab or (base.vocab if base else 32000),
                name="given shape",
            )
            return self._details(shape)
        if base is None:
            if any(v is not None for v in self._details_given()):
                raise UsageError("shape options need a model (--model) or --layers and --hidden")
            return None
        base = replace(
            base,
            heads=self.heads or base.heads,
            kv_heads=self.kv_heads or base.kv_heads,
            intermediate=self.intermediate or base.intermediate,
            vocab=self.vocab or base.vocab,
        )
        return self._details(base)

    def _details_given(self) -> tuple[Any, ...]:
        return (self.heads, self.kv_heads, self.intermediate, self.vocab, *self._extras())

    def _extras(self) -> tuple[Any, ...]:
        return (self.head_dim, self.tied_embeddings, self.mlp, self.experts, self.experts_active)

    def _details(self, shape: ModelShape) -> ModelShape:
        """``--head-dim --tied-embeddings --mlp --experts --experts-active`` applied to ``shape``."""
        if all(v is None for v in self._extras()):
            return shape
        experts = self.experts or shape.experts
        active = self.experts_active or shape.experts_active
        if active and active > experts:
            raise UsageError(f"--experts-active {active} exceeds --experts {experts}")
        return replace(
            shape,
            head_dim=self.head_dim or shape.head_dim,
            tie_embeddings=shape.tie_embeddings if self.tied_embeddings is None else self.tied_embeddings,
            mlp=self.mlp or shape.mlp,
            experts=experts,
            experts_active=active,
            params_override=None if self.experts or self.mlp or self.head_dim else shape.params_override,
        )


def _model_spec(model: str | None, shape: ShapeOptions) -> ModelShape | None:
    """The shape from ``--model`` (read first) with the shape options applied."""
    base = None
    if model:
        found = _resolve_model(model)
        base = found if isinstance(found, ModelShape) else shape_from_config(found)
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
        + (f"; per GPU of {est.gpus} ({est.sharding})" if est.gpus > 1 else "")
    )
    for key in ("weights", "activations", "gradients", "optimizer", "overhead", "total"):
        click.echo(f"  {key:<12} {report[key + '_bytes'] / GB:10.2f} GB")
    for key in ("kv_cache", "logits"):
        if report[key + "_bytes"]:
            click.echo(f"    {key:<10} {report[key + '_bytes'] / GB:10.2f} GB (in activations)")
    if report["paged_bytes"]:
        click.echo(f"    {'paged':<10} {report['paged_bytes'] / GB:10.2f} GB (in optimizer, not in total)")
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
