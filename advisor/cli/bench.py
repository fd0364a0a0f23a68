"""``advisor bench run|compare|list|report``: the harness's command line (the work is in the modules)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from advisor.errors import AdvisorGroup
from advisor.hookspecs import hookimpl

DB_HELP = (
    "SQLAlchemy URL or SQLite file of the results store (default: $ADVISOR_DB, else sqlite:///results.db)."
)


def _emit(obj) -> None:
    click.echo(json.dumps(obj, indent=2, default=str))


@click.group(
    cls=AdvisorGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
def bench() -> None:
    """Benchmark techniques x models x tasks, store the results, compare runs, write reports.

    \b
    advisor bench run smoke                  run a suite (bundled: smoke, quick, nightly, every-technique,
                                             or a .toml file)
    advisor bench run smoke --dry-run        list its cells and their commands; run nothing
    advisor bench compare                    the last two runs of a suite; exit 1 on regression
    advisor bench list                       runs in the store
    advisor bench report --out report/       Markdown + HTML with plots
    """


@bench.command("run")
@click.argument("suite")
@click.option("--db", help=DB_HELP)
@click.option(
    "--resume", is_flag=True, help="Continue the latest run of the suite: skip the cells it already holds."
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help="With --resume or --run-name: run failed/timed-out/killed cells again.",
)
@click.option(
    "--shard", metavar="I/N", help="Run only shard I of N (from 1); shards share a run through --run-name."
)
@click.option(
    "--run-name",
    metavar="NAME",
    help="Name of the run; an existing run of that name is joined (shards, CI retries).",
)
@click.option(
    "--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Cells run at the same time."
)
@click.option("--quiet", is_flag=True, help="No progress display.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check the suite and list its cells with their commands; run nothing, store nothing.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run's summary as JSON.")
def run_command(suite, db, resume, retry_failed, shard, run_name, jobs, quiet, dry_run, as_json):
    """Run the cells of SUITE (a bundled suite name or a .toml file), each in its own process."""
    import shlex

    from advisor.bench.runner import Progress, cell_command, run_suite
    from advisor.bench.store.engine import Store
    from advisor.bench.suite import load_suite, parse_shard
    from advisor.bench.suite import shard as shard_cells
    from advisor.cli import registry_of

    which = parse_shard(shard)
    spec = load_suite(suite, registry=registry_of())
    if dry_run:
        cells = shard_cells(spec.cells, which)
        if as_json:
            _emit(
                {
                    "suite": spec.name,
                    "cells": [
                        {**c.config(), "config_hash": c.config_hash, "command": cell_command(c)}
                        for c in cells
                    ],
                }
            )
            return
        for cell in cells:
            click.echo(f"{cell.label}\n    {shlex.join(cell_command(cell))}")
        click.echo(f"suite {spec.name}: {len(cells)} cell(s); nothing was run", err=True)
        return
    with Store(db) as store:
        try:
            summary = run_suite(
                spec,
                store,
                resume=resume,
                run_name=run_name,
                which_shard=which,
                jobs=jobs,
                retry_failed=retry_failed,
                progress=Progress(enabled=not quiet),
            )
        except KeyboardInterrupt:
            click.echo(
                f"interrupted; finish the run with: advisor bench run {suite} --resume"
                f"{f' --run-name {run_name}' if run_name else ''}",
                err=True,
            )
            sys.exit(130)
    if as_json:
        _emit(summary.to_json())
        return
    counts = ", ".join(f"{n} {s}" for s, n in sorted(summary.counts.items())) or "nothing new"
    click.echo(
        f"run {summary.run.run_id} ({summary.run.name}): {summary.cells} cells, "
        f"{summary.already_done} already done, {counts}",
        err=True,
    )


@bench.command("compare")
@click.argument("run_a", required=False)
@click.argument("run_b", required=False)
@click.option("--db", help=DB_HELP)
@click.option(
    "--suite", help="Without run ids: compare the last two runs of this suite (default: the latest run's)."
)
@click.option(
    "--quality-drop",
    type=float,
    default=0.05,
    show_default=True,
    help="Absolute drop of a quality score that is a regression.",
)
@click.option(
    "--time-growth",
    type=float,
    default=0.25,
    show_default=True,
    help="Relative growth of a time that is a regression (beyond the seeds' spread).",
)
@click.option(
    "--memory-growth",
    type=float,
    default=0.10,
    show_default=True,
    help="Relative growth of memory that is a regression (beyond the seeds' spread).",
)
@click.option(
    "--alpha",
    type=float,
    default=0.05,
    show_default=True,
    help="Significance level: of the paired test on per-document scores (a quality drop must reach it "
    "to be a regression), and of the rank test where both runs have repeats.",
)
@click.option(
    "--history",
    "with_history",
    is_flag=True,
    help="Compare one run (RUN_A, default: the latest) with its history instead of one earlier run: the "
    "suite's last 8 runs on the same kind of machine, pooled as repeats.",
)
@click.option(
    "--confirm",
    is_flag=True,
    help="Re-run the regressed and suspect cells on the current code (a run of the suite SUITE:confirm) "
    "and fail only on regressions the re-run shows again.",
)
@click.option(
    "--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="With --confirm: cells at once."
)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare_command(
    run_a,
    run_b,
    db,
    suite,
    quality_drop,
    time_growth,
    memory_growth,
    alpha,
    with_history,
    confirm,
    jobs,
    as_json,
):
    """Per-cell deltas between RUN_A and RUN_B (ids or names); exit 1 when a cell regressed.

    A quality drop of a cell with per-document scores in both runs must also be significant on the
    documents both scored (McNemar for 0/1 scores, else a paired bootstrap; p < --alpha), else it is only
    "suspect". Times and memory must also move beyond their noise: three robust standard deviations of
    the cell's earlier runs on the same machine. A change seen once, with no repeats and no history, is only
    "suspect" (listed, exit 0); runs on different machines do not compare timings.

    Without runs: the last two runs of the same suite. With one run: that run and the one before it.
    With --history: the run (default: the latest) against its suite's earlier runs on the same machine.
    """
    from advisor.bench.compare import Thresholds, compare_runs, compare_with_history, latest_run, pick_runs
    from advisor.bench.store.engine import Store

    if with_history and run_b is not None:
        raise click.UsageError("--history compares one run with its history: give at most one run")
    with Store(db) as store:
        thresholds = Thresholds(quality_drop, time_growth, memory_growth, alpha)
        if with_history:
            run = latest_run(store, suite) if run_a is None else store.run(run_a)
            comparison = compare_with_history(store, run, thresholds)
        else:
            pair = pick_runs(store, run_a, run_b, suite)
            comparison = compare_runs(store, *pair, thresholds) if pair is not None else None
        if comparison is None:
            note = "nothing to compare: the suite has only one run" + (
                " on this kind of machine" if with_history else ""
            )
            _emit({"regressions": [], "note": note}) if as_json else click.echo(note, err=True)
            return
        confirmation = None
        if confirm:
            from advisor.bench.confirm import confirm as confirm_cells
            from advisor.bench.runner import Progress

            confirmation = confirm_cells(
                store, comparison, thresholds, jobs=jobs, progress=Progress(enabled=not as_json)
            )
    if as_json:
        _emit(comparison.to_json() | ({"confirm": confirmation.to_json()} if confirmation else {}))
    else:
        _print_comparison(comparison)
    if not comparison.same_machine:
        click.echo("note: the runs were made on different machines; timings are not compared", err=True)
    if confirmation is not None:
        for label, why in confirmation.cleared:
            click.echo(f"suspect (not failing): {label}: {why}", err=True)
        for label, why in confirmation.confirmed:
            click.echo(f"regression (confirmed): {label}: {why}", err=True)
        if confirmation.confirmed:
            sys.exit(1)
        return
    for cell, why in comparison.suspects:
        click.echo(f"suspect (not failing): {cell.label}: {why}", err=True)
    for cell, why in comparison.regressions:
        click.echo(f"regression: {cell.label}: {why}", err=True)
    if comparison.regressions:
        sys.exit(1)


def _print_comparison(c) -> None:
    from rich.console import Console
    from rich.table import Table

    from advisor.train.metrics import metric

    shown = [metric(name) for name in ("quality_after", "train_time_s", "peak_memory_bytes")]
    console = Console()
    table = Table(title=f"{c.reference} -> run {c.run_b.run_id} ({c.run_b.name})")
    # Quality scores go by their metric name (as in the report), the others by their label.
    for col in ("cell", "status", *(m.name if m.family == "quality" else m.label for m in shown), "verdict"):
        table.add_column(col)

    def delta(cell, facts):
        m = cell.metric(facts.name)
        if m is None or m.delta is None:
            return "-"
        rel = f" ({m.relative:+.0%})" if m.relative is not None and facts.family != "quality" else ""
        return f"{facts.format(m.mean_a)} -> {facts.format(m.mean_b)}{rel}"

    for cell in c.cells:
        status = lambda s: ",".join(sorted(set(s.values()))) or "-"  # noqa: E731
        verdict = (
            "[red]REGRESSION[/]"
            if cell.regressions
            else "[yellow]suspect[/]"
            if cell.suspects
            else "[green]ok[/]"
        )
        table.add_row(
            cell.label,
            f"{status(cell.status_a)} -> {status(cell.status_b)}",
            *(delta(cell, facts) for facts in shown),
            verdict,
        )
    console.print(table)
    for label in c.only_a:
        console.print(f"only in run {c.run_a.run_id}: {label}", highlight=False)
    for label in c.only_b:
        console.print(f"only in run {c.run_b.run_id}: {label}", highlight=False)


@bench.command("list")
@click.option("--db", help=DB_HELP)
@click.option("--suite", help="Only runs of this suite.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_command(db, suite, limit, as_json):
    """The runs in the store, newest first."""
    from advisor.bench.store.engine import Store

    with Store(db) as store:
        runs = store.runs(suite, limit=limit)
    rows = [
        {
            "run_id": r.run_id,
            "name": r.name,
            "suite": r.suite,
            "started_at": r.started_at,
            "ended_at": r.ended_at,
            "git_commit": r.git_commit,
            "host": r.host,
            "cells": r.counts,
        }
        for r in runs
    ]
    if as_json:
        _emit(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for col in ("id", "name", "suite", "started (UTC)", "ended", "commit", "host", "cells"):
        table.add_column(col)
    for r in runs:
        table.add_row(
            str(r.run_id),
            r.name,
            r.suite,
            f"{r.started_at:%Y-%m-%d %H:%M}",
            f"{r.ended_at:%H:%M}" if r.ended_at else "unfinished",
            (r.git_commit or "-")[:12],
            r.host or "-",
            ", ".join(f"{n} {s}" for s, n in sorted(r.counts.items())),
        )
    Console().print(table)


@bench.command("report")
@click.argument("run", required=False)
@click.option("--db", help=DB_HELP)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder to write into."
)
def report_command(run, db, out):
    """Write report.md (+ PNG plots) and a self-contained report.html for RUN (default: the latest run)."""
    from advisor.bench.report import write_report
    from advisor.bench.store.engine import Store
    from advisor.errors import UsageError

    with Store(db) as store:
        if run is None:
            latest = store.runs(limit=1)
            if not latest:
                raise UsageError(f"no runs in {store.safe_url}")
            record = latest[0]
        else:
            record = store.run(run)
        md, page = write_report(store, record, out)
    click.echo(f"wrote {md} and {page}", err=True)


if __name__ == "__main__":
    bench(prog_name="advisor bench")


@hookimpl
def advisor_register_commands(cli):
    cli.add_command(bench)
