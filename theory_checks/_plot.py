"""Figure helpers for the checks' ``plot`` functions: matplotlib with the Agg backend, imported
lazily so that importing a check (or running it with --no-plots) never needs matplotlib.

Two things keep a figure cheap (the figures were two thirds of a quick run): the figure is made at
the resolution it is saved at (``DPI``), so that ``tight_layout`` and ``savefig`` share one
renderer and its cache of text sizes (at 100 and 110 dpi every label was measured twice), and the
log axes' tick labels are written with Unicode superscripts (``10⁻³``) instead of mathtext
(``$10^{-3}$``), whose parser was a quarter of the drawing time; the figure looks the same.
A log axis spanning more than ``MINOR_DECADES`` decades draws no minor ticks: each tick is four
artists that ``tight_layout`` and ``savefig`` both measure, and the eight minor ticks per decade
were a quarter of the figures' CPU time (10.2 -> 7.5 s for the quick tier's 36 figures, with the
rule below for minor labels); the labelled ticks at every decade remain, and shorter axes, which
need them, keep their minor ticks.
"""

from __future__ import annotations

import re
from typing import Any

#: The resolution figures are made and saved at (dots per inch).
DPI = 110

#: log axes spanning more decades than this draw no minor ticks (see the module docstring)
MINOR_DECADES = 2.0

_SUPERSCRIPT = str.maketrans("-−0123456789", "⁻⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_MATHDEFAULT = re.compile(r"^\$\\mathdefault\{(.*)\}\$$")
_POWER = re.compile(r"\^\{(-?[0-9]+)\}")


def plain_label(label: str) -> str:
    """A log axis's mathtext label as plain text: ``$\\mathdefault{10^{-3}}$`` -> ``10⁻³``,
    ``$\\mathdefault{2\\times10^{1}}$`` -> ``2×10¹``; any other string unchanged."""
    m = _MATHDEFAULT.match(label)
    if m is None or "\\" in m.group(1).replace("\\times", ""):
        return label
    body = m.group(1).replace("\\times", "×")
    out = _POWER.sub(lambda g: g.group(1).translate(_SUPERSCRIPT), body)
    return label if any(c in out for c in "{}^$") else out


def _plain_log_labels(fig: Any) -> None:
    """Give every log axis of ``fig`` a formatter that writes ``plain_label``s."""
    from matplotlib import ticker

    class PlainLogFormatter(ticker.LogFormatterSciNotation):
        def __call__(self, x: float, pos: int | None = None) -> str:
            return plain_label(super().__call__(x, pos))

    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for fmt in (axis.get_major_formatter(), axis.get_minor_formatter()):
                if type(fmt) is ticker.LogFormatterSciNotation:
                    fmt.__class__ = PlainLogFormatter  # same state (base, sublabels), plain text out


def _thin_log_ticks(fig: Any) -> None:
    """No minor ticks on log axes that span more than ``MINOR_DECADES`` decades, and no minor
    tick labels on those that span more than one (a labelled decade is in view)."""
    import math

    from matplotlib import ticker

    for ax in fig.axes:
        for axis, lims in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            if axis.get_scale() != "log":
                continue
            lo, hi = sorted(lims)
            decades = math.log10(hi / lo) if lo > 0 else 0.0
            if decades > MINOR_DECADES:
                axis.set_minor_locator(ticker.NullLocator())
            elif decades > 1.0:  # a labelled decade is in view: minor labels would only crowd it
                axis.set_minor_formatter(ticker.NullFormatter())


def subplots(ncols: int = 1, nrows: int = 1, *, width: float = 5.0, height: float = 3.8) -> tuple[Any, Any]:
    """A figure with ``nrows x ncols`` axes (a flat array), drawn with the Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, dpi=DPI)
    return fig, axes.ravel()


def save(fig: Any, path: str, title: str | None = None) -> None:
    """Write ``fig`` to ``path`` (PNG) and release it."""
    import matplotlib.pyplot as plt

    if title:
        fig.suptitle(title, fontsize=10)
    _plain_log_labels(fig)
    _thin_log_ticks(fig)
    fig.set_dpi(DPI)  # a figure made elsewhere than subplots(): one renderer for layout and file
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
