"""Model merging: two LoRA adapters trained apart, merged into one.

Every merge technique trains two LoRA adapters with the shared loop (``advisor.train.loop.train``),
each on one half of the task's training data (``split=halves``, the default) or each on all of it
with a different seed (``split=seeds``), then merges them:

* ``merge-linear``: PEFT ``add_weighted_adapter(combination_type="linear")``. PEFT combines the A and
  B factors separately (each scaled by sqrt(weight * scaling)), so for two adapters the merged delta
  also holds cross terms B1 A2; it is exact for one adapter. Both adapters share the rank ``r``.
* ``merge-ties``: TIES (trim to ``density``, elect signs, disjoint mean) or DARE (random drop with
  rescaling) through PEFT: ``method`` = ``ties`` | ``dare_ties`` | ``dare_linear``. Same rank ``r``.
* ``merge-concat``: PEFT ``combination_type="cat"``: adapters of ranks ``r1`` and ``r2`` become one
  adapter of rank ``r1 + r2`` whose delta is exactly ``w1 * d1 + w2 * d2`` (d = B A * scaling).
* ``merge-slerp``: spherical linear interpolation of the per-module delta weights
  ``d = B @ A * scaling``. PEFT has no SLERP combination (its methods act on the A/B factors, and
  SLERP of two factorisations is not the SLERP of their products), so it is done here by hand on the
  full deltas, and the result is folded into the base weights (``W + slerp(d1, d2, t)``): the
  returned model is a plain model with no adapter. ``t = w2 / (w1 + w2)``; the result is scaled by
  ``w1 + w2`` (1 for the default ``0.5,0.5``), and nearly parallel (or zero) deltas fall back to
  linear interpolation.

``merge_adapters(peft_model, names, weights, method, density)`` is the merge on its own (a
single adapter at weight 1.0 reproduces that adapter's outputs for every method; tested in
``tests/test_merging.py``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from advisor import System, Technique, TrainConfig, TrainSettings, UsageError, hookimpl, setting, train_model

MERGED = "merged"
#: names of the two trained adapters (PEFT warns about names contained in its "lora_" prefix, e.g. "a")
ADAPTERS = ("first", "second")
PEFT_METHODS = ("linear", "ties", "dare_ties", "dare_linear", "cat")
METHODS = (*PEFT_METHODS, "slerp")
#: the methods of merge-ties
TIES_METHODS = ("ties", "dare_ties", "dare_linear")
#: how the training rows are shared between the two adapters
SPLITS = ("halves", "seeds")
#: below this |cos| difference from 1 two deltas count as parallel and SLERP becomes a lerp
_PARALLEL = 1e-4


def parse_weights(value: Any, n: int = 2) -> list[float]:
    """``"0.5,0.5"`` (or a list) -> ``[0.5, 0.5]``; exactly ``n`` numbers."""
    items = value.split(",") if isinstance(value, str) else list(value)
    try:
        weights = [float(str(v).strip()) for v in items if str(v).strip()]
    except ValueError:
        raise UsageError(f"weights must be {n} comma-separated numbers, got {value!r}") from None
    if len(weights) != n:
        raise UsageError(f"weights must be {n} comma-separated numbers, got {value!r}")
    return weights


def _lora_layers(model: Any):
    from peft.tuners.lora import LoraLayer

    for name, module in model.named_modules():
        if isinstance(module, LoraLayer):
            yield name, module


def slerp(d0: Any, d1: Any, t: float) -> Any:
    """Spherical interpolation between two tensors (the angle taken between their directions).

    ``(sin((1-t)θ) d0 + sin(tθ) d1) / sin θ``; linear interpolation when they are (nearly) parallel
    or one of them is zero, where the angle is undefined.
    """
    import torch

    d0, d1 = d0.detach(), d1.detach()
    a, b = d0.flatten().double(), d1.flatten().double()
    na, nb = a.norm(), b.norm()
    if float(na) == 0.0 or float(nb) == 0.0:
        return ((1 - t) * d0.double() + t * d1.double()).to(d0.dtype)
    cos = torch.clamp(torch.dot(a / na, b / nb), -1.0, 1.0)
    if 1 - abs(float(cos)) < _PARALLEL:
        return ((1 - t) * d0.double() + t * d1.double()).to(d0.dtype)
    theta = torch.arccos(cos)
    s = torch.sin(theta)
    out = (torch.sin((1 - t) * theta) / s) * d0.double() + (torch.sin(t * theta) / s) * d1.double()
    return out.to(d0.dtype)


def merge_adapters(
    peft_model: Any,
    names: list[str],
    weights: list[float],
    method: str,
    density: float = 1.0,
    merged_name: str = MERGED,
    keep_sources: bool = False,
) -> Any:
    """Merge the LoRA adapters ``names`` of ``peft_model`` with ``weights``; returns the model to use.

    ``method`` in linear | ties | dare_ties | dare_linear | cat: PEFT's ``add_weighted_adapter``
    adds an adapter ``merged_name``, which becomes the active one; the sources are deleted unless
    ``keep_sources`` (so that saving stores only the merge). The PeftModel is returned.

    ``method == "slerp"``: the per-module deltas are interpolated by hand and folded into the base
    weights; the adapters are removed and the plain base model is returned. One adapter: its delta
    times its weight; two: ``(w1 + w2) * slerp(d1, d2, w2 / (w1 + w2))``.
    """
    names, weights = list(names), [float(w) for w in weights]
    if method not in METHODS:
        raise UsageError(f"unknown merge method {method!r} (one of: {', '.join(METHODS)})")
    if not names or len(names) != len(weights):
        raise UsageError(f"merge needs one weight per adapter (adapters {names}, weights {weights})")
    if method == "slerp":
        merged = _slerp_merge(peft_model, names, weights)
    else:
        merged = _peft_merge(peft_model, names, weights, method, density, merged_name, keep_sources)
    for p in merged.parameters():
        p.requires_grad_(False)
    return merged


def _peft_merge(
    peft_model: Any,
    names: list[str],
    weights: list[float],
    method: str,
    density: float,
    merged_name: str,
    keep_sources: bool,
) -> Any:
    """PEFT's ``add_weighted_adapter``; the merge becomes the active adapter, the sources go unless kept."""
    kwargs: dict[str, Any] = {}
    if method in TIES_METHODS:
        if not 0.0 < float(density) <= 1.0:
            raise UsageError(f"density must be in (0, 1], got {density}")
        kwargs["density"] = float(density)
    peft_model.add_weighted_adapter(names, weights, merged_name, combination_type=method, **kwargs)
    peft_model.set_adapter(merged_name)
    if not keep_sources:
        for name in names:
            peft_model.delete_adapter(name)
    return peft_model


