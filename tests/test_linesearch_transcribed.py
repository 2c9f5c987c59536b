"""The transcribed searches of specs/linesearch.md (LS8)-(LS13): torch.optim.LBFGS's strong Wolfe and
optax's zoom, on the worked example's quadratic (values by hand), their budgets and failure
returns, and ref.lbfgs's optax keywords. Against the real peers: tests/test_peers_oracle.py."""

from __future__ import annotations

from fractions import Fraction

import autograd.numpy as anp
import numpy as np
import pytest
from numpy.testing import assert_allclose

import reference as ref
from reference.curvature.lbfgs import two_loop
from reference.curvature.linesearch import optax_zoom, torch_strong_wolfe, wolfe_conditions
from reference.oracle import FunctionOracle

# f = x1^2 + 10 x2^2 at x = (1, 1) along d = -grad: phi(a) = 11 - 404 a + 4004 a^2 (linesearch.md)
Q = FunctionOracle(lambda w: w[0] ** 2 + 10.0 * w[1] ** 2, dim=2)
X = np.array([1.0, 1.0])
D = np.array([-2.0, -20.0])
A_STAR = float(Fraction(101, 2002))


def test_optax_zoom_on_the_worked_example() -> None:
    # a = 1 fails; zoom on [0, 1]: the cubic has no third point (nan), the quadratic 101/2002 lies
    # within 10 % of 0: bisection 1/2 (phi = 810, fails); on [0, 1/2] the cubic through the exact
    # quadratic has A = 0 (nan), the quadratic 101/2002 > 0.05 is inside: accepted, phi' = 0
    res = optax_zoom(Q, X, D, f0=11.0, g0=np.array([2.0, 20.0]))
    assert res.converged and res.n_value == 3
    assert_allclose(res.alpha, A_STAR, rtol=1e-14)
    assert_allclose(res.value, 11.0 - 404.0**2 / 16016.0, rtol=1e-14)


def test_optax_zoom_moves_even_when_it_fails() -> None:
    # one trial, no safe step: optax returns the last trial (uphill here), converged False
    res = optax_zoom(Q, X, D, f0=11.0, g0=np.array([2.0, 20.0]), max_steps=1)
    assert not res.converged and res.alpha == 1.0 and res.value == 3611.0


def test_optax_zoom_interval_search_multiplies_the_step() -> None:
    # alpha0 far below the minimiser: the interval search doubles while both errors are > 0;
    # phi'(a) = -404 + 8008 a meets |phi'| <= 0.9 * 404 from a = 0.00505: the trials 1e-3, 2e-3,
    # 4e-3 (phi' = -371.97) fail the curvature test, 8e-3 (phi' = -339.936) passes it
    res = optax_zoom(Q, X, D, f0=11.0, g0=np.array([2.0, 20.0]), alpha0=1e-3)
    assert res.converged and res.n_value == 4 and res.alpha == 0.008
    assert wolfe_conditions(Q, X, D, res.alpha) == (True, True)


def test_torch_search_accepts_a_good_first_step() -> None:
    res = torch_strong_wolfe(Q, X, D, f=11.0, g=np.array([2.0, 20.0]), gtd=-404.0, t=A_STAR)
    assert res.converged and res.alpha == A_STAR and res.n_value == 1


def test_torch_search_brackets_and_zooms_to_a_wolfe_step() -> None:
    res = torch_strong_wolfe(Q, X, D, f=11.0, g=np.array([2.0, 20.0]), gtd=-404.0, t=1.0)
    assert res.converged and wolfe_conditions(Q, X, D, res.alpha) == (True, True)
    assert_allclose(res.grad, Q.grad(X + res.alpha * D), rtol=1e-15)
    # its first zoom trial is the cubic through (0, 11, -404) and (1, 3611, 7604): exact on a
    # quadratic, so the minimiser 101/2002 is found with the second evaluation
    assert res.n_value == 2
    assert_allclose(res.alpha, A_STAR, rtol=1e-13)


def test_torch_search_with_no_budget_returns_the_lower_end() -> None:
    # max_ls = 0 (a .step whose max_eval is spent): one evaluation, bracket [0, t], low end returned
    res = torch_strong_wolfe(Q, X, D, f=11.0, g=np.array([2.0, 20.0]), gtd=-404.0, t=1.0, max_ls=0)
    assert res.alpha == 0.0 and res.value == 11.0 and res.n_value == 1 and not res.converged
    res = torch_strong_wolfe(Q, X, D, f=11.0, g=np.array([2.0, 20.0]), gtd=-404.0, t=0.01, max_ls=0)
    assert res.alpha == 0.01 and res.value < 11.0


def test_inverse_norm_first_direction_and_always_kept_pairs() -> None:
    opt = ref.lbfgs(line_search="optax_zoom", first_scaling="inverse_norm", store_pairs="always")
    s = opt.init(X)
    g = np.array([2.0, 20.0])
    d0 = -two_loop(g, (), (), "gamma", min(1.0, 1.0 / float(np.linalg.norm(g))))
    assert_allclose(d0, -g / np.linalg.norm(g), rtol=1e-15)
    s = opt.step(s, Q)
    assert len(s.s_hist) == 1 and s.t == 1 and s.value < 11.0


def test_rho_zero_pair_and_zero_y_are_optax_guards() -> None:
    s, y = np.array([1.0, 0.0]), np.array([0.0, 1.0])  # y^T s = 0: rho = 0, the pair does nothing
    g = np.array([3.0, -4.0])
    assert_allclose(two_loop(g, (s,), (y,)), 0.0 * g, atol=0)  # gamma = s^T y / y^T y = 0
    assert two_loop(g, (s,), (np.zeros(2),)).tolist() == g.tolist()  # y = 0: gamma = 1


@pytest.mark.parametrize("kw", [{"line_search": "zoom"}, {"first_scaling": "norm"}, {"store_pairs": "never"}])
def test_bad_keywords(kw: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="lbfgs: "):
        ref.lbfgs(**kw)  # type: ignore[arg-type]


def test_optax_form_converges_on_a_nonquadratic() -> None:
    orc = FunctionOracle(lambda w: anp.sum(anp.log(1.0 + anp.exp(w))) + 0.5 * anp.sum(w * w), dim=3)
    opt = ref.lbfgs(line_search="optax_zoom", first_scaling="inverse_norm", store_pairs="always")
    s = opt.init(np.array([2.0, -1.0, 0.5]))
    for _ in range(15):
        s = opt.step(s, orc)
    assert np.max(np.abs(orc.grad(s.params))) < 1e-10
