"""The benchmarks: one importable harness that every ``tools/benchmark*.py`` entry point uses.

Shared parts, one purpose each:

* :mod:`benchmarks.children`: run a tool in a child process (its output logged and echoed,
  its own peak RSS from ``os.wait4``), or skip it when its product exists (resuming a cut
  benchmark);
* :mod:`benchmarks.machine`: the machine line of every report;
* :mod:`benchmarks.plots`: matplotlib's pyplot, or why there is none;
* :mod:`benchmarks.report`: ``benchmarks/README.md``, tables and plots from every JSON.

One module (or package) per benchmark: :mod:`benchmarks.data_free` and
:mod:`benchmarks.pairs` (``make bench``),
:mod:`benchmarks.losses`, :mod:`benchmarks.gan`, :mod:`benchmarks.joint` and
:mod:`benchmarks.distributed`. The results they write (``*.json``, ``*.md``, ``*.png``) live
next to this code, in this folder.

Nothing here imports torch at import time: a benchmark's parent process stays small while
its children run (see :func:`benchmarks.children.run_child`).
"""
from pathlib import Path

#: the repository root (tools and configs are found from it)
ROOT = Path(__file__).resolve().parent.parent
#: where results are written by default, relative to the working directory
OUT = Path("benchmarks")


def add_rerun_args(parser) -> None:
    """The flags every benchmark of (method, seed) runs shares: data, output, overrides,
    rerun, report only."""
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="config override for every run (for trials "
                        "and tests: rows measured so are marked as not the benchmark's)")
    parser.add_argument("--rerun", action="store_true",
                        help="run the selected (method, seed) pairs again even if measured")
    parser.add_argument("--report-only", action="store_true")
