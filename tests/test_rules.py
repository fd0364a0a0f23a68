from __future__ import annotations

import pytest

from advisor.errors import PluginError, UsageError
from advisor.rules import engine as R
from advisor_plugins.rules import DEFAULT_RULES

FT = {"lora", "qlora", "ia3", "prompt-tuning", "prefix-tuning", "bitfit", "partial-ft", "full-ft"}
RAG = {"bm25-rag", "embedding-rag"}
PROMPTING = {"prompting", "few-shot", "structured-output"}


def profile(factual=0, behaviour=0, fmt=0, passed=50, tasks=None, **extra):
    failed = factual + behaviour + fmt
    counts = {"factual": factual, "behaviour": behaviour, "format": fmt}
    flat = {
        "total": failed + passed,
        "passed": passed,
        "failed": failed,
        "skipped": 0,
        "unjudged": 0,
        "pass_rate": passed / (failed + passed),
        "tasks.count": 1,
        "tasks.failing": 1,
        "tasks.clean": 0,
        "corpus.checked": 0,
        "corpus.retrievable": 0,
        "corpus.retrievable_share": 0.0,
    }
    for k, n in counts.items():
        flat[f"count.{k}"] = n
        flat[f"share.{k}"] = n / failed if failed else 0
        flat[f"rate.{k}"] = n / (failed + passed)
    flat["share.format+behaviour"] = flat["share.format"] + flat["share.behaviour"]
    flat["count.format+behaviour"] = fmt + behaviour
    # ties as Profile.flat breaks them: factual, then behaviour, then format
    flat["dominant"] = max(counts, key=lambda k: (counts[k], -("factual", "behaviour", "format").index(k)))
    flat.update(tasks or {})
    flat.update(extra)
    return flat


def ranked(flat, ctx=None, rules=None):
    ctx = ctx or R.Context()
    rules = rules or R.load_rules(DEFAULT_RULES)
    recs, advice = R.recommend(R.enrich(flat, ctx, {}), rules, ctx)
    return [r.technique for r in recs], recs, advice


def first_of(order, names):
    return min(order.index(n) for n in names if n in order)


def test_factual_dominated_ranks_bm25_above_every_fine_tuning():
    order, recs, _ = ranked(profile(factual=40, fmt=12, behaviour=10))
    assert order.index("bm25-rag") < first_of(order, FT)
    assert order.index("bm25-rag") < order.index("embedding-rag")
    bm25 = recs[order.index("bm25-rag")]
    assert "40 of 62" in bm25.rationale and bm25.rule == "ladder.bm25-rag"


@pytest.mark.parametrize("fmt, behaviour", [(40, 5), (5, 40), (30, 30)])
def test_format_or_behaviour_dominated_ranks_fine_tuning_above_rag(fmt, behaviour):
    order, _, _ = ranked(profile(factual=20, fmt=fmt, behaviour=behaviour))
    assert first_of(order, FT) < first_of(order, RAG)
    assert order[0] == "prompting"  # the ladder starts with prompting while untried
    assert max(order.index(p) for p in PROMPTING if p in order) < first_of(order, FT)


def test_tried_techniques_drop_out_and_escalate():
    order, _, _ = ranked(profile(factual=40), R.Context(tried=frozenset({"prompting", "bm25-rag"})))
    assert "prompting" not in order and "bm25-rag" not in order
    assert order[0] == "embedding-rag"


def test_gpu_memory_demotes_lora_below_qlora_when_it_does_not_fit():
    needs = {"lora": int(20e9), "qlora": int(6e9), "full-ft": int(120e9)}
    order, recs, _ = ranked(profile(fmt=40), R.Context(params=7e9, gpu_memory=16e9, memory=needs))
    assert order.index("qlora") < order.index("lora")
    lora = recs[order.index("lora")]
    assert lora.fits_gpu is False and "does NOT fit 16 GB" in lora.rationale
    assert recs[order.index("qlora")].fits_gpu is True


def test_full_ft_needs_thousands_of_examples():
    few = ranked(profile(fmt=40), R.Context(train_examples=300))[1]
    many = ranked(profile(fmt=40), R.Context(train_examples=50_000))[1]
    rule = {r.technique: r.rule for r in few}["full-ft"]
    assert rule == "ladder.full-ft-needs-data"
    assert {r.technique: r.rule for r in many}["full-ft"] == "ladder.full-ft"
    score = {r.technique: r.score for r in many}
    assert score["full-ft"] > {r.technique: r.score for r in few}["full-ft"]
    assert score["full-ft"] < score["lora"]  # PEFT first, even with plenty of data


