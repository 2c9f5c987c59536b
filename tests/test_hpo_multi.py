"""Hyperparameter search beyond one dimension (specs/hyperband.md, specs/bohb.md, specs/hpo.md (H14)-(H18)):
Hyperband's brackets against the paper's table, successive halving's fixed rounds, BOHB without its
model is Hyperband, BOHB's model prefers the good region, BO over two hyperparameters beats random
search, the search space's map, the Optuna peer (skipped without optuna), bad inputs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from reference import hpo
from reference.experiments import hpo_peaks
from reference.hpo.bohb import bohb, kde, normal_reference_bandwidth, propose
from reference.hpo.hyperband import hyperband, hyperband_brackets, hyperband_budget
from reference.hpo.space import Evaluation, categorical, integer, real, space

# ---------------------------------------------------------------------------------------------
# Hyperband


def test_hyperband_brackets_are_the_papers_table() -> None:
    # Li et al. (2018), Table 1 (R = 81, eta = 3), worked by hand in specs/hyperband.md.
    want = [
        (4, [81, 27, 9, 3, 1], [1, 3, 9, 27, 81], 405),
        (3, [34, 11, 3, 1], [3, 9, 27, 81], 363),
        (2, [15, 5, 1], [9, 27, 81], 351),
        (1, [8, 2], [27, 81], 378),
        (0, [5], [81], 405),
    ]
    got = [
        (b.s, [n for n, _ in b.rounds], [r for _, r in b.rounds], b.budget) for b in hyperband_brackets(81, 3)
    ]
    assert got == want
    assert hyperband_budget(81, 3) == 1902
    assert hyperband_budget(9, 3) == 27 + 24 + 27
    assert [(b.n, b.r) for b in hyperband_brackets(54, 3)] == [(27, 2), (12, 6), (6, 18), (4, 54)]


def _ranked(levels: int) -> tuple[Any, Any]:
    """A categorical space whose choice k has loss k + 1/budget at every budget: a known ranking."""
    sp = space(categorical("k", list(range(levels))))

    def f(c: dict[str, Any], r: int) -> float:
        return float(c["k"] + 1.0 / r)

    return sp, f


def test_hyperband_finds_the_known_best_and_halves_correctly() -> None:
    sp, f = _ranked(12)
    res = hyperband(f, sp, R=27, eta=3, seed=0)
    assert res.config == {"k": 0} and res.loss == pytest.approx(1 / 27, abs=0) and res.budget == 27
    # within every bracket the configuration that reaches the last round is the best of round 0
    brackets = sorted({e.bracket for e in res.evaluations})
    assert brackets == [0, 1, 2, 3]
    for s in brackets:
        evs = [e for e in res.evaluations if e.bracket == s]
        first = [e.config["k"] for e in evs if e.round == 0]
        last = [e.config["k"] for e in evs if e.round == s]
        assert sorted(last) == sorted(first)[: len(last)]
        assert {e.budget for e in evs if e.round == s} == {27}


def test_hyperband_record_budget_and_determinism() -> None:
    sp = space(real("x", 1e-3, 1.0, log=True), integer("n", 1, 9))
    calls: list[int] = []

    def f(c: dict[str, Any], r: int) -> float:
        calls.append(r)
        return float(abs(math.log10(c["x"]) + 2) + c["n"] / 10 + 1 / r)

    a = hyperband(f, sp, R=9, eta=3, seed=5, iterations=2)
    assert a.budget_spent == sum(calls) == 2 * 78
    assert len(a.evaluations) == 2 * (9 + 3 + 1 + 5 + 1 + 3)
    assert a.loss == min(e.loss for e in a.evaluations)
    b = hyperband(f, sp, R=9, eta=3, seed=5, iterations=2)
    assert a.evaluations == b.evaluations
    c = hyperband(f, sp, R=9, eta=3, seed=6, iterations=2)
    assert a.evaluations != c.evaluations


def test_hyperband_survives_diverged_rounds() -> None:
    sp = space(real("x", 0.0, 1.0))

    def f(c: dict[str, Any], r: int) -> float:
        return math.nan if c["x"] > 0.5 or r >= 3 else c["x"]

    res = hyperband(f, sp, R=9, eta=3, seed=0)
    assert math.isfinite(res.loss) and res.budget == 1
    assert any(math.isinf(e.loss) for e in res.evaluations)
    with pytest.raises(ValueError, match="not finite at any"):
        hyperband(lambda c, r: math.inf, sp, R=3, eta=3, seed=0)


def test_successive_halving_fixed_rounds() -> None:
    assert hpo.halving_schedule(34, 3, 3, rounds=4) == [(34, 3), (11, 9), (3, 27), (1, 81)]
    assert hpo.halving_schedule(8, 27, 3, rounds=2) == [(8, 27), (2, 81)]  # without rounds: (1, 243) too
    assert hpo.halving_schedule(8, 27, 3) == [(8, 27), (2, 81), (1, 243)]
    res = hpo.successive_halving(lambda c, r: abs(c - 2.5), [5, 1, 2, 4, 3], min_budget=81, eta=3, rounds=1)
    assert res.config == 2 and res.total_budget == 5 * 81  # the best of a last round of five
    with pytest.raises(ValueError, match="rounds=3 needs at least eta"):
        hpo.halving_schedule(8, 1, 3, rounds=3)
    with pytest.raises(ValueError, match="every configuration diverged"):
        hpo.successive_halving(lambda c, r: math.inf, [1, 2], min_budget=1)
    lenient = hpo.successive_halving(lambda c, r: math.inf, [1, 2], min_budget=1, strict=False)
    assert math.isinf(lenient.score)


def test_hyperband_bad_inputs() -> None:
    sp = space(real("x", 0.0, 1.0))
    f = lambda c, r: c["x"]  # noqa: E731
    with pytest.raises(ValueError, match=r"R must be m \* eta\^s_max"):
        hyperband(f, sp, R=10, eta=3)
    with pytest.raises(ValueError, match="eta"):
        hyperband(f, sp, R=9, eta=1)
    with pytest.raises(ValueError, match="R"):
        hyperband(f, sp, R=0)
    with pytest.raises(TypeError, match="objective must be callable"):
        hyperband(None, sp, R=9)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="space must be a SearchSpace"):
        hyperband(f, [0, 1], R=9)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="iterations"):
        hyperband(f, sp, R=9, iterations=0)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        hyperband(f, sp, R=9, seed=-1)


# ---------------------------------------------------------------------------------------------
# BOHB


def _bowl(c: dict[str, Any], r: int) -> float:
    return float((math.log10(c["lr"]) + 2) ** 2 / 4 + (c["m"] - 0.9) ** 2 + c["w"] / 100 + 1 / r)


_SPACE3 = space(real("lr", 1e-4, 1.0, log=True), real("m", 0.0, 1.0), integer("w", 1, 20))


def test_bohb_without_model_is_hyperband() -> None:
    for seed in (0, 7):
        h = hyperband(_bowl, _SPACE3, R=27, eta=3, seed=seed)
        b = bohb(_bowl, _SPACE3, R=27, eta=3, seed=seed, random_fraction=1.0)
        assert b.evaluations == h.evaluations and b.budget_spent == h.budget_spent == 423
    with_model = bohb(_bowl, _SPACE3, R=27, eta=3, seed=0)
    assert with_model.evaluations != hyperband(_bowl, _SPACE3, R=27, eta=3, seed=0).evaluations
    assert with_model.budget_spent == 423


def test_bohb_model_proposes_inside_the_good_region() -> None:
    # specs/bohb.md, worked example: d = 1, losses increase with u; N_min = 2, q = 0.15.
    sp = space(real("u", 0.0, 1.0))
    hist = [Evaluation({"u": u}, 3, u) for u in np.arange(0.05, 1.0, 0.1)]
    cfg_rng, model_rng = np.random.default_rng(0), np.random.default_rng(1)
    kw: dict[str, Any] = dict(
        random_fraction=0.0,
        top_fraction=0.15,
        n_samples=64,
        bandwidth_factor=3.0,
        min_bandwidth=1e-3,
        min_points_in_model=2,
    )
    props = [propose(hist, sp, cfg_rng, model_rng, **kw)["u"] for _ in range(40)]
    assert max(props) < 0.5
    # too few results at any budget (|D_b| < N_min + 2): uniform draws from the config stream
    few = [propose(hist[:3], sp, np.random.default_rng(3), model_rng, **kw)["u"] for _ in range(1)]
    assert few == [sp.sample(np.random.default_rng(3))["u"]]


def test_kde_golden_and_bandwidth() -> None:
    pts = np.array([[0.0], [1.0]])
    h = np.array([0.5])
    # (1/2) [N(0.5; 0, 0.25) + N(0.5; 1, 0.25)] = N(0.5; 0, 0.25) = exp(-0.5) / (0.5 sqrt(2 pi))
    assert kde(pts, h, np.array([[0.5]]))[0] == pytest.approx(
        math.exp(-0.5) / (0.5 * math.sqrt(2 * math.pi)), rel=1e-14
    )
    # 1.06 sd N^(-1/5): sd of {0, 1} = 0.5, N = 2
    assert normal_reference_bandwidth(pts, 1e-3)[0] == pytest.approx(1.06 * 0.5 * 2 ** (-0.2), rel=1e-14)
    assert normal_reference_bandwidth(np.array([[0.3], [0.3]]), 1e-3)[0] == 1e-3


def test_bohb_bad_inputs() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"random_fraction": 1.5}, "random_fraction"),
        ({"top_fraction": 0.0}, "top_fraction"),
        ({"n_samples": 0}, "n_samples"),
        ({"bandwidth_factor": 0.0}, "bandwidth_factor"),
        ({"min_bandwidth": -1.0}, "min_bandwidth"),
        ({"min_points_in_model": 0}, "min_points_in_model"),
    ]
    for kw, msg in cases:
        with pytest.raises(ValueError, match=msg):
            bohb(_bowl, _SPACE3, R=9, **kw)
    with pytest.raises(TypeError, match="seed must be an int"):
        bohb(_bowl, _SPACE3, R=9, seed=np.random.default_rng(0))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Bayesian optimisation over several hyperparameters

_SPACE2 = space(real("lr", 1e-4, 1.0, log=True), real("m", 0.0, 1.0))


def _bowl2(c: dict[str, Any], r: int) -> float:
    """Minimum 0 at lr = 1e-2 (u = 0.5), m = 0.9."""
    return float((math.log10(c["lr"]) + 2) ** 2 / 4 + (c["m"] - 0.9) ** 2)


BO_SEEDS = range(3)
BO_CHEAP: dict[str, Any] = dict(
    restarts=0, n_candidates=256, n_starts=2
)  # the test's cost, not BO's defaults


def test_bo_beats_random_search_at_equal_budget() -> None:
    # 10 evaluations each (BO: Latin hypercube of 3, then 7 EI steps). Margin: BO's gap to the known
    # minimum is below a quarter of random search's at every seed. Seeds 0-49 studied with this margin
    # (specs/hpo.md, Conventions): the count of failures is recorded there.
    for seed in BO_SEEDS:
        bo = hpo.bayesian_search(_bowl2, _SPACE2, budget=1, n_init=3, n_iter=7, seed=seed, **BO_CHEAP)
        rs = hpo.random_space_search(_bowl2, _SPACE2, n=10, budget=1, seed=seed)
        assert len(bo.evaluations) == len(rs.evaluations) == 10 and bo.budget_spent == rs.budget_spent == 10
        assert bo.loss < 0.25 * rs.loss, (seed, bo.loss, rs.loss)


def test_ard_kernel_golden_values() -> None:
    A, B = np.array([[0.0, 0.0]]), np.array([[0.3, 0.8]])
    ell = np.array([0.3, 0.4])  # r^2 = 1 + 4 = 5
    r = math.sqrt(5.0)
    assert hpo.ard_kernel(A, B, ell, 2.0, "rbf")[0, 0] == pytest.approx(2.0 * math.exp(-2.5), rel=1e-14)
    m52 = 2.0 * (1 + math.sqrt(5) * r + 5 * 5 / 3) * math.exp(-math.sqrt(5) * r)
    assert hpo.ard_kernel(A, B, ell, 2.0, "matern52")[0, 0] == pytest.approx(m52, rel=1e-14)
    assert hpo.ard_kernel(A, A, ell, 2.0, "matern52")[0, 0] == pytest.approx(2.0, rel=1e-14)


def test_ard_fit_finds_the_irrelevant_dimension() -> None:
    rng = np.random.default_rng(0)
    U = rng.random((16, 2))
    y = np.sin(6 * U[:, 0])  # does not depend on u_1
    gp = hpo.fit_gp_ard(U, y, rng=rng)
    assert gp.length_scales[1] > 5 * gp.length_scales[0]
    mean, var = gp.predict(U)
    assert np.max(np.abs(mean - y)) < 1e-2 and np.all(var >= 0)
    pts = hpo.maximize_ei(gp, float(y.min()), rng, n_candidates=64, n_starts=2)
    assert all(p.shape == (2,) and np.all((p >= 0) & (p <= 1)) for p in pts)
    ei = [float(hpo.expected_improvement(*gp.predict(p[None, :]), float(y.min()))[0]) for p in pts]
    assert ei[0] >= max(ei[2:]) - 1e-12  # the optimised point is at least the best candidate


def test_bayesian_search_bad_inputs() -> None:
    with pytest.raises(ValueError, match="budget"):
        hpo.bayesian_search(_bowl2, _SPACE2, budget=0)
    with pytest.raises(ValueError, match="n_init"):
        hpo.bayesian_search(_bowl2, _SPACE2, budget=1, n_init=1)
    with pytest.raises(ValueError, match="kind must be one of"):
        hpo.bayesian_search(_bowl2, _SPACE2, budget=1, kind="linear")
    with pytest.raises(TypeError, match="space must be a SearchSpace"):
        hpo.bayesian_search(_bowl2, {"lr": (0, 1)}, budget=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="U must be"):
        hpo.fit_gp_ard(np.zeros(3), np.zeros(3), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="not finite at any"):
        hpo.bayesian_search(lambda c, r: math.nan, _SPACE2, budget=1, n_init=2, n_iter=1)


# ---------------------------------------------------------------------------------------------
# The search space, (H18)


def test_space_map_golden_values() -> None:
    sp = space(
        real("lr", 1e-3, 1.0, log=True), integer("b", 8, 128, log=True), categorical("act", ["relu", "tanh"])
    )
    c = sp.from_unit([0.5, 0.5, 0.5])
    assert c["lr"] == pytest.approx(10**-1.5, rel=1e-14)
    assert c["b"] == 32  # exp(log 8 + 0.5 log 16) = 32
    assert c["act"] == "tanh"  # floor(0.5 * 2) = 1
    assert sp.from_unit([0.0, 1.0, 1.0]) == {"lr": 1e-3, "b": 128, "act": "tanh"}
    assert sp.from_unit([0.0, 0.12, 0.49])["b"] == round(8 * 16**0.12) == 11
    u = sp.to_unit({"lr": 1e-2, "b": 32, "act": "relu"})
    assert u == pytest.approx([1 / 3, 0.5, 0.25], rel=1e-14)  # log10 1e-2 is a third of the way up
    assert sp.from_unit(u) == {"lr": pytest.approx(1e-2, rel=1e-14), "b": 32, "act": "relu"}


def test_space_bad_inputs() -> None:
    with pytest.raises(ValueError, match="need finite low < high"):
        real("x", 1.0, 1.0)
    with pytest.raises(ValueError, match="needs low > 0"):
        real("x", 0.0, 1.0, log=True)
    with pytest.raises(ValueError, match="integer bounds"):
        hpo.Param("n", "int", 0.5, 3.0)
    with pytest.raises(ValueError, match="at least one value"):
        categorical("c", [])
    with pytest.raises(ValueError, match="distinct"):
        space(real("x", 0, 1), real("x", 0, 2))
    with pytest.raises(ValueError, match="must be 2 finite numbers"):
        _SPACE2.from_unit([0.5])
    with pytest.raises(ValueError, match="must lie in"):
        _SPACE2.to_unit({"lr": 2.0, "m": 0.5})
    with pytest.raises(ValueError, match="lacks"):
        _SPACE2.to_unit({"lr": 0.1})


# ---------------------------------------------------------------------------------------------
# The Peaks comparison and the Optuna peer


def test_peaks_trainer_resumes_exactly() -> None:
    cfg = {"lr": 0.1, "batch_size": 128, "width": 8}
    a, b = hpo_peaks.Trainer(cfg, 0), hpo_peaks.Trainer(cfg, 0)
    a.advance(3)
    b.advance(2)
    b.advance(1)
    assert a.epochs == b.epochs == 3 and a.val_loss() == b.val_loss()
    assert hpo_peaks.PeaksObjective(0)(cfg, 3) == a.val_loss()


@pytest.mark.parametrize(
    "argv", [["--methods", "sgd"], ["--R", "10"], ["--seeds", "0"], ["--R", "3", "--iterations", "1"]]
)
def test_optref_hpo_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert hpo_peaks.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("optref hpo:") and len(err.strip().splitlines()) == 1


class _Synthetic:
    """A resumable 'training' whose loss after e epochs is |log10 lr + 2| + 1/e (for the peer test)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config, self.epochs = config, 0

    def advance(self, epochs: int) -> None:
        self.epochs += epochs

    def val_loss(self) -> float:
        return float(abs(math.log10(self.config["lr"]) + 2) + self.config["w"] / 100 + 1 / self.epochs)


