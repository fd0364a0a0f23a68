"""Typed technique settings: one ``Settings`` dataclass per technique, from which ``defaults``,
``--set`` parsing, the checks, ``advisor techniques --json`` and the docs tables all come.

What a user notices: a bad value fails in a line that names the setting, before any model loads.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import pytest

from advisor.errors import UsageError
from advisor.plugins import get_registry
from advisor.train.loop import TRAIN_DEFAULTS, TrainableTechnique, TrainConfig, TrainSettings
from advisor.train.technique import (
    Technique,
    TechniqueSettings,
    parse_setting,
    setting,
    settings_docs,
    settings_table,
)

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "techniques.md"
BEGIN = "<!-- BEGIN settings tables"
END = "<!-- END settings tables -->"
REGENERATE = "ADVISOR_UPDATE_DOCS=1 .venv/bin/python -m pytest tests/test_settings.py -k docs"

ALL = get_registry().techniques


# -- the declarations -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_technique_declares_a_settings_dataclass_with_help(name):
    technique = ALL[name]
    cls = technique.settings_class()
    assert dataclasses.is_dataclass(cls) and issubclass(cls, TechniqueSettings)
    rows = technique.describe()["settings"]
    assert [r["name"] for r in rows] == list(technique.defaults)
    for row in rows:
        assert set(row) == {"name", "type", "default", "help"}
        assert row["help"], f"{name}: setting {row['name']} has no help"
        assert row["type"] in ("int", "float", "bool", "str"), row
        assert technique.defaults[row["name"]] == row["default"]
    assert technique.settings({}) == technique.defaults  # the defaults pass their own checks
    json.dumps(technique.describe())  # what `advisor techniques --json` prints


def test_trainable_techniques_extend_the_shared_training_settings():
    trainable = [t for t in ALL.values() if isinstance(t, TrainableTechnique) or t.kind == "merge"]
    assert len(trainable) >= 10
    for t in trainable:
        assert issubclass(t.settings_class(), TrainSettings), t.name
        assert set(TRAIN_DEFAULTS) <= set(t.defaults)
    for t in ALL.values():
        if t.kind in ("prompting", "retrieval"):
            assert not set(TRAIN_DEFAULTS) & set(t.defaults), t.name


def test_train_defaults_and_train_config_come_from_the_dataclass():
    assert {f.name: f.default for f in dataclasses.fields(TrainSettings)} == TRAIN_DEFAULTS
    assert TRAIN_DEFAULTS["learning_rate"] == 2e-4 and "seed" not in TRAIN_DEFAULTS
    cfg = TrainConfig.from_settings({**ALL["lora"].defaults, "epochs": 3}, seed=7)
    assert (cfg.epochs, cfg.seed, cfg.learning_rate) == (3, 7, 1e-3)
    with pytest.raises(UsageError, match="batch_size"):
        TrainConfig(batch_size=0)


def test_defaults_are_unchanged():
    """The defaults each technique had when they were plain dicts (a change here changes results)."""
    train = dict(TRAIN_DEFAULTS)
    lora = {"r": 8, "alpha": 16, "dropout": 0.05, "targets": "q_proj,v_proj"}
    merge = {"alpha": 16, "dropout": 0.05, "targets": "q_proj,v_proj", "split": "halves"}
    expected = {
        "prompting": {},
        "few-shot": {"k": 3, "select": "random"},
        "bm25-rag": {"k": 3},
        "embedding-rag": {"k": 3, "hybrid": False, "embedding_model": ""},
        "lora": {**train, "learning_rate": 1e-3, **lora},
        "qlora": {**train, "learning_rate": 1e-3, **lora},
        "ia3": {
            **train,
            "learning_rate": 3e-3,
            "targets": "k_proj,v_proj,down_proj",
            "feedforward": "down_proj",
        },
        "prefix-tuning": {**train, "learning_rate": 1e-2, "virtual_tokens": 16},
        "prompt-tuning": {**train, "learning_rate": 3e-2, "virtual_tokens": 16},
        "p-tuning": {**train, "learning_rate": 1e-2, "virtual_tokens": 16, "encoder_hidden": 128},
        "bitfit": {**train, "learning_rate": 1e-3},
        "partial-ft": {**train, "learning_rate": 1e-4, "layers": 2},
        "full-ft": {**train, "learning_rate": 5e-5},
        "merge-linear": {**train, "learning_rate": 1e-3, **merge, "r": 8, "weights": "0.5,0.5"},
        "merge-slerp": {**train, "learning_rate": 1e-3, **merge, "r": 8, "weights": "0.5,0.5"},
        "merge-ties": {
            **train,
            "learning_rate": 1e-3,
            **merge,
            "r": 8,
            "weights": "1.0,1.0",
            "method": "ties",
            "density": 0.5,
        },
        "merge-concat": {**train, "learning_rate": 1e-3, **merge, "r1": 8, "r2": 4, "weights": "0.5,0.5"},
    }
    assert train == {
        "learning_rate": 2e-4,
        "epochs": 1,
        "max_steps": 0,
        "batch_size": 8,
        "grad_accum": 1,
        "prompt_loss_weight": 0.0,
        "gradient_checkpointing": False,
        "max_length": 384,
        "val_fraction": 0.1,
        "warmup_steps": 5,
    }
    assert {name: ALL[name].defaults for name in expected} == expected


# -- parsing and checking -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, overrides, fragment",
    [
        ("lora", {"r": "0"}, "setting r=0 must be >= 1"),
        ("lora", {"alpha": 0}, "setting alpha=0 must be >= 1"),
        ("lora", {"dropout": "1"}, "setting dropout=1.0 must be in [0, 1)"),
        ("lora", {"dropout": "-0.1"}, "setting dropout=-0.1 must be in [0, 1)"),
        ("lora", {"targets": " , "}, "setting targets=' , ' must be one or more module names"),
        ("lora", {"learning_rate": "0"}, "setting learning_rate=0.0 must be > 0"),
        ("lora", {"learning_rate": "-1e-3"}, "setting learning_rate=-0.001 must be > 0"),
        ("lora", {"batch_size": "0"}, "setting batch_size=0 must be >= 1"),
        ("lora", {"epochs": 0}, "setting epochs=0 must be >= 1"),
        ("lora", {"max_steps": -1}, "setting max_steps=-1 must be >= 0"),
        ("lora", {"grad_accum": 0}, "setting grad_accum=0 must be >= 1"),
        ("lora", {"val_fraction": 1}, "setting val_fraction=1.0 must be in [0, 1)"),
        ("lora", {"warmup_steps": 0}, "setting warmup_steps=0 must be >= 1"),
        ("lora", {"max_length": 0}, "setting max_length=0 must be >= 1"),
        ("lora", {"prompt_loss_weight": -1}, "setting prompt_loss_weight=-1.0 must be >= 0"),
        ("qlora", {"r": -4}, "setting r=-4 must be >= 1"),
        ("few-shot", {"k": "0"}, "setting k=0 must be >= 1"),
        ("few-shot", {"select": "knn"}, "setting select='knn' must be one of random, bm25"),
        ("bm25-rag", {"k": 0}, "setting k=0 must be >= 1"),
        ("embedding-rag", {"k": -1}, "setting k=-1 must be >= 1"),
        ("ia3", {"feedforward": "up_proj"}, "setting feedforward='up_proj' must be some of"),
        ("prefix-tuning", {"virtual_tokens": 0}, "setting virtual_tokens=0 must be >= 1"),
        ("prompt-tuning", {"virtual_tokens": 0}, "setting virtual_tokens=0 must be >= 1"),
        ("p-tuning", {"encoder_hidden": 0}, "setting encoder_hidden=0 must be >= 1"),
        ("partial-ft", {"layers": "0"}, "setting layers=0 must be >= 1"),
        ("merge-linear", {"weights": "1"}, "setting weights='1' must be 2 comma-separated numbers"),
        ("merge-linear", {"weights": "a,b"}, "setting weights='a,b' must be 2 comma-separated numbers"),
        ("merge-linear", {"split": "thirds"}, "setting split='thirds' must be one of halves, seeds"),
        ("merge-slerp", {"weights": "1,-1"}, "setting weights='1,-1' must be 2 numbers whose sum is not 0"),
        ("merge-ties", {"density": "0"}, "setting density=0.0 must be in (0, 1]"),
        ("merge-ties", {"density": 1.5}, "setting density=1.5 must be in (0, 1]"),
        ("merge-ties", {"method": "svd"}, "setting method='svd' must be one of ties, dare_ties, dare_linear"),
        ("merge-concat", {"r2": 0}, "setting r2=0 must be >= 1"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_setting_and_its_range(name, overrides, fragment):
    with pytest.raises(UsageError) as err:
        ALL[name].settings(overrides)
    message = str(err.value)
    assert fragment in message and "\n" not in message


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("dropout", "abc", "setting dropout='abc': expected a float"),
        ("r", "8.5", "setting r='8.5': expected a int"),
        ("r", True, "setting r=True: expected a int"),
        ("gradient_checkpointing", "maybe", "setting gradient_checkpointing='maybe': expected a bool"),
        ("learning_rate", [1], "setting learning_rate=[1]: expected a float"),
    ],
)
def test_a_value_of_the_wrong_type_says_what_was_expected(key, value, expected):
    with pytest.raises(UsageError) as err:
        ALL["lora"].settings({key: value})
    assert str(err.value) == expected


def test_set_strings_and_suite_values_are_parsed_by_the_field_type():
    s = ALL["lora"].settings(
        {"r": " 16 ", "dropout": "0", "learning_rate": 1, "gradient_checkpointing": "on", "targets": "q_proj"}
    )
    assert (s["r"], s["dropout"], s["learning_rate"], s["gradient_checkpointing"]) == (16, 0.0, 1.0, True)
    assert isinstance(s["dropout"], float) and isinstance(s["learning_rate"], float)
    # typed values from a suite's TOML: an integral float for an int, a list for a comma list
    s = ALL["lora"].settings({"r": 4.0, "targets": ["q_proj", "k_proj"], "gradient_checkpointing": False})
    assert s["r"] == 4 and isinstance(s["r"], int) and s["targets"] == "q_proj,k_proj"
    assert ALL["embedding-rag"].settings({"hybrid": "false"})["hybrid"] is False
    assert ALL["merge-ties"].settings({"weights": [1, 0.5]})["weights"] == "1,0.5"


def test_settings_returns_a_plain_dict_of_the_defaults_and_overrides():
    s = ALL["partial-ft"].settings({"layers": "3"})
    assert type(s) is dict and s == {**ALL["partial-ft"].defaults, "layers": 3}


@pytest.mark.parametrize(
    "tp, text, value",
    [
        (int, "12", 12),
        (float, "3e-4", 3e-4),
        (bool, "YES", True),
        (bool, "0", False),
        (str, "x,y", "x,y"),
        (list[str], "a, b,,c", ["a", "b", "c"]),
        (list[int], "1,2", [1, 2]),
        (list[int], "[3, 4]", [3, 4]),
        (list[float], [1, "2.5"], [1.0, 2.5]),
        (int | None, "none", None),
        (int | None, "5", 5),
    ],
)
def test_parse_setting(tp, text, value):
    assert parse_setting("x", text, tp) == value


def test_parse_setting_names_the_key_of_a_bad_list_item():
    with pytest.raises(UsageError) as err:
        parse_setting("layers", "1,two", list[int])
    assert str(err.value) == "setting layers='1,two': expected a list[int] (comma-separated)"


# -- a technique written against the API ------------------------------------------------------------


@dataclasses.dataclass
class _EchoSettings(TechniqueSettings):
    times: int = setting(2, "how many times the prompt is repeated")
    words: list[str] = setting(["a", "b"], "words to add")
    label: str | None = setting(None, "an optional label")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_min("times", 1)


class _Echo(Technique):
    name = "echo"
    Settings = _EchoSettings


class _Legacy(Technique):
    name = "legacy"
    defaults = {"k": 3, "mode": "fast", "flag": False, "names": ["x"]}  # the 0.2 way, still accepted


class _LegacyTrainer(TrainableTechnique, Technique):
    name = "legacy-trainer"
    defaults = {**TRAIN_DEFAULTS, "learning_rate": 1e-2, "depth": 2}


def test_a_third_party_settings_dataclass():
    echo = _Echo()
    assert echo.defaults == {"times": 2, "words": ["a", "b"], "label": None}
    assert echo.settings({"words": "x, y", "label": "hi"}) == {"times": 2, "words": ["x", "y"], "label": "hi"}
    assert echo.settings({})["words"] is not _EchoSettings().words  # list defaults are not shared
    types = {r["name"]: r["type"] for r in echo.describe()["settings"]}
    assert types == {"times": "int", "words": "list[str]", "label": "str | None"}
    with pytest.raises(UsageError, match=r"^setting times=0 must be >= 1$"):
        echo.settings({"times": "0"})
    with pytest.raises(
        UsageError, match=r"technique 'echo' does not take time \(it takes: label, times, words\)"
    ):
        echo.settings({"time": 1})


def test_a_technique_with_a_plain_defaults_dict_keeps_working():
    legacy = _Legacy()
    assert legacy.defaults == {"k": 3, "mode": "fast", "flag": False, "names": ["x"]}
    assert legacy.settings({"k": "5", "flag": "true", "names": "a,b"}) == {
        "k": 5,
        "mode": "fast",
        "flag": True,
        "names": ["a", "b"],
    }
    with pytest.raises(UsageError, match="expected a int"):
        legacy.settings({"k": "many"})
    assert [r["type"] for r in legacy.describe()["settings"]] == ["int", "str", "bool", "list[str]"]
    trainer = _LegacyTrainer()
    assert trainer.defaults["learning_rate"] == 1e-2 and trainer.defaults["depth"] == 2
    rows = {r["name"]: r for r in trainer.describe()["settings"]}
    assert rows["learning_rate"]["help"]  # the shared settings keep their help and their checks
    with pytest.raises(UsageError, match="batch_size"):
        trainer.settings({"batch_size": 0})


def test_a_changed_default_keeps_the_help_of_the_base_field():
    rows = {r["name"]: r for r in ALL["lora"].describe()["settings"]}
    base = {r["name"]: r for r in ALL["full-ft"].describe()["settings"]}
    assert rows["learning_rate"]["default"] == 1e-3 and base["learning_rate"]["default"] == 5e-5
    assert rows["learning_rate"]["help"] == base["learning_rate"]["help"] != ""


# -- what users see: advisor run, suites, advisor techniques --json ----------------------------------


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if anything starts loading a model or a task."""
    import advisor.train.evaluate as evaluate
    import advisor.train.models as models

    def loaded(*args, **kwargs):
        raise AssertionError("a model or task was loaded before the settings were checked")

    monkeypatch.setattr(models, "load_model", loaded)
    monkeypatch.setattr(models, "resolve_model", loaded)
    monkeypatch.setattr(evaluate, "load_task", loaded)


