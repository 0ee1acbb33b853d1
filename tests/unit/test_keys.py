"""Dotted config keys (grokscope.keys): get / set / pop / type / flatten / column, and their one-line errors."""

import pytest

from grokscope.config import RunConfig
from grokscope.errors import ConfigError
from grokscope.keys import column, flatten, get_key, key_type, pop_key, set_key


def test_get_set_pop_on_dicts_and_dataclasses():
    cfg = RunConfig()
    d = cfg.to_dict()
    assert get_key(d, "optim.lr") == get_key(cfg, "optim.lr") == cfg.optim.lr
    assert get_key(d, "preset") == ""
    set_key(d, "task.data_seed", 7)
    assert d["task"]["data_seed"] == 7
    assert pop_key(d, "task.data_seed") == 7 and "data_seed" not in d["task"]


def test_flatten_nested_dotted_and_columns():
    tree = {"train": {"steps": 3}, "model.d_mlp": 8, "preset": "x"}
    assert flatten(tree) == {"train.steps": 3, "model.d_mlp": 8, "preset": "x"}
    assert flatten({"optim": {"weight_decay": 1.0}}, sep="_") == {column("optim.weight_decay"): 1.0}
    assert flatten({"r": {"a": {"min": 1}}}, leaf=lambda v: not isinstance(v, dict) or "min" in v) == {"r.a": {"min": 1}}


@pytest.mark.parametrize("key, message", [
    ("train.stepz", "[grid] unknown config key 'train.stepz' (valid here: steps, "),
    ("nonsense", "[grid] unknown config key 'nonsense' (valid here: preset, task, "),
    ("model", "[grid] 'model' is a section and needs a key inside it, e.g. model.<name>"),
    ("preset.x", "[grid] unknown config key 'preset.x' (preset is not a section)"),
])
def test_key_type_errors_are_one_line(key, message):
    with pytest.raises(ConfigError) as e:
        key_type(RunConfig, key, "[grid] ")
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_key_type_reads_the_field_type():
    assert key_type(RunConfig, "train.steps") is int and key_type(RunConfig, "optim.lr") is float
    assert key_type(RunConfig, "model.bias") is bool and key_type(RunConfig, "preset") is str
