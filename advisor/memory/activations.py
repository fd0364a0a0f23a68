"""Activations and the peak: what autograd keeps per token, and when in a step memory is highest.

Source mode (no batch size and sequence length, or no shape): activations and KV cache are a flat
``activation_fraction`` of the weights and the four parts add up. Shape mode: activations come from the
layer shapes of a Llama-style decoder as PyTorch autograd stores them (``_layer_saved_bytes``), plus the
logits and loss buffers, and the total is the modelled *peak*: backward frees activations as it creates
gradients, so the two are not at their maxima together (docs/memory.md, "Two modes").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from advisor.memory.request import MemoryRequest
from advisor.memory.shapes import ModelShape
from advisor.memory.units import GB

#: torchtune's CEWithChunkedOutputLoss default number of chunks
CHUNKS = 8

#: methods whose layers keep only what a frozen layer keeps (no LoRA inputs)
_SMALL_PEFT = ("ia3", "prefix-tuning", "prompt-tuning", "bitfit")


@dataclass(frozen=True)
class Activations:
    """Bytes at the start of backward (or during an inference prefill), shape mode."""

    saved: float  # what autograd keeps (inference: the KV cache and the logits)
    overhead: float  # what exists only for a moment (loss buffers, one layer's backward)
    head_grad: float  # the lm_head's gradient, already there when backward reaches the layers
    notes: tuple[str, ...]
    kv_cache: float = 0.0  # part of ``saved``: the KV cache (inference)
    logits: float = 0.0  # part of ``saved``: the logits / loss inputs kept


@dataclass(frozen=True)
class Peak:
    """The activations an estimate reports, its transient overhead, and the total that must fit."""

    activations: float
    overhead: float
    total: float
    notes: tuple[str, ...]
    kv_cache: float = 0.0
    logits: float = 0.0


def source_mode_peak(req: MemoryRequest, *, weights: float, gradients: float, optimizer: float) -> Peak:
    """Activations as a share of the weights; the total is the sum of the four parts (source 7.3.2)."""
    acts = weights * req.activation_fraction
    total = weights + acts + gradients + optimizer
    note = (
        f"activations and KV cache: {req.activation_fraction:.0%} of the weights (source 7.3.2; "
        "give --batch-size, --seq-len and a shape to compute them)"
    )
    return Peak(acts, 0.0, total, (note,))


def shape_mode_peak(
    req: MemoryRequest,
    shape: ModelShape,
    acts: Activations,
    *,
    weights: float,
    gradients: float,
    optimizer: float,
    train_bytes: float,
) -> Peak:
    """The larger of two moments: the start of backward (activations) or its end (all gradients)."""
    phase_a = acts.saved + acts.overhead + acts.head_grad
    # tied embeddings: the embedding's dense gradient is added out of place to the lm_head's at the
    # very end of backward, so two more vocab x hidden buffers exist next to all the gradients
    tied = req.method == "full" and shape.tie_embeddings
    tied_tmp = 2 * shape.vocab * shape.hidden * train_bytes if tied else 0
    phase_g = gradients + tied_tmp
    if req.training and phase_g > phase_a:
        note = "peak at the end of backward: all gradients" + (
            " plus two vocab x hidden buffers (tied embedding gradient)" if tied_tmp else ""
        )
        total = weights + optimizer + phase_g
        return Peak(acts.saved, tied_tmp, total, (*acts.notes, note), acts.kv_cache, acts.logits)
    notes = acts.notes
    if req.training:
        notes += ("peak at the start of backward: all saved activations and the loss buffers",)
    total = weights + optimizer + phase_a
    return Peak(acts.saved, acts.overhead, total, notes, acts.kv_cache, acts.logits)


def saved_activations(
    req: MemoryRequest,
    shape: ModelShape,
    *,
    value_bytes: float,
    n_train: int,
    adapter_bytes: float,
    train_bytes: float,
) -> Activations:
    """What a step holds in shape mode: an inference prefill, or the start of a training backward.

    ``value_bytes`` is the bytes per value at the request's precision; activations are kept at that
    width clamped to 2..4 bytes (2 with mixed precision).
    """
    tokens = req.tokens
    assert tokens is not None, "shape mode needs a batch size and a sequence length"
    e = max(2.0, min(value_bytes, 4.0)) if not req.mixed_precision else 2.0
    if req.method == "inference":
        return _inference(shape, e, tokens, req.batch_size or 1)
    return _training(
        req, shape, e, tokens, n_train=n_train, adapter_bytes=adapter_bytes, train_bytes=train_bytes
    )


def _inference(shape: ModelShape, e: float, tokens: int, batch: int) -> Activations:
    """One prefill as ``generate()`` runs it: KV cache, the last position's logits, a layer's temporaries."""
    h, V, f, L = shape.hidden, shape.vocab, shape.ffn * shape.active_experts, shape.layers
    kv_width = 2 * shape.kv * shape.d_head
    kv_cache = L * kv_width * e * tokens
    # no_grad: a layer's temporaries live only inside it
    layer_tmp = (3 * f + 2 * h) * e * tokens
    # generate() asks for the last position only (logits_to_keep=1) and copies it to fp32
    logits = V * (e + 4) * batch
    note = (
        f"inference (prefill of {tokens} tokens, as generate() runs it): KV cache {kv_cache / GB:.3g} GB, "
        f"the last position's logits ({e:g}-byte + fp32 copy) per sequence, one layer's temporaries"
    )
    return Activations(kv_cache + logits, layer_tmp, 0.0, (note,), kv_cache, logits)


def _training(
    req: MemoryRequest,
    shape: ModelShape,
    e: float,
    tokens: int,
    *,
    n_train: int,
    adapter_bytes: float,
    train_bytes: float,
) -> Activations:
    """Saved activations, transient overhead and head gradient at the start of backward."""
    h, V, f = shape.hidden, shape.vocab, shape.ffn * shape.active_experts
    n_layers, notes = _kept_layers(req.method, shape, n_train)
    per_layer = _saved_per_layer(req, shape, e, adapter_bytes)
    head_trains = req.method == "full"
    logits, loss_tmp, loss_note = loss_buffers(req.loss, shape, e, compiled=req.compile)
    head = logits + (4 * h + 2 * e * h + 4 if head_trains else 0) + 16
    # backward working memory of one layer (gradients of its activations); it runs after the loss
    # buffers are gone, so the two are not added
    bwd_tmp = (2 * f + 4 * h) * e
    unit = e * h if req.gradient_checkpointing else per_layer
    kept = n_layers
    if req.activation_offloading:
        # saved activations stream to CPU; the GPU keeps the layer in use and one in the stream buffer
        kept = min(n_layers, 2)
        notes += (
            f"activation offloading: {n_layers - kept} layers' saved activations on the CPU, 2 on the GPU",
        )
    acts = (kept * unit + head) * tokens
    if req.gradient_checkpointing:
        # keep each layer's input; a layer is recomputed only once the head's buffers are freed
        overhead = max(loss_tmp, per_layer + bwd_tmp - head) * tokens
        notes += ("gradient checkpointing: one layer input per layer kept, one layer recomputed",)
    else:
        overhead = max(loss_tmp, bwd_tmp) * tokens
    head_grad = V * h * train_bytes if head_trains else 0.0
    if req.loss == "chunked" and head_trains:
        # the lm_head runs once per chunk, so its weight's gradient is a sum of 8 partials; the first is
        # a transposed view, so the second sum is out of place: old, new and sum (two more V x h) exist
        # together, once 2 of the 8 chunks' logits are freed (measured on CPU, docs/memory.md)
        head_sum = 2 * V * h * train_bytes - 2 / CHUNKS * logits * tokens
        if head_sum > overhead:
            overhead = head_sum
            notes += ("chunked loss with a trained lm_head: its gradient summed out of place once",)
    if req.compile:
        notes += (
            "torch.compile: elementwise results are recomputed in backward, not kept (the MLP keeps "
            "gate and up, each norm its 16-bit input)",
        )
    notes += (
        f"activations per token: {per_layer:,.0f} bytes per layer x {n_layers} layers"
        f"{' (checkpointed)' if req.gradient_checkpointing else ''} + {loss_note}; "
        "overhead: the loss gradients or one layer's backward",
    )
    return Activations(acts, overhead, head_grad, notes, 0.0, logits * tokens)


def loss_buffers(
    loss: str, shape: ModelShape, e: float, *, compiled: bool = False
) -> tuple[float, float, str]:
    """Bytes per token of the logits kept for backward, of the loss's transient buffers, and what they are.

    standard: HF's loss upcasts the logits and autograd keeps the fp32 log-softmax (4V); at the start of
    backward the gradients of its output and input (8V) exist.

    chunked (torchtune's CEWithChunkedOutputLoss, 8 chunks; checked with saved_tensors_hooks): with the
    per-chunk loss compiled (``compiled``, torchtune's recipe), Inductor fuses the upcast, log-softmax and
    gather into one kernel that saves its e-byte input and an fp32 logsumexp per row, so the e-byte logits
    of every position stay (eV) and no fp32 copy exists; backward frees the logits chunk by chunk and
    writes one chunk's e-byte gradient at a time (eV/8). Eager, each chunk's fp32 log-softmax is saved,
    4V in all (as the standard loss), and the forward ends with every e-byte logit and one chunk's fp32
    upcast alive (eV + 4V/8).

    fused (Liger's FusedLinearCrossEntropy; Cut Cross-Entropy keeps less): no logits; the hidden state's
    gradient is computed in forward and kept (eh); a chunk of ~tokens x h / V positions holds fp32 logits
    and their gradient, ~8h per token.
    """
    V, h = shape.vocab, shape.hidden
    if loss == "chunked" and compiled:
        return e * V, e * V / CHUNKS, "e-byte logits (chunked loss, compiled: no fp32 copy)"
    if loss == "chunked":
        note = "fp32 log-softmax of every chunk (chunked loss, eager; torchtune compiles it: --compile)"
        return 4 * V, e * V + 4 * V / CHUNKS, note
    if loss == "fused":
        return e * h, 8 * h, "the hidden state's gradient (fused linear cross-entropy, no logits)"
    return 4 * V, 8 * V, f"fp32 log-softmax over {V:,} tokens"


def _kept_layers(method: str, shape: ModelShape, n_train: int) -> tuple[int, tuple[str, ...]]:
    """How many layers keep activations: all, or for partial the top blocks that train."""
    if method != "partial":
        return shape.layers, ()
    # the top k blocks train; autograd keeps nothing below the first trainable block
    k = min(shape.layers, math.ceil(n_train / max(1, shape.layer_params())))
    return k, (f"partial: the top {k} of {shape.layers} blocks train; nothing is kept below them",)


def _saved_per_layer(req: MemoryRequest, shape: ModelShape, e: float, adapter_bytes: float) -> float:
    """Bytes per token one layer keeps for the request's method."""
    if req.method in _SMALL_PEFT:
        return _layer_saved_bytes(
            shape, e, trainable_layer=False, targets=(), rank=0, adapter_bytes=e, compiled=req.compile
        )
    return _layer_saved_bytes(
        shape,
        e,
        trainable_layer=req.method in ("full", "partial"),
        targets=req.target_names,
        rank=req.rank,
        adapter_bytes=adapter_bytes,
        compiled=req.compile,
    )


#: [gated][trained][compiled]: gated trained keeps gate, silu(gate), up, product (compiled: gate, up);
#: gated frozen gate, silu(gate), up (compiled: gate, up); plain trained pre- and post-activation
#: (compiled: the pre-activation); plain frozen the post-activation, which the down matmul needs
_MLP_KEPT = {
    True: {True: {False: 4, True: 2}, False: {False: 3, True: 2}},
    False: {True: {False: 2, True: 1}, False: {False: 1, True: 1}},
}


def _layer_saved_bytes(
    shape: ModelShape,
    e: float,
    *,
    trainable_layer: bool,
    targets: tuple[str, ...],
    rank: int,
    adapter_bytes: float,
    compiled: bool = False,
) -> float:
    """Bytes autograd keeps per token for one decoder layer (PyTorch eager, SDPA/flash attention).

    Counted from what each op saves for backward (checked with torch.autograd.graph.saved_tensors_hooks):
    RMSNorm upcasts to fp32 and keeps its fp32 input (4h) and rsqrt, plus its 16-bit product when the
    norm weight trains; flash attention keeps q, k, v, the output and an fp32 logsumexp per head; the
    SwiGLU MLP keeps gate, silu(gate), up and their product (4 e f) when its weights train, else the
    first three; a trained linear keeps its input. LoRA adds its input (a separate fp32 copy per adapted
    matrix when peft upcasts adapters to fp32) and the r-wide output of A.

    ``compiled`` (torch.compile): Inductor's min-cut partitioner recomputes elementwise results in
    backward rather than keeping them, so the MLP keeps only what its matmuls need (gate and up, or the
    pre-activation of a plain MLP) and each RMSNorm keeps its 16-bit input instead of the fp32 upcast.
    """
    h, f = shape.hidden, shape.ffn
    q, kv = shape.heads * shape.d_head, shape.kv * shape.d_head
    attn = e * (2 * q + 2 * kv) + 4 * shape.heads
    mlp_gated = shape.mlp == "gated"
    k = shape.active_experts  # a token passes through k experts' MLPs
    norm_input = e * h if compiled else 4 * h  # the fp32 upcast, or (compiled) the 16-bit input
    # MLP tensors kept per token, in units of e x f: [gated][trained][compiled]
    mlp = _MLP_KEPT[mlp_gated][trainable_layer][compiled] * e * f * k
    if trainable_layer:
        norms = 2 * (norm_input + 2 * e * h + 4)
        return norms + attn + mlp
    norms = 2 * (norm_input + 4)
    inputs = {
        "q": ("n1", h),
        "k": ("n1", h),
        "v": ("n1", h),
        "o": ("attn", q),
        "gate": ("n2", h),
        "up": ("n2", h),
        "down": ("prod", f),
    }
    lora = 0.0
    shared: set[str] = {"attn"}  # already kept by attention
    for t in targets:
        if t not in shape.matrices():
            continue
        src, width = inputs[t]
        if adapter_bytes != e:
            lora += adapter_bytes * width  # peft casts the input to the adapter dtype: one copy each
        elif src not in shared:
            lora += e * width
            shared.add(src)
        lora += adapter_bytes * rank
    return norms + attn + mlp + lora
