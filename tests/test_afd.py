"""AFD (Chung et al., ICML 2020): loss pieces by hand, player isolation, resume, the CLI."""
import json
import math

import pytest
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

from dfkd.adversarial_kd import RealDataSetup
from dfkd.adversarial_kd.afd import AFD, AFDOptions
from dfkd.adversarial_kd.config import AFDConfig
from dfkd.adversarial_kd.train_afd import build_peers
from dfkd.adversarial_kd.train_afd import main as train_afd
from dfkd.core.errors import ConfigError
from dfkd.engine import AdversarialLoop, Player
from dfkd.nets.discriminators import FeatureDiscriminator


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class ScalarPeer(nn.Module):
    """On a 1×1×1 image x: feature map a·x at ``feat``, logits [a·x, 0]."""

    groups = ("feat",)

    def __init__(self, a: float) -> None:
        super().__init__()
        self.feat = nn.Conv2d(1, 1, 1, bias=False)
        self.fc = nn.Linear(1, 2, bias=False)
        with torch.no_grad():
            self.feat.weight.fill_(a)
            self.fc.weight.copy_(torch.tensor([[1.0], [0.0]]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.feat(x).flatten(1))


class MeanD(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1).mean(1)


CPU = torch.device("cpu")


def scalar_afd(mode: str, **kw) -> AFD:
    """Peer 0 (the teacher slot) has map 2 and logits [2, 0], peer 1 (the student slot) map 1
    and logits [1, 0]; label 0; the adversary D(m) = m."""
    data = TensorDataset(torch.ones(1, 1, 1, 1), torch.tensor([0]))
    adversary = nn.ModuleDict({"0": MeanD(), "1": MeanD()})
    return AFD(ScalarPeer(2.0), ScalarPeer(1.0), adversary, AFDOptions(gan_mode=mode, **kw),
               data, RealDataSetup(1, 0, CPU))


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def kl_two(p_logits: tuple[float, float], q_logits: tuple[float, float]) -> float:
    """KL(softmax(p) ‖ softmax(q)) of two-class logits, written out."""
    def probs(z):
        e = [math.exp(v) for v in z]
        return [v / sum(e) for v in e]
    p, q = probs(p_logits), probs(q_logits)
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))


def test_lsgan_losses_by_hand():
    method = scalar_afd("lsgan", adv_weight=3.0, kl_weight=0.5, temperature=2.0)
    d = method.adversary_loss(0)
    # D_0: real = peer 1's map 1, fake = own map 2: ½[(1 − 1)² + 2²]; D_1: ½[(2 − 1)² + 1²]
    assert d["D_0"].item() == pytest.approx(2.0) and d["D_1"].item() == pytest.approx(1.0)
    assert d["loss"].item() == pytest.approx(3.0)
    s = method.student_loss(0)
    assert s["ce_0"].item() == pytest.approx(softplus(-2)) and s["ce_1"].item() == pytest.approx(softplus(-1))
    # τ = 2: logits halved, τ² = 4, times kl_weight 0.5; the target is the peer's distribution
    assert s["kl_0"].item() == pytest.approx(0.5 * 4 * kl_two((0.5, 0), (1, 0)), rel=1e-5)
    assert s["kl_1"].item() == pytest.approx(0.5 * 4 * kl_two((1, 0), (0.5, 0)), rel=1e-5)
    assert s["adv_0"].item() == pytest.approx(3.0 * (2 - 1) ** 2)  # own map judged "real"
    assert s["adv_1"].item() == pytest.approx(0.0)
    parts = [v for k, v in s.items() if k != "loss"]
    assert s["loss"].item() == pytest.approx(sum(p.item() for p in parts), rel=1e-6)


def test_vanilla_losses_by_hand():
    method = scalar_afd("vanilla")
    d = method.adversary_loss(0)
    assert d["D_0"].item() == pytest.approx(0.5 * (softplus(-1) + softplus(2)), rel=1e-5)
    assert d["D_1"].item() == pytest.approx(0.5 * (softplus(-2) + softplus(1)), rel=1e-5)
    s = method.student_loss(0)
    assert s["adv_0"].item() == pytest.approx(softplus(-2), rel=1e-5)
    assert s["adv_1"].item() == pytest.approx(softplus(-1), rel=1e-5)


def test_each_peer_learns_only_from_its_own_terms():
    method = scalar_afd("lsgan")
    s = method.student_loss(0)
    (s["kl_0"] + s["adv_0"]).backward()  # the peer's logits are detached, D_0 sees map 0 only
    assert method.peers["0"].feat.weight.grad is not None
    assert method.peers["1"].feat.weight.grad is None and method.peers["1"].fc.weight.grad is None


