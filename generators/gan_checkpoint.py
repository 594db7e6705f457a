"""Load and save generator files of the original PyTorch pix2pix/CycleGAN code.

That code saves ``net.state_dict()`` as it is (``latest_net_G.pth`` for pix2pix,
``latest_net_G_A.pth`` / ``latest_net_G_B.pth`` for CycleGAN) and, when loading, deletes
the InstanceNorm ``running_mean``/``running_var``/``num_batches_tracked`` entries that files
from old PyTorch versions carry (its ``__patch_instance_norm_state_dict``); we do the same.
The file records no options, so the architecture is read off the keys and shapes:

* ResNet vs U-Net: ``model.1.weight`` (7×7 stem after a ReflectionPad) vs
  ``model.model.0.weight`` (outermost skip block's 4×4 down-convolution);
* ``ngf`` and ``input_nc``: that first convolution's output and input channels;
  ``output_nc``: the last (transposed) convolution's output channels;
* residual blocks: how many ``model.<i>.conv_block.*`` entries there are (6 or 9);
  U-Net depth: how deeply ``model.model.1.model.3.model…`` nests (7 → unet_128, 8 → unet_256);
* norm: convolutions before a norm have a bias only under instance norm (affine-free
  InstanceNorm has no weights), BatchNorm has ``weight``/``bias``/running statistics;
* dropout, ResNet: Dropout(0.5) shifts each block's second convolution from
  ``conv_block.5`` to ``conv_block.6`` (a 4-d weight there; under BatchNorm without
  dropout ``conv_block.6.weight`` is the norm's 1-d weight). U-Net: Dropout is the last
  module of its blocks and moves no key, so it cannot be read off the file; it defaults
  to True, pix2pix's default (it only acts in train mode).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import torch
import torch.nn as nn

from dfkd.core.errors import CheckpointError, ConfigError
from dfkd.core.io import atomic_save, safe_load
from dfkd.nets.checkpoint import extract_state_dict
from generators.pix2pix import GENERATOR_NAMES, NORMS, define_D, define_G

_RESNET_NAMES = {6: "resnet_6blocks", 9: "resnet_9blocks"}
_UNET_NAMES = {7: "unet_128", 8: "unet_256"}
_STATS = ("running_mean", "running_var", "num_batches_tracked")


def _flag(option: str, value: object) -> str:
    """How to ask for ``value`` here and in the original code's options."""
    if option == "use_dropout":
        return f"use_dropout={value} ({'without' if value else 'with'} --no_dropout)"
    return f"{option}={value!r} (--{option} {value})"


def infer_pix2pix_config(state: Mapping[str, torch.Tensor], source: str = "the state_dict") -> dict:
    """``{netG, ngf, norm, input_nc, output_nc, use_dropout}`` read off a generator's keys;
    the result can be passed to :func:`generators.pix2pix.define_G` as it is."""
    if "model.1.weight" in state and state["model.1.weight"].dim() == 4:
        return _infer_resnet(state, source)
    if "model.model.0.weight" in state:
        return _infer_unet(state, source)
    first = list(state)[:4]
    if "model.0.weight" in state and state["model.0.weight"].dim() == 4:
        raise CheckpointError(f"{source} looks like a PatchGAN discriminator (latest_net_D.pth), "
                              "not a generator; load latest_net_G.pth (pix2pix) or "
                              "latest_net_G_A.pth (CycleGAN)")
    raise CheckpointError(f"{source} is not a pix2pix/CycleGAN generator state_dict: it has no "
                          f"'model.1.weight' (ResNet) or 'model.model.0.weight' (U-Net); its "
                          f"first keys are {', '.join(first) or '(none)'}")


def _infer_resnet(state: Mapping[str, torch.Tensor], source: str) -> dict:
    stem = state["model.1.weight"]
    blocks = sorted({int(m.group(1)) for k in state
                     if (m := re.match(r"model\.(\d+)\.conv_block\.", k))})
    n = len(blocks)
    if blocks != list(range(10, 10 + n)) or n not in _RESNET_NAMES:
        where = f" from model.{blocks[0]}" if blocks else ""
        raise CheckpointError(f"{source} has {n} residual blocks{where}; "
                              "the original ResNet generators have 6 (resnet_6blocks) or 9 "
                              "(resnet_9blocks) starting at model.10")
    head = state.get(f"model.{17 + n}.weight")
    if head is None:
        raise CheckpointError(f"{source} has {n} residual blocks but no output convolution "
                              f"model.{17 + n}.weight; is it truncated or from another code base?")
    sixth = state.get("model.10.conv_block.6.weight")  # second conv with dropout, else BN
    return {"netG": _RESNET_NAMES[n], "ngf": stem.shape[0],
            "norm": "instance" if "model.1.bias" in state else "batch",
            "input_nc": stem.shape[1], "output_nc": head.shape[0],
            "use_dropout": sixth is not None and sixth.dim() == 4}


