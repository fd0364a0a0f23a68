"""Memory and parameter arithmetic for inference and fine-tuning (source 7.3/7.4; docs/memory.md).

The rules engine calls::

    from advisor.memory import estimate
    est = estimate(params="7B", method="lora", precision="bf16")
    est.fits(24e9)          # True / False (the total plus a CUDA context reserve)
    est.suggestions(24e9)   # what to change when it does not fit, as short sentences

``estimate()`` builds a ``MemoryRequest`` (request.py, which checks the inputs) and ``calculate()`` runs
one function per phase: the model (shape and parameter count), the trainable parameters, the weights,
the gradients, the optimizer states, and the activations with the total (activations.py), then the
adapter storage. Two modes, chosen by what is known:

* **Source mode** (only a parameter count, or no batch size and sequence length): every value is
  stored at ``precision``; weights ``N x M``; gradients ``T x M``; optimizer states ``T x k x M``
  (k = 0 SGD, 1 momentum, 2 Adam); activations a flat ``activation_fraction`` (20%) of the weights;
  ``total = weights + activations + gradients + optimizer``. This reproduces the source's examples.
* **Shape mode** (a model shape plus ``batch_size`` and ``seq_len``): activations come from the layer
  shapes of a Llama-style decoder as PyTorch autograd stores them, plus the logits and loss buffers, and
  ``total`` is the modelled *peak*: ``total = weights + optimizer + max(activations + overhead + lm_head
  gradient, gradients [+ 2 V h M with tied embeddings])``; ``overhead_bytes`` is whichever transient term
  set the peak. Checked against measured peaks in docs/memory.md (CPU RSS within 15%, GPU allocator peak
  within 3%).

Sizes are in bytes, GB means 10^9 bytes. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from advisor.errors import UsageError
from advisor.memory.activations import Peak, saved_activations, shape_mode_peak, source_mode_peak
from advisor.memory.known_models import known_model, unknown_model_error
from advisor.memory.request import OPTIMIZERS, MemoryRequest
from advisor.memory.result import MemoryEstimate
from advisor.memory.shapes import (
    MLP_TARGETS,
    ModelShape,
    lora_matrix_outputs,
    lora_trainable_params,
    shape_from_config,
)
from advisor.memory.units import (
    INT8_ROW_SCALE_BYTES,
    NF2_BYTES_PER_PARAM,
    NF2_NO_DQ_BYTES_PER_PARAM,
    NF4_BYTES_PER_PARAM,
    NF4_NO_DQ_BYTES_PER_PARAM,
    QUANTISED,
    looks_like_size,
    parse_param_count,
    parse_size,
    precision_bytes,
    to_int,
)

Notes = tuple[str, ...]


@dataclass(frozen=True)
class Model:
    """The model an estimate is about: its shape when known, and its parameter count."""

    shape: ModelShape | None
    n_params: int

    @property
    def notes(self) -> Notes:
        s = self.shape
        if s is None:
            return ()
        return (
            f"shape: {s.layers} layers, hidden {s.hidden}, {s.heads} heads "
            f"({s.kv} kv), MLP {s.ffn} {s.mlp}, vocab {s.vocab}"
            + (f", head_dim {s.head_dim}" if s.head_dim else "")
            + (f", {s.experts} experts ({s.active_experts} active per token)" if s.experts > 1 else "")
            + (", tied embeddings" if s.tie_embeddings else ""),
        )


@dataclass(frozen=True)
class Precisions:
    """Bytes per value of the model and of LoRA-style adapters."""

    value: float  # M: the request's precision
    adapter_name: str
    adapter: float  # A: the adapter precision


@dataclass(frozen=True)
class Trainable:
    """Trainable parameters, and the LoRA parameters of one adapter (0 when there is none)."""

    count: int
    lora: int
    notes: Notes


@dataclass(frozen=True)
class Weights:
    """Bytes of the stored weights, and the bytes per trainable value and per optimizer state."""

    bytes: float
    train_bytes: float  # a trainable value and its gradient
    state_bytes: float  # an optimizer state, unless the optimizer fixes its own width
    notes: Notes


def estimate(
    spec: ModelShape | int | str | None = None,
    *,
    params: int | str | None = None,
    method: str = "full",
    precision: str = "bf16",
    optimizer: str = "adamw",
    trainable: int | str | None = None,
    rank: int = 8,
    targets: str | Iterable[str] = "q,k,v,o",
    batch_size: int | None = None,
    seq_len: int | None = None,
    gradient_checkpointing: bool = False,
    mixed_precision: bool = False,
    adapters: int | None = None,
    activation_fraction: float = 0.2,
    adapter_precision: str | None = None,
    matrix: tuple[int, int] | None = None,
    double_quant: bool = True,
    loss: str = "standard",
    activation_offloading: bool = False,
    optimizer_in_backward: bool = False,
    compile: bool = False,
    kbit_upcast: bool | None = None,
    gpus: int = 1,
    sharding: str = "none",
) -> MemoryEstimate:
    """Estimate memory for running or fine-tuning a model. See the module docstring for the two modes.

    The arguments are those of ``MemoryRequest`` (which documents each); bad ones raise UsageError.
    """
    request = MemoryRequest(
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
        adapter_precision=adapter_precision,
        matrix=matrix,
        double_quant=double_quant,
        loss=loss,
        activation_offloading=activation_offloading,
        optimizer_in_backward=optimizer_in_backward,
        compile=compile,
        kbit_upcast=kbit_upcast,
        gpus=gpus,
        sharding=sharding,
    )
    return calculate(request)


def calculate(req: MemoryRequest) -> MemoryEstimate:
    """Run every phase of an estimate for ``req``."""
    model = resolve_model(req)
    prec = precisions(req, model)
    train = trainable_params(req, model)
    w = weights(req, model, train.count, prec)
    grads, grad_notes = gradients(req, train.count, w.train_bytes, model)
    opt, opt_notes = optimizer_states(req, train.count, w.state_bytes, model)
    w, grads, opt, shard_notes = shard(req, model, w, grads, opt, prec)
    paged = paged_states(req, opt)
    top = peak(req, model, prec, train.count, w, gradient_bytes=grads, optimizer_bytes=opt - paged)
    adapter_info, adapter_notes = adapter_storage(req, model.n_params, train.lora)
    notes = [*model.notes, *train.notes, *w.notes, *grad_notes, *opt_notes, *shard_notes, *top.notes]
    if paged:
        notes.append(
            f"{req.optimizer}: its {paged / 10**9:.2f} GB of states are in CUDA unified memory, outside the "
            "total (PyTorch's allocator peak): on the GPU while there is room "
            f"({(top.total + paged) / 10**9:.2f} GB with them resident), paged to CPU memory otherwise "
            "(steps then wait on PCIe)"
        )
    return MemoryEstimate(
        total_params=int(model.n_params),
        trainable_params=int(train.count),
        weights_bytes=to_int(w.bytes),
        activations_bytes=to_int(top.activations),
        gradients_bytes=to_int(grads),
        optimizer_bytes=to_int(opt),
        overhead_bytes=to_int(top.overhead),
        total_bytes=to_int(top.total),
        paged_bytes=to_int(paged),
        kv_cache_bytes=to_int(top.kv_cache),
        logits_bytes=to_int(top.logits),
        gpus=req.gpus,
        sharding=req.sharding,
        assumptions=[*notes, *adapter_notes],
        method=req.method,
        precision=req.precision,
        adapters=adapter_info,
        request=req,
    )


# --- the model ---------------------------------------------------------------------------------------
def resolve_model(req: MemoryRequest) -> Model:
    """The shape (read from a config when ``spec`` is a path) and the parameter count."""
    shape, params = _spec_shape_and_params(req)
    if params is not None:
        n_params = parse_param_count(params, "parameter count")
        if n_params == 0:
            raise UsageError("parameter count must be positive")
        if shape is not None:
            shape = replace(shape, params_override=n_params)
    elif req.matrix is not None:
        n_params = req.matrix[0] * req.matrix[1]
    elif shape is not None:
        n_params = shape.params()
    else:
        raise UsageError(
            "give a model (--model), a parameter count (--params) or a shape (--layers, --hidden, ...)"
        )
    return Model(shape, n_params)


def _spec_shape_and_params(req: MemoryRequest) -> tuple[ModelShape | None, int | str | None]:
    """``spec`` as a shape, or as the parameter count when it is one (``params`` wins)."""
    spec = req.spec
    if isinstance(spec, ModelShape):
        return spec, req.params
    if isinstance(spec, str | Path) and not looks_like_size(spec):
        return _named_or_path_shape(spec), req.params
    if spec is not None and req.params is None:
        return None, spec
    return None, req.params


def _named_or_path_shape(spec: str | Path) -> ModelShape:
    """A config / model folder / .gguf when the path exists, else a model the table knows by name."""
    text = str(spec)
    if Path(text).expanduser().exists():
        return shape_from_config(spec)
    shape = known_model(text)
    if shape is not None:
        return shape
    if isinstance(spec, Path) or text.startswith((".", "/", "~")) or text.endswith((".json", ".gguf")):
        return shape_from_config(spec)  # a path that is not there: "no such file or folder"
    raise unknown_model_error(text)


def precisions(req: MemoryRequest, model: Model) -> Precisions:
    """Bytes per value; adapters default to fp32 on a 16-bit base in shape mode, as peft upcasts them."""
    M = precision_bytes(req.precision)
    name = req.adapter_precision
    if name is None:
        # peft upcasts 16-bit adapters to fp32 (autocast_adapter_dtype); the source stores all at M
        if _shape_mode(req, model) and M <= 2:
            name = "fp32"
        else:
            name = req.precision if M >= 2 else "bf16"
    return Precisions(M, name, precision_bytes(name))


def _shape_mode(req: MemoryRequest, model: Model) -> bool:
    """Whether activations are computed from a shape (else they are a share of the weights)."""
    return model.shape is not None and req.tokens is not None


# --- trainable parameters ----------------------------------------------------------------------------
def trainable_params(req: MemoryRequest, model: Model) -> Trainable:
    """How many parameters train, and how many one LoRA adapter has."""
    lora_n, lora_notes = _lora_params(req, model)
    n_train, notes = _trainable_count(req, model, lora_n)
    return Trainable(n_train, lora_n, lora_notes + notes)


def _lora_params(req: MemoryRequest, model: Model) -> tuple[int, Notes]:
    """Parameters of one LoRA adapter: (d_in + d_out) x r per adapted matrix (0 without LoRA)."""
    if req.matrix is not None:
        return (req.matrix[0] + req.matrix[1]) * req.rank, ()
    if not (req.peft_like or req.adapters):
        return 0, ()
    if model.shape is not None:
        return lora_trainable_params(model.shape, req.rank, req.target_names), ()
    guess = ModelShape.guess(model.n_params)
    note = (
        f"no shape given: LoRA sizes use a guessed Llama-like shape "
        f"({guess.layers} layers, hidden {guess.hidden})"
    )
    return lora_trainable_params(guess, req.rank, req.target_names), (note,)


def _trainable_count(req: MemoryRequest, model: Model, lora_n: int) -> tuple[int, Notes]:
    method, n_params = req.method, model.n_params
    if method == "inference":
        return 0, ()
    if method == "full":
        return n_params, ()
    if method == "partial":
        return _partial_count(req, n_params)
    if req.method == "dora":
        shape = model.shape or ModelShape.guess(n_params)
        mags = lora_matrix_outputs(shape, req.target_names)
        return lora_n + mags, (
            f"DoRA r={req.rank} on {','.join(req.target_names)}: LoRA's (d_in + d_out) x r plus a magnitude "
            f"vector of d_out per adapted matrix ({mags:,}); activations counted as LoRA's "
            "(DoRA's weight-norm temporaries not modelled)",
        )
    if req.peft_like:
        return lora_n, (f"LoRA r={req.rank} on {','.join(req.target_names)}: (d_in + d_out) x r per matrix",)
    if req.trainable is not None:
        return parse_size(req.trainable, "trainable count"), ()
    n_train, why = _small_peft_params(method, model.shape or ModelShape.guess(n_params))
    return n_train, (why,)


def _partial_count(req: MemoryRequest, n_params: int) -> tuple[int, Notes]:
    """``trainable`` (default: 10% of the parameters), at most the parameter count."""
    if req.trainable is None:
        n_train, notes = n_params // 10, ("partial: 10% of the parameters train (give --trainable)",)
    else:
        n_train, notes = parse_size(req.trainable, "trainable count"), ()
    if n_train > n_params:
        raise UsageError(f"trainable count {n_train} exceeds the parameter count {n_params}")
    return n_train, notes


def _small_peft_params(method: str, shape: ModelShape) -> tuple[int, str]:
    """Trainable parameters of IA3, prefix tuning, prompt tuning and BitFit, with what they are."""
    h, L = shape.hidden, shape.layers
    if method == "ia3":
        return L * (2 * shape.kv * shape.d_head + shape.ffn), "IA3: one scale vector on k, v and the MLP"
    if method == "prefix-tuning":
        return L * 2 * 20 * h, "prefix tuning: 20 virtual tokens of keys and values per layer"
    if method == "prompt-tuning":
        return 20 * h, "prompt tuning: 20 virtual token embeddings"
    return L * (shape.ffn + 4 * h) + h, "BitFit: bias vectors only (as many as a biased model has)"


# --- weights, gradients, optimizer states -----------------------------------------------------------
def weights(req: MemoryRequest, model: Model, n_train: int, prec: Precisions) -> Weights:
    """Stored weights (plus fp32 master weights with mixed precision) and the widths they imply."""
    stored, train_bytes, notes = _stored_weights(req, model, n_train, prec)
    if req.mixed_precision and req.training:
        note = (
            "mixed precision: 16-bit working weights and gradients, fp32 master weights and "
            "optimizer states (16 bytes per trainable parameter with Adam)"
        )
        return Weights(stored + n_train * 4, train_bytes, 4.0, (*notes, note))
    if req.peft_like:
        notes += (f"base weights at {req.precision}, trainable values at {prec.adapter_name}",)
    elif not _quantised_inference(req, model):
        notes += (f"every value at {req.precision} ({prec.value:g} bytes)",)
    return Weights(stored, train_bytes, train_bytes, notes)


def _stored_weights(
    req: MemoryRequest, model: Model, n_train: int, prec: Precisions
) -> tuple[float, float, Notes]:
    """(weight bytes, bytes per trainable value, notes) before any fp32 master copy."""
    M, A, n_params = prec.value, prec.adapter, model.n_params
    if req.quantised_base or _quantised_inference(req, model):
        return _qlora_weights(req, model, n_train, prec), A, (_qlora_note(req, prec),)
    if req.peft_like or (req.method in ("ia3", "prefix-tuning", "prompt-tuning") and n_train):
        return n_params * M + n_train * A, A, ()
    return n_params * M, M, ()


def _quantised_inference(req: MemoryRequest, model: Model) -> bool:
    """Inference on a quantised model of known shape: laid out as bitsandbytes/HF quantise it (the
    decoder linears only). With only a parameter count every value is at the precision (the source's
    arithmetic, ``N x M``)."""
    return req.method == "inference" and req.precision in QUANTISED and model.shape is not None


def _qlora_weights(req: MemoryRequest, model: Model, n_train: int, prec: Precisions) -> float:
    """Decoder linears quantised, embeddings and norms at 16 bits (fp32 when upcast), adapters at theirs."""
    n_params = model.n_params
    s = model.shape or ModelShape.guess(n_params)
    linear = min(n_params, s.layers * s.linear_params())
    quant = linear * _quant_bytes(req)
    if _quant_kind(req) == "int8":
        # one fp32 scale per output row of every quantised matrix
        rows = sum(b * (s.experts if n in MLP_TARGETS else 1) for n, (_a, b) in s.matrices().items())
        quant += INT8_ROW_SCALE_BYTES * s.layers * rows
    return quant + (n_params - linear) * _qlora_base_bytes(req, prec) + n_train * prec.adapter


def _quant_kind(req: MemoryRequest) -> str:
    """How the base's linears are stored: nf4 (QLoRA's default), int8, fp8 or nf2."""
    p = req.precision
    if p in ("int8", "fp8"):
        return p
    if p in ("nf2", "int2"):
        return "nf2"
    return "nf4"


def _quant_bytes(req: MemoryRequest) -> float:
    """Bytes per quantised weight, block scales included (int8's row scales are added per matrix)."""
    kind = _quant_kind(req)
    if kind in ("int8", "fp8"):
        return 1.0
    if kind == "nf2":
        return NF2_BYTES_PER_PARAM if req.double_quant else NF2_NO_DQ_BYTES_PER_PARAM
    return NF4_BYTES_PER_PARAM if req.double_quant else NF4_NO_DQ_BYTES_PER_PARAM


def _qlora_base_bytes(req: MemoryRequest, prec: Precisions) -> float:
    """The unquantised parameters: fp32 after prepare_model_for_kbit_training, else 16-bit (or more)."""
    if req.upcast:
        return 4.0
    return prec.value if prec.value >= 2 else 2


def _qlora_note(req: MemoryRequest, prec: Precisions) -> str:
    kind = _quant_kind(req)
    scales = {
        "nf4": f"4 bits + {'double-quantised ' if req.double_quant else ''}absmax per 64",
        "nf2": f"2 bits + {'double-quantised ' if req.double_quant else ''}absmax per 64 (assumed as NF4's)",
        "int8": "LLM.int8: 1 byte + an fp32 scale per output row",
        "fp8": "1 byte, per-tensor scale",
    }[kind]
    base = _qlora_base_bytes(req, prec)
    upcast = " (prepare_model_for_kbit_training upcasts them to fp32)" if req.upcast else ""
    who = {"qlora": "QLoRA", "inference": "quantised inference"}.get(
        req.method, f"{req.method} on a quantised base"
    )
    return (
        f"{who}: decoder linears in {kind} at {_quant_bytes(req):.4f} bytes/param ({scales}), embeddings, "
        f"norms and lm_head at {base:g} bytes{upcast}"
        + ("" if req.method == "inference" else f", adapters at {prec.adapter:g} bytes")
    )


def gradients(req: MemoryRequest, n_train: int, train_bytes: float, model: Model) -> tuple[float, Notes]:
    """One gradient per trainable value, at its width; none for inference.

    With the optimizer in backward each parameter is stepped (and its gradient freed) as soon as its
    gradient is ready: only the largest single parameter's gradient is counted.
    """
    if not req.training:
        return 0, ()
    if not req.optimizer_in_backward:
        return n_train * train_bytes, ()
    largest = min(n_train, _largest_trainable(req, model))
    note = (
        f"optimizer in backward: gradients freed as each parameter steps; the largest ({largest:,}) counted"
    )
    return largest * train_bytes, (note,)


def _largest_trainable(req: MemoryRequest, model: Model) -> int:
    """Elements of the largest trainable parameter tensor."""
    s = model.shape or ModelShape.guess(model.n_params)
    if req.peft_like:
        mats = s.matrices()
        return max(
            (max(mats[t]) * req.rank for t in req.target_names if t in mats), default=s.hidden * req.rank
        )
    if req.method in ("full", "partial"):
        return s.largest_param() if req.method == "full" else max(a * b for a, b in s.matrices().values())
    return s.hidden if req.method == "bitfit" else max(s.ffn, s.hidden)


def optimizer_states(
    req: MemoryRequest, n_train: int, state_bytes: float, model: Model | None = None
) -> tuple[float, Notes]:
    """k states per trainable parameter (0 SGD, 1 momentum/Lion, 2 Adam), at 1 byte for the 8-bit ones."""
    if not req.training:
        return 0, ()
    if req.optimizer == "adafactor":
        return _adafactor_states(req, n_train, state_bytes, model)
    k, fixed = OPTIMIZERS[req.optimizer]
    opt = n_train * k * (fixed if fixed is not None else state_bytes)
    note = f"{req.optimizer}: {k} state(s) per trainable parameter" + (
        f" at {fixed:g} byte(s)" if fixed else ""
    )
    return opt, (note,)


def paged_states(req: MemoryRequest, optimizer_bytes: float) -> float:
    """The optimizer bytes that live outside PyTorch's allocator: bitsandbytes' paged optimizers.

    Their states are allocated with ``cudaMallocManaged`` (CUDA unified memory): they stay on the GPU
    while it has room and are evicted to CPU memory when it does not, so they never cause an out-of-
    memory error and PyTorch's allocator statistics (``max_memory_allocated``/``reserved``, what
    published peaks report) do not count them. ``total_bytes`` is the allocator's peak without them.
    """
    if not (req.training and req.optimizer.startswith("paged-")):
        return 0.0
    return max(0.0, optimizer_bytes)


def _adafactor_states(
    req: MemoryRequest, n_train: int, state_bytes: float, model: Model | None
) -> tuple[float, Notes]:
    """Adafactor (HF defaults, no first moment): a row and a column second moment per matrix, a full one
    per vector. Full fine-tuning counts (rows + cols) per matrix and 1x per norm vector; adapters
    (LoRA's A and B) count (rows + cols) each; other methods' vectors 1x."""
    s = (model.shape if model else None) or ModelShape.guess(model.n_params if model else n_train)
    mats = s.matrices()
    if req.method == "full":
        per_layer = sum(a + b for a, b in mats.values()) + s.norms_per_layer * s.hidden
        n = s.layers * per_layer + (s.vocab + s.hidden) * (1 if s.tie_embeddings else 2) + s.hidden
    elif req.peft_like:
        n = s.layers * sum(mats[t][0] + mats[t][1] + 2 * req.rank for t in req.target_names if t in mats)
    elif req.method == "partial":
        n = n_train * 2 // max(1, s.hidden)  # matrices about h wide: rows + cols ~ 2 n / h
    else:
        n = n_train
    n = min(n, n_train)
    return n * state_bytes, (f"adafactor: factored second moment, {n:,} state values (no first moment)",)


def shard(
    req: MemoryRequest, model: Model, w: Weights, grads: float, opt: float, prec: Precisions
) -> tuple[Weights, float, float, Notes]:
    """Per-GPU bytes: zero1 splits optimizer states over the GPUs, zero2 also gradients, zero3/fsdp also
    weights (plus one layer's gathered weights, and for fsdp training the root unit's); activations are
    never split."""
    n, how = req.gpus, req.sharding
    if n <= 1 or how == "none":
        note = f"{n} GPUs, no sharding: every GPU holds a full replica (DDP)" if n > 1 else ""
        return w, grads, opt, (note,) if note else ()
    opt = opt / n
    if how in ("zero2", "zero3", "fsdp"):
        grads = grads / n
    bytes_ = w.bytes
    parts = {"zero1": "optimizer states", "zero2": "optimizer states and gradients"}.get(
        how, "optimizer states, gradients and weights (plus one layer's weights gathered)"
    )
    if how in ("zero3", "fsdp"):
        s = model.shape or ModelShape.guess(model.n_params)
        per_value = w.bytes / max(1, model.n_params)
        gathered = s.layer_params() * per_value
        if how == "fsdp" and req.training:
            # FSDP2 does not reshard the root unit after forward (it would be gathered again at once
            # for backward): the embeddings, final norm and lm_head stay whole through backward
            root = s.vocab * s.hidden * (1 if s.tie_embeddings else 2) + s.hidden
            root_value = _qlora_base_bytes(req, prec) if req.quantised_base else prec.value
            gathered += root * root_value * (1 - 1 / n)
            parts += " and the root unit (embeddings, final norm, lm_head) gathered through backward"
        bytes_ = w.bytes / n + gathered
    note = f"per GPU of {n}: {how} splits the {parts}; activations are not split"
    return replace(w, bytes=bytes_), grads, opt, (note,)


# --- activations and the total -----------------------------------------------------------------------
def peak(
    req: MemoryRequest,
    model: Model,
    prec: Precisions,
    n_train: int,
    w: Weights,
    *,
    gradient_bytes: float,
    optimizer_bytes: float,
) -> Peak:
    """Activations, overhead and the total: computed from the shape, or a share of the weights."""
    if not _shape_mode(req, model):
        return source_mode_peak(req, weights=w.bytes, gradients=gradient_bytes, optimizer=optimizer_bytes)
    assert model.shape is not None
    acts = saved_activations(
        req,
        model.shape,
        value_bytes=prec.value,
        n_train=n_train,
        adapter_bytes=prec.adapter,
        train_bytes=w.train_bytes,
    )
    return shape_mode_peak(
        req,
        model.shape,
        acts,
        weights=w.bytes,
        gradients=gradient_bytes,
        optimizer=optimizer_bytes,
        train_bytes=w.train_bytes,
    )


# --- adapters ----------------------------------------------------------------------------------------
def adapter_storage(req: MemoryRequest, n_params: int, lora_n: int) -> tuple[dict[str, Any] | None, Notes]:
    """Parameters of ``adapters`` LoRA adapters merged into full copies vs kept apart from one base."""
    if not req.adapters:
        return None, ()
    n = req.adapters
    info = {
        "count": n,
        "params_per_adapter": lora_n,
        "merged_params": n_params * n,
        "separate_params": n_params + lora_n * n,
    }
    note = (
        f"{n} adapters: merged = {n} full copies; separate = one base + {n} x {lora_n:,} adapter parameters"
    )
    return info, (note,)
