"""PPCD-GAN's student: a class-conditional residual generator built of progressive-pruning
residual blocks (PP-Res; Vo et al., WACV 2022, arXiv 2203.08456, section 3).

What the paper's abstract says, and this follows: a PP-Res block is the conventional
(BigGAN) residual block in which *every convolution is followed by a learnable mask layer*;
masks prune channels progressively as training proceeds; after training the mask layers
and every pruned parameter are discarded (:meth:`PPResGenerator.compact`).

The paper's method section could not be read (only its abstract and the opening of its
introduction are reachable here); what follows is RECONSTRUCTED and named as such:

* the mask layer: a per-channel gate g = m ⊙ k, m learnable (starts at 1), k a 0/1 buffer
  that the schedule (``dfkd.joint_distillation.ppcd_masks``) switches off for good;
* where a BatchNorm follows a masked convolution, the gate is applied again after that
  norm's ReLU, so that a pruned channel stays exactly zero (a norm alone would revive it
  as a class-dependent constant β_y) and so that m acts at all (a norm cancels any scale
  before it);
* the two convolutions that write a block's output (the second 3×3 and the 1×1 shortcut)
  share one mask, so the residual stream itself narrows; every reader of the stream (the
  next block's norm, the output layer) is gated by it too;
* the block (BigGAN's, without its hierarchical latent and shared embedding): CBN → ReLU
  → upsample ×2 → conv3×3 → mask → CBN → ReLU → conv3×3 → mask, plus upsample → conv1×1
  → (same) mask; CBN is per-class gain and shift (``ConditionalBatchNorm2d``);
* widths mirror the DCGAN teacher's stages: a linear stem to 4ngf × 4×4 (masked), blocks
  4ngf → 2ngf (8×8), 2ngf → ngf (16×16), ngf → ngf (32×32), then BN → ReLU → conv3×3 → Tanh
  (the image layer has no mask: its channels are the image's).
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.errors import CheckpointError
from generators.conditional_dcgan import ConditionalBatchNorm2d, check_labels
from generators.dcgan import save_dcgan_state
from generators.gan_checkpoint import read_state

STAGES = 3  # upsampling blocks: 4×4 → 8×8 → 16×16 → 32×32


class ChannelMask(nn.Module):
    """x · g per channel, g = m ⊙ k: ``weight`` m learnable (1 at the start), ``keep`` k a
    0/1 buffer (0: pruned for good)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.register_buffer("keep", torch.ones(channels))

    def gate(self) -> torch.Tensor:
        return self.weight * self.keep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return x * self.gate().view(shape)

    @property
    def kept(self) -> int:
        return int(self.keep.sum())


def _mask(channels: int, masked: bool) -> ChannelMask | None:
    return ChannelMask(channels) if masked else None


def _apply(x: torch.Tensor, mask: ChannelMask | None) -> torch.Tensor:
    return x if mask is None else mask(x)


class PPResBlock(nn.Module):
    """One PP-Res block: (x (N, in, H, W), labels, gate of x's channels) →
    (out (N, out, 2H, 2W), the class-conditioned activation ReLU(CBN(x, y)) at H×W)."""

    def __init__(self, in_ch: int, inner: int, out_ch: int, num_classes: int,
                 masked: bool = True) -> None:
        super().__init__()
        self.cbn1 = ConditionalBatchNorm2d(in_ch, num_classes)
        self.conv1 = nn.Conv2d(in_ch, inner, 3, 1, 1)
        self.mask1 = _mask(inner, masked)
        self.cbn2 = ConditionalBatchNorm2d(inner, num_classes)
        self.conv2 = nn.Conv2d(inner, out_ch, 3, 1, 1)
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1)
        self.mask2 = _mask(out_ch, masked)  # after conv2 and after the shortcut

    def forward(self, x: torch.Tensor, labels: torch.Tensor,
                in_mask: ChannelMask | None) -> tuple[torch.Tensor, torch.Tensor]:
        act = _apply(torch.relu(self.cbn1(x, labels)), in_mask)
        h = _apply(self.conv1(F.interpolate(act, scale_factor=2.0)), self.mask1)
        h = _apply(torch.relu(self.cbn2(h, labels)), self.mask1)
        h = self.conv2(h) + self.shortcut(F.interpolate(x, scale_factor=2.0))
        return _apply(h, self.mask2), act


