"""The data-free family's method contract: one file plus one config makes a method.

The template (``methods/_template.py``) is loaded as a new method file would be and run
through ``train_dfkd`` end to end with a config of its own; its options are checked when the
config is read, its learnable part trains with the student and is checkpointed and resumed.
"""
import importlib.util
import json
import sys
from dataclasses import fields

import pytest
import torch
from conftest import ROOT
from test_cli import dfkd_args

from dfkd.core.config import range_of, read_options
from dfkd.core.errors import ConfigError
from dfkd.discriminator_distillation import METHODS
from dfkd.discriminator_distillation.methods.base import DataFreeMethod
from dfkd.discriminator_distillation.setup import NoOptions
from dfkd.discriminator_distillation.train import main as train_dfkd

TEMPLATE = ROOT / "dfkd" / "discriminator_distillation" / "methods" / "_template.py"


@pytest.fixture
def template_method():
    """Import the template as a method file of its own (it registers ``template``)."""
    spec = importlib.util.spec_from_file_location("dfkd_test_template_method", TEMPLATE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    yield module
    METHODS.unregister("template")
    del sys.modules[spec.name]


def write_config(path, options: str) -> str:
    path.write_text(f"teacher: lenet5\nstudent: {{model: lenet5_half, steps: 2}}\n"
                    f"generator: {{model: dafl, ngf: 4, nz: 8}}\noptions: {options}\n")
    return str(path)


def test_template_is_not_registered_until_loaded():
    assert "template" not in METHODS
    assert set(METHODS.names()) >= {"dafl", "dfad", "zskt", "mad", "cgdd"}


def test_every_method_declares_typed_options_and_builds_them_from_a_mapping():
    for name in METHODS.names():
        cls = METHODS.get(name)
        assert issubclass(cls, DataFreeMethod)
        options = read_options(cls.Options, {}, name)
        assert isinstance(options, cls.Options)
        for f in fields(options):  # every option can be set from the config
            value = getattr(options, f.name)
            new = (not value) if isinstance(value, bool) else value * 2 if value else 1.0
            rule = range_of(f"options.{f.name}")
            if isinstance(value, (int, float)) and rule is not None and new not in rule:
                new = value / 2  # a bounded option (a momentum, a probability): halve it
            changed = read_options(cls.Options, {f.name: new}, name)
            assert getattr(changed, f.name) == new
    assert METHODS.get("dfad").Options is NoOptions


def test_unknown_or_mistyped_option_names_key_and_method(tmp_path, teacher, fake_data_root):
    base = dfkd_args("dafl", teacher, fake_data_root, tmp_path / "r", 1)
    with pytest.raises(ConfigError, match=r"method dafl: unknown config key 'options.onehott'"
                                          r".*did you mean 'options.onehot'"):
        train_dfkd(base + ["--set", "options.onehott=1"])
    with pytest.raises(ConfigError, match=r"method dafl: config key 'options.balance' expects "
                                          r"float"):
        train_dfkd(base + ["--set", "options.balance=[1]"])
    with pytest.raises(ConfigError, match=r"'loss' was renamed: use 'options'"):
        train_dfkd(base + ["--set", "loss.onehot=1"])
    assert not (tmp_path / "r").exists()  # refused before anything was written


def test_template_runs_end_to_end_with_its_own_part(template_method, teacher, fake_data_root,
                                                      tmp_path):
    config = write_config(tmp_path / "template.yaml", "{adversarial: 0.5}")
    out = tmp_path / "run"
    args = dfkd_args("template", teacher, fake_data_root, out, 2) + ["--config", config]
    assert train_dfkd(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "template" and metrics["config"]["options"] == {
        "adversarial": 0.5, "temperature": 1.0}
    state = torch.load(out / "latest.pt", weights_only=True)
    head = state["players"]["student"]["aux"]
    assert set(head) == {"method.weight", "method.bias"}
    assert not torch.equal(head["method.weight"], torch.eye(10))  # it trained with the student
    # the student's optimizer holds the head: its Adam moments are saved with the student's
    n_params = len(list(state["players"]["student"]["optimizer"]["state"]))
    assert n_params == 10 + 2  # LeNet-5-half's 10 tensors + the head's weight and bias

    split = tmp_path / "split"
    train_dfkd(dfkd_args("template", teacher, fake_data_root, split, 1) + ["--config", config])
    train_dfkd(dfkd_args("template", teacher, fake_data_root, split, 2)
               + ["--config", config, "--resume"])
    resumed = torch.load(split / "latest.pt", weights_only=True)["players"]["student"]["aux"]
    for key, value in head.items():
        assert torch.equal(value, resumed[key]), key


def test_a_part_for_an_unknown_player_is_refused(template_method, teacher, fake_data_root,
                                                 tmp_path, monkeypatch):
    monkeypatch.setattr(template_method.Template, "parts",
                        lambda self: {"critic": self.head})
    config = write_config(tmp_path / "template.yaml", "{}")
    with pytest.raises(ConfigError, match="parts\\(\\) names player 'critic'"):
        train_dfkd(dfkd_args("template", teacher, fake_data_root, tmp_path / "r", 1)
                   + ["--config", config])
