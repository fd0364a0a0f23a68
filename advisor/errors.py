"""The error types the CLI turns into one clear line on stderr and a non-zero exit code.

Anything else that escapes is a bug and propagates with its traceback.
"""

from __future__ import annotations

import difflib
import sys

import click


class AdvisorError(Exception):
    """Base class of every error a user can cause; ``exit_code`` is what the CLI exits with."""

    exit_code = 2


class InputError(AdvisorError):
    """An input file or folder that cannot be read as asked (missing, empty, binary, wrong shape)."""


class UsageError(AdvisorError):
    """An option value or a name that makes no sense (unknown technique, bad size, ...)."""


class PluginError(AdvisorError):
    """A plugin registered something inconsistent (duplicate name, bad rule file)."""


def did_you_mean(name: str, choices: list[str] | tuple[str, ...], what: str) -> UsageError:
    """A UsageError for an unknown ``name`` that suggests the closest valid choices."""
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return UsageError(f"unknown {what} {name!r}{hint} (choices: {', '.join(sorted(choices))})")


class AdvisorGroup(click.Group):
    """A click group that shows AdvisorError as one line on stderr and exits with its code.

    Used by the top-level CLI and by area groups (``advisor bench``) so they behave the same when
    invoked on their own. Any other exception is a bug and keeps its traceback.
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AdvisorError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
