"""Bundled benchmark tasks and their lm-eval YAMLs.

lm-eval resolves a relative ``dataset_kwargs.data_files`` against the working directory, so the task
folders hold a template (``task.yaml.in``) and :func:`materialize_tasks` writes real YAMLs with
absolute data paths into a folder that is then passed to lm-eval as ``--include_path``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from advisor.errors import InputError, UsageError

#: The task folders that ship with the repository (``benchmarks/tasks/<name>/``).
BUNDLED_TASKS_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / "tasks"
TEMPLATE = "task.yaml.in"
BUNDLED = ("fictional_qa", "json_extract", "instruction_following")


def task_folders(root: Path = BUNDLED_TASKS_DIR) -> dict[str, Path]:
    """Every folder under ``root`` that holds a task template, by task (folder) name."""
    if not root.is_dir():
        return {}
    return {p.name: p for p in sorted(root.iterdir()) if (p / TEMPLATE).is_file()}


def _resolve(name: str | Path, known: dict[str, Path]) -> tuple[str, Path]:
    if str(name) in known:
        return str(name), known[str(name)]
    path = Path(name)
    if (path / TEMPLATE).is_file():
        return path.name, path.resolve()
    raise UsageError(
        f"unknown task {str(name)!r}: not a bundled task ({', '.join(sorted(known)) or 'none found'})"
        f" nor a folder with {TEMPLATE}"
    )


def render_task_yaml(folder: Path) -> str:
    """The task's YAML text with absolute paths to its ``train.jsonl`` and ``test.jsonl``."""
    text = (folder / TEMPLATE).read_text(encoding="utf-8")
    for placeholder, split in (("@TRAIN_FILE@", "train"), ("@TEST_FILE@", "test")):
        data = (folder / f"{split}.jsonl").resolve()
        if not data.is_file():
            raise InputError(f"task data {str(data)!r} is missing; run: python benchmarks/tasks/make_data.py")
        # A JSON string is a valid YAML double-quoted scalar: safe for any path.
        text = text.replace(placeholder, json.dumps(str(data)))
    return text


def materialize_tasks(dest: Path, names: list[str] | tuple[str, ...] | None = None) -> Path:
    """Write lm-eval YAMLs (absolute data paths) and their ``utils.py`` into ``dest``.

    ``names`` are bundled task names or paths of task folders; None means every bundled task.
    Each task goes into ``dest/<name>/`` (``<name>.yaml`` plus the folder's ``*.py`` helpers) so
    that the helpers of different tasks never clash. Returns ``dest``: the ``--include_path``.
    """
    known = task_folders()
    selected = [_resolve(n, known) for n in (names if names is not None else list(known))]
    if not selected:
        raise InputError(f"no benchmark tasks found under {BUNDLED_TASKS_DIR}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name, folder in selected:
        out = dest / name
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{name}.yaml").write_text(render_task_yaml(folder), encoding="utf-8")
        for helper in sorted(folder.glob("*.py")):
            if helper.name != "make_data.py":
                shutil.copyfile(helper, out / helper.name)
    return dest.resolve()
