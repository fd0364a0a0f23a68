"""The report of a run: Markdown plus a self-contained HTML page (PNG plots embedded as data URIs).

Plots (matplotlib, Agg backend): quality after vs trainable parameters per technique (log x; techniques
that train nothing are horizontal lines), peak memory per technique, train time per technique. Tables:
which technique won each task (with the task's failure class), wins per failure class, a summary per
technique, the cells that did not finish, and every cell.

The report is built once as a list of blocks and rendered twice, so the two pages always agree.
"""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor.bench.store.engine import CellRecord, RunRecord, Store
from advisor.train.metrics import format_value, metric

QUALITY = "quality_after"
#: The figures the tables show beside quality, by their registry labels.
PARAMS, MEMORY, TRAIN_TIME = (metric(n) for n in ("trainable_params", "peak_memory_bytes", "train_time_s"))


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Paragraph:
    text: str


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass
class Image:
    file: str
    alt: str
    png: bytes


def failure_classes(registry: Any = None) -> dict[str, str]:
    """Task name -> failure class, from the task plugins (a broken plugin is a PluginError, not silence)."""
    if registry is None:
        from advisor.plugins import get_registry

        registry = get_registry()
    return {name: str(task.failure_class or "") for name, task in registry.tasks.items()}


def build(run: RunRecord, cells: list[CellRecord], classes: dict[str, str] | None = None) -> list[Any]:
    classes = classes if classes is not None else failure_classes()
    ok = [c for c in cells if c.status == "ok"]
    blocks: list[Any] = [
        Heading(f"Benchmark report: {run.suite}, run {run.run_id}", 1),
        Paragraph(_run_line(run)),
    ]

    blocks += [
        Heading("Which technique won"),
        Paragraph(
            f"Mean `{QUALITY}` over seeds (and models where a task has several) of the cells "
            "that finished; `quality_before` is the untouched model."
        ),
    ]
    winners = _winners(ok, classes)
    blocks.append(
        Table(
            [
                "task",
                "failure class",
                "model",
                "winner",
                QUALITY,
                "runner-up",
                "quality_before",
                "all (best first)",
            ],
            [w["row"] for w in winners],
        )
        if winners
        else Paragraph("No cell finished with a quality score.")
    )
    by_class: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for w in winners:
        by_class[w["class"]][w["winner"]] += 1
    if by_class:
        blocks += [
            Heading("Wins per failure class", 3),
            Table(
                ["failure class", "wins (technique: tasks won)"],
                [
                    [fc or "?", ", ".join(f"{t}: {n}" for t, n in sorted(wins.items(), key=lambda x: -x[1]))]
                    for fc, wins in sorted(by_class.items())
                ],
            ),
        ]

    blocks += [
        Heading("Techniques"),
        Table(
            [
                "technique",
                "kind",
                "cells ok / all",
                f"mean {QUALITY}",
                "mean gain",
                PARAMS.label,
                MEMORY.label,
                TRAIN_TIME.label,
            ],
            _technique_rows(cells),
        ),
    ]

    blocks.append(Heading("Plots"))
    for image in plots(ok):
        blocks.append(image)
    if not ok:
        blocks.append(Paragraph("No finished cells to plot."))

    unfinished = [c for c in cells if c.status != "ok"]
    if unfinished:
        from advisor.bench.runner import first_line

        blocks += [
            Heading("Cells that did not finish"),
            Table(
                ["cell", "status", "reason"],
                [[c.label, c.status, first_line(c.error) or "-"] for c in unfinished],
            ),
        ]
    blocks += [
        Heading("All cells"),
        Table(
            [
                "model",
                "task",
                "technique",
                "seed",
                "status",
                "quality_before",
                QUALITY,
                PARAMS.label,
                TRAIN_TIME.label,
                MEMORY.label,
                "duration",
            ],
            [
                [
                    c.model,
                    c.task,
                    c.technique,
                    str(c.seed),
                    c.status,
                    *(_cell(c, name) for name in ("quality_before", QUALITY)),
                    *(_cell(c, m.name) for m in (PARAMS, TRAIN_TIME, MEMORY)),
                    format_value(c.duration_s, "seconds", "table"),
                ]
                for c in cells
            ],
        ),
    ]
    return blocks


def write_report(store: Store, run: RunRecord, out: Path) -> tuple[Path, Path]:
    """Write ``report.md`` (with the PNGs beside it) and the self-contained ``report.html`` into ``out``."""
    blocks = build(run, store.cells(run.run_id))
    blocks[2:2] = history_blocks(history(store, run))
    out.mkdir(parents=True, exist_ok=True)
    for block in blocks:
        if isinstance(block, Image):
            (out / block.file).write_bytes(block.png)
    md, page = out / "report.md", out / "report.html"
    md.write_text(to_markdown(blocks), encoding="utf-8")
    page.write_text(to_html(blocks), encoding="utf-8")
    return md, page


