"""Data-free methods on the BatchNorm pair, three seeds: ``benchmarks/bn_pair.md``.

    python tools/benchmark_bn_pair.py                        # every missing run, then the report
    python tools/benchmark_bn_pair.py --methods nayer --seeds 0
    python tools/benchmark_bn_pair.py --report-only

The pair: LeNet-5 with BatchNorm (``lenet5_bn``, the teacher that BN-statistics methods
need) -> LeNet-5-half on Fashion-MNIST. Seed ``s`` is both the teacher's and the student
run's seed: teacher ``s`` is ``checkpoints/lenet5_bn_fashion_mnist.pt`` for seed 0 and
``..._seed<s>.pt`` otherwise, trained here (``tools/train_teacher.py``, 10 epochs) when
missing. Each (method, seed) is ``tools/train_dfkd.py`` on ``configs/<method>/
fashion_mnist.yaml`` with ``teacher=lenet5_bn`` and ``train.threads=1`` in its own child
process, ``--jobs`` of them side by side (two on the 2-core machine: one core each). A row
holds the run's final test accuracy, the mean of its last three evaluations, the best one
(reported, never used to pick), its training seconds and the child's CPU seconds.
The rows ``dfq_float``, ``dfq_8bit`` and ``dfq_4bit`` are one method on three of its configs
(``runs.VARIANTS``): issue 20's target, the 8-bit student within 1 point of the float one.

Resumable: ``bn_pair.json`` is rewritten after every finished run and a run already in it is
not repeated; a run cut short continues from its ``latest.pt`` (``--resume``).

Modules: ``runs`` (teachers, one (method, seed) run in a child, its row), ``report``
(seed statistics, the targets, the plot, bn_pair.md) and ``cli`` (``main``).
"""
