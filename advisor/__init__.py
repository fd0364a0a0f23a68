"""ft-advisor: diagnose LLM evaluation failures and recommend what to try next.

What this package exports is the public API, and the only one: the built-in plugins import nothing
else from ``advisor`` (a test checks it), so a third-party plugin can do everything they do with
``from advisor import ...``. The contract itself is in ``advisor.hookspecs`` (the hooks) and
``advisor.api`` (the protocols of what the hooks register).
"""

from __future__ import annotations

from advisor import text
from advisor.api import Detector, LogReader, RuleSource, Task
from advisor.diagnosis.bm25 import Bm25Index
from advisor.diagnosis.context import DiagnosisContext
from advisor.diagnosis.fields import OUTPUT_KEYS, PASS_KEYS, PROMPT_KEYS, REFERENCE_KEYS
from advisor.diagnosis.readers import HEAD_BYTES, ReadContext, first_json_line, iter_json_lines
from advisor.diagnosis.records import (
    PRECEDENCE,
    Diagnosis,
    EvalRecord,
    FailureClass,
    Finding,
    Recommendation,
)
from advisor.errors import AdvisorError, InputError, PluginError, UsageError
from advisor.hookspecs import hookimpl
from advisor.train.loop import TRAIN_DEFAULTS, TrainableTechnique, TrainConfig, TrainSettings
from advisor.train.loop import train as train_model
from advisor.train.models import embedding_model_path
from advisor.train.technique import (
    Environment,
    System,
    TaskData,
    Technique,
    TechniqueSettings,
    count_parameters,
    setting,
    settings_table,
)

__version__ = "0.2.0"

__all__ = [
    "HEAD_BYTES",
    "OUTPUT_KEYS",
    "PASS_KEYS",
    "PRECEDENCE",
    "PROMPT_KEYS",
    "REFERENCE_KEYS",
    "TRAIN_DEFAULTS",
    "AdvisorError",
    "Bm25Index",
    "Detector",
    "Diagnosis",
    "DiagnosisContext",
    "Environment",
    "EvalRecord",
    "FailureClass",
    "Finding",
    "InputError",
    "LogReader",
    "PluginError",
    "ReadContext",
    "Recommendation",
    "RuleSource",
    "System",
    "Task",
    "TaskData",
    "Technique",
    "TechniqueSettings",
    "TrainConfig",
    "TrainSettings",
    "TrainableTechnique",
    "UsageError",
    "count_parameters",
    "embedding_model_path",
    "first_json_line",
    "hookimpl",
    "iter_json_lines",
    "setting",
    "settings_table",
    "text",
    "train_model",
]
