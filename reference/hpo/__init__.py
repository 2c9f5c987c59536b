r"""Hyperparameter optimisation of the learning rate: gradient-based (hypergradients through
unrolled steps) beside grid and random search, (H1)-(H6); multi-fidelity successive halving,
(H7)-(H8); Bayesian optimisation of one hyperparameter with a Gaussian process and expected
improvement, (H9)-(H13). Spec: specs/hpo.md.

Note 003, "Hyperparameter Optimisation (HPO) Methods": "Grid or Random Search: simple but
inefficient"; "Gradient-Based HPO: differentiable hyperparameters". The hyperparameter here is
the learning rate eta of any registered first-order optimizer; the objective is the validation
loss after n unrolled training steps:

    theta_0 = x0;  theta_j = Step(theta_{j-1}, grad L_train(query_{j-1}); eta),  j = 1..n   (H1)
    F(eta)  = L_val(theta_n(eta))                                                          (H2)
    F'(eta) = dF/deta by reverse-mode autograd through the n steps (the hypergradient)     (H3)
    hypergradient descent on s = log eta (eta stays > 0), g_k = eta_k F'(eta_k):
        s_{k+1} = s_k - alpha_k g_k,  alpha_k = the Barzilai-Borwein length
        (s_k - s_{k-1}) / (g_k - g_{k-1}) (else alpha0 / |g_k|), halved until
        F(e^{s_{k+1}}) <= F(eta_k) - c1 alpha_k g_k^2 (Armijo)                              (H4)
    grid search:   eta* = argmin_{eta in G} F(eta)                                          (H5)
    random search: eta_1..eta_m i.i.d. log-uniform on [low, high], eta* = argmin F(eta_i)   (H6)

Every first-order step of the package is written with autograd.numpy (docs/api.md, contract), so
(H3) is exact up to rounding: no finite differences, no truncation of the unrolled horizon.

Modules (their code lines carry the labels, in this order):
    objective      F(eta), the unrolled validation loss (H1)-(H2); ``SearchResult``
    hypergradient  F'(eta) by autograd (H3); hypergradient descent ``tune_lr`` (H4)
    search         grid and random search (H5)-(H6); successive halving (H7)-(H8)
    bayesian       GP with an RBF kernel, expected improvement, ``bayesian_optimization`` (H9)-(H13);
                   several hyperparameters: ARD GP, EI by L-BFGS-B, ``bayesian_search`` (H14)-(H17)
    space          a search space of several hyperparameters and its unit cube (H18)
Hyperband and BOHB (reference/hpo/hyperband.py, bohb.py; specs/hyperband.md, specs/bohb.md) have
their own specs and are imported from their modules, as is early_stopping.
Every public name is re-exported here: ``reference.hpo.<name>`` and ``from reference.hpo import
<name>`` are the public face.

Conventions:
    * The objective is any callable ``F(lr) -> scalar`` that autograd can trace in ``lr``;
      ``validation_objective`` builds the standard one, (H1)-(H2), with ``ref.make(name, lr=...)``
      built inside F so that ``lr`` may be an autograd box.
    * (H4) works on log eta because eta must stay positive and the loss varies on a log scale of
      eta; d F / d s = eta F'(eta). A trial whose F is not finite (the unrolled run diverged)
      (or whose steps met a non-finite gradient, or whose e^s overflows) fails the Armijo test
      and the step is halved;
      grid and random search count it as F = inf.
    * Every result counts its ``evaluations``: forward unrolls (F) and forward+backward unrolls
      (F and F'), so that the methods can be compared at equal cost.

References:
    Maclaurin, D., Duvenaud, D. and Adams, R. P. (2015). Gradient-based Hyperparameter
        Optimization through Reversible Learning. ICML (hypergradients through unrolled SGD).
    Bengio, Y. (2000). Gradient-Based Optimization of Hyperparameters. Neural Computation 12.
    Bergstra, J. and Bengio, Y. (2012). Random Search for Hyper-Parameter Optimization. JMLR 13.
    Jamieson, K. and Talwalkar, A. (2016). Non-stochastic Best Arm Identification and
        Hyperparameter Optimization. AISTATS (successive halving).
    Li, L. et al. (2018). Hyperband. JMLR 18.
    Rasmussen, C. E. and Williams, C. K. I. (2006). Gaussian Processes for Machine Learning.
    Jones, D. R., Schonlau, M. and Welch, W. J. (1998). Efficient Global Optimization of
        Expensive Black-Box Functions. J. Global Optim. 13 (expected improvement).
    Note 003, "Hyperparameter Optimisation (HPO) Methods".
"""

from __future__ import annotations

from .bayesian import (
    ArdGaussianProcess,
    BOResult,
    GaussianProcess,
    ard_kernel,
    bayesian_optimization,
    bayesian_search,
    expected_improvement,
    fit_gp,
    fit_gp_ard,
    log_marginal_likelihood,
    maximize_ei,
    rbf_kernel,
)
from .hypergradient import hypergradient, tune_lr
from .objective import Objective, SearchResult, unrolled_loss, validation_objective
from .search import (
    BudgetObjective,
    HalvingResult,
    HalvingRound,
    grid_search,
    halving_schedule,
    log_grid,
    random_search,
    successive_halving,
)
from .space import (
    Evaluation,
    Param,
    SearchSpace,
    SpaceResult,
    categorical,
    integer,
    random_space_search,
    real,
)

__all__ = [
    "ArdGaussianProcess",
    "Evaluation",
    "Param",
    "SearchSpace",
    "SpaceResult",
    "ard_kernel",
    "bayesian_search",
    "categorical",
    "fit_gp_ard",
    "integer",
    "maximize_ei",
    "random_space_search",
    "real",
    "BOResult",
    "BudgetObjective",
    "GaussianProcess",
    "HalvingResult",
    "HalvingRound",
    "Objective",
    "SearchResult",
    "bayesian_optimization",
    "expected_improvement",
    "fit_gp",
    "grid_search",
    "halving_schedule",
    "hypergradient",
    "log_grid",
    "log_marginal_likelihood",
    "random_search",
    "rbf_kernel",
    "successive_halving",
    "tune_lr",
    "unrolled_loss",
    "validation_objective",
]
