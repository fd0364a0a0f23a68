from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor.cli import cli
from advisor.plugins import Registry, get_plugin_manager, set_registry

#: every technique the built-in plugins register (the issue's list)
BUILTIN_TECHNIQUES = frozenset(
    [
        "prompting",
        "few-shot",
        "bm25-rag",
        "embedding-rag",
        "lora",
        "qlora",
        "ia3",
        "prefix-tuning",
        "prompt-tuning",
        "p-tuning",
        "bitfit",
        "partial-ft",
        "full-ft",
        "merge-linear",
        "merge-slerp",
        "merge-ties",
        "merge-concat",
    ]
)


@pytest.fixture
def pm():
    """A fresh plugin manager: built-ins only, no third-party entry points."""
    return get_plugin_manager(load_entry_points=False)


@pytest.fixture
def registry(pm):
    """A registry over ``pm``: what diagnose, run and bench are given."""
    return Registry(pm)


@pytest.fixture
def register_inline(pm):
    """Register an inline plugin object for one test; unregistered afterwards."""
    added = []

    def register(plugin, name=None):
        pm.register(plugin, name=name)
        added.append(plugin)
        return plugin

    yield register
    for plugin in added:
        pm.unregister(plugin)


@pytest.fixture(autouse=True)
def _no_third_party_plugins():
    """Every test sees only the built-ins, whatever is installed in the environment."""
    registry = Registry(get_plugin_manager(load_entry_points=False))
    set_registry(registry)
    registry.add_commands(cli)
    yield
    set_registry(None)


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)

    return invoke


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
