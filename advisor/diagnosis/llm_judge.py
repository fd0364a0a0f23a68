"""An optional LLM judge for the failures the detectors are unsure of (``advisor diagnose --judge``).

Never needed, never called without the flag. It sees only failed records whose verdict is a close
call (``confidence: low``), asks a model to classify each with a rubric made from the taxonomy's
definitions, and replaces the detectors' verdict with its own; the report keeps both, so the places
where judge and detectors disagree are visible (``judge`` in ``--json``).

Two backends, one interface (``complete(prompts) -> list[str]``):

* a local model: a Hugging Face folder, a ``.gguf`` file or ``smollm2`` (the embedded SmolLM2),
  loaded with transformers; it scores the three class names after the rubric and picks the likeliest
  (small models do not follow an answer format reliably);
* an OpenAI-compatible server: ``--judge http://host:port/v1`` (llama.cpp, vLLM, Ollama, OpenAI),
  ``--judge-model`` names the model, ``--judge-key-env NAME`` the environment variable holding the
  API key. Requests run a few at a time.

Answers are cached per record (a hash of the judge, the prompt, the output and the reference) in
``${ADVISOR_CACHE:-~/.cache/ft-advisor}/judge.jsonl``, so a re-run costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor import text as T
from advisor.diagnosis.records import Diagnosis, FailureClass
from advisor.errors import InputError, UsageError

RUBRIC = """You classify why an LLM's answer failed an evaluation. Choose exactly one class:
- behaviour: the answer does not do what was asked: refusal, repetition, empty, off-topic, answering a
  different question, wrong language, tone, persona or length, asking a question back, ignoring a
  constraint, or contradicting or ignoring what the prompt itself gives (a policy, a passage, a schema,
  numbers to compute with).
- factual: the answer is on-task and well-formed, but knowledge the prompt does not give is wrong,
  outdated, invented or unknown.
- format: the right content in the wrong form (invalid or fenced JSON, wrong keys, extra prose around
  the answer, a number or date written in another form).
When several hold: behaviour over factual over format.

PROMPT:
{prompt}

ANSWER:
{output}

EXPECTED:
{reference}

Reply with one line: the class, a colon, and a one-sentence reason. Example: factual: the capital named
is wrong and the prompt does not give it."""

_CLASS_RE = re.compile(r"\b(behaviour|behavior|factual|format)\b", re.I)


@dataclass(frozen=True)
class JudgeVerdict:
    verdict: str
    reason: str


def parse_answer(text: str) -> JudgeVerdict | None:
    """The first class word of the judge's reply, and the rest of its line as the reason."""
    m = _CLASS_RE.search(text or "")
    if m is None:
        return None
    verdict = m.group(1).lower().replace("behavior", "behaviour")
    reason = text[m.end() :].strip().lstrip(":-– ").splitlines()
    return JudgeVerdict(verdict, T.clip(reason[0] if reason else "", 200))


def prompt_for(d: Diagnosis) -> str:
    r = d.record
    return RUBRIC.format(
        prompt=T.clip(r.prompt, 1500) if len(r.prompt) > 1500 else r.prompt,
        output=r.output[:1000],
        reference=(r.reference or "(none)")[:500],
    )


class LocalBackend:
    """A local causal LM that picks the class it finds most likely after the rubric.

    Small local models do not follow a rubric's answer format reliably, so the three class names are
    scored instead of generated (as lm-eval scores multiple choice): the reply is the class with the
    highest log-likelihood, and its probability among the three.
    """

    CLASSES = ("behaviour", "factual", "format")

    def __init__(self, name: str, batch_size: int = 8, max_new_tokens: int = 40) -> None:
        from advisor.train.models import load_model

        self.name = name
        self.model, self.tokenizer = load_model(name, "float32")
        self.tokenizer.padding_side = "right"
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens

    def _context(self, prompt: str) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
            )
        return prompt + "\n"

    def _scores(self, context: str) -> list[float]:
        """Sum of the log-probabilities of each class name's tokens after ``context``."""
        import torch

        ctx_ids = self.tokenizer(context, add_special_tokens=False)["input_ids"][-1400:]
        scores = []
        for cls in self.CLASSES:
            cont = self.tokenizer(cls, add_special_tokens=False)["input_ids"]
            ids = torch.tensor([ctx_ids + cont])
            with torch.no_grad():
                logits = self.model(ids).logits[0, len(ctx_ids) - 1 : -1]
            logp = torch.log_softmax(logits.float(), dim=-1)
            scores.append(float(logp[torch.arange(len(cont)), torch.tensor(cont)].sum()))
        return scores

    def complete(self, prompts: list[str]) -> list[str]:
        import math

        out = []
        for prompt in prompts:
            scores = self._scores(self._context(prompt))
            top = max(range(3), key=scores.__getitem__)
            total = sum(math.exp(x - scores[top]) for x in scores)
            share = 1 / total
            out.append(
                f"{self.CLASSES[top]}: the class the model scores most likely (p={share:.2f} of three)"
            )
        return out


