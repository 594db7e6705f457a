"""User-facing errors: one clear line that names the problem and the fix."""


class DfkdError(Exception):
    """An error caused by the user's input (checkpoint, config, dataset, name).

    Command-line tools print ``error: <message>`` and exit with status 2 instead of
    a traceback (pass ``--debug`` to see the traceback).
    """


class ConfigError(DfkdError):
    """Unknown config key, bad value type or malformed ``--set`` override."""


class CheckpointError(DfkdError):
    """A checkpoint that is missing, corrupt, or does not fit the requested model."""


class CorruptCheckpointError(CheckpointError):
    """A checkpoint file that cannot be read at all (truncated, overwritten, not torch)."""


class DatasetMissingError(DfkdError):
    """A dataset that is not on disk where dfkd looks for it."""
