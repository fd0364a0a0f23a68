"""Options that change nothing for a request: ``no_effect(req)`` names them for a ``warning:`` line."""

from __future__ import annotations

from advisor.memory.request import MemoryRequest


def no_effect(req: MemoryRequest, *, shape_known: bool) -> list[str]:
    """Sentences naming the given options that have no effect on this estimate ([] when all matter).

    ``shape_known``: whether the model's shape is known (a config, a known name, or --layers/--hidden).
    Activation options need shape mode (a shape, a batch size and a sequence length); training options
    need a training method; sharding needs more than one GPU.
    """
    train_only = _training_options(req)
    act = _activation_options(req)
    if not req.training:
        act = [a for a in act if a not in train_only]  # named once, below
    out = []
    if act and not (shape_known and req.tokens):
        parts = [] if shape_known else ["a shape (--model or --layers/--hidden)"]
        parts += [
            opt for opt, val in (("--batch-size", req.batch_size), ("--seq-len", req.seq_len)) if val is None
        ]
        missing = " and ".join(parts)
        out.append(
            f"{', '.join(act)} {'has' if len(act) == 1 else 'have'} no effect in source mode "
            f"(activations are {req.activation_fraction:.0%} of the weights); give {missing} to compute them"
        )
    if train_only and not req.training:
        out.append(
            f"{', '.join(train_only)} {'has' if len(train_only) == 1 else 'have'} no effect for inference"
        )
    if req.sharding != "none" and req.gpus == 1:
        out.append("--sharding has no effect with one GPU (give --gpus N)")
    return out


def _flag_options(req: MemoryRequest) -> dict[str, bool]:
    """The shape-mode flags and whether each is given, in the order messages name them."""
    return {
        "--gradient-checkpointing": req.gradient_checkpointing,
        "--activation-offloading": req.activation_offloading,
        "--optimizer-in-backward": req.optimizer_in_backward,
        "--compile": req.compile,
        f"--loss {req.loss}": req.loss != "standard",
    }


def _activation_options(req: MemoryRequest) -> list[str]:
    names = []
    if req.batch_size is not None:
        names.append("--batch-size")
    if req.seq_len is not None and req.batch_size is None:
        names.append("--seq-len")
    given = _flag_options(req)
    return names + [n for n, on in given.items() if on and n != "--optimizer-in-backward"]


def _training_options(req: MemoryRequest) -> list[str]:
    return [n for n, on in _flag_options(req).items() if on]