class OpenAIBackend:
    """An OpenAI-compatible chat completions endpoint."""

    def __init__(self, base_url: str, model: str | None, key_env: str | None, concurrency: int = 4) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = os.environ.get(key_env) if key_env else None
        if key_env and not self.key:
            raise UsageError(f"--judge-key-env {key_env}: the environment variable is not set")
        self.model = model or self._first_model()
        self.name = f"{self.base_url}#{self.model}"
        self.concurrency = concurrency

    def _request(self, path: str, body: dict | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return json.loads(resp.read())
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as e:
            raise InputError(f"judge server {self.base_url}: {e}") from None

    def _first_model(self) -> str:
        models = self._request("/models").get("data") or []
        if not models:
            raise InputError(f"judge server {self.base_url} lists no models; pass --judge-model")
        return str(models[0]["id"])

    def _one(self, prompt: str) -> str:
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0,
            "max_tokens": 60,
        }
        reply = self._request("/chat/completions", body)
        try:
            return str(reply["choices"][0]["message"]["content"])
        except (KeyError, IndexError, TypeError):
            raise InputError(f"judge server {self.base_url}: unexpected reply {str(reply)[:200]}") from None

    def complete(self, prompts: list[str]) -> list[str]:
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(self._one, prompts))


def backend_for(spec: str, model: str | None = None, key_env: str | None = None) -> Any:
    if spec.startswith(("http://", "https://")):
        return OpenAIBackend(spec, model, key_env)
    return LocalBackend(spec)


class Cache:
    """Judge answers by record hash, one JSON object per line, appended as they come."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, dict] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    obj = json.loads(line)
                    self.data[obj["key"]] = obj
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue

    @staticmethod
    def key(judge: str, d: Diagnosis) -> str:
        r = d.record
        raw = "\x1f".join((judge, r.prompt, r.output, r.reference or ""))
        return hashlib.sha256(raw.encode()).hexdigest()

    def get(self, key: str) -> JudgeVerdict | None:
        obj = self.data.get(key)
        return JudgeVerdict(obj["verdict"], obj["reason"]) if obj else None

    def put(self, key: str, verdict: JudgeVerdict) -> None:
        obj = {"key": key, "verdict": verdict.verdict, "reason": verdict.reason}
        self.data[key] = obj
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(obj) + "\n")


def default_cache() -> Cache:
    from advisor.train.models import cache_dir

    return Cache(cache_dir() / "judge.jsonl")


def needs_judge(d: Diagnosis) -> bool:
    return d.verdict is not FailureClass.NONE and d.confidence == "low"


def apply(d: Diagnosis, found: JudgeVerdict) -> None:
    """The judge's verdict in place of the detectors' (the detectors' stays in ``d.judge``)."""
    d.judge = {
        "verdict": found.verdict,
        "reason": found.reason,
        "detectors": d.verdict.value,
        "agrees": found.verdict == d.verdict.value,
    }
    if found.verdict != d.verdict.value:
        d.evidence.insert(0, f"judge: {found.verdict}: {found.reason} (detectors said {d.verdict.value})")
        d.verdict = FailureClass(found.verdict)
        d.subtype = "judge"


@dataclass
class JudgeRun:
    """What one ``--judge`` pass did, for the report."""

    judge: str
    asked: int = 0
    cached: int = 0
    unparsed: int = 0
    disagreed: int = 0


def judge_all(
    diagnoses: list[Diagnosis], backend: Any, cache: Cache, batch: int = 16, progress: Any = None
) -> JudgeRun:
    """Judge every diagnosis in ``diagnoses`` (the caller picks them with ``needs_judge``), in place.

    Cached answers are reused; the rest go to ``backend`` ``batch`` at a time; ``progress(n)`` is
    called after each batch with the number done.
    """
    run = JudgeRun(backend.name)
    keyed = [(d, cache.key(backend.name, d)) for d in diagnoses]
    fresh = [(d, k) for d, k in keyed if cache.get(k) is None]
    run.cached = len(keyed) - len(fresh)
    for i in range(0, len(fresh), batch):
        chunk = fresh[i : i + batch]
        answers = backend.complete([prompt_for(d) for d, _ in chunk])
        for (_, k), answer in zip(chunk, answers, strict=True):
            found = parse_answer(answer)
            if found is None:
                run.unparsed += 1
            else:
                cache.put(k, found)
        run.asked += len(chunk)
        if progress is not None:
            progress(len(chunk))
    for d, k in keyed:
        found = cache.get(k)
        if found is not None:
            before = d.verdict.value
            apply(d, found)
            run.disagreed += before != found.verdict
    return run
