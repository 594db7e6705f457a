"""matplotlib for the benchmark plots, optional (the ``bench`` extra)."""
from __future__ import annotations

NO_MATPLOTLIB = "matplotlib is not installed (pip install -e '.[bench]')"


def pyplot():
    """matplotlib's pyplot (Agg backend) and None, or None and the reason there is none."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None, NO_MATPLOTLIB
    return plt, None
