"""``advisor run``: path 3, one technique on one model and task, measured before and after."""

from __future__ import annotations

import json
from pathlib import Path

import click

from advisor.cli.options import RegistryChoiceOption, task_data_options


@click.command(name="run")
@click.option(
    "--technique",
    "-t",
    required=True,
    cls=RegistryChoiceOption,
    registry_attr="techniques",
    help="Technique name.",
)
@click.option(
    "--task",
    cls=RegistryChoiceOption,
    registry_attr="tasks",
    help="A registered task, a task folder, an lm-eval task YAML, a JSONL/CSV dataset (prompt and "
    "reference fields) or an eval log that `advisor diagnose` reads; see docs/try.md.",
)
@task_data_options
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Documents for the RAG techniques (a folder of .md/.txt/.jsonl).",
)
@click.option(
    "--model",
    "-m",
    default="smollm2-135m-instruct",
    show_default=True,
    help="Model: the alias smollm2-135m-instruct, a local HF folder, a .gguf file, or a cached hub id.",
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--train-limit", type=click.IntRange(min=1), help="Use at most N training examples.")
@click.option("--eval-limit", type=click.IntRange(min=1), help="Evaluate on at most N test documents.")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="A technique setting (repeatable), e.g. --set r=16.",
)
@click.option(
    "--merge", is_flag=True, help="LoRA: fold the adapter into the base weights (saved with --save)."
)
@click.option(
    "--save",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to save the adapter (PEFT format) or trained tensors.",
)
@click.option(
    "--batch-size", default=8, show_default=True, type=click.IntRange(min=1), help="Evaluation batch size."
)
@click.option("--no-cache", is_flag=True, help="Re-evaluate the baseline instead of using the cached score.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the harness reads this).")
def run_command(
    technique,
    task,
    train_file,
    test_file,
    test_fraction,
    metric,
    corpus,
    model,
    seed,
    train_limit,
    eval_limit,
    sets,
    merge,
    save,
    batch_size,
    no_cache,
    as_json,
):
    """Apply one technique to a model on a task and measure it against the baseline.

    \b
    \b
    Examples:
      advisor run --technique lora --task json_extract --train-limit 200 --eval-limit 50 --json
      advisor run --technique lora --train my_train.jsonl --test my_test.jsonl
      advisor run --technique bm25-rag --task my_log.jsonl --corpus docs/ --test-fraction 0.3
    """
    from advisor.cli import registry_of
    from advisor.train import cell as R
    from advisor.train.usertask import TaskOptions

    options = TaskOptions(
        train=train_file, test=test_file, test_fraction=test_fraction, metric=metric, corpus=corpus, seed=seed
    )

    req = R.RunRequest(
        technique=technique,
        task=task,
        model=model,
        seed=seed,
        train_limit=train_limit,
        eval_limit=eval_limit,
        settings=R.parse_sets(sets),
        merge=merge,
        save=save,
        batch_size=batch_size,
        use_cache=not no_cache,
        progress=not as_json,
        task_options=options,
    )
    result = R.run(req, registry_of())
    if result is None:  # a helper process of `accelerate launch`: the main process reports
        return
    for note in result.get("notes") or ():
        click.echo(f"note: {note}", err=True)
    if as_json:
        click.echo(json.dumps(result, default=str))
        return
    _print_run(result)


def _print_run(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from advisor.train.metrics import metric

    console = Console()
    if result["status"] == "skipped":
        console.print(f"[yellow]skipped[/] {result['technique']}: {result['reason']}")
        return
    m = result["metrics"]
    table = Table(
        title=f"{result['technique']} on {result['task']} ({result['model']})", title_justify="left"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")

    def value(name: str) -> str:
        return metric(name).format(m.get(name), "full")

    rows = [
        (f"{result['metric']} before", value("quality_before")),
        (f"{result['metric']} after", value("quality_after")),
        ("trainable / total parameters", f"{value('trainable_params')} / {value('total_params')}"),
    ]
    if "train_time_s" in m:  # a technique that trains
        rows += [(metric(n).label, value(n)) for n in ("train_time_s", "tokens_per_s")]
    rows += [
        (metric("peak_memory_bytes").label, f"{value('peak_memory_bytes')} ({m['peak_memory_kind']})"),
        (metric("adapter_bytes").label, metric("adapter_bytes").format(m.get("adapter_bytes") or 0, "full")),
        (metric("latency_ms").label, value("latency_ms")),
    ]
    if "latency_merged_ms" in m:  # LoRA
        rows.append((metric("latency_merged_ms").label, value("latency_merged_ms")))
    for row in rows:
        table.add_row(*row)
    console.print(table)
