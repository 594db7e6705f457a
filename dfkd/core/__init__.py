"""The bottom layer: user errors, registries, ``eval_mode``, checkpoint I/O (atomic save,
safe load, RNG state) and config loading. Imports nothing else of dfkd."""
