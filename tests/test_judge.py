"""``advisor diagnose --judge``: the OpenAI-compatible protocol (a fake server), a local model's mechanics."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from advisor.diagnosis import llm_judge as J

# one clear failure (a refusal) and one close call the detectors cannot explain (the fallback verdict)
ROWS = [
    {
        "id": "r1",
        "prompt": "What is 2+2?",
        "output": "I cannot help with that.",
        "reference": "4",
        "passed": False,
    },
    {"id": "r2", "prompt": "Name it.", "output": "Hm", "reference": "", "passed": False},
    {"id": "r3", "prompt": "What is 3+3?", "output": "6", "reference": "6", "passed": True},
]


class FakeServer:
    """An OpenAI-compatible server that answers every chat completion with ``reply``."""

    def __init__(self, reply: str) -> None:
        self.requests: list[dict] = []
        self.auth: list[str | None] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, obj):
                body = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._send({"data": [{"id": "fake-judge"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                outer.auth.append(self.headers.get("Authorization"))
                self._send({"choices": [{"message": {"content": reply}}]})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def server():
    s = FakeServer("behaviour: the answer is not an attempt at the question.")
    yield s
    s.close()


def test_judge_classifies_only_low_confidence_failures_and_caches(run, tmp_path, monkeypatch, server):
    monkeypatch.setenv("ADVISOR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("JUDGE_KEY", "sk-test")
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    args = ("diagnose", log, "--judge", server.url, "--judge-key-env", "JUDGE_KEY", "--json")
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    assert "1 low-confidence failures to classify (0 cached, 1 to ask)" in result.stderr
    out = json.loads(result.stdout)
    by_id = {r["id"]: r for r in out["records"]}
    assert by_id["r1"]["judge"] is None and by_id["r1"]["verdict"] == "behaviour"  # clear: not asked
    assert by_id["r2"]["judge"] == {
        "verdict": "behaviour",
        "reason": "the answer is not an attempt at the question.",
        "detectors": "factual",
        "agrees": False,
    }
    assert by_id["r2"]["verdict"] == "behaviour" and by_id["r2"]["evidence"][0].startswith("judge: behaviour")
    assert out["summary"]["verdicts"]["behaviour"] == 2 and out["summary"]["verdicts"]["factual"] == 0
    assert out["summary"]["judge"]["asked"] == 1 and out["summary"]["judge"]["disagreed"] == 1
    assert len(server.requests) == 1 and server.requests[0]["model"] == "fake-judge"
    assert server.auth == ["Bearer sk-test"]
    assert "PROMPT:\nName it." in server.requests[0]["messages"][0]["content"]
    # a second run answers from the cache: no request reaches the server
    again = run(*args)
    assert again.exit_code == 0 and "(1 cached, 0 to ask)" in again.stderr
    assert len(server.requests) == 1
    assert json.loads(again.stdout)["records"][1]["verdict"] == "behaviour"


def test_without_the_flag_nothing_is_judged(run, tmp_path, server):
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    out = json.loads(run("diagnose", log, "--json").stdout)
    assert all(r["judge"] is None for r in out["records"]) and "judge" not in out["summary"]
    assert server.requests == []


def test_unreachable_server_and_missing_key_are_one_line_errors(run, tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_CACHE", str(tmp_path / "cache"))
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    result = run("diagnose", log, "--judge", "http://127.0.0.1:9/v1", "--judge-model", "m")
    assert result.exit_code != 0 and "judge server http://127.0.0.1:9/v1" in result.stderr
    assert "Traceback" not in result.stderr
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    result = run("diagnose", log, "--judge", "http://127.0.0.1:9/v1", "--judge-key-env", "NO_SUCH_KEY")
    assert result.exit_code != 0 and "NO_SUCH_KEY" in result.stderr


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("Factual: the date is wrong.", ("factual", "the date is wrong.")),
        ("behavior - asks a question back", ("behaviour", "asks a question back")),
        ("The class is format: JSON in a fence", ("format", "JSON in a fence")),
        ("I am not sure.", None),
    ],
)
def test_replies_are_parsed_leniently(reply, expected):
    found = J.parse_answer(reply)
    assert (found and (found.verdict, found.reason)) == expected or (found is None and expected is None)


def test_a_local_model_picks_one_of_the_three_classes(tmp_path):
    """Mechanics of the local backend on a tiny random Llama: the classes are scored, one reply each."""
    from tests.test_techniques import tiny_model, tiny_tokenizer

    tok = tiny_tokenizer()
    tiny_model(tok).save_pretrained(tmp_path / "judge")
    tok.save_pretrained(tmp_path / "judge")
    backend = J.LocalBackend(str(tmp_path / "judge"))
    replies = backend.complete(["what is the answer", "here are examples", "answer the task"])
    assert len(replies) == 3
    found = [J.parse_answer(r) for r in replies]
    assert all(f is not None and f.verdict in ("behaviour", "factual", "format") for f in found), replies
