"""Deprecated: moved to ``advisor.train.technique``; import the names from ``advisor`` instead.

Kept for one release so that plugins written against 0.1 still import.
"""

from __future__ import annotations

import warnings

from advisor.train.technique import *  # noqa: F403
from advisor.train.technique import KINDS, Environment, System, TaskData, Technique, coerce, count_parameters

warnings.warn(
    "advisor.technique is deprecated: import Technique, System, ... from advisor",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["KINDS", "Environment", "System", "TaskData", "Technique", "coerce", "count_parameters"]
