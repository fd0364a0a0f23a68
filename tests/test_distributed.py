"""Cells on several processes: ``accelerate launch`` of ``advisor run`` (here two CPU processes over gloo,
the same code path as several GPUs under DDP), and suites that name a launcher config."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from advisor.bench.runner import cell_command
from advisor.bench.suite import parse_suite
from advisor.errors import InputError
from advisor.train.distributed import GATHER_ENV, Session

ADVISOR = Path(sys.executable).parent / "advisor"
ACCELERATE = Path(sys.executable).parent / "accelerate"


def _session(rank: int, processes: int) -> Session:
    return Session(SimpleNamespace(process_index=rank, num_processes=processes, is_main_process=rank == 0))


def test_every_example_of_a_batch_is_trained_by_exactly_one_process():
    batch = [7, 3, 9, 1, 4]
    shares = [_session(r, 2).shard(batch) for r in range(2)]
    assert sorted(shares[0] + shares[1]) == sorted(batch)
    # a batch smaller than the processes: the idle one is lent an example (it must run the step to
    # take part in the gradient all-reduce) and knows that it does not own it (its loss weight is 0)
    short = [5]
    assert _session(1, 2).shard(short) == [5] and not _session(1, 2).owns_share(short)
    assert _session(0, 2).owns_share(short)


def _tiny_model(tmp_path: Path) -> Path:
    from tests.test_try import _tiny_model_folder

    return _tiny_model_folder(tmp_path / "tiny")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, ADVISOR_CACHE=str(tmp_path / "cache"), HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    env.pop(GATHER_ENV, None)
    return {**env, **extra}


RUN_ARGS = ["-t", "lora", "--task", "json_extract", "--train-limit", "12", "--eval-limit", "4"]
RUN_ARGS += ["--set", "max_steps=3", "--set", "batch_size=4", "--json"]


def _results(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    """The tiny model folder and the cell's result in one process, to compare the launched runs with."""
    pytest.importorskip("peft")
    pytest.importorskip("lm_eval")
    tmp_path = tmp_path_factory.mktemp("one")
    model = _tiny_model(tmp_path)
    proc = subprocess.run(
        [str(ADVISOR), "run", *RUN_ARGS, "--model", str(model)],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    [result] = _results(proc.stdout)
    return model, result


@pytest.mark.parametrize("gather", [False, True], ids=["ddp", "gathered-as-sharded"])
def test_a_launched_cell_trains_on_both_processes_and_reports_once(tmp_path, one_process, gather):
    model, one = one_process
    extra = {GATHER_ENV: "1"} if gather else {}
    launched = subprocess.run(
        [str(ACCELERATE), "launch", "--multi_gpu", "--num_processes", "2", str(ADVISOR), "run", *RUN_ARGS]
        + ["--model", str(model)],
        capture_output=True,
        text=True,
        env=_env(tmp_path, **extra),
        timeout=300,
    )
    assert launched.returncode == 0, launched.stderr[-2000:]
    [result] = _results(launched.stdout)  # the main process reports; the helper prints nothing
    assert result["status"] == "ok" and result["processes"] == 2 and result["engine"] == "MULTI_CPU"
    a, b = one["metrics"], result["metrics"]
    assert b["train_steps"] == a["train_steps"] == 3
    # the first step's loss is the mean over the whole batch: both halves were trained on
    assert b["train_loss_first"] == pytest.approx(a["train_loss_first"], abs=1e-4)
    assert b["train_loss_last"] < b["train_loss_first"]
    assert b["train_loss_last"] == pytest.approx(a["train_loss_last"], abs=0.02)
    assert set(result["documents"]["after"]) == set(one["documents"]["after"])
    assert b["adapter_bytes"] == a["adapter_bytes"] > 0


def test_a_suite_cell_with_two_processes_is_launched_and_stored(tmp_path, one_process):
    model, _ = one_process
    suite = tmp_path / "two.toml"
    suite.write_text(
        f"""
models = [{{ name = "tiny", path = "{model}" }}]
tasks = ["json_extract"]
train_limit = 12
eval_limit = 4
gpus = 2
[techniques.lora]
settings = {{ max_steps = 2, batch_size = 4 }}
"""
    )
    db = tmp_path / "r.db"
    proc = subprocess.run(
        [str(ADVISOR), "bench", "run", str(suite), "--db", f"sqlite:///{db}"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    with sqlite3.connect(db) as con:
        assert con.execute("select status from cells").fetchall() == [("ok",)]
        (docs,) = con.execute("select count(*) from documents").fetchone()
    assert docs == 2 * 4  # one report (before and after, four documents), not one per process


def _suite(tmp_path: Path, **options) -> dict:
    return {
        "name": "s",
        "models": ["m"],
        "tasks": ["t"],
        "techniques": {"full-ft": options},
    }


def test_a_suite_names_a_launcher_config_relative_to_its_file(tmp_path):
    (tmp_path / "fsdp.yaml").write_text("distributed_type: FSDP\n")
    data = _suite(tmp_path, gpus=4, accelerate_config="fsdp.yaml")
    suite = parse_suite(data, path=tmp_path / "s.toml", known_techniques={"full-ft"}, known_tasks={"t"})
    [cell] = suite.cells
    assert cell.accelerate_config == str((tmp_path / "fsdp.yaml").resolve())
    command = cell_command(cell)
    assert command[1:6] == ["launch", "--num_processes", "4", "--config_file", cell.accelerate_config]
    # where it runs is not what it measures: the cell keeps its history without the config
    plain = parse_suite(_suite(tmp_path, gpus=4), known_techniques={"full-ft"}, known_tasks={"t"})
    assert plain.cells[0].config_hash == cell.config_hash
    assert "--multi_gpu" in cell_command(plain.cells[0])


@pytest.mark.parametrize(
    "options, message",
    [
        ({"gpus": 2, "accelerate_config": "missing.yaml"}, "does not exist"),
        ({"accelerate_config": "fsdp.yaml"}, "set gpus > 1"),
        ({"gpus": 2, "accelerate_config": 3}, "must be the path"),
    ],
)
def test_a_bad_launcher_config_is_refused_when_the_suite_is_read(tmp_path, options, message):
    (tmp_path / "fsdp.yaml").write_text("distributed_type: FSDP\n")
    with pytest.raises(InputError, match=message):
        parse_suite(
            _suite(tmp_path, **options),
            path=tmp_path / "s.toml",
            known_techniques={"full-ft"},
            known_tasks={"t"},
        )
