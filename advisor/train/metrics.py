"""The metrics of a cell: one record of facts per name that ``advisor run`` can emit.

``advisor run --json`` prints them, the results store saves the numeric ones with their unit, ``advisor
bench compare`` decides from the direction and family whether a change is a regression (and with which
threshold), and the report, the comparison table and ``advisor run``'s table label and format them from
here. A name that is not registered (a metric some future cell emits) gets facts guessed from its name,
exactly as before there was a registry: ``*_s``/``*_ms`` are times, ``*_bytes`` memory, ``*_params``
parameter counts, ``quality*`` scores (higher is better); anything else is informational.

Nothing here imports anything beyond the standard library, so the harness can use it without torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

#: Tokens generated per prompt when ``advisor run`` measures generation latency.
LATENCY_NEW_TOKENS = 32

#: Families: what a metric measures. ``compare`` applies ``--quality-drop`` to quality, ``--time-growth``
#: to time and ``--memory-growth`` to memory and size; the others are never flagged.
FAMILIES = ("quality", "time", "memory", "size", "training", "info")

#: How a value is shown (see :func:`format_value`).
FORMATS = ("score", "seconds", "ms", "bytes", "count", "rate", "number", "text")

#: Formatting styles: ``short`` (3 significant digits: comparisons), ``table`` (fixed decimals, counts as
#: K/M/B: the report), ``full`` (fixed decimals, exact counts: ``advisor run``).
STYLES = ("short", "table", "full")


@dataclass(frozen=True)
class Metric:
    name: str
    #: stored with each value: ``score``, ``params``, ``s``, ``ms``, ``bytes``, ``tokens/s``; None: no unit
    unit: str | None
    #: True or False: ``compare`` flags a change the wrong way; None: informational, never flagged
    higher_is_better: bool | None
    label: str  # for people: table headers, plot titles
    family: str  # one of FAMILIES
    fmt: str  # one of FORMATS

    def __post_init__(self) -> None:
        if self.family not in FAMILIES or self.fmt not in FORMATS:
            raise ValueError(
                f"metric {self.name!r}: family {self.family!r} or format {self.fmt!r} is unknown"
            )

    @property
    def direction(self) -> int:
        """+1 when higher is better, -1 when lower is better, 0 when never compared."""
        return {True: +1, False: -1, None: 0}[self.higher_is_better]

    def format(self, value: float | None, style: str = "short") -> str:
        return format_value(value, self.fmt, style)


#: Every metric ``advisor run`` emits, in the order it emits them. Non-numeric ones (flags, texts, the
#: dict of every lm-eval metric) are printed by ``advisor run --json`` but not stored.
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("baseline_cached", None, None, "baseline from cache", "info", "text"),
        Metric("quality_before", "score", True, "quality before", "quality", "score"),
        Metric("quality_after", "score", True, "quality after", "quality", "score"),
        # Seconds, but stored without a unit and never compared (as since the first schema).
        Metric("eval_seconds", None, None, "evaluation time", "time", "seconds"),
        Metric("all_after", None, None, "every metric after", "info", "text"),
        Metric("trainable_params", "params", None, "trainable params", "size", "count"),
        Metric("total_params", "params", None, "total params", "size", "count"),
        Metric("train_time_s", "s", False, "train time", "time", "seconds"),
        Metric("tokens_per_s", "tokens/s", True, "tokens/s (training)", "time", "rate"),
        Metric("train_steps", None, None, "train steps", "training", "count"),
        Metric("train_loss_first", None, None, "first train loss", "training", "number"),
        Metric("train_loss_last", None, None, "last train loss", "training", "number"),
        Metric("val_loss", None, None, "validation loss", "training", "number"),
        Metric("apply_seconds", None, None, "apply time", "time", "seconds"),
        Metric("adapter_bytes", "bytes", False, "adapter / trained size", "size", "bytes"),
        Metric("latency_ms", "ms", False, f"generation latency ({LATENCY_NEW_TOKENS} tokens)", "time", "ms"),
        Metric("latency_spread_ms", "ms", None, "latency spread (max - min of 5)", "time", "ms"),
        Metric("latency_merged_ms", "ms", False, "latency merged", "time", "ms"),
        Metric("latency_merged_spread_ms", "ms", None, "latency merged spread", "time", "ms"),
        Metric("peak_memory_bytes", "bytes", False, "peak memory", "memory", "bytes"),
        Metric("peak_memory_kind", None, None, "peak memory kind", "info", "text"),
        Metric("device", None, None, "device", "info", "text"),
    )
}

_FMT_OF_UNIT = {
    "score": "score",
    "s": "seconds",
    "ms": "ms",
    "bytes": "bytes",
    "params": "count",
    "tokens/s": "rate",
}


def metric(name: str) -> Metric:
    """The facts of a metric; an unregistered name gets them guessed from its name."""
    known = METRICS.get(name)
    return known if known is not None else _guess(name)


def unit_of(name: str) -> str | None:
    """The unit a value of this metric is stored with."""
    return metric(name).unit


@lru_cache(maxsize=256)
def _guess(name: str) -> Metric:
    unit = _guess_unit(name)
    family, higher = _guess_family(name)
    return Metric(name, unit, higher, name, family, _FMT_OF_UNIT.get(unit or "", "number"))


def _guess_unit(name: str) -> str | None:
    for suffix, unit in (("_s", "s"), ("_ms", "ms"), ("_bytes", "bytes"), ("_params", "params")):
        if name.endswith(suffix):
            return unit
    return "score" if name.startswith("quality") else None


def _guess_family(name: str) -> tuple[str, bool | None]:
    if name.startswith("quality"):
        return "quality", True
    if name.endswith(("_s", "_ms")):
        return "time", False
    if name.endswith("_bytes"):
        return "memory", False
    return "info", None


def format_value(value: float | None, fmt: str, style: str = "short") -> str:
    """A value for people; ``-`` for a missing one. ``style`` is one of STYLES."""
    if value is None:
        return "-"
    if fmt == "text":
        return str(value)
    if fmt == "score":
        return f"{value:.3f}"
    if fmt in ("seconds", "ms"):
        return _duration(value, "s" if fmt == "seconds" else "ms", style)
    if fmt == "bytes":
        return _bytes(value, style)
    if style == "short":
        return f"{value:.4g}"
    if fmt == "count":
        return _count(value) if style == "table" else f"{value:,.0f}"
    if fmt == "rate":
        return f"{value:.0f}"
    return f"{value:.4g}"


def _duration(value: float, unit: str, style: str) -> str:
    if style == "short":
        return f"{value:.3g} {unit}"
    return f"{value:.1f} s" if unit == "s" else f"{value:.0f} ms"


def _bytes(value: float, style: str) -> str:
    large = abs(value) >= 1e8
    if style == "short":
        return f"{value / 1e9:.3g} GB" if large else f"{value / 1e6:.3g} MB"
    if style == "table":
        return f"{value / 1e9:.2f} GB" if large else f"{value / 1e6:.1f} MB"
    return f"{value / 1e9:.2f} GB" if large else f"{value / 1e6:.2f} MB"


def _count(value: float) -> str:
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= div:
            return f"{value / div:.3g}{suffix}"
    return f"{value:.0f}"
