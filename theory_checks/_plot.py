"""Figure helpers for the checks' ``plot`` functions: matplotlib with the Agg backend, imported
lazily so that importing a check (or running it with --no-plots) never needs matplotlib."""

from __future__ import annotations

from typing import Any


def subplots(ncols: int = 1, nrows: int = 1, *, width: float = 5.0, height: float = 3.8) -> tuple[Any, Any]:
    """A figure with ``nrows x ncols`` axes (a flat array), drawn with the Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    return fig, axes.ravel()


def save(fig: Any, path: str, title: str | None = None) -> None:
    """Write ``fig`` to ``path`` (PNG) and release it."""
    import matplotlib.pyplot as plt

    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
