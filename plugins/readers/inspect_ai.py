"""Inspect AI logs: the default ``.eval`` zip and the ``.json`` log.

Layout, from Inspect's own recorders: a ``.eval`` file is a zip holding the eval spec (``header.json``,
or ``start.json`` / ``_journal/start.json`` in older and running logs: ``eval.task``, ``eval.model``,
``eval.scorers``) and one ``samples/<id>_epoch_<n>.json`` per sample; a ``.json`` log holds the same with
a top-level ``samples`` list.

Each sample becomes a record: ``input`` (a string or chat messages) is the prompt, with the options of a
multiple-choice sample (``choices``) appended as ``A) ...`` lines; the output is ``output.completion``,
else the text of ``output.choices[0].message.content``; ``target`` (a string or a list of alternatives) is
the reference. Pass/fail is the first scorer's ``value`` as Inspect scores it: ``C`` correct, ``I`` and
``N`` (no answer) incorrect, ``P`` partial (0.5, judged against ``--pass-threshold``), a boolean, or a
number (judged against ``--pass-threshold``). A sample with an ``error`` was not scored: it is unjudged.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from advisor import EvalRecord, InputError, ReadContext, hookimpl

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VALUE = {"C": 1.0, "I": 0.0, "N": 0.0, "P": 0.5}


def _text(content: Any) -> str:
    """A message's content: a string, or the text of its content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(block.get("text", ""))
            for block in content
            if isinstance(block, dict) and block.get("type") == "text"
        )
    return ""


def _prompt(sample: dict) -> str:
    raw = sample.get("input")
    if isinstance(raw, list):
        prompt = "\n\n".join(
            _text(m.get("content"))
            for m in raw
            if isinstance(m, dict) and m.get("role") in ("system", "user")
        )
    else:
        prompt = str(raw or "")
    choices = sample.get("choices")
    if isinstance(choices, list) and choices:
        prompt += "\n\n" + "\n".join(f"{_LETTERS[i]}) {c}" for i, c in enumerate(choices[:26]))
    return prompt


def _output(sample: dict) -> str:
    out = sample.get("output") or {}
    if isinstance(out.get("completion"), str) and out["completion"]:
        return out["completion"]
    choices = out.get("choices") or []
    if choices and isinstance(choices[0], dict):
        return _text((choices[0].get("message") or {}).get("content"))
    return ""


def _reference(target: Any) -> str | None:
    if isinstance(target, list):
        return " | ".join(str(t) for t in target) if len(target) > 1 else (str(target[0]) if target else None)
    return None if target is None else str(target)


def _score(sample: dict, scorers: list[str]) -> tuple[str | None, Any]:
    scores = sample.get("scores") or {}
    if not isinstance(scores, dict) or not scores:
        return None, None
    name = next((s for s in scorers if s in scores), next(iter(scores)))
    score = scores[name]
    return name, score.get("value") if isinstance(score, dict) else score


def sample_to_record(sample: dict, spec: dict, scorers: list[str], source: str, line: int) -> EvalRecord:
    name, value = _score(sample, scorers)
    passed: bool | None = None
    metrics: dict[str, float] = {}
    if sample.get("error"):
        value = None  # an errored sample was not scored
    if isinstance(value, bool):
        passed = value
    elif isinstance(value, str) and value.upper() in _VALUE:
        metrics[name or "score"] = _VALUE[value.upper()]
        if value.upper() != "P":
            passed = value.upper() == "C"
    elif isinstance(value, (int, float)):
        metrics[name or "score"] = float(value)
    sample_id = sample.get("id")
    epoch = sample.get("epoch", 1)
    rec = EvalRecord(
        source=source,
        line=line,
        prompt=_prompt(sample),
        output=_output(sample),
        reference=_reference(sample.get("target")),
        id=f"{sample_id}" if epoch in (None, 1) else f"{sample_id}#{epoch}",
        task=spec.get("task"),
        passed=passed,
        metrics=metrics,
        metric_higher_is_better={k: True for k in metrics},
    )
    rec.extra["model"] = spec.get("model")
    if sample.get("error"):
        rec.extra["not_judged"] = True
    score = (sample.get("scores") or {}).get(name) if name else None
    if isinstance(score, dict) and score.get("answer") is not None:
        rec.extra["extracted_answer"] = score["answer"]
    return rec


