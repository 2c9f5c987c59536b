"""Linear CG: golden steps, agreement with np.linalg.solve, n-step termination, scipy, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.sparse.linalg import cg as scipy_cg

import reference as ref
from reference.curvature.cg import LinearSystem


def _spd(n: int, cond: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    out: np.ndarray = (q * np.geomspace(1.0, cond, n)) @ q.T
    return out


def test_cg_golden_two_steps() -> None:
    # specs/cg.md "Worked example", exact fractions.
    system = LinearSystem(np.array([[4.0, 1.0], [1.0, 3.0]]), np.array([1.0, 2.0]))
    opt = ref.cg()
    s = opt.step(opt.init([2.0, 1.0]), system)
    assert_allclose(s.params, [78 / 331, 112 / 331], rtol=1e-15)
    assert s.r is not None
    assert_allclose(s.r, [93 / 331, -248 / 331], rtol=1e-14)
    s = opt.step(s, system)
    assert_allclose(s.params, [1 / 11, 7 / 11], rtol=1e-15)
    assert s.r is not None and np.linalg.norm(s.r) < 1e-15


@pytest.mark.parametrize("cond", [1.0, 10.0, 1e4])
def test_matches_linalg_solve(cond: float) -> None:
    a = _spd(20, cond, 1)
    b = np.random.default_rng(2).standard_normal(20)
    res = ref.cg_solve(a, b, tol=1e-13)
    x = np.linalg.solve(a, b)
    assert res.converged
    assert np.linalg.norm(res.x - x) <= 1e-9 * np.linalg.norm(x)


def test_terminates_in_n_steps_and_distinct_eigenvalues() -> None:
    a = _spd(8, 20.0, 3)
    b = np.random.default_rng(4).standard_normal(8)
    res = ref.cg_solve(a, b, tol=0.0, max_iter=8)
    assert np.linalg.norm(res.x - np.linalg.solve(a, b)) < 1e-12 * np.linalg.norm(b) * 20
    # three distinct eigenvalues: three steps suffice (N&W Thm. 5.4)
    q, _ = np.linalg.qr(np.random.default_rng(5).standard_normal((9, 9)))
    a3 = (q * np.repeat([1.0, 3.0, 7.0], 3)) @ q.T
    res3 = ref.cg_solve(a3, b[:8].tolist() + [1.0], tol=0.0, max_iter=3)
    assert res3.residuals[3] < 1e-12 * res3.residuals[0]


def test_residuals_orthogonal_and_matrix_free_equal() -> None:
    a = _spd(6, 50.0, 6)
    b = np.arange(1.0, 7.0)
    opt = ref.cg()
    sm = sf = opt.init(np.zeros(6))
    rs = []
    for _ in range(5):
        sm = opt.step(sm, LinearSystem(a, b))
        sf = opt.step(sf, LinearSystem(lambda v: a @ v, b))
        assert sm.r is not None
        rs.append(sm.r)
        assert_allclose(sm.params, sf.params, rtol=1e-14)
    for i in range(5):
        for j in range(i):
            assert abs(rs[i] @ rs[j]) < 1e-10 * np.linalg.norm(rs[i]) * np.linalg.norm(rs[j]) * 1e3


def test_scipy_cg_first_iterates() -> None:
    a = _spd(10, 100.0, 7)
    b = np.ones(10)
    for k in (1, 3, 5):
        xs, _ = scipy_cg(a, b, rtol=0.0, atol=0.0, maxiter=k)
        assert_allclose(ref.cg_solve(a, b, tol=0.0, max_iter=k).x, xs, rtol=1e-10, atol=1e-12)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"A has shape \(2, 3\) but b has shape \(2,\)"):
        LinearSystem(np.ones((2, 3)), np.ones(2))
    with pytest.raises(ValueError, match="A must be symmetric"):
        LinearSystem(np.array([[1.0, 2.0], [0.0, 1.0]]), np.ones(2))
    with pytest.raises(ValueError, match="not positive definite"):
        ref.cg_solve(np.array([[1.0, 0.0], [0.0, -1.0]]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="b must be a flat vector"):
        LinearSystem(np.eye(2), np.ones((2, 1)))
    with pytest.raises(ValueError, match="cg: tol must be a finite number >= 0, got -1.0"):
        ref.cg_solve(np.eye(2), np.ones(2), tol=-1.0)
    with pytest.raises(ValueError, match="cg: max_iter must be an integer >= 0, got -1"):
        ref.cg_solve(np.eye(2), np.ones(2), max_iter=-1)
    with pytest.raises(TypeError, match="cg: max_iter must be an integer >= 0, got 2.5"):
        ref.cg_solve(np.eye(2), np.ones(2), max_iter=2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cg: unknown hyperparameter 'tol'"):
        ref.cg(tol=1e-3)  # type: ignore[call-arg]  # the stopping rule belongs to cg_solve, not the method
    with pytest.raises(ValueError, match=r"x has shape \(3,\) but b has shape \(2,\)"):
        ref.cg().step(ref.cg().init(np.zeros(3)), LinearSystem(np.eye(2), np.ones(2)))
    with pytest.raises(TypeError, match="needs a LinearSystem"):
        ref.cg().step(ref.cg().init(np.zeros(2)), np.eye(2))


def test_optref_list_shows_that_cg_has_no_hyperparameters(capsys: pytest.CaptureFixture[str]) -> None:
    from reference.cli import main

    assert main(["list", "cg"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ref.cg: ")
    assert "no hyperparameters: ref.cg() takes no argument" in out
