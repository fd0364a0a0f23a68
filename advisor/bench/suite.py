"""Benchmark suites: a TOML file -> the cells (model x task x technique x seed) to run.

A suite file looks like::

    name = "smoke"                      # default: the file name without .toml
    description = "..."
    models = ["smollm2-135m-instruct", { name = "llama-3.2-1b", path = "$MODELS/Llama-3.2-1B" }]
    tasks = ["json_extract", "fictional_qa"]
    seeds = [0]
    time_limit_s = 600                  # per cell
    train_limit = 32                    # training examples (--train-limit)
    eval_limit = 16                     # evaluation examples (--eval-limit)
    gpus = 1                            # > 1: the cell is launched through `accelerate launch`
    accelerate_config = "fsdp.yaml"     # gpus > 1: `accelerate launch --config_file` (else DDP;
                                        # relative to the suite file; $VARS expanded)
    batch_size = 32                     # evaluation batch (--batch-size; default 8)

    [techniques.prompting]
    [techniques.lora]
    time_limit_s = 900                  # any top-level cell option can be overridden here,
    tasks = ["json_extract"]            # and so can models, tasks and seeds
    settings = { r = 8, lr = 1e-3 }     # passed as --set key=value

A cell is identified by the hash of its configuration (model name, task, technique, settings with the
limits, seed); the time limit, the GPU count and launcher config, the evaluation batch size and a
model's path are not part of it, so a cell keeps its identity across machines (and its history when
the batch size is tuned).
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from advisor.errors import AdvisorError, InputError, UsageError, did_you_mean

#: Suites that ship inside the package: ``advisor bench run smoke`` finds ``advisor/bench/suites/smoke.toml``.
BUNDLED_SUITES_DIR = Path(str(files("advisor.bench") / "suites"))

_CELL_OPTIONS = {
    "time_limit_s": (int, float),
    "train_limit": int,
    "eval_limit": int,
    "gpus": int,
    "batch_size": int,
}
#: the one cell option that is text: an accelerate config file (FSDP, DeepSpeed...) for cells with gpus > 1
ACCELERATE_CONFIG = "accelerate_config"
_TOP_KEYS = {
    "name",
    "description",
    "models",
    "tasks",
    "seeds",
    "techniques",
    ACCELERATE_CONFIG,
    *_CELL_OPTIONS,
}
_TECHNIQUE_KEYS = {"models", "tasks", "seeds", "settings", ACCELERATE_CONFIG, *_CELL_OPTIONS}
DEFAULT_TIME_LIMIT_S = 3600.0


@dataclass(frozen=True)
class Model:
    name: str
    path: str | None = None  # what `advisor run --model` gets; the name when None


@dataclass(frozen=True)
class Cell:
    """One unit of work: one process of ``advisor run``."""

    model: str
    task: str
    technique: str
    seed: int
    settings: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    model_path: str | None = None
    time_limit_s: float = DEFAULT_TIME_LIMIT_S
    gpus: int = 1
    #: evaluation batch size (``advisor run --batch-size``); None: its default
    batch_size: int | None = None
    #: ``accelerate launch --config_file`` of a cell with gpus > 1 (FSDP, DeepSpeed...); None: DDP
    accelerate_config: str | None = None

    def config(self) -> dict[str, Any]:
        """What identifies the cell (and what its hash covers)."""
        return {
            "model": self.model,
            "task": self.task,
            "technique": self.technique,
            "settings": self.settings,
            "seed": self.seed,
        }

    @property
    def config_hash(self) -> str:
        return config_hash(self.config())

    @property
    def label(self) -> str:
        return f"{self.technique} on {self.task} ({self.model}, seed {self.seed})"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def config_hash(config: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of a cell configuration (stable across runs and machines)."""
    return hashlib.sha256(canonical_json(config).encode("utf-8")).hexdigest()


@dataclass
class Suite:
    name: str
    path: Path | None
    description: str
    cells: list[Cell]


