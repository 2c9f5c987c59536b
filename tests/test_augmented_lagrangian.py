"""Augmented Lagrangian: golden outer iterations, the KKT solution of an equality-constrained
quadratic (theta and lambda from the KKT linear system), a nonlinear example against scipy's SLSQP,
the stationarity identity, bad input."""

from __future__ import annotations

from typing import Any

import autograd.numpy as anp
import numpy as np
import pytest
import scipy.optimize
from numpy.testing import assert_allclose

import reference as ref
from reference.constrained.augmented_lagrangian import ConstrainedProblem, EqualityProblem, Inner
from reference.constrained.augmented_lagrangian import init as al_init
from reference.constrained.augmented_lagrangian import step as al_step

from .helpers import readonly


def outer(opt: Any, problem: EqualityProblem | ConstrainedProblem, x0: Any, k: int) -> list[Any]:
    state = opt.init(x0)
    out = []
    for _ in range(k):
        state = opt.step(state, problem)
        out.append(state)
    return out


@pytest.mark.parametrize("inner", ["lbfgs", "gd"])
def test_augmented_lagrangian_golden(inner: Inner) -> None:
    # specs/augmented_lagrangian.md "Worked example": theta_k,i = lambda_k = (1 - 3^-k)/2.
    problem = EqualityProblem(lambda x: 0.5 * anp.dot(x, x), lambda x: anp.array([x[0] + x[1] - 1.0]))
    opt = ref.augmented_lagrangian(mu=1.0, inner=inner, inner_lr=0.3, inner_steps=500, inner_tol=1e-13)
    states = outer(opt, problem, np.zeros(2), 4)
    for k, s in enumerate(states, start=1):
        want = 0.5 * (1.0 - 3.0**-k)
        assert_allclose(s.params, [want, want], atol=1e-12)
        assert_allclose(s.lam, [want], atol=1e-12)
        assert s.t == k and s.mu == 1.0
    assert_allclose(states[0].params, [1 / 3, 1 / 3], atol=1e-13)
    assert_allclose(states[1].lam, [4 / 9], atol=1e-12)


def kkt_problem(seed: int, p: int = 7, m: int = 3) -> tuple[EqualityProblem, np.ndarray, np.ndarray]:
    """f = 1/2 x^T H x - c^T x, h = A x - b; (x*, lambda*) from [[H, -A^T], [A, 0]] [x; lambda] = [c; b]."""
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((p, p))
    H = B @ B.T / p + np.eye(p)
    c, A, b = rng.standard_normal(p), rng.standard_normal((m, p)), rng.standard_normal(m)
    K = np.block([[H, -A.T], [A, np.zeros((m, m))]])
    sol = np.linalg.solve(K, np.concatenate([c, b]))
    problem = EqualityProblem(
        lambda x: 0.5 * anp.dot(x, anp.dot(H, x)) - anp.dot(c, x), lambda x: anp.dot(A, x) - b
    )
    return problem, sol[:p], sol[p:]


def problem_hessian(seed: int, *, mu: float, p: int = 7, m: int = 3) -> np.ndarray:
    """The Hessian H + mu A^T A of the augmented Lagrangian of ``kkt_problem(seed)``."""
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((p, p))
    H = B @ B.T / p + np.eye(p)
    _c, A = rng.standard_normal(p), rng.standard_normal((m, p))
    return H + mu * A.T @ A


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_quadratic_kkt_solution_and_multiplier(seed: int) -> None:
    problem, x_star, lam_star = kkt_problem(seed)
    states = outer(ref.augmented_lagrangian(mu=10.0), problem, np.zeros(7), 12)
    s = states[-1]
    assert_allclose(s.params, x_star, atol=1e-7)
    assert_allclose(s.lam, lam_star, atol=1e-7)
    # note 004: at the optimum grad f = J_h^T lambda; here the residual is the inner gradient norm
    assert np.linalg.norm(problem.lagrangian_grad(s.params, s.lam)) <= s.inner_grad_norm + 1e-12
    # The inner L-BFGS stops at inner_tol = 1e-8 or where its line search stalls: a step along g
    # lowers L_A by about ||g||^2 / (2 lambda_max), which rounding hides once that is below a few
    # ulps of |L_A|. So ||g|| is within 1e-8 or the floor sqrt(2 lambda_max * 8 eps |L_A|), which
    # depends on the BLAS's rounding (1.3e-7 on one machine, < 1e-8 on another).
    lam_max = float(np.linalg.eigvalsh(problem_hessian(seed, mu=10.0))[-1])
    la = abs(float(problem.f(s.params)) + float(np.dot(s.lam, problem.h(s.params))))
    floor = np.sqrt(2.0 * lam_max * 8.0 * np.finfo(float).eps * max(la, 1.0))
    assert s.inner_grad_norm <= max(1e-8, floor), (s.inner_grad_norm, floor)
    # feasibility is the multiplier change over mu
    assert_allclose(
        np.linalg.norm(problem.h(s.params)),
        np.linalg.norm(s.lam - states[-2].lam) / 10.0,
        rtol=1e-6,
        atol=1e-14,
    )
    # the multiplier error contracts (linear rate) over the first iterations
    errs = [float(np.linalg.norm(st.lam - lam_star)) for st in states[:5]]
    assert all(b < 0.5 * a for a, b in zip(errs, errs[1:]))


