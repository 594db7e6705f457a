import pytest

from dfkd.core.config import build_config, parse_override
from dfkd.core.errors import ConfigError
from dfkd.discriminator_distillation.config import DFKDConfig


def test_yaml_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("generator:\n  ngf: 16\n  optim: {lr: 0.2}\ntrain: {iters: 50}\n")
    cfg = build_config(DFKDConfig(), [path], ["train.iters=7", "generator.optim.lr=1e-3",
                                              "loss.onehot=2"])
    assert cfg.generator.ngf == 16
    assert cfg.generator.optim.lr == pytest.approx(1e-3)  # "1e-3" is a YAML string: coerced
    assert cfg.generator.optim.name == "adam"  # untouched default survives the merge
    assert cfg.train.iters == 7
    assert cfg.loss == {"onehot": 2.0}
    assert DFKDConfig().train.iters == 1000  # defaults are not mutated


def test_int_given_for_float_becomes_float():
    cfg = build_config(DFKDConfig(), [], ["student.optim.lr=1"])
    assert isinstance(cfg.student.optim.lr, float)


@pytest.mark.parametrize("override, words", [
    ("generator.ngff=3", ["generator.ngff", "generator.ngf"]),
    ("trian.iters=3", ["trian", "train"]),
    ("train.iters=abc", ["train.iters", "int", "abc"]),
    ("student.optim=3", ["student.optim", "mapping"]),
    ("train.iters", ["key=value"]),
])
def test_bad_overrides_name_the_key(override, words):
    with pytest.raises(ConfigError) as err:
        build_config(DFKDConfig(), [], [override])
    for word in words:
        assert word in str(err.value)


def test_unknown_key_in_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train: {itres: 5}\n")
    with pytest.raises(ConfigError, match="train.itres"):
        build_config(DFKDConfig(), [path])


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        build_config(DFKDConfig(), [tmp_path / "nope.yaml"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        build_config(DFKDConfig(), [bad])


def test_parse_override_nesting():
    assert parse_override("a.b.c=[1, 2]") == {"a": {"b": {"c": [1, 2]}}}
