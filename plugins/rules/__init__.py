"""The built-in rule set as a plugin: registers ``default.toml`` (the ladder of *AI Engineering* ch. 7).

Built-in rules are registered ``trylast``: any installed plugin's rule with the same id replaces them,
whatever order the plugins were registered in.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from advisor import hookimpl

DEFAULT_RULES = Path(str(files(__package__) / "default.toml"))


@hookimpl(trylast=True)
def advisor_register_rules(register):
    register(DEFAULT_RULES)
