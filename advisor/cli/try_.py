"""``advisor try LOG``: diagnose, then measure the top recommendations on the user's own data and model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from advisor.cli.options import task_data_options


@click.command(name="try")
@click.argument("log", type=click.Path(path_type=Path))
@click.option(
    "--model",
    "-m",
    default="smollm2-135m-instruct",
    show_default=True,
    help="The model to try the techniques on: the alias smollm2-135m-instruct, a local HF folder or a .gguf.",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    help="How many recommended techniques to try (default 3, fewer when fewer can run; an explicit "
    "--top larger than what can run is an error).",
)
@click.option(
    "--technique",
    "-t",
    "techniques",
    multiple=True,
    help="Try these techniques instead of the advice's top N (repeatable); the table still shows the "
    "advice's rank of each.",
)
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Documents for the RAG techniques (and the diagnosis's retrievability check); without it RAG is "
    "skipped.",
)
@click.option(
    "--data",
    type=click.Path(exists=True, path_type=Path),
    help="A JSONL/CSV dataset (prompt and reference fields) to split instead of the log's own records.",
)
@task_data_options
@click.option("--format", "fmt", help="Log format, as in `advisor diagnose --format` (default: detected).")
@click.option(
    "--pass-threshold", default=0.5, show_default=True, type=float, help="As in `advisor diagnose`."
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--train-limit", type=click.IntRange(min=1), help="Training examples per cell (default 200).")
@click.option("--eval-limit", type=click.IntRange(min=1), help="Test documents per cell (default 60).")
@click.option(
    "--time-budget",
    metavar="DURATION",
    help="Scale the training and test sizes to fit, e.g. 30m or 1h; says what it chose.",
)
@click.option(
    "--db", help="SQLAlchemy URL or SQLite file of the results store (default: $ADVISOR_DB, else results.db)."
)
@click.option(
    "--resume", is_flag=True, help="Finish the latest `try` run of this log: skip the cells it holds."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
def try_command(
    log,
    model,
    top,
    techniques,
    corpus,
    data,
    train_file,
    test_file,
    test_fraction,
    metric,
    fmt,
    pass_threshold,
    seed,
    train_limit,
    eval_limit,
    time_budget,
    db,
    resume,
    as_json,
):
    """Diagnose LOG, then try the top recommended techniques on your own data and model.

    Each technique runs as an isolated benchmark cell (stored in the results store, under a run named
    after the log) on the test half of your data, and is compared with the untouched model on the same
    documents: the gain with a 95% paired bootstrap interval and a verdict (helps, no measurable effect,
    hurts). Then a line per recommendation says whether the measurement confirmed the advice's order.
    By default the data is the log itself: its prompts and references, split by document (the test half
    is what is reported). Progress goes to stderr.

    \b
    Examples:
      advisor try evals.jsonl --corpus docs/
      advisor try results/ --top 2 --time-budget 30m --json
      advisor try evals.jsonl --train train.jsonl --test test.jsonl -t lora -t few-shot
    """
    from advisor.cli import registry_of
    from advisor.train import trial as T
    from advisor.train.usertask import TaskOptions

    options = TaskOptions(
        train=train_file, test=test_file, test_fraction=test_fraction, metric=metric, seed=seed
    )
    req = T.TryRequest(
        log=log,
        model=model,
        top=top,
        techniques=list(techniques),
        corpus=corpus,
        task_options=options,
        data=data,
        fmt=fmt,
        pass_threshold=pass_threshold,
        seed=seed,
        train_limit=train_limit,
        eval_limit=eval_limit,
        time_budget_s=T.parse_duration(time_budget) if time_budget else None,
        db=db,
        resume=resume,
        progress=True,
    )
    try:
        result = T.run_try(req, registry_of(), note=lambda line: click.echo(f"advisor try: {line}", err=True))
    except T.NothingToFix as exc:
        click.echo(str(exc), err=True)
        if as_json:
            click.echo(json.dumps({"log": str(log), "nothing_to_fix": True, "techniques": []}))
        sys.exit(0)
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
        return
    render(result)


def render(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from advisor.train.metrics import metric

    console = Console(width=None if sys.stdout.isatty() else 150)
    task = result["task"]
    table = Table(
        title=f"advisor try {result['log']}: {result['model']}, test set of {task['test_size']} document(s), "
        f"metric {task['metric']}",
        title_justify="left",
    )
    for column in ("technique", "advice", "before", "after", "gain [95% CI]", "train time", "peak memory"):
        table.add_column(column, justify="left" if column == "technique" else "right")
    table.add_column("verdict")
    for row in result["techniques"]:
        if row["gain"] is None:
            table.add_row(
                row["technique"],
                _rank(row),
                "-",
                "-",
                "-",
                "-",
                "-",
                f"{row['verdict']}: {row.get('reason') or row['status']}",
            )
            continue
        table.add_row(
            row["technique"],
            _rank(row),
            f"{row['before']:.3f}",
            f"{row['after']:.3f}",
            f"{row['gain']:+.3f} [{row['low']:+.3f}, {row['high']:+.3f}]",
            metric("train_time_s").format(row.get("train_time_s")) if row.get("train_time_s") else "-",
            metric("peak_memory_bytes").format(row.get("peak_memory_bytes")),
            row["verdict"],
        )
    console.print(table)
    for s in result["skipped"]:
        console.print(f"skipped {_rank(s)} {s['technique']}: {s['reason']}")
    for line in result["order"]:
        console.print(line)
    best = result.get("best")
    console.print(
        f"best measured: [bold]{best}[/]" if best else "no technique measurably helped on these documents"
    )
    console.print(f"stored as run {result['run']} in {result['db']}")


def _rank(row: dict) -> str:
    return f"#{row['rank']}" if row.get("rank") is not None else "-"
