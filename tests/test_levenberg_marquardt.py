"""Levenberg-Marquardt: golden trials, damping rules, gain ratio, convergence vs scipy, errors."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import least_squares as scipy_least_squares

import reference as ref
from reference.curvature.levenberg_marquardt import init as lm_init
from reference.curvature.levenberg_marquardt import next_damping
from reference.curvature.levenberg_marquardt import step as lm_step
from reference.curvature.model_oracle import evaluate, gn_matrix

from .curvature_models import expfit_problem, mlp_problem, softmax_problem, square_problem
from .helpers import readonly


def test_lm_golden_two_trials() -> None:
    # specs/levenberg_marquardt.md "Worked example" (exact fractions).
    opt = ref.levenberg_marquardt(damping=1.0)
    prob = square_problem(4.0)
    s = opt.step(opt.init([1.0]), prob)
    assert s.accepted
    assert_allclose(s.params, [7 / 3], rtol=1e-15)
    assert_allclose(s.rho, 7 / 9, rtol=1e-14)
    assert_allclose(s.damping, 604 / 729, rtol=1e-14)
    assert_allclose(s.loss, 169 / 81, rtol=1e-14)
    s = opt.step(s, prob)
    assert_allclose(s.params, [49252 / 24267], rtol=1e-15)
    assert_allclose(s.rho, 0.9935332498581948, rtol=1e-12)
    assert_allclose(s.damping, 604 / 729 / 3, rtol=1e-14)
    assert s.t == 2 and s.nu == 2.0


def test_rejected_trial_keeps_params_and_grows_damping_nielsen() -> None:
    # Start near 0: a tiny damping lets the GN step overshoot, so the trial is rejected.
    prob = square_problem(4.0)
    opt = ref.levenberg_marquardt(damping=1e-6)
    s = opt.step(opt.init([0.05]), prob)
    assert not s.accepted and s.rho <= 0
    assert_array_equal(s.params, [0.05])
    assert_allclose(s.damping, 2e-6)
    assert s.nu == 4.0
    s2 = opt.step(s, prob)
    assert not s2.accepted
    assert_allclose(s2.damping, 8e-6)
    assert s2.nu == 8.0


def test_marquardt_rule_thresholds() -> None:
    prob = square_problem(4.0)
    opt = ref.levenberg_marquardt(damping=1.0, update="marquardt")
    s = opt.step(opt.init([1.0]), prob)  # rho = 7/9 > 3/4
    assert_allclose(s.damping, 1 / 3)
    opt_small = ref.levenberg_marquardt(damping=1e-6, update="marquardt")
    s_bad = opt_small.step(opt_small.init([0.05]), prob)  # overshoot: rho < 1/4
    assert s_bad.rho < 0.25 and s_bad.damping == 2e-6


def test_gain_ratio_denominator_equals_mnt_form() -> None:
    # -g^T d - 1/2 d^T G d == 1/2 d^T (mu d - g) when (G + mu I) d = -g.
    prob = mlp_problem(seed=1, n=15)
    theta = np.random.default_rng(1).standard_normal(prob.dim)
    rec = evaluate(prob, theta)
    G = gn_matrix(rec)
    mu = 0.3
    d = np.linalg.solve(G + mu * np.eye(prob.dim), -rec.grad)
    a = -rec.grad @ d - 0.5 * d @ G @ d
    b = 0.5 * d @ (mu * d - rec.grad)
    assert_allclose(a, b, rtol=1e-10)
    s = ref.levenberg_marquardt(damping=mu).step(ref.levenberg_marquardt(damping=mu).init(theta), prob)
    assert_allclose(s.rho, (prob.loss(theta) - prob.loss(theta + d)) / a, rtol=1e-9)


def test_converges_to_scipy_least_squares_fixed_point() -> None:
    # Nonlinear least squares y ~ a exp(b x) with noise vs scipy's MINPACK Levenberg-Marquardt.
    prob = expfit_problem(seed=2)
    opt = ref.levenberg_marquardt(damping=1e-2)
    s = opt.init([1.0, 0.0])
    for _ in range(40):
        s = opt.step(s, prob)
    # Converged to rounding: a step of size |g|/G ~ 1e-9 changes L by ~1e-17, below L's ulp, so later
    # trials are rejected (rho = 0) and mu grows to mu_max; the caller stops on |g|.
    assert np.linalg.norm(prob.grad(s.params)) < 1e-7

    def resid(q: np.ndarray) -> np.ndarray:
        return np.asarray(prob.predict(q, prob.X)[:, 0] - prob.y)

    sp = scipy_least_squares(resid, [1.0, 0.0], method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15)
    assert_allclose(s.params, sp.x, rtol=1e-8)
    assert_allclose(prob.loss(s.params), np.sum(sp.fun**2), rtol=1e-12)


def test_converged_fit_stays_finite_for_200_trials() -> None:
    # Issue 12 item 10: at a fit converged to rounding every trial is rejected; without the cap (LM6)
    # Nielsen's mu overflowed (inf, then NaN trials with warnings). Floating-point errors raise here.
    prob = expfit_problem(seed=2)
    opt = ref.levenberg_marquardt(damping=1e-2)
    s = opt.init([1.0, 0.0])
    with np.errstate(all="raise"):
        for _ in range(200):
            s = opt.step(s, prob)
    assert s.damping == 1e32 and np.isfinite(s.nu) and not s.accepted and s.rho == 0.0
    assert np.all(np.isfinite(s.params)) and np.linalg.norm(prob.grad(s.params)) < 1e-7
    nu = s.nu
    s = opt.step(s, prob)  # a rejection at the cap leaves mu and nu where they are
    assert s.damping == 1e32 and s.nu == nu
    # The same 200 trials with the cap removed (the bare step does not validate) overflow.
    u = lm_init(np.array([1.0, 0.0]), damping=1e-2)
    with np.errstate(all="raise"), pytest.raises(FloatingPointError):
        for _ in range(200):
            u = lm_step(u, prob, mu_max=np.inf)


@pytest.mark.parametrize("update", ["nielsen", "marquardt"])
def test_cap_and_zero_predicted_decrease(update: str) -> None:
    # theta = 2 fits y = 4 exactly: g = 0, delta = 0, predicted decrease 0 -> rho = 0 (no 0/0), rejected.
    prob = square_problem(4.0)
    opt = ref.levenberg_marquardt(damping=1.0, update=update, mu_max=5.0)  # type: ignore[arg-type]
    s = opt.init([2.0])
    with np.errstate(all="raise"):
        dampings = []
        for _ in range(4):
            s = opt.step(s, prob)
            dampings.append(s.damping)
    assert s.rho == 0.0 and not s.accepted
    assert_array_equal(s.params, [2.0])
    assert dampings == ([2.0, 5.0, 5.0, 5.0] if update == "nielsen" else [2.0, 4.0, 5.0, 5.0])
    # an accepted trial's Nielsen growth (rho < 1/2 gives a factor up to 2) is capped too
    mu, nu = next_damping(4.0, 2.0, 0.1, update="nielsen", mu_max=5.0)
    assert mu == 5.0 and nu == 2.0
    mu, nu = next_damping(1.0, 2.0, 0.1, update="nielsen", mu_max=5.0)
    assert mu == pytest.approx(1 - (0.2 - 1) ** 3) and nu == 2.0


def test_lm_monotone_on_softmax() -> None:
    prob = softmax_problem(seed=3, n=40)
    opt = ref.levenberg_marquardt(damping=1e-2)
    s = opt.init(np.zeros(prob.dim))
    prev = prob.loss(s.params)
    for _ in range(10):
        s = opt.step(s, prob)
        cur = prob.loss(s.params)
        assert cur <= prev
        prev = cur
    # Convex problem: ten trials reach the minimiser (|grad L| from ~0.3 to below 1e-8).
    assert np.linalg.norm(prob.grad(s.params)) < 1e-8


def test_purity_and_bare_step() -> None:
    prob = softmax_problem(seed=4)
    x = readonly(np.random.default_rng(4).standard_normal(prob.dim))
    opt = ref.levenberg_marquardt(damping=0.1)
    s0 = opt.init(x)
    s0.params.setflags(write=False)
    a, b = opt.step(s0, prob), opt.step(s0, prob)
    assert_array_equal(a.params, b.params)
    c = lm_step(lm_init(np.array(x), damping=0.1), prob)
    assert_array_equal(a.params, c.params)
    assert a.damping == c.damping


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(damping=0.0), "damping must be a finite number > 0"),
        (dict(damping=-1.0), "damping"),
        (dict(update="levenberg"), "update must be one of"),
        (dict(activation="sigmoid"), "activation must be one of"),
        (dict(mu_max=0.0), "mu_max must be a finite number > 0"),
        (dict(damping=1.0, mu_max=0.5), r"levenberg_marquardt: damping must be <= mu_max = 0.5, got 1.0"),
    ],
)
def test_bad_hyperparameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ref.levenberg_marquardt(**kwargs)  # type: ignore[arg-type]


def test_bad_input() -> None:
    opt = ref.levenberg_marquardt()
    with pytest.raises(TypeError, match="levenberg_marquardt: the input must be a model"):
        opt.step(opt.init(np.zeros(2)), "problem")