def _slerp_merge(peft_model: Any, names: list[str], weights: list[float]) -> Any:
    """The SLERP (or, for one adapter, weighted) deltas folded into the unloaded base model."""
    import torch

    if len(names) > 2:
        raise UsageError("slerp merges exactly one or two adapters")
    total = sum(weights)
    if len(names) == 2 and total == 0:
        raise UsageError("slerp weights must not sum to 0")
    with torch.no_grad():
        deltas = _slerp_deltas(peft_model, names, weights, total)
        base = peft_model.unload()  # plain modules back, base weights untouched
        modules = dict(base.named_modules())
        prefix = "base_model.model."
        for module_name, delta in deltas.items():
            target = modules[module_name[len(prefix) :] if module_name.startswith(prefix) else module_name]
            target.weight.data += delta.to(target.weight.dtype)
    return base


def _slerp_deltas(peft_model: Any, names: list[str], weights: list[float], total: float) -> dict[str, Any]:
    """Per LoRA module with the adapters: ``w * d`` (one adapter) or ``total * slerp(d1, d2, w2 / total)``."""
    deltas: dict[str, Any] = {}
    for module_name, layer in _lora_layers(peft_model):
        present = [n for n in names if n in layer.lora_A]
        if not present:
            continue
        if len(present) != len(names):
            raise UsageError(f"slerp: module {module_name} has only adapters {present}")
        ds = [layer.get_delta_weight(n) for n in names]
        if len(ds) == 1:
            deltas[module_name] = weights[0] * ds[0]
        else:
            deltas[module_name] = total * slerp(ds[0], ds[1], weights[1] / total)
    return deltas


