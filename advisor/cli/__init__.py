"""The ``advisor`` command line: a thin click front over the four paths of the product.

One module per command group: ``diagnose`` (path 1), ``memory`` (path 2), ``run`` (path 3),
``bench`` (path 4) and ``catalog`` (what is installed: plugins, techniques, tasks, example logs).
``memory`` and ``bench`` are added through the ``advisor_register_commands`` hook, as a plugin's
commands are. The process's plugin registry travels in ``ctx.obj``.
"""

from __future__ import annotations

import sys

import click

from advisor import __version__
from advisor.errors import AdvisorError, AdvisorGroup


@click.group(
    cls=AdvisorGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, prog_name="advisor")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Diagnose why an LLM application fails its evaluations and what to try next.

    \b
    diagnose    advisor diagnose LOG       classify every failure (factual, behaviour, format), recommend
    memory      advisor memory ...         memory needed to run or fine-tune a model
    train       advisor run ...            apply one technique to a model and task, measured before/after
    try         advisor try LOG            diagnose, then measure the top advice on your own data and model
    bench       advisor bench run|compare|report|list   techniques x models x tasks, stored and compared
    catalog     advisor plugins | techniques | tasks | examples   what is installed
    """
    if ctx.obj is None:
        from advisor.plugins import get_registry

        ctx.obj = get_registry()


def registry_of(ctx: click.Context | None = None):
    """The registry of the running command (``ctx.obj``), else the process's registry."""
    ctx = ctx or click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    if root is not None and root.obj is not None:
        return root.obj
    from advisor.plugins import get_registry

    return get_registry()


def _add_builtin_commands() -> None:
    from advisor.cli.catalog import examples, plugins, tasks, techniques
    from advisor.cli.diagnose import diagnose
    from advisor.cli.run import run_command
    from advisor.cli.try_ import try_command

    for command in (diagnose, run_command, try_command, techniques, tasks, examples, plugins):
        cli.add_command(command)


_add_builtin_commands()


def main() -> None:
    """Console-script entry point: the built-in commands plus those that plugins add."""
    from advisor.plugins import get_registry

    try:
        registry = get_registry()
        registry.add_commands(cli)
    except AdvisorError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    try:
        cli.main(prog_name="advisor", obj=registry, standalone_mode=False)
    except click.UsageError as exc:
        # one line, as every other bad input: what is wrong, and where the help is
        command = exc.ctx.command_path if exc.ctx is not None else "advisor"
        click.echo(f"error: {exc.format_message()} (see '{command} --help')", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
