from __future__ import annotations

import pytest

from advisor.diagnosis.judge import Options, diagnose
from advisor.diagnosis.records import EvalRecord, FailureClass
from advisor.plugins import Registry


@pytest.fixture
def detectors(pm):
    return list(Registry(pm).detectors.values())


def verdict(detectors, **fields):
    fields.setdefault("passed", False)
    (d,) = diagnose([EvalRecord(source="t", line=1, **fields)], detectors, Options())
    return d.verdict.value, d.subtype, d.evidence


JSON_REF = '{"name": "Anna", "age": 31, "city": "Oslo"}'
PASSAGE = "Return JSON with name, age, city. Text: Anna Berg, 31, moved to Oslo last year."


@pytest.mark.parametrize(
    "fields, expected",
    [
        # format: right content, wrong form
        (
            dict(
                prompt="Capital of Zarnovia?",
                output="The capital of Zarnovia is Velmora.",
                reference="Velmora",
            ),
            ("format", "extra-prose"),
        ),
        (
            dict(prompt=PASSAGE, output="```json\n" + JSON_REF + "\n```", reference=JSON_REF),
            ("format", "code-fence"),
        ),
        (
            dict(prompt=PASSAGE, output="Here it is: " + JSON_REF, reference=JSON_REF),
            ("format", "extra-prose"),
        ),
        (
            dict(prompt=PASSAGE, output='{"name": "Anna", "age": 31, "city": "Oslo"', reference=JSON_REF),
            ("format", "truncated"),
        ),
        (
            dict(prompt=PASSAGE, output='{"name": "Anna", "years": 31, "city": "Oslo"}', reference=JSON_REF),
            ("format", "json-keys"),
        ),
        (
            dict(prompt=PASSAGE, output='{"name": "Anna", "age": "31", "city": "Oslo"}', reference=JSON_REF),
            ("format", "value-form"),
        ),
        (
            dict(
                prompt="Which is a mammal? A) shark B) whale C) trout\nAnswer:",
                output="The answer is B, whale.",
                reference="B",
            ),
            ("format", "choice-not-bare"),
        ),
        (
            dict(prompt="When did it open?", output="March 5, 2021", reference="2021-03-05"),
            ("format", "date-form"),
        ),
        # behaviour: no genuine attempt, or contradicts the prompt
        (dict(prompt="Summarise the text.", output="", reference="A summary"), ("behaviour", "empty")),
        (
            dict(
                prompt="Describe cats.",
                output="cats are cats are cats are cats are cats are cats are cats are cats",
                reference="Cats are small mammals.",
            ),
            ("behaviour", "repetition"),
        ),
        (
            dict(
                prompt="Write a haiku about spring.",
                output="I'm sorry, but I can't help with that request.",
                reference="Blossoms fall softly",
            ),
            ("behaviour", "refusal"),
        ),
        (
            dict(
                prompt="Answer in French: what colour is the sky?",
                output="The sky is blue today.",
                reference="bleu",
            ),
            ("behaviour", "wrong-language"),
        ),
        (
            dict(
                prompt="Reply in exactly 3 words: how is the weather?",
                output="It is very sunny today",
                reference="Sunny and warm",
            ),
            ("behaviour", "length"),
        ),
        (
            dict(prompt=PASSAGE, output='{"name": "Anna", "age": 31, "city": "Bergen"}', reference=JSON_REF),
            ("behaviour", "unfaithful-to-prompt"),
        ),
        (
            dict(
                prompt="Passage: The bridge was built by Tomas Lind in 1904.\nWho built the bridge?",
                output="Erik Sand",
                reference="Tomas Lind",
            ),
            ("behaviour", "unfaithful-to-prompt"),
        ),
        (
            dict(prompt="Sara has 12 apples and gives away 5. How many are left?", output="6", reference="7"),
            ("behaviour", "reasoning"),
        ),
        # factual: on-task, well-formed, wrong knowledge
        (
            dict(prompt="What is the capital of Zarnovia?", output="Paris", reference="Velmora"),
            ("factual", "wrong-fact"),
        ),
        (
            dict(
                prompt="Who invented the Quorbin engine?",
                output="I don't know who invented it.",
                reference="Ilsa Marven",
            ),
            ("factual", "unknown"),
        ),
        (
            dict(
                prompt="Who leads the company?",
                output="As of my last update in 2021, Tom Hale.",
                reference="Mia Dorn",
            ),
            ("factual", "outdated"),
        ),
    ],
)
def test_verdicts(detectors, fields, expected):
    v, sub, evidence = verdict(detectors, **fields)
    assert (v, sub) == expected, evidence
    assert evidence and all(isinstance(e, str) and e for e in evidence)


def test_multiple_choice_wrong_pick_is_factual(detectors):
    v, sub, evidence = verdict(
        detectors,
        prompt="Capital of France?",
        output="Oslo",
        reference="Paris",
        choices=["Rome", "Paris", "Oslo"],
        picked=2,
        metrics={"acc": 0.0},
        passed=None,
    )
    assert (v, sub) == ("factual", "wrong-fact") and "Oslo" in evidence[0]


def test_precedence_behaviour_over_factual_over_format(detectors):
    # fenced JSON (format) whose values contradict the passage (behaviour): behaviour wins
    v, _, evidence = verdict(
        detectors,
        prompt=PASSAGE,
        reference=JSON_REF,
        output='```json\n{"name": "Anna", "age": 31, "city": "Bergen"}\n```',
    )
    assert v == "behaviour" and any("code fence" in e for e in evidence)


