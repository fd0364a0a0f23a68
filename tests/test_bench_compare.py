"""Regressions, `advisor bench compare|list|report`, on runs written straight into a temporary store."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from advisor.bench.compare import Thresholds, compare_metric, compare_runs, pick_runs, same_machine
from advisor.bench.store.engine import CellOutcome, Store, now
from advisor.bench.store.models import CellStatus
from advisor.bench.suite import Cell
from advisor.cli.bench import bench

MODEL = "smollm2-135m-instruct"


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    monkeypatch.setenv("ADVISOR_DB", url)
    with Store(url) as s:
        yield s


def add_run(store: Store, name: str, cells: dict[tuple[str, str, int], dict], suite: str = "smoke"):
    """cells: (technique, task, seed) -> metrics, or {"status": ..., "error": ...}."""
    run = store.create_run(
        name=name, suite=suite, git_commit="c0ffee", packages={}, hardware={"cpus": 2}, host="ci"
    )
    for (technique, task, seed), metrics in cells.items():
        metrics = dict(metrics)
        status = CellStatus(metrics.pop("status", "ok"))
        error = metrics.pop("error", None)
        start = now()
        store.record_cell(
            run.run_id,
            Cell(model=MODEL, task=task, technique=technique, seed=seed),
            CellOutcome(
                status,
                start,
                start + timedelta(seconds=2),
                error=error,
                metrics=metrics,
                kind="peft" if technique == "lora" else "retrieval",
            ),
        )
    store.finish_run(run.run_id)
    return run


def base(quality=0.6, time_s=30.0, memory=2e9, seeds=(0,), **extra):
    out = {}
    for i, seed in enumerate(seeds):
        out[("lora", "json_extract", seed)] = {
            "quality_before": 0.2,
            "quality_after": quality + 0.01 * i,
            "train_time_s": time_s + i,
            "peak_memory_bytes": memory + 1e7 * i,
            "trainable_params": 460_800,
            **extra,
        }
        out[("bm25-rag", "fictional_qa", seed)] = {
            "quality_before": 0.05,
            "quality_after": 0.7,
            "peak_memory_bytes": 1.5e9,
            "trainable_params": 0,
        }
    return out


def regressions(store, a, b, **t):
    return [(c.label, why) for c, why in compare_runs(store, a, b, Thresholds(**t)).regressions]


def test_identical_runs_do_not_regress(store):
    a, b = add_run(store, "a", base()), add_run(store, "b", base())
    assert regressions(store, a, b) == []


def test_quality_drop_beyond_the_threshold_names_the_cell(store):
    a = add_run(store, "a", base())
    small = add_run(store, "b", base(quality=0.58))
    big = add_run(store, "c", base(quality=0.4))
    assert regressions(store, a, small) == []
    [(label, why)] = regressions(store, a, big)
    assert label == f"lora on json_extract ({MODEL})" and why.startswith("quality_after 0.600 -> 0.400")


def test_time_and_memory_must_grow_beyond_threshold_and_seed_spread():
    t = Thresholds()
    history = [30.0, 31.0, 29.0, 30.5]  # a quiet cell: its noise band is about 2.2 s
    assert compare_metric("train_time_s", "s", [30.0], [40.0], t, history).regression  # +33% > 25%
    assert not compare_metric("train_time_s", "s", [30.0], [35.0], t, history).regression  # +17%
    assert not compare_metric("train_time_s", "s", [0.2], [0.4], t).regression  # under the 1 s floor
    # +40% on the mean, but the seeds alone spread by more than that
    assert not compare_metric("train_time_s", "s", [20.0, 40.0, 60.0], [30.0, 50.0, 88.0], t).regression
    assert compare_metric("peak_memory_bytes", "bytes", [2e9], [2.5e9], t, [2e9, 2.01e9, 1.99e9]).regression
    assert not compare_metric("peak_memory_bytes", "bytes", [2e9], [2.1e9], t).regression
    assert compare_metric("tokens_per_s", "tokens/s", [500.0], [300.0], t, [500.0, 505.0, 495.0]).regression
    assert not compare_metric("trainable_params", "params", [1.0], [1e9], t).regression  # informational
    faster = compare_metric("train_time_s", "s", [30.0], [10.0], t)
    assert not faster.regression and faster.delta == -20.0


def test_repeats_use_a_rank_test():
    t = Thresholds(quality_drop=0.05)
    clear = compare_metric("quality_after", "score", [0.60, 0.61, 0.62], [0.40, 0.41, 0.42], t)
    assert clear.regression and clear.p_value == pytest.approx(0.05) and "Mann-Whitney" in clear.regression
    # the means differ by more than the threshold, but the rank test sees overlapping seeds
    mixed = compare_metric("quality_after", "score", [0.2, 0.9, 0.5], [0.1, 0.85, 0.45], t)
    assert mixed.p_value > 0.05 and not mixed.regression


def test_a_cell_that_now_fails_is_a_regression(store):
    a = add_run(store, "a", base())
    broken = base()
    broken[("lora", "json_extract", 0)] = {"status": "failed", "error": "exit code 1: Traceback\nOOM: boom"}
    b = add_run(store, "b", broken)
    [(label, why)] = regressions(store, a, b)
    assert label.startswith("lora on json_extract") and why == "seed 0: ok -> failed (exit code 1: OOM: boom)"


def test_default_runs_are_the_last_two_of_the_same_suite(store):
    add_run(store, "a", base())
    assert pick_runs(store, None, None) is None  # only one run: nothing to compare
    add_run(store, "b", base(quality=0.1))
    add_run(store, "other", base(), suite="quick")
    c = add_run(store, "c", base(quality=0.2))
    assert [r.name for r in pick_runs(store, None, None, suite="smoke")] == ["b", "c"]
    assert [r.name for r in pick_runs(store, None, None)] == ["b", "c"]  # the latest run's suite
    assert [r.name for r in pick_runs(store, "c", None)] == ["b", "c"]
    assert [r.name for r in pick_runs(store, "a", str(c.run_id))] == ["a", "c"]


def test_compare_cli_exit_codes_and_json(store):
    add_run(store, "a", base())
    only = CliRunner().invoke(bench, ["compare"])
    assert only.exit_code == 0 and "nothing to compare" in only.stderr
    add_run(store, "b", base(quality=0.3, memory=3e9))
    result = CliRunner().invoke(bench, ["compare", "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    # quality fell past its threshold: a regression; memory grew once, with no history: only suspect
    assert [r["cell"] for r in data["regressions"]] == [f"lora on json_extract ({MODEL})"]
    assert [r["reason"].split(" ")[0] for r in data["suspects"]] == ["peak_memory_bytes"]
    assert "regression: lora on json_extract" in result.stderr
    table = CliRunner().invoke(bench, ["compare", "a", "b"])
    assert table.exit_code == 1 and "REGRESSION" in table.stdout
    relaxed = CliRunner().invoke(bench, ["compare", "--quality-drop", "0.5", "--memory-growth", "1.0"])
    assert relaxed.exit_code == 0


def test_list(store):
    add_run(store, "a", base())
    result = CliRunner().invoke(bench, ["list", "--json"])
    [row] = json.loads(result.stdout)
    assert row["name"] == "a" and row["cells"] == {"ok": 2} and row["git_commit"] == "c0ffee"
    assert "smoke" in CliRunner().invoke(bench, ["list"]).stdout


def test_report_writes_markdown_and_self_contained_html(store, tmp_path):
    cells = base(seeds=(0, 1))
    cells[("prompting", "json_extract", 0)] = {
        "quality_before": 0.2,
        "quality_after": 0.3,
        "trainable_params": 0,
    }
    cells[("lora", "fictional_qa", 0)] = {
        "quality_before": 0.05,
        "quality_after": 0.1,
        "trainable_params": 460_800,
        "train_time_s": 28.0,
        "peak_memory_bytes": 2.2e9,
    }
    cells[("qlora", "json_extract", 0)] = {"status": "skipped", "error": "needs CUDA"}
    add_run(store, "a", cells)
    out = tmp_path / "report"
    result = CliRunner().invoke(bench, ["report", "--out", str(out)])
    assert result.exit_code == 0, result.output
    md = (out / "report.md").read_text()
    assert "| fictional_qa | factual | smollm2-135m-instruct | bm25-rag | 0.700 |" in md
    assert "| json_extract | format | smollm2-135m-instruct | lora | 0.605 |" in md
    assert "| qlora on json_extract" in md and "needs CUDA" in md
    for png in ("quality_vs_params.png", "peak_memory.png", "train_time.png"):
        assert f"]({png})" in md and (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 3 and "http" not in page.replace("https://", "")
    assert "<td>bm25-rag</td>" in page


def test_report_plots_equal_values_whose_mean_rounds_outside_them():
    from advisor.bench.report import plots
    from advisor.bench.store.engine import CellRecord

    # mean([0.05] * 3) == 0.05000000000000001 > 0.05: the error bar must not go negative
    cells = [
        CellRecord(
            config_hash=str(seed),
            model=MODEL,
            task="fictional_qa",
            technique="prompting",
            settings={},
            seed=seed,
            status="ok",
            error=None,
            kind="prompting",
            quality_metric="acc",
            duration_s=1.0,
            metrics={"quality_after": 0.3, "trainable_params": 0, "peak_memory_bytes": 5e7},
            units={},
        )
        for seed in range(3)
    ]
    assert [image.file for image in plots(cells)] == ["quality_vs_params.png", "peak_memory.png"]


def test_noise_band_history_machines_and_suspects(store):
    """A timing that moves within its own history's noise is not flagged; beyond it, it is; a single
    sample with no history is suspect; runs on different machines are not comparable."""
    for i, t in enumerate([30.0, 40.0, 22.0, 36.0, 25.0]):  # a noisy cell on a busy 2-core machine
        add_run(store, f"h{i}", base(time_s=t))
    a = store.runs("smoke", limit=1)[0]
    noisy = add_run(store, "noisy", base(time_s=40.0))  # +60% over the last run, but within its noise
    comparison = compare_runs(store, a, noisy)
    [metric] = [m for m in comparison.cells[0].metrics if m.name == "train_time_s"]
    assert metric.noise_band is not None and metric.noise_band > 15
    assert not metric.regression
    slow = add_run(store, "slow", base(time_s=80.0))
    assert any("train_time_s" in why for _, why in compare_runs(store, noisy, slow).regressions)
    # a run on another machine: timings are not comparable, whatever they did
    other = store.create_run(
        name="gpu", suite="smoke", git_commit="c", packages={}, hardware={"cpus": 16}, host="x"
    )
    assert not same_machine(a, other)


def test_single_samples_without_history_are_suspect_not_regressions():
    t = Thresholds()
    m = compare_metric("train_time_s", "s", [30.0], [60.0], t, [])
    assert not m.regression and m.suspect and "re-run to confirm" in m.suspect
    assert compare_metric("train_time_s", "s", [30.0], [60.0], t, [], same=False).note.startswith(
        "not comparable"
    )
