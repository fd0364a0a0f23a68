"""OpenCompass output folders (``opencompass ... -w outputs/x``: ``outputs/x/<timestamp>/``).

Layout, from OpenCompass's writers: ``predictions/<model>/<dataset>.json`` (``openicl/icl_inferencer/
icl_base_inferencer.py``: an object keyed ``"0"``, ``"1"``, ... in dataset order; a large dataset is split
into ``<dataset>_0.json``, ``<dataset>_1.json``, ... read in turn, as ``tasks/openicl_eval.py`` does). A
generation item holds ``origin_prompt`` (a string, or chat turns ``{"role", "prompt"}``), ``prediction``
and ``gold``; a perplexity item holds ``origin_prompt``, one ``"label: X"`` entry per option (``testing
input``, ``prompt``, ``PPL``), ``prediction`` (the label of lowest PPL) and ``gold``.

``results/<model>/<dataset>.json`` (``tasks/openicl_eval.py``, with ``--dump-eval-details``, the default)
holds the scores and ``details``, one per item, in the same order: the evaluator's ``pred`` (the answer
extracted from the prediction), ``answer`` and ``correct`` (or ``is_correct``/``cascade_correct``); in
current versions each detail carries ``example_abbr`` and lists its values, one per replica. When the
evaluator gave no details OpenCompass writes its own: ``{"type": "GEN"|"PPL", "0": {"predictions",
"references", "correct"}, ...}``.

Each item (each replica's, when a dataset is run n times) becomes a record: the extracted answer is the
output (``filter`` ``pred_postprocessor``) and the raw prediction is kept as ``extra["raw_output"]``; an
empty extraction (gsm8k's says ``NULL``) judges the raw prediction, like lm-eval's ``[invalid]``. A
perplexity item is a multiple-choice record: the options are the labels' continuations (what differs
between their prompts), the pick is the lowest PPL. Pass/fail is the detail's ``correct``; without
details, advisor judges the output against ``gold``. The model is ``extra["model"]``, the task the dataset.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from advisor import EvalRecord, InputError, ReadContext, hookimpl

_CORRECT_KEYS = ("correct", "is_correct", "cascade_correct")
_PRED_KEYS = ("pred", "predictions", "prediction")
_ANSWER_KEYS = ("answer", "answers", "references", "refr", "gold")
_PART_RE = re.compile(r"^(?P<base>.+)_(?P<n>\d+)$")


def _load(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON ({exc})") from None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(m, dict) for m in value):  # chat turns
        return "\n\n".join(str(m.get("prompt", m.get("content", ""))) for m in value)
    return orjson.dumps(value).decode() if isinstance(value, (dict, list)) else str(value)


def dataset_files(model_dir: Path) -> dict[str, list[Path]]:
    """Dataset name -> its prediction files (one, or the parts ``<name>_0.json``, ``<name>_1.json``, ...)."""
    names = {p.stem: p for p in model_dir.glob("*.json") if not p.name.startswith("tmp_")}
    out: dict[str, list[Path]] = {}
    for stem, path in sorted(names.items()):
        m = _PART_RE.match(stem)
        if m and m.group("base") not in names and f"{m.group('base')}_0" in names:
            if m.group("n") == "0":
                base, parts, i = m.group("base"), [], 0
                while f"{base}_{i}" in names:
                    parts.append(names[f"{base}_{i}"])
                    i += 1
                out[base] = parts
            continue
        out[stem] = [path]
    return out


def _details(results_path: Path) -> list[dict] | None:
    if not results_path.is_file():
        return None
    data = _load(results_path)
    details = data.get("details") if isinstance(data, dict) else None
    if isinstance(details, dict):
        details = [v for k, v in sorted(details.items(), key=lambda kv: _index(kv[0])) if k.isdigit()]
    if not isinstance(details, list):
        return None
    return [d if isinstance(d, dict) else {} for d in details]


def _index(key: str) -> int:
    return int(key) if key.isdigit() else -1


def _first(obj: dict, keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for key in keys:
        if key in obj:
            return key, obj[key]
    return None, None


def _replica(detail: dict, replica: int) -> dict:
    """A current-style detail (``example_abbr``, one value per replica) as the values of one replica."""
    if "example_abbr" not in detail:
        return detail
    out = {}
    for key, value in detail.items():
        if key != "example_abbr" and isinstance(value, list):
            out[key] = value[replica] if replica < len(value) else None
        else:
            out[key] = value
    return out


def _common_prefix(texts: list[str]) -> int:
    first = min(texts, key=len)
    n = next((i for i, ch in enumerate(first) if any(t[i] != ch for t in texts)), len(first))
    while n > 0 and not first[n - 1].isspace():  # back off to a word boundary
        n -= 1
    return n


def ppl_options(item: dict) -> tuple[list[str], list[str], list[float | None], str]:
    """(labels, option texts, PPLs, shared prompt) of a perplexity item."""
    labels, inputs, ppls = [], [], []
    for key, value in item.items():
        if key.startswith("label: ") and isinstance(value, dict):
            labels.append(key[len("label: ") :])
            inputs.append(str(value.get("testing input", value.get("prompt", ""))))
            ppl = value.get("PPL")
            ppls.append(float(ppl) if isinstance(ppl, (int, float)) else None)
    if len(inputs) < 2:
        return labels, labels, ppls, str(item.get("origin_prompt") or "")
    start = _common_prefix(inputs)
    tails = [t[start:] for t in inputs]
    end = _common_prefix([t[::-1] for t in tails])
    options = [t[: len(t) - end].strip() if end else t.strip() for t in tails]
    if not all(options) or len(set(options)) < len(options):
        options = labels
    return labels, options, ppls, inputs[0][:start]


def item_to_record(item: dict, detail: dict | None, source: str, line: int, ctx: dict) -> EvalRecord:
    """One prediction item (and its evaluation detail) as a record; ``ctx``: model, dataset, index."""
    detail = detail or {}
    prediction = item.get("prediction")
    if isinstance(prediction, list) and prediction and all(isinstance(p, str) for p in prediction):
        prediction = prediction[-1]  # multi-round chat: the last answer
    rec = EvalRecord(source=source, line=line, id=str(ctx["index"]), task=ctx["dataset"])
    rec.extra["model"] = ctx["model"]
    _, answer = _first(detail, _ANSWER_KEYS)
    gold = answer if answer is not None else item.get("gold")
    if any(k.startswith("label: ") for k in item):
        labels, options, ppls, prompt = ppl_options(item)
        rec.prompt = prompt or _text(item.get("origin_prompt"))
        rec.choices = options
        scores = [p for p in ppls if p is not None]
        if scores and len(scores) == len(ppls):
            rec.picked = min(range(len(scores)), key=scores.__getitem__)
        elif str(prediction) in labels:
            rec.picked = labels.index(str(prediction))
        rec.output = options[rec.picked] if rec.picked is not None else _text(prediction)
        gold_label = _text(gold[0] if isinstance(gold, list) and gold else gold)
        rec.reference = options[labels.index(gold_label)] if gold_label in labels else gold_label or None
        rec.output_type = "multiple_choice"
        rec.extra["ppl"] = dict(zip(labels, ppls, strict=True))
    else:
        rec.prompt = _text(item.get("origin_prompt"))
        raw = _text(prediction)
        _, extracted = _first(detail, _PRED_KEYS)
        extracted_text = _text(extracted) if extracted is not None else raw
        if extracted is not None:
            rec.filter = "pred_postprocessor"  # what OpenCompass calls the answer extraction
        if extracted is not None and extracted_text.strip() in ("", "NULL") and raw.strip():
            rec.output = raw  # the evaluator extracted nothing (gsm8k's says NULL): judge the raw prediction
            rec.extra["filter_invalid"] = True
        else:
            rec.output = extracted_text
            if raw.strip() != extracted_text.strip():
                rec.extra["raw_output"] = raw
        alternatives = [_text(a) for a in gold] if isinstance(gold, list) else None
        rec.reference = alternatives[0] if alternatives else (None if gold is None else _text(gold))
        if alternatives and len(alternatives) > 1:
            rec.extra["alternatives"] = alternatives
    _, correct = _first(detail, _CORRECT_KEYS)
    if isinstance(correct, (bool, int, float)):
        rec.passed = bool(correct)
    return rec


def _is_output_folder(path: Path) -> bool:
    return (path / "predictions").is_dir() and any((path / "predictions").glob("*/*.json"))


def output_folders(path: Path) -> list[Path]:
    """The output folders (``predictions/<model>/<dataset>.json``) at ``path`` or one level below it."""
    if not path.is_dir():
        return []
    if _is_output_folder(path):
        return [path]
    return sorted(p for p in path.iterdir() if p.is_dir() and _is_output_folder(p))


def _is_prediction_file(path: Path, head: bytes) -> bool:
    start = head[:4096]
    return (
        path.suffix.lower() == ".json"
        and path.parent.parent.name == "predictions"
        and start.lstrip().startswith(b"{")
        and b'"prediction"' in head
        and (b'"origin_prompt"' in head or b'"label: ' in head)
    )


class OpenCompassReader:
    name = "opencompass"
    priority = 90
    description = "OpenCompass output folder (predictions/<model>/<dataset>.json joined with results/)"

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.is_dir():
            return bool(output_folders(path))
        return _is_prediction_file(path, head)

    def read(self, path: Path, ctx: ReadContext) -> Iterator[EvalRecord]:
        if path.is_file():  # one predictions file: its dataset (all of its parts, if it is split)
            root, model = path.parent.parent.parent, path.parent.name
            dataset, files = next(
                ((d, f) for d, f in dataset_files(path.parent).items() if path in f), (path.stem, [path])
            )
            found = False
            for rec in self._read_dataset(root, model, dataset, files, ctx):
                found = True
                yield rec
            if not found:
                raise InputError(f'{path} holds no OpenCompass predictions (items keyed "0", "1", ...)')
            return
        folders = output_folders(path)
        if not folders:
            raise InputError(f"{path} is not an OpenCompass output folder (no predictions/ folder)")
        found = False
        for folder in folders:
            for model_dir in sorted(p for p in (folder / "predictions").iterdir() if p.is_dir()):
                for dataset, files in dataset_files(model_dir).items():
                    found = True
                    yield from self._read_dataset(folder, model_dir.name, dataset, files, ctx)
        if not found:
            raise InputError(f"{path} holds no predictions (predictions/<model>/<dataset>.json)")

    def _read_dataset(
        self, root: Path, model: str, dataset: str, files: list[Path], ctx: ReadContext
    ) -> Iterator[EvalRecord]:
        details = _details(root / "results" / model / f"{dataset}.json")
        items: list[tuple[Path, str, Any]] = []
        for file in files:
            data = _load(file)
            if not isinstance(data, dict):
                raise InputError(f"{file} is not an OpenCompass predictions file (not an object)")
            keys = sorted((k for k in data if k.isdigit()), key=int)
            items += [(file, k, data[k]) for k in keys]
        details = details or []
        size = len(details)
        for index, (file, key, item) in enumerate(items):
            if not isinstance(item, dict):
                ctx.skip(str(file), int(key) + 1, f"item {key} is not an object")
                continue
            detail = None
            if size and len(items) % size == 0:  # n replicas of the dataset, one after the other
                detail = _replica(details[index % size], index // size)
            info = {"model": model, "dataset": dataset, "index": index}
            yield item_to_record(item, detail, str(file), int(key) + 1, info)


@hookimpl
def advisor_register_log_readers(register):
    register(OpenCompassReader())
