"""Every first-order algorithm is differentiable by autograd through its unrolled steps.

For each registered name whose family is "first-order" (read from the registry at test time, so
algorithms added later are covered), F(lr) = L(theta_T) and G(x0) = L(theta_T) after T = 20
closed-loop steps (gradients at ``opt.query(state)``) are differentiated by autograd, with the
optimizer built INSIDE the differentiated function (``ref.make(name, lr=lr_box)``), and compared
with central finite differences on a small least-squares problem and a quadratic.

Expectations, per algorithm (a name not listed is "smooth"):

* "smooth": the T-step map is differentiable at the test point; autograd = central FD to 1e-6
  relative.
* "sign" (signsgd, lion): the update direction is sign(.), whose derivative is 0 almost everywhere
  and which jumps on a null set. The T-step map is differentiable wherever the sign pattern of
  every step is locally constant, and there the x0 -> theta_T map is a translation (in the
  absence of weight decay): d theta_T / d x0 = I, so dG/dx0 = grad L(theta_T) exactly. The test
  (a) checks that the FD is taken inside one piece (FD with h and h/4 agree: a jump of size
  ~lr inside [x - h, x + h] would change the quotient by a factor ~4), (b) compares autograd with
  the FD, and (c) checks the translation identity.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from autograd import grad
from numpy.testing import assert_allclose

import reference as ref
from reference import problems as P

T = 20
FIRST_ORDER = [e.name for e in ref.ENTRIES if e.family == "first-order" and e.gradient_fed]
EXPECTATION: dict[str, str] = {"signsgd": "sign", "lion": "sign"}
#: learning rates at which 20 steps are stable on both problems (default 0.05)
LR: dict[str, float] = {"adadelta": 1.0, "lion": 0.01, "signsgd": 0.01}


def _problems() -> dict[str, P.Problem]:
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 3)), rng.standard_normal(8)
    return {
        "least_squares": P.least_squares(X, y, reduction="mean"),
        "quadratic": P.quadratic([0.5, 1.0, 4.0], seed=1),
    }


PROBLEMS = _problems()
X0 = np.array([0.7, -1.3, 0.4])


def _final_loss(name: str, prob: P.Problem, lr: Any, x0: Any) -> Any:
    opt = ref.make(name, lr=lr)
    state = opt.init(x0)
    for _ in range(T):
        state = opt.step(state, prob.grad(opt.query(state)))
    return prob.loss(state.params)


def _final_params(name: str, prob: P.Problem, lr: float, x0: np.ndarray) -> np.ndarray:
    opt = ref.make(name, lr=lr)
    state = opt.init(x0)
    for _ in range(T):
        state = opt.step(state, prob.grad(opt.query(state)))
    return np.asarray(state.params)


def _fd(f: Callable[[float], Any], x: float, h: float) -> float:
    return (float(f(x + h)) - float(f(x - h))) / (2 * h)


def _fd_vec(f: Callable[[np.ndarray], Any], x: np.ndarray, h: float) -> np.ndarray:
    out = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        out[i] = (float(f(x + e)) - float(f(x - e))) / (2 * h)
    return out


def _rel(a: Any, b: Any) -> float:
    a, b = np.atleast_1d(np.asarray(a, float)), np.atleast_1d(np.asarray(b, float))
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def test_registry_has_first_order_algorithms() -> None:
    assert {"gd", "sgd", "adam"} <= set(FIRST_ORDER)
    assert set(EXPECTATION.values()) <= {"smooth", "sign"}


@pytest.mark.parametrize("prob_name", list(PROBLEMS))
@pytest.mark.parametrize("name", FIRST_ORDER)
def test_hypergradient_wrt_lr(name: str, prob_name: str) -> None:
    prob = PROBLEMS[prob_name]
    lr = LR.get(name, 0.05)
    f = lambda a: _final_loss(name, prob, a, X0)  # noqa: E731
    ag = grad(f)(lr)
    h = 1e-6 * lr
    fd = _fd(f, lr, h)
    assert np.isfinite(ag) and abs(fd) > 1e-8, (ag, fd)  # a nontrivial derivative
    if EXPECTATION.get(name, "smooth") == "sign":
        assert _rel(_fd(f, lr, h / 4), fd) < 1e-6, "FD crosses a sign change: move the test point"
    assert _rel(ag, fd) < 1e-6, (name, ag, fd)


@pytest.mark.parametrize("prob_name", list(PROBLEMS))
@pytest.mark.parametrize("name", FIRST_ORDER)
def test_hypergradient_wrt_initial_point(name: str, prob_name: str) -> None:
    prob = PROBLEMS[prob_name]
    lr = LR.get(name, 0.05)
    f = lambda x: _final_loss(name, prob, lr, x)  # noqa: E731
    ag = grad(f)(X0)
    assert ag.shape == X0.shape and np.all(np.isfinite(ag))
    fd = _fd_vec(f, X0, 1e-6)
    assert np.linalg.norm(fd) > 1e-8
    if EXPECTATION.get(name, "smooth") == "sign":
        assert _rel(_fd_vec(f, X0, 2.5e-7), fd) < 1e-6, "FD crosses a sign change"
        # translation: d theta_T / d x0 = I, so dG/dx0 = grad L(theta_T)
        assert_allclose(ag, prob.grad(_final_params(name, prob, lr, X0)), rtol=1e-12, atol=1e-15)
    assert _rel(ag, fd) < 1e-6, (name, ag, fd)
