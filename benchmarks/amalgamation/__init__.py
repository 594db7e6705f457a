"""Data-free knowledge amalgamation (issue 20): two LeNet-5 teachers of disjoint halves of
the Fashion-MNIST classes, one LeNet-5 student of all ten, no data. ``benchmarks/
amalgamation.md``.

    python tools/benchmark_amalgamation.py                # every missing seed, then the report
    python tools/benchmark_amalgamation.py --seeds 0
    python tools/benchmark_amalgamation.py --report-only

Per seed s: the half-teachers ``checkpoints/lenet5_fashion_mnist_classes0-4_seed<s>.pt`` and
``..._classes5-9_seed<s>.pt`` (``tools/train_teacher.py --classes``, ``runs.TEACHER_EPOCHS``
epochs, trained here when missing, each a child of one thread), then ``tools/train_dfkd.py
--method amalgamation`` on ``configs/amalgamation/fashion_mnist.yaml`` with
``teacher_ckpt=[both]`` and ``train.threads=1``. A row holds the student's final 10-class
test accuracy, the teachers' ensemble accuracy (each test image given to the more confident
teacher: its largest softmax probability; its class mapped into its range), their ratio and
the amalgamation child's CPU minutes (user + sys, from its rusage; the teachers' are
reported apart). The issue's target: student ≥ 0.85× the ensemble, without data, within
15 CPU minutes.

Resumable: ``amalgamation.json`` is rewritten after each finished seed and a seed in it is
not repeated; a run cut short continues from its ``latest.pt`` (``--resume``), a teacher cut
short from its run folder.

Modules: ``runs`` (teachers and one seed's run in children, its row), ``report`` (seed
statistics, the target, amalgamation.md) and ``cli`` (``main``).
"""
