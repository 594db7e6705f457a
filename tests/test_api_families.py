"""The library API of the real-data and GAN families: dfkd.adversarial_kd.distill (data-driven
KD, adversarial terms included) and dfkd.joint_distillation.distill (a DCGAN of one's own)
on models and images of one's own, with resume, student files and clear errors."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

import dfkd
from dfkd.core.errors import ConfigError
from dfkd.metrics import accuracy

# the cosine schedule over 6 steps whatever the epochs asked, so 1 epoch + resume to 2 = 2
KD_TINY = {"train": {"batch_size": 16, "log_every": 1},
           "student": {"schedule": {"name": "cosine", "horizon": 6}}}


class OwnNet(nn.Module):
    """A user's classifier, defined here."""

    def __init__(self, width: int = 4, classes: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, width, 3, padding=1)
        self.fc = nn.Linear(4 * width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(nn.functional.adaptive_avg_pool2d(torch.relu(self.conv(x)), 2).flatten(1))


def labelled(n: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 12, 12, generator=gen), torch.arange(n) % 3


def kd(out, epochs: int, **kwargs) -> nn.Module:
    torch.manual_seed(0)
    teacher, student = OwnNet(8), OwnNet(4)
    return dfkd.adversarial_kd.distill(
        teacher, student, train_data=labelled(48), epochs=epochs, out=out, config=KD_TINY,
        student_loss={"ce": 0.5, "kd": 0.5, "adversarial_logits": 1.0}, **kwargs)


def test_kd_with_an_adversarial_term_on_ones_own_models_resumes_exactly(tmp_path):
    test = labelled(30, seed=2)
    whole = kd(tmp_path / "whole", 2, test_data=test)
    metrics = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    assert isinstance(whole, OwnNet) and not whole.training
    assert metrics["epochs"] == 2 and metrics["iters"] == 6  # 48 images / 16 per step
    assert metrics["student_loss"] == {"ce": 0.5, "kd": 0.5, "adversarial_logits": 1.0}
    assert accuracy(whole, TensorDataset(*test)) == pytest.approx(metrics["student_acc"])
    kd(tmp_path / "split", 1, test_data=test)
    resumed = kd(tmp_path / "split", 2, test_data=test, resume=True)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), f"resumed run differs from the uninterrupted one at {name}"
    loaded = dfkd.load_student(tmp_path / "whole", model=OwnNet(4))
    x = torch.rand(2, 1, 12, 12)
    assert torch.equal(loaded(x), whole(x))


def test_kd_without_test_data_measures_agreement_with_the_teacher(tmp_path):
    kd(tmp_path / "run", 1)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    last = metrics["history"][-1]
    assert "acc" not in last and 0.0 <= last["train_agreement"] <= 100.0
    assert metrics["teacher_acc"] is None and metrics["best_student_acc"] == last["train_agreement"]


@pytest.mark.parametrize("call, message", [
    (dict(train_data=torch.rand(4, 1, 12, 12)), "train_data must be a TensorDataset"),
    (dict(train_data=(torch.rand(4, 1, 12, 12), torch.tensor([0, 1, 2, 3]))),
     r"train_data: labels must be classes in \[0, 3\), found 0..3"),
    (dict(train_data=(torch.rand(4, 1, 12, 12), torch.zeros(4))),
     r"labels must be one integer class \(torch.long\) per image"),
    (dict(train_data=(torch.rand(4, 1, 12, 10), torch.zeros(4, dtype=torch.long))),
     "train_data images must be square"),
    (dict(test_data=(torch.rand(4, 1, 8, 8), torch.zeros(4, dtype=torch.long))),
     r"test_data images are \(1, 8, 8\), train_data's \(1, 12, 12\)"),
    (dict(student_loss={"nosuch": 1.0}), "nosuch"),
])
def test_bad_kd_calls_are_one_clear_error(tmp_path, call, message):
    from dfkd.core.errors import DfkdError

    kwargs = {**dict(train_data=labelled(8), epochs=1, out=tmp_path / "run", config=KD_TINY),
              **call}
    with pytest.raises(DfkdError, match=message):
        dfkd.adversarial_kd.distill(OwnNet(8), OwnNet(4), **kwargs)
    assert not (tmp_path / "run" / "latest.pt").exists()


