"""Image quality of generator outputs: PSNR, SSIM and FID.

Images are ``(N, C, H, W)`` tensors in ``[-1, 1]``, the range pix2pix/CycleGAN generators
output (Tanh) and their datasets are normalized to. PSNR and SSIM compare a student's
output with the teacher's output or with the ground truth; FID compares feature
statistics (Heusel et al. 2017) under a :class:`FeatureExtractor` whose ``name`` every
report must quote: Inception-v3 features when the user has the weights, otherwise the
penultimate features of a classifier trained on the dataset (not comparable to published
FIDs).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Protocol

import kornia.metrics
import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.errors import CheckpointError, ConfigError
from dfkd.core.io import safe_load
from dfkd.core.modes import eval_mode
from dfkd.nets import classifier_name
from dfkd.nets.checkpoint import extract_state_dict
from dfkd.nets.hooks import FeatureRecorder


def _check_pair(a: torch.Tensor, b: torch.Tensor, data_range: float) -> None:
    if a.shape != b.shape or a.dim() != 4:
        raise ConfigError(f"need two image batches of one shape (N, C, H, W), got "
                          f"{tuple(a.shape)} and {tuple(b.shape)}")
    span = float(torch.maximum(a.amax() - a.amin(), b.amax() - b.amin()))
    if span > data_range * 1.001 + 1e-6:
        raise ConfigError(f"pixel values span {span:.3g} but data_range is {data_range}; pass the "
                          "data_range of your images (2 for [-1, 1], 1 for [0, 1], 255 for uint8)")


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 2.0,
         reduction: str = "mean") -> float | torch.Tensor:
    """Peak signal-to-noise ratio 10·log10(data_range² / MSE) in dB, per image, then averaged
    over the batch (``reduction="none"``: the per-image values).

    ``data_range=2`` for ``[-1, 1]`` images gives the same dB as the images mapped to
    ``[0, 1]`` with ``data_range=1`` (MSE and range² both scale by 4). Identical images: inf.
    """
    _check_pair(a, b, data_range)
    values = torch.stack([kornia.metrics.psnr(x.float(), y.float(), data_range)
                          for x, y in zip(a, b)])
    return values if reduction == "none" else float(values.mean())


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 2.0, low: float = -1.0,
         window_size: int = 11, reduction: str = "mean") -> float | torch.Tensor:
    """Structural similarity (Wang et al. 2004: 11×11 Gaussian window, σ = 1.5, K1 = 0.01,
    K2 = 0.03, valid region only), mean over pixels and channels, per image, then averaged.

    SSIM's luminance term is not shift-invariant, so images are first mapped to ``[0, 1]``
    by ``(x − low) / data_range``: the defaults take ``[-1, 1]`` generator outputs and give
    the SSIM of the same images saved as ``[0, 1]`` (or uint8) pictures. For ``[0, 1]``
    images pass ``data_range=1, low=0``. Images need ``H, W >= window_size``.
    """
    _check_pair(a, b, data_range)
    if min(a.shape[-2:]) < window_size:
        raise ConfigError(f"SSIM needs images of at least {window_size}×{window_size} "
                          f"(window_size), got {tuple(a.shape[-2:])}")
    x, y = ((t.float() - low) / data_range for t in (a, b))
    index = kornia.metrics.ssim(x, y, window_size, max_val=1.0, eps=0.0, padding="valid")
    values = index.mean(dim=(1, 2, 3))
    return values if reduction == "none" else float(values.mean())


def fid_from_features(f1: torch.Tensor, f2: torch.Tensor) -> float:
    """Fréchet distance between Gaussian fits of two feature sets ``(N, D)`` (Heusel et al.
    2017, eq. 6): ‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½).

    In float64 with ``torch.linalg.eigh``: Tr (Σ1 Σ2)^½ is the sum of the square roots of
    the eigenvalues of Σ1^½ Σ2 Σ1^½ (same spectrum, but symmetric PSD), negative round-off
    eigenvalues clipped to 0. Covariances are unbiased (N − 1), as in pytorch-fid.
    """
    if f1.dim() != 2 or f2.dim() != 2 or f1.shape[1] != f2.shape[1]:
        raise ConfigError(f"need two (N, D) feature sets with the same D, got "
                          f"{tuple(f1.shape)} and {tuple(f2.shape)}")
    if min(len(f1), len(f2)) < 2:
        raise ConfigError(f"FID needs at least 2 samples per set, got {len(f1)} and {len(f2)}")
    f1, f2 = f1.detach().double().cpu(), f2.detach().double().cpu()
    mu1, mu2 = f1.mean(0), f2.mean(0)
    cov1, cov2 = torch.cov(f1.T).reshape(f1.shape[1], -1), torch.cov(f2.T).reshape(f2.shape[1], -1)
    eigval, eigvec = torch.linalg.eigh(cov1)
    root1 = (eigvec * eigval.clamp(min=0).sqrt()) @ eigvec.T
    middle = root1 @ cov2 @ root1
    trace_root = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    value = (mu1 - mu2).square().sum() + cov1.trace() + cov2.trace() - 2 * trace_root
    return max(float(value), 0.0)


class FeatureExtractor(Protocol):
    """Maps a batch of ``[-1, 1]`` images to ``(N, D)`` features; ``name`` says which."""

    name: str

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...


def _run_eval(model: nn.Module, layer: str, images: torch.Tensor) -> torch.Tensor:
    """Input of ``layer`` for ``images``, in eval mode (modes restored), no autograd."""
    with eval_mode(model), torch.inference_mode(), \
            FeatureRecorder(model, {"f": layer}, inputs=True) as rec:
        model(images)
        return rec["f"].flatten(1).float()


class InceptionFeatures:
    """2048-d pool features of torchvision's Inception-v3 with weights from a local file.

    Built with ``weights=None`` and ``load_state_dict`` from ``weights_path``: nothing is
    downloaded. Accepts torchvision's ImageNet file or pytorch-fid's ``pt_inception`` file
    (1008 classes, no auxiliary head; the class count and the auxiliary head are read off
    the file). With pytorch-fid's file the values are close to, not identical with,
    pytorch-fid's FID: its modified pooling blocks are not replicated. Images are resized
    to 299×299 (bilinear) and fed in ``[-1, 1]``, the range Inception-v3 was trained on
    (``transform_input=False``); 1-channel images are repeated to 3.
    """

    def __init__(self, weights_path: str | Path, device: str | torch.device = "cpu") -> None:
        from torchvision.models import inception_v3

        path = Path(weights_path)
        state = extract_state_dict(safe_load(path))
        if "fc.weight" not in state or "Mixed_7c.branch_pool.conv.weight" not in state:
            raise CheckpointError(f"{path} is not an Inception-v3 state_dict (no fc.weight / "
                                  "Mixed_7c keys); pass torchvision's inception_v3 weights or "
                                  "pytorch-fid's pt_inception-2015-12-05 file")
        aux = any(k.startswith("AuxLogits.") for k in state)
        model = inception_v3(weights=None, aux_logits=aux, init_weights=False,
                             transform_input=False, num_classes=state["fc.weight"].shape[0])
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise CheckpointError(f"{path} does not fit torchvision's Inception-v3: "
                                  f"{str(exc).splitlines()[0]}") from None
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.name = f"inception_v3 pool3 (2048-d) from {path.name}"

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(self.device, torch.float32)
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        return _run_eval(self.model, "fc", x)


class ClassifierFeatures:
    """Penultimate features (input of the last ``nn.Linear``) of a classifier trained on
    the dataset, the fallback without Inception weights. FIDs under it rank models of the
    same dataset but are not comparable to published (Inception) FIDs.

    ``preprocess`` maps ``[-1, 1]`` images to what the classifier was trained on
    (default: unchanged).
    """

    def __init__(self, model: nn.Module,
                 preprocess: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 label: str | None = None) -> None:
        self.model = model
        self.layer = classifier_name(model)
        self.preprocess = preprocess
        width = getattr(dict(model.named_modules())[self.layer], "in_features", "?")
        self.name = (f"classifier {label or type(model).__name__} penultimate ({width}-d, "
                     f"input of {self.layer}); not Inception, not comparable to published FID")

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        device = next(self.model.parameters()).device
        x = images.to(device)
        if self.preprocess is not None:
            x = self.preprocess(x)
        return _run_eval(self.model, self.layer, x)


def feature_extractor(inception_weights: str | Path | None = None,
                      classifier: nn.Module | None = None,
                      preprocess: Callable[[torch.Tensor], torch.Tensor] | None = None,
                      device: str | torch.device = "cpu") -> FeatureExtractor:
    """Inception-v3 from ``inception_weights`` when given, else ``classifier``'s features."""
    if inception_weights is not None:
        return InceptionFeatures(inception_weights, device)
    if classifier is not None:
        return ClassifierFeatures(classifier, preprocess)
    raise ConfigError("FID needs a feature extractor: pass the path of Inception-v3 weights "
                      "(torchvision's inception_v3_google-*.pth or pytorch-fid's "
                      "pt_inception-2015-12-05-*.pth), or a classifier trained on the dataset")


def _features(extractor: FeatureExtractor, images: torch.Tensor | Iterable[torch.Tensor],
              batch_size: int) -> torch.Tensor:
    batches = images.split(batch_size) if isinstance(images, torch.Tensor) else images
    return torch.cat([extractor(batch).cpu() for batch in batches])


def fid(real: torch.Tensor | Iterable[torch.Tensor], fake: torch.Tensor | Iterable[torch.Tensor],
        extractor: FeatureExtractor, batch_size: int = 50) -> dict:
    """FID between two image sets (tensors or iterables of batches) under ``extractor``:
    ``{"fid", "features", "n_real", "n_fake"}``, ``features`` naming the extractor."""
    f_real = _features(extractor, real, batch_size)
    f_fake = _features(extractor, fake, batch_size)
    return {"fid": fid_from_features(f_real, f_fake), "features": extractor.name,
            "n_real": len(f_real), "n_fake": len(f_fake)}


__all__ = ["ClassifierFeatures", "FeatureExtractor", "InceptionFeatures", "feature_extractor",
           "fid", "fid_from_features", "psnr", "ssim"]