def _infer_unet(state: Mapping[str, torch.Tensor], source: str) -> dict:
    down = state["model.model.0.weight"]
    up = state.get("model.model.3.weight")
    if up is None:
        raise CheckpointError(f"{source} has the U-Net key model.model.0.weight but no output "
                              "convolution model.model.3.weight; is it truncated?")
    depth, prefix = 1, "model.model.1.model."
    while f"{prefix}1.weight" in state:  # each nested block's down-convolution
        depth, prefix = depth + 1, prefix + "3.model."
    if depth not in _UNET_NAMES:
        raise CheckpointError(f"{source} is a U-Net with {depth} downsamplings; the original "
                              "names only unet_128 (7) and unet_256 (8)")
    return {"netG": _UNET_NAMES[depth], "ngf": down.shape[0],
            "norm": "instance" if "model.model.0.bias" in state else "batch",
            "input_nc": down.shape[1], "output_nc": up.shape[1], "use_dropout": True}


def read_state(path_or_state: str | Path | Mapping[str, torch.Tensor]
                ) -> tuple[str, dict[str, torch.Tensor]]:
    """(how to name the source in errors, its state_dict) of a file or a loaded dict."""
    if isinstance(path_or_state, Mapping):
        source, obj = "the state_dict", dict(path_or_state)
    else:
        source, obj = str(path_or_state), safe_load(path_or_state)
    try:
        return source, extract_state_dict(obj)
    except CheckpointError as exc:
        raise CheckpointError(f"{source}: {exc}") from None


def _build(config: Mapping[str, object], device: str | torch.device = "meta") -> nn.Module:
    with torch.device(device):
        return define_G(config["netG"], config["input_nc"], config["output_nc"], config["ngf"],
                        config["norm"], config["use_dropout"])


