"""The technique contract: what a technique plugin registers and what it returns.

A technique turns (model, tokenizer, task data, settings) into a ``System``: the thing the
evaluation queries for generations and log-likelihoods. Prompting and retrieval techniques
change the prompt; PEFT, full fine-tuning and merges change the weights. Evaluation itself is
not the technique's business: ``advisor.train.evaluate`` runs lm-eval on the task's local data for
every technique alike, so a technique's score is computed exactly like the baseline's.

Built-in techniques live in ``plugins/techniques/`` and use only this module and ``advisor``.

Settings are typed: a technique's ``Settings`` is a dataclass (a subclass of ``TechniqueSettings``)
whose fields carry a default and one line of help (``setting(default, help)``) and whose
``__post_init__`` checks the values. From it come ``Technique.defaults``, the parsing of ``advisor run
--set key=value`` and of suite settings (``Technique.settings``), the ``settings`` of ``advisor
techniques --json`` (``Technique.describe``) and the settings tables of ``docs/techniques.md``
(``settings_table``, ``settings_docs``).
"""

from __future__ import annotations

import functools
import inspect
import json
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import MISSING, Field, asdict, dataclass, field, fields, make_dataclass
from typing import Any, ClassVar

from advisor.errors import PluginError, UsageError

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


# -- settings -------------------------------------------------------------------------------------


