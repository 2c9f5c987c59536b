"""Every curvature, quasi-Newton, linear-solver and variance-reduction method is differentiable
by autograd through its unrolled steps (docs/api.md, "Differentiable by autograd").

For each case below, G(x0) = L(theta_T) (and H(c) = L(theta_T) for a continuous hyperparameter c:
lr, damping, trust radius, eps, b of A x = b) after T = 3..6 steps is differentiated by autograd,
with the method built and run INSIDE the differentiated function, and compared with a central
finite difference:

* the initial point: the directional derivative grad G(x0) . v along a fixed random unit v
  against (G(x0 + h v) - G(x0 - h v)) / 2h (one projection of the whole gradient; for p <= 5 the
  full gradient is compared coordinate by coordinate as well);
* each hyperparameter: dH/dc against (H(c + h) - H(c - h)) / 2h, h = 1e-5 c.

Methods with decisions (line-search acceptance, Cholesky shift, trust-region exits and radius,
accepted / rejected LM and HF trials, Armijo halvings, K-FAC's sampled targets) are
differentiable for a fixed branch; autograd differentiates the branch taken. The test therefore
records a *signature* of the branches of every step (oracle evaluation counts per step, which
count the trial steps of every line search and CG loop; stalled / accepted flags; which side of
every rho threshold; CG iterations; the radius and damping as multiples of their start; the
accepted Armijo step; K-FAC's drawn classes) and asserts it is identical at the base point and at
both finite-difference points, so the difference quotient is taken inside one smooth piece.

Known limits (documented in the specs' Conventions):

* K-FAC with ``targets="sampled"``: the drawn classes are piecewise constant in theta (they jump
  where a cumulative probability crosses the uniform u_i); the derivative is that of the map for
  the draws made, exact wherever no draw sits on a jump. The draws are part of the signature, and
  ``test_kfac_sampled_draws_are_piecewise_constant`` shows the signature does change when theta_0
  moves far enough.
* Shampoo: first derivatives only (M^p has its own first derivative; second derivatives raise).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad, value_and_grad
from autograd.tracer import getval
from numpy.testing import assert_allclose

import reference as ref
from reference import problems as P
from reference.curvature.cg import LinearSystem
from reference.curvature.shampoo import power_divided_differences, sym_power
from reference.oracle import FunctionOracle, Sample

RTOL = 1e-5  # autograd vs central FD, relative
# rho thresholds of the methods: LM/HF acceptance 0, trust-region eta 0.15, 1/4, 3/4, and
# Nielsen's max(1/3, 1 - (2 rho - 1)^3) switch at rho = (1 + (2/3)^(1/3)) / 2
RHO_CUTS = (0.0, 0.15, 0.25, 0.75, (1.0 + (2.0 / 3.0) ** (1.0 / 3.0)) / 2.0)


# ----------------------------------------------------------------------------------------------
# Problems


def _problems() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    y = X @ np.array([1.0, -1.0, 0.5]) + 0.3 * rng.standard_normal(20)
    peaks = P.peaks(width=3, n_samples=30, n_train=30, seed=1)
    dead = peaks.init_params(np.random.default_rng(2))
    W1, b1, W2, b2 = (np.array(a) for a in peaks.unflatten(dead))
    b1[:2] = -20.0  # two dead ReLU units: rows of the W1 / b1 gradient are exactly 0
    quad = P.quadratic([0.5, 1.0, 4.0, 9.0], seed=1)
    return {
        "least_squares": P.least_squares(X, y, reduction="mean"),
        "logistic": P.logistic_regression(X, (y > 0).astype(float), l2=0.05),
        "peaks": peaks,
        "peaks_x0": peaks.init_params(np.random.default_rng(2)),
        "peaks_dead_x0": peaks.flatten(W1, b1, W2, b2),
        "quadratic": quad,
        "system": (np.array(quad.A), np.array(quad.A @ quad.minimizer)),
    }


PR = _problems()
X3 = np.array([0.7, -1.3, 0.4])


# ----------------------------------------------------------------------------------------------
# Cases: how to build, feed and fingerprint each method


@dataclass(frozen=True)
class Case:
    id: str
    name: str  # registered name
    feed: str  # "oracle" | "model" | "sample" | "grad" | "system"
    problem: str  # key of PR
    x0: Any
    kwargs: dict[str, Any]
    steps: int
    hypers: tuple[str, ...] = ()  # continuous hyperparameters to differentiate
    extra: dict[str, Any] = field(default_factory=dict)


def _shapes() -> tuple[tuple[int, ...], ...]:
    return tuple(np.shape(a) for a in PR["peaks"].unflatten(PR["peaks_x0"]))


PX = PR["peaks_x0"]
XL = np.array([1.5, -2.0, 0.8])  # logistic: a start a few Newton steps from the minimiser

CASES: list[Case] = [
    # line-search and trust-region methods on a FunctionOracle
    Case(
        "newton-armijo-peaks",
        "newton",
        "oracle",
        "peaks",
        PX,
        {"lr": 1.0, "damping": 0.1},
        4,
        ("lr", "damping"),
    ),
    Case(
        "newton-wolfe-logistic",
        "newton",
        "oracle",
        "logistic",
        XL,
        {"line_search": "wolfe", "lr": 1.0, "damping": 0.05},
        3,
        ("damping",),
    ),
    Case(
        "newton-fixed-logistic",
        "newton",
        "oracle",
        "logistic",
        XL,
        {"line_search": "none", "lr": 0.7},
        3,
        ("lr",),
    ),
    Case("bfgs-peaks", "bfgs", "oracle", "peaks", PX, {}, 6),
    Case(
        "bfgs-interpolate-logistic",
        "bfgs",
        "oracle",
        "logistic",
        XL,
        {"initial_step": "interpolate", "scale_first": True},
        5,
    ),
    Case("lbfgs-peaks", "lbfgs", "oracle", "peaks", PX, {"m": 2}, 6),
    Case(
        "lbfgs-interpolate-logistic",
        "lbfgs",
        "oracle",
        "logistic",
        XL,
        {"m": 3, "initial_step": "interpolate"},
        5,
    ),
    Case("trust_region-peaks", "trust_region", "oracle", "peaks", PX, {"radius": 0.3}, 5, ("radius",)),
    Case("trust_region-logistic", "trust_region", "oracle", "logistic", XL, {"radius": 0.5}, 3, ("radius",)),
    Case(
        "jacobi_gd-logistic", "jacobi_gd", "oracle", "logistic", XL, {"lr": 0.8, "damping": 1e-3}, 3, ("lr",)
    ),  # max(|h|, 1e-3) = |h| here: d/d damping = 0
    Case(
        "jacobi_gd-refresh-peaks", "jacobi_gd", "oracle", "peaks", PX, {"lr": 0.5, "refresh": 2}, 3, ("lr",)
    ),
    # linear solver
    Case("cg-quadratic", "cg", "system", "system", np.array([1.0, -2.0, 0.5, 0.3]), {}, 3, ("b",)),
    # variance reduction (indices drawn once, outside the differentiated function)
    Case("svrg-least_squares", "svrg", "sample", "least_squares", X3, {"lr": 0.05, "epoch": 3}, 6, ("lr",)),
    Case("svrg-logistic", "svrg", "sample", "logistic", X3, {"lr": 0.3, "epoch": 2}, 5, ("lr",)),
    Case("saga-least_squares", "saga", "sample", "least_squares", X3, {"lr": 0.05}, 6, ("lr",)),
    Case("saga-logistic", "saga", "sample", "logistic", X3, {"lr": 0.3}, 5, ("lr",)),
    # "model + per-sample loss" methods
    Case(
        "gauss_newton-peaks",
        "gauss_newton",
        "model",
        "peaks",
        PX,
        {"damping": 0.05, "line_search": True, "activation": "relu"},
        3,
        ("damping",),
    ),
    Case(
        "gauss_newton-least_squares",
        "gauss_newton",
        "model",
        "least_squares",
        X3,
        {"damping": 0.5},
        3,
        ("damping",),
    ),
    Case(
        "levenberg_marquardt-peaks",
        "levenberg_marquardt",
        "model",
        "peaks",
        PX,
        {"damping": 0.1},
        4,
        ("damping",),
    ),
    Case(
        "levenberg_marquardt-marquardt-peaks",
        "levenberg_marquardt",
        "model",
        "peaks",
        PX,
        {"damping": 0.1, "update": "marquardt"},
        4,
        ("damping",),
    ),
    Case(
        "hessian_free-peaks",
        "hessian_free",
        "model",
        "peaks",
        PX,
        {"damping": 1.0, "max_cg": 8},
        3,
        ("damping",),
    ),
    Case(
        "natural_gradient-peaks",
        "natural_gradient",
        "model",
        "peaks",
        PX,
        {"lr": 0.1, "damping": 0.05},
        3,
        ("lr", "damping"),
    ),
    Case(
        "natural_gradient-empirical-logistic",
        "natural_gradient",
        "model",
        "logistic",
        X3,
        {"lr": 0.5, "damping": 0.01, "fisher": "empirical"},
        3,
        ("lr", "damping"),
    ),
    Case(
        "kfac-sampled-peaks",
        "kfac",
        "model",
        "peaks",
        PX,
        {"lr": 0.3, "damping": 0.01, "targets": "sampled"},
        4,
        ("lr", "damping"),
    ),
    Case(
        "kfac-exact-peaks",
        "kfac",
        "model",
        "peaks",
        PX,
        {"lr": 0.3, "damping": 0.01, "targets": "exact", "inverse_every": 2},
        4,
        ("lr", "damping"),
    ),
    Case(
        "kfac-empirical-peaks",
        "kfac",
        "model",
        "peaks",
        PX,
        {"lr": 0.3, "damping": 0.01, "targets": "empirical"},
        3,
        ("damping",),
    ),
    # Shampoo on the flat gradient of the Peaks MLP (closed loop)
    Case("shampoo-peaks", "shampoo", "grad", "peaks", PX, {"lr": 0.1, "shapes": _shapes()}, 4, ("lr", "eps")),
    Case(
        "shampoo-dead-units",
        "shampoo",
        "grad",
        "peaks",
        PR["peaks_dead_x0"],
        {"lr": 0.1, "shapes": _shapes()},
        3,
    ),
    Case(
        "shampoo-diagonal-peaks",
        "shampoo",
        "grad",
        "peaks",
        PX,
        {"lr": 0.1, "shapes": _shapes(), "vector_rule": "diagonal"},
        3,
        ("lr",),
    ),
]

#: default values of hyperparameters a case differentiates but does not set
HYPER_DEFAULTS = {"eps": 1e-4}


def _sample_indices(case: Case) -> list[np.ndarray]:
    prob = PR[case.problem]
    rng = np.random.default_rng(11)
    return [prob.batch_indices(rng, 4) for _ in range(case.steps)]


def _bucket(rho: Any) -> tuple[bool, ...]:
    r = float(getval(rho))
    return (math.isnan(r),) + tuple(r > c for c in RHO_CUTS)


def _kfac_draws(prob: Any, params: Any, seed: int, t: int) -> tuple[int, ...]:
    """The classes K-FAC's step t draws at ``params`` (its rule, recomputed from outside)."""
    outputs = np.asarray(getval(prob.predict(getval(params), prob.X)))
    n, C = outputs.shape
    probs = np.stack(
        [np.exp(-prob.losses_from_outputs(outputs, np.full(n, float(c)))) for c in range(C)], axis=1
    )
    u = np.random.default_rng([seed, t]).random(n)
    return tuple(np.minimum((np.cumsum(probs, axis=1) < u[:, None]).sum(axis=1), C - 1).tolist())


