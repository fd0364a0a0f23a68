"""The plugin contract: every extension point of ``advisor`` is one hook here.

A plugin is any module or object with functions named like these hooks and decorated
with ``advisor.hookimpl``. Built-in plugins use exactly this contract. Third-party
plugins are found through the entry-point group ``advisor`` (see docs/plugins.md).

Registration hooks receive a ``register`` callback and may call it any number of
times; names must be unique across all plugins (a clash is a PluginError). The
objects passed to ``register`` are described by the protocols in ``advisor.api``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

hookspec = pluggy.HookspecMarker("advisor")
hookimpl = pluggy.HookimplMarker("advisor")


@hookspec
def advisor_register_log_readers(register: Callable[[Any], None]) -> None:
    """Register log readers.

    Called once when a log is opened. Call ``register(reader)`` for each reader, an
    object with ``name: str``, ``priority: int`` (higher is tried first when the format
    is detected automatically), ``sniff(path, head) -> bool`` (``head`` is the first
    64 KiB of the file, or b"" for a folder) and ``read(path, ctx) -> Iterator[EvalRecord]``.
    ``read`` must stream: yield records one at a time, report unreadable lines with
    ``ctx.skip(line_number, reason)`` and raise ``advisor.InputError`` for a file it
    cannot read at all. ``advisor diagnose --format NAME`` picks a reader by name.
    """


@hookspec
def advisor_register_detectors(register: Callable[[Any], None]) -> None:
    """Register failure detectors.

    Called once per diagnosis. Call ``register(detector)`` for each detector, an object
    with ``name: str`` and ``detect(record, ctx) -> Iterable[Finding]``. ``detect`` is
    called only for failed records; ``ctx`` is an ``advisor.DiagnosisContext`` (the
    record's parsed output, the reference, helpers). Each ``Finding(verdict, subtype,
    evidence)`` is one reason; the record's verdict is the first class in the order
    behaviour, factual, format among all findings of all detectors. Return nothing when
    the detector has no opinion. Detectors must be fast: they run on every failure.
    """


@hookspec
def advisor_register_rules(register: Callable[[Any], None]) -> None:
    """Register recommendation rules.

    Called once per recommendation. Call ``register(source)`` with a path to a TOML
    rule file or a list of rule dictionaries (the format of docs/rules.md). Rules are
    data: they are matched against the failure profile, never executed. A rule whose
    ``id`` equals a built-in rule's id replaces it.
    """


@hookspec
def advisor_register_techniques(register: Callable[[Any], None]) -> None:
    """Register techniques (prompting, RAG, PEFT methods, fine-tuning, merges).

    Called when techniques are listed or run. Call ``register(technique)`` with an
    object that has ``name: str`` (the canonical name used by the rules), ``kind``
    (``prompting``, ``retrieval``, ``peft``, ``full`` or ``merge``), ``requires``
    (a tuple such as ``("cuda",)``), ``description`` and ``defaults`` (a dict).
    """


@hookspec
def advisor_register_tasks(register: Callable[[Any], None]) -> None:
    """Register benchmark tasks.

    Called when tasks are listed or run. Call ``register(task)`` with an object that
    has ``name``, ``description``, ``failure_class`` (the class of failure it probes),
    ``path`` (a folder holding the lm-eval task YAML and its local data) and
    ``corpus`` (a folder of documents for retrieval, or None).
    """


@hookspec
def advisor_register_commands(cli: click.Group) -> None:
    """Add commands to the ``advisor`` command line.

    Called once when the CLI starts. ``cli`` is the top-level click group: call
    ``cli.add_command(...)``. Keep imports of heavy libraries inside the command body.
    """
