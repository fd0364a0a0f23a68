"""The built-in rule set as a plugin: registers ``default.toml`` (the source's ladder)."""

from __future__ import annotations

from advisor import hookimpl
from advisor.rules import DEFAULT_RULES


@hookimpl
def advisor_register_rules(register):
    register(DEFAULT_RULES)
