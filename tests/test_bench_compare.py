"""Regressions, `advisor bench compare|list|report`, on runs written straight into a temporary store."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from advisor.bench.compare import (
    Thresholds,
    compare_metric,
    compare_runs,
    document_scores,
    mcnemar,
    paired_bootstrap,
    paired_test,
    pick_runs,
    same_machine,
)
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
    """cells: (technique, task, seed) -> metrics (and "documents": phase -> doc id -> score), or
    {"status": ..., "error": ...}."""
    run = store.create_run(
        name=name, suite=suite, git_commit="c0ffee", packages={}, hardware={"cpus": 2}, host="ci"
    )
    for (technique, task, seed), metrics in cells.items():
        metrics = dict(metrics)
        status = CellStatus(metrics.pop("status", "ok"))
        error = metrics.pop("error", None)
        documents = metrics.pop("documents", {})
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
                documents=documents,
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


def test_report_draws_each_cells_history_with_its_noise_band(store, tmp_path):
    from advisor.bench.report import history

    for i, time_s in enumerate((30.0, 31.0, 29.5, 30.5, 45.0)):
        add_run(store, f"r{i}", base(time_s=time_s))
    add_run(store, "other-suite", base(time_s=99.0), suite="quick")  # not this suite's history
    series = {s.label: s for s in history(store, store.run("r4"))}
    assert series["lora on json_extract"].values["train_time_s"] == [30.0, 31.0, 29.5, 30.5, 45.0]
    assert series["bm25-rag on fictional_qa"].values["train_time_s"] == [None] * 5  # trains nothing
    out = tmp_path / "report"
    assert CliRunner().invoke(bench, ["report", "r4", "--out", str(out)]).exit_code == 0
    md = (out / "report.md").read_text()
    assert "## History" in md and "](history_train_time_s.png)" in md
    assert "history_peak_memory_bytes.png" in md and "history_quality_after.png" in md
    assert (out / "history_train_time_s.png").read_bytes()[:4] == b"\x89PNG"
    first = tmp_path / "first"
    assert CliRunner().invoke(bench, ["report", "r0", "--out", str(first)]).exit_code == 0
    assert "## History" not in (first / "report.md").read_text()  # one run: no history yet


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


# -- paired per-document tests -------------------------------------------------------------------------------


def exact(right: int, n: int = 30) -> dict[str, float]:
    """Exact-match scores of n documents: the first ``right`` of them are right."""
    return {str(i): 1.0 if i < right else 0.0 for i in range(n)}


def with_documents(right: int | None, n: int = 30, **kwargs) -> dict:
    """base() whose lora cell has quality_after right/n and (unless right is None) its documents."""
    cells = base(**kwargs)
    lora = cells[("lora", "json_extract", 0)]
    if right is not None:
        lora["quality_after"] = right / n
        lora["documents"] = {"before": exact(6, n), "after": exact(right, n)}
    return cells


def lora_quality(comparison):
    [cell] = [c for c in comparison.cells if c.technique == "lora"]
    return cell, cell.metric("quality_after")


def test_a_drop_on_few_changed_documents_is_suspect_not_a_regression(store):
    """0.60 -> 0.50 is past the 0.05 threshold, but only 3 of 30 documents changed: McNemar p = 0.25."""
    a, b = add_run(store, "a", with_documents(18)), add_run(store, "b", with_documents(15))
    cell, m = lora_quality(compare_runs(store, a, b))
    assert m.delta == pytest.approx(-0.1) and not m.regression and cell.regressions == []
    assert (m.test, m.p_value, m.paired_documents) == ("McNemar", pytest.approx(0.25), 30)
    assert m.suspect.startswith("quality_after 0.600 -> 0.500")
    assert m.suspect.endswith("not significant on 30 paired documents (McNemar p=0.25)")
    result = CliRunner().invoke(bench, ["compare", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["regressions"] == [] and data["thresholds"]["alpha"] == 0.05
    assert [s["reason"].split(" ")[0] for s in data["suspects"]] == ["quality_after"]
    [lora] = [c for c in data["cells"] if c["technique"] == "lora"]
    [quality] = [m for m in lora["metrics"] if m["name"] == "quality_after"]
    assert quality["test"] == "McNemar" and quality["paired_documents"] == 30 and quality["p_value"] == 0.25
    assert "suspect (not failing): lora on json_extract" in result.stderr
    # a looser level makes the same drop a regression
    assert CliRunner().invoke(bench, ["compare", "--alpha", "0.3"]).exit_code == 1


def test_a_drop_on_many_documents_is_a_regression(store):
    a, b = add_run(store, "a", with_documents(25)), add_run(store, "b", with_documents(5))
    cell, m = lora_quality(compare_runs(store, a, b))
    assert m.p_value == pytest.approx(2 / 2**20) and m.p_value < 1e-5
    assert cell.regressions == [m.regression] and m.regression.endswith("on 30 paired documents")
    assert "McNemar p=1.91e-06" in m.regression
    result = CliRunner().invoke(bench, ["compare"])
    assert result.exit_code == 1 and "regression: lora on json_extract" in result.stderr


def test_documents_only_on_one_side_keep_the_old_rule(store):
    a = add_run(store, "a", with_documents(None, quality=0.6))  # an old run: no documents
    b = add_run(store, "b", with_documents(15))  # 0.5: a drop of 0.1, as before a regression
    cell, m = lora_quality(compare_runs(store, a, b))
    assert m.test is None and m.paired_documents is None and m.p_value is None
    assert cell.regressions == [m.regression] and m.regression.endswith("threshold 0.05)")
    # documents that share no id with the other run's are as good as none
    c = add_run(store, "c", with_documents(18))
    moved = with_documents(15)
    moved[("lora", "json_extract", 0)]["documents"]["after"] = {f"x{i}": 1.0 for i in range(30)}
    d = add_run(store, "d", moved)
    _, m = lora_quality(compare_runs(store, c, d))
    assert m.test is None and m.regression


def test_continuous_scores_use_a_paired_bootstrap():
    t = Thresholds()
    before = {str(i): 0.5 + 0.01 * (i % 7) for i in range(40)}
    lower = {d: v - 0.2 + 0.01 * (int(d) % 3) for d, v in before.items()}  # every document lost ~0.2
    m = compare_metric("quality_after", "score", [0.53], [0.34], t, docs_a=before, docs_b=lower)
    assert m.test == "paired bootstrap" and m.paired_documents == 40
    assert m.p_value < 0.01 and "paired bootstrap p=" in m.regression
    # the same means, but the documents disagree about the direction: not significant, only suspect
    mixed = {d: v + (0.6 if int(d) % 2 else -1.0) for d, v in before.items()}
    mixed = {d: min(1.0, max(0.0, v)) for d, v in mixed.items()}
    m = compare_metric("quality_after", "score", [0.53], [0.34], t, docs_a=before, docs_b=mixed)
    assert m.test == "paired bootstrap" and m.p_value >= 0.05
    assert not m.regression and "not significant on 40 paired documents (paired bootstrap p=" in m.suspect
    # seeded: the same p-value every time
    diffs = [lower[d] - before[d] for d in before]
    assert paired_bootstrap(diffs) == paired_bootstrap(diffs)
    assert paired_bootstrap([0.0] * 10) == 1.0


def test_paired_tests_on_their_own(monkeypatch):
    assert paired_test({"0": 1.0}, {"1": 1.0}) is None and paired_test({}, exact(3)) is None
    same = paired_test(exact(10), exact(10))
    assert (same.test, same.p_value, same.n, same.mean_difference) == ("McNemar", 1.0, 30, 0.0)
    one = paired_test({"0": 1.0}, {"0": 0.0, "1": 1.0})  # one document in common is enough
    assert one.n == 1 and one.p_value == 1.0 and one.mean_difference == -1.0
    # the hand-computed binomial tail when scipy is missing agrees with scipy's
    with_scipy = [mcnemar(lost, gained) for lost, gained in ((3, 0), (7, 2), (20, 0), (5, 5), (0, 0))]
    monkeypatch.setitem(__import__("sys").modules, "scipy.stats", None)
    without = [mcnemar(lost, gained) for lost, gained in ((3, 0), (7, 2), (20, 0), (5, 5), (0, 0))]
    assert without == pytest.approx(with_scipy) and without[0] == 0.25 and without[-1] == 1.0


def test_a_significant_rise_in_documents_is_not_a_regression():
    """The seeds' means say the score fell, the paired documents say it rose: shown, not failed."""
    m = compare_metric(
        "quality_after", "score", [0.6], [0.4], Thresholds(), docs_a=exact(5), docs_b=exact(25)
    )
    assert not m.regression and "do not show a drop" in m.suspect


