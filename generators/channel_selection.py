"""Start a narrow pix2pix/CycleGAN ResNet generator from a wide one by L1 channel selection.

GAN Compression (Li et al. 2020) does not train its student from random weights: before
distillation (Sec. 3.1, Eq. 5 is then trained from this point) its official code
(``utils/weight_transfer.py``, ``load_pretrained_weight`` / ``transfer_*``, called by
``distillers/resnet_distiller.py`` ``load_networks`` with the teacher's file as
``--restore_pretrained_G_path``) copies the teacher into the student, walking the
generator's ``model`` in order and carrying the indices of the kept channels:

* a convolution keeps the input channels the previous layer kept (the first one: all of
  them), then the ``k`` output filters of largest L1 norm Σ|W| over (kept inputs, kh, kw),
  in descending order of that norm (``topk``); its bias follows the kept outputs;
* a transposed convolution (weight ``in × out × kh × kw``) likewise: inputs follow, outputs
  by L1 over (kept inputs, kh, kw);
* inside a residual block the residual stream's channel set is shared: the first
  convolution takes the stream's indices as inputs and picks its own outputs by L1, the
  second takes those as inputs and outputs exactly the stream's indices (so ``x + block(x)``
  adds matching channels); the block passes the stream's indices on;
* the last convolution keeps all its output channels (and its whole bias).

Where this code differs, and why:

* the official code finds the first/last convolution by ``in_channels == 3`` /
  ``out_channels == 3``; here by position, so grey (one-channel) tasks work;
* ties in the L1 norm go to the lower channel index (a stable sort), where ``topk`` leaves
  them unspecified;
* BatchNorm layers copy their affine parameters and running statistics at the kept
  channels. The official distiller runs ``norm=instance`` (no state to copy) and never
  touches norm layers; copying is what makes a student as wide as its teacher an exact
  (permuted) copy of it, and the pruned student the teacher restricted to its channels;
* ``resnet_6blocks`` is walked by the same rule (the official code names only
  ``resnet_9blocks`` and its mobile variants). U-Net generators have no transfer rule in
  the official code, and none is made up here: they are a :class:`ConfigError`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from dfkd.core.errors import ConfigError
from generators.pix2pix import ResnetBlock, ResnetGenerator

_NORMS = (nn.BatchNorm2d, nn.InstanceNorm2d)


@dataclass(frozen=True)
class ChannelSelection:
    """The student's initial ``state`` (its state_dict keys) and, per teacher convolution
    (its module name, e.g. ``model.1`` or ``model.10.conv_block.1``), the output channels
    kept, in the order they take in the student."""

    state: dict[str, torch.Tensor]
    kept: dict[str, torch.Tensor]


def _top_l1(weight: torch.Tensor, dims: tuple[int, ...], k: int) -> torch.Tensor:
    """Indices of the ``k`` largest L1 norms of ``weight`` summed over ``dims``, largest
    first; equal norms in channel order."""
    norms = weight.abs().sum(dims)
    return torch.sort(norms, descending=True, stable=True).indices[:k]


class _Walker:
    """Collects the student's state while walking a teacher/student pair."""

    def __init__(self) -> None:
        self.state: dict[str, torch.Tensor] = {}
        self.kept: dict[str, torch.Tensor] = {}

    def conv(self, name: str, t: nn.Conv2d, s: nn.Conv2d, inputs: torch.Tensor,
             outputs: torch.Tensor | None = None) -> torch.Tensor:
        """Conv2d: inputs follow ``inputs``; outputs ``outputs`` or the top-k by L1."""
        w = t.weight.detach()[:, inputs]
        if outputs is None:
            outputs = _top_l1(w, (1, 2, 3), s.out_channels)
        self.state[f"{name}.weight"] = w[outputs].clone()
        if t.bias is not None:
            self.state[f"{name}.bias"] = t.bias.detach()[outputs].clone()
        self.kept[name] = outputs
        return outputs

    def conv_transpose(self, name: str, t: nn.ConvTranspose2d, s: nn.ConvTranspose2d,
                       inputs: torch.Tensor) -> torch.Tensor:
        """ConvTranspose2d (weight in × out × kh × kw): inputs follow, outputs by L1."""
        w = t.weight.detach()[inputs]
        outputs = _top_l1(w, (0, 2, 3), s.out_channels)
        self.state[f"{name}.weight"] = w[:, outputs].clone()
        if t.bias is not None:
            self.state[f"{name}.bias"] = t.bias.detach()[outputs].clone()
        self.kept[name] = outputs
        return outputs

    def norm(self, name: str, t: nn.Module, channels: torch.Tensor) -> None:
        """A norm layer's parameters and statistics at ``channels`` (none for the original
        code's affine-free, untracked InstanceNorm)."""
        for key, value in t.state_dict().items():
            value = value.detach()
            self.state[f"{name}.{key}"] = (value.clone() if value.dim() == 0
                                           else value[channels].clone())

    def block(self, name: str, t: ResnetBlock, s: ResnetBlock,
              stream: torch.Tensor) -> torch.Tensor:
        """A residual block: conv 1 picks its outputs, conv 2 outputs the stream's channels."""
        pairs = list(zip(t.conv_block.named_children(), s.conv_block.children()))
        convs = [i for i, ((_, m), _) in enumerate(pairs) if isinstance(m, nn.Conv2d)]
        channels = stream
        for i, ((j, tm), sm) in enumerate(pairs):
            sub = f"{name}.conv_block.{j}"
            if isinstance(tm, nn.Conv2d):
                channels = self.conv(sub, tm, sm, channels,
                                     stream if i == convs[-1] else None)
            elif isinstance(tm, _NORMS):
                self.norm(sub, tm, channels)
        return stream


