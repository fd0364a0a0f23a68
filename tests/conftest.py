from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor.cli import cli
from advisor.plugins import get_plugin_manager


@pytest.fixture
def pm():
    """A fresh plugin manager: built-ins only, no third-party entry points."""
    return get_plugin_manager(load_entry_points=False)


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
def _no_third_party_plugins(monkeypatch):
    """CLI tests see only the built-ins, whatever is installed in the environment."""
    import advisor.cli as cli_module

    monkeypatch.setattr(cli_module, "_plugin_manager", lambda: get_plugin_manager(load_entry_points=False))


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)

    return invoke


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
