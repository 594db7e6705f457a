"""Progress where the output is no terminal (a log file, CI, ``nohup``, ``| tee``): the loop
prints one plain line per evaluation (iteration, seconds, the figures evaluated) and
nothing per iteration; on a terminal the tqdm bar alone shows progress."""
import io
import re

import pytest
import torch
import torch.nn as nn

from dfkd.engine import AdversarialLoop, Player
from dfkd.engine import loop as loop_module
from dfkd.engine.config import OptimConfig, PlayerConfig
from dfkd.engine.loop import StatelessMethod, progress_line

LINE = re.compile(r"^iteration (\d+)/(\d+)  \d+\.\ds(  .*)?$")


class Tiny(StatelessMethod):
    """Two linear players pulled toward fixed targets: a loop run costs milliseconds."""

    def __init__(self, adversary: nn.Module, student: nn.Module) -> None:
        self.adversary, self.student = adversary, student
        self.x = torch.ones(4, 3)

    def adversary_loss(self, iteration):
        return {"loss": (self.adversary(self.x) - 1).pow(2).mean()}

    def student_loss(self, iteration):
        return {"loss": (self.student(self.x) + 1).pow(2).mean()}

    def log_media(self, logger, iteration):
        pass


def tiny_loop(tmp_path, total=6, eval_every=2, evaluate=True):
    torch.manual_seed(0)
    adversary, student = nn.Linear(3, 1), nn.Linear(3, 1)
    cfg = PlayerConfig(optim=OptimConfig("sgd", lr=0.1))
    ap = Player.from_config("generator", adversary, cfg, total)
    sp = Player.from_config("student", student, cfg, total)
    calls = []

    def figures():
        calls.append(len(calls))
        return {"acc": 65.4137 + len(calls), "class_entropy": 0.98123}

    loop = AdversarialLoop(Tiny(adversary, student), sp, ap, total, tmp_path,
                           evaluate=figures if evaluate else None, eval_every=eval_every,
                           log_every=1)
    return loop, calls


def progress(text):
    return [line for line in text.splitlines() if line.startswith("iteration")]


def test_one_plain_line_per_evaluation_when_not_a_terminal(tmp_path, capsys):
    loop, calls = tiny_loop(tmp_path, total=5, eval_every=2)  # evaluates at 2, 4 and 5 (end)
    loop.run()
    out, err = capsys.readouterr()
    lines = progress(out)
    assert len(lines) == len(calls) == 3, out
    assert out.strip().splitlines() == lines  # nothing else, nothing per iteration
    assert "train:" not in err and "it/s" not in err  # no tqdm bar either
    for line, (iteration, record) in zip(lines, zip((2, 4, 5), loop.history)):
        match = LINE.match(line)
        assert match, line
        assert (int(match[1]), int(match[2])) == (iteration, 5)
        assert f"acc={record['acc']:.4g}" in line and "class_entropy=0.9812" in line


def test_resumed_run_prints_only_its_own_evaluations(tmp_path, capsys):
    loop, _ = tiny_loop(tmp_path, total=4, eval_every=2)
    loop.run()
    capsys.readouterr()
    resumed, _ = tiny_loop(tmp_path, total=8, eval_every=2)
    resumed.resume(tmp_path / "latest.pt")
    resumed.run()
    assert [LINE.match(line)[1] for line in progress(capsys.readouterr().out)] == ["6", "8"]


def test_without_an_evaluation_function_the_line_still_shows_progress(tmp_path, capsys):
    loop, _ = tiny_loop(tmp_path, total=4, eval_every=2, evaluate=False)
    loop.run()
    lines = progress(capsys.readouterr().out)
    assert [LINE.match(line)[1] for line in lines] == ["2", "4"]
    assert all(LINE.match(line)[3] is None for line in lines)  # no figures to show


def test_on_a_terminal_the_bar_alone_shows_progress(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(loop_module, "is_terminal", lambda stream: True)
    loop, calls = tiny_loop(tmp_path)
    loop.run()
    assert len(calls) == 3 and progress(capsys.readouterr().out) == []


class TerminalStream(io.StringIO):
    def isatty(self):
        return True


def test_piped_stdout_gets_the_lines_while_the_bar_draws_on_the_terminal(tmp_path, capsys,
                                                                         monkeypatch):
    """``make demo | tee log``: stdout is a pipe, stderr still the terminal."""
    terminal = TerminalStream()
    monkeypatch.setattr("sys.stderr", terminal)
    loop, _ = tiny_loop(tmp_path)
    loop.run()
    lines = progress(capsys.readouterr().out)
    assert [LINE.match(line)[1] for line in lines] == ["2", "4", "6"]
    assert "train" in terminal.getvalue()  # the bar was drawn there, and no line
    assert "iteration 2/6" not in terminal.getvalue()


def test_only_process_zero_prints(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(loop_module.distributed, "is_main", lambda: False)
    loop, calls = tiny_loop(tmp_path)
    loop.run()
    assert calls == [] and progress(capsys.readouterr().out) == []


@pytest.mark.parametrize("figures, expected", [
    ({}, "iteration 3/10  1.2s"),
    ({"acc": 65.4149, "fid": 12.0}, "iteration 3/10  1.2s  acc=65.41 fid=12"),
    ({"l1": 0.031249, "note": "x"}, "iteration 3/10  1.2s  l1=0.03125 note=x"),
])
def test_progress_line_format(figures, expected):
    assert progress_line(3, 10, 1.23, figures) == expected