def test_alignment_tax_advice_when_some_tasks_pass():
    _, _, advice = ranked(profile(fmt=30, tasks={"tasks.count": 3, "tasks.failing": 1, "tasks.clean": 2}))
    assert any(a["rule"] == "advice.alignment-tax" for a in advice)
    _, _, advice = ranked(profile(fmt=30))
    assert not any(a["rule"] == "advice.alignment-tax" for a in advice)


def test_serving_advice_attached_to_the_best_adapter_technique():
    _, recs, _ = ranked(profile(fmt=30))
    with_serving = [r.technique for r in recs if any("Serving" in a for a in r.advice)]
    assert with_serving == ["lora"]


def test_no_failures_no_recommendations():
    order, _, advice = ranked(profile(passed=100))
    assert order == [] and advice == []


def test_user_rules_override_and_extend(tmp_path):
    extra = tmp_path / "mine.toml"
    extra.write_text(
        '[[rules]]\nid = "ladder.bm25-rag"\ntechnique = "bm25-rag"\n'
        'when = ["count.factual > 0"]\nscore = "5"\n'
        'rationale = "demoted"\n\n'
        '[[rules]]\nid = "team.distill"\ntechnique = "distillation"\nwhen = ["failed >= 10"]\nscore = "999"\n'
        'rationale = "{failed} failures: distil"\n'
    )
    rules = R.merge_rules([R.load_rules(DEFAULT_RULES), R.load_rules(extra)])
    order, recs, _ = ranked(profile(factual=40), rules=rules)
    assert order[0] == "distillation" and recs[0].rationale == "40 failures: distil"
    assert recs[order.index("bm25-rag")].rationale == "demoted"


@pytest.mark.parametrize(
    "text, error",
    [
        ('[[rules]]\ntechnique = "x"\n', "no id"),
        ('[[rules]]\nid = "a"\nexec = "rm -rf /"\n', "unknown keys"),
        ('[[rules]]\nid = "a"\nscore = "__import__(\'os\')"\n', "cannot read the score"),
        ('[[rules]]\nid = "a"\nwhen = ["count.factual >>> 1"]\n', None),
    ],
)
def test_bad_rule_files(tmp_path, text, error):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    if error is None:  # an unreadable operator makes a condition that never holds, not code
        (rule,) = R.load_rules(path)
        assert not R.condition_holds(rule.when[0], {"count.factual": 5})
        return
    with pytest.raises(PluginError, match=error):
        R.load_rules(path)


def test_rule_file_errors_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="no such rules file"):
        R.load_rules(tmp_path / "missing.toml")
    (tmp_path / "x.toml").write_text("not = [toml")
    with pytest.raises(UsageError, match="not a valid TOML"):
        R.load_rules(tmp_path / "x.toml")


def test_conditions_and_templates():
    p = {"count.format": 3, "share.format": 0.25, "name": "x"}
    assert R.condition_holds("count.format >= 3", p)
    assert not R.condition_holds("count.format > 3", p)
    assert R.condition_holds("not missing.key", p)
    assert not R.condition_holds("missing.key > 0", p)
    assert R.render("{count.format} ({share.format:.0%}) {nope} {name.__class__}", p) == "3 (25%) ? ?"
    assert R.score_of("100*share.format + 2 - 1*count.format", p) == pytest.approx(24.0)


def test_small_models_get_few_shot_after_peft_as_measured():
    flat = profile(fmt=30, behaviour=10, factual=5)
    big, _, _ = ranked(flat, R.Context(params=7e9))
    small, recs, _ = ranked(flat, R.Context(params=135e6))
    assert big.index("few-shot") < big.index("lora")
    assert small.index("lora") < small.index("few-shot")
    assert "under 1B parameters" in recs[small.index("few-shot")].rationale


@pytest.mark.parametrize("factual, behaviour, fmt", [(34, 33, 33), (66, 62, 55), (40, 35, 25), (36, 34, 30)])
def test_the_largest_class_decides_the_family_even_when_the_others_add_up_to_more(factual, behaviour, fmt):
    order, _, _ = ranked(profile(factual=factual, behaviour=behaviour, fmt=fmt))
    assert order.index("bm25-rag") < first_of(order, FT)


def test_applies_to_may_be_a_single_name(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text('[[rules]]\nid = "a"\napplies_to = "lora"\nrationale = "x"\n')
    assert R.load_rules(path)[0].applies_to == ["lora"]
