"""The ``advisor`` command line: a thin click front over the modules that do the work."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from advisor import __version__
from advisor.errors import AdvisorError, AdvisorGroup

_PM = None


def _plugin_manager():
    """The process's plugin manager: built once, by main() or the first command that needs it."""
    global _PM
    if _PM is None:
        from advisor.plugins import get_plugin_manager

        _PM = get_plugin_manager()
    return _PM


@click.group(cls=AdvisorGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="advisor")
def cli() -> None:
    """Diagnose why an LLM application fails its evaluations and what to try next.

    \b
    advisor diagnose LOG       classify every failure (factual, behaviour, format) and recommend
    advisor memory ...         memory needed to run or fine-tune a model
    advisor run ...            apply one technique to a model and task, measured before and after
    advisor techniques         list the techniques (prompting, RAG, PEFT, fine-tuning, merges)
    advisor bench run|compare|report|list   the benchmark harness (results in SQLite or any SQLAlchemy URL)
    advisor plugins            list the plugins and the hooks they implement
    """


def _size(what: str):
    def convert(ctx, param, value):
        if value is None:
            return None
        from advisor.memory import parse_size

        try:
            return parse_size(value, what)
        except AdvisorError as exc:
            raise click.BadParameter(str(exc)) from None

    return convert


@cli.command()
@click.argument("log", type=click.Path(path_type=Path))
@click.option("--format", "fmt", metavar="NAME", help="Log format (default: detected). See `advisor plugins`: lm-eval, jsonl, csv, promptfoo.")
@click.option("--metric", metavar="NAME", help="Per-sample metric that decides pass/fail (default: the first the record lists).")
@click.option("--pass-threshold", type=float, default=0.5, show_default=True, help="A metric value at or above this passes (at or below, for lower-is-better metrics).")
@click.option("--corpus", type=click.Path(exists=True, path_type=Path), help="Folder of .txt/.md/.jsonl documents: check with BM25 whether factual failures are retrievable.")
@click.option("--rules", "rule_files", multiple=True, type=click.Path(path_type=Path), help="Extra TOML rule file (repeatable); a rule with a built-in id replaces it.")
@click.option("--model", help="Model name (e.g. llama-2-7b) or config.json / model folder / .gguf, for its size.")
@click.option("--params", callback=_size("parameter count"), help="Model size, e.g. 7B or 135M (instead of --model).")
@click.option("--gpu-memory", callback=_size("GPU memory"), help="GPU memory, e.g. 24GB: says which training techniques fit.")
@click.option("--train-examples", type=click.IntRange(min=0), help="How many training examples you have.")
@click.option("--tried", default="", metavar="LIST", help="Techniques already tried, comma separated (e.g. few-shot,bm25-rag).")
@click.option("--fail-on", metavar="SPEC", help="Exit 1 when a failure rate is exceeded, e.g. format>0.2,factual>=10%.")
@click.option("--strict", is_flag=True, help="Fail on the first unreadable line instead of skipping it.")
@click.option("--examples", default=3, show_default=True, type=click.IntRange(min=0), help="Examples shown per failure class.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: summary, records, recommendations, advice.")
def diagnose(log, fmt, metric, pass_threshold, corpus, rule_files, model, params, gpu_memory,
             train_examples, tried, fail_on, strict, examples, as_json):
    """Classify every failed sample of LOG and recommend what to try next.

    LOG is an lm-evaluation-harness output folder (--log_samples), a samples_*.jsonl file,
    a generic JSONL or CSV file (prompt, output, reference, optional passed/score), or a
    promptfoo results JSON.

    \b
    Examples:
      advisor diagnose results/ --corpus docs/ --params 7B --gpu-memory 24GB
      advisor diagnose evals.jsonl --tried few-shot --json
      advisor diagnose evals.csv --fail-on format>0.2
    """
    from advisor import diagnose as D
    from advisor.errors import did_you_mean
    from advisor.rules import TECHNIQUES, Context

    thresholds = D.parse_fail_on(fail_on) if fail_on else []
    tried_set = {t.strip() for t in tried.split(",") if t.strip()}
    for name in tried_set:
        if name not in TECHNIQUES:
            raise did_you_mean(name, list(TECHNIQUES), "technique in --tried")
    if model and params is None:
        params = D.params_from_model(model)
    context = Context(params=params, gpu_memory=gpu_memory, train_examples=train_examples,
                      tried=frozenset(tried_set))
    request = D.Request(path=log, format=fmt, metric=metric, threshold=pass_threshold, corpus=corpus,
                        rule_files=list(rule_files), context=context, strict=strict,
                        keep_records=as_json, examples=examples)
    report = D.run(request, _plugin_manager())
    if report.skipped:
        where = ", ".join(f"{n}" for _, n, _ in report.skipped[:20])
        more = f" and {len(report.skipped) - 20} more" if len(report.skipped) > 20 else ""
        click.echo(f"warning: skipped {len(report.skipped)} unreadable line(s) of {log}: {where}{more}", err=True)
    if as_json:
        import orjson

        sys.stdout.buffer.write(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2) + b"\n")
    else:
        from rich.console import Console

        from advisor.report import render

        render(report, Console())
    hits = D.breached(report, thresholds)
    if hits:
        click.echo(f"fail-on: {'; '.join(hits)}", err=True)
        sys.exit(1)