def setting(default: Any, help: str) -> Any:
    """A field of a ``Settings`` dataclass: its default and one line of help (shown by ``advisor
    techniques --json`` and in docs/techniques.md). A list default is copied for each instance."""
    if isinstance(default, (list, dict, set)):
        return field(default_factory=functools.partial(type(default), default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class TechniqueSettings:
    """Base of every technique's ``Settings`` dataclass (a technique without settings uses it as is).

    Subclasses declare fields with ``setting(default, help)`` and check their values in
    ``__post_init__`` (calling ``super().__post_init__()`` first) with the ``check*`` helpers, which
    raise ``UsageError`` with one line naming the setting and what it must be.
    """

    def __post_init__(self) -> None:
        """Check the values; the base has nothing to check."""

    def check(self, name: str, ok: bool, allowed: str) -> None:
        """Reject ``name`` unless ``ok``: ``setting NAME=VALUE must be ALLOWED``."""
        if not ok:
            raise UsageError(f"setting {name}={getattr(self, name)!r} must be {allowed}")

    def check_min(self, name: str, low: float, *, strict: bool = False) -> None:
        """``name >= low`` (``> low`` when ``strict``)."""
        value = getattr(self, name)
        self.check(name, value > low if strict else value >= low, f"{'>' if strict else '>='} {low}")

    def check_range(self, name: str, low: float, high: float, bounds: str = "[]") -> None:
        """``name`` between ``low`` and ``high``; ``bounds``: ``[]``, ``[)``, ``(]`` or ``()``."""
        value = getattr(self, name)
        above = value >= low if bounds[0] == "[" else value > low
        below = value <= high if bounds[1] == "]" else value < high
        self.check(name, above and below, f"in {bounds[0]}{low}, {high}{bounds[1]}")

    def check_choice(self, name: str, choices: Iterable[str]) -> None:
        """``name`` is one of ``choices``."""
        choices = tuple(choices)
        self.check(name, getattr(self, name) in choices, f"one of {', '.join(choices)}")


def settings_fields(cls: type[TechniqueSettings]) -> list[Field]:
    """The settings of a ``Settings`` dataclass, in declaration order (base classes first)."""
    return [f for f in fields(cls) if f.init]


def field_default(f: Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    raise PluginError(f"setting {f.name} has no default: every setting needs one")


def field_help(cls: type, name: str) -> str:
    """The help of setting ``name``: from the nearest class that gives one, so that a subclass can
    change a default (``learning_rate: float = 1e-3``) and keep the base class's help."""
    for klass in cls.__mro__:
        f = getattr(klass, "__dataclass_fields__", {}).get(name)
        if f is not None and f.metadata.get("help"):
            return str(f.metadata["help"])
    return ""


_FIELD_TYPES: dict[type, dict[str, Any]] = {}


def field_types(cls: type) -> dict[str, Any]:
    """The resolved type of every field (annotations may be strings under ``from __future__``)."""
    if cls not in _FIELD_TYPES:
        try:
            _FIELD_TYPES[cls] = typing.get_type_hints(cls)
        except Exception:  # an unresolvable annotation: parse by the default's type instead
            _FIELD_TYPES[cls] = {f.name: _type_of(field_default(f)) for f in fields(cls)}
    return _FIELD_TYPES[cls]


def type_name(tp: Any) -> str:
    """``int``, ``float``, ``bool``, ``str``, ``list[str]``, ``int | None``... as shown to users."""
    if tp is type(None):
        return "None"
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin in (list, tuple):
        return f"list[{type_name(args[0]) if args else 'str'}]"
    if tp is Any:
        return "any"
    return tp.__name__ if isinstance(tp, type) else str(tp)


def _type_of(default: Any) -> Any:
    """The setting type a legacy ``defaults`` value stands for."""
    if isinstance(default, (bool, int, float, str)):
        return type(default)
    if isinstance(default, (list, tuple)):
        return list[str]
    return Any


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def parse_setting(key: str, value: Any, tp: Any) -> Any:
    """A ``--set`` string (or a suite's TOML value) as a value of type ``tp``: int, float, bool, str,
    ``list[...]`` (a comma list or a JSON list) or ``X | None`` (``none``); else a ``UsageError``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null")):
            if type(None) in args:
                return None
        inner = [a for a in args if a is not type(None)]
        return parse_setting(key, value, inner[0]) if len(inner) == 1 else value
    if origin in (list, tuple) or tp in (list, tuple):
        return _parse_list(key, value, args[0] if args else str, tuple if tuple in (origin, tp) else list)
    parse = _SCALARS.get(tp)
    if parse is None:
        return value
    try:
        return parse(value)
    except (TypeError, ValueError):
        raise UsageError(f"setting {key}={value!r}: expected a {type_name(tp)}") from None


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(value)


def _int(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(value)
    return int(value)


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(value)
    return float(value)


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):  # a TOML list for a comma-list setting
        return ",".join(str(v) for v in value)
    if isinstance(value, (int, float)):
        return str(value)
    raise TypeError(value)


_SCALARS: dict[Any, Callable[[Any], Any]] = {bool: _bool, int: _int, float: _float, str: _str}


def _parse_list(key: str, value: Any, item: Any, kind: type) -> Any:
    """A comma list (``a,b``), a JSON list (``[1, 2]``) or a TOML list, each item parsed as ``item``."""
    items: Any = list(value) if isinstance(value, (list, tuple)) else None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except ValueError:
                items = None
        if not isinstance(items, list):
            items = [v.strip() for v in text.split(",") if v.strip()]
    try:
        if items is not None:
            return kind(parse_setting(key, v, item) for v in items)
    except UsageError:
        pass
    raise UsageError(f"setting {key}={value!r}: expected a list[{type_name(item)}] (comma-separated)")


def describe_settings(cls: type[TechniqueSettings]) -> list[dict[str, Any]]:
    """``[{"name", "type", "default", "help"}]``, one per setting of ``cls``."""
    hints = field_types(cls)
    return [
        {
            "name": f.name,
            "type": type_name(hints.get(f.name, Any)),
            "default": field_default(f),
            "help": field_help(cls, f.name),
        }
        for f in settings_fields(cls)
    ]


_FROM_DEFAULTS: dict[type, type[TechniqueSettings]] = {}


def _settings_from_defaults(technique_cls: type[Technique]) -> type[TechniqueSettings]:
    """A ``Settings`` dataclass for a technique that declares only a ``defaults`` dict (the 0.2
    contract): its ``Settings`` (the base class's) with those defaults, types taken from them."""
    if technique_cls in _FROM_DEFAULTS:
        return _FROM_DEFAULTS[technique_cls]
    base = technique_cls.Settings
    legacy: dict[str, Any] = inspect.getattr_static(technique_cls, "defaults")
    inherited = {f.name: f for f in settings_fields(base)}
    hints = field_types(base)
    spec: list[Any] = []
    for key, value in legacy.items():
        tp = hints[key] if key in inherited else _type_of(value)
        help_ = field_help(base, key) if key in inherited else ""
        if isinstance(value, (list, dict, set)):
            f = field(default_factory=functools.partial(type(value), value), metadata={"help": help_})
        else:
            f = field(default=value, metadata={"help": help_})
        spec.append((key, tp, f))
    made = make_dataclass(f"{technique_cls.__name__}Settings", spec, bases=(base,))
    _FROM_DEFAULTS[technique_cls] = made
    return made


class Technique:
    """Base class of techniques. Subclasses set the class attributes and implement ``apply``.

    ``Settings`` is the dataclass of every setting the technique takes (see ``TechniqueSettings``);
    ``advisor run --set key=value`` may only set those (anything else is a usage error, with the valid
    keys), and a value its ``__post_init__`` rejects fails before any model loads. ``defaults`` is
    derived from it. (A technique that still declares a plain ``defaults`` dict keeps working: its
    settings are typed by their defaults and unchecked.)
    """

    name: str = ""
    kind: str = "prompting"
    requires: tuple[str, ...] = ()
    description: str = ""
    Settings: ClassVar[type[TechniqueSettings]] = TechniqueSettings
    #: the ``advisor memory`` method whose estimate is this technique's training memory (None: not estimated)
    memory_method: str | None = None
    #: the precision of that estimate's base weights (None: the user's precision, bf16 by default)
    memory_precision: str | None = None

    def skip_reason(self, env: Environment) -> str | None:
        """Why this technique cannot run here (None when it can)."""
        if "cuda" in self.requires and not env.cuda:
            return f"{self.name} needs a CUDA GPU (bitsandbytes 4-bit kernels); this machine has none"
        return None

    @classmethod
    def settings_class(cls) -> type[TechniqueSettings]:
        """``Settings``, or for a technique declaring a plain ``defaults`` dict, a dataclass made from it."""
        if isinstance(inspect.getattr_static(cls, "defaults", None), dict):
            return _settings_from_defaults(cls)
        return cls.Settings

    @property
    def defaults(self) -> dict[str, Any]:
        """Every setting with its default (derived from ``Settings``)."""
        return {f.name: field_default(f) for f in settings_fields(self.settings_class())}

    def settings(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """The defaults with ``overrides`` (``--set`` strings or typed suite values) parsed by each
        setting's type and checked by ``Settings.__post_init__``; ``UsageError`` naming the setting
        otherwise. Returned as a plain dict (what ``apply`` gets)."""
        cls = self.settings_class()
        names = [f.name for f in settings_fields(cls)]
        unknown = sorted(set(overrides) - set(names))
        if unknown:
            valid = ", ".join(sorted(names)) or "none"
            raise UsageError(
                f"technique {self.name!r} does not take {', '.join(unknown)} (it takes: {valid})"
            )
        hints = field_types(cls)
        values = {key: parse_setting(key, value, hints.get(key, Any)) for key, value in overrides.items()}
        return asdict(cls(**values))

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
            "settings": describe_settings(self.settings_class()),
        }


def coerce(value: Any, default: Any, key: str) -> Any:
    """Deprecated (use ``parse_setting``): turn a ``--set`` string into the type of ``default``."""
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        return value
    return parse_setting(key, value, _type_of(default))


# -- settings tables (docs/techniques.md) ------------------------------------------------------------

NO_SETTINGS = "_No settings._\n"


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _default_text(value: Any) -> str:
    """A default as it is written after ``--set key=``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value) if value != "" else '""'


def settings_table(
    technique: Technique | type[TechniqueSettings], *, omit: type[TechniqueSettings] | None = None
) -> str:
    """The Markdown table (setting, type, default, help) of a technique's settings (or of a
    ``Settings`` class); with ``omit``, the settings inherited from it with an unchanged default are
    left out. ``_No settings._`` when there is none."""
    cls = technique.settings_class() if isinstance(technique, Technique) else technique
    rows = describe_settings(cls)
    if omit is not None and issubclass(cls, omit):
        inherited = {f.name: field_default(f) for f in settings_fields(omit)}
        rows = [r for r in rows if r["name"] not in inherited or inherited[r["name"]] != r["default"]]
    if not rows:
        return NO_SETTINGS
    lines = ["| setting | type | default | help |", "|---|---|---|---|"]
    for r in rows:
        default = _cell(_default_text(r["default"]))
        lines.append(f"| `{r['name']}` | {_cell(r['type'])} | `{default}` | {_cell(r['help'])} |")
    return "\n".join(lines) + "\n"


def settings_docs(techniques: Iterable[Technique]) -> str:
    """The settings section of docs/techniques.md: the shared training settings, then one table per
    technique (for one that trains, only its own settings and the shared ones whose default it changes)."""
    from advisor.train.loop import TrainSettings

    parts = [
        "### Shared training settings\n",
        "Every technique that trains takes these (its `Settings` extends `TrainSettings`); its own table "
        "below lists the ones whose default it changes.\n",
        settings_table(TrainSettings),
    ]
    for t in techniques:
        trains = issubclass(t.settings_class(), TrainSettings)
        table = settings_table(t, omit=TrainSettings if trains else None)
        parts.append(f"### `{t.name}`\n")
        if trains and table == NO_SETTINGS:
            parts.append("The shared training settings, with their defaults.\n")
            continue
        if trains:
            parts.append("The shared training settings, and:\n")
        parts.append(table)
    return "\n".join(parts)


def count_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = total = 0
    for p in model.parameters():
        n = p.numel()
        total += n
        if p.requires_grad:
            trainable += n
    return trainable, total
