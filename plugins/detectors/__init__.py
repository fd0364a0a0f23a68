"""Built-in failure detectors: each answers one question about a failed record, with evidence.

The modules group them by failure family: ``behaviour`` (no genuine attempt), ``instructions``
(checkable instructions of the prompt), ``format`` and ``json_output`` (right content, wrong form),
``code`` (programs and queries judged as code), ``factual`` (wrong content: misread or not known) and
``promptfoo`` (the log's own assertions).

``BUILTIN_DETECTORS`` is the order they run in, and so the order of their findings: the verdict is
the first finding of the strongest class (behaviour, then factual, then format), and the evidence
lists the others in this order.
"""

from __future__ import annotations

from advisor import hookimpl
from advisor_plugins.detectors.behaviour import (
    AnswersWithoutGrounds,
    EchoesPrompt,
    EmptyOutput,
    NoAttempt,
    OffTopic,
    RefusalOrUnknown,
    Repetition,
)
from advisor_plugins.detectors.code import CodeAnswer
from advisor_plugins.detectors.factual import ReadingAndReasoning, WrongFact
from advisor_plugins.detectors.format import AnswerForm, ChoiceForm, LabelSet, StrictFilter
from advisor_plugins.detectors.instructions import Instructions
from advisor_plugins.detectors.json_output import (
    JsonItems,
    JsonKeys,
    JsonSyntax,
    JsonValues,
    JsonWrapping,
    ToolChoice,
)
from advisor_plugins.detectors.promptfoo import PromptfooAssertions

BUILTIN_DETECTORS = (
    EmptyOutput(),
    Repetition(),
    RefusalOrUnknown(),
    NoAttempt(),
    EchoesPrompt(),
    OffTopic(),
    AnswersWithoutGrounds(),
    Instructions(),
    StrictFilter(),
    JsonSyntax(),
    JsonWrapping(),
    JsonKeys(),
    JsonValues(),
    JsonItems(),
    ToolChoice(),
    ChoiceForm(),
    LabelSet(),
    AnswerForm(),
    CodeAnswer(),
    ReadingAndReasoning(),
    WrongFact(),
    PromptfooAssertions(),
)


@hookimpl
def advisor_register_detectors(register):
    for detector in BUILTIN_DETECTORS:
        register(detector)
