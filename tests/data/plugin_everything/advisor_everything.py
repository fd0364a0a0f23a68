"""A third-party plugin that implements every hook, written only against ``advisor``'s public API.

tests/test_plugins.py installs it through a fake ``.dist-info`` entry point, as pip would.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from advisor import EvalRecord, FailureClass, Finding, System, Technique, hookimpl


class TsvReader:
    """Reads ``prompt<TAB>output<TAB>reference`` lines."""

    name = "tsv-everything"
    priority = 20  # above the built-in csv reader (10), which also claims .tsv files

    def sniff(self, path, head):
        return path.suffix == ".tsv"

    def read(self, path, ctx):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            parts = line.split("\t")
            if len(parts) != 3:
                ctx.skip(str(path), n, "expected three tab-separated fields")
                continue
            yield EvalRecord(source=str(path), line=n, prompt=parts[0], output=parts[1], reference=parts[2])


class Shouting:
    name = "shouting"

    def detect(self, ctx):
        if len(ctx.output) > 3 and ctx.output.isupper():
            yield Finding(FailureClass.BEHAVIOUR, "shouting", "the output is all capitals")


RULES = [
    {
        "id": "ladder.prompting",
        "technique": "prompting",
        "when": ["failed > 0"],
        "score": "300",
        "rationale": "Prompting, as the everything plugin words it.",
    },
    {
        "id": "everything.tone",
        "technique": "tone-filter",
        "kind": "prompting",
        "when": ["count.behaviour/shouting > 0"],
        "score": "1000",
        "rationale": "{count.behaviour/shouting} outputs shout: filter the tone.",
    },
]


class Echo(Technique):
    name = "echo-everything"
    kind = "prompting"
    description = "Leaves the model as it is (a plugin's technique)."

    def apply(self, model, tokenizer, task, settings, env):
        return System(model, tokenizer)


@dataclass(frozen=True)
class EverythingTask:
    name: str = "everything_task"
    description: str = "A task from a plugin."
    failure_class: str = "format"
    path: Path = Path(__file__).parent
    corpus: Path | None = None


@click.command("everything-hello")
def hello():
    """Say hello from a plugin."""
    click.echo("hello from the everything plugin")


@hookimpl
def advisor_register_log_readers(register):
    register(TsvReader())


@hookimpl
def advisor_register_detectors(register):
    register(Shouting())


@hookimpl
def advisor_register_rules(register):
    register(RULES)


@hookimpl
def advisor_register_techniques(register):
    register(Echo())


@hookimpl
def advisor_register_tasks(register):
    register(EverythingTask())


@hookimpl
def advisor_register_commands(cli):
    cli.add_command(hello)
