"""Theory checks: one module per documented claim of the seeds (see _base.py, _template.py).

``CHECKS`` lists the module names in the order the report shows them.
"""

from __future__ import annotations

CHECKS: tuple[str, ...] = (
    "gd_stability",
    "robbins_monro",
    "minibatch_noise",
    "early_stopping_ridge",
    "momentum_speedup",
    "nesterov_rate",
    "sgd_interpolation",
    "sgd_temperature",
    "adam_fixed_points",
    "adaptive_effective_step",
    "gn_one_step",
    "gn_softmax_matrix",
    "natural_gradient_invariance",
    "convergence_orders",
    "newton_one_step",
)
