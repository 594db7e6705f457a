"""What the GAN benchmark runs, as data: tasks, method rows, per-row CPU budgets, --quick.

Each (task, row, seed) is one :class:`Run`: a tool's command line, its run folder and the
generator file it leaves. Rows: ``teacher`` (``tools/train_gan.py``, ``configs/gan/<task>``),
``scratch`` (the same tool at the first method's student width, no teacher, for about the
first method's CPU time: :data:`SCRATCH_TIME`) and one per entry of :data:`METHODS`
(``tools/compress_gan.py --config configs/<folder>/<task>.yaml`` from the task's teacher).
One teacher per task (seed :data:`TEACHER_SEED`); seed ``s`` is each student's seed.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from benchmarks import ROOT

#: task key -> (embedded task, the teacher's generator file)
TASKS = {"pix2pix": ("edges2fashion", "latest_net_G.pth"),
         "cyclegan": ("sneaker2boot", "latest_net_G_A.pth")}
#: every generator-distillation method with a row: (method, configs/<folder>/<task>.yaml).
#: Adding a method is one line here (and its config folder).
METHODS: tuple[tuple[str, str], ...] = (
    ("gan_compression", "compress"),
    ("omgd", "omgd"),
    ("dcd", "dcd"),
    ("portable_gan", "portable_gan"),
    ("ackd", "ackd"),
)
SEEDS = (0, 1, 2)
#: one teacher per task, trained with this seed; every student seed distills it (issue 18
#: asks 3 seeds of the students; a teacher costs ~50 CPU minutes on pix2pix and ~70 on
#: CycleGAN here, so the budget goes to the students)
TEACHER_SEED = 0
#: scratch trains for the first method's (GAN Compression's) CPU time, as issue 18 compares
#: them ("for the same wall time"): scratch iterations = that student's iterations x this
#: ratio of CPU seconds per iteration (student / scratch), measured on this machine by the
#: one-seed benchmark of 2026-11-26 (pix2pix: 3000 iterations 2577 s vs 677 s; CycleGAN:
#: 8000 in 849 s vs 1823 s, where scratch trains CycleGAN's two generators and two
#: discriminators). The page prints both CPU times, so a drift of the ratio shows.
SCRATCH_TIME = {"edges2fashion": 3.8, "sneaker2boot": 0.47}
BASE_ROWS = ("teacher", "scratch")


class Budget(NamedTuple):
    """A row's stated departure from its config: ``iters`` iterations instead of the
    config's, and a checkpoint (evaluation) every ``eval_every`` so that a run cut by a
    session's end loses little; ``why`` is printed beside the row."""

    iters: int
    eval_every: int
    why: str


#: (row, task) -> Budget, for the rows whose full recipe does not fit here. The rule: one
#: run at most ~100 CPU minutes (one torch thread of this 2-core machine), so that a run
#: ends within one 180-minute session even at the ~1.5-2x wall time of a contended machine.
#: Pilot (random teachers at the real sizes, other jobs on the machine; CPU seconds per
#: iteration from 1 vs 11 or 4 iterations): OMGD 4.1 on pix2pix (3000 iterations: ~205 min)
#: and 2.3 on CycleGAN (2000: ~76 min); on pix2pix GAN Compression 1.6, DCD 2.0, Portable
#: GAN 1.6 (3000: 80-100 min), the teacher 2.1 (1500: ~51 min); CycleGAN students 0.5-0.75
#: (8000: at most ~100 min; short pilots overstate them: the one-seed benchmark before
#: measured GAN Compression's 8000 in 14 wall minutes on 2 threads). Rows not listed run
#: their config as it is.
BUDGETS: dict[tuple[str, str], Budget] = {
    ("omgd", "edges2fashion"): Budget(
        1500, 100, "CPU budget: OMGD trains its two teachers (ngf 64 wide, ngf 16 deep) and "
        "their shared discriminator online beside the student, ~4 CPU s per iteration at "
        "batch 16 (GAN Compression: ~1.6): the config's 3000 would be ~3.4 CPU hours a seed; "
        "1500 (~100 CPU min) keep the schedule's shape (constant, then linear decay over the "
        "second half)"),
}


def row_order() -> list[str]:
    """Rows as the tables and grids show them: teacher, scratch, then :data:`METHODS`."""
    return [*BASE_ROWS, *(m for m, _ in METHODS)]


def budget(row: str, task: str) -> Budget | None:
    return BUDGETS.get((row, task))


#: --quick (smoke test of the harness, not the benchmark): every child trains this many
#: iterations on tiny networks and few evaluation pairs, without FID, a checkpoint each.
QUICK_ITERS = 2
QUICK_SETS = ("train.batch_size=2", "train.eval_pairs=8", "train.eval_every=1",
              "train.image_every=0", "train.log_every=1", "fid.classifier=", "ndf=8")
QUICK_TEACHER = ("ngf=8",)
QUICK_STUDENT_NGF = 2
QUICK_METHOD = {"omgd": ("options.deep_ngf=4",)}  # OMGD's deep teacher, ngf 16 otherwise


