"""Test problems: quadratics, least squares, ridge, logistic regression, note 000's Peaks task.

    from reference import problems
    prob = problems.peaks(width=32)            # 2-32-5 ReLU MLP, p = 261
    theta = prob.init_params(np.random.default_rng(0))
    prob.loss(theta), prob.grad(theta)
    prob.minibatch_grad(theta, rng, 32)        # unbiased estimate of grad L
    prob.per_sample_grads(theta, idx)          # (b, p), one backward pass

Every problem satisfies ``Problem``; the data-fitting ones satisfy ``FiniteSumProblem`` (model +
per-sample loss on the outputs; see ``_base``). ``reduction_scale(problem)`` turns a problem's
reduction ("mean" or "sum") into the factor of L; ``pack`` / ``unpack`` (``layout``) are the one
rule for storing layer arrays in the flat theta.
"""

from __future__ import annotations

from ._base import FiniteSumProblem, IndexArray, Problem, Reduction, reduction_scale
from ._finite_sum import FiniteSumBase
from .layout import Shapes, pack, unpack
from .linear import (
    LeastSquares,
    LogisticRegression,
    Ridge,
    least_squares,
    logistic_regression,
    make_logistic_data,
    ridge,
)
from .peaks import PEAKS_THRESHOLDS, Peaks, peaks, peaks_function, peaks_labels
from .quadratic import Quadratic, quadratic, random_orthogonal

__all__ = [
    "PEAKS_THRESHOLDS",
    "FiniteSumBase",
    "FiniteSumProblem",
    "IndexArray",
    "LeastSquares",
    "LogisticRegression",
    "Peaks",
    "Problem",
    "Quadratic",
    "Reduction",
    "Ridge",
    "Shapes",
    "least_squares",
    "logistic_regression",
    "make_logistic_data",
    "pack",
    "peaks",
    "peaks_function",
    "peaks_labels",
    "quadratic",
    "random_orthogonal",
    "reduction_scale",
    "ridge",
    "unpack",
]