@cli.command(name="run")
@click.option("--technique", "-t", required=True, help="Technique name (see `advisor techniques`).")
@click.option("--task", required=True, help="Task name (bundled: fictional_qa, json_extract, instruction_following).")
@click.option("--model", "-m", default="smollm2-135m-instruct", show_default=True,
              help="Model: the alias smollm2-135m-instruct, a local HF folder, a .gguf file, or a cached hub id.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--train-limit", type=click.IntRange(min=1), help="Use at most N training examples.")
@click.option("--eval-limit", type=click.IntRange(min=1), help="Evaluate on at most N test documents.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="A technique setting (repeatable), e.g. --set r=16.")
@click.option("--merge", is_flag=True, help="LoRA: fold the adapter into the base weights (saved with --save).")
@click.option("--save", type=click.Path(file_okay=False, path_type=Path), help="Folder to save the adapter (PEFT format) or trained tensors.")
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(min=1), help="Evaluation batch size.")
@click.option("--no-cache", is_flag=True, help="Re-evaluate the baseline instead of using the cached score.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the harness reads this).")
def run_command(technique, task, model, seed, train_limit, eval_limit, sets, merge, save, batch_size, no_cache, as_json):
    """Apply one technique to a model on a task and measure it against the baseline.

    \b
    Example:
      advisor run --technique lora --task json_extract --train-limit 200 --eval-limit 50 --json
    """
    from advisor import run as R

    req = R.RunRequest(technique=technique, task=task, model=model, seed=seed, train_limit=train_limit,
                       eval_limit=eval_limit, settings=R.parse_sets(sets), merge=merge, save=save,
                       batch_size=batch_size, use_cache=not no_cache, progress=not as_json)
    result = R.run(req, _plugin_manager())
    if as_json:
        click.echo(json.dumps(result, default=str))
        return
    _print_run(result)


def _print_run(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if result["status"] == "skipped":
        console.print(f"[yellow]skipped[/] {result['technique']}: {result['reason']}")
        return
    m = result["metrics"]
    table = Table(title=f"{result['technique']} on {result['task']} ({result['model']})", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        (f"{result['metric']} before", f"{m['quality_before']:.3f}"),
        (f"{result['metric']} after", f"{m['quality_after']:.3f}"),
        ("trainable / total parameters", f"{m['trainable_params']:,} / {m['total_params']:,}"),
    ]
    if "train_time_s" in m:
        rows += [("train time", f"{m['train_time_s']:.1f} s"), ("tokens/s (training)", f"{m['tokens_per_s']:.0f}")]
    rows += [("peak memory", f"{m['peak_memory_bytes'] / 1e9:.2f} GB ({m['peak_memory_kind']})"),
             ("adapter / trained size", f"{(m.get('adapter_bytes') or 0) / 1e6:.2f} MB"),
             ("generation latency (32 tokens)", f"{m['latency_ms']:.0f} ms")]
    if "latency_merged_ms" in m:
        rows.append(("latency merged", f"{m['latency_merged_ms']:.0f} ms"))
    for row in rows:
        table.add_row(*row)
    console.print(table)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def techniques(as_json):
    """List the techniques with their kind, requirements and settings."""
    from advisor.run import techniques as all_techniques

    rows = [t.describe() for t in all_techniques(_plugin_manager()).values()]
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for col in ("technique", "kind", "requires", "description"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["kind"], ", ".join(r["requires"]) or "-", r["description"])
    Console().print(table)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins(as_json):
    """List the plugins (built-in and third-party) and the hooks each implements."""
    from advisor.plugins import describe

    rows = describe(_plugin_manager())
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for col in ("plugin", "source", "hooks"):
        table.add_column(col)
    for row in rows:
        table.add_row(row["name"], row["distribution"] or ("built-in" if row["builtin"] else "-"),
                      "\n".join(row["hooks"]))
    Console().print(table)


def _add_area_commands() -> None:
    from advisor.bench.cli import bench
    from advisor.memory_cli import memory

    cli.add_command(memory)
    cli.add_command(bench)


_add_area_commands()


def main() -> None:
    """Console-script entry point: built-in commands plus those added by plugins."""
    try:
        _plugin_manager().hook.advisor_register_commands(cli=cli)
    except AdvisorError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    cli(prog_name="advisor")


if __name__ == "__main__":
    main()