def test_repeats_average_each_document_over_their_seeds():
    from advisor.bench.store.engine import CellRecord

    def cell(seed, after):
        return CellRecord(
            config_hash=str(seed),
            model=MODEL,
            task="t",
            technique="lora",
            settings={},
            seed=seed,
            status="ok",
            error=None,
            kind="peft",
            quality_metric="acc",
            duration_s=1.0,
            metrics={},
            units={},
            documents={"after": after},
        )

    cells = [cell(0, {"a": 1.0, "b": 0.0}), cell(1, {"a": 1.0, "b": 1.0, "c": 0.0})]
    assert document_scores(cells, "after") == {"a": 1.0, "b": 0.5, "c": 0.0}
    assert document_scores(cells, "before") == {}


def _fake_rerun(quality: float):
    """A suite runner for --confirm that stores every cell of the suite with this lora quality."""
    from types import SimpleNamespace

    def run(suite, store, jobs=1, progress=None):
        cells = {
            (c.technique, c.task, c.seed): base(quality=quality)[(c.technique, c.task, c.seed)]
            for c in suite.cells
        }
        return SimpleNamespace(run=add_run(store, "rerun", cells, suite=suite.name))

    return run


@pytest.mark.parametrize(("rerun_quality", "confirmed"), [(0.4, True), (0.6, False)])
def test_confirm_reruns_flagged_cells_and_keeps_only_what_repeats(store, rerun_quality, confirmed):
    from advisor.bench.confirm import cells_to_rerun, confirm

    a, b = add_run(store, "a", base()), add_run(store, "b", base(quality=0.4))
    comparison = compare_runs(store, a, b)
    [cell] = cells_to_rerun(store, comparison)  # only the regressed lora cell, not the bm25 one
    assert (cell.technique, cell.task, cell.seed) == ("lora", "json_extract", 0)
    result = confirm(store, comparison, Thresholds(), run=_fake_rerun(rerun_quality))
    assert result.rerun.suite == "smoke:confirm"
    assert bool(result.confirmed) is confirmed and bool(result.cleared) is not confirmed
    assert store.runs("smoke", limit=1)[0].name == "b"  # the re-run is not the suite's latest run