def test_nonlinear_example_matches_slsqp() -> None:
    # min (x0 - 1)^2 + (x1 - 2)^2 + x0 x2 + exp(x2 / 2) s.t. x0^2 + x1^2 + x2^2 = 4, x0 + x2 = 0.5
    def f(x: Any) -> Any:
        return (x[0] - 1.0) ** 2 + (x[1] - 2.0) ** 2 + x[0] * x[2] + anp.exp(0.5 * x[2])

    def h(x: Any) -> Any:
        return anp.array([x[0] ** 2 + x[1] ** 2 + x[2] ** 2 - 4.0, x[0] + x[2] - 0.5])

    x0 = np.array([0.5, 1.0, 0.0])
    states = outer(ref.augmented_lagrangian(mu=10.0), EqualityProblem(f, h), x0, 20)
    res = scipy.optimize.minimize(
        lambda x: float(f(x)),
        x0,
        method="SLSQP",
        constraints={"type": "eq", "fun": lambda x: np.asarray(h(x))},
        options={"ftol": 1e-14, "maxiter": 500},
    )
    assert res.success
    s = states[-1]
    assert_allclose(s.params, res.x, atol=1e-6)
    assert np.linalg.norm(h(s.params)) <= 1e-8
    assert np.linalg.norm(EqualityProblem(f, h).lagrangian_grad(s.params, s.lam)) <= 1e-6
    assert s.inner_grad_norm <= 1e-6
    # an increasing penalty (AL4) reaches the same point; mu_k = mu_0 growth^k
    grown = outer(ref.augmented_lagrangian(mu=1.0, mu_growth=2.0), EqualityProblem(f, h), x0, 12)
    assert grown[-1].mu == 2.0**12
    assert_allclose(grown[-1].params, res.x, atol=1e-6)


def test_bare_step_equals_factory_and_purity() -> None:
    problem, _, _ = kkt_problem(3)
    x0 = readonly(np.ones(7))
    opt = ref.augmented_lagrangian(mu=5.0, inner_steps=50)
    a = opt.step(opt.init(x0), problem)
    b = al_step(
        al_init(x0, mu=5.0),
        problem,
        mu_growth=1.0,
        inner="lbfgs",
        inner_steps=50,
        inner_tol=1e-8,
        inner_lr=1e-2,
    )
    assert_allclose(a.params, b.params, rtol=0, atol=0)
    assert_allclose(np.asarray(a.lam), np.asarray(b.lam), rtol=0, atol=0)
    assert a.inner_iters >= 1 and a.inner_iters <= 50
    assert "augmented_lagrangian" in ref.ALGORITHMS and repr(opt).startswith(
        "ref.augmented_lagrangian(mu=5.0"
    )


