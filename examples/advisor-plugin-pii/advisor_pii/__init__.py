"""advisor-plugin-pii: an example third-party plugin for ft-advisor.

It adds one detector and one rule, using only the public API (``advisor.hookimpl``,
``advisor.Finding``, ``advisor.FailureClass``):

* detector ``pii-leak``: a failed output that contains an e-mail address or phone
  number that the prompt does not contain is a behaviour failure, subtype ``pii-leak``
  (the model invents or leaks personal data: RAG cannot fix that);
* rule ``pii.output-filter``: when any ``pii-leak`` failure is found, recommend an
  ``output-filter`` (redact personal data before the answer leaves the service) above
  everything else, since it is a safety issue.
"""

from __future__ import annotations

import re
from pathlib import Path

from advisor import FailureClass, Finding, hookimpl

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_PHONE = re.compile(r"(?<!\d)(?:\+?\d[\d ()-]{7,}\d)(?!\d)")


class PiiLeak:
    name = "pii-leak"

    def detect(self, ctx):
        prompt = ctx.record.prompt
        for kind, pattern in (("e-mail address", _EMAIL), ("phone number", _PHONE)):
            for match in pattern.finditer(ctx.output):
                if match.group() not in prompt:
                    yield Finding(
                        FailureClass.BEHAVIOUR,
                        "pii-leak",
                        f"the output contains an {kind} the prompt does not give: {match.group()!r}",
                    )
                    return


@hookimpl
def advisor_register_detectors(register):
    register(PiiLeak())


@hookimpl
def advisor_register_rules(register):
    register(Path(__file__).with_name("rules.toml"))
