"""promptfoo: the log's own failed assertions, read as evidence of the failure class."""

from __future__ import annotations

from collections.abc import Iterator

from advisor import DiagnosisContext, Finding
from advisor import text as T
from advisor_plugins.detectors._common import B, M


class PromptfooAssertions:
    """promptfoo's failed assertions are direct evidence of the failure class."""

    name = "promptfoo-assertions"
    FORMAT_TYPES = (
        "is-json",
        "contains-json",
        "is-xml",
        "contains-xml",
        "is-sql",
        "contains-sql",
        "regex",
        "starts-with",
        "is-valid-openai-tools-call",
        "is-valid-openai-function-call",
        "is-html",
    )

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        for kind, ok, reason in ctx.record.assertions:
            if ok:
                continue
            why = f"promptfoo {kind} failed" + (f": {T.clip(reason, 60)}" if reason else "")
            if kind in self.FORMAT_TYPES:
                yield Finding(M, "json-invalid" if "json" in kind else "format", why)
            elif kind in ("not-is-refusal",):
                yield Finding(B, "refusal", why)
            elif kind in ("is-refusal", "moderation"):
                yield Finding(B, "unsafe", why)