@dataclass
class MergeSettings(TrainSettings):
    """What every merge takes: the shared training settings and those of its two LoRA adapters."""

    learning_rate: float = 1e-3
    alpha: int = setting(16, "each adapter's update BA is scaled by alpha / its rank")
    dropout: float = setting(0.05, "dropout on the adapters' input while training")
    targets: str = setting("q_proj,v_proj", "comma-separated names of the modules that get the adapters")
    split: str = setting(
        "halves", "halves: each adapter trains on one half of the rows; seeds: both on all, different seeds"
    )
    weights: str = setting("0.5,0.5", "the two adapters' weights in the merge, comma-separated")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_min("alpha", 1)
        self.check_range("dropout", 0, 1, "[)")
        targets = [t for t in self.targets.split(",") if t.strip()]
        self.check("targets", bool(targets), "one or more module names, comma-separated")
        self.check_choice("split", SPLITS)
        try:
            parse_weights(self.weights)
        except UsageError:
            self.check("weights", False, "2 comma-separated numbers")


@dataclass
class SameRankMergeSettings(MergeSettings):
    r: int = setting(8, "rank of both adapters (and of the merged one)")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_min("r", 1)


@dataclass
class SlerpSettings(SameRankMergeSettings):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.check("weights", sum(parse_weights(self.weights)) != 0, "2 numbers whose sum is not 0")


@dataclass
class TiesSettings(SameRankMergeSettings):
    # TIES's disjoint merge already averages where the signs agree: weights of 1 keep the scale.
    weights: str = "1.0,1.0"
    method: str = setting(
        "ties", "ties (trim, elect signs, disjoint mean), dare_ties or dare_linear (random drop)"
    )
    density: float = setting(0.5, "fraction of each adapter's delta values kept")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_choice("method", TIES_METHODS)
        self.check_range("density", 0, 1, "(]")


@dataclass
class ConcatSettings(MergeSettings):
    r1: int = setting(8, "rank of the first adapter")
    r2: int = setting(4, "rank of the second adapter (the merged one has rank r1 + r2)")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_min("r1", 1)
        self.check_min("r2", 1)


class _Merge(Technique):
    """Train two LoRA adapters with the shared loop, then merge them with ``method``."""

    kind = "merge"
    method = "linear"

    def ranks(self, settings: dict[str, Any]) -> tuple[int, int]:
        return int(settings["r"]), int(settings["r"])

    def merge_method(self, settings: dict[str, Any]) -> str:
        return self.method

    def lora_config(self, settings: dict[str, Any], r: int) -> Any:
        from peft import LoraConfig, TaskType

        targets = settings["targets"]
        targets = [
            t.strip() for t in (targets.split(",") if isinstance(targets, str) else targets) if t.strip()
        ]
        return LoraConfig(
            task_type=TaskType.CAUSAL_LM,
            r=r,
            lora_alpha=int(settings["alpha"]),
            lora_dropout=float(settings["dropout"]),
            target_modules=targets,
        )

    def halves(self, task: Any, settings: dict[str, Any], seed: int) -> tuple[list, list, int, int]:
        """(rows of adapter a, rows of adapter b, seed a, seed b)."""
        split = settings["split"]
        if split not in SPLITS:
            raise UsageError(f"split must be halves or seeds, not {split!r}")
        rows = list(task.train)
        if split == "seeds" or len(rows) < 2:
            return rows, rows, seed, seed + 1
        random.Random(seed).shuffle(rows)
        mid = len(rows) // 2
        return rows[:mid], rows[mid:], seed, seed + 1

    def apply(self, model: Any, tokenizer: Any, task: Any, settings: dict[str, Any], env: Any) -> System:
        import torch
        from peft import get_peft_model

        from advisor import count_parameters

        if not task.train:
            raise UsageError(f"task {task.name!r} has no training split: {self.name} needs one")
        weights = parse_weights(settings["weights"])
        method = self.merge_method(settings)
        density = float(settings.get("density", 1.0))
        r_a, r_b = self.ranks(settings)
        rows_a, rows_b, seed_a, seed_b = self.halves(task, settings, env.seed)

        peft_model = get_peft_model(model, self.lora_config(settings, r_a), adapter_name=ADAPTERS[0])
        peft_model.add_adapter(ADAPTERS[1], self.lora_config(settings, r_b))
        runs = []
        trainable = 0
        for name, rows, seed in ((ADAPTERS[0], rows_a, seed_a), (ADAPTERS[1], rows_b, seed_b)):
            peft_model.set_adapter(name)  # only this adapter is active and trainable
            n_trainable, _ = count_parameters(peft_model)
            trainable += n_trainable
            stats = train_model(peft_model, tokenizer, rows, TrainConfig.from_settings(settings, seed), env)
            runs.append(
                {
                    "adapter": name,
                    "rows": len(rows),
                    "seed": seed,
                    "trainable_params": n_trainable,
                    **stats.to_json(),
                }
            )
        _, total_with_adapters = count_parameters(peft_model)
        torch.manual_seed(env.seed)  # DARE drops at random
        merged = merge_adapters(peft_model, list(ADAPTERS), weights, method, density)
        merged.eval()
        merged_params = 0
        if method != "slerp":
            merged_params = sum(p.numel() for n, p in merged.named_parameters() if f".{MERGED}." in n)
        info = {
            "trainable_params": trainable,  # both adapters
            "total_params": total_with_adapters,
            "train": _sum_stats(runs),
            "merge": {
                "method": method,
                "weights": weights,
                "density": density if method != "slerp" else None,
                "ranks": [r_a, r_b],
                "merged_rank": r_a + r_b if method == "cat" else r_a,
                "merged_adapter_params": merged_params,
                "folded_into_base": method == "slerp",
                "adapters": [
                    {
                        k: v
                        for k, v in r.items()
                        if k in ("adapter", "rows", "seed", "trainable_params", "steps", "tokens", "seconds")
                    }
                    for r in runs
                ],
            },
        }
        return System(merged, tokenizer, info=info)