class Run(NamedTuple):
    task: str  # task key (pix2pix, cyclegan)
    row: str  # teacher, scratch or a method
    seed: int
    folder: Path
    args: tuple[str, ...]  # the tool (relative to the repository) and its flags
    product: str  # the generator file the run leaves in its folder
    iters: int  # iterations it trains
    config_iters: int  # its config's
    note: str  # why they differ ("" when they do not)
    teacher: Path | None  # the task's teacher generator file (None for the teacher itself)

    @property
    def name(self) -> str:
        return f"{self.task}/seed{self.seed}/{self.row}"


@lru_cache(maxsize=None)
def read_config(folder: str, task_name: str) -> dict:
    import yaml

    path = ROOT / "configs" / folder / f"{task_name}.yaml"
    return yaml.safe_load(path.read_text())


def config_folder(row: str) -> str:
    folders = dict(METHODS)
    if row not in folders:
        raise ValueError(f"unknown row {row!r}: teacher, scratch or one of {', '.join(folders)}")
    return folders[row]


def run_folder(runs: Path, task: str, seed: int, row: str) -> Path:
    return runs / task / f"seed{seed}" / row


def teacher_file(runs: Path, task: str) -> Path:
    """The task's one teacher (:data:`TEACHER_SEED`), which every student seed distills."""
    return run_folder(runs, task, TEACHER_SEED, "teacher") / TASKS[task][1]


def _sets(values) -> list[str]:
    return [x for v in values for x in ("--set", v)]


def plan_run(runs: Path, task: str, row: str, seed: int, quick: bool = False,
             data_root: str | None = None) -> Run:
    """The :class:`Run` of ``row`` on ``task`` with ``seed`` under the folder ``runs``."""
    name = TASKS[task][0]
    first = config_folder(METHODS[0][0])
    if row == "teacher":
        folder_iters = read_config("gan", name)["train"]["iters"]
        args = ["tools/train_gan.py", "--task", name, *_sets(QUICK_TEACHER if quick else ())]
        product = TASKS[task][1]
    elif row == "scratch":  # the first method's student width and CPU time, no teacher
        cfg = read_config(first, name)
        first_iters = (budget(METHODS[0][0], name) or Budget(cfg["train"]["iters"], 0, "")).iters
        folder_iters = round(first_iters * SCRATCH_TIME[name])
        ngf = QUICK_STUDENT_NGF if quick else cfg["student_ngf"]
        args = ["tools/train_gan.py", "--task", name, "--set", f"ngf={ngf}"]
        product = TASKS[task][1]
    else:
        folder_iters = read_config(config_folder(row), name)["train"]["iters"]
        config = ROOT / "configs" / config_folder(row) / f"{name}.yaml"
        args = ["tools/compress_gan.py", "--config", str(config),
                "--task", name, "--teacher-ckpt", str(teacher_file(runs, task))]
        if quick:
            args += ["--student-ngf", str(QUICK_STUDENT_NGF), *_sets(QUICK_METHOD.get(row, ()))]
        product = "latest_net_G.pth"
    args += ["--seed", str(seed), "--set", "train.threads=1"]
    if data_root:
        args += ["--data-root", str(data_root)]
    iters, note = folder_iters, ""
    limit = budget(row, name)
    if quick:
        iters, note = QUICK_ITERS, f"--quick: {QUICK_ITERS} iterations, tiny networks"
        args += _sets(QUICK_SETS)
    elif limit:
        iters = limit.iters
        note = (f"trained {iters} iterations instead of the config's {folder_iters}: "
                f"{limit.why}")
        args += ["--set", f"train.eval_every={limit.eval_every}"]
    if iters != folder_iters or row == "scratch":  # scratch: not its tool's own config's
        args += ["--iters", str(iters)]
    if row == "scratch" and not quick:
        note = (f"{iters} iterations: {METHODS[0][0]}'s {first_iters} x {SCRATCH_TIME[name]}, "
                "the CPU seconds per iteration of that student over scratch's, for the same "
                "CPU time (issue 18)")
    return Run(task, row, seed, run_folder(runs, task, seed, row), tuple(args), product,
               iters, folder_iters, note, None if row == "teacher" else teacher_file(runs, task))


def plan(runs: Path, tasks, rows, seeds, quick: bool = False,
         data_root: str | None = None) -> list[Run]:
    """Every run of ``rows`` (scratch always included) on ``tasks`` x ``seeds``, after each
    task's one teacher: seed by seed scratch and the first method (issue 18's comparison),
    then every other method row by row, so that a session's part finishes whole
    comparisons first."""
    first = ["scratch"] + [r for r in rows if r == METHODS[0][0]]
    others = [r for r in rows if r not in BASE_ROWS and r not in first]
    order = ([(row, seed) for seed in seeds for row in first]
             + [(row, seed) for row in others for seed in seeds])
    return ([plan_run(runs, task, "teacher", TEACHER_SEED, quick, data_root) for task in tasks]
            + [plan_run(runs, task, row, seed, quick, data_root)
               for row, seed in order for task in tasks])
