"""The plugin contract: every extension point of ``advisor`` is one hook here.

A plugin is any module or object with functions named like these hooks and decorated
with ``advisor.hookimpl``. Built-in plugins use exactly this contract. Third-party
plugins are found through the entry-point group ``advisor`` (see docs/plugins.md).

Registration hooks receive a ``register`` callback and may call it any number of
times; names must be unique across all plugins (a clash is a PluginError naming both). The
objects passed to ``register`` are described by the protocols in ``advisor.api`` (re-exported from
``advisor``) and checked against them when registered. Built-in plugins are collected first, installed
plugins after them: a plugin's rule replaces a built-in rule of the same id, and a plugin's command a
built-in command of the same name (see ``advisor.plugins``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from advisor.api import Detector, LogReader, RuleSource, Task
    from advisor.train.technique import Technique

hookspec = pluggy.HookspecMarker("advisor")
hookimpl = pluggy.HookimplMarker("advisor")


@hookspec
def advisor_register_log_readers(register: Callable[[LogReader], None]) -> None:
    """Register log readers.

    Called once per process, the first time a log is opened. Call ``register(reader)``
    for each reader, an ``advisor.LogReader``: ``name: str``, ``priority: int`` (higher
    is tried first when the format is detected automatically), ``sniff(path, head) ->
    bool`` (``head`` is the first 64 KiB of the file, or b"" for a folder) and
    ``read(path, ctx) -> Iterator[EvalRecord]``. ``read`` must stream: yield records one
    at a time, report unreadable lines with ``ctx.skip(source, line, reason)`` (``ctx`` is
    an ``advisor.ReadContext``) and raise ``advisor.InputError`` for a file it cannot read
    at all. ``advisor diagnose --format NAME`` picks a reader by name.
    """


@hookspec
def advisor_register_detectors(register: Callable[[Detector], None]) -> None:
    """Register failure detectors.

    Called once per process, the first time a log is diagnosed. Call ``register(detector)``
    for each detector, an ``advisor.Detector``: ``name: str`` and ``detect(ctx) ->
    Iterable[Finding]``. ``detect`` is called only for failed records; ``ctx`` is an
    ``advisor.DiagnosisContext`` (``ctx.record``, the parsed output, the reference, helpers;
    text helpers are in ``advisor.text``). Each ``Finding(verdict, subtype,
    evidence)`` is one reason; the record's verdict is the first class in the order
    behaviour, factual, format among all findings of all detectors. Return nothing when
    the detector has no opinion. Detectors must be fast: they run on every failure.
    """


@hookspec
def advisor_register_rules(register: Callable[[RuleSource], None]) -> None:
    """Register recommendation rules.

    Called once per process, the first time recommendations are made. Call
    ``register(source)`` with an ``advisor.RuleSource``: a path to a TOML rule file or a
    list of rule dictionaries (the format of docs/rules.md). Rules are data: they are
    matched against the failure profile, never executed. A rule whose ``id`` equals a
    built-in rule's id replaces it, whatever order the plugins were loaded in.
    """


@hookspec
def advisor_register_techniques(register: Callable[[Technique], None]) -> None:
    """Register techniques (prompting, RAG, PEFT methods, fine-tuning, merges).

    Called once per process, the first time techniques are listed, named or run. Call
    ``register(technique)`` with an instance of an ``advisor.Technique`` subclass:
    ``name: str`` (the canonical name used by the rules and ``--tried``), ``kind``
    (``prompting``, ``retrieval``, ``peft``, ``full`` or ``merge``), ``requires`` (a
    tuple such as ``("cuda",)``), ``description``, ``Settings`` (a dataclass of its
    settings), ``memory_method`` (the ``advisor memory`` method it maps to, or None) and
    ``apply(model, tokenizer, task, settings, env) -> System``.
    """


@hookspec
def advisor_register_tasks(register: Callable[[Task], None]) -> None:
    """Register benchmark tasks.

    Called once per process, the first time tasks are listed or run. Call
    ``register(task)`` with an ``advisor.Task``: ``name``, ``description``,
    ``failure_class`` (the class of failure it probes), ``path`` (a folder holding the
    lm-eval template ``task.yaml.in`` and its local data) and ``corpus`` (a folder of
    documents for retrieval, or None).
    """


@hookspec
def advisor_register_commands(cli: click.Group) -> None:
    """Add commands to the ``advisor`` command line.

    Called once when the CLI starts, built-ins first. ``cli`` is the top-level click
    group: call ``cli.add_command(...)``; a command with the name of an existing one
    replaces it. Keep imports of heavy libraries inside the command body.
    """
