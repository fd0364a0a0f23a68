"""Tasks from what the user has: a registered name, a task folder, an lm-eval task YAML, a JSONL or CSV
dataset, or an eval log that ``advisor diagnose`` reads.

Datasets and logs become a generated task folder (the same shape as the bundled tasks: ``task.yaml.in``,
``train.jsonl``, ``test.jsonl``, ``utils.py``) under ``$ADVISOR_CACHE/tasks/``, named after the source and a
hash of its content and split options, so that every cell process (and ``--resume``) finds the same folder.

* The split is by document (the lm-eval document, else the prompt): a document is never on both sides.
  It is seeded and stratified by task and by the log's pass/fail, so both halves keep the log's mix.
* Scoring is :mod:`advisor.train.scoring` (``--metric``). Without one: for a log, the metric that best
  reproduces the log's own pass/fail; for a dataset, json / number / exact from its references.
* A log's prompts were the evaluation set: using them for training is said in a note, and only the test
  half is ever scored.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from advisor.diagnosis.fields import OUTPUT_KEYS, PROMPT_KEYS, REFERENCE_KEYS
from advisor.errors import InputError, UsageError, did_you_mean
from advisor.train import scoring
from advisor.train.tasks import TEMPLATE

#: written beside a generated task's YAML: where it came from, its corpus, metric and split
META = "advisor-task.json"
DATA_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".gz")
MIN_TEST = 1


@dataclass(frozen=True)
class UserTask:
    """A task that is not registered by a plugin (it has the ``advisor.Task`` members)."""

    name: str
    description: str
    failure_class: str
    path: Path
    corpus: Path | None = None
    #: an lm-eval YAML used as it is (its folder is the include path); None for task folders
    yaml_file: Path | None = None
    metric: str | None = None
    train_size: int | None = None
    test_size: int | None = None
    #: things the user must know (training on the evaluation set, the metric chosen and why)
    notes: tuple[str, ...] = ()


@dataclass
class Example:
    key: str  # the document: never on both sides of the split
    prompt: str
    reference: str
    alternatives: list[str] = field(default_factory=list)
    output: str | None = None
    passed: bool | None = None
    stratum: str = ""


@dataclass
class TaskOptions:
    """How to turn data into a task (``--train``, ``--test``, ``--test-fraction``, ``--metric``...)."""

    train: Path | None = None
    test: Path | None = None
    test_fraction: float = 0.3
    metric: str | None = None
    corpus: Path | None = None
    seed: int = 0
    failure_class: str | None = None
    fmt: str | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.test_fraction < 1.0:
            raise UsageError(f"--test-fraction must be between 0 and 1, got {self.test_fraction}")
        if self.metric is not None:
            scoring.check_metric(self.metric)
        if self.corpus is not None and not Path(self.corpus).is_dir():
            raise UsageError(f"--corpus {str(self.corpus)!r} is not a folder")


def resolve_task(spec: str | None, registry: Any = None, options: TaskOptions | None = None) -> Any:
    """The task ``spec`` names: registered name, task folder, lm-eval YAML, dataset or eval log.

    With ``options.train``/``options.test`` the data comes from those files (``spec``, when given, is the
    training file if ``--train`` is not).
    """
    options = options or TaskOptions()
    if options.train is not None or options.test is not None:
        train = options.train or (Path(spec) if spec else None)
        if train is None or options.test is None:
            raise UsageError("explicit splits need both --train FILE and --test FILE")
        return _data_task(train, options, test=options.test)
    if not spec:
        raise UsageError("give a task: --task NAME|FOLDER|YAML|DATA, or --train FILE --test FILE")
    if registry is None:
        from advisor.plugins import get_registry

        registry = get_registry()
    tasks = registry.tasks
    if spec in tasks:
        task = tasks[spec]
        return replace(task, corpus=options.corpus) if options.corpus and _is_dataclass(task) else task
    generated = _generated(spec)
    if generated is not None:  # a task generated earlier, by name (how `advisor try` names its cells' task)
        return folder_task(generated, options)
    path = Path(spec).expanduser()
    if path.is_dir() and (path / TEMPLATE).is_file():
        return folder_task(path, options)
    if path.is_file() and path.suffix.lower() in (".yaml", ".yml"):
        return yaml_task(path, options)
    if path.exists() or spec == "-":
        return _data_task(path, options)
    if "/" in spec or "." in spec:
        raise InputError(f"task {spec!r}: no such file or folder")
    unknown = did_you_mean(spec, list(tasks), "task")
    raise UsageError(f"{unknown}; or give a task folder, an lm-eval YAML, a JSONL/CSV dataset or an eval log")


def _generated(spec: str) -> Path | None:
    from advisor.train.models import cache_dir

    if not re.fullmatch(r"user_[a-z0-9_]+_[0-9a-f]{8}", spec):
        return None
    folder = cache_dir() / "tasks" / spec
    return folder if (folder / TEMPLATE).is_file() else None


def _is_dataclass(obj: Any) -> bool:
    return hasattr(obj, "__dataclass_fields__")


def folder_task(path: Path, options: TaskOptions | None = None) -> UserTask:
    """A folder holding ``task.yaml.in`` (a bundled-style or generated task)."""
    path = path.resolve()
    meta: dict[str, Any] = {}
    if (path / META).is_file():
        try:
            meta = json.loads((path / META).read_text(encoding="utf-8"))
        except ValueError:
            meta = {}
    corpus = options.corpus if options and options.corpus else meta.get("corpus")
    if corpus is None and (path / "corpus").is_dir():
        corpus = path / "corpus"
    return UserTask(
        name=path.name,
        description=str(meta.get("description", f"task folder {path}")),
        failure_class=str((options and options.failure_class) or meta.get("failure_class") or "unknown"),
        path=path,
        corpus=Path(corpus).resolve() if corpus else None,
        metric=meta.get("metric"),
        train_size=meta.get("train_size"),
        test_size=meta.get("test_size"),
        notes=tuple(meta.get("notes", ())),
    )


_TASK_KEY = re.compile(r"^task:\s*['\"]?([^'\"\s#]+)", re.MULTILINE)


def yaml_task(path: Path, options: TaskOptions | None = None) -> UserTask:
    """An lm-eval task YAML, used as it is: lm-eval's own data, filters and metrics.

    Relative ``data_files`` resolve against the working directory (lm-eval's rule), and the YAML's
    folder is the include path, so its ``!function utils.x`` helpers are found.
    """
    path = path.resolve()
    match = _TASK_KEY.search(path.read_text(encoding="utf-8", errors="replace"))
    if not match:
        raise InputError(f"{path} has no 'task: NAME' line (a group or include-only YAML cannot be run)")
    if options and options.metric:
        raise UsageError("--metric does not apply to a task YAML: lm-eval scores it with its own metrics")
    return UserTask(
        name=match.group(1),
        description=f"lm-eval task YAML {path}",
        failure_class=(options and options.failure_class) or "unknown",
        path=path.parent,
        corpus=Path(options.corpus).resolve() if options and options.corpus else None,
        yaml_file=path,
    )


# -- datasets and logs ------------------------------------------------------------------------------


def read_examples(path: Path, fmt: str | None = None, registry: Any = None) -> tuple[list[Example], bool]:
    """The (prompt, reference) examples of a dataset or log, and whether it was an eval log.

    A JSONL or CSV file without an output field is a dataset; anything else is read by the log readers
    of ``advisor diagnose`` (lm-eval folders, promptfoo, Inspect AI...).
    """
    if fmt is None and path.is_file() and path.suffix.lower() in (".jsonl", ".ndjson", ".csv", ".tsv"):
        rows = _raw_rows(path)
        if rows and not any(_pick(r, OUTPUT_KEYS) is not None for r in rows[:50]):
            return _dataset_examples(path, rows), False
    return _log_examples(path, fmt, registry), True


def _raw_rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix.lower() in (".csv", ".tsv"):
        csv.field_size_limit(sys.maxsize)
        with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
            sample = fh.read(8192)
            fh.seek(0)
            dialect: Any = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
            if path.suffix.lower() == ".csv":
                try:
                    dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
                except csv.Error:
                    dialect = "excel"
            return [
                {str(k).strip().lower(): v for k, v in row.items() if k}
                for row in csv.DictReader(fh, dialect=dialect)
            ]
    from advisor.diagnosis.readers import ReadContext, iter_json_lines

    return [{str(k).lower(): v for k, v in obj.items()} for _, obj in iter_json_lines(path, ReadContext())]


def _pick(row: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in row and row[key] not in (None, ""):
            return row[key]
    return None


def _dataset_examples(path: Path, rows: list[dict[str, Any]]) -> list[Example]:
    examples = []
    for i, row in enumerate(rows):
        prompt, reference = _pick(row, PROMPT_KEYS), _pick(row, REFERENCE_KEYS)
        if prompt is None:
            raise InputError(
                f"{path}: record {i + 1} has no prompt field (one of {', '.join(PROMPT_KEYS)}); "
                f"its fields are: {', '.join(row) or 'none'}"
            )
        if reference is None:
            raise InputError(
                f"{path}: record {i + 1} has no reference field (one of {', '.join(REFERENCE_KEYS)}); "
                f"its fields are: {', '.join(row) or 'none'}"
            )
        ref, alternatives = _reference(reference)
        key = str(row.get("id") or row.get("doc_id") or _text(prompt))
        examples.append(Example(key, _text(prompt), ref, alternatives, stratum=str(row.get("task") or "")))
    return examples


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):  # chat messages
        return "\n\n".join(str(m.get("content", "")) for m in value if m.get("role") != "assistant")
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)


def _reference(value: Any) -> tuple[str, list[str]]:
    if isinstance(value, list) and value and all(isinstance(v, (str, int, float)) for v in value):
        return str(value[0]), [str(v) for v in value[1:]]
    return _text(value), []


def _log_examples(path: Path, fmt: str | None, registry: Any) -> list[Example]:
    from advisor.diagnosis.readers import open_log

    if registry is None:
        from advisor.plugins import get_registry

        registry = get_registry()
    _, records, _ = open_log(path, registry.readers, fmt)
    examples: dict[str, Example] = {}
    for rec in records:
        if rec.reference is None or not str(rec.reference).strip() or not rec.prompt:
            continue
        if rec.doc_id is not None:
            key = f"{rec.task or ''}:{rec.doc_id}"
        else:
            key = f"{rec.task or ''}:{rec.prompt}"
        if key in examples:  # lm-eval writes a document once per filter: keep the first
            continue
        alternatives = [str(a) for a in (rec.extra.get("alternatives") or []) if str(a) != rec.reference]
        stratum = f"{rec.task or ''}:{'pass' if rec.passed else 'fail' if rec.passed is False else '?'}"
        examples[key] = Example(
            key, rec.prompt, str(rec.reference), alternatives, rec.output, rec.passed, stratum
        )
    if not examples:
        raise InputError(f"{path} has no records with both a prompt and a reference to learn from")
    return list(examples.values())


def split(examples: list[Example], test_fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """A seeded split by document, stratified by ``Example.stratum``; never a document on both sides."""
    groups: dict[str, list[Example]] = {}
    for ex in examples:
        groups.setdefault(ex.key, []).append(ex)
    strata: dict[str, list[str]] = {}
    for key, members in groups.items():
        strata.setdefault(members[0].stratum, []).append(key)
    rng = random.Random(seed)
    test_keys: set[str] = set()
    for stratum in sorted(strata):
        keys = sorted(strata[stratum])
        rng.shuffle(keys)
        test_keys.update(keys[: round(len(keys) * test_fraction)])
    if not test_keys and len(groups) >= 2:  # tiny strata can all round down: take one document
        test_keys.add(sorted(groups)[rng.randrange(len(groups))])
    train = [ex for key in groups if key not in test_keys for ex in groups[key]]
    test = [ex for key in groups if key in test_keys for ex in groups[key]]
    if len(test) < MIN_TEST:
        raise UsageError(
            f"the test split would be empty ({len(groups)} document(s), --test-fraction {test_fraction}): "
            "give more data, a larger --test-fraction, or --train FILE --test FILE"
        )
    if not train:
        raise UsageError(
            f"the training split would be empty ({len(groups)} document(s), --test-fraction {test_fraction})"
        )
    return train, test


def _data_task(path: Path, options: TaskOptions, test: Path | None = None) -> UserTask:
    if str(path) == "-":
        raise UsageError("a task cannot be read from standard input: give a file")
    for p in (path, test):
        if p is not None and not Path(p).exists():
            raise InputError(f"{p}: no such file or folder")
    examples, is_log = read_examples(Path(path), options.fmt)
    notes: list[str] = []
    if test is not None:
        test_examples, _ = read_examples(Path(test), options.fmt)
        test_keys = {e.key for e in test_examples}
        train_examples = [e for e in examples if e.key not in test_keys]
        if len(train_examples) < len(examples):
            notes.append(
                f"{len(examples) - len(train_examples)} training record(s) also in --test were left out"
            )
        if not train_examples:
            raise UsageError("every --train record is also in --test: the training split would be empty")
        if not test_examples:
            raise UsageError(f"{test} has no records: the test split would be empty")
        split_text = f"--train {path} --test {test}"
    else:
        train_examples, test_examples = split(examples, options.test_fraction, options.seed)
        split_text = f"test fraction {options.test_fraction}, seed {options.seed}"
        if is_log:
            notes.append(
                f"the evaluation set of {path} is being used for training: {len(train_examples)} of its "
                f"documents train, the other {len(test_examples)} are the test set that is reported"
            )
    metric = options.metric
    if metric is None:
        judged = [
            (e.output or "", e.reference, e.alternatives, bool(e.passed))
            for e in examples
            if e.output is not None and e.passed is not None
        ]
        if judged:
            metric, agreement = scoring.metric_from_log(judged)
            notes.append(
                f"metric {metric}: it reproduces {agreement:.0%} of the log's own pass/fail verdicts "
                "(choose another with --metric)"
            )
        else:
            metric = scoring.guess_metric([e.reference for e in examples])
            notes.append(f"metric {metric}, from the references (choose another with --metric)")
    return write_task(
        Path(path),
        train_examples,
        test_examples,
        metric,
        options,
        notes=notes,
        description=f"{'eval log' if is_log else 'dataset'} {path} ({split_text})",
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40] or "data"


def write_task(
    source: Path,
    train: list[Example],
    test: list[Example],
    metric: str,
    options: TaskOptions,
    *,
    notes: Iterable[str] = (),
    description: str = "",
) -> UserTask:
    """Write (or find, when it is already there) the generated task folder and return its task."""
    from advisor.train.models import cache_dir

    train_rows = [_row(e) for e in train]
    test_rows = [_row(e) for e in test]
    digest = hashlib.sha256(
        json.dumps([train_rows, test_rows, metric, options.failure_class], sort_keys=True).encode()
    ).hexdigest()[:8]
    stem = source.name.split(".")[0] if source.name else "data"
    name = f"user_{_slug(stem)}_{digest}"
    folder = cache_dir() / "tasks" / name
    meta = {
        "name": name,
        "description": description,
        "failure_class": options.failure_class or "unknown",
        "source": str(source.resolve()) if str(source) != "-" else "-",
        "metric": metric,
        "train_size": len(train_rows),
        "test_size": len(test_rows),
        "corpus": str(Path(options.corpus).resolve()) if options.corpus else None,
        "notes": list(notes),
    }
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "train.jsonl": "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in train_rows),
        "test.jsonl": "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in test_rows),
        TEMPLATE: _yaml(name, train + test),
        "utils.py": _UTILS.format(metric=json.dumps(metric)),
        META: json.dumps(meta, indent=2) + "\n",
    }
    for filename, text in files.items():
        target = folder / filename
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            tmp = target.with_suffix(target.suffix + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(target)  # atomic: a cell starting meanwhile never sees half a file
    return folder_task(folder, options)


def _row(e: Example) -> dict[str, str]:
    return {"doc": e.key, "input": e.prompt, "target": e.reference, "alts": json.dumps(e.alternatives)}


def _yaml(name: str, examples: list[Example]) -> str:
    longest = max((len(e.reference) for e in examples), default=16)
    max_tokens = max(32, min(256, int(longest / 3 * 1.5) + 16))
    one_line = all("\n" not in e.reference for e in examples)
    until = ["\n\n"] if one_line else ["\n\n\n"]
    return (
        "# Generated by advisor from user data; advisor fills in the absolute data paths.\n"
        f"task: {name}\n"
        "dataset_path: json\n"
        "dataset_name: null\n"
        "dataset_kwargs:\n"
        "  data_files:\n"
        "    train: @TRAIN_FILE@\n"
        "    test: @TEST_FILE@\n"
        "training_split: train\n"
        "fewshot_split: train\n"
        "test_split: test\n"
        "output_type: generate_until\n"
        'doc_to_text: "{{input}}"\n'
        'doc_to_target: "{{target}}"\n'
        "process_results: !function utils.process_results\n"
        "metric_list:\n"
        "  - metric: score\n"
        "    aggregation: mean\n"
        "    higher_is_better: true\n"
        "generation_kwargs:\n"
        f"  until: {json.dumps(until)}\n"
        f"  max_gen_toks: {max_tokens}\n"
        "  do_sample: false\n"
        "num_fewshot: 0\n"
        "metadata:\n"
        "  version: 1.0\n"
    )


_UTILS = '''"""Scoring of a task generated by advisor from user data (see advisor.train.scoring)."""

import json

from advisor.train.scoring import score

METRIC = {metric}


def process_results(doc, results):
    return {{"score": score(METRIC, results[0], doc["target"], json.loads(doc.get("alts") or "[]"))}}
'''
