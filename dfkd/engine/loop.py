"""The one adversarial training loop shared by every family of the taxonomy.

Per iteration: the adversary (generator or discriminator) takes ``adversary.steps``
optimizer steps on ``method.adversary_loss``, then the critic, where there is one (the
discriminator of adversarial student KD, Wang et al. 2018, beside a data-free generator),
``critic.steps`` on ``method.critic_loss``, then the student takes ``student.steps``
steps on ``method.student_loss``; schedulers advance once per iteration. While a player
steps, the other player's parameters are frozen, so its loss never fills gradients that
are not its own. The loop owns what every method shares: optimizers, schedules, EMA
copies, gradient clipping, divergence checks (a non-finite loss or gradient stops the run
before the step; weights or statistics with NaN/Inf are never checkpointed), TensorBoard,
progress, evaluation, atomic ``latest.pt`` (the one it replaces kept as ``previous.pt``)
and ``best.pt``, and exact resume. A method only says what the losses are.

Progress: on a terminal, a tqdm bar (on stderr) with the last evaluation's figures; where
stdout or stderr is not a terminal (a log file, CI, ``nohup``, ``| tee``), one plain line
per evaluation on stdout, e.g. ``iteration 200/1000  61.3s  acc=65.41 class_entropy=0.98``.
A player with ``steps`` 0 is frozen: it takes no step and logs no loss.
"""
from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Callable, Protocol

import torch
from tqdm import tqdm

from dfkd.core.errors import CheckpointError, DfkdError
from dfkd.core.io import atomic_save, rng_state, safe_load, set_rng_state
from dfkd.engine import distributed
from dfkd.engine.logger import RunLogger
from dfkd.engine.player import Player
from dfkd.metrics.memory import current_rss_mb

CHECKPOINT_FORMAT = "dfkd-loop-1"
PREVIOUS = "previous.pt"  # the checkpoint latest.pt replaced: resume falls back to it


