"""``advisor diagnose LOG``: path 1, from an evaluation log to verdicts and recommendations."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from advisor.errors import AdvisorError


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


class _RecordSink:
    """Streams ``--json`` (one object: records first, then summary, recommendations, plans, advice) or
    ``--json-lines`` (a record per line, then a last line with the rest) as records are judged."""

    def __init__(self, json_lines: bool) -> None:
        import orjson

        self.dumps = orjson.dumps
        self.out = sys.stdout.buffer
        self.json_lines = json_lines
        self.count = 0

    def write(self, d) -> None:
        if self.json_lines:
            self.out.write(self.dumps(d.to_json()) + b"\n")
        else:
            self.out.write((b'{"records": [\n  ' if self.count == 0 else b",\n  ") + self.dumps(d.to_json()))
        self.count += 1

    def finish(self, report) -> None:
        tail = report.tail_json()
        if self.json_lines:
            self.out.write(self.dumps({"summary": tail.pop("summary"), **tail}) + b"\n")
        else:
            import orjson

            head = b'{"records": []' if self.count == 0 else b"\n]"
            rest = self.dumps(tail, option=orjson.OPT_INDENT_2)  # '{\n  "summary": ...}'
            self.out.write(head + b"," + rest[1:] + b"\n")
        self.out.flush()

    def abort(self) -> None:
        """An error after some records were written: close the JSON so nothing half-written is left."""
        if self.count and not self.json_lines:
            self.out.write(b"\n]}\n")
        self.out.flush()


def _judge_notice(total: int, cached: int):
    """Say what the judge will cost before it runs; a progress bar on stderr while it does."""
    click.echo(
        f"judge: {total} low-confidence failures to classify ({cached} cached, {total - cached} to ask)",
        err=True,
    )
    if total - cached <= 0:
        return None
    from rich.console import Console
    from rich.progress import Progress

    bar = Progress(console=Console(stderr=True), transient=True)
    bar.start()
    task = bar.add_task("judging", total=total - cached)

    def advance(n: int) -> None:
        bar.advance(task, n)
        if bar.tasks[0].finished:
            bar.stop()

    return advance


@click.command()
@click.argument("log", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    metavar="NAME",
    help="Log format (default: detected). See `advisor plugins`: lm-eval, jsonl, csv, promptfoo.",
)
@click.option(
    "--metric",
    metavar="NAME",
    help="Per-sample metric that decides pass/fail (default: the first the record lists).",
)
@click.option(
    "--pass-threshold",
    type=float,
    default=0.5,
    show_default=True,
    help="A metric value at or above this passes (at or below, for lower-is-better metrics).",
)
@click.option(
    "--corpus",
    type=click.Path(exists=True, path_type=Path),
    help="Folder of .txt/.md/.jsonl documents: check with BM25 whether factual failures are retrievable.",
)
@click.option(
    "--rules",
    "rule_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Extra TOML rule file (repeatable); a rule with a built-in id replaces it.",
)
@click.option(
    "--model", help="Model name (e.g. llama-2-7b) or config.json / model folder / .gguf, for its size."
)
@click.option(
    "--params", callback=_size("parameter count"), help="Model size, e.g. 7B or 135M (instead of --model)."
)
@click.option(
    "--gpu-memory",
    callback=_size("GPU memory"),
    help="GPU memory, e.g. 24GB: says which training techniques fit.",
)
@click.option("--train-examples", type=click.IntRange(min=0), help="How many training examples you have.")
@click.option(
    "--tried",
    default="",
    metavar="LIST",
    help="Techniques already tried, comma separated (e.g. few-shot,bm25-rag): "
    "any registered technique (`advisor techniques`).",
)
@click.option(
    "--fail-on", metavar="SPEC", help="Exit 1 when a failure rate is exceeded, e.g. format>0.2,factual>=10%."
)
@click.option("--strict", is_flag=True, help="Fail on the first unreadable line instead of skipping it.")
@click.option(
    "--examples",
    default=3,
    show_default=True,
    type=click.IntRange(min=0),
    help="Examples shown per failure class.",
)
@click.option(
    "--jobs",
    default=1,
    show_default=True,
    type=click.IntRange(min=0),
    help="Worker processes for the detectors (0: one per CPU core). Worth it on logs of 100,000+ records.",
)
@click.option(
    "--json-lines",
    "as_json_lines",
    is_flag=True,
    help="Print one JSON object per record as it is judged, then one line with the summary, "
    "recommendations and advice (memory stays flat on any log size).",
)
@click.option(
    "--judge",
    "judge",
    metavar="MODEL",
    help="Have an LLM classify the low-confidence failures: a local model folder, a .gguf file, 'smollm2' "
    "(embedded), or an OpenAI-compatible base URL (http://host:port/v1). Needs the [train] extra for "
    "local models. Answers are cached.",
)
@click.option(
    "--judge-model", metavar="NAME", help="With a --judge URL: the server's model (default: its first)."
)
@click.option(
    "--judge-key-env",
    metavar="NAME",
    help="With a --judge URL: the environment variable holding the API key.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object: summary, records, recommendations, advice.",
)
def diagnose(
    log,
    fmt,
    metric,
    pass_threshold,
    corpus,
    rule_files,
    model,
    params,
    gpu_memory,
    train_examples,
    tried,
    fail_on,
    strict,
    examples,
    jobs,
    judge,
    judge_model,
    judge_key_env,
    as_json_lines,
    as_json,
):
    """Classify every failed sample of LOG and recommend what to try next.

    LOG is what an evaluation tool wrote: an lm-evaluation-harness output folder (--log_samples),
    an Inspect AI .eval or .json log, lighteval details parquet, a HELM run folder, an OpenCompass
    output folder, an OpenAI evals log, lmms-eval samples, promptfoo results JSON, or a generic
    JSONL or CSV file (prompt, output, reference, optional passed/score); '-' reads standard input.
    docs/log-formats.md lists the versions each reader knows.

    \b
    Examples:
      advisor diagnose results/ --corpus docs/ --params 7B --gpu-memory 24GB
      advisor diagnose evals.jsonl --tried few-shot --json
      advisor diagnose evals.csv --fail-on format>0.2
    """
    from advisor.cli import registry_of
    from advisor.diagnosis import pipeline as D
    from advisor.rules.engine import Context

    thresholds = D.parse_fail_on(fail_on) if fail_on else []
    tried_set = {t.strip() for t in tried.split(",") if t.strip()}
    if model and params is None:
        params = D.params_from_model(model)
    context = Context(
        params=params, gpu_memory=gpu_memory, train_examples=train_examples, tried=frozenset(tried_set)
    )
    request = D.Request(
        path=log,
        format=fmt,
        metric=metric,
        threshold=pass_threshold,
        corpus=corpus,
        rule_files=list(rule_files),
        context=context,
        strict=strict,
        keep_records=False,
        on_record=None,
        examples=examples,
        jobs=jobs or (os.cpu_count() or 1),
        judge=judge,
        judge_model=judge_model,
        judge_key_env=judge_key_env,
        judge_notice=_judge_notice if judge else None,
    )
    sink = _RecordSink(json_lines=as_json_lines) if (as_json or as_json_lines) else None
    if sink is not None:
        request.on_record = sink.write
    try:
        report = D.run(request, registry_of())
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    for line in report.warnings:
        click.echo(f"warning: {line}", err=True)
    if report.skipped:
        where = ", ".join(f"{n}" for _, n, _ in report.skipped[:20])
        more = f" and {len(report.skipped) - 20} more" if len(report.skipped) > 20 else ""
        click.echo(
            f"warning: skipped {len(report.skipped)} unreadable line(s) of {log}: {where}{more}", err=True
        )
    if sink is not None:
        sink.finish(report)
    else:
        from rich.console import Console

        from advisor.diagnosis.render import render

        render(report, Console())
    hits = D.breached(report, thresholds)
    if hits:
        click.echo(f"fail-on: {'; '.join(hits)}", err=True)
        sys.exit(1)
