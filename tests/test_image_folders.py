"""Dataset folders in the original pix2pix/CycleGAN layouts (dfkd.data.image_folders), read
from tiny generated folders: 3 channels, non-square images, both directions."""
import json
import random

import numpy as np
import pytest
import torch
from PIL import Image

from dfkd.cli import run_main
from dfkd.core.errors import ConfigError
from dfkd.data.gan_transforms import crop_params, crop_span, output_size, power_of_base
from dfkd.data.image_folders import ImageFolderConfig, open_split
from dfkd.gan.setup import SerialOrder, TranslationData, folder_translation, take
from dfkd.gan_teachers.train import main as train_gan
from dfkd.generator_distillation.train import main as compress_gan

OFFSET = 40  # B = A + OFFSET in every pixel of a generated aligned image


def pattern(h, w, seed):
    """A smooth, asymmetric RGB pattern in [60, 160]: any other crop or flip changes it."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(seed)
    channels = [60 + 100 * ((xx * a + yy * b) % w) / w for a, b in rng.uniform(0.5, 2, (3, 2))]
    return np.stack(channels, -1).astype(np.uint8)


def write_aligned(root, split, n, h=8, w=12):
    """``n`` A|B images of halves ``w``×``h`` (non-square), B = A + OFFSET."""
    folder = root / split
    folder.mkdir(parents=True)
    for i in range(n):
        a = pattern(h, w, i)
        Image.fromarray(np.concatenate([a, a + OFFSET], 1)).save(folder / f"{i:02d}.png")


def write_unaligned(root, sizes=(("trainA", 3, 12, 8), ("trainB", 2, 10, 14),
                                 ("testA", 2, 12, 8), ("testB", 2, 10, 14))):
    for name, n, w, h in sizes:
        (root / name).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(pattern(h, w, 10 * len(name) + i)).save(root / name / f"{i}.png")


def reference(path, half, size, corner=None, crop=None, flip=False, gray=False):
    """The original's preprocessing spelled out with PIL on one file."""
    image = Image.open(path).convert("RGB")
    w, h = image.size
    if half:
        image = image.crop((0, 0, w // 2, h) if half == "left" else (w // 2, 0, w, h))
    if gray:
        image = image.convert("L")
    image = image.resize((size, size), Image.BICUBIC)
    if corner is not None and size > crop:
        image = image.crop((corner[0], corner[1], corner[0] + crop, corner[1] + crop))
    if flip:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    array = np.asarray(image, dtype=np.float32) / 255
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return torch.from_numpy(array.copy()) * 2 - 1


def config(root, mode, **kw):
    return ImageFolderConfig(dataroot=str(root), dataset_mode=mode, load_size=10, crop_size=8, **kw)


def test_aligned_halves_share_crop_and_flip_in_both_directions(tmp_path):
    write_aligned(tmp_path, "train", 3)
    write_aligned(tmp_path, "val", 2)  # no test/: the val/ split is the test split
    a, b = open_split(config(tmp_path, "aligned"), True, 3, 3, seed=5)
    assert len(a) == 3 and a.shape == (3, 3, 8, 8)
    shift = 2 * OFFSET / 255
    corners, flips = set(), set()
    for it in range(12):
        x, y = a.draw([0, 2], it), b.draw([0, 2], it)
        assert x.shape == (2, 3, 8, 8) and x.min() >= -1 and x.max() <= 1
        assert torch.allclose(y - x, torch.full_like(x, shift), atol=2.5 / 255)  # same crop/flip
        params = crop_params("AB", 5, it, [(2, 2)] * 2)
        for row, (cx, cy, flip) in zip(range(2), params):
            expected = reference(a.paths[2 * row], "left", 10, (cx, cy), 8, flip)
            assert torch.allclose(x[row], expected, atol=1e-6)
            corners.add((cx, cy)), flips.add(flip)
        assert torch.equal(a.draw([0, 2], it), x)  # D's and G's phases see one batch
    assert len(corners) > 2 and flips == {True, False}  # random within [0, 2]^2, both flips
    assert all(0 <= c <= 2 for corner in corners for c in corner)
    back_in, back_tg = open_split(config(tmp_path, "aligned", direction="BtoA"), True, 3, 3, seed=5)
    assert torch.allclose(back_in.draw([1], 3) - back_tg.draw([1], 3),
                          torch.full((1, 3, 8, 8), shift), atol=2.5 / 255)
    test_in, test_tg = open_split(config(tmp_path, "aligned"), False, 3, 3)
    assert [p.parent.name for p in test_in.paths] == ["val", "val"]
    # test time: resized to crop_size, not cropped, not flipped (the original test.py)
    assert torch.allclose(test_in[:2][1], reference(test_in.paths[1], "left", 8), atol=1e-6)
    assert torch.allclose(test_tg[1], reference(test_tg.paths[1], "right", 8), atol=1e-6)


def test_no_flip_grayscale_and_equal_load_and_crop(tmp_path):
    write_aligned(tmp_path, "train", 2)
    cfg = ImageFolderConfig(dataroot=str(tmp_path), dataset_mode="aligned", load_size=8,
                            crop_size=8, no_flip=True)
    a, b = open_split(cfg, True, 1, 3)
    assert a.shape[1] == 1 and b.shape[1] == 3
    for it in range(4):  # load == crop and no flip: every draw is the plain resize
        assert torch.allclose(a.draw([1], it)[0], reference(a.paths[1], "left", 8, gray=True),
                              atol=1e-6)


def test_unaligned_domains_and_direction(tmp_path):
    write_unaligned(tmp_path)
    a, b = open_split(config(tmp_path, "unaligned"), True, 3, 3, seed=0)
    assert (len(a), len(b)) == (3, 2) and a.paths[0].parent.name == "trainA"
    x = a.draw([0], 4)[0]
    cx, cy, flip = crop_params("A", 0, 4, [(2, 2)])[0]
    assert torch.allclose(x, reference(a.paths[0], None, 10, (cx, cy), 8, flip), atol=1e-6)
    # A and B draw their own crops: the streams differ
    assert [crop_params("A", 0, i, [(2, 2)]) for i in range(8)] != \
        [crop_params("B", 0, i, [(2, 2)]) for i in range(8)]
    back_a, back_b = open_split(config(tmp_path, "unaligned", direction="BtoA"), True, 3, 3)
    assert back_a.paths[0].parent.name == "trainB" and len(back_b) == 3
    data, test_in, test_tg = folder_translation(config(tmp_path, "unaligned"), 3, 3, 0, 1)
    assert not data.paired and test_in.shape == (1, 3, 8, 8) and test_tg.shape == (1, 3, 8, 8)
    assert torch.allclose(test_tg[0], reference(b.paths[0].parent.parent / "testB" / "0.png",
                                                None, 8), atol=1e-6)  # 10x14 squashed to 8x8


def test_serial_batches_follow_the_original_indices():
    a, b = SerialOrder(3, 3, 1), SerialOrder(2, 3, 1)
    assert [int(a.indices(i)) for i in range(6)] == [0, 1, 2, 0, 1, 2]
    assert [int(b.indices(i)) for i in range(6)] == [0, 1, 0, 0, 1, 0]  # index mod |B|
    x, y = torch.zeros(3, 1, 2, 2), torch.zeros(2, 1, 2, 2)
    first, second = TranslationData(x, y, False, serial=True).orders(1, 0)
    assert first.indices(2).tolist() == [2] and second.indices(2).tolist() == [0]
    shuffled = TranslationData(x, x, True).orders(2, 0)
    assert shuffled[0] is shuffled[1]  # paired: one order
    assert torch.equal(take(x, torch.tensor([1]), 0), x[[1]])  # a tensor's rows


@pytest.mark.parametrize("make, mode, message", [
    (lambda root: None, "aligned", "no dataset folder {root}: --dataroot expects DIR/train/"),
    (lambda root: root.mkdir(), "aligned",
     "no folder {root}/train: --dataset-mode aligned expects"),
    (lambda root: (root / "train").mkdir(parents=True), "aligned",
     "{root}/train holds no image"),
    (lambda root: (root / "trainA").mkdir(parents=True), "unaligned",
     "no folder {root}/trainB: --dataset-mode unaligned expects DIR/trainA/, DIR/trainB/"),
    (lambda root: ((root / "train").mkdir(parents=True),
                   Image.new("RGB", (7, 4)).save(root / "train" / "odd.png")), "aligned",
     "{root}/train/odd.png is 7x4: an aligned image holds A|B side by side"),
])
def test_bad_folders_are_one_line_naming_the_path(tmp_path, make, mode, message):
    root = tmp_path / "data"
    make(root)
    if mode == "unaligned" and (root / "trainA").exists():
        Image.new("RGB", (4, 4)).save(root / "trainA" / "a.png")
    with pytest.raises(ConfigError) as info:
        open_split(config(root, mode), True, 3, 3)
    text = str(info.value)
    assert text.startswith(message.format(root=root)) and "\n" not in text


def test_bad_choices_are_named(tmp_path):
    with pytest.raises(ConfigError, match="load_size 8 is smaller than data.crop_size 10"):
        open_split(ImageFolderConfig(str(tmp_path), "aligned", load_size=8, crop_size=10),
                   True, 3, 3)
    with pytest.raises(ConfigError, match="dataset_mode .* got 'single'"):
        open_split(ImageFolderConfig(str(tmp_path), "single"), True, 3, 3)


@pytest.mark.parametrize("main, argv, message", [
    (train_gan, ["--task", "pix2pix", "--dataroot", "X", "--dataset-mode", "aligned"],
     "error: pass either --task (an embedded demo task) or a dataset folder of your own "
     "(--dataroot), not both"),
    (compress_gan, ["--teacher-ckpt", "t.pth", "--dataroot", "X"],
     "error: --dataroot needs --dataset-mode aligned"),
    (train_gan, ["--dataset-mode", "unaligned"], "error: a dataset folder needs --dataroot DIR"),
])
def test_tool_flags_are_one_error_line(main, argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        run_main(main, argv + ["--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1 and err[0].startswith(message), err


def test_an_unreadable_file_is_named(tmp_path):
    write_unaligned(tmp_path)
    (tmp_path / "trainB" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ConfigError, match=f"^{tmp_path}/trainB/broken.png is not a readable image"):
        open_split(config(tmp_path, "unaligned"), True, 3, 3)


# -- the other --preprocess modes (crop, scale_width, scale_width_and_crop, none) ----------

SIZES = [(12, 8), (10, 14)]  # (width, height) of trainA's two images: different aspects
#: by hand, for load_size 10, crop_size 6: each image's size after the mode, and the range
#: of get_params' crop corner (resize_and_crop and scale_width_and_crop from the resized
#: (new_w, new_h); crop, scale_width, none from the image's own size)
BY_HAND = {
    "resize_and_crop": ([(6, 6), (6, 6)], [(4, 4), (4, 4)]),
    "crop": ([(6, 6), (6, 6)], [(6, 2), (4, 8)]),
    # 12x8: width 10, height int(max(10 * 8 / 12, 6)) = 6; 10x14: width already 10, kept
    "scale_width": ([(10, 6), (10, 14)], [(6, 2), (4, 8)]),
    # corners from (10, 10 * 8 // 12 = 6) and (10, 10 * 14 // 10 = 14)
    "scale_width_and_crop": ([(6, 6), (6, 6)], [(4, 0), (4, 8)]),
    # 12x8 already multiples of 4; 10x14: round(2.5) = 2, round(3.5) = 4 -> 8x16
    "none": ([(12, 8), (8, 16)], [(6, 2), (4, 8)]),
}


def write_sized(root, sizes=SIZES, b_sizes=((16, 12),)):
    """An unaligned folder of images of the given (width, height): trainA/testA ``sizes``,
    trainB/testB ``b_sizes``; returns the arrays of trainA."""
    arrays = []
    for split in ("train", "test"):
        for side, group in (("A", sizes), ("B", b_sizes)):
            (root / f"{split}{side}").mkdir(parents=True)
            for i, (w, h) in enumerate(group):
                array = pattern(h, w, 7 * i + len(side))
                Image.fromarray(array).save(root / f"{split}{side}" / f"{i}.png")
                if split == "train" and side == "A":
                    arrays.append(array)
    return arrays


def tensor(array):
    """A uint8 (H, W, 3) array as the (3, H, W) tensor in [-1, 1] the folder gives."""
    return torch.from_numpy(array.astype(np.float32).transpose(2, 0, 1) / 255) * 2 - 1


def bicubic(array, size):
    return np.asarray(Image.fromarray(array).resize(size, Image.BICUBIC))


def sized(root, mode, **kw):
    kw = {"load_size": 10, "crop_size": 6, "no_flip": True, **kw}
    return ImageFolderConfig(dataroot=str(root), dataset_mode="unaligned", preprocess=mode, **kw)


@pytest.mark.parametrize("mode", list(BY_HAND))
def test_each_mode_sizes_and_crop_corners_by_hand(tmp_path, mode):
    arrays = write_sized(tmp_path)
    a, _ = open_split(sized(tmp_path, mode), True, 3, 3, seed=3)
    sizes, spans = BY_HAND[mode]
    assert a.sizes == SIZES and a.train_sizes == sizes
    assert a.shape == (2, 3, sizes[0][1], sizes[0][0])
    corners = set()
    for it in range(16):
        for row in (0, 1):
            x, y, _ = crop_params("A", 3, it, [spans[row]])[0]
            corners.add((row, x, y))
            image = arrays[row]
            if mode == "resize_and_crop":
                expected = bicubic(image, (10, 10))[y:y + 6, x:x + 6]
            elif mode == "crop":  # a crop of the image as it is: its own pixels
                expected = image[y:y + 6, x:x + 6]
            elif mode == "scale_width":  # no crop; 10x14 is not resized at all
                expected = bicubic(image, (10, 6)) if row == 0 else image
            elif mode == "scale_width_and_crop":
                scaled = bicubic(image, (10, 6)) if row == 0 else image
                expected = scaled[y:y + 6, x:x + 6]
            else:  # none: 12x8 as it is, 10x14 resized to 8x16
                expected = image if row == 0 else bicubic(image, (8, 16))
            got = a.draw([row], it)[0]
            assert tuple(got.shape) == (3, sizes[row][1], sizes[row][0])
            assert torch.allclose(got, tensor(expected), atol=1e-6), (mode, row, it)
    if "crop" in mode:  # the corners cover their whole range, and no more
        for row in (0, 1):
            xs = {x for r, x, _ in corners if r == row}
            ys = {y for r, _, y in corners if r == row}
            assert max(xs) <= spans[row][0] and max(ys) <= spans[row][1]
    if mode == "crop":  # from the image's own 12x8: x beyond load - crop = 4
        assert max(x for r, x, _ in corners if r == 0) > 4
    if mode == "scale_width_and_crop":  # 12x8 scaled to 10x6: nothing to choose in y
        assert {y for r, _, y in corners if r == 0} == {0}


@pytest.mark.parametrize("mode, view_sizes", [
    ("resize_and_crop", [(6, 6), (6, 6)]),
    ("crop", [(6, 6), (6, 6)]),
    ("scale_width", [(6, 6), (6, 8)]),  # width 6, height max(6 * h / w, 6)
    ("scale_width_and_crop", [(6, 6), (6, 6)]),
    ("none", [(12, 8), (8, 16)]),
])
def test_test_view_is_load_equal_to_crop_unflipped_and_fixed(tmp_path, mode, view_sizes):
    arrays = write_sized(tmp_path)
    train_a, _ = open_split(sized(tmp_path, mode, no_flip=False), True, 3, 3, seed=1)
    test_a, _ = open_split(sized(tmp_path, mode), False, 3, 3, seed=2)
    assert train_a.view_sizes == test_a.view_sizes == view_sizes
    one = test_a[1]
    assert tuple(one.shape) == (3, view_sizes[1][1], view_sizes[1][0])
    assert torch.equal(train_a[1], one)  # the same view whatever the seed or the split's flips
    if mode == "crop":  # the corner drawn once for the file from the "A:view" stream
        x, y, _ = crop_params("A:view", 0, 1, [(4, 8)])[0]
        assert torch.allclose(one, tensor(arrays[1][y:y + 6, x:x + 6]), atol=1e-6)
    if mode == "scale_width_and_crop":  # 10x14 -> 6x8, then y in [0, 6 * 14 // 10 - 6]
        x, y, _ = crop_params("A:view", 0, 1, [(0, 2)])[0]
        assert x == 0 and torch.allclose(one, tensor(bicubic(arrays[1], (6, 8))[y:y + 6]),
                                         atol=1e-6)
    both = test_a[:2]  # images of different sizes are resized to the first's to stack
    assert tuple(both.shape) == (2, 3, view_sizes[0][1], view_sizes[0][0])
    if view_sizes[0] == view_sizes[1]:
        assert torch.equal(both[1], one)
    assert test_a[:0].shape == (0, 3, view_sizes[0][1], view_sizes[0][0])


def test_power_of_four_rounding():
    # round() as Python rounds: halves to even (2.5 -> 2, 3.5 -> 4, 4.5 -> 4, 5.5 -> 6)
    cases = {(12, 8): (12, 8), (10, 14): (8, 16), (9, 7): (8, 8), (18, 22): (16, 24),
             (256, 255): (256, 256), (6, 2): (8, 0)}
    for size, rounded in cases.items():
        assert power_of_base(size) == rounded
        assert output_size(size, "none", 286, 256) == rounded  # load and crop play no part


def test_modes_that_cannot_work_on_an_image_are_one_line(tmp_path):
    write_sized(tmp_path, sizes=[(12, 8), (10, 5)])
    with pytest.raises(ConfigError) as info:
        open_split(sized(tmp_path, "crop"), True, 3, 3)
    assert str(info.value).startswith(f"{tmp_path}/trainA/1.png is 10x5, smaller than "
                                      "--crop-size 6: --preprocess crop cuts")
    assert "\n" not in str(info.value)
    tiny = tmp_path / "tiny"
    write_sized(tiny, sizes=[(1, 8)])
    with pytest.raises(ConfigError, match="1x8: --preprocess none rounds each side"):
        open_split(sized(tiny, "none"), True, 3, 3)
    with pytest.raises(ConfigError, match="data.preprocess .* got 'scale_height'"):
        open_split(sized(tmp_path, "scale_height"), True, 3, 3)
    # load_size < crop_size matters only where the crop comes out of the resized image
    with pytest.raises(ConfigError, match="load_size 4 is smaller than data.crop_size 6"):
        open_split(sized(tmp_path, "scale_width_and_crop", load_size=4), True, 3, 3)
    small, _ = open_split(sized(tiny, "scale_width", load_size=4), True, 3, 3)
    assert small.train_sizes == [(4, 32)]  # height 4 * 8 / 1


BATCH_ERROR = ("--preprocess none leaves training images of different sizes ({root}/trainA/0.png "
               "12x8, {root}/trainA/1.png 8x16), which a batch of 2 cannot stack: pass --set "
               "train.batch_size=1 (as the original runs this mode) or a --preprocess that crops "
               "(resize_and_crop, crop, scale_width_and_crop)")


def test_batches_that_would_mix_sizes_are_one_line_naming_the_fix(tmp_path):
    write_sized(tmp_path)
    a, b = open_split(sized(tmp_path, "none"), True, 3, 3)
    data = TranslationData(a, b, paired=False)
    with pytest.raises(ConfigError) as info:
        data.orders(2, 0)
    assert str(info.value) == BATCH_ERROR.format(root=tmp_path)
    with pytest.raises(ConfigError, match="which a batch of 2 cannot stack"):
        a.draw([1, 0], 0)
    first, _ = data.orders(1, 0)  # batches of one take every size
    assert a.draw(first.indices(0), 0).shape[0] == 1
    # images of one aspect come out of scale_width in one size: batches stack
    same = tmp_path / "same"
    write_sized(same, sizes=[(12, 8), (24, 16)])
    a, b = open_split(sized(same, "scale_width"), True, 3, 3)
    TranslationData(a, b, paired=False).orders(2, 0)
    assert a.draw([0, 1], 0).shape == (2, 3, 6, 10)
    # the crop modes give crop_size² whatever the sizes
    a, b = open_split(sized(tmp_path, "scale_width_and_crop"), True, 3, 3)
    TranslationData(a, b, paired=False).orders(2, 0)
    assert a.draw([0, 1], 5).shape == (2, 3, 6, 6)


def test_the_preprocess_flag_reaches_the_config(tmp_path, capsys):
    write_sized(tmp_path / "data", sizes=[(40, 32), (32, 44)], b_sizes=((36, 36), (36, 36)))
    argv = ["--dataroot", str(tmp_path / "data"), "--dataset-mode", "unaligned", "--iters", "1",
            "--set", "ngf=2", "--set", "ndf=2", "--out", str(tmp_path / "run")]
    with pytest.raises(SystemExit) as info:
        run_main(train_gan, argv + ["--preprocess", "none", "--set", "train.batch_size=2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1
    assert err[0].startswith("error: --preprocess none leaves training images of different "
                             "sizes") and "--set train.batch_size=1" in err[0]
    with pytest.raises(SystemExit) as info:
        run_main(train_gan, argv + ["--preprocess", "scale_height"])
    assert info.value.code == 2 and "invalid choice: 'scale_height'" in capsys.readouterr().err


def write_aligned_sized(root, split, halves):
    """Aligned A|B images of halves (width, height), B = A + OFFSET."""
    (root / split).mkdir(parents=True)
    for i, (w, h) in enumerate(halves):
        a = pattern(h, w, i)
        Image.fromarray(np.concatenate([a, a + OFFSET], 1)).save(root / split / f"{i}.png")


def test_mixed_sizes_train_at_batch_one_and_resume_exactly(tmp_path):
    """pix2pix on an aligned folder of halves of two sizes under --preprocess none (each
    image at its own size, as the original with batch size 1): straight run == stopped
    after 2 and resumed, bit for bit; the test images of two sizes are evaluated."""
    root = tmp_path / "data"
    write_aligned_sized(root, "train", [(36, 32), (32, 40), (40, 36)])
    write_aligned_sized(root, "test", [(36, 32), (32, 44)])

    def run(out, iters, *extra):
        return train_gan(["--dataroot", str(root), "--dataset-mode", "aligned",
                          "--preprocess", "none", "--iters", str(iters), "--out", str(out),
                          "--set", "netG=resnet_6blocks", "--set", "ngf=2", "--set", "ndf=2",
                          "--set", "train.eval_pairs=2", "--set", "train.eval_every=2",
                          "--set", "train.image_every=2", "--set", "train.batch_size=1",
                          "--set", "generator.schedule.name=constant",
                          "--set", "discriminator.schedule.name=constant", *extra])

    straight, split = tmp_path / "straight", tmp_path / "split"
    assert run(straight, 4) == 0
    run(split, 2)
    run(split, 4, "--resume")
    a = torch.load(straight / "latest.pt", weights_only=True)["players"]
    b = torch.load(split / "latest.pt", weights_only=True)["players"]
    for player in ("generator", "discriminator"):
        for key, value in a[player]["model"].items():
            assert torch.equal(value, b[player]["model"][key]), (player, key)
    metrics = json.loads((straight / "metrics.json").read_text())
    assert metrics["config"]["data"]["preprocess"] == "none"
    assert "psnr" in metrics["history"][-1]  # the two test sizes were evaluated
    cfg = ImageFolderConfig(str(root), "aligned", preprocess="none")
    assert len(set(open_split(cfg, True, 3, 3)[0].train_sizes)) == 3


def test_resize_and_crop_draws_are_those_of_before_the_modes():
    """A run of the default mode resumed from a checkpoint written before the other modes
    existed sees the same crops and flips: the draws of the old ``crop_params``."""
    for it in range(5):
        rng = random.Random(f"AB:5:{it}")
        old = [(rng.randint(0, 30), rng.randint(0, 30), rng.random() > 0.5) for _ in range(3)]
        spans = [crop_span((600, 400), "resize_and_crop", 286, 256)] * 3
        assert spans[0] == (30, 30) and crop_params("AB", 5, it, spans) == old