def is_terminal(stream) -> bool:
    """Whether ``stream`` is an open terminal (a pytest capture, pipe or file is not)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def progress_line(iteration: int, total: int, seconds: float, figures: dict) -> str:
    """The plain progress line of one evaluation: ``iteration 200/1000  61.3s  acc=65.41``."""
    parts = [f"iteration {iteration}/{total}", f"{seconds:.1f}s"]
    if figures:
        parts.append(" ".join(f"{k}={v:.4g}" if isinstance(v, (int, float)) else f"{k}={v}"
                              for k, v in figures.items()))
    return "  ".join(parts)


class DivergenceError(DfkdError):
    """A loss became NaN or infinite."""


class Method(Protocol):
    """What a method provides to the loop: a loss per player, each a dict with ``"loss"``
    (the rest is logged). ``adversary_loss`` is called only with an adversary player,
    ``critic_loss`` only with a critic (the discriminators of adversarial ``student_loss``
    terms: ½[L(D(teacher side), real) + L(D(student side), fake)] on a student batch).

    Optional: ``begin_iteration(iteration)``, called before the iteration's phases, for a
    method that makes the iteration's data with an optimization of its own (the inversion
    methods: a fresh optimizer per synthesis round, as their papers and code have it)."""

    def adversary_loss(self, iteration: int) -> dict[str, torch.Tensor]: ...

    def critic_loss(self, iteration: int) -> dict[str, torch.Tensor]: ...

    def student_loss(self, iteration: int) -> dict[str, torch.Tensor]: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...

    def log_media(self, logger: RunLogger, iteration: int) -> None: ...


class StatelessMethod:
    """Base of the methods with nothing of their own to checkpoint: batches are a function
    of (seed, iteration) and every learnable part belongs to a player."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class AdversarialLoop:
    """Alternates an adversary and a student; checkpoints, logs and evaluates."""

    def __init__(self, method: Method, student: Player, adversary: Player | None,
                 total_iters: int, out_dir: str | Path, *,
                 evaluate: Callable[[], dict[str, float]] | None = None, best_key: str = "acc",
                 lower_is_better: bool = False,
                 eval_every: int = 100, log_every: int = 10, image_every: int = 0,
                 logger: RunLogger | None = None, identity: dict | None = None,
                 critic: Player | None = None, amp: bool = False) -> None:
        self.method = method
        self.student = student
        self.adversary = adversary
        self.critic = critic
        self.players = [p for p in (adversary, critic, student) if p is not None]
        self.amp = amp
        device = next(student.model.parameters()).device
        # losses under autocast: float16 with a loss scaler per player on CUDA, bfloat16
        # (no scaling needed) on CPU
        self.autocast = (device.type, torch.float16 if device.type == "cuda" else torch.bfloat16)
        self.scalers = {p.name: torch.amp.GradScaler(device.type)
                        for p in self.players if amp and device.type == "cuda"}
        self.total_iters = total_iters
        self.out_dir = Path(out_dir)
        self.evaluate = evaluate
        self.best_key = best_key
        self.lower_is_better = lower_is_better  # best.pt keeps the lowest best_key (e.g. FID)
        self.eval_every = eval_every
        self.log_every = log_every
        self.image_every = image_every
        self.logger = logger
        self.identity = identity or {}
        self.iteration = 0
        self.best: float | None = None
        self.last_eval: dict[str, float] = {}
        self.history: list[dict[str, float]] = []  # every evaluation, with iteration and time
        self.seconds = 0.0  # training wall time, summed over resumed runs
        self.cpu_seconds = 0.0  # this process's CPU time in training, summed likewise
        self._saved_at: int | None = None  # iteration of the newest latest.pt

    # -- one iteration -------------------------------------------------------------------
    def _phase(self, player: Player, loss_fn: Callable, iteration: int) -> dict[str, torch.Tensor]:
        for other in self.players:
            other.set_trainable(other is player)
        scaler = self.scalers.get(player.name)
        losses: dict[str, torch.Tensor] = {}  # stays empty for a frozen player (steps 0)
        for _ in range(player.steps):
            with torch.autocast(*self.autocast, enabled=self.amp):
                losses = loss_fn(iteration)
            total = losses["loss"].float()
            if not torch.isfinite(total):
                raise self._divergence(f"{player.name} loss is {float(total.detach())}",
                                       iteration, losses, player)
            player.optimizer.zero_grad(set_to_none=True)
            (scaler.scale(total) if scaler else total).backward()
            if scaler:
                scaler.unscale_(player.optimizer)
            distributed.average_gradients(player.parameters())  # no-op in one process
            params = [p for p in player.parameters() if p.grad is not None]
            norm = torch.nn.utils.get_total_norm([p.grad for p in params])
            if not torch.isfinite(norm) and scaler is None:  # before the step: weights stay good
                bad = [n for n, p in player.named_parameters()
                       if p.grad is not None and not torch.isfinite(p.grad).all()]
                what = (f"gradient of {bad[0]} is not finite" if bad else  # or each is, but
                        f"gradient norm overflows ({float(norm)})")  # their norm is not
                raise self._divergence(f"{player.name} {what}", iteration, losses, player)
            if player.clip_grad:
                torch.nn.utils.clip_grads_with_norm_(params, player.clip_grad, norm)
            if scaler:  # float16: an overflowing step is skipped and the scale lowered
                scaler.step(player.optimizer)
                scaler.update()
            else:
                player.optimizer.step()
            if player.ema is not None:
                player.ema.update_parameters(player.model)
        return {f"{player.name}/{k}": v.detach() for k, v in losses.items()}

    def _divergence(self, what: str, iteration: int, losses: dict[str, torch.Tensor],
                    player: Player) -> DivergenceError:
        terms = ", ".join(f"{k}={float(v.detach()):.4g}" for k, v in losses.items())
        return DivergenceError(
            f"{what} at iteration {iteration} (terms: {terms}); lower the learning rate or set "
            f"{player.name}.clip_grad. The last good checkpoint is {self.out_dir / 'latest.pt'}"
            + (f" (iteration {self._saved_at})" if self._saved_at is not None else "")
            + ": continue it with --resume")

    def _check_finite(self) -> None:
        """Refuse to checkpoint weights or statistics that hold NaN/Inf, so latest.pt
        stays the last good state."""
        for player in self.players:
            parts = [("", player.model), ("aux.", player.aux)]
            if player.ema is not None:
                parts.append(("ema.", player.ema))
            for prefix, module in parts:
                for name, value in (*module.named_parameters(), *module.named_buffers()):
                    if value.is_floating_point() and not torch.isfinite(value).all():
                        raise DivergenceError(
                            f"{player.name} {prefix}{name} holds NaN/Inf at iteration "
                            f"{self.iteration}; {self.out_dir / 'latest.pt'} was not "
                            "overwritten and keeps the last good state: lower the learning "
                            f"rate or set {player.name}.clip_grad, then --resume")

    def step(self, iteration: int) -> dict[str, torch.Tensor]:
        """One iteration: adversary steps, critic steps, student steps, schedules."""
        losses: dict[str, torch.Tensor] = {}
        begin = getattr(self.method, "begin_iteration", None)
        if begin is not None:
            losses.update(begin(iteration) or {})
        if self.adversary is not None:
            losses.update(self._phase(self.adversary, self.method.adversary_loss, iteration))
        if self.critic is not None:
            losses.update(self._phase(self.critic, self.method.critic_loss, iteration))
        losses.update(self._phase(self.student, self.method.student_loss, iteration))
        for player in self.players:
            if player.scheduler is not None and player.steps:  # a frozen player has no rate
                player.scheduler.step()
        return losses

    # -- the run -------------------------------------------------------------------------
    def run(self) -> dict[str, float]:
        """Train from ``self.iteration`` to ``total_iters``; returns the final evaluation."""
        start_time, seconds_before = time.perf_counter(), self.seconds
        start_cpu, cpu_before = time.process_time(), self.cpu_seconds
        self._synchronize()
        # tqdm draws on stderr and turns itself off where stderr is no terminal (disable=None);
        # a run whose output goes to a file or pipe prints a plain line per evaluation instead
        # (to stdout, which `> log` and `| tee log` keep), process 0 only
        bar = tqdm(range(self.iteration, self.total_iters), initial=self.iteration,
                   total=self.total_iters, disable=None if distributed.is_main() else True,
                   dynamic_ncols=True, desc="train", file=sys.stderr)
        plain = distributed.is_main() and not (is_terminal(sys.stdout) and is_terminal(sys.stderr))
        for it in bar:
            losses = self.step(it)
            self.iteration = it + 1
            if self.logger and (self.iteration % self.log_every == 0):
                self.logger.scalars({f"loss/{k}": v for k, v in losses.items()}, self.iteration)
                for p in self.players:
                    self.logger.scalars({f"lr/{p.name}": p.optimizer.param_groups[0]["lr"]},
                                        self.iteration)
            if self.logger and self.image_every and self.iteration % self.image_every == 0:
                self.method.log_media(self.logger, self.iteration)
            done = self.iteration == self.total_iters
            self.seconds = seconds_before + time.perf_counter() - start_time
            self.cpu_seconds = cpu_before + time.process_time() - start_cpu
            if self.iteration % self.eval_every == 0 or done:
                self._evaluate_and_save()
                if self.last_eval:
                    bar.set_postfix({k: f"{v:.2f}" for k, v in self.last_eval.items()})
                if plain:
                    self._print_progress(bar)
        if self.logger:
            self.logger.writer.flush()
        return self.last_eval

    def _print_progress(self, bar: tqdm) -> None:
        """One plain line for the evaluation just made (around the bar where it is shown)."""
        line = progress_line(self.iteration, self.total_iters, self.seconds, self.last_eval)
        if bar.disable:
            print(line, flush=True)
        else:  # stdout is piped while the bar draws on the terminal: clear, write, redraw
            bar.write(line, file=sys.stdout)
            sys.stdout.flush()

    def _synchronize(self) -> None:
        """With several processes: every player as process 0 has it (weights agree after
        each averaged step; BatchNorm statistics do not)."""
        for player in self.players:
            for module in (player.model, player.aux, player.ema):
                if module is not None:
                    distributed.broadcast_module(module)

    def _evaluate_and_save(self) -> None:
        self._synchronize()
        if not distributed.is_main():
            return  # process 0 evaluates and writes
        improved = False
        if self.evaluate is not None:
            self.last_eval = self.evaluate()
            self.history.append({"iteration": self.iteration,
                                 "seconds": round(self.seconds, 2), **self.last_eval,
                                 "rss_mb": round(current_rss_mb(), 1)})
            if self.logger:
                self.logger.scalars({f"eval/{k}": v for k, v in self.last_eval.items()},
                                    self.iteration)
            score = self.last_eval.get(self.best_key)
            if score is not None and (self.best is None or (
                    score < self.best if self.lower_is_better else score > self.best)):
                self.best, improved = score, True
        self._check_finite()
        self.save(self.out_dir / "latest.pt", previous=self.out_dir / PREVIOUS)
        self._saved_at = self.iteration
        if improved:
            tmp = self.out_dir / ".best.pt.tmp"
            shutil.copyfile(self.out_dir / "latest.pt", tmp)
            tmp.replace(self.out_dir / "best.pt")

    # -- checkpoints ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "identity": self.identity,
            "iteration": self.iteration,
            "best": self.best,
            "history": self.history,
            "last_eval": self.last_eval,
            "seconds": self.seconds,
            "cpu_seconds": self.cpu_seconds,
            "players": {p.name: p.state_dict() for p in self.players},
            "scalers": {name: scaler.state_dict() for name, scaler in self.scalers.items()},
            "method": self.method.state_dict(),
            "rng": rng_state(),
        }

    def save(self, path: str | Path, previous: str | Path | None = None) -> None:
        """Write the run's state to ``path`` atomically; with ``previous``, the state
        ``path`` held moves there (the fallback when ``path`` is later found corrupt)."""
        atomic_save(self.state_dict(), path, previous)

    def resume(self, path: str | Path) -> None:
        """Load a checkpoint written by :meth:`save`, checking it belongs to this run."""
        state = safe_load(path)
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{path} is not a dfkd training checkpoint (latest.pt/best.pt)")
        for key, value in self.identity.items():
            if state["identity"].get(key) != value:
                raise CheckpointError(
                    f"{path} was written by a run with {key}={state['identity'].get(key)!r}, "
                    f"not {value!r}: use another --out, or drop --resume to start afresh")
        if state["iteration"] > self.total_iters:
            raise CheckpointError(f"{path} is at iteration {state['iteration']}, past --iters "
                                  f"{self.total_iters}: raise --iters to continue")
        for player in self.players:
            try:
                player.load_state_dict(state["players"][player.name])
            except (RuntimeError, ValueError, KeyError) as exc:
                first = str(exc).strip().splitlines()[0][:300]
                raise CheckpointError(
                    f"{path}: the {player.name}'s saved state does not fit this run (was the "
                    f"model, the optimizer or the student_loss block changed?): {first}. "
                    "Resume with the run's own config (its config.yaml), or use another "
                    "--out") from None
        for name, scaler in self.scalers.items():
            if name in state.get("scalers", {}):
                scaler.load_state_dict(state["scalers"][name])
        self.method.load_state_dict(state["method"])
        self.iteration = state["iteration"]
        self.best = state["best"]
        self.last_eval = state["last_eval"]
        self.history = state["history"]
        self.seconds = state["seconds"]
        self.cpu_seconds = state.get("cpu_seconds", 0.0)  # absent before 2026-12-08
        self._saved_at = self.iteration
        set_rng_state(state["rng"])
        if distributed.rank():  # the file holds process 0's streams: the others branch off
            torch.manual_seed(self.iteration * 1_000_003 + distributed.rank())
