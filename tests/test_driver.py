"""reference.driver.run: iterates, losses, learning rates, query points, seeded minibatches, autograd."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from autograd import grad
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference import problems as P
from reference._core import Optimizer
from reference.driver import Trajectory, run
from reference.first_order.sgd import init as sgd_init
from reference.first_order.sgd import step as sgd_step


def _quad() -> P.Quadratic:
    return P.quadratic([0.5, 1.0, 3.0], seed=0)


def test_full_batch_gd_matches_hand_loop() -> None:
    q = _quad()
    x0 = np.array([1.0, -1.0, 2.0])
    traj = run(ref.gd(lr=0.2), q, x0, 15)
    assert isinstance(traj, Trajectory) and traj.steps == 15
    assert traj.params is not None and traj.params.shape == (16, 3)
    assert traj.losses.shape == (16,) and traj.lrs.shape == (15,)
    x = x0.copy()
    for t in range(16):
        assert_allclose(traj.params[t], x, rtol=1e-14, atol=1e-15)
        assert_allclose(traj.losses[t], 0.5 * (x - q.minimizer) @ q.A @ (x - q.minimizer), rtol=1e-13)
        x = x - 0.2 * q.A @ (x - q.minimizer)
    assert_array_equal(traj.lrs, 0.2)
    assert traj.final.t == 15 and np.array_equal(traj.final.params, traj.params[-1])
    # GD with lr < 2/L on a convex quadratic decreases the loss monotonically
    assert np.all(np.diff(traj.losses) < 0)


def test_schedule_lrs_are_read_at_completed_steps() -> None:
    sched = ref.schedules.robbins_monro(0.5, t0=2.0, a=1.0)
    traj = run(ref.sgd(lr=sched), _quad(), np.ones(3), 6)
    assert_allclose(traj.lrs, [sched(t) for t in range(6)], rtol=1e-15)
    assert traj.lrs[0] > traj.lrs[-1]


def test_gradient_is_taken_at_the_query_point() -> None:
    # an SGD whose query point is theta + 1 (a stand-in for Nesterov's look-ahead)
    base = ref.sgd(lr=0.1)
    opt: Optimizer[Any] = Optimizer(
        name="sgd",
        hyperparams=base.hyperparams,
        init_fn=sgd_init,
        step_fn=base.step_fn,
        query_fn=lambda s: s.params + 1.0,
    )
    q = _quad()
    traj = run(opt, q, np.zeros(3), 5)
    assert traj.params is not None
    x = np.zeros(3)
    for t in range(1, 6):
        x = sgd_step(sgd_init(x), q.A @ (x + 1.0 - q.minimizer), lr=0.1).params
        assert_allclose(traj.params[t], x, rtol=1e-14, atol=1e-15)


def test_nesterov_lookahead_through_driver_if_registered() -> None:
    if "nesterov" not in ref.ALGORITHMS:
        pytest.skip("nesterov is not registered yet")
    q = _quad()
    opt = ref.make("nesterov", lr=0.1, beta=0.9)
    traj = run(opt, q, np.ones(3), 4)
    state = opt.init(np.ones(3))
    for _ in range(4):
        state = opt.step(state, q.grad(opt.query(state)))
    assert_allclose(traj.final.params, state.params, rtol=1e-14)


def test_minibatch_run_is_deterministic_and_matches_manual_loop() -> None:
    X, y = np.random.default_rng(0).standard_normal((30, 4)), np.random.default_rng(1).standard_normal(30)
    prob = P.least_squares(X, y, reduction="mean")
    opt = ref.sgd(lr=0.05)
    a = run(opt, prob, np.zeros(4), 25, batch_size=3, seed=42)
    b = run(opt, prob, np.zeros(4), 25, batch_size=3, seed=42)
    c = run(opt, prob, np.zeros(4), 25, batch_size=3, rng=np.random.default_rng(42))
    d = run(opt, prob, np.zeros(4), 25, batch_size=3, seed=43)
    assert a.params is not None and b.params is not None and c.params is not None and d.params is not None
    assert_array_equal(a.params, b.params)
    assert_array_equal(a.params, c.params)
    assert not np.allclose(a.params, d.params)
    rng = np.random.default_rng(42)
    x = np.zeros(4)
    for _t in range(25):
        x = x - 0.05 * prob.minibatch_grad(x, rng, 3)
    assert_allclose(a.params[-1], x, rtol=1e-14)
    assert_allclose(a.losses, [prob.loss(p) for p in a.params], rtol=1e-14)
    # without replacement, b = N is full batch: the run equals GD
    e = run(opt, prob, np.zeros(4), 10, batch_size=30, replace=False, seed=0)
    f = run(opt, prob, np.zeros(4), 10)
    assert e.params is not None and f.params is not None
    assert_allclose(e.params, f.params, rtol=1e-12, atol=1e-15)


def test_sgd_constant_step_interpolation_converges() -> None:
    # note 002 section 3.1: wide least squares (d > n), batch size 1, constant step
    # eta < 2/(sigma_max^2 + ||x||_max^2) ... here the per-sample step 2 eta ||x_i||^2 < 1.
    rng = np.random.default_rng(3)
    X = rng.standard_normal((10, 40))
    y = rng.standard_normal(10)
    prob = P.least_squares(X, y)  # "sum": minibatch_grad of b = 1 is N grad l_i
    eta = 0.5 / (2 * prob.n_samples * np.max(np.sum(X**2, axis=1)))
    traj = run(ref.sgd(lr=eta), prob, np.zeros(40), 3000, batch_size=1, seed=0, record_params=False)
    assert traj.params is None
    assert traj.losses[-1] < 1e-6 * traj.losses[0]
    # from 0, SGD stays in the row space: the limit is the minimum-norm solution
    assert_allclose(traj.final.params, prob.solution(), atol=1e-3)


def test_adam_on_peaks_learns() -> None:
    prob = P.peaks()
    x0 = prob.init_params(np.random.default_rng(0))
    traj = run(ref.adam(lr=1e-2), prob, x0, 300, batch_size=32, seed=0, record_params=False)
    assert traj.losses[-1] < 0.5 * traj.losses[0]
    assert prob.train_accuracy(traj.final.params) > 0.6  # chance is ~0.2
    assert prob.test_accuracy(traj.final.params) > 0.5


def test_zero_steps_and_missing_lr() -> None:
    traj = run(ref.gd(lr=0.1), _quad(), np.ones(3), 0)
    assert traj.params is not None and traj.params.shape == (1, 3)
    assert traj.losses.shape == (1,) and traj.lrs.shape == (0,) and traj.final.t == 0
    opt: Optimizer[Any] = Optimizer(
        name="fixed",
        hyperparams={},
        init_fn=sgd_init,
        step_fn=lambda s, g: sgd_step(s, g, lr=0.1),
    )
    assert np.all(np.isnan(run(opt, _quad(), np.ones(3), 3).lrs))


def test_hypergradients_through_the_driver() -> None:
    q = _quad()

    def final_loss(lr: Any) -> Any:
        return run(ref.adam(lr=lr), q, np.ones(3), 20).losses[-1]

    def from_x0(x0: Any) -> Any:
        return run(ref.gd(lr=0.3), q, x0, 20).losses[-1]

    h = 1e-6
    fd = (final_loss(0.05 + h) - final_loss(0.05 - h)) / (2 * h)
    assert_allclose(grad(final_loss)(0.05), fd, rtol=1e-6)
    # GD on a quadratic: x_20 - x* = (I - lr A)^20 (x0 - x*), so dL/dx0 = M^T A M (x0 - x*)
    x0 = np.array([1.0, 0.0, -1.0])
    M = np.linalg.matrix_power(np.eye(3) - 0.3 * q.A, 20)
    assert_allclose(grad(from_x0)(x0), M.T @ q.A @ M @ (x0 - q.minimizer), rtol=1e-10, atol=1e-14)
    traced = grad(lambda lr: np.sum(run(ref.gd(lr=lr), q, np.ones(3), 3).params[-1]))(0.1)  # type: ignore[index]
    assert np.isfinite(traced)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(steps=-1), ValueError, "steps must be an integer >= 0"),
        (dict(steps=2.0), TypeError, "steps must be an integer >= 0"),
        (dict(loss_every=0), ValueError, "loss_every must be an integer >= 1"),
        (dict(loss_every=1.5), TypeError, "loss_every must be an integer >= 1"),
        (dict(problem=None), ValueError, "problem=None needs grad=<function> and loss_every=None"),
        (
            dict(problem=None, grad=np.sin),
            ValueError,
            "problem=None needs grad=<function> and loss_every=None",
        ),
        (dict(grad="g"), TypeError, "grad must be a function of the query point"),
        (dict(grad=np.sin, batch_size=2, seed=0), ValueError, "cannot be given with batch_size"),
        (dict(x0=np.ones(4)), ValueError, r"x0 must have shape \(3,\)"),
        (dict(batch_size=2, seed=0), TypeError, "batch_size needs a finite-sum problem"),
        (dict(seed=0, rng=np.random.default_rng(0)), ValueError, "not both"),
        (dict(problem="quad"), TypeError, "problem must implement"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], exc: type[Exception], match: str) -> None:
    args: dict[str, Any] = dict(opt=ref.gd(lr=0.1), problem=_quad(), x0=np.ones(3), steps=3)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        run(args.pop("opt"), args.pop("problem"), args.pop("x0"), args.pop("steps"), **args)


def test_bad_minibatch_arguments() -> None:
    prob = P.least_squares(np.eye(4), np.ones(4))
    with pytest.raises(ValueError, match="pass seed=<int> or rng"):
        run(ref.sgd(lr=0.1), prob, np.zeros(4), 2, batch_size=2)
    with pytest.raises(ValueError, match="batch_size=5 > n_samples=4 without replacement"):
        run(ref.sgd(lr=0.1), prob, np.zeros(4), 2, batch_size=5, replace=False, seed=0)
    with pytest.raises(ValueError, match="batch_size must be None or an integer >= 1"):
        run(ref.sgd(lr=0.1), prob, np.zeros(4), 2, batch_size=0, seed=0)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        run(ref.sgd(lr=0.1), prob, np.zeros(4), 2, batch_size=1, rng=np.random.RandomState(0))  # type: ignore[arg-type]


def test_own_gradient_and_sparse_losses() -> None:
    q = _quad()
    x0 = np.array([1.0, -1.0, 2.0])

    def g2(x: Any) -> Any:  # twice the problem's gradient: GD at 2 lr
        return 2.0 * q.A @ (x - q.minimizer)

    a = run(ref.gd(lr=0.05), q, x0, 12, grad=g2)
    b = run(ref.gd(lr=0.1), q, x0, 12)
    assert a.params is not None and b.params is not None
    assert_allclose(a.params, b.params, rtol=1e-14, atol=1e-15)
    # no problem at all: the caller's gradient, no losses; the same iterates bit for bit
    c = run(ref.gd(lr=0.05), None, x0, 12, grad=g2, loss_every=None)
    assert c.params is not None and c.losses.shape == (0,)
    assert_array_equal(c.params, a.params)
    # losses at t = 0, 4, 8, 12 only (an epoch of 4 steps), equal to the per-step ones there
    d = run(ref.gd(lr=0.1), q, x0, 12, loss_every=4)
    assert_array_equal(d.losses, b.losses[::4])
    e = run(ref.gd(lr=0.1), q, x0, 10, loss_every=4)
    assert_array_equal(e.losses, b.losses[[0, 4, 8]])


def test_minibatch_epochs_match_a_hand_loop_with_the_query_point() -> None:
    # Nesterov's look-ahead: each minibatch gradient is taken at opt.query(state), one Generator
    X, y = np.random.default_rng(0).standard_normal((24, 3)), np.random.default_rng(1).standard_normal(24)
    prob = P.least_squares(X, y, reduction="mean")
    opt = ref.make("nesterov", lr=0.02, beta=0.9)
    traj = run(opt, prob, np.zeros(3), 3 * 8, batch_size=3, seed=5, loss_every=8, record_params=False)
    rng, state, curve = np.random.default_rng(5), opt.init(np.zeros(3)), [prob.loss(np.zeros(3))]
    for _ in range(3):
        for _ in range(8):
            state = opt.step(state, prob.minibatch_grad(opt.query(state), rng, 3))
        curve.append(prob.loss(state.params))
    assert_array_equal(traj.final.params, state.params)
    assert_array_equal(traj.losses, curve)
