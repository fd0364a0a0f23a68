"""The typed contract of the objects plugins register (re-exported from ``advisor``).

Each registration hook (see ``advisor.hookspecs``) takes objects of one shape:

==========================  ========================================================
hook                        what ``register`` takes
==========================  ========================================================
``advisor_register_log_readers``   a :class:`LogReader`
``advisor_register_detectors``     a :class:`Detector`
``advisor_register_rules``         a :data:`RuleSource` (TOML path or list of dicts)
``advisor_register_techniques``    an instance of a :class:`~advisor.train.technique.Technique` subclass
``advisor_register_tasks``         a :class:`Task`
==========================  ========================================================

The protocols are ``runtime_checkable``: the registry checks every registered object against its
protocol and names the plugin that registered a bad one. ``docs/plugins.md`` has a table of the
members of each protocol; a test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from advisor.diagnosis.context import DiagnosisContext
    from advisor.diagnosis.readers import ReadContext
    from advisor.diagnosis.records import EvalRecord, Finding


@runtime_checkable
class LogReader(Protocol):
    """Reads one log format into ``EvalRecord`` objects, streaming."""

    #: the format name, for ``advisor diagnose --format NAME``
    name: str
    #: readers are tried from the highest priority down when the format is detected
    priority: int

    def sniff(self, path: Path, head: bytes) -> bool:
        """True to claim ``path``; ``head`` is its first 64 KiB (``b""`` for a folder)."""
        ...

    def read(self, path: Path, ctx: ReadContext) -> Iterator[EvalRecord]:
        """Yield records one at a time; report bad lines with ``ctx.skip(source, line, reason)``."""
        ...


@runtime_checkable
class Detector(Protocol):
    """Answers one question about a failed record, with evidence."""

    name: str

    def detect(self, ctx: DiagnosisContext) -> Iterable[Finding] | None:
        """Findings about ``ctx.record`` (a failed record); nothing when there is no opinion."""
        ...


@runtime_checkable
class Task(Protocol):
    """A benchmark task: an lm-eval task template over local data, plus an optional corpus."""

    name: str
    description: str
    #: the class of failure the task probes: ``factual``, ``behaviour`` or ``format``
    failure_class: str
    #: a folder holding ``task.yaml.in`` (lm-eval YAML with ``@TRAIN_FILE@``/``@TEST_FILE@``) and the data
    path: Path
    #: a folder of documents for the retrieval techniques, or None
    corpus: Path | None


#: What ``advisor_register_rules`` takes: a TOML rule file, or a list of rule dictionaries.
RuleSource = str | Path | list[dict[str, Any]]


def protocol_members(protocol: type) -> tuple[str, ...]:
    """The attribute and method names a protocol requires, in declaration order."""
    names = list(getattr(protocol, "__annotations__", {}))
    names += [n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_")]
    return tuple(dict.fromkeys(names))


def missing_members(obj: Any, protocol: type) -> list[str]:
    """The members of ``protocol`` that ``obj`` lacks (empty when it conforms)."""
    return [m for m in protocol_members(protocol) if not hasattr(obj, m)]


def is_rule_source(obj: Any) -> bool:
    if isinstance(obj, (str, Path)):
        return True
    return isinstance(obj, list) and all(isinstance(item, dict) for item in obj)
