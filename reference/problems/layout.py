r"""The flat parameter vector of a layered model: one packing rule, used everywhere.

A model with arrays A_1, ..., A_k of shapes s_1, ..., s_k (an MLP: W1 (w, d), b1 (w,), W2 (m, w),
b2 (m,)) stores them in one flat theta as the row-major concatenation

    theta = [vec_row(A_1), vec_row(A_2), ..., vec_row(A_k)],   |theta| = sum_j prod(s_j).

``unpack(theta, shapes)`` gives the arrays back (views, traceable by autograd; leading batch axes
are kept, so a stack of parameter rows Theta (n, p) unpacks to arrays (n, *s_j)), and
``pack(arrays)`` writes them (the inverse). The Peaks problem's ``flatten``/``unflatten``, the
per-layer methods (K-FAC's update, Shampoo's blocks), the dense-MLP Jacobians of the model oracle
and the test models all go through these two functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import autograd.numpy as anp
import numpy as np

#: The shapes of the blocks of a flat vector, in order (1-D and 2-D for dense layers).
Shapes = tuple[tuple[int, ...], ...]


def size(shapes: Shapes) -> int:
    """The length of the flat vector: sum_j prod(s_j)."""
    return sum(int(np.prod(s)) for s in shapes)


def unpack(theta: Any, shapes: Shapes) -> tuple[Any, ...]:
    """The arrays of shapes ``shapes`` stored row-major, one after the other, in ``theta[..., :]``.

    The last axis of ``theta`` is the flat vector; any leading axes are kept (``theta`` of shape
    (n, p) gives arrays of shapes (n, *s_j)). The length is not checked here: callers check it.
    """
    lead = tuple(anp.shape(theta)[:-1])
    out, k = [], 0
    for s in shapes:
        n = int(np.prod(s))
        out.append(anp.reshape(theta[..., k : k + n], lead + tuple(s)))
        k += n
    return tuple(out)


def pack(arrays: Sequence[Any], *, lead: int = 0) -> Any:
    """The row-major concatenation of ``arrays`` along one flat axis (the inverse of ``unpack``).

    The first ``lead`` axes of every array are batch axes and are kept (K-FAC packs per-layer
    updates with ``lead=0``; the model oracle packs per-sample Jacobian blocks (n, m, *s_j) with
    ``lead=2``).
    """
    return anp.concatenate([anp.reshape(a, tuple(anp.shape(a)[:lead]) + (-1,)) for a in arrays], axis=lead)