def _scorers(spec: dict) -> list[str]:
    out = []
    for scorer in spec.get("scorers") or []:
        if isinstance(scorer, dict) and scorer.get("name"):
            out.append(str(scorer["name"]).split("/")[-1])
    return out


class InspectReader:
    name = "inspect"
    priority = 60
    description = "Inspect AI logs (.eval zip, or .json with a samples list)"

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.is_dir():
            return False
        suffix = path.suffix.lower()
        if suffix == ".eval":
            return head.startswith(b"PK")
        if suffix == ".json":
            text = head[:8192]
            return (
                b'"eval"' in text
                and (b'"task"' in text or b'"samples"' in head)
                and b'"results"' not in text[:40]
            )
        return False

    def read(self, path: Path, ctx: ReadContext) -> Iterator[EvalRecord]:
        if path.suffix.lower() == ".eval":
            yield from self._read_zip(path, ctx)
        else:
            yield from self._read_json(path, ctx)

    def _read_json(self, path: Path, ctx: ReadContext) -> Iterator[EvalRecord]:
        try:
            data = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise InputError(f"{path} is not valid JSON ({exc})") from None
        if not isinstance(data, dict) or not isinstance(data.get("eval"), dict):
            raise InputError(f"{path} is JSON but not an Inspect AI log (no eval spec)")
        samples = data.get("samples")
        if not samples:
            raise InputError(f"{path} is an Inspect AI log without samples (written with --no-log-samples?)")
        spec = data["eval"]
        source = str(path)
        for index, sample in enumerate(samples, 1):
            if isinstance(sample, dict):
                yield sample_to_record(sample, spec, _scorers(spec), source, index)
            else:
                ctx.skip(source, index, "sample is not an object")

    def _read_zip(self, path: Path, ctx: ReadContext) -> Iterator[EvalRecord]:
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            raise InputError(f"{path} is not a valid .eval file (not a zip archive)") from None
        with archive:
            names = archive.namelist()
            spec = self._spec(archive, names, path)
            samples = sorted(
                (n for n in names if n.startswith("samples/") and n.endswith(".json")), key=_sample_order
            )
            if not samples:
                raise InputError(f"{path} holds no samples (the run logged none, or was cut off)")
            source = str(path)
            for index, name in enumerate(samples, 1):
                try:
                    sample = orjson.loads(archive.read(name))
                except (orjson.JSONDecodeError, KeyError, zipfile.BadZipFile):
                    ctx.skip(source, index, f"{name} is not valid JSON")
                    continue
                yield sample_to_record(sample, spec, _scorers(spec), source, index)

    @staticmethod
    def _spec(archive: zipfile.ZipFile, names: list[str], path: Path) -> dict:
        for candidate in ("header.json", "start.json", "_journal/start.json"):
            if candidate in names:
                try:
                    data = orjson.loads(archive.read(candidate))
                except orjson.JSONDecodeError:
                    continue
                if isinstance(data, dict) and isinstance(data.get("eval"), dict):
                    return data["eval"]
        raise InputError(f"{path} is a zip without an Inspect AI eval header (header.json or start.json)")


def _sample_order(name: str) -> tuple:
    stem = name.rsplit("/", 1)[-1].removesuffix(".json")
    sample_id, _, epoch = stem.rpartition("_epoch_")
    key: Any = int(sample_id) if sample_id.isdigit() else sample_id
    return (0, key, int(epoch or 0)) if isinstance(key, int) else (1, str(key), int(epoch or 0))


@hookimpl
def advisor_register_log_readers(register):
    register(InspectReader())