# -- rendering --------------------------------------------------------------------------------------------


def to_markdown(blocks: list[Any]) -> str:
    parts = []
    for b in blocks:
        if isinstance(b, Heading):
            parts.append(f"{'#' * b.level} {b.text}")
        elif isinstance(b, Paragraph):
            parts.append(b.text)
        elif isinstance(b, Table):
            cell = lambda s: str(s).replace("|", "\\|").replace("\n", " ")  # noqa: E731
            lines = ["| " + " | ".join(map(cell, b.header)) + " |", "|" + "---|" * len(b.header)]
            lines += ["| " + " | ".join(map(cell, row)) + " |" for row in b.rows]
            parts.append("\n".join(lines))
        elif isinstance(b, Image):
            parts.append(f"![{b.alt}]({b.file})")
    return "\n\n".join(parts) + "\n"


def to_html(blocks: list[Any]) -> str:
    title = next((b.text for b in blocks if isinstance(b, Heading)), "Benchmark report")
    body = []
    for b in blocks:
        if isinstance(b, Heading):
            body.append(f"<h{b.level}>{html.escape(b.text)}</h{b.level}>")
        elif isinstance(b, Paragraph):
            text = html.escape(b.text)
            parts = text.split("`")  # `code` spans
            body.append(
                "<p>" + "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts)) + "</p>"
            )
        elif isinstance(b, Table):
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b.header)
            rows = "".join(
                "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in b.rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(b, Image):
            data = base64.b64encode(b.png).decode("ascii")
            body.append(
                f'<figure><img alt="{html.escape(b.alt)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{html.escape(b.alt)}</figcaption></figure>"
            )
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:1em 0;font-size:14px}"
        "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f3f3f3}"
        "img{max-width:100%}code{background:#f3f3f3;padding:0 3px}figcaption{color:#666;font-size:13px}"
    )
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


# -- tables ---------------------------------------------------------------------------------------------


def _run_line(run: RunRecord) -> str:
    hw = run.hardware or {}
    gpus = ", ".join(g.get("name", "?") for g in hw.get("gpus", [])) or "no GPU"
    counts = ", ".join(f"{n} {s}" for s, n in sorted(run.counts.items())) or "no cells"
    ended = run.ended_at.strftime("%Y-%m-%d %H:%M") if run.ended_at else "unfinished"
    return (
        f"Run `{run.name}` started {run.started_at:%Y-%m-%d %H:%M} UTC, ended {ended}; commit "
        f"`{run.git_commit or '?'}` on {run.host or '?'} ({hw.get('cpus', '?')} CPUs, {gpus}). "
        f"Cells: {counts}."
    )


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _winners(ok: list[CellRecord], classes: dict[str, str]) -> list[dict[str, Any]]:
    by_task: dict[tuple[str, str], dict[str, list[CellRecord]]] = defaultdict(lambda: defaultdict(list))
    models_per_task: dict[str, set[str]] = defaultdict(set)
    for c in ok:
        if QUALITY in c.metrics:
            models_per_task[c.task].add(c.model)
    for c in ok:
        if QUALITY in c.metrics:
            model = c.model if len(models_per_task[c.task]) > 1 else ""
            by_task[(c.task, model)][c.technique].append(c)
    out = []
    for (task, model), techniques in sorted(by_task.items()):
        scores = sorted(
            ((_mean([c.metrics[QUALITY] for c in cs]), t) for t, cs in techniques.items()),
            key=lambda x: (-x[0], x[1]),
        )
        before = _mean(
            [
                c.metrics["quality_before"]
                for cs in techniques.values()
                for c in cs
                if "quality_before" in c.metrics
            ]
        )
        (best, winner), runner_up = scores[0], scores[1] if len(scores) > 1 else None
        if runner_up and runner_up[0] == best:
            winner = f"{winner} (tie)"
        row = [
            task,
            classes.get(task, "?") or "?",
            model or next(iter(models_per_task[task])),
            winner,
            f"{best:.3f}",
            f"{runner_up[1]} ({runner_up[0]:.3f})" if runner_up else "-",
            metric("quality_before").format(before, "table"),
            ", ".join(f"{t} {s:.2f}" for s, t in scores),
        ]
        out.append({"row": row, "class": classes.get(task, "?"), "winner": scores[0][1]})
    return out