def _signature(case: Case, state: Any, before: Any, start: dict[str, float]) -> tuple[Any, ...]:
    """The discrete decisions of one step (see the module docstring)."""
    sig: list[Any] = []
    for name in ("stalled", "accepted", "cg_iters", "nu"):
        if hasattr(state, name):
            sig.append((name, getval(getattr(state, name))))
    for name in ("rho",):
        if hasattr(state, name):
            sig.append((name, _bucket(getattr(state, name))))
    if hasattr(state, "shift"):
        sig.append(("shifted", float(getval(state.shift)) > 0))
    if case.name == "trust_region":
        sig.append(("radius", round(math.log2(float(getval(state.radius)) / start["radius"]), 9)))
    if case.name == "hessian_free":
        sig.append(("damping", round(math.log(float(getval(state.damping)) / start["damping"]), 9)))
    if case.name == "gauss_newton":
        sig.append(("step_size", float(getval(state.step_size))))
    if case.name == "lbfgs":
        sig.append(("pairs", len(state.s_hist)))
    if case.name == "kfac" and case.kwargs.get("targets", "sampled") == "sampled":
        sig.append(("draws", _kfac_draws(PR[case.problem], before.params, 0, before.t + 1)))
    return tuple(sig)


def _run(case: Case, x0: Any, hyper: dict[str, Any]) -> tuple[Any, tuple[Any, ...]]:
    """(L(theta_T), the branch signature of the T steps) for the method built from ``hyper``."""
    kwargs = {**case.kwargs, **{k: v for k, v in hyper.items() if k != "b"}}
    opt = ref.make(case.name, **kwargs)
    start = {k: float(getval(v)) for k, v in kwargs.items() if k in ("radius", "damping")}
    prob = PR[case.problem]
    state = opt.init(x0)
    sig: list[Any] = []
    if case.feed == "oracle":
        oracle = FunctionOracle(prob.loss, dim=prob.dim)
    if case.feed == "sample":
        draws = _sample_indices(case)
    if case.feed == "system":
        A, b = prob
        system = LinearSystem(A, hyper.get("b", b))
    for k in range(case.steps):
        before = state
        if case.feed == "oracle":
            counts0 = oracle.counts.as_dict()
            state = opt.step(state, oracle)
            counts = oracle.counts.as_dict()
            sig.append(tuple(counts[q] - counts0[q] for q in counts))
        elif case.feed == "model":
            state = opt.step(state, prob)
        elif case.feed == "sample":
            state = opt.step(state, Sample(prob, draws[k]))
        elif case.feed == "grad":
            state = opt.step(state, prob.grad(opt.query(state)))
        else:
            state = opt.step(state, system)
        sig.append(_signature(case, state, before, start))
    if case.feed == "system":
        A, b = prob
        bb = hyper.get("b", b)
        x = state.params
        return 0.5 * anp.dot(x, anp.dot(A, x)) - anp.dot(bb, x), tuple(sig)
    return prob.loss(state.params), tuple(sig)


