import dataclasses
import math
import subprocess
import sys
import typing

import pytest
import torch
import torch.nn as nn
from conftest import ROOT

from dfkd.adversarial_kd.config import AFDConfig, KDConfig
from dfkd.cli import run_main
from dfkd.core.config import (
    CONFIG_DIR,
    RANGES,
    UNCONSTRAINED,
    build_config,
    check_value,
    parse_override,
    range_of,
    validate,
)
from dfkd.core.errors import ConfigError
from dfkd.discriminator_distillation import METHODS as DATA_FREE_METHODS
from dfkd.discriminator_distillation.config import DFKDConfig
from dfkd.gan_teachers.config import GANConfig
from dfkd.generator_distillation.config import CompressConfig
from dfkd.joint_distillation.config import JointConfig


def test_yaml_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("generator:\n  ngf: 16\n  optim: {lr: 0.2}\ntrain: {iters: 50}\n")
    cfg = build_config(DFKDConfig(), [path], ["train.iters=7", "generator.optim.lr=1e-3",
                                              "options.onehot=2"])
    assert cfg.generator.ngf == 16
    assert cfg.generator.optim.lr == pytest.approx(1e-3)  # "1e-3" is a YAML string: coerced
    assert cfg.generator.optim.name == "adam"  # untouched default survives the merge
    assert cfg.train.iters == 7
    assert cfg.options == {"onehot": 2}  # a method's options: typed by the method later
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


# -- value ranges (one table, checked when a config is read) --------------------------------
CONFIGS = [DFKDConfig, KDConfig, AFDConfig, GANConfig, CompressConfig, JointConfig]


