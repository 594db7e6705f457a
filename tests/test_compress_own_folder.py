"""Compressing a 3-channel pix2pix/CycleGAN generator file of one's own (the original
``resnet_9blocks`` key layout) on a dataset folder in the original layout, end to end."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from dfkd.core.errors import ConfigError
from dfkd.data.image_folders import ImageFolderConfig
from dfkd.gan.setup import GANSetup, folder_translation
from dfkd.gan_teachers.train import main as train_gan
from dfkd.generator_distillation.gan_compression import GANCompression
from dfkd.generator_distillation.train import main as compress_gan
from generators.gan_checkpoint import load_pix2pix_state
from generators.pix2pix import define_D, define_G

SMALL = ["--load-size", "36", "--crop-size", "32", "--student-ngf", "2",
         "--set", "train.batch_size=2", "--set", "train.eval_every=2", "--set", "train.log_every=1",
         "--set", "train.image_every=2", "--set", "train.eval_pairs=2",
         "--set", "student.schedule.name=constant", "--set", "discriminator.schedule.name=constant"]


def write_folder(root, size=32):
    """A tiny aligned folder (train/: 4, test/: 2 A|B images of size×size halves) and an
    unaligned one (trainA/B, testA/B of non-square images)."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 4), ("test", 2)):
        (root / "aligned" / split).mkdir(parents=True)
        for i in range(n):
            ab = rng.integers(0, 256, (size, 2 * size, 3), dtype=np.uint8)
            Image.fromarray(ab).save(root / "aligned" / split / f"{i}.jpg")
            for side in "AB":
                folder = root / "unaligned" / f"{split}{side}"
                folder.mkdir(parents=True, exist_ok=True)
                image = rng.integers(0, 256, (size, size + 6, 3), dtype=np.uint8)
                Image.fromarray(image).save(folder / f"{i}.png")
    return root


def original_teacher(folder, ngf=4):
    """A 3-channel ResNet-9-block generator and its PatchGAN, saved as the original code saves
    them: ``torch.save(net.state_dict())`` (its key layout: stem model.1, blocks model.10-18,
    output convolution model.26)."""
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    g = define_G("resnet_9blocks", 3, 3, ngf=ngf, norm="batch")
    torch.save(g.state_dict(), folder / "latest_net_G.pth")
    torch.save(define_D("basic", 6, ndf=4).state_dict(), folder / "latest_net_D.pth")
    assert {"model.1.weight", "model.18.conv_block.5.weight", "model.26.weight"} <= set(
        g.state_dict())
    return folder / "latest_net_G.pth"


def compress(teacher, root, out, iters, *extra):
    return compress_gan(["--teacher-ckpt", str(teacher), "--dataroot", str(root / "aligned"),
                         "--dataset-mode", "aligned", "--out", str(out), "--iters", str(iters),
                         *SMALL, *extra])


def test_own_teacher_compressed_from_an_aligned_folder_resumes_exactly(tmp_path, capsys):
    root = write_folder(tmp_path / "data")
    teacher = original_teacher(tmp_path / "teacher")
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert compress(teacher, root, straight, 4) == 0
    printed = capsys.readouterr().out
    assert "pruned from the teacher" in printed and "discriminator from" in printed
    compress(teacher, root, split, 2)
    compress(teacher, root, split, 4, "--resume")
    a = torch.load(straight / "latest.pt", weights_only=True)["players"]
    b = torch.load(split / "latest.pt", weights_only=True)["players"]
    for player, part in (("student", "model"), ("student", "aux"), ("discriminator", "model")):
        for key, value in a[player][part].items():
            assert torch.equal(value, b[player][part][key]), (player, part, key)
    metrics = json.loads((straight / "metrics.json").read_text())
    assert {"psnr", "ssim", "psnr_teacher", "ssim_teacher"} <= set(metrics["history"][-1])
    assert metrics["config"]["data"]["dataroot"] == str(root / "aligned")
    student, info = load_pix2pix_state(straight / "latest_net_G.pth")
    assert (info["input_nc"], info["output_nc"], info["ngf"]) == (3, 3, 2)


def test_compression_batches_are_the_folders_random_crops(tmp_path):
    root = write_folder(tmp_path / "data")
    cfg = ImageFolderConfig(str(root / "aligned"), "aligned", load_size=36, crop_size=32)
    data, test_in, test_tg = folder_translation(cfg, 3, 3, seed=0, eval_pairs=2)
    teacher = define_G("resnet_9blocks", 3, 3, ngf=4).eval()
    method = GANCompression(teacher, define_G("resnet_9blocks", 3, 3, ngf=2),
                            define_D("basic", 6, ndf=4), GANCompression.Options(),
                            data, GANSetup(2, 0, torch.device("cpu")))
    for it in range(3):
        index = method.order.indices(it)
        x, y = method.batch(it)
        assert torch.equal(x, data.inputs.draw(index, it))
        assert torch.equal(y, data.targets.draw(index, it))
    assert test_in.shape == test_tg.shape == (2, 3, 32, 32)


def test_teacher_trained_on_an_unaligned_folder_then_compressed_b_to_a(tmp_path):
    root = write_folder(tmp_path / "data") / "unaligned"
    teacher_run = tmp_path / "cyclegan"
    assert train_gan(["--dataroot", str(root), "--dataset-mode", "unaligned", "--iters", "2",
                      "--load-size", "36", "--crop-size", "32", "--out", str(teacher_run),
                      "--set", "ngf=2", "--set", "ndf=4", "--set", "train.eval_pairs=2",
                      "--set", "train.image_every=1"]) == 0
    g_b = teacher_run / "latest_net_G_B.pth"
    assert load_pix2pix_state(g_b)[1]["input_nc"] == 3
    out = tmp_path / "compressed"
    with pytest.raises(ConfigError, match="pass --direction BtoA"):
        compress_gan(["--teacher-ckpt", str(g_b), "--dataroot", str(root), "--dataset-mode",
                      "unaligned", "--out", str(out), *SMALL])
    assert compress_gan(["--teacher-ckpt", str(g_b), "--dataroot", str(root), "--dataset-mode",
                         "unaligned", "--direction", "BtoA", "--out", str(out), "--iters", "2",
                         *SMALL]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["discriminator"].endswith("latest_net_D_B.pth")
    assert "psnr_teacher" in metrics["history"][-1] and "psnr" not in metrics["history"][-1]