def _technique_rows(cells: list[CellRecord]) -> list[list[str]]:
    groups: dict[str, list[CellRecord]] = defaultdict(list)
    for c in cells:
        groups[c.technique].append(c)
    rows = []
    for technique, cs in sorted(groups.items()):
        ok = [c for c in cs if c.status == "ok"]

        def mean(name: str, cells=ok) -> float | None:
            return _mean([c.metrics[name] for c in cells if name in c.metrics])

        gains = [
            c.metrics[QUALITY] - c.metrics["quality_before"]
            for c in ok
            if QUALITY in c.metrics and "quality_before" in c.metrics
        ]
        kind = next((c.kind for c in cs if c.kind), None) or "-"
        rows.append(
            [
                technique,
                kind,
                f"{len(ok)} / {len(cs)}",
                metric(QUALITY).format(mean(QUALITY), "table"),
                f"{_mean(gains):+.3f}" if gains else "-",
                *(m.format(mean(m.name), "table") for m in (PARAMS, MEMORY, TRAIN_TIME)),
            ]
        )
    return rows


def _cell(c: CellRecord, name: str) -> str:
    """One metric of one cell, formatted for a table."""
    return metric(name).format(c.metrics.get(name), "table")


# -- history -------------------------------------------------------------------------------------------

#: the metrics drawn over time, and how many earlier runs of the suite the history goes back
HISTORY_METRICS = (QUALITY, "train_time_s", "peak_memory_bytes")
HISTORY_RUNS = 20


@dataclass
class Series:
    label: str  # the cell, without the seed
    runs: list[int]  # run ids, oldest first
    values: dict[str, list[float | None]]  # metric -> the mean over seeds per run (None: not ok there)


def history(store: Store, run: RunRecord, limit: int = HISTORY_RUNS) -> list[Series]:
    """Per cell of ``run``: its metrics in this run and the earlier runs of the suite on the same kind of
    machine (timings elsewhere do not compare), oldest first."""
    from advisor.bench.compare import _groups, same_machine

    runs = [r for r in store.runs(run.suite) if r.run_id <= run.run_id and same_machine(r, run)][:limit]
    runs.reverse()
    if len(runs) < 2:
        return []
    per_run = [_groups(store.cells(r.run_id)) for r in runs]
    out = []
    for key, cells in per_run[-1].items():
        values: dict[str, list[float | None]] = {name: [] for name in HISTORY_METRICS}
        for groups in per_run:
            ok = [c for c in groups.get(key, []) if c.status == "ok"]
            for name in HISTORY_METRICS:
                got = [c.metrics[name] for c in ok if name in c.metrics]
                values[name].append(sum(got) / len(got) if got else None)
        first = cells[0]
        out.append(Series(f"{first.technique} on {first.task}", [r.run_id for r in runs], values))
    return out


def history_blocks(series: list[Series]) -> list[Any]:
    """The "History" section: per metric, one small plot per cell with its noise band (as asv draws)."""
    if not series:
        return []
    blocks: list[Any] = [
        Heading("History"),
        Paragraph(
            f"Each cell over the last {len(series[0].runs)} runs of the suite on this kind of machine (runs "
            f"{series[0].runs[0]}..{series[0].runs[-1]}). The band is the median +- the noise band that "
            "`bench compare` uses (3 x 1.4826 x the median absolute deviation); the last point is this run."
        ),
    ]
    import matplotlib

    matplotlib.use("Agg")
    for name in HISTORY_METRICS:
        image = _history_plot(series, name)
        if image is not None:
            blocks.append(image)
    return blocks


