"""Terminal rendering of a diagnosis report (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from advisor import text as T
from advisor.diagnosis.pipeline import Report
from advisor.diagnosis.profile import Profile
from advisor.diagnosis.records import PRECEDENCE, Diagnosis

_COLOURS = {"factual": "yellow", "behaviour": "magenta", "format": "cyan", "none": "green"}


def render(report: Report, console: Console) -> None:
    """The whole report: counts, failures by class and subtype, examples, recommendations, advice."""
    _counts(report, console)
    _class_table(report.profile, console)
    _plans(report, console)
    _subtype_table(report.profile, console)
    _corpus_check(report.profile, console)
    _examples(report.profile, console)
    _recommendations(report, console)
    _advice(report, console)


def _counts(report: Report, console: Console) -> None:
    p = report.profile
    judged = p.total - p.unjudged
    console.print(
        f"[bold]{p.total}[/] samples read ({report.reader}): [green]{p.passed} passed[/], "
        f"[red]{p.failed} failed[/]"
        + (f" ({p.passed / judged:.0%} pass rate)" if judged else "")
        + (f", {p.unjudged} could not be judged" if p.unjudged else "")
        + (f", [yellow]{p.skipped} lines skipped[/]" if p.skipped else "")
    )
    if len(p.models) > 1:
        for model, c in sorted(p.models.items()):
            failed = sum(c[k.value] for k in PRECEDENCE)
            console.print(
                f"  model {model}: {c['total']} samples, {c['none']} passed, {failed} failed "
                f"({', '.join(f'{c[k.value]} {k.value}' for k in PRECEDENCE)})",
                style="dim",
            )
    if report.judge is not None:
        j = report.judge
        console.print(
            f"  judge {j.judge}: {j.asked + j.cached} low-confidence verdicts judged ({j.cached} from cache"
            + (f", {j.unparsed} replies unreadable" if j.unparsed else "")
            + f"); it changed {j.disagreed} (marked 'judge' in the evidence)",
            style="dim",
        )
    elif p.low_confidence:
        console.print(
            f"  {p.low_confidence} of {p.failed} failure verdicts are close calls (confidence low; "
            "--json marks each record): read their evidence before acting on them",
            style="dim",
        )
    if report.skipped:
        lines = ", ".join(f"{n}" for _, n, _ in report.skipped[:10])
        console.print(
            f"  skipped line(s): {lines}{' ...' if len(report.skipped) > 10 else ''}", style="yellow"
        )


def _class_table(p: Profile, console: Console) -> None:
    tasks = p.summary()["tasks"]
    table = Table(title="Failures by class and task", title_justify="left")
    table.add_column("task")
    for cls in PRECEDENCE:
        table.add_column(cls.value, justify="right", style=_COLOURS[cls.value])
    table.add_column("passed", justify="right", style="green")
    for task, counts in tasks.items():
        table.add_row(task, *[str(counts.get(c.value, 0)) for c in PRECEDENCE], str(counts.get("none", 0)))
    if len(tasks) > 1:
        table.add_row("[bold]all", *[f"[bold]{p.verdicts[c.value]}" for c in PRECEDENCE], f"[bold]{p.passed}")
    console.print(table)


def _subtype_table(p: Profile, console: Console) -> None:
    if not p.subtypes:
        return
    sub = Table(title="Failure subtypes", title_justify="left")
    sub.add_column("class/subtype")
    sub.add_column("count", justify="right")
    sub.add_column("share of failures", justify="right")
    for key, n in p.subtypes.most_common(12):
        cls = key.split("/", 1)[0]
        sub.add_row(Text(key, style=_COLOURS.get(cls, "")), str(n), f"{n / p.failed:.0%}")
    console.print(sub)


def _corpus_check(p: Profile, console: Console) -> None:
    if p.corpus_checked:
        console.print(
            f"Corpus check: {p.retrievable} of {p.corpus_checked} factual failures have their answer "
            f"in the top BM25 passages ({p.retrievable / p.corpus_checked:.0%})."
        )


def _examples(p: Profile, console: Console) -> None:
    if not p.examples:
        return
    console.print("\n[bold]Examples[/]")
    for cls in PRECEDENCE:
        for d in p.examples.get(cls.value, []):
            _example(d, cls.value, console)


def _example(d: Diagnosis, cls: str, console: Console) -> None:
    r = d.record
    where = f"{r.task or '-'} #{r.doc_id if r.doc_id is not None else (r.id or r.line)}"
    if r.filter and r.filter != "none":
        where += f" [{r.filter}]"
    console.print(Text.assemble((f"  {cls}/{d.subtype}", _COLOURS[cls]), f"  {where}"))
    console.print(f"    output:   {T.clip(r.output, 100)!r}", highlight=False)
    if r.reference is not None:
        console.print(f"    expected: {T.clip(r.reference, 100)!r}", highlight=False)
    for ev in d.evidence[:2]:
        console.print(f"    - {ev}", highlight=False)


def _plans(report: Report, console: Console, top: int = 3) -> None:
    """Several tasks: each failing task's own first steps, before the log-wide ranking."""
    if not report.plans:
        return
    console.print("\n[bold]Plan per task[/] (the same rules on each task's own failures)")
    for task, plan in report.plans.items():
        steps = (
            ", ".join(f"{r.rank}. {r.technique}" for r in plan.recommendations[:top]) or "no recommendation"
        )
        colour = _COLOURS[plan.dominant]
        console.print(f"  [bold]{task}[/] ([{colour}]mostly {plan.dominant}[/]): {steps}", highlight=False)
    console.print()


def _recommendations(report: Report, console: Console) -> None:
    console.print("\n[bold]Recommendations[/]" + (" for the whole log" if report.plans else ""))
    if not report.recommendations:
        console.print("  none: every sample passed.")
    for rec in report.recommendations:
        fit = (
            ""
            if rec.fits_gpu is None
            else (" [green](fits)[/]" if rec.fits_gpu else " [red](does not fit)[/]")
        )
        console.print(f"  [bold]{rec.rank}. {rec.technique}[/]{fit}  [dim]{rec.rule}[/]")
        console.print(f"     {rec.rationale}", highlight=False)
        for text in rec.advice:
            console.print(f"     [dim]- {text}[/]", highlight=False)


def _advice(report: Report, console: Console) -> None:
    if report.advice:
        console.print("\n[bold]Advice[/]")
        for item in report.advice:
            console.print(f"  - {item['text']} [dim]({item['rule']})[/]", highlight=False)
