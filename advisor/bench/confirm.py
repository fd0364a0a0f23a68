"""``advisor bench compare --confirm``: re-run what a comparison flagged, and keep only what the re-run shows.

As asv's ``continuous`` does: the cells of run B that regressed or are suspect are run again on the current
code (same model, task, technique, settings and seed) into a new run of the suite ``<suite>:confirm``, and
compared with run A again. A regression is *confirmed* only when the re-run is flagged as a regression
too; everything else that was flagged stays a suspect, with what the re-run said. Only confirmed
regressions fail the comparison. The confirmation runs live in their own suite, so they never become the
"previous run" of the nightly suite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from advisor.bench.compare import Comparison, Thresholds, compare_runs, compare_with_history, group_key
from advisor.bench.store.engine import CellRecord, RunRecord, Store
from advisor.bench.suite import Cell, Suite
from advisor.errors import AdvisorError


@dataclass
class Confirmation:
    rerun: RunRecord | None
    confirmed: list[tuple[str, str]] = field(default_factory=list)  # (cell label, why)
    cleared: list[tuple[str, str]] = field(default_factory=list)  # flagged before, not by the re-run

    def to_json(self) -> dict[str, Any]:
        return {
            "rerun": {"run_id": self.rerun.run_id, "name": self.rerun.name} if self.rerun else None,
            "confirmed": [{"cell": c, "reason": why} for c, why in self.confirmed],
            "not_confirmed": [{"cell": c, "reason": why} for c, why in self.cleared],
        }


def cells_to_rerun(store: Store, comparison: Comparison) -> list[Cell]:
    """The cells of run B behind every regression and suspect, as runnable cells: from B's suite file
    when it can still be loaded (model paths, time limits, GPUs), else from what the store holds."""
    flagged = {cell.key for cell, _ in comparison.regressions + comparison.suspects}
    if not flagged:
        return []
    stored = [c for c in store.cells(comparison.run_b.run_id) if group_key(c) in flagged]
    suite_cells: dict[str, Cell] = {}
    try:
        from advisor.bench.suite import load_suite

        suite_cells = {c.config_hash: c for c in load_suite(comparison.run_b.suite).cells}
    except AdvisorError:
        pass  # a suite given as a file that is gone, or a `try` run: rebuild from the store
    return [suite_cells.get(c.config_hash) or _cell(c) for c in stored]


def _cell(record: CellRecord) -> Cell:
    return Cell(
        model=record.model,
        task=record.task,
        technique=record.technique,
        seed=record.seed,
        settings=dict(record.settings),
    )


def confirm(
    store: Store,
    comparison: Comparison,
    thresholds: Thresholds,
    *,
    jobs: int = 1,
    progress: Any = None,
    run: Any = None,
) -> Confirmation:
    """Re-run the flagged cells and compare run A with the re-run; ``run`` is the suite runner (tests
    pass one that uses the fake cell)."""
    cells = cells_to_rerun(store, comparison)
    if not cells:
        return Confirmation(rerun=None)
    if run is None:
        from advisor.bench.runner import run_suite as run
    suite = Suite(
        name=f"{comparison.run_b.suite}:confirm",
        path=None,
        description=f"re-run of the cells flagged in {comparison.run_b.name}",
        cells=cells,
    )
    summary = run(suite, store, jobs=jobs, progress=progress)
    if comparison.history_runs:  # the re-run faces the same reference as the run it re-checks
        reference = [store.run(str(r)) for r in comparison.history_runs]
        again = compare_with_history(store, summary.run, thresholds, reference)
        assert again is not None
    else:
        again = compare_runs(store, comparison.run_a, summary.run, thresholds)
    regressed_again = {cell.key: whys for cell in again.cells if (whys := cell.regressions)}
    out = Confirmation(rerun=summary.run)
    for cell, why in comparison.regressions + comparison.suspects:
        if cell.key in regressed_again:
            out.confirmed.append((cell.label, f"{why}; the re-run too: {regressed_again[cell.key][0]}"))
        else:
            out.cleared.append((cell.label, f"{why}; not confirmed by the re-run ({summary.run.name})"))
    return out
