"""The lazy_regime check's hand-written pieces against autograd: the backpropagated gradient of the
Peaks MLP and the Jacobian-vector product of its linearisation; the NTK scaling of the init."""

from __future__ import annotations

import autograd
import numpy as np
from numpy.testing import assert_allclose

from reference.problems import peaks
from theory_checks import lazy_regime as chk


def test_hand_gradient_equals_autograd() -> None:
    pb = peaks(width=16, n_samples=60, n_train=60, seed=0)
    th = pb.init_params(np.random.default_rng(0)) + 0.1 * np.random.default_rng(1).standard_normal(pb.dim)
    assert_allclose(chk._grad_std(pb, th), pb.grad(th), rtol=1e-12, atol=1e-15)


def test_jvp_equals_autograd_jacobian() -> None:
    pb = peaks(width=8, n_samples=20, n_train=20, seed=0)
    rng = np.random.default_rng(2)
    th = pb.init_params(rng) + 0.1 * rng.standard_normal(pb.dim)
    delta = rng.standard_normal(pb.dim)
    J = autograd.jacobian(lambda t: pb.predict(t, pb.X))(th)  # (n, 5, p)
    assert_allclose(chk._jvp(pb, th, delta), np.einsum("ncp,p->nc", J, delta), rtol=1e-12, atol=1e-13)


def test_ntk_scaling_of_the_init_and_the_gradient() -> None:
    # S theta0 is He-initialised; the trained coordinates V of W2 are N(0, 1) at every width.
    w = 2048
    s = chk._scale(w, "ntk")
    assert_allclose(s[3 * w : 8 * w], np.sqrt(2.0 / w))
    assert np.all(s[: 3 * w] == 1.0) and np.all(s[8 * w :] == 1.0)
    m = chk.measure(64, np.random.default_rng(0))
    assert m.lossT < m.loss0  # training happened
    assert 0.0 < m.rel_change < 1.0 and 0.0 < m.lin_error < 1.0
