"""The technique contract: what a technique plugin registers and what it returns.

A technique turns (model, tokenizer, task data, settings) into a ``System``: the thing the
evaluation queries for generations and log-likelihoods. Prompting and retrieval techniques
change the prompt; PEFT, full fine-tuning and merges change the weights. Evaluation itself is
not the technique's business: ``advisor.train.evaluate`` runs lm-eval on the task's local data for
every technique alike, so a technique's score is computed exactly like the baseline's.

Built-in techniques live in ``plugins/techniques/`` and use only this module and ``advisor``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from advisor.errors import UsageError

KINDS = ("prompting", "retrieval", "peft", "full", "merge")


@dataclass
class TaskData:
    """What a technique may use of a task: training pairs and an optional corpus.

    ``train`` holds ``{"prompt", "target"}`` dicts rendered by the task's own lm-eval templates,
    so training sees exactly the prompts the evaluation asks.
    """

    name: str
    train: list[dict[str, str]]
    corpus: list[tuple[str, str]] | None = None  # (document, passage)


@dataclass
class System:
    """A model ready to be evaluated: weights plus an optional prompt rewrite.

    ``rewrite(prompt) -> prompt`` is applied to the user prompt of every request (few-shot
    examples, retrieved passages). ``info`` carries what the technique wants reported
    (trainable parameters, train statistics, the adapter folder...).
    """

    model: Any
    tokenizer: Any
    rewrite: Callable[[str], str] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def prompt(self, text: str) -> str:
        return self.rewrite(text) if self.rewrite else text


@dataclass
class Environment:
    """Where a run happens: device, whether CUDA/bf16 are there, a work folder, the seed."""

    device: str = "cpu"
    workdir: Any = None
    seed: int = 0
    progress: bool = True

    @property
    def cuda(self) -> bool:
        return self.device.startswith("cuda")


class Technique:
    """Base class of techniques. Subclasses set the class attributes and implement ``apply``.

    ``defaults`` lists every setting the technique takes, with its default; ``advisor run --set
    key=value`` may only set those (anything else is a usage error, with the valid keys).
    """

    name: str = ""
    kind: str = "prompting"
    requires: tuple[str, ...] = ()
    description: str = ""
    defaults: dict[str, Any] = {}
    #: the ``advisor memory`` method whose estimate is this technique's training memory (None: not estimated)
    memory_method: str | None = None
    #: the precision of that estimate's base weights (None: the user's precision, bf16 by default)
    memory_precision: str | None = None

    def skip_reason(self, env: Environment) -> str | None:
        """Why this technique cannot run here (None when it can)."""
        if "cuda" in self.requires and not env.cuda:
            return f"{self.name} needs a CUDA GPU (bitsandbytes 4-bit kernels); this machine has none"
        return None

    def settings(self, overrides: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(overrides) - set(self.defaults))
        if unknown:
            valid = ", ".join(sorted(self.defaults)) or "none"
            raise UsageError(
                f"technique {self.name!r} does not take {', '.join(unknown)} (it takes: {valid})"
            )
        merged = dict(self.defaults)
        for key, value in overrides.items():
            merged[key] = coerce(value, self.defaults[key], key)
        return merged

    def apply(
        self, model: Any, tokenizer: Any, task: TaskData, settings: dict[str, Any], env: Environment
    ) -> System:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "requires": list(self.requires),
            "description": self.description,
            "defaults": dict(self.defaults),
        }


def coerce(value: Any, default: Any, key: str) -> Any:
    """Turn a ``--set`` string into the type of the default."""
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        return value
    try:
        if isinstance(default, bool):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, (list, tuple)):
            return [v.strip() for v in value.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"setting {key}={value!r}: expected a {type(default).__name__}") from None
    return value


def count_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = total = 0
    for p in model.parameters():
        n = p.numel()
        total += n
        if p.requires_grad:
            trainable += n
    return trainable, total
