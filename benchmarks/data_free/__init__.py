"""Benchmarks on the embedded default (Fashion-MNIST, LeNet-5 -> LeNet-5-half).

    python tools/benchmark.py                             # every variant, memory, overhead
    python tools/benchmark.py --methods dafl mad-replay   # a subset; other rows are kept
    python tools/benchmark.py --memory                    # only the memory-flatness run
    python tools/benchmark.py --overhead-only             # only the loop overhead

A *variant* is a method plus config overrides, named after both: ``dafl`` runs
configs/dafl/fashion_mnist.yaml as it is, ``dafl-noreplay`` adds ``replay.capacity=0``,
``dfad-replay`` adds a 10k reservoir replay buffer feeding half of each student batch.
By default every method of ``dfkd.discriminator_distillation.METHODS`` runs as configured
and with replay switched the other way from its config.

Each variant runs in its own child process (``tools/train_dfkd.py``), so its peak RSS,
read from ``os.wait4``, is its own; its output is echoed and kept in
``benchmarks/runs/<variant>/stdout.txt``. A row holds the teacher's and the final
student's accuracy on the real test set, their ratio, the best accuracy, iterations,
training wall time, iterations/s, peak RSS and the run's evaluation history.

Then, in this order:

* memory: a cheap DAFL run with a full replay buffer (10k samples, reservoir) for 10,000
  iterations, through the same child-process path; its RSS at iterations 1,000 and
  10,000 (``rss_mb`` in its history) shows whether memory stays flat;
* forgetting: for ``dfad`` and ``mad`` (same budget), the student's agreement with the
  teacher on a fixed bank of early synthetic samples at each evaluation
  (``early_bank_acc`` in the history): one line each, and benchmarks/forgetting.png when
  matplotlib is installed (``pip install -e '.[bench]'``);
* loop overhead: the shared loop against a minimal hand-written PyTorch loop with the same
  models, batch and steps (DFAD's game without replay or augmentation), timed in
  alternating blocks in this process.

Writes benchmarks/results.json and results.md (after every row, so an interrupted run keeps
what it measured). This process imports torch only after the children have run: on Linux a
child started by ``subprocess`` (vfork + exec) begins with its parent's peak RSS in its own
``ru_maxrss``, so a heavy parent would inflate every child's figure.

Modules: ``variants`` (names, configs, row order), ``runs`` (a variant in a child process,
its results row), ``memory``, ``overhead``, ``forgetting``, ``report`` (results.md) and
``cli`` (``main``).
"""
