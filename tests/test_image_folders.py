"""Dataset folders in the original pix2pix/CycleGAN layouts (dfkd.data.image_folders), read
from tiny generated folders: 3 channels, non-square images, both directions."""
import numpy as np
import pytest
import torch
from PIL import Image

from dfkd.cli import run_main
from dfkd.core.errors import ConfigError
from dfkd.data.gan_transforms import crop_params
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
        params = crop_params("AB", 5, it, 2, 10, 8)
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
    cx, cy, flip = crop_params("A", 0, 4, 1, 10, 8)[0]
    assert torch.allclose(x, reference(a.paths[0], None, 10, (cx, cy), 8, flip), atol=1e-6)
    # A and B draw their own crops: the streams differ
    assert [crop_params("A", 0, i, 1, 10, 8) for i in range(8)] != \
        [crop_params("B", 0, i, 1, 10, 8) for i in range(8)]
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
