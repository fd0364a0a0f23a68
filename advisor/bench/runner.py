"""Run the cells of a suite, each in its own process, and store every outcome.

A cell is one ``advisor run ... --json`` process (through ``accelerate launch`` when it asks for several
GPUs), started in a new session so that a timeout kills its whole process group, and tied to the runner
with ``PR_SET_PDEATHSIG`` on Linux so that it dies with the runner. Whatever happens to a cell (a crash,
a non-zero exit, the OOM killer, its time limit) is stored with its status and error text, and the next
cell starts. Cells are stored when they finish, one transaction each, keyed by their configuration hash:
``--resume`` skips the cells a run already holds, so a run killed at any moment finishes without
duplicates.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.bench import environment
from advisor.bench.store.engine import CellOutcome, RunRecord, Store, now
from advisor.bench.store.models import DOC_ID_LENGTH, PHASES, CellStatus
from advisor.bench.suite import Cell, Suite, canonical_json, shard
from advisor.errors import UsageError

KILL_GRACE_S = 5.0
ERROR_TAIL_CHARS = 4000
FAILED = {CellStatus.failed, CellStatus.timeout, CellStatus.killed}

_active: set[subprocess.Popen] = set()
_active_lock = threading.Lock()


def cell_args(cell: Cell) -> list[str]:
    """The ``advisor run`` arguments of a cell (the cell contract)."""
    args = [
        "--technique",
        cell.technique,
        "--task",
        cell.task,
        "--model",
        cell.model_path or cell.model,
        "--seed",
        str(cell.seed),
    ]
    for key, value in sorted(cell.settings.items()):
        if key in ("train_limit", "eval_limit"):
            args += [f"--{key.replace('_', '-')}", str(value)]
        else:
            args += ["--set", f"{key}={_setting_text(value)}"]
    if cell.batch_size:
        args += ["--batch-size", str(cell.batch_size)]
    return [*args, "--json"]


def cell_command(cell: Cell) -> list[str]:
    """The command line of a cell. The one place that knows how a cell is launched (tests replace it)."""
    advisor = _script("advisor")
    base = [advisor] if advisor else [sys.executable, "-m", "advisor.cli"]
    if cell.gpus > 1:
        if not advisor:
            base = ["-m", "advisor.cli"]
        config = ["--config_file", cell.accelerate_config] if cell.accelerate_config else ["--multi_gpu"]
        return [
            _script("accelerate") or "accelerate",
            "launch",
            "--num_processes",
            str(cell.gpus),
            *config,
            *base,
            "run",
            *cell_args(cell),
        ]
    return [*base, "run", *cell_args(cell)]


def _script(name: str) -> str | None:
    beside = Path(sys.executable).parent / name  # the virtualenv's own script first
    return str(beside) if beside.is_file() else shutil.which(name)


def _setting_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float)) for v in value):
        # a comma list is what `--set` parses for list settings and for comma-string ones (targets)
        return ",".join(_setting_text(v) for v in value)
    return canonical_json(value)


# -- one cell -------------------------------------------------------------------------------------------


def _die_with_parent() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: the cell must not outlive a killed runner


_PREEXEC = _die_with_parent()


def cell_env(jobs: int = 1) -> dict[str, str]:
    """The environment of a cell: the CPU cores shared out between the ``jobs`` processes that run at
    once (cells, and the processes of a launched cell).

    PyTorch's OpenMP threads busy-wait for each other; with more threads than free cores a
    135M model's generation was measured 25x slower (2 threads beside one other busy process).
    A thread count the user set (OMP_NUM_THREADS) is kept.
    """
    env = dict(os.environ)
    if "OMP_NUM_THREADS" not in env:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        env["OMP_NUM_THREADS"] = str(max(1, cores // max(1, jobs)))
    return env


def run_cell(cell: Cell, jobs: int = 1) -> CellOutcome:
    """Run one cell to its end and say how it went; never raises for anything the cell does."""
    command = cell_command(cell)
    started = now()
    host = environment.host()
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_PREEXEC,
            env=cell_env(jobs * max(1, cell.gpus)),  # a launched cell's processes share the cores
        )
    except OSError as exc:
        return CellOutcome(
            CellStatus.failed, started, now(), error=f"cannot start {command[0]}: {exc}", host=host
        )
    with _active_lock:
        _active.add(proc)
    try:
        try:
            out, err = proc.communicate(timeout=cell.time_limit_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out, err = proc.communicate()
            timed_out = True
    finally:
        with _active_lock:
            _active.discard(proc)
    ended = now()
    stdout, stderr = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    if timed_out:
        return CellOutcome(
            CellStatus.timeout,
            started,
            ended,
            host=host,
            error=_join(f"ran past its time limit of {cell.time_limit_s:g} s", stderr),
        )
    return interpret(proc.returncode, stdout, stderr, started=started, ended=ended, host=host)


def interpret(
    returncode: int, stdout: str, stderr: str, *, started, ended, host: str | None = None
) -> CellOutcome:
    """Turn a finished cell process into an outcome (status, error, metrics, per-document scores)."""
    signum = -returncode if returncode < 0 else returncode - 128 if returncode in (128 + 9, 128 + 15) else 0
    if signum:
        name = (
            signal.Signals(signum).name if signum in signal.Signals._value2member_map_ else f"signal {signum}"
        )
        why = " (out of memory?)" if signum == signal.SIGKILL else ""
        return CellOutcome(
            CellStatus.killed, started, ended, host=host, error=_join(f"killed by {name}{why}", stderr)
        )
    if returncode != 0:
        return CellOutcome(
            CellStatus.failed, started, ended, host=host, error=_join(f"exit code {returncode}", stderr)
        )
    result = parse_result(stdout)
    if result is None:
        return CellOutcome(
            CellStatus.failed,
            started,
            ended,
            host=host,
            error=_join("exit code 0 but no JSON result on stdout", stderr),
        )
    status = result.get("status")
    if status not in ("ok", "skipped"):
        return CellOutcome(
            CellStatus.failed,
            started,
            ended,
            host=host,
            error=f"the cell reported status {status!r}: {result.get('reason') or ''}".strip(),
        )
    metrics = {}
    for name, value in (result.get("metrics") or {}).items():
        if _number(value):
            metrics[str(name)] = float(value)
    return CellOutcome(
        CellStatus(status),
        started,
        ended,
        host=host,
        error=result.get("reason"),
        kind=result.get("kind"),
        quality_metric=result.get("metric"),
        metrics=metrics,
        documents=parse_documents(result.get("documents")),
    )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def parse_documents(value: Any) -> dict[str, dict[str, float]]:
    """The cell's ``documents`` ({"before": {doc_id: score}, "after": {...}}), keeping what can be stored:
    known phases, finite numeric scores, ids as text cut to the column's length. Anything else is left out."""
    out: dict[str, dict[str, float]] = {}
    if not isinstance(value, dict):
        return out
    for phase in PHASES:
        scores = value.get(phase)
        if not isinstance(scores, dict):
            continue
        kept = {
            str(doc_id)[:DOC_ID_LENGTH]: float(score) for doc_id, score in scores.items() if _number(score)
        }
        if kept:
            out[phase] = kept
    return out