def resolve_suite_path(name_or_path: str | Path) -> Path:
    """A suite file path, or the name of a bundled suite (``smoke``, ``quick``, ``nightly``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    bundled = {p.stem: p for p in BUNDLED_SUITES_DIR.glob("*.toml")}
    if str(name_or_path) in bundled:
        return bundled[str(name_or_path)]
    if path.suffix == ".toml" or os.sep in str(name_or_path):
        raise InputError(f"suite file {str(path)!r} does not exist")
    raise did_you_mean(str(name_or_path), sorted(bundled), "suite (a .toml file or a bundled suite)")


def load_suite(
    name_or_path: str | Path,
    *,
    registry: Any = None,
    known_techniques: set[str] | None = None,
    known_tasks: set[str] | None = None,
) -> Suite:
    """Read and validate a suite file; every problem is an :class:`InputError` naming the file.

    Techniques, their settings and tasks are checked against ``registry`` (default: the process's), or
    against ``known_techniques``/``known_tasks`` where those are given.
    """
    path = resolve_suite_path(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"suite {str(path)!r} is not valid TOML: {exc}") from None
    return parse_suite(
        data, path=path, registry=registry, known_techniques=known_techniques, known_tasks=known_tasks
    )


def parse_suite(
    data: dict[str, Any],
    *,
    path: Path | None = None,
    registry: Any = None,
    known_techniques: set[str] | None = None,
    known_tasks: set[str] | None = None,
) -> Suite:
    where = f"suite {str(path)!r}" if path else "suite"

    def bad(msg: str) -> InputError:
        return InputError(f"{where}: {msg}")

    _check_keys(data, _TOP_KEYS, where)
    name = data.get("name") or (path.stem if path else None)
    if not isinstance(name, str) or not name:
        raise bad("'name' must be a non-empty string")
    axes = _Axes(
        models=[_model(m, bad) for m in _list(data, "models", bad, required=True)],
        tasks=[_str(t, "tasks", bad) for t in _list(data, "tasks", bad, required=True)],
        seeds=[_int(s, "seeds", bad) for s in _list(data, "seeds", bad)] or [0],
    )
    defaults = _cell_options(data, bad, "", path)
    techniques = data.get("techniques")
    if not isinstance(techniques, dict) or not techniques:
        raise bad("needs at least one [techniques.NAME] table")
    known = _Known.of(registry, known_techniques, known_tasks)
    cells: list[Cell] = []
    for technique, spec in techniques.items():
        cells += _technique_cells(technique, spec, axes, defaults, known, where, bad, path)
    _check_unique(cells, bad)
    return Suite(name=name, path=path, description=str(data.get("description", "")), cells=cells)


@dataclass
class _Axes:
    """What a suite (or one of its techniques) multiplies out: models x tasks x seeds."""

    models: list[Model]
    tasks: list[str]
    seeds: list[int]


@dataclass
class _Known:
    """The techniques and tasks a suite may name; empty sets accept any name."""

    techniques: set[str]
    tasks: set[str]
    objects: dict[str, Any]  # technique name -> plugin object, to check settings with

    @classmethod
    def of(cls, registry: Any, techniques: set[str] | None, tasks: set[str] | None) -> _Known:
        if registry is None and (techniques is None or tasks is None):
            from advisor.plugins import get_registry

            registry = get_registry()
        return cls(
            techniques=techniques if techniques is not None else set(registry.techniques),
            tasks=tasks if tasks is not None else set(registry.tasks),
            objects=registry.techniques if techniques is None else {},
        )


def _technique_cells(
    technique: str,
    spec: Any,
    axes: _Axes,
    defaults: dict[str, Any],
    known: _Known,
    where: str,
    bad,
    where_file: Path | None = None,
) -> list[Cell]:
    """The cells of one ``[techniques.NAME]`` table."""
    if known.techniques and technique not in known.techniques:
        raise bad(str(did_you_mean(technique, sorted(known.techniques), "technique")))
    if not isinstance(spec, dict):
        raise bad(f"[techniques.{technique}] must be a table")
    _check_keys(spec, _TECHNIQUE_KEYS, f"{where} [techniques.{technique}]")
    options = {**defaults, **_cell_options(spec, bad, f"[techniques.{technique}] ", where_file)}
    if options.get(ACCELERATE_CONFIG) and int(options.get("gpus", 1)) < 2:
        raise bad(f"[techniques.{technique}] '{ACCELERATE_CONFIG}' launches several processes: set gpus > 1")
    settings = _technique_settings(technique, spec, options, known, bad)
    own = _Axes(
        models=[_model(m, bad) for m in spec["models"]] if "models" in spec else axes.models,
        tasks=[_str(t, "tasks", bad) for t in spec["tasks"]] if "tasks" in spec else axes.tasks,
        seeds=[_int(s, "seeds", bad) for s in spec["seeds"]] if "seeds" in spec else axes.seeds,
    )
    cells = []
    for model in own.models:
        for task in own.tasks:
            if known.tasks and task not in known.tasks and not Path(task).exists():
                raise bad(str(did_you_mean(task, sorted(known.tasks), "task")))
            for seed in own.seeds:
                cells.append(
                    Cell(
                        model=model.name,
                        task=task,
                        technique=technique,
                        seed=seed,
                        settings=dict(settings),
                        model_path=model.path,
                        time_limit_s=float(options.get("time_limit_s", DEFAULT_TIME_LIMIT_S)),
                        gpus=int(options.get("gpus", 1)),
                        batch_size=options.get("batch_size"),
                        accelerate_config=options.get(ACCELERATE_CONFIG),
                    )
                )
    return cells


def _technique_settings(
    technique: str, spec: dict[str, Any], options: dict[str, Any], known: _Known, bad
) -> dict[str, Any]:
    """A technique's settings, checked by the technique itself, with the cell's train/eval limits."""
    settings = spec.get("settings", {})
    if not isinstance(settings, dict):
        raise bad(f"[techniques.{technique}] settings must be a table")
    if technique in known.objects:  # a typo in a setting fails here, not after hours of other cells
        try:
            known.objects[technique].settings(
                {k: v for k, v in settings.items() if k not in ("train_limit", "eval_limit")}
            )
        except AdvisorError as exc:
            raise bad(f"[techniques.{technique}] {exc}") from None
    return {**{k: options[k] for k in ("train_limit", "eval_limit") if k in options}, **settings}


def _check_unique(cells: list[Cell], bad) -> None:
    seen: set[str] = set()
    for cell in cells:
        if cell.config_hash in seen:
            raise bad(f"the cell {cell.label} appears twice")
        seen.add(cell.config_hash)


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"2/3"`` -> ``(2, 3)``: the second of three shards (counted from 1)."""
    if text is None:
        return None
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise UsageError(f"--shard must look like I/N (e.g. 1/4), not {text!r}") from None
    if n < 1 or not 1 <= i <= n:
        raise UsageError(f"--shard {text}: I must be between 1 and N (shards count from 1)")
    return i, n


def shard(cells: list[Cell], which: tuple[int, int] | None) -> list[Cell]:
    """The cells of shard i of n: every n-th cell of the suite's order, from the i-th.

    Deterministic (the suite's order is the file's) and balanced across models, tasks and techniques.
    """
    if which is None:
        return list(cells)
    i, n = which
    return list(cells[i - 1 :: n])


def _check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise InputError(f"{where}: {did_you_mean(key, sorted(allowed), 'key')}")


def _list(data: dict[str, Any], key: str, bad, required: bool = False) -> list[Any]:
    value = data.get(key)
    if value is None:
        if required:
            raise bad(f"'{key}' is required (a non-empty list)")
        return []
    if not isinstance(value, list) or (required and not value):
        raise bad(f"'{key}' must be a non-empty list")
    return value


def _str(value: Any, key: str, bad) -> str:
    if not isinstance(value, str) or not value:
        raise bad(f"'{key}' entries must be non-empty strings, not {value!r}")
    return value


def _int(value: Any, key: str, bad) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise bad(f"'{key}' entries must be integers, not {value!r}")
    return value


def _model(value: Any, bad) -> Model:
    if isinstance(value, str) and value:
        return Model(name=value)
    if isinstance(value, dict) and isinstance(value.get("name"), str) and set(value) <= {"name", "path"}:
        path = value.get("path")
        return Model(name=value["name"], path=os.path.expandvars(str(path)) if path else None)
    raise bad(f"a model is a name or a table {{ name = ..., path = ... }}, not {value!r}")


def _cell_options(table: dict[str, Any], bad, where: str, suite_file: Path | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if ACCELERATE_CONFIG in table:
        options[ACCELERATE_CONFIG] = _accelerate_config(table[ACCELERATE_CONFIG], bad, where, suite_file)
    for key, types in _CELL_OPTIONS.items():
        if key not in table:
            continue
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, types) or value <= 0:
            raise bad(f"{where}'{key}' must be a positive number, not {value!r}")
        options[key] = value
    return options


def _accelerate_config(value: Any, bad, where: str, suite_file: Path | None) -> str:
    """The launcher config a suite names: $VARS expanded, relative to the suite file, and present."""
    if not isinstance(value, str) or not value:
        raise bad(
            f"{where}'{ACCELERATE_CONFIG}' must be the path of an accelerate config file, not {value!r}"
        )
    path = Path(os.path.expandvars(value)).expanduser()
    if not path.is_absolute() and suite_file is not None:
        path = suite_file.parent / path
    if not path.is_file():
        raise bad(f"{where}'{ACCELERATE_CONFIG}' file {str(path)!r} does not exist")
    return str(path.resolve())