def _history_plot(series: list[Series], name: str) -> Image | None:
    import matplotlib.pyplot as plt

    from advisor.bench.compare import noise_band

    drawn = [s for s in series if sum(v is not None for v in s.values[name]) >= 2]
    if not drawn:
        return None
    facts = metric(name)
    cols = min(4, len(drawn))
    rows = (len(drawn) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.flat[len(drawn) :]:
        ax.set_visible(False)
    for ax, s in zip(axes.flat, drawn, strict=False):
        points = [(r, v) for r, v in zip(s.runs, s.values[name], strict=True) if v is not None]
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        band = noise_band(ys[:-1])
        if band is not None:
            earlier = sorted(ys[:-1])
            median = earlier[len(earlier) // 2]
            ax.axhspan(median - band, median + band, color="tab:blue", alpha=0.15, lw=0)
        ax.plot(xs, ys, marker="o", ms=3, lw=1, color="tab:blue")
        ax.plot(xs[-1:], ys[-1:], marker="o", ms=6, color="tab:red")
        ax.set_title(s.label, fontsize=7)
        ax.tick_params(labelsize=6)
    fig.suptitle(f"{facts.label} per run", fontsize=10)
    fig.tight_layout()
    return Image(
        f"history_{name}.png", f"{facts.label} of each cell over runs, with its noise band", _png(fig)
    )


# -- plots ----------------------------------------------------------------------------------------------


def plots(ok: list[CellRecord]) -> list[Image]:
    if not ok:
        return []
    import matplotlib

    matplotlib.use("Agg")
    images = []
    quality = _quality_plot(ok)
    if quality:
        images.append(quality)
    for facts, scale, unit, file in (
        (MEMORY, 1e9, "GB", "peak_memory.png"),
        (TRAIN_TIME, 1.0, "s", "train_time.png"),
    ):
        title = f"{facts.label[0].upper()}{facts.label[1:]} per technique"
        image = _bar_plot(ok, facts.name, scale, unit, title, file)
        if image:
            images.append(image)
    return images


def _colours(techniques: list[str]) -> dict[str, Any]:
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("tab20" if len(techniques) > 10 else "tab10")
    return {t: cmap(i % cmap.N) for i, t in enumerate(sorted(techniques))}


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _quality_plot(ok: list[CellRecord]) -> Image | None:
    import matplotlib.pyplot as plt

    cells = [c for c in ok if QUALITY in c.metrics]
    if not cells:
        return None
    tasks = sorted({c.task for c in cells})
    colours = _colours(list({c.technique for c in cells}))
    cols = min(3, len(tasks))
    rows = (len(tasks) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.2 * rows), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        task_cells = [c for c in cells if c.task == task]
        trained = [c for c in task_cells if c.metrics.get("trainable_params", 0) > 0]
        untrained = [c for c in task_cells if c.metrics.get("trainable_params", 0) <= 0]
        for technique in sorted({c.technique for c in trained}):
            pts = [c for c in trained if c.technique == technique]
            ax.scatter(
                [c.metrics["trainable_params"] for c in pts],
                [c.metrics[QUALITY] for c in pts],
                label=technique,
                color=colours[technique],
                s=40,
                edgecolors="black",
                linewidths=0.4,
            )
        for technique in sorted({c.technique for c in untrained}):
            level = _mean([c.metrics[QUALITY] for c in untrained if c.technique == technique])
            ax.axhline(
                level,
                color=colours[technique],
                linestyle="--",
                linewidth=1.4,
                label=f"{technique} (no training)",
            )
        before = _mean([c.metrics["quality_before"] for c in task_cells if "quality_before" in c.metrics])
        if before is not None:
            ax.axhline(before, color="grey", linestyle=":", linewidth=1.2, label="base model")
        if trained:
            ax.set_xscale("log")
        ax.set_title(task)
        ax.set_xlabel("trainable parameters (log scale)")
        ax.set_ylabel(QUALITY)
        ax.set_ylim(-0.03, 1.03)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    for ax in list(axes.flat)[len(tasks) :]:
        ax.axis("off")
    fig.suptitle("Quality vs trainable parameters per technique")
    fig.tight_layout()
    return Image("quality_vs_params.png", "Quality vs trainable parameters per technique (log x)", _png(fig))


def _bar_plot(
    ok: list[CellRecord], name: str, scale: float, unit: str, title: str, file: str
) -> Image | None:
    import matplotlib.pyplot as plt

    values: dict[str, list[float]] = defaultdict(list)
    for c in ok:
        if name in c.metrics:
            values[c.technique].append(c.metrics[name] / scale)
    if not values:
        return None
    techniques = sorted(values, key=lambda t: _mean(values[t]) or 0.0)
    means = [_mean(values[t]) for t in techniques]
    # max(0, ...): the mean of equal floats can land a rounding error outside them (matplotlib refuses that)
    lows = [max(0.0, m - min(values[t])) for m, t in zip(means, techniques, strict=True)]
    highs = [max(0.0, max(values[t]) - m) for m, t in zip(means, techniques, strict=True)]
    colours = _colours(techniques)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.8 * len(techniques) + 2), 3.8))
    ax.bar(
        techniques,
        means,
        yerr=[lows, highs],
        capsize=3,
        color=[colours[t] for t in techniques],
        edgecolor="black",
        linewidth=0.4,
    )
    ax.set_ylabel(f"{name} ({unit})")
    ax.set_title(f"{title} (mean; bars span the cells)")
    ax.tick_params(axis="x", rotation=30)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    return Image(file, title, _png(fig))