def test_the_adversary_slot_takes_one_discriminator_per_peer_in_peer_order():
    data = TensorDataset(torch.ones(1, 1, 1, 1), torch.tensor([0]))
    d0, d1 = MeanD(), MeanD()
    method = AFD(ScalarPeer(2.0), ScalarPeer(1.0), nn.ModuleDict({"1": d1, "0": d0}),
                 AFDOptions(), data, RealDataSetup(1, 0, CPU))
    assert list(method.discriminators.values()) == [d0, d1]  # D_i judges peer i
    assert list(method.peers.keys()) == ["0", "1"]
    with pytest.raises(ValueError, match="one discriminator per peer"):
        AFD(ScalarPeer(2.0), ScalarPeer(1.0), nn.ModuleDict({"0": d0}), AFDOptions(), data,
            RealDataSetup(1, 0, CPU))
    with pytest.raises(ValueError, match="takes no augment"):
        AFD(ScalarPeer(2.0), ScalarPeer(1.0), None, AFDOptions(), data,
            RealDataSetup(1, 0, CPU, augment=nn.Identity()))


def test_transfers_match_channels_and_resolution(tiny_classifier):
    data = TensorDataset(torch.randn(8, 1, 8, 8), torch.arange(8) % 10)
    method = AFD(tiny_classifier(width=4), tiny_classifier(width=6), None,
                 AFDOptions(peer_layers=["bn", "pool"], ndf=8), data, RealDataSetup(4, 0, CPU))
    # maps 4×8×8 and 6×2×2 -> common 4×2×2: peer 0 is pooled, peer 1 goes through a 1×1 conv
    assert [type(m).__name__ for m in method.transfers["0"]] == ["AdaptiveAvgPool2d"]
    assert [type(m).__name__ for m in method.transfers["1"]] == ["Conv2d"]
    _, maps = method.shared_maps(data.tensors[0][:4])
    assert [tuple(m.shape) for m in maps] == [(4, 4, 2, 2)] * 2
    assert method.discriminators["0"](maps[0]).shape == (4,)
    lenets = build_peers(["lenet5", "lenet5_half"], 1, 10)
    data32 = TensorDataset(torch.randn(4, 1, 32, 32), torch.arange(4))
    method = AFD(lenets["0"], lenets["1"], None, AFDOptions(), data32, RealDataSetup(2, 0, CPU))
    assert method.layers == ["maxpool2", "maxpool2"]  # each peer's last feature group
    assert method.transfers["0"][0].weight.shape == (8, 16, 1, 1)
    assert isinstance(method.transfers["1"], nn.Identity)


def test_each_phase_updates_only_its_player(tiny_classifier, tmp_path):
    data = TensorDataset(torch.randn(16, 1, 8, 8), torch.arange(16) % 10)
    method = AFD(tiny_classifier(width=4), tiny_classifier(width=6), None, AFDOptions(ndf=8),
                 data, RealDataSetup(8, 0, CPU))
    peers = method.peers
    cfg = AFDConfig()
    sp = Player.from_config("peer", peers, cfg.peer, 4,
                            aux=nn.ModuleDict({"transfers": method.transfers}))
    ap = Player.from_config("discriminator", method.discriminators, cfg.discriminator, 4)
    assert isinstance(method.discriminators["0"], FeatureDiscriminator)
    loop = AdversarialLoop(method, sp, ap, 4, tmp_path)

    def snapshot(player):
        return [p.detach().clone() for p in player.parameters()]

    def changed(before, player):
        return [not torch.equal(a, b) for a, b in zip(before, player.parameters())]

    s0, a0 = snapshot(sp), snapshot(ap)
    loop._phase(ap, method.adversary_loss, 0)
    assert not any(changed(s0, sp)) and all(changed(a0, ap))
    s1, a1 = snapshot(sp), snapshot(ap)
    loop._phase(sp, method.student_loss, 0)
    assert not any(changed(a1, ap))
    assert all(changed(s1, sp))  # both peers and peer 1's transfer (1×1 conv, 6 -> 4)
    assert len(s1) == len(list(peers.parameters())) + 1


def afd_args(data_root, out, epochs, *extra):
    return ["--data-root", str(data_root), "--out", str(out), "--epochs", str(epochs),
            "--batch-size", "32", "--set", "train.threads=1", "--set", "train.log_every=1",
            "--set", "options.ndf=16", *extra]