def test_strict_filter_failing_where_flexible_passes_is_format(detectors):
    rec = EvalRecord(
        source="t",
        line=1,
        prompt="Q: 6*7?",
        output="The answer is 42.",
        reference="42",
        filter="strict-match",
        metrics={"exact_match": 0.0},
        extra={"sibling_filters": {"flexible-extract": {"exact_match": 1.0}}},
    )
    (d,) = diagnose([rec], detectors, Options())
    assert (d.verdict, d.subtype) == (FailureClass.FORMAT, "strict-extraction")


def test_pass_fail_sources(detectors):
    recs = [
        EvalRecord(source="t", line=1, output="x", reference="y", metrics={"exact_match": 1.0, "f1": 0.0}),
        EvalRecord(source="t", line=2, output="x", reference="y", metrics={"exact_match": 1.0, "f1": 0.0}),
        EvalRecord(source="t", line=3, output="The answer: Velmora", reference="Velmora"),
        EvalRecord(source="t", line=4, output='{"a": 1}', reference='{"a": 1.0}'),
        EvalRecord(source="t", line=5, output="anything"),
        EvalRecord(
            source="t",
            line=6,
            output="x",
            metrics={"perplexity": 3.0},
            metric_higher_is_better={"perplexity": False},
        ),
    ]
    out = list(diagnose(recs[:1], detectors, Options()))
    out += list(diagnose(recs[1:2], detectors, Options(metric="f1")))
    out += list(diagnose(recs[2:], detectors, Options()))
    # a lower-is-better metric alone (perplexity) has no default pass mark: unjudged too
    assert [d.passed for d in out] == [True, False, True, True, None, None]
    assert out[4].subtype == "unjudged"  # no metric, no pass field, no reference


def test_passed_records_are_none(detectors):
    v, sub, ev = verdict(detectors, passed=True, output="Paris", reference="Velmora")
    assert (v, sub, ev) == ("none", None, [])


def test_inline_detector_plugin_changes_the_verdict(pm, register_inline):
    from advisor import FailureClass as FC
    from advisor import Finding, hookimpl

    class Plugin:
        @hookimpl
        def advisor_register_detectors(self, register):
            class Toxic:
                name = "toxic"

                def detect(self, ctx):
                    if "idiot" in ctx.output:
                        yield Finding(FC.BEHAVIOUR, "toxic", "insults the user")

            register(Toxic())

    register_inline(Plugin())
    dets = list(Registry(pm).detectors.values())
    (d,) = diagnose(
        [
            EvalRecord(
                source="t",
                line=1,
                prompt="Capital?",
                output="Paris, idiot",
                reference="Velmora",
                passed=False,
            )
        ],
        dets,
        Options(),
    )
    assert (d.verdict.value, d.subtype) == ("behaviour", "toxic")


@pytest.mark.parametrize(
    "fields, expected",
    [
        # a translation that repeats its source: the other instructions say nothing more
        (
            dict(
                prompt="Translate 'the red house' to French. Answer in all caps, in one word.",
                output="the red house",
                reference="LA MAISON ROUGE",
            ),
            (
                "behaviour",
                "wrong-language",
                [
                    "asked for a translation into french; the output repeats the source text",
                    "answered 'the red house', expected 'LA MAISON ROUGE'",
                ],
            ),
        ),
        # several instructions broken: one finding each, in the detectors' order
        (
            dict(
                prompt="Answer in all caps, in exactly two words: capital of Zarnovia?",
                output="The capital is Velmora",
                reference="VELMORA",
            ),
            (
                "behaviour",
                "length",
                [
                    "asked for exactly 2 words, the output has 4",
                    "asked for capital letters, the output has lowercase letters",
                    "the expected answer 'VELMORA' is in the output, wrapped in 4 words",
                ],
            ),
        ),
        (
            dict(
                prompt="Answer with yes or no, in lowercase: is Velmora a city?",
                output="Yes, Velmora is a city.",
                reference="yes",
            ),
            (
                "format",
                "case",
                [
                    "asked for lowercase, the output has capital letters",
                    "asked for yes or no; the output adds prose after it",
                    "the expected answer 'yes' is in the output, wrapped in 5 words",
                ],
            ),
        ),
        # JSON: wrapping, then value form, then wrong values (the verdict: the strongest class)
        (
            dict(
                prompt=PASSAGE,
                output='```json\n{"name": "Anna", "age": "31", "city": "Bergen"}\n```',
                reference=JSON_REF,
            ),
            (
                "behaviour",
                "unfaithful-to-prompt",
                [
                    "values differ from the text given in the prompt (city: 'Bergen' vs 'Oslo')",
                    "the JSON is wrapped in a Markdown code fence",
                    "right values in the wrong form or type for age",
                ],
            ),
        ),
        # a cut-off object is judged on the keys it wrote
        (
            dict(prompt=PASSAGE, output='{"name": "Anna", "town": "Oslo", "age": 3', reference=JSON_REF),
            (
                "format",
                "truncated",
                ["the JSON output is cut off before its closing bracket", "wrong keys: extra town"],
            ),
        ),
    ],
)
def test_evidence_lists_every_finding_in_detector_order(detectors, fields, expected):
    assert verdict(detectors, **fields) == expected