def test_bad_input() -> None:
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"mu": 0.0}, ValueError, r"mu must be a finite number > 0, got 0.0"),
        ({"mu_growth": 0.5}, ValueError, r"mu_growth must be a finite number >= 1, got 0.5"),
        ({"inner": "newton"}, ValueError, r"inner must be one of 'lbfgs', 'gd', got 'newton'"),
        ({"inner_steps": 0}, ValueError, r"inner_steps must be an integer >= 1, got 0"),
        ({"inner_steps": 2.5}, TypeError, r"inner_steps must be an integer >= 1, got 2.5"),
        ({"inner_tol": -1.0}, ValueError, r"inner_tol must be a finite number >= 0"),
        ({"inner_lr": 0.0}, ValueError, r"inner_lr must be a finite number > 0"),
    ]
    for kw, kind, msg in cases:
        with pytest.raises(kind, match="augmented_lagrangian: " + msg):
            ref.augmented_lagrangian(**kw)
    with pytest.raises(TypeError, match=r"EqualityProblem: h must be callable"):
        EqualityProblem(lambda x: x @ x, 3.0)  # type: ignore[arg-type]
    opt = ref.augmented_lagrangian()
    with pytest.raises(
        TypeError, match=r"step needs an EqualityProblem or a ConstrainedProblem, got function"
    ):
        opt.step(opt.init(np.zeros(2)), lambda x: x)
    with pytest.raises(ValueError, match=r"h must return a flat vector of m >= 1 values, got shape \(\)"):
        opt.step(opt.init(np.zeros(2)), EqualityProblem(lambda x: anp.dot(x, x), lambda x: x[0] - 1.0))
    with pytest.raises(ValueError, match=r"params must be a flat vector"):
        opt.init(np.zeros((2, 2)))
    # the number of constraints cannot change between steps
    s = opt.step(
        opt.init(np.zeros(2)), EqualityProblem(lambda x: anp.dot(x, x), lambda x: anp.array([x[0] - 1.0]))
    )
    with pytest.raises(ValueError, match=r"h returns 2 values but the state holds 1 multipliers"):
        opt.step(s, EqualityProblem(lambda x: anp.dot(x, x), lambda x: x - 1.0))
    with pytest.raises(
        FloatingPointError, match=r"inner gradient descent diverged \(inner_lr=10.0 too large\)"
    ):
        gd_opt = ref.augmented_lagrangian(inner="gd", inner_lr=10.0, inner_steps=1000)
        gd_opt.step(
            gd_opt.init(np.ones(2)),
            EqualityProblem(lambda x: anp.dot(x, x), lambda x: anp.array([x[0] - 1.0])),
        )


# ----------------------------------------------------------------------------------------------
# Inequality constraints g(theta) <= 0: (AL1b), (AL3b)


def golden_problem() -> ConstrainedProblem:
    """specs/augmented_lagrangian.md, "With one active and one inactive inequality"."""
    return ConstrainedProblem(
        lambda x: 0.5 * ((x[0] - 3.0) ** 2 + x[1] ** 2),
        g=lambda x: anp.array([x[0] + x[1] - 1.0, x[0] - 2.25]),
    )


@pytest.mark.parametrize(("inner", "atol"), [("gd", 1e-12), ("lbfgs", 2e-9)])
def test_inequality_golden(inner: Inner, atol: float) -> None:
    # nu_1 = (13/20, 1/20), theta_1 = (23/10, -13/20); nu_2 = (53/60, 0), theta_2 = (127/60, -53/60);
    # then nu_k1 = 1 - (7/20) 3^(1-k), theta_k = (3 - nu_k1, -nu_k1), nu_k2 = 0 exactly.
    opt = ref.augmented_lagrangian(mu=1.0, inner=inner, inner_lr=0.3, inner_steps=500, inner_tol=1e-13)
    states = outer(opt, golden_problem(), np.zeros(2), 6)
    assert_allclose(states[0].params, [23 / 10, -13 / 20], atol=atol, rtol=0)
    assert_allclose(states[0].nu, [13 / 20, 1 / 20], atol=atol, rtol=0)
    for k, s in enumerate(states, start=1):
        nu1 = 1.0 - 0.35 * 3.0 ** (1 - k)
        assert_allclose(s.nu[0], nu1, atol=atol, rtol=0)
        if k >= 2:
            assert s.nu[1] == 0.0  # the inactive multiplier is exactly 0 after two updates
            assert_allclose(s.params, [3.0 - nu1, -nu1], atol=atol, rtol=0)
        assert s.lam is not None and s.lam.shape == (0,)
        # the L-BFGS line search can stall above inner_tol on the C^1 psi; the errors above are
        # within ||grad L_A|| / lambda_min(grad^2 L_A) = inner_grad_norm per outer step, summed
        assert s.inner_grad_norm <= atol / 6
    # linear convergence of the active multiplier to nu* = 1 with factor 1/3
    errs = [1.0 - s.nu[0] for s in states]
    assert all(abs(b / a - 1 / 3) < 1e-6 for a, b in zip(errs, errs[1:]))


