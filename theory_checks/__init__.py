"""Theory checks: one module per documented claim of the lecture notes (see _base.py, _template.py).

``CHECKS`` lists the module names in the order the report shows them.
"""

from __future__ import annotations

CHECKS: tuple[str, ...] = (
    "gd_stability",
    "robbins_monro",
    "minibatch_noise",
    "early_stopping_ridge",
    "early_stopping_procedure",
    "momentum_speedup",
    "nesterov_rate",
    "momentum_ode",
    "sgd_rates",
    "sgd_interpolation",
    "backprop_cost",
    "adam_fixed_points",
    "adam_ode",
    "sgd_temperature",
    "saddle_escape",
    "adaptive_effective_step",
    "tail_index",
    "escape_time",
    "adam_tails",
    "gn_one_step",
    "gn_local_rate",
    "gn_softmax_matrix",
    "natural_gradient_invariance",
    "convergence_orders",
    "newton_one_step",
    "em_monotone",
    "hypergradient_hpo",
    "lazy_regime",
    "ntk_regression",
    "linear_probe",
    "kkt_conditions",
    "kkt_inequality",
    "diagonal_preconditioning",
    "init_variance",
    "steepest_descent_rate",
    "edge_of_stability",
)
