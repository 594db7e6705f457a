"""Generator distillation on the embedded tasks, 3 seeds: ``benchmarks/gan_compression.md``.

    python tools/benchmark_gan.py                            # every missing run, then the report
    python tools/benchmark_gan.py --tasks pix2pix --seeds 0 --methods gan_compression omgd
    python tools/benchmark_gan.py --stop-after 150           # a session's part: no run starts
                                                             # after 150 minutes
    python tools/benchmark_gan.py --measure-only             # report what is trained
    python tools/benchmark_gan.py --quick                    # smoke test (runs/gan_bench_quick)

Tasks: ``pix2pix`` (edges2fashion) and ``cyclegan`` (sneaker2boot, A -> B). Per task and
seed: the teacher, a scratch student and one student per method of ``plan.METHODS`` (a
tuple of (method, config folder): a new method is one line), each its tool in a child
process on one torch thread, ``--jobs`` side by side; a run whose folder holds
``metrics.json`` is reused, one holding only ``latest.pt`` (cut short) is continued with
``--resume``. Rows whose full recipe does not fit this machine train for fewer iterations,
each stated in ``plan.BUDGETS`` and printed beside its row. After every finished run its row
is measured here (parameters, MACs at 32² and 256², PSNR/SSIM to the same seed's teacher and
to the ground truth, FID under LeNet-5 features, the child's CPU seconds) and
``gan_compression.json``/``.md`` are rewritten, so each part can be committed; at the end
the latencies (each architecture timed in turn) and the sample grids
(``gan_compression_<task>.png``: input, target, teacher, each student).

Across sessions the JSON is what lasts (``runs/`` is not committed; a new session may find
its work tree laid anew): a row measured before whose run folder is gone is kept and not
trained again; its seed's teacher is trained again (same seed) only when a student of that
seed still has to train, and a student distilled from another teacher file than the
measured one is named in the report. Commit ``benchmarks/gan_compression.*`` after each part.

Modules: ``plan`` (tasks, rows, budgets, --quick: data), ``runs`` (children, scheduling),
``measure`` (a run's numbers, latencies), ``samples`` (grids), ``summary`` (mean ± std,
the target line), ``page`` (JSON and markdown), ``cli`` (``main``).
"""