def test_cli_runs_and_writes_metrics(fake_data_root, tmp_path, capsys):
    out = tmp_path / "afd"
    assert train_afd(afd_args(fake_data_root, out, 2)) == 0
    assert "acc_0_lenet5=" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "afd" and metrics["peers"] == ["lenet5", "lenet5_half"]
    assert metrics["iters"] == 2 * (200 // 32) and metrics["epochs"] == 2
    assert [h["iteration"] for h in metrics["history"]] == [6, 12]  # both peers, each epoch
    assert {"acc_0_lenet5", "acc_1_lenet5_half"} <= set(metrics["history"][0])
    assert metrics["acc"] == metrics["acc_1_lenet5_half"] and metrics["best_acc"] is not None
    assert metrics["seconds"] > 0 and metrics["config"]["options"]["gan_mode"] == "lsgan"
    assert metrics["config"]["options"]["ndf"] == 16  # read into AFDOptions, saved whole
    assert metrics["config"]["options"]["temperature"] == 3.0
    assert (out / "best.pt").exists() and (out / "config.yaml").exists()
    # the deliverables: each peer alone, loadable in one call (the small peer is student.pt)
    import dfkd
    from dfkd.data import load_tensors
    from dfkd.metrics import accuracy

    test = load_tensors("fashion_mnist", str(fake_data_root), train=False)
    student, peer0 = dfkd.load_student(out), dfkd.load_student(out / "peer0.pt")
    size = [sum(p.numel() for p in m.parameters()) for m in (student, peer0)]
    assert size[0] < size[1]  # lenet5_half and lenet5
    assert accuracy(student, test) == pytest.approx(metrics["acc_1_lenet5_half"])
    assert accuracy(peer0, test) == pytest.approx(metrics["acc_0_lenet5"])
    assert metrics["student_files"] == {"lenet5": str(out / "peer0.pt"),
                                        "lenet5_half": str(out / "student.pt")}


def test_resume_equals_straight_run(fake_data_root, tmp_path):
    extra = ("--set", "peer.schedule.horizon=12",
             "--set", "options.gan_mode=wgangp")  # wgangp draws ε
    straight, split = tmp_path / "straight", tmp_path / "split"
    train_afd(afd_args(fake_data_root, straight, 2, *extra))
    train_afd(afd_args(fake_data_root, split, 1, *extra))
    train_afd(afd_args(fake_data_root, split, 2, *extra, "--resume"))
    a = torch.load(straight / "latest.pt", weights_only=True)["players"]
    b = torch.load(split / "latest.pt", weights_only=True)["players"]
    assert any(key.startswith("transfers.0") for key in a["peer"]["aux"])
    for player in ("peer", "discriminator"):
        for part in ("model", "aux"):
            for key, value in a[player][part].items():
                assert torch.equal(value, b[player][part][key]), (player, part, key)


def test_bad_config_is_a_clear_error(fake_data_root, tmp_path):
    with pytest.raises(ConfigError, match=r"peers\[1\].*unknown model 'lenet6'"):
        train_afd(afd_args(fake_data_root, tmp_path / "a", 1, "--peers", "lenet5", "lenet6"))
    with pytest.raises(ConfigError, match="exactly two peers"):
        train_afd(afd_args(fake_data_root, tmp_path / "b", 1, "--set", "peers=[lenet5]"))
    with pytest.raises(ConfigError, match="not a feature map"):
        train_afd(afd_args(fake_data_root, tmp_path / "c", 1, "--set",
                           "options.peer_layers=[fc2,fc2]"))
    with pytest.raises(ConfigError, match="gan_mode"):
        train_afd(afd_args(fake_data_root, tmp_path / "d", 1, "--set", "options.gan_mode=wgan"))
    with pytest.raises(ConfigError, match="peer_layers\\[0\\]"):
        train_afd(afd_args(fake_data_root, tmp_path / "e", 1, "--set",
                           "options.peer_layers=[nope,fc2]"))


def test_old_afd_keys_name_their_place_in_options(fake_data_root, tmp_path):
    with pytest.raises(ConfigError, match=r"^config key 'adv_weight' was renamed: use "
                                          r"'options.adv_weight'$"):
        train_afd(afd_args(fake_data_root, tmp_path / "a", 1, "--set", "adv_weight=0"))
    with pytest.raises(ConfigError, match=r"'peer_layers' was renamed: use 'options.peer_layers'"):
        train_afd(afd_args(fake_data_root, tmp_path / "b", 1, "--set", "peer_layers=[]"))
    with pytest.raises(ConfigError, match=r"^method afd: unknown config key 'options.adv_weigth'"
                                          r".*did you mean 'options.adv_weight'"):
        train_afd(afd_args(fake_data_root, tmp_path / "c", 1, "--set", "options.adv_weigth=0"))
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()
