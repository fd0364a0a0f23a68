"""ft-advisor: diagnose LLM evaluation failures and recommend what to try next.

The public API for plugin authors is re-exported here, so a plugin needs only
``from advisor import hookimpl, Finding, FailureClass``.
"""

from __future__ import annotations

from advisor.errors import AdvisorError, InputError, PluginError, UsageError
from advisor.hookspecs import hookimpl
from advisor.records import Diagnosis, EvalRecord, FailureClass, Finding, Recommendation

__version__ = "0.1.0"

__all__ = [
    "AdvisorError",
    "Diagnosis",
    "EvalRecord",
    "FailureClass",
    "Finding",
    "InputError",
    "PluginError",
    "Recommendation",
    "UsageError",
    "hookimpl",
]
