"""What is installed: ``advisor plugins``, ``advisor techniques``, ``advisor tasks``, ``advisor examples``."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import click

from advisor.errors import did_you_mean

#: Example logs that ship inside the package (``advisor/data/``): name -> folder.
EXAMPLES_ROOT = Path(str(files("advisor") / "data"))


def example_logs() -> dict[str, Path]:
    return {p.name: p for p in sorted(EXAMPLES_ROOT.iterdir()) if p.is_dir() and not p.name.startswith("_")}


def _table(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def plugins(registry, as_json):
    """List the plugins (built-in and installed), the path each serves and the hooks it implements.

    \b
    The four paths: diagnose (log -> verdicts -> advice), memory (what fits), train (one technique,
    measured) and bench (suites of cells, stored and compared).
    """
    rows = registry.describe()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    _table(
        ("path", "plugin", "source", "registers"),
        [
            (
                r["path"],
                r["name"],
                r["distribution"] or ("built-in" if r["builtin"] else "-"),
                ", ".join(h.removeprefix("advisor_register_") for h in r["hooks"]),
            )
            for r in rows
        ],
    )


@click.command()
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (with every setting, its default and help)."
)
@click.pass_obj
def techniques(registry, as_json):
    """List the techniques with their kind, requirements and settings."""
    rows = [t.describe() for t in registry.techniques.values()]
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    _table(
        ("technique", "kind", "requires", "description"),
        [(r["name"], r["kind"], ", ".join(r["requires"]) or "-", r["description"]) for r in rows],
    )


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def tasks(registry, as_json):
    """List the benchmark tasks (for `advisor run --task` and suites) and where their data is."""
    rows = [
        {
            "name": t.name,
            "failure_class": t.failure_class,
            "description": t.description,
            "path": str(t.path),
            "corpus": str(t.corpus) if t.corpus else None,
        }
        for t in registry.tasks.values()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    _table(
        ("task", "probes", "description"), [(r["name"], r["failure_class"], r["description"]) for r in rows]
    )


@click.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def examples(name, as_json):
    """List the example evaluation logs that ship with advisor, or print the folder of NAME.

    \b
    Example:
      advisor diagnose "$(advisor examples lm-eval-smollm2)"
    """
    logs = example_logs()
    if name:
        if name not in logs:
            raise did_you_mean(name, list(logs), "example log")
        click.echo(str(logs[name]))
        return
    if as_json:
        click.echo(json.dumps({n: str(p) for n, p in logs.items()}, indent=2))
        return
    for n, p in logs.items():
        click.echo(f"{n}\t{p}")
