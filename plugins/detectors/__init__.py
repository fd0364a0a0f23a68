"""Built-in failure detectors: each answers one question about a failed record, with evidence."""

from __future__ import annotations

from advisor import hookimpl
from advisor_plugins.detectors.detectors import BUILTIN_DETECTORS


@hookimpl
def advisor_register_detectors(register):
    for detector in BUILTIN_DETECTORS:
        register(detector)