def parse_result(stdout: str) -> dict[str, Any] | None:
    """The cell's JSON object: all of stdout, else its last line that is a JSON object (libraries print)."""
    text = stdout.strip()
    candidates = [
        text,
        *reversed([line.strip() for line in text.splitlines() if line.strip().startswith("{")]),
    ]
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def kill_group(proc: subprocess.Popen, grace_s: float = KILL_GRACE_S) -> None:
    """SIGTERM the cell's process group, then SIGKILL what is left after ``grace_s``."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        if wait_s is None:
            return
        try:
            proc.wait(timeout=wait_s)
            os.killpg(proc.pid, signal.SIGKILL)  # children that ignored SIGTERM
        except subprocess.TimeoutExpired:
            continue
        except (ProcessLookupError, PermissionError):
            pass
        return


def _join(head: str, stderr: str) -> str:
    tail = "\n".join(line for line in stderr.strip().splitlines()[-20:])[-ERROR_TAIL_CHARS:]
    return f"{head}: {tail}" if tail else head


def first_line(error: str | None) -> str:
    """The line of an error worth showing: the last line of the stderr tail (the exception)."""
    if not error:
        return ""
    head, _, tail = error.partition(": ")
    lines = [line for line in tail.splitlines() if line.strip()]
    return f"{head}: {lines[-1].strip()}" if lines else head


# -- a suite ----------------------------------------------------------------------------------------------


@dataclass
class RunSummary:
    run: RunRecord
    cells: int  # cells of this shard of the suite
    already_done: int  # found in the run when it was resumed
    counts: Counter = field(default_factory=Counter)  # statuses of the cells run now

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run.run_id,
            "run_name": self.run.name,
            "suite": self.run.suite,
            "cells": self.cells,
            "already_done": self.already_done,
            "counts": dict(self.counts),
        }


def start_or_resume(
    store: Store, suite: Suite, *, resume: bool, run_name: str | None
) -> tuple[RunRecord, bool]:
    """The run to fill: the named one (created if new: shards share it), the latest one of the suite
    when resuming, else a new one. Returns the run and whether it existed."""
    if run_name is None and resume:
        latest = store.runs(suite.name, limit=1)
        if latest:
            return latest[0], True
    if run_name is not None:
        try:
            return store.run(run_name), True
        except UsageError:
            pass
    name = run_name or f"{suite.name}-{now().strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:6]}"
    meta = {
        "git_commit": environment.git_commit(),
        "packages": environment.package_versions(),
        "hardware": environment.hardware(),
        "host": environment.host(),
    }
    try:
        return store.create_run(name=name, suite=suite.name, **meta), False
    except UsageError:
        if run_name is None:
            raise
        return store.run(run_name), True  # another shard created it a moment ago


def run_suite(
    suite: Suite,
    store: Store,
    *,
    resume: bool = False,
    run_name: str | None = None,
    which_shard: tuple[int, int] | None = None,
    jobs: int = 1,
    retry_failed: bool = False,
    progress: Progress | None = None,
) -> RunSummary:
    cells = shard(suite.cells, which_shard)
    run, existed = start_or_resume(store, suite, resume=resume, run_name=run_name)
    if existed and retry_failed:
        store.forget_cells(run.run_id, {s.value for s in FAILED})
    done = store.done_hashes(run.run_id) if existed else set()
    pending = [c for c in cells if c.config_hash not in done]
    summary = RunSummary(run=run, cells=len(cells), already_done=len(cells) - len(pending))
    progress = progress or Progress(enabled=False)
    progress.start(suite.name, run, total=len(cells), done=summary.already_done)
    lock = threading.Lock()

    def work(cell: Cell) -> None:
        with lock:
            progress.started(cell)
        outcome = run_cell(cell, jobs)
        stored = store.record_cell(run.run_id, cell, outcome)
        with lock:
            if stored:
                summary.counts[outcome.status.value] += 1
            progress.finished(cell, outcome)

    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        futures = {pool.submit(work, cell) for cell in pending}
        while futures:
            finished, futures = wait(futures, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in finished:
                future.result()  # a store error is not a cell error: it stops the run
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        stop_all()
        progress.stop()
        raise
    pool.shutdown()
    progress.stop()
    if store.done_hashes(run.run_id) >= {c.config_hash for c in suite.cells}:
        store.finish_run(run.run_id)
    summary.run = store.run(run.run_id)
    return summary


def stop_all() -> None:
    """Kill the process groups of every running cell (the runner is being interrupted)."""
    with _active_lock:
        procs = list(_active)
    for proc in procs:
        kill_group(proc, grace_s=1.0)


class Progress:
    """A rich progress bar on stderr: cells done, running and failed, and one line per finished cell."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.done = self.failed = self.running = 0
        self._bar = None

    def start(self, suite: str, run: RunRecord, total: int, done: int) -> None:
        self.done, self.total = done, total
        if not self.enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self._bar.start()
        if done:
            self._bar.console.print(
                f"resuming run {run.run_id} ({run.name}): {done} of {total} cells already done"
            )
        else:
            self._bar.console.print(f"run {run.run_id} ({run.name}): {total} cells")
        self._task = self._bar.add_task(self._describe(suite), total=total, completed=done)
        self._suite = suite

    def _describe(self, suite: str) -> str:
        return f"{suite}: [green]{self.done} done[/] · {self.running} running · [red]{self.failed} failed[/]"

    def started(self, cell: Cell) -> None:
        self.running += 1
        self._refresh()

    def finished(self, cell: Cell, outcome: CellOutcome) -> None:
        self.running -= 1
        self.done += 1
        if outcome.status in FAILED:
            self.failed += 1
        if self._bar is not None:
            colour = {"ok": "green", "skipped": "yellow"}.get(outcome.status.value, "red")
            note = f" - {first_line(outcome.error)}" if outcome.error else ""
            self._bar.console.print(
                f"[{colour}]{outcome.status.value:>7}[/] {cell.label} ({outcome.duration_s:.1f} s){note}",
                markup=True,
                highlight=False,
            )
            self._bar.update(self._task, completed=self.done)
        self._refresh()

    def _refresh(self) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=self._describe(self._suite))

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
