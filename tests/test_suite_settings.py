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


@pytest.mark.parametrize("name", ["smoke", "quick", "nightly", "every-technique"])
def test_bundled_suites_use_valid_settings(name):
    assert load_suite(name).cells