def _hyper0(case: Case) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in case.hypers:
        if k == "b":
            out[k] = PR["system"][1]
        else:
            out[k] = case.kwargs.get(k, HYPER_DEFAULTS.get(k))
    return out


def _rel(a: Any, b: Any) -> float:
    a, b = np.atleast_1d(np.asarray(a, float)), np.atleast_1d(np.asarray(b, float))
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def _direction(p: int) -> np.ndarray:
    v = np.random.default_rng(p).standard_normal(p)
    return v / np.linalg.norm(v)


# ----------------------------------------------------------------------------------------------
# Coverage


COVERED_FAMILIES = ("curvature", "linear-solver", "variance-reduction")


#: Registered methods that are not differentiable by design (their specs say so).
NOT_DIFFERENTIABLE = {"lbfgs_torch"}  # torch's LBFGS.step transcribed in plain floats (specs/lbfgs_torch.md)


def test_every_curvature_and_variance_reduction_method_is_covered() -> None:
    registered = {e.name for e in ref.ENTRIES if e.family in COVERED_FAMILIES} - NOT_DIFFERENTIABLE
    assert registered == {c.name for c in CASES}, registered ^ {c.name for c in CASES}
    # every method with a continuous hyperparameter differentiates at least one of them
    with_hyper = {c.name for c in CASES if c.hypers}
    assert with_hyper == registered - {"bfgs", "lbfgs"}  # BFGS / L-BFGS have only c1, c2


