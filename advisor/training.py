"""Deprecated: moved to ``advisor.train.loop``; import the names from ``advisor`` instead.

Kept for one release so that plugins written against 0.1 still import.
"""

from __future__ import annotations

import warnings

from advisor.train.loop import *  # noqa: F403
from advisor.train.loop import (
    TRAIN_DEFAULTS,
    TrainableTechnique,
    TrainConfig,
    TrainStats,
    seed_everything,
    train,
)

warnings.warn(
    "advisor.training is deprecated: import TrainableTechnique, TrainConfig, ... from advisor",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["TRAIN_DEFAULTS", "TrainConfig", "TrainStats", "TrainableTechnique", "seed_everything", "train"]