def qp_instance(seed: int, p: int = 6, r: int = 5) -> tuple[ConstrainedProblem, Any, Any, Any, Any]:
    """f = 1/2 x^T H x - c^T x, g = G x - d <= 0, h = a^T x - b = 0 (one equality), and the KKT
    point by enumerating active sets S: [[H, G_S^T, -a], [G_S, 0, 0], [a^T, 0, 0]] [x; nu_S; lambda]
    = [c; d_S; b] with nu_S >= 0 and G x <= d (unique: H is positive definite)."""
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((p, p))
    H = B @ B.T / p + np.eye(p)
    c, G, a = 2.0 * rng.standard_normal(p), rng.standard_normal((r, p)), rng.standard_normal(p)
    d, b = rng.uniform(-0.5, 1.0, r), float(rng.standard_normal())
    found = []
    for mask in range(2**r):
        S = [i for i in range(r) if mask >> i & 1]
        n = len(S)
        K = np.zeros((p + n + 1, p + n + 1))
        K[:p, :p], K[:p, p : p + n], K[:p, -1] = H, G[S].T, -a
        K[p : p + n, :p], K[-1, :p] = G[S], a
        sol = np.linalg.solve(K, np.concatenate([c, d[S], [b]]))
        x, nu = sol[:p], np.zeros(r)
        nu[S] = sol[p : p + n]
        if np.all(nu >= 0) and np.all(G @ x - d <= 1e-12):
            found.append((x, nu, sol[-1]))
    assert len(found) == 1
    x_star, nu_star, lam_star = found[0]
    problem = ConstrainedProblem(
        lambda x: 0.5 * anp.dot(x, anp.dot(H, x)) - anp.dot(c, x),
        h=lambda x: anp.array([anp.dot(a, x) - b]),
        g=lambda x: anp.dot(G, x) - d,
    )
    return problem, x_star, nu_star, lam_star, G @ x_star - d


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_qp_kkt_by_active_sets(seed: int) -> None:
    problem, x_star, nu_star, lam_star, g_star = qp_instance(seed)
    active = nu_star > 0
    assert active.any() and not active.all()  # the instance has both kinds (a premise, not a result)
    mu = 10.0
    states = outer(ref.augmented_lagrangian(mu=mu), problem, np.zeros(6), 15)
    s = states[-1]
    assert_allclose(s.params, x_star, atol=1e-7)
    assert_allclose(s.nu, nu_star, atol=1e-7)
    assert_allclose(s.lam, [lam_star], atol=1e-7)
    for prev, st in zip(states, states[1:]):
        assert np.all(st.nu >= 0.0)  # dual feasibility, exact
        # (AL3b): nu_k - nu_{k-1} = mu max(g(theta_k), -nu_{k-1}/mu)
        gk = np.asarray(problem.g(st.params))  # type: ignore[misc]
        assert_allclose(st.nu - prev.nu, mu * np.maximum(gk, -prev.nu / mu), atol=1e-12)
        # the stationarity residual of f - lambda^T h + nu^T g is the inner gradient
        res = np.linalg.norm(problem.lagrangian_grad(st.params, st.lam, st.nu))
        assert res <= st.inner_grad_norm + 1e-11
    # the inactive multipliers are exactly 0 after finitely many updates (here by the 15th)
    assert np.all(s.nu[~active] == 0.0) and np.all(g_star[~active] < 0)
    # complementary slackness: max |nu_i g_i| goes to 0
    gK = np.asarray(problem.g(s.params))  # type: ignore[misc]
    assert np.max(np.abs(s.nu * gK)) <= 1e-7