# ----------------------------------------------------------------------------------------------
# Derivative with respect to the initial point


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_derivative_wrt_initial_point(case: Case) -> None:
    hyper = _hyper0(case)
    x0 = np.asarray(case.x0, dtype=np.float64)
    traced_sig: list[Any] = []

    def G(x: Any) -> Any:
        out, s = _run(case, x, hyper)
        traced_sig.append(s)
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no inf/nan on the way (e.g. eigh's 1/(w_i - w_j))
        value, ag = value_and_grad(G)(x0)
    plain, sig0 = _run(case, x0, hyper)
    # decisions are taken on unboxed values: the traced run takes the plain run's branches and
    # computes the same numbers
    assert traced_sig == [sig0] and float(value) == float(plain), "tracing changed the computation"
    assert ag.shape == x0.shape and np.all(np.isfinite(ag))
    v = _direction(x0.size)
    h = 1e-5
    (fp, sp), (fm, sm) = _run(case, x0 + h * v, hyper), _run(case, x0 - h * v, hyper)
    assert sp == sig0 == sm, "a branch flips inside [x0 - h v, x0 + h v]: move the test point"
    fd = (float(fp) - float(fm)) / (2 * h)
    assert abs(fd) > 1e-6, ("trivial derivative: the test would not see a wrong one", fd)
    assert _rel(ag @ v, fd) < RTOL, (case.id, float(ag @ v), fd)
    if x0.size <= 5:  # the full gradient, coordinate by coordinate
        fd_full = np.empty_like(x0)
        for i in range(x0.size):
            e = np.zeros_like(x0)
            e[i] = h
            (fp, sp), (fm, sm) = _run(case, x0 + e, hyper), _run(case, x0 - e, hyper)
            assert sp == sig0 == sm, f"a branch flips along coordinate {i}"
            fd_full[i] = (float(fp) - float(fm)) / (2 * h)
        assert _rel(ag, fd_full) < RTOL, (case.id, ag, fd_full)


# ----------------------------------------------------------------------------------------------
# Derivative with respect to continuous hyperparameters


HYPER_CASES = [(c, k) for c in CASES for k in c.hypers]


@pytest.mark.parametrize("case,key", HYPER_CASES, ids=[f"{c.id}-{k}" for c, k in HYPER_CASES])
def test_derivative_wrt_hyperparameter(case: Case, key: str) -> None:
    hyper = _hyper0(case)
    x0 = np.asarray(case.x0, dtype=np.float64)
    c0 = hyper[key]

    def H(c: Any) -> Any:
        return _run(case, x0, {**hyper, key: c})[0]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ag = grad(H)(c0)
    sig0 = _run(case, x0, hyper)[1]
    if key == "b":  # a vector: directional derivative
        v = _direction(np.size(c0))
        h = 1e-5
        (fp, sp), (fm, sm) = (_run(case, x0, {**hyper, key: c0 + s * h * v}) for s in (1, -1))
        agv = ag @ v
    else:
        h = 1e-5 * c0
        (fp, sp), (fm, sm) = (_run(case, x0, {**hyper, key: c0 + s * h}) for s in (1, -1))
        agv = ag
    assert sp == sig0 == sm, "a branch flips inside the FD interval: move the test point"
    fd = (float(fp) - float(fm)) / (2 * h)
    assert np.all(np.isfinite(ag)) and abs(fd) > 1e-6, (ag, fd)
    assert _rel(agv, fd) < RTOL, (case.id, key, float(agv), fd)


# ----------------------------------------------------------------------------------------------
# The branch signature is not vacuous: it changes when a decision does


def test_signature_sees_a_changed_line_search_branch() -> None:
    case = next(c for c in CASES if c.id == "newton-armijo-peaks")
    hyper = _hyper0(case)
    sig = _run(case, case.x0, hyper)[1]
    # a first trial of 8 is always too long on this problem: Armijo backtracks more
    assert _run(case, case.x0, {**hyper, "lr": 8.0})[1] != sig


def test_kfac_sampled_draws_are_piecewise_constant() -> None:
    # the draws are the same at theta_0 +- 1e-5 v (the FD test) but change when theta_0 moves by O(1)
    case = next(c for c in CASES if c.id == "kfac-sampled-peaks")
    hyper = _hyper0(case)
    x0 = case.x0
    sig = _run(case, x0, hyper)[1]
    assert _run(case, x0 + 1e-5 * _direction(x0.size), hyper)[1] == sig
    assert _run(case, x0 + 1.0 * _direction(x0.size), hyper)[1] != sig


# ----------------------------------------------------------------------------------------------
# Building blocks


def test_oracle_answers_are_traced_and_plain_otherwise() -> None:
    prob = PR["logistic"]
    o = FunctionOracle(prob.loss, dim=prob.dim)
    v = np.array([0.3, -0.2, 0.9])
    assert isinstance(o.value(X3), float) and type(o.grad(X3)) is np.ndarray
    assert type(o.hvp(X3, v)) is np.ndarray and type(o.hessian(X3)) is np.ndarray
    # d/dx [v . H(x) v] by autograd through the oracle's Hessian and HVP, against FD
    f_h = lambda x: anp.dot(v, anp.dot(o.hessian(x), v))  # noqa: E731
    f_v = lambda x: anp.dot(v, o.hvp(x, v))  # noqa: E731
    for f in (f_h, f_v):
        ag = grad(f)(X3)
        fd = np.array([(f(X3 + e) - f(X3 - e)) / 2e-5 for e in 1e-5 * np.eye(3)])
        assert _rel(ag, fd) < 1e-6


def test_sym_power_derivative_matches_eigh_and_handles_repeated_eigenvalues() -> None:
    rng = np.random.default_rng(4)
    B = rng.standard_normal((4, 4))
    M = B @ B.T + 0.5 * np.eye(4)  # distinct eigenvalues
    C = rng.standard_normal((4, 4))

    def via_eigh(S: Any, p: float) -> Any:
        w, V = anp.linalg.eigh(S)
        return anp.dot(V * w**p, V.T)

    for p in (-0.25, -0.5):
        mine = grad(lambda S: anp.sum(C * sym_power(0.5 * (S + S.T), p)))(M)
        theirs = grad(lambda S: anp.sum(C * via_eigh(0.5 * (S + S.T), p)))(M)
        assert_allclose(mine, theirs, rtol=1e-9, atol=1e-12)
    # M = eps I + g g^T (eigenvalue eps repeated exactly): the derivative of M^p along a symmetric
    # direction D against central FD, with no division by w_i - w_j = 0
    g = np.array([1.0, 0.0, 0.0, 2.0])
    M2 = 1e-2 * np.eye(4) + np.outer(g, g)
    D = rng.standard_normal((4, 4))
    D = D + D.T
    ag = grad(lambda s: anp.sum(C * sym_power(M2 + s * D, -0.25)))(0.0)
    fd = (np.sum(C * sym_power(M2 + 1e-6 * D, -0.25)) - np.sum(C * sym_power(M2 - 1e-6 * D, -0.25))) / 2e-6
    assert _rel(ag, fd) < 1e-6
    # the divided differences are exact for distinct values and p w^(p-1) on the diagonal
    w = np.array([0.5, 0.5 * (1 + 1e-13), 2.0])
    K = power_divided_differences(w, -0.25)
    assert_allclose(K[0, 2], (0.5**-0.25 - 2.0**-0.25) / (0.5 - 2.0), rtol=1e-14)
    assert_allclose(np.diag(K), -0.25 * w**-1.25, rtol=1e-14)
    assert_allclose(K[0, 1], -0.25 * 0.5**-1.25, rtol=1e-12)


def test_shampoo_second_derivative_raises() -> None:
    M = np.diag([1.0, 2.0])
    with pytest.raises(NotImplementedError, match="second derivatives"):
        grad(lambda s: grad(lambda u: anp.sum(sym_power(M + u * np.eye(2), -0.5)))(s))(0.0)
