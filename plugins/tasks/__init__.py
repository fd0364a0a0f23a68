"""Built-in benchmark tasks: fictional_qa (factual), json_extract (format), instruction_following
(behaviour). Each task's lm-eval template and data ship beside this module as package data
(regenerate the data with ``python benchmarks/make_task_data.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from advisor import hookimpl

#: The folder holding the task folders; a regular (not zipped) install, as lm-eval needs real files.
TASKS_DIR = Path(str(files(__package__)))


@dataclass(frozen=True)
class BenchmarkTask:
    name: str
    description: str
    failure_class: str  # 'factual' | 'format' | 'behaviour'
    path: Path
    corpus: Path | None = None


TASKS = (
    BenchmarkTask(
        name="fictional_qa",
        description="Short-answer questions about invented countries, inventors, companies and drugs; "
        "the answers exist only in the bundled corpus.",
        failure_class="factual",
        path=TASKS_DIR / "fictional_qa",
        corpus=TASKS_DIR / "fictional_qa" / "corpus",
    ),
    BenchmarkTask(
        name="json_extract",
        description='Extract {"name", "age", "city"} from a short passage and answer with only JSON '
        "(strict-match vs flexible-extract).",
        failure_class="format",
        path=TASKS_DIR / "json_extract",
    ),
    BenchmarkTask(
        name="instruction_following",
        description="Simple requests with one verifiable constraint (yes/no only, exactly N words, "
        "capitals, lowercase, French, ...).",
        failure_class="behaviour",
        path=TASKS_DIR / "instruction_following",
    ),
)


@hookimpl
def advisor_register_tasks(register):
    for task in TASKS:
        register(task)