def test_nonlinear_inequality_matches_slsqp() -> None:
    # min (x0 - 1)^2 + (x1 - 2)^2 + x0 x2 + exp(x2 / 2) s.t. x0^2 + x1^2 + x2^2 <= 4 (active),
    # x0 + x2 - 3 <= 0 (inactive), x0 - x1 = 0.2
    def f(x: Any) -> Any:
        return (x[0] - 1.0) ** 2 + (x[1] - 2.0) ** 2 + x[0] * x[2] + anp.exp(0.5 * x[2])

    def g(x: Any) -> Any:
        return anp.array([x[0] ** 2 + x[1] ** 2 + x[2] ** 2 - 4.0, x[0] + x[2] - 3.0])

    def h(x: Any) -> Any:
        return anp.array([x[0] - x[1] - 0.2])

    x0 = np.array([0.5, 1.0, 0.0])
    problem = ConstrainedProblem(f, h=h, g=g)
    s = outer(ref.augmented_lagrangian(mu=10.0), problem, x0, 20)[-1]
    res = scipy.optimize.minimize(
        lambda x: float(f(x)),
        x0,
        method="SLSQP",
        constraints=[
            {"type": "ineq", "fun": lambda x: -np.asarray(g(x))},  # scipy: fun >= 0
            {"type": "eq", "fun": lambda x: np.asarray(h(x))},
        ],
        options={"ftol": 1e-10, "maxiter": 500},  # at ftol 1e-12 SLSQP ends "Positive directional derivative"
    )
    assert res.success
    assert_allclose(s.params, res.x, atol=1e-6)
    # SLSQP's multipliers, equalities first: the same signs (L = f - lambda h + nu^T g)
    assert_allclose(np.concatenate([s.lam, s.nu]), res.multipliers, atol=1e-6)
    gs = np.asarray(g(s.params))
    assert abs(gs[0]) <= 1e-8 and gs[1] < -0.5  # one active, one inactive
    assert s.nu[0] > 0.1 and s.nu[1] == 0.0
    assert np.linalg.norm(problem.lagrangian_grad(s.params, s.lam, s.nu)) <= 1e-6


def test_inequality_bare_step_and_purity() -> None:
    problem, *_ = qp_instance(5)
    x0 = readonly(np.ones(6))
    opt = ref.augmented_lagrangian(mu=5.0, inner_steps=50)
    first = opt.step(opt.init(x0), problem)
    a = opt.step(first, problem)
    b = al_step(first, problem, mu_growth=1.0, inner="lbfgs", inner_steps=50, inner_tol=1e-8, inner_lr=1e-2)
    assert_allclose(a.params, b.params, rtol=0, atol=0)
    assert_allclose(np.asarray(a.nu), np.asarray(b.nu), rtol=0, atol=0)
    assert np.array_equal(x0, np.ones(6)) and a.t == 2
    # an EqualityProblem and the same ConstrainedProblem(f, h=h) are the same method, bit for bit
    eq, _, _ = kkt_problem(4)
    s1 = opt.step(opt.init(np.zeros(7)), eq)
    s2 = opt.step(opt.init(np.zeros(7)), ConstrainedProblem(eq.f, h=eq.h))
    assert np.array_equal(s1.params, s2.params) and np.array_equal(np.asarray(s1.lam), np.asarray(s2.lam))
    assert s1.nu is not None and s1.nu.shape == (0,)


def test_inequality_bad_input() -> None:
    f = lambda x: anp.dot(x, x)  # noqa: E731
    with pytest.raises(
        ValueError, match=r"ConstrainedProblem: give h \(equalities\), g \(inequalities\) or both"
    ):
        ConstrainedProblem(f)
    with pytest.raises(TypeError, match=r"ConstrainedProblem: g must be callable or None, got float"):
        ConstrainedProblem(f, g=3.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"ConstrainedProblem: f must be callable, got int"):
        ConstrainedProblem(1, g=f)  # type: ignore[arg-type]
    opt = ref.augmented_lagrangian()
    with pytest.raises(ValueError, match=r"g must return a flat vector of m >= 1 values, got shape \(\)"):
        opt.step(opt.init(np.zeros(2)), ConstrainedProblem(f, g=lambda x: x[0] - 1.0))
    with pytest.raises(ValueError, match=r"augmented_lagrangian: g\(theta\) is not finite"):
        opt.step(opt.init(np.zeros(2)), ConstrainedProblem(f, g=lambda x: anp.array([x[0] - np.inf])))
    s = opt.step(opt.init(np.zeros(2)), ConstrainedProblem(f, g=lambda x: anp.array([x[0] - 1.0])))
    with pytest.raises(ValueError, match=r"g returns 2 values but the state holds 1 multipliers"):
        opt.step(s, ConstrainedProblem(f, g=lambda x: x - 1.0))
    with pytest.raises(ValueError, match=r"h returns 1 values but the state holds 0 multipliers"):
        opt.step(s, ConstrainedProblem(f, h=lambda x: anp.array([x[0]]), g=lambda x: anp.array([x[0] - 1.0])))
