"""Discriminator distillation, data-free: a generator synthesizes inputs, the frozen teacher
judges them, a small student learns from the teacher on them (``tools/train_dfkd.py``).

``methods/`` holds one file per method (registered in ``METHODS``), ``config.py`` the run's
typed config, ``train.py`` the entry the tool calls; ``replay``, ``grids`` and ``sample``
are the family's own parts."""