@pytest.mark.parametrize("config, override, message", [
    # counts >= 1
    (DFKDConfig, "train.iters=-5", "config key 'train.iters' must be >= 1, got -5"),
    (DFKDConfig, "train.batch_size=0", "config key 'train.batch_size' must be >= 1, got 0"),
    (DFKDConfig, "train.eval_every=0", "config key 'train.eval_every' must be >= 1, got 0"),
    (DFKDConfig, "generator.nz=0", "config key 'generator.nz' must be >= 1, got 0"),
    (DFKDConfig, "generator.members=0", "config key 'generator.members' must be >= 1, got 0"),
    (DFKDConfig, "student.steps=0", "config key 'student.steps' must be >= 1, got 0"),
    (KDConfig, "train.epochs=0", "config key 'train.epochs' must be >= 1, got 0"),
    (KDConfig, "train.log_every=-1", "config key 'train.log_every' must be >= 1, got -1"),
    (KDConfig, "knowledge.kdsvd.k=0", "config key 'knowledge.kdsvd.k' must be >= 1, got 0"),
    (KDConfig, "knowledge.ddkd.steps=0", "config key 'knowledge.ddkd.steps' must be >= 1, got 0"),
    (AFDConfig, "peer.steps=0", "config key 'peer.steps' must be >= 1, got 0"),
    (AFDConfig, "options.ndf=0", "config key 'options.ndf' must be >= 1, got 0"),
    (GANConfig, "train.eval_pairs=0", "config key 'train.eval_pairs' must be >= 1, got 0"),
    (GANConfig, "n_layers_D=0", "config key 'n_layers_D' must be >= 1, got 0"),
    (CompressConfig, "student_ngf=0", "config key 'student_ngf' must be >= 1, got 0"),
    (JointConfig, "student_ndf=-2", "config key 'student_ndf' must be >= 1, got -2"),
    # counts >= 0 (0: off / the default)
    (DFKDConfig, "generator.steps=-1", "config key 'generator.steps' must be >= 0, got -1"),
    (DFKDConfig, "replay.capacity=-1", "config key 'replay.capacity' must be >= 0, got -1"),
    (DFKDConfig, "train.image_every=-1", "config key 'train.image_every' must be >= 0, got -1"),
    (KDConfig, "train.threads=-1", "config key 'train.threads' must be >= 0, got -1"),
    (GANConfig, "options.pool_size=-1", "config key 'options.pool_size' must be >= 0, got -1"),
    (JointConfig, "student.schedule.milestones=[10, -1]",
     "config key 'student.schedule.milestones[1]' must be >= 0, got -1"),
    # rates > 0
    (DFKDConfig, "generator.optim.lr=0", "config key 'generator.optim.lr' must be > 0, got 0.0"),
    (KDConfig, "critic.optim.lr=-1e-3", "config key 'critic.optim.lr' must be > 0, got -0.001"),
    (AFDConfig, "options.temperature=0", "config key 'options.temperature' must be > 0, got 0"),
    (DFKDConfig, "options.temperature=0", "config key 'options.temperature' must be > 0, got 0"),
    (KDConfig, "knowledge.temperature=-4", "config key 'knowledge.temperature' must be > 0"),
    (CompressConfig, "student.schedule.gamma=0",
     "config key 'student.schedule.gamma' must be > 0, got 0.0"),
    (GANConfig, "generator.optim.lr=.nan", "config key 'generator.optim.lr' must be > 0, got nan"),
    # momenta and fractions
    (DFKDConfig, "student.optim.momentum=1", "config key 'student.optim.momentum' must be in [0, 1), got 1.0"),
    (DFKDConfig, "generator.ema=1.5", "config key 'generator.ema' must be in [0, 1), got 1.5"),
    (DFKDConfig, "replay.ratio=1.5", "config key 'replay.ratio' must be in [0, 1], got 1.5"),
    (DFKDConfig, "monitor.min_class_entropy=-0.1",
     "config key 'monitor.min_class_entropy' must be in [0, 1], got -0.1"),
    (GANConfig, "discriminator.optim.betas=[0.5, 1.0]",
     "config key 'discriminator.optim.betas[1]' must be in [0, 1), got 1.0"),
    (GANConfig, "discriminator.optim.betas=[0.5]",
     "config key 'discriminator.optim.betas' must hold 2 numbers, got [0.5]"),
    (CompressConfig, "student.schedule.min_lr_ratio=2",
     "config key 'student.schedule.min_lr_ratio' must be in [0, 1], got 2.0"),
    (KDConfig, "knowledge.tf_kd.virtual_prob=1",
     "config key 'knowledge.tf_kd.virtual_prob' must be in (0, 1), got 1.0"),
    (DFKDConfig, "knowledge.crd.temperature=0",
     "config key 'knowledge.crd.temperature' must be > 0, got 0.0"),
    (KDConfig, "knowledge.dkd.beta=-8", "config key 'knowledge.dkd.beta' must be >= 0, got -8.0"),
    # weights and magnitudes >= 0
    (DFKDConfig, "student_loss.kd=-1", "config key 'student_loss.kd' must be >= 0, got -1.0"),
    (DFKDConfig, "options.at=-250", "config key 'options.at' must be >= 0, got -250"),
    (DFKDConfig, "generator.clip_grad=-5", "config key 'generator.clip_grad' must be >= 0, got -5.0"),
    (DFKDConfig, "augment.mixup=-1", "config key 'augment.mixup' must be >= 0, got -1.0"),
    (KDConfig, "student.optim.weight_decay=-1e-4",
     "config key 'student.optim.weight_decay' must be >= 0, got -0.0001"),
    (AFDConfig, "options.adv_weight=-1", "config key 'options.adv_weight' must be >= 0, got -1"),
    (GANConfig, "options.lambda_identity=-0.5",
     "config key 'options.lambda_identity' must be >= 0, got -0.5"),
    (CompressConfig, "options.recon_weight=-100",
     "config key 'options.recon_weight' must be >= 0, got -100"),
    (JointConfig, "options.pixel_weight=-30", "config key 'options.pixel_weight' must be >= 0, got -30"),
])
def test_out_of_range_values_are_one_error_naming_the_key(config, override, message):
    with pytest.raises(ConfigError) as err:
        build_config(config(), [], [override])
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_bad_value_in_a_yaml_file_is_named_too(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train: {batch_size: 0}\n")
    with pytest.raises(ConfigError, match=r"'train.batch_size' must be >= 1, got 0"):
        build_config(DFKDConfig(), [path])
    # an override may repair it: what is checked is the merged config
    assert build_config(DFKDConfig(), [path], ["train.batch_size=8"]).train.batch_size == 8


@pytest.mark.parametrize("override", [
    "generator.steps=0",  # a frozen generator (see RANGES["steps"])
    "critic.steps=0", "replay.capacity=0", "generator.ema=0", "student.ema=0.999",
    "train.image_every=0", "train.threads=0", "generator.clip_grad=0", "replay.ratio=1",
    "replay.ratio=0", "student.optim.momentum=0", "student.schedule.min_lr_ratio=1",
    "options.onehot=0", "student_loss.kd=0", "generator.optim.lr=1e-6", "train.iters=1",
])
def test_the_edges_of_each_range_are_accepted(override):
    build_config(DFKDConfig(), [], [override])


def numeric_fields(cls, prefix=""):
    """Dotted keys of every int/float (or list of them) field under config class ``cls``."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            yield from numeric_fields(tp, f"{prefix}{f.name}.")
            continue
        args = typing.get_args(tp)
        if tp in (int, float) or (typing.get_origin(tp) in (list, dict) and args[-1] in (int, float)):
            yield f"{prefix}{f.name}"


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.__name__)
def test_every_numeric_field_has_a_range(config):
    missing = [key for key in numeric_fields(config)
               if range_of(key) is None and key.split(".")[-1] not in UNCONSTRAINED]
    assert not missing, f"give these keys a rule in dfkd.core.config.RANGES: {missing}"


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.__name__)
def test_defaults_are_in_range(config):
    validate(config())


# every data-free method's folder (from the registry) and the other tools' folders
FAMILY = {**{name: DFKDConfig for name in DATA_FREE_METHODS.names()}, "afd": AFDConfig,
          "kd": KDConfig, "gan": GANConfig, "ppcd": JointConfig,
          **{name: CompressConfig for name in ("compress", "omgd", "dcd", "portable_gan", "ackd")}}
JOINT = {"compress/fashion.yaml"}  # tools/distill_gan.py's (an unconditional task)
SHIPPED = sorted(CONFIG_DIR.glob("*/*.yaml"))


def test_every_config_folder_has_a_family():
    assert SHIPPED and {p.parent.name for p in SHIPPED} <= set(FAMILY)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_yaml_validates(path):
    name = f"{path.parent.name}/{path.name}"
    build_config(JointConfig() if name in JOINT else FAMILY[path.parent.name](), [path])


def test_check_value_names_flags_and_nested_keys():
    with pytest.raises(ConfigError, match=r"^--epochs must be >= 1, got 0$"):
        check_value("--epochs", 0)
    with pytest.raises(ConfigError, match=r"^--batch-size must be >= 1, got -3$"):
        check_value("--batch-size", -3)
    with pytest.raises(ConfigError, match=r"'student.optim.lr' must be > 0, got inf"):
        check_value("student.optim.lr", math.inf)
    assert check_value("--epochs", 3) == 3
    assert check_value("train.seed", -7) == -7  # unconstrained
    assert check_value("dataset", "x") == "x"  # no rule
    assert range_of("generator.steps") is RANGES["steps"]
    assert range_of("student.steps") is RANGES["student.steps"]
    assert range_of("options.at") is RANGES["options"]  # a section's rule covers its weights
    assert range_of("options.temperature") is RANGES["temperature"]


def test_validate_takes_a_section_prefix():
    @dataclasses.dataclass
    class Options:
        at: float = 250.0
        temperature: float = 1.0

    validate(Options(), "options.")
    with pytest.raises(ConfigError, match=r"'options.temperature' must be > 0, got 0"):
        validate(Options(temperature=0), "options.")
    # a method's options are typed when read: "0e0" (a YAML string) becomes 0.0, then checked
    from dfkd.core.config import read_options

    with pytest.raises(ConfigError, match=r"^method dafl: config key 'options.temperature' "
                                          r"must be > 0, got 0.0$"):
        read_options(Options, {"temperature": "0e0"}, "dafl")


# -- the tools: one error line, exit status 2, before any data is needed --------------------
def one_error_line(main, argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_main(main, argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("flags, message", [
    (["--iters", "-5"], "error: config key 'train.iters' must be >= 1, got -5"),
    (["--batch-size", "0"], "error: config key 'train.batch_size' must be >= 1, got 0"),
])
def test_train_dfkd_rejects_bad_counts(flags, message, tmp_path, capsys):
    from dfkd.discriminator_distillation.train import main as train_dfkd

    out = tmp_path / "run"
    argv = ["--method", "dafl", "--data-root", str(tmp_path / "no-data"), "--out", str(out)]
    assert one_error_line(train_dfkd, argv + flags, capsys) == message
    assert not out.exists()  # refused before the run folder, the data or the teacher


def test_train_dfkd_tool_rejects_negative_iters(tmp_path):
    result = subprocess.run([sys.executable, "tools/train_dfkd.py", "--method", "dafl",
                             "--iters", "-5", "--data-root", str(tmp_path), "--out",
                             str(tmp_path / "run")],
                            cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr == "error: config key 'train.iters' must be >= 1, got -5\n"


@pytest.mark.parametrize("epochs", ["0", "-1"])
def test_train_teacher_rejects_bad_epochs(epochs, tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "tools"))
    from train_teacher import main as train_teacher

    out = tmp_path / "t.pt"
    argv = ["--epochs", epochs, "--data-root", str(tmp_path), "--out", str(out)]
    assert one_error_line(train_teacher, argv, capsys) == f"error: --epochs must be >= 1, got {epochs}"
    assert not out.exists()


# -- steps 0: a frozen player (the one exception to "steps >= 1") ---------------------------
def test_a_player_with_zero_steps_stays_frozen(tmp_path, recwarn):
    from dfkd.engine import AdversarialLoop, Player
    from dfkd.engine.config import OptimConfig, PlayerConfig
    from dfkd.engine.loop import StatelessMethod

    class Pull(StatelessMethod):
        def adversary_loss(self, iteration):
            return {"loss": generator(torch.ones(2, 3)).pow(2).mean()}

        def student_loss(self, iteration):
            return {"loss": (student(torch.ones(2, 3)) - 1).pow(2).mean()}

        def log_media(self, logger, iteration):
            pass

    generator, student = nn.Linear(3, 1), nn.Linear(3, 1)
    cfg = build_config(DFKDConfig(), [], ["generator.steps=0", "generator.schedule.name=cosine"])
    frozen = [p.detach().clone() for p in generator.parameters()]
    before = [p.detach().clone() for p in student.parameters()]
    gp = Player.from_config("generator", generator, cfg.generator, 3)
    sp = Player.from_config("student", student, PlayerConfig(optim=OptimConfig("sgd", lr=0.1)), 3)
    loop = AdversarialLoop(Pull(), sp, gp, 3, tmp_path)
    losses = loop.step(0)
    loop.run()
    assert set(losses) == {"student/loss"}  # the frozen player logs no loss
    assert all(torch.equal(a, b) for a, b in zip(frozen, generator.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(before, student.parameters()))
    assert not [w for w in recwarn if "lr_scheduler.step()" in str(w.message)]