def test_confirm_with_nothing_flagged_runs_nothing(store):
    from advisor.bench.confirm import confirm

    a, b = add_run(store, "a", base()), add_run(store, "b", base())

    def never(*args, **kwargs):
        raise AssertionError("nothing should run")

    assert confirm(store, compare_runs(store, a, b), Thresholds(), run=never).rerun is None


def test_compare_with_history_pools_the_earlier_runs(store):
    """`bench compare --history`: the latest run against the suite's earlier runs on the same machine.
    One slow earlier run does not make a normal run look fast or slow; a run far beyond the whole
    history is a regression, and an injected quality drop is caught against the history too."""
    from advisor.bench.compare import compare_with_history

    for i, t in enumerate([30.0, 33.0, 29.0, 31.0, 60.0]):  # the last one ran on a busy machine
        add_run(store, f"h{i}", base(time_s=t))
    normal = add_run(store, "normal", base(time_s=32.0))
    comparison = compare_with_history(store, normal)
    assert comparison is not None and len(comparison.history_runs) == 5
    assert comparison.reference.startswith("history of 5 runs")
    assert not comparison.regressions and not comparison.suspects
    # against the previous run alone, the same run is 47% faster; nothing to flag either way
    assert not compare_runs(store, store.run("h4"), normal).regressions
    slow = add_run(store, "slow", base(time_s=90.0))
    assert any("train_time_s" in why for _, why in compare_with_history(store, slow).regressions)
    worse = add_run(store, "worse", base(quality=0.3))
    assert any("quality_after" in why for _, why in compare_with_history(store, worse).regressions)


def test_compare_cli_history(store):
    runner = CliRunner()
    result = runner.invoke(bench, ["compare", "--history", "--json"])
    assert result.exit_code != 0  # no runs at all
    add_run(store, "only", base())
    result = runner.invoke(bench, ["compare", "--history", "--json"])
    assert result.exit_code == 0 and "nothing to compare" in result.output
    add_run(store, "next", base(quality=0.3))
    result = runner.invoke(bench, ["compare", "--history", "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["history_runs"] and data["regressions"]
    result = runner.invoke(bench, ["compare", "only", "next", "--history"])
    assert result.exit_code == 2 and "at most one run" in result.output