def _check_pair(teacher: nn.Module, student: nn.Module) -> None:
    """Both ResNet generators of one architecture, the student no wider than the teacher."""
    for role, net in (("teacher", teacher), ("student", student)):
        if not isinstance(net, ResnetGenerator):
            raise ConfigError(
                f"the teacher-pruned student init (options.student_init=teacher) takes ResNet "
                f"generators (resnet_6blocks, resnet_9blocks), as the official GAN Compression "
                f"code does; the {role} is a {type(net).__name__}: set "
                "options.student_init=scratch")
    if student.ngf > teacher.ngf:
        raise ConfigError(f"student_ngf {student.ngf} is wider than the teacher's ngf "
                          f"{teacher.ngf}: the teacher-pruned init (options.student_init="
                          "teacher) only narrows; lower student_ngf or set "
                          "options.student_init=scratch")
    shape = [(type(m).__name__, len(getattr(m, "conv_block", ()))) for m in teacher.model]
    if shape != [(type(m).__name__, len(getattr(m, "conv_block", ()))) for m in student.model] \
            or (teacher.input_nc, teacher.output_nc) != (student.input_nc, student.output_nc):
        raise ConfigError("the student is not the teacher's architecture with fewer filters "
                          "(blocks, norm, dropout and channels must match): build it with "
                          "define_G(**info of the teacher, ngf=student_ngf)")


def select_channels(teacher: nn.Module, student: nn.Module) -> ChannelSelection:
    """The student's initial weights, pruned from ``teacher`` by L1 channel selection as
    GAN Compression's official ``load_pretrained_weight`` does (module docstring). Pure:
    reads the teacher's weights and the student's widths and key names, changes neither;
    raises :class:`ConfigError` for generators it has no rule for."""
    _check_pair(teacher, student)
    walk = _Walker()
    t_layers, s_layers = list(teacher.model.named_children()), list(student.model.children())
    convs = [i for i, (_, m) in enumerate(t_layers) if isinstance(m, nn.Conv2d)]
    device = next(teacher.parameters()).device
    channels = torch.arange(teacher.input_nc, device=device)  # the first conv keeps every input
    with torch.no_grad():
        for i, ((j, tm), sm) in enumerate(zip(t_layers, s_layers)):
            name = f"model.{j}"
            if isinstance(tm, nn.Conv2d):
                last = torch.arange(tm.out_channels, device=device) if i == convs[-1] else None
                channels = walk.conv(name, tm, sm, channels, last)
            elif isinstance(tm, nn.ConvTranspose2d):
                channels = walk.conv_transpose(name, tm, sm, channels)
            elif isinstance(tm, ResnetBlock):
                channels = walk.block(name, tm, sm, channels)
            elif isinstance(tm, _NORMS):
                walk.norm(name, tm, channels)
    own = student.state_dict()
    wrong = [k for k in own if k not in walk.state or walk.state[k].shape != own[k].shape]
    if wrong or len(walk.state) != len(own):
        what = f"key {wrong[0]}" if wrong else "the keys"
        raise ConfigError(f"cannot prune the teacher into the student: {what} differs; build "
                          "the student with define_G(**info of the teacher, ngf=student_ngf)")
    return ChannelSelection({k: walk.state[k].to(own[k].device) for k in own}, walk.kept)


def init_from_teacher(teacher: nn.Module, student: nn.Module) -> ChannelSelection:
    """Load :func:`select_channels` of ``teacher`` into ``student`` (in place); returns the
    selection."""
    selection = select_channels(teacher, student)
    student.load_state_dict(selection.state)
    return selection


__all__ = ["ChannelSelection", "init_from_teacher", "select_channels"]