def test_kd_refuses_mixup(tmp_path):
    with pytest.raises(ConfigError, match="augment.mixup blends images"):
        dfkd.adversarial_kd.distill(OwnNet(8), OwnNet(4), train_data=labelled(8), epochs=1,
                                    out=tmp_path / "run",
                                    config={"augment": {"mixup": 0.2}})


def small_gan(seed: int = 0):
    from generators.dcgan import DCGANDiscriminator, DCGANGenerator

    torch.manual_seed(seed)
    return DCGANGenerator(nz=8, ngf=8, nc=1), DCGANDiscriminator(ndf=8, nc=1)


GAN_TINY = {"train": {"batch_size": 8, "eval_every": 2, "image_every": 0, "log_every": 1,
                      "eval_pairs": 16}}


def joint(out, iters: int, **kwargs) -> nn.Module:
    teacher_g, teacher_d = small_gan()
    images = torch.rand(32, 1, 32, 32, generator=torch.Generator().manual_seed(3)) * 2 - 1
    return dfkd.joint_distillation.distill(teacher_g, teacher_d, images=images, student_ngf=4,
                                           student_ndf=4, iters=iters, out=out, config=GAN_TINY,
                                           **kwargs)


def test_joint_distillation_of_ones_own_dcgan_resumes_exactly(tmp_path):
    whole = joint(tmp_path / "whole", 4)
    assert whole(torch.randn(2, 8, 1, 1)).shape == (2, 1, 32, 32) and not whole.training
    metrics = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    # no FID features were named: the run compares with the teacher, keeps the lowest L1
    assert metrics["fid_features"] is None and "fid" not in metrics["history"][-1]
    assert metrics["best_l1_teacher"] == min(h["l1_teacher"] for h in metrics["history"])
    assert metrics["teacher_discriminator"] == "the given DCGANDiscriminator"
    assert (tmp_path / "whole" / "latest_net_D.pth").exists()
    joint(tmp_path / "split", 2)
    resumed = joint(tmp_path / "split", 4, resume=True)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), f"resumed run differs from the uninterrupted one at {name}"


def test_aguinaldo_needs_no_discriminator(tmp_path):
    teacher_g, _ = small_gan()
    images = torch.rand(16, 1, 32, 32) * 2 - 1
    student = dfkd.joint_distillation.distill(teacher_g, images=images, method="aguinaldo",
                                              student_ngf=4, iters=2, out=tmp_path / "run",
                                              config=GAN_TINY)
    assert student.main[-2].out_channels == 1 and not (tmp_path / "run" / "latest_net_D.pth").exists()


@pytest.mark.parametrize("call, message", [
    (dict(teacher_d=None), r"distils the teacher's discriminator too: pass teacher_d, or "
                           r"options=\{'d_distill_weight': 0\}"),
    (dict(images=torch.rand(8, 3, 32, 32)), r"images are \(3, 32, 32\); the DCGAN makes "
                                            r"\(1, 32, 32\) images"),
    (dict(teacher_g=nn.Linear(2, 2)), "is not a DCGAN generator"),
    (dict(method="nosuch"), "nosuch"),
])
def test_bad_joint_calls_are_one_clear_error(tmp_path, call, message):
    from dfkd.core.errors import DfkdError

    teacher_g, teacher_d = small_gan()
    kwargs = {**dict(teacher_g=teacher_g, teacher_d=teacher_d, images=torch.rand(8, 1, 32, 32),
                     iters=2, out=tmp_path / "run", config=GAN_TINY), **call}
    with pytest.raises(DfkdError, match=message):
        dfkd.joint_distillation.distill(**kwargs)
    assert not (tmp_path / "run" / "latest.pt").exists()
