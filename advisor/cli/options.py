"""Click options whose help lists what the plugin registry holds (read only when --help is shown)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click


class RegistryChoiceOption(click.Option):
    """An option naming a registered object; ``--help`` lists the registered names.

    The names are read from the registry only when help is rendered, so that parsing a command line
    loads no plugin. Checking the value is left to the command (it gives "did you mean").
    """

    def __init__(self, *args: Any, registry_attr: str, **kwargs: Any) -> None:
        self.registry_attr = registry_attr
        super().__init__(*args, **kwargs)

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        record = super().get_help_record(ctx)
        if record is None:
            return None
        from advisor.cli import registry_of
        from advisor.errors import AdvisorError

        try:
            names = list(getattr(registry_of(ctx), self.registry_attr))
        except AdvisorError as exc:  # a broken plugin: show the help anyway, and why the list is missing
            return record[0], f"{record[1]} (registered names unavailable: {exc})"
        text, extra = record[1], ""
        if text.endswith("]") and "  [" in text:  # keep click's "[required]" at the end
            text, extra = text.rsplit("  [", 1)
            extra = f"  [{extra}"
        return record[0], f"{text} Registered: {', '.join(names) or 'none'}.{extra}"


def task_data_options(fn: Callable) -> Callable:
    """The options that turn user data into a task (``advisor run``, ``advisor try``): ``--train``,
    ``--test``, ``--test-fraction`` and ``--metric`` (see ``advisor.train.usertask``)."""
    options = (
        click.option(
            "--train",
            "train_file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="Training data (JSONL/CSV, prompt and reference fields); with --test, instead of a split.",
        ),
        click.option(
            "--test",
            "test_file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="Test data (JSONL/CSV), scored before and after.",
        ),
        click.option(
            "--test-fraction",
            default=0.3,
            show_default=True,
            type=float,
            help="Share of the documents held out for testing (seeded, stratified, by document).",
        ),
        click.option(
            "--metric",
            help="Scoring: exact, contains, number, json or regex:PATTERN (default: what reproduces the "
            "log's own verdicts, else chosen from the references).",
        ),
    )
    for option in reversed(options):
        fn = option(fn)
    return fn
