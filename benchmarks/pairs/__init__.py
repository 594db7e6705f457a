"""Data-free methods on a teacher -> LeNet-5-half pair, three seeds: ``benchmarks/<stem>.md``.

    python tools/benchmark_pair.py --pair lenet5_bn             # every missing run, the report
    python tools/benchmark_pair.py --pair lenet5                # the embedded default pair
    python tools/benchmark_pair.py --pair lenet5_bn --methods nayer --seeds 0
    python tools/benchmark_pair.py --pair lenet5 --report-only

The pairs (``pair.PAIRS``), both on Fashion-MNIST with student ``lenet5_half``:

* ``lenet5_bn``: LeNet-5 with BatchNorm (the teacher that BN-statistics methods need), rows
  DeepInversion, CMI, Fast-DFKD, NAYER and dfq on three of its configs (``dfq_float``,
  ``dfq_8bit``, ``dfq_4bit``: issue 20's target, the 8-bit student within 1 point of the
  float one); output ``bn_pair.json/.md``, runs in ``runs/bn_pair``; last 3 evaluations;
* ``lenet5``: the embedded default (no BatchNorm), rows DAFL, DFAD, ZSKT, CGDD, MAD and
  dual_generator on their ``fashion_mnist.yaml`` (issue 16's targets); output
  ``lenet5_pair.json/.md``, runs in ``runs/lenet5_pair``; last 5 evaluations.

Seed ``s`` is both the teacher's and the student run's seed: teacher ``s`` is
``checkpoints/<teacher>_fashion_mnist.pt`` for seed 0 (the file ``tools/train_dfkd.py`` finds
by default) and ``..._seed<s>.pt`` otherwise, trained here (``tools/train_teacher.py``, 10
epochs) when missing. Each (method, seed) is ``tools/train_dfkd.py`` with ``teacher=<teacher>``
and ``train.threads=1`` in its own child process, ``--jobs`` of them side by side (two on the
2-core machine: one core each). A row holds the run's final test accuracy, the mean of its
last evaluations (the pair's count), the best one (reported, never used to pick), its training
seconds and the child's CPU seconds.

Resumable: ``<stem>.json`` is rewritten after every finished run and a run already in it is
not repeated; a run cut short continues from its ``latest.pt`` (``--resume``).

Modules: ``pair`` (the pairs), ``runs`` (teachers, one (method, seed) run in a child, its
row), ``report`` (seed statistics, the time budget, the plot, <stem>.md), ``targets`` (each
pair's target lines) and ``cli`` (``main``).
"""
