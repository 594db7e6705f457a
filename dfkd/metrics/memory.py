"""Resident memory of this process, for memory-flatness checks in run histories."""
from __future__ import annotations

import os
import resource


def current_rss_mb() -> float:
    """The process's resident set size now, in MiB (peak RSS where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, B on macOS
        return peak / 2 ** 10