@pytest.mark.parametrize(
    "sets, message",
    [
        (["r=0"], "error: setting r=0 must be >= 1"),
        (["dropout=abc"], "error: setting dropout='abc': expected a float"),
        (["dropout=1.5"], "error: setting dropout=1.5 must be in [0, 1)"),
        (["r=16", "learning_rate=0"], "error: setting learning_rate=0.0 must be > 0"),
    ],
)
def test_advisor_run_rejects_a_bad_value_before_any_model_loads(run, no_model, sets, message):
    args = ["run", "-t", "lora", "--task", "json_extract"]
    for item in sets:
        args += ["--set", item]
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == message


def test_techniques_json_has_each_setting_with_type_default_and_help(run):
    rows = {r["name"]: r for r in json.loads(run("techniques", "--json").stdout)}
    settings = {s["name"]: s for s in rows["lora"]["settings"]}
    assert settings["r"] == {
        "name": "r",
        "type": "int",
        "default": 8,
        "help": ALL["lora"].describe()["settings"][list(ALL["lora"].defaults).index("r")]["help"],
    }
    assert rows["lora"]["defaults"]["r"] == 8  # kept for existing readers
    assert rows["prompting"]["settings"] == []


# -- docs/techniques.md ----------------------------------------------------------------------------


def test_settings_table():
    table = settings_table(ALL["few-shot"])
    lines = table.splitlines()
    assert lines[0] == "| setting | type | default | help |"
    assert lines[2].startswith("| `k` | int | `3` | ")
    assert lines[3].startswith("| `select` | str | `random` | ")
    assert settings_table(ALL["prompting"]) == "_No settings._\n"
    own = settings_table(ALL["lora"], omit=TrainSettings)
    assert "`learning_rate` | float | `0.001`" in own and "`batch_size`" not in own and "`r` | int" in own


def test_docs_settings_tables_match_the_dataclasses():
    text = DOCS.read_text(encoding="utf-8")
    assert BEGIN in text and END in text, f"{DOCS} lost its settings-table markers ({BEGIN} ... {END})"
    head, rest = text.split(BEGIN, 1)
    marker_line, rest = rest.split("\n", 1)
    committed, tail = rest.split(END, 1)
    generated = "\n" + settings_docs(get_registry().techniques.values()) + "\n"  # built-ins only
    if committed != generated and os.environ.get("ADVISOR_UPDATE_DOCS"):
        DOCS.write_text(head + BEGIN + marker_line + "\n" + generated + END + tail, encoding="utf-8")
        return
    assert committed == generated, (
        f"the settings tables in {DOCS.relative_to(ROOT)} differ from the techniques' Settings "
        f"dataclasses; regenerate them with: {REGENERATE}"
    )
    for name in get_registry().techniques:
        assert re.search(rf"^### `{re.escape(name)}`$", generated, re.M)
