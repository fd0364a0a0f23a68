"""A suite's technique settings are checked against the technique when the suite is read."""

from __future__ import annotations

import pytest

from advisor.bench.suite import load_suite
from advisor.errors import InputError


def test_a_misspelt_setting_fails_before_any_cell_runs(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text(
        'name = "s"\nmodels = ["smollm2-135m-instruct"]\ntasks = ["json_extract"]\n'
        "[techniques.lora]\nsettings = { rank = 8 }\n"
    )
    with pytest.raises(InputError, match=r"\[techniques.lora\] technique 'lora' does not take rank"):
        load_suite(suite)


@pytest.mark.parametrize(
    "settings, message",
    [
        ("{ r = -1 }", r"\[techniques.lora\] setting r=-1 must be >= 1"),
        ('{ dropout = "abc" }', r"\[techniques.lora\] setting dropout='abc': expected a float"),
        ("{ learning_rate = 0 }", r"\[techniques.lora\] setting learning_rate=0.0 must be > 0"),
    ],
)
def test_a_bad_setting_value_fails_when_the_suite_is_read(tmp_path, monkeypatch, settings, message):
    import advisor.train.models as models

    def load_model(*args, **kwargs):
        raise AssertionError("reading a suite must not load a model")

    monkeypatch.setattr(models, "load_model", load_model)
    suite = tmp_path / "s.toml"
    suite.write_text(
        'name = "s"\nmodels = ["smollm2-135m-instruct"]\ntasks = ["json_extract"]\n'
        f"[techniques.lora]\nsettings = {settings}\n"
    )
    with pytest.raises(InputError, match=message) as err:
        load_suite(suite)
    assert "\n" not in str(err.value)


def test_typed_suite_values_are_accepted(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text(
        'name = "s"\nmodels = ["smollm2-135m-instruct"]\ntasks = ["json_extract"]\n'
        '[techniques.lora]\nsettings = { r = 4, dropout = 0, targets = ["q_proj", "k_proj"], '
        "gradient_checkpointing = true }\n"
    )
    (cell,) = load_suite(suite).cells
    assert cell.settings["r"] == 4


@pytest.mark.parametrize("name", ["smoke", "quick", "nightly", "every-technique"])
def test_bundled_suites_use_valid_settings(name):
    assert load_suite(name).cells


def test_the_evaluation_batch_size_reaches_the_cell_but_not_its_identity(tmp_path):
    """`batch_size` is how a cell is run (like its time limit), not what it is: the cell's hash, and so
    its history in the store, stay the same when a suite tunes it."""
    from advisor.bench.runner import cell_args

    body = (
        'name = "s"\nmodels = ["smollm2-135m-instruct"]\ntasks = ["json_extract"]\n{}[techniques.prompting]\n'
    )
    plain, batched = tmp_path / "a.toml", tmp_path / "b.toml"
    plain.write_text(body.format(""))
    batched.write_text(body.format("batch_size = 32\n"))
    (a,) = load_suite(plain).cells
    (b,) = load_suite(batched).cells
    args = cell_args(b)
    assert args[args.index("--batch-size") + 1] == "32" and "--batch-size" not in cell_args(a)
    assert a.config_hash == b.config_hash
    bad = tmp_path / "c.toml"
    bad.write_text(body.format("batch_size = 0\n"))
    with pytest.raises(InputError, match="batch_size"):
        load_suite(bad)