def _sum_stats(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Both trainings as one: counts and times added, losses one after the other."""
    out: dict[str, Any] = {
        "steps": 0,
        "examples": 0,
        "tokens": 0,
        "seconds": 0.0,
        "train_loss": [],
        "val_loss": [],
    }
    for run in runs:
        offset = out["steps"]
        for key in ("steps", "examples", "tokens", "seconds"):
            out[key] += run[key]
        out["train_loss"] += list(run["train_loss"])
        out["val_loss"] += [(offset + step, loss) for step, loss in run["val_loss"]]
    out["tokens_per_s"] = out["tokens"] / out["seconds"] if out["seconds"] else 0.0
    return out


class MergeLinear(_Merge):
    name = "merge-linear"
    method = "linear"
    description = (
        "Two LoRA adapters (rank r, trained on two halves of the data) averaged with PEFT's linear "
        "add_weighted_adapter."
    )
    Settings = SameRankMergeSettings


class MergeSlerp(_Merge):
    name = "merge-slerp"
    method = "slerp"
    description = (
        "Two LoRA adapters merged by SLERP of their per-module delta weights, folded into the base "
        "weights (done by hand: PEFT has no SLERP)."
    )
    Settings = SlerpSettings


class MergeTies(_Merge):
    name = "merge-ties"
    method = "ties"
    description = (
        "Two LoRA adapters merged with TIES or DARE (method=ties|dare_ties|dare_linear, keeping a "
        "density fraction) through PEFT's add_weighted_adapter."
    )
    Settings = TiesSettings

    def merge_method(self, settings):
        method = settings["method"]
        if method not in TIES_METHODS:
            raise UsageError(f"merge-ties method must be ties, dare_ties or dare_linear, not {method!r}")
        return method


class MergeConcat(_Merge):
    name = "merge-concat"
    method = "cat"
    description = (
        "LoRA adapters of ranks r1 and r2 concatenated into one adapter of rank r1+r2 (PEFT cat): "
        "exactly the weighted sum of their deltas."
    )
    Settings = ConcatSettings

    def ranks(self, settings):
        return int(settings["r1"]), int(settings["r2"])


@hookimpl
def advisor_register_techniques(register):
    for technique in (MergeLinear(), MergeSlerp(), MergeTies(), MergeConcat()):
        register(technique)


__all__ = [
    "merge_adapters",
    "slerp",
    "parse_weights",
    "MergeLinear",
    "MergeSlerp",
    "MergeTies",
    "MergeConcat",
]
