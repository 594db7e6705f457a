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


def save_figure(plt, fig, path) -> None:
    """Lay ``fig`` out, write it to ``path`` (PNG, 100 dpi) and close it."""
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def image_rows(rows: list[tuple[str, object]], path, title: str = "") -> str | None:
    """A grid of grayscale or RGB images in [0, 1], one labelled row per ``(label, array
    (N, C, H, W))`` (the GAN benchmarks' samples: input, teacher, each student); None when
    written, else why not."""
    plt, why = pyplot()
    if plt is None:
        return why
    n = max(len(images) for _, images in rows)
    fig, axes = plt.subplots(len(rows), n, figsize=(0.8 * n + 1.2, 0.8 * len(rows) + 0.4),
                             squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c in range(n):
            ax = axes[r][c]
            ax.set_xticks([]), ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if c < len(images):
                image = images[c].transpose(1, 2, 0)
                ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray",
                          vmin=0.0, vmax=1.0)
        axes[r][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(pad=0.3, rect=(0, 0, 1, 0.96 if title else 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return None
