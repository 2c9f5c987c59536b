"""Hypothesis strategies shared by the tests (no global RNG: hypothesis drives all draws)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64)
nonzero = finite.filter(lambda x: abs(x) > 1e-6)


@st.composite
def params_and_grads(
    draw: st.DrawFn, n_grads: int = 3, allow_zero: bool = True
) -> tuple[np.ndarray, list[np.ndarray]]:
    """A params array of shape 1-8 (or a small 2-D shape) and ``n_grads`` gradients of that shape."""
    shape = draw(
        st.one_of(
            hnp.array_shapes(min_dims=1, max_dims=1, min_side=1, max_side=8),
            hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=3),
        )
    )
    elems = finite if allow_zero else nonzero
    x = draw(hnp.arrays(np.float64, shape, elements=finite))
    gs = [draw(hnp.arrays(np.float64, shape, elements=elems)) for _ in range(n_grads)]
    return x, gs


positive_scale = st.floats(1e-3, 1e3, allow_nan=False, allow_infinity=False)
