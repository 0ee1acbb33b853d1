import pytest

from grokscope.config import RunConfig
from grokscope.errors import ConfigError
from grokscope.presets import describe, load_preset, names


def test_every_preset_loads_and_is_described():
    assert {"swaroop2026", "nanda2023", "power2022", "zhong2023_clock", "zhong2023_pizza",
            "doshi2024", "pair2023", "blog128"} <= set(names())
    for name, text in describe().items():
        assert text, name
        assert load_preset(name).preset == name


def test_swaroop_preset_has_the_paper_recipe():
    cfg = load_preset("swaroop2026")
    assert (cfg.task.p, cfg.task.frac_train, cfg.task.split) == (97, 0.3, "stratified")
    assert (cfg.model.input, cfg.model.d_mlp, cfg.model.act) == ("two_hot", 256, "relu")
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.weight_decay) == ("adamw", 1e-3, 1.0)


def test_roundtrip_and_stable_run_id():
    cfg = load_preset("nanda2023")
    again = RunConfig.from_dict(cfg.to_dict())
    assert again == cfg and again.run_id == cfg.run_id
    assert cfg.override(["train.steps=10"]).run_id != cfg.run_id


def test_override_parses_by_field_type():
    cfg = load_preset("swaroop2026").override(
        ["train.steps=2e4", "optim.weight_decay=0.3", "model.bias=false", "task.op=sub"]
    )
    assert cfg.train.steps == 20000 and isinstance(cfg.train.steps, int)
    assert cfg.optim.weight_decay == 0.3 and cfg.model.bias is False and cfg.task.op == "sub"


@pytest.mark.parametrize(
    "data, message",
    [
        ({"task": {"pp": 3}}, "unknown config key 'task.pp'"),
        ({"nonsense": 1}, "unknown config key 'nonsense'"),
        ({"task": {"p": "97"}}, "task.p must be int"),
        ({"model": {"bias": 1}}, "model.bias must be bool"),
        ({"task": {"p": 2}}, "task.p must be >= 3"),
        ({"task": {"op": "div", "p": 15}}, "must be prime"),
        ({"task": {"frac_train": 1.0}}, "frac_train must be in (0, 1)"),
        ({"task": {"noise": 1.0}}, "noise must be in [0, 1)"),
        ({"model": {"d_mlp": 0}}, "width) must be > 0"),
        ({"task": {"op": "pow"}}, "unknown op 'pow'"),
        ({"model": {"act": "tanh"}}, "model.act must be one of"),
    ],
)
def test_bad_configs_raise_one_line_errors(data, message):
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict(data)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "assignment, message",
    [("train.stepz=3", "unknown config key"), ("train.steps=abc", "train.steps must be int"),
     ("train", "expects key=value"), ("train=3", "needs a key inside it")],
)
def test_bad_overrides(assignment, message):
    with pytest.raises(ConfigError, match=message):
        load_preset("swaroop2026").override([assignment])