def test_optuna_peer_same_budget_accounting() -> None:
    pytest.importorskip("optuna", reason=f"the Optuna peer needs optuna: {hpo_peaks.INSTALL_HINT}")
    sp = space(real("lr", 1e-4, 1.0, log=True), integer("w", 1, 20, log=True))
    R, eta = 9, 3
    budget = hyperband_budget(R, eta)  # 78 epochs: 8 full trainings
    tpe = hpo_peaks.optuna_search(sp, _Synthetic, R=R, eta=eta, budget=budget, seed=0, pruned=False)
    assert tpe.epochs == (budget // R) * R == 72 and tpe.trainings == 8
    hb = hpo_peaks.optuna_search(sp, _Synthetic, R=R, eta=eta, budget=budget, seed=0, pruned=True)
    assert hb.epochs == budget and hb.trainings > 8  # pruning buys more trials with the same epochs
    again = hpo_peaks.optuna_search(sp, _Synthetic, R=R, eta=eta, budget=budget, seed=0, pruned=True)
    assert again == hb  # reproducible: the study is named after the seed (the pruner hashes the name)
    ours = hyperband(lambda c, r: _trained(c, r), sp, R=R, eta=eta, seed=0)
    rs = hpo.random_space_search(lambda c, r: _trained(c, r), sp, n=budget // R, budget=R, seed=0)
    assert ours.budget_spent == budget and rs.budget_spent == tpe.epochs
    for res in (tpe, hb):
        assert math.isfinite(res.loss) and res.loss == pytest.approx(
            _trained(res.config, res.at_epochs), rel=1e-15
        )


def _trained(config: dict[str, Any], epochs: int) -> float:
    t = _Synthetic(config)
    t.advance(epochs)
    return t.val_loss()