class PPResGenerator(nn.Module):
    """G_S(z, y) → images (N, nc, 32, 32) in [-1, 1].

    ``widths`` (7 numbers): the stem's channels, then (inner, out) of each block; by
    default from ``ngf`` as the teacher's stages. ``masked=False`` builds the plain network
    (no mask layers) that :meth:`compact` fills."""

    conditional = True

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 1, num_classes: int = 10,
                 widths: list[int] | None = None, masked: bool = True) -> None:
        super().__init__()
        widths = list(widths or [4 * ngf, 2 * ngf, 2 * ngf, ngf, ngf, ngf, ngf])
        if len(widths) != 1 + 2 * STAGES or min(widths) < 1:
            raise ValueError(f"widths: {1 + 2 * STAGES} positive channel counts, got {widths}")
        self.nz, self.nc, self.num_classes, self.widths = nz, nc, num_classes, widths
        self.stem = nn.Linear(nz, widths[0] * 16)
        self.stem_mask = _mask(widths[0], masked)
        ins = [widths[0], widths[2], widths[4]]
        self.blocks = nn.ModuleList(
            PPResBlock(ins[i], widths[1 + 2 * i], widths[2 + 2 * i], num_classes, masked)
            for i in range(STAGES))
        self.out_bn = nn.BatchNorm2d(widths[-1])
        self.out_conv = nn.Conv2d(widths[-1], nc, 3, 1, 1)

    def masks(self) -> list[ChannelMask]:
        """The mask layers, in forward order (empty when compacted)."""
        return [m for m in self.modules() if isinstance(m, ChannelMask)]

    def features(self, z: torch.Tensor, labels: torch.Tensor
                 ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The images and the class-conditioned activations at 4×4, 8×8 and 16×16 (each
        block's ReLU(CBN(x, y)), gated)."""
        check_labels(z, labels, self.num_classes)
        x = _apply(self.stem(z.reshape(len(z), self.nz)).view(len(z), -1, 4, 4), self.stem_mask)
        gate, maps = self.stem_mask, []
        for block in self.blocks:
            x, act = block(x, labels, gate)
            maps.append(act)
            gate = block.mask2
        x = _apply(torch.relu(self.out_bn(x)), gate)
        return torch.tanh(self.out_conv(x)), maps

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.features(z, labels)[0]

    @torch.no_grad()
    def compact(self) -> "PPResGenerator":
        """The network without its mask layers and pruned channels: each gate's values are
        folded into the weights around it and channels with k = 0 are dropped. In eval mode
        it computes what this generator computes (BatchNorm running statistics kept)."""
        if self.stem_mask is None:
            return self
        masks = [self.stem_mask] + [m for b in self.blocks for m in (b.mask1, b.mask2)]
        kept = [m.keep.nonzero().flatten() for m in masks]
        gates = [m.gate() for m in masks]
        small = PPResGenerator(self.nz, 1, self.nc, self.num_classes,
                               widths=[len(k) for k in kept], masked=False)
        small.to(self.stem.weight.device).train(self.training)
        rows = (kept[0][:, None] * 16 + torch.arange(16, device=kept[0].device)).flatten()
        small.stem.weight.copy_(self.stem.weight[rows] * gates[0].repeat_interleave(16)[rows, None])
        small.stem.bias.copy_(self.stem.bias[rows] * gates[0].repeat_interleave(16)[rows])
        for i, (big, little) in enumerate(zip(self.blocks, small.blocks)):
            ins, inner, out = kept[2 * i], kept[2 * i + 1], kept[2 * i + 2]
            g_in, g1, g2 = gates[2 * i], gates[2 * i + 1], gates[2 * i + 2]
            _copy_cbn(big.cbn1, little.cbn1, ins)
            _copy_conv(big.conv1, little.conv1, inner, ins, g1, g_in)  # g_in: after cbn1's ReLU
            _copy_cbn(big.cbn2, little.cbn2, inner)
            _copy_conv(big.conv2, little.conv2, out, inner, g2, g1)  # g1: after cbn2's ReLU
            _copy_conv(big.shortcut, little.shortcut, out, ins, g2, None)
        last, g_last = kept[-1], gates[-1]
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(small.out_bn, name).copy_(getattr(self.out_bn, name)[last])
        small.out_bn.num_batches_tracked.copy_(self.out_bn.num_batches_tracked)
        _copy_conv(self.out_conv, small.out_conv, None, last, None, g_last)
        return small


def _copy_cbn(big: ConditionalBatchNorm2d, little: ConditionalBatchNorm2d,
              index: torch.Tensor) -> None:
    for name in ("running_mean", "running_var"):
        getattr(little.bn, name).copy_(getattr(big.bn, name)[index])
    little.bn.num_batches_tracked.copy_(big.bn.num_batches_tracked)
    little.gain.weight.copy_(big.gain.weight[:, index])
    little.shift.weight.copy_(big.shift.weight[:, index])


def _copy_conv(big: nn.Conv2d, little: nn.Conv2d, out_index: torch.Tensor | None,
               in_index: torch.Tensor, out_gate: torch.Tensor | None,
               in_gate: torch.Tensor | None) -> None:
    """``little`` = ``big`` restricted to the kept outputs/inputs, its outputs scaled by
    ``out_gate`` (a mask after it) and its inputs by ``in_gate`` (a mask on what it reads)."""
    weight, bias = big.weight, big.bias
    if out_index is not None:
        weight, bias = weight[out_index], bias[out_index]
        if out_gate is not None:
            weight = weight * out_gate[out_index].view(-1, 1, 1, 1)
            bias = bias * out_gate[out_index]
    weight = weight[:, in_index]
    if in_gate is not None:
        weight = weight * in_gate[in_index].view(1, -1, 1, 1)
    little.weight.copy_(weight)
    little.bias.copy_(bias)


# -- files ----------------------------------------------------------------------------------
def save_ppres_state(model: PPResGenerator, path: str | Path) -> None:
    """The plain CPU state_dict (the compacted network's, for the deployable file)."""
    save_dcgan_state(model, path)


def load_ppres_generator(path_or_state, device: str | torch.device = "cpu"
                         ) -> tuple[PPResGenerator, dict]:
    """A compacted PP-Res generator (``latest_net_G.pth`` of a ppcd run), its widths and
    sizes read off the shapes."""
    source, state = read_state(path_or_state)
    try:
        stem, out = state["stem.weight"], state["out_conv.weight"]
        widths = [stem.shape[0] // 16]
        for i in range(STAGES):
            widths += [state[f"blocks.{i}.conv1.weight"].shape[0],
                       state[f"blocks.{i}.conv2.weight"].shape[0]]
        info = {"nz": stem.shape[1], "nc": out.shape[0],
                "num_classes": state["blocks.0.cbn1.gain.weight"].shape[0], "widths": widths}
    except KeyError as exc:
        raise CheckpointError(f"{source} is not a compacted PP-Res generator (latest_net_G.pth "
                              f"of a ppcd run): it has no {exc.args[0]}") from None
    if any(k.endswith("keep") for k in state):
        raise CheckpointError(f"{source} still holds mask layers: load it with "
                              "PPResGenerator(..., masked=True).load_state_dict")
    model = PPResGenerator(info["nz"], 1, info["nc"], info["num_classes"], widths, masked=False)
    model.load_state_dict(state)
    return model.to(device).eval(), info


__all__ = ["ChannelMask", "PPResBlock", "PPResGenerator", "load_ppres_generator",
           "save_ppres_state"]
