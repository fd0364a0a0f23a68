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

TEMPLATE = "task.yaml.in"


def task_folder(path: str | Path) -> Path:
    """``path`` as a task folder (one holding ``task.yaml.in``), else a UsageError."""
    folder = Path(path)
    if not (folder / TEMPLATE).is_file():
        raise UsageError(f"{str(path)!r} is not a task folder (no {TEMPLATE} in it)")
    return folder.resolve()


def render_task_yaml(folder: Path) -> str:
    """The task's YAML text with absolute paths to its ``train.jsonl`` and ``test.jsonl``."""
    text = (folder / TEMPLATE).read_text(encoding="utf-8")
    for placeholder, split in (("@TRAIN_FILE@", "train"), ("@TEST_FILE@", "test")):
        if placeholder not in text:
            continue
        data = (folder / f"{split}.jsonl").resolve()
        if not data.is_file():
            raise InputError(f"task data {str(data)!r} is missing; run: python benchmarks/make_task_data.py")
        # A JSON string is a valid YAML double-quoted scalar: safe for any path.
        text = text.replace(placeholder, json.dumps(str(data)))
    return text


def materialize_tasks(dest: Path, folders: list[str | Path] | tuple[str | Path, ...]) -> Path:
    """Write lm-eval YAMLs (absolute data paths) and their ``utils.py`` into ``dest``.

    ``folders`` are task folders (registered tasks give theirs as ``Task.path``). Each task goes into
    ``dest/<name>/`` (``<name>.yaml`` plus the folder's ``*.py`` helpers) so that the helpers of
    different tasks never clash. Returns ``dest``: the ``--include_path``.
    """
    selected = [task_folder(f) for f in folders]
    if not selected:
        raise InputError("no task folders given")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for folder in selected:
        name = folder.name
        out = dest / name
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{name}.yaml").write_text(render_task_yaml(folder), encoding="utf-8")
        for helper in sorted(folder.glob("*.py")):
            shutil.copyfile(helper, out / helper.name)
    return dest.resolve()