def _patch(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Drop InstanceNorm statistics (as the original loader does); add the BatchNorm step
    counters that files from PyTorch < 0.4.1 lack; floats to float32."""
    modules = dict(model.named_modules())
    own = model.state_dict()
    out = {}
    for key, value in state.items():
        owner, _, leaf = key.rpartition(".")
        if leaf in _STATS and isinstance(modules.get(owner), nn.InstanceNorm2d) and key not in own:
            continue
        out[key] = value.float() if value.is_floating_point() else value
    for key in own:
        if key.endswith(".num_batches_tracked") and key not in out:
            out[key] = torch.zeros((), dtype=torch.long)
    return out


def _first_difference(own: Mapping[str, torch.Tensor],
                      state: Mapping[str, torch.Tensor]) -> str | None:
    for key, value in own.items():
        if key not in state:
            return f"key {key} is missing from the file"
        if tuple(state[key].shape) != tuple(value.shape):
            return (f"key {key} has shape {tuple(state[key].shape)} in the file, "
                    f"expected {tuple(value.shape)}")
    extra = [k for k in state if k not in own]
    if extra:
        return f"the file has unexpected key {extra[0]}" + (f" (and {len(extra) - 1} more)"
                                                            if len(extra) > 1 else "")
    return None


def _describe(config: Mapping[str, object]) -> str:
    return (f"{config['netG']} ngf={config['ngf']} norm={config['norm']} "
            f"input_nc={config['input_nc']} output_nc={config['output_nc']} "
            f"use_dropout={config['use_dropout']}")


def load_pix2pix_state(path_or_state: str | Path | Mapping[str, torch.Tensor],
                       netG: str | None = None, ngf: int | None = None,
                       norm: str | None = None, use_dropout: bool | None = None,
                       input_nc: int | None = None, output_nc: int | None = None,
                       device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Build the generator a pix2pix/CycleGAN ``.pth`` (or its loaded state_dict) holds and
    load it; return ``(model, info)``, ``info = {netG, ngf, norm, input_nc, output_nc,
    use_dropout}`` (``define_G(**info)`` rebuilds it).

    Options left as None are inferred from the file; options given are checked against it,
    and a mismatch raises :class:`CheckpointError` naming the key, both shapes and the fix.
    ``module.`` prefixes (DataParallel) and a wrapping ``{"state_dict": …}`` are accepted.
    The model is returned in eval mode.
    """
    source, state = read_state(path_or_state)
    requested = {"netG": netG, "ngf": ngf, "norm": norm, "use_dropout": use_dropout,
                 "input_nc": input_nc, "output_nc": output_nc}
    if netG is not None and netG not in GENERATOR_NAMES:
        raise ConfigError(f"unknown netG {netG!r}; use one of: {', '.join(GENERATOR_NAMES)}")
    if norm is not None and norm not in NORMS:
        raise ConfigError(f"unknown norm {norm!r}; use one of: {', '.join(NORMS)}")

    found = infer_pix2pix_config(state, source)
    if found["netG"].startswith("unet") and use_dropout is not None:
        found["use_dropout"] = use_dropout  # not recorded in a U-Net file: the caller decides
    wrong = [option for option, value in requested.items()
             if value is not None and value != found[option]]
    if wrong:
        asked = {**found, **{k: v for k, v in requested.items() if v is not None}}
        try:
            own = _build(asked).state_dict()
            detail = _first_difference(own, _patch(state, _build(found)))
        except ConfigError:
            detail = None
        fixes = " and ".join(_flag(option, found[option]) for option in wrong)
        raise CheckpointError(
            f"{source} does not fit {_describe(asked)}: "
            f"{detail + '; ' if detail else ''}the file holds {_describe(found)}: pass {fixes}, "
            "or leave these options unset to infer them")

    skeleton = _build(found)
    state = _patch(state, skeleton)
    detail = _first_difference(skeleton.state_dict(), state)
    if detail:
        raise CheckpointError(f"{source} looks like {_describe(found)} but {detail}; it is not "
                              "a uniform-width generator of the original code (pruned, or a "
                              "GAN Compression supernet?)")
    model = _build(found, device)
    model.load_state_dict(state)
    return model.eval(), dict(found)


def load_discriminator_state(path_or_state: str | Path | Mapping[str, torch.Tensor],
                             device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Build and load the PatchGAN discriminator of a ``latest_net_D*.pth`` file; return
    ``(model, info)`` with ``info = {input_nc, ndf, n_layers_D, norm}`` read off the keys:
    ``model.0`` is the first convolution (``ndf`` × ``input_nc``), each further
    convolution a 4-d ``model.<i>.weight`` (n_layers + 2 in all), and convolutions before a
    norm carry a bias only under instance norm. GAN Compression starts the student's
    discriminator from the teacher's this way."""
    source, state = read_state(path_or_state)
    convs = sorted(int(m.group(1)) for k, v in state.items()
                   if (m := re.fullmatch(r"model\.(\d+)\.weight", k)) and v.dim() == 4)
    if not convs or convs[0] != 0 or len(convs) < 3:
        raise CheckpointError(f"{source} is not a PatchGAN discriminator (latest_net_D.pth): "
                              f"its first keys are {', '.join(list(state)[:4]) or '(none)'}")
    first = state["model.0.weight"]
    info = {"input_nc": first.shape[1], "ndf": first.shape[0], "n_layers_D": len(convs) - 2,
            "norm": "instance" if f"model.{convs[1]}.bias" in state else "batch"}
    with torch.device("meta"):
        skeleton = define_D("n_layers", **info)
    state = _patch(state, skeleton)
    detail = _first_difference(skeleton.state_dict(), state)
    if detail:
        raise CheckpointError(f"{source} looks like a PatchGAN with {info} but {detail}")
    model = define_D("n_layers", **info).to(device)
    model.load_state_dict(state)
    return model, info


def discriminator_beside(generator_file: str | Path) -> Path | None:
    """The discriminator file saved with a generator file, as the original code (and
    ``tools/train_gan.py``) name them: ``latest_net_D.pth`` beside ``latest_net_G.pth``,
    ``latest_net_D_A.pth`` beside ``latest_net_G_A.pth``; None when there is none."""
    generator_file = Path(generator_file)
    sibling = generator_file.with_name(generator_file.name.replace("net_G", "net_D"))
    return sibling if sibling != generator_file and sibling.exists() else None


def save_pix2pix_state(model: nn.Module, path: str | Path) -> None:
    """Write ``model``'s state_dict as the original code does: plain, CPU tensors, no
    ``module.`` prefix, so the original ``test.py`` and :func:`load_pix2pix_state` read it."""
    if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        model = model.module
    state = {(k[len("module."):] if k.startswith("module.") else k): v.detach().cpu()
             for k, v in model.state_dict().items()}
    atomic_save(state, path)


__all__ = ["discriminator_beside", "infer_pix2pix_config", "load_discriminator_state", "load_pix2pix_state",
           "read_state", "save_pix2pix_state"]
