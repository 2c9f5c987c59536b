r"""``optref hpo``: hyperparameter search beyond one dimension on the Peaks task, our methods beside
Optuna's (note 003, "Multi-Fidelity Methods", "Bayesian Optimization (BO)"; note 000's summary
says small networks need tuning and that Optuna helps).

The search (``SPACE``): SGD on the Peaks MLP (reference/problems/peaks.py) over
    lr         log-uniform in [1e-3, 1]
    batch_size integer, log scale, [8, 128]
    width      integer, log scale, [8, 256]
The objective f(config, r): train ``r`` epochs (an epoch = floor(640 / batch_size) minibatch steps,
drawn with replacement) on training points 0-639 of ``peaks(seed=0)``'s 800 training points from
torch.nn.Linear's initialisation, and return the mean cross-entropy on points 640-799 (the
validation split of ``optref peaks --search``; the 200 test points are never used). A run that
diverges scores inf. Comparison seed k fixes the initialisation and minibatch streams
(children of ``SeedSequence(k + 2000)``), the same for every configuration and every method
(common random numbers): at a given seed each method searches the same deterministic function.

Budget accounting, the same for every method: the budget unit is the epoch and every epoch trained
counts. The largest budget of one configuration is R epochs (default 9; one "full training"); the
total budget is ``BUDGET = iterations x (HB6)`` epochs (default 2 x 78 = 156, about 17 full
trainings):
    random      floor(BUDGET / R) configurations, each trained R epochs
    hyperband   ``iterations`` runs of Hyperband (R, eta = 3), every rung a fresh run (HB6)
    bo          floor(BUDGET / R) evaluations at R (Latin hypercube of d + 1 = 4, then EI)
    bohb        as hyperband, proposals from BOHB's model
    tpe         Optuna's TPESampler, floor(BUDGET / R) trials at R
    tpe+hb      Optuna's TPESampler with HyperbandPruner(min_resource=1, max_resource=R,
                reduction_factor=eta): each trial trains epoch by epoch (resumed, not restarted)
                and reports its validation loss after every epoch; trials start until BUDGET
                epochs are spent (the trial running then is cut there)
Our methods draw their configurations from ``np.random.default_rng(k)`` at seed k, so random search,
Hyperband and BOHB start from the same first draws (common random numbers again): where they report
the same best configuration, it is that shared draw.
Reported per method: the least validation loss of any model trained during the search (mean
+- sample sd over the seeds), the epochs spent, the wall time, and for Hyperband and BOHB the
epochs they would spend if each configuration resumed its training instead of restarting
("resumed": the sum over configurations of the largest budget each reached).

Run it as ``OPENBLAS_NUM_THREADS=1 optref hpo``: the GP of BO works on matrices of at most 20 x 20,
and threaded OpenBLAS made BO three times slower in CPU time on the shared 2-core machine (measured:
a 10-evaluation 2-D BO took 3.2 s of CPU threaded, 1.1 s single-threaded).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .. import _registry
from .._core import NonFiniteGradientError
from ..hpo.bayesian import bayesian_search
from ..hpo.bohb import bohb
from ..hpo.hyperband import hyperband, hyperband_budget
from ..hpo.space import Config, Param, SearchSpace, SpaceResult, integer, random_space_search, real, space
from ..problems.peaks import Peaks, peaks
from .peaks import _streams, init_params

SPACE: SearchSpace = space(
    real("lr", 1e-3, 1.0, log=True),
    integer("batch_size", 8, 128, log=True),
    integer("width", 8, 256, log=True),
)
OPTIMIZER = "sgd"
N_TRAIN = 640
METHODS = ("random", "hyperband", "bo", "bohb", "tpe", "tpe+hb")
OPTUNA_METHODS = ("tpe", "tpe+hb")
DEFAULTS: dict[str, int] = {"R": 9, "eta": 3, "iterations": 2, "seeds": 3}
QUICK: dict[str, int] = {"R": 3, "eta": 3, "iterations": 2, "seeds": 1}
INSTALL_HINT = "pip install 'optim-reference[hpo]' (or pip install optuna)"

_PROBLEMS: dict[int, Peaks] = {}


def problem(width: int) -> Peaks:
    """The search split at ``width``: points 0-639 train, 640-799 validation (cached)."""
    if width not in _PROBLEMS:
        _PROBLEMS[width] = peaks(width=width, seed=0, n_samples=800, n_train=N_TRAIN)
    return _PROBLEMS[width]


class Trainer:
    """One configuration's SGD run at comparison seed ``seed``, advanced epoch by epoch; training r
    epochs in one call or in r calls gives the same iterate (one minibatch stream)."""

    def __init__(self, config: Config, seed: int) -> None:
        self.problem = problem(int(config["width"]))
        self.batch_size = int(config["batch_size"])
        init_seq, batch_seq = _streams(np.random.SeedSequence(seed + 2000), 2)
        self.opt = _registry.make(OPTIMIZER, lr=float(config["lr"]))
        self.state = self.opt.init(init_params(self.problem, np.random.default_rng(init_seq), "torch"))
        self.rng = np.random.default_rng(batch_seq)
        self.epochs = 0
        self.diverged = False

    def advance(self, epochs: int) -> None:
        """Train ``epochs`` more epochs of floor(640 / b) minibatch steps (stops at divergence)."""
        steps = max(1, N_TRAIN // self.batch_size)
        for _ in range(epochs):
            self.epochs += 1
            if self.diverged:
                continue
            try:
                with np.errstate(over="ignore", invalid="ignore"):
                    for _ in range(steps):
                        q = self.opt.query(self.state)
                        g = self.problem.minibatch_grad(q, self.rng, self.batch_size)
                        self.state = self.opt.step(self.state, g)
            except NonFiniteGradientError:
                self.diverged = True

    def val_loss(self) -> float:
        """The mean cross-entropy on the validation points (inf after a divergence)."""
        if self.diverged:
            return math.inf
        with np.errstate(over="ignore", invalid="ignore"):
            v = float(self.problem.test_loss(self.state.params))
        return v if math.isfinite(v) else math.inf


class PeaksObjective:
    """f(config, r) for our searches: a fresh ``Trainer`` trained r epochs; counts the epochs."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.epochs = 0

    def __call__(self, config: Config, budget: int) -> float:
        t = Trainer(config, self.seed)
        t.advance(int(budget))
        self.epochs += int(budget)
        return t.val_loss()


@dataclass(frozen=True)
class Row:
    """One (method, seed) search: the least validation loss found and its configuration and budget,
    the epochs spent (and, for Hyperband/BOHB, if resumed), the models trained, the wall time."""

    method: str
    seed: int
    loss: float
    config: Config
    at_epochs: int
    epochs: int
    resumed: int
    trainings: int
    seconds: float


def _resumed(res: SpaceResult) -> int:
    """Epochs if every configuration resumed its training: sum of the largest budget per config."""
    top: dict[tuple[Any, ...], int] = {}
    for e in res.evaluations:
        k = SPACE.key(e.config)
        top[k] = max(top.get(k, 0), e.budget)
    return sum(top.values())


def run_ours(method: str, seed: int, R: int, eta: int, iterations: int) -> Row:
    """One search by our ``method`` (random, hyperband, bo, bohb) at comparison seed ``seed``."""
    budget = iterations * hyperband_budget(R, eta)
    n_full = budget // R
    f = PeaksObjective(seed)
    t0 = time.perf_counter()
    if method == "random":
        res = random_space_search(f, SPACE, n=n_full, budget=R, seed=seed)
    elif method == "hyperband":
        res = hyperband(f, SPACE, R=R, eta=eta, seed=seed, iterations=iterations)
    elif method == "bo":
        res = bayesian_search(
            f, SPACE, budget=R, n_init=SPACE.dim + 1, n_iter=n_full - SPACE.dim - 1, seed=seed
        )
    elif method == "bohb":
        res = bohb(f, SPACE, R=R, eta=eta, seed=seed, iterations=iterations)
    else:
        raise ValueError(f"hpo: method must be one of {list(METHODS)}, got {method!r}")
    seconds = time.perf_counter() - t0
    if f.epochs != res.budget_spent:
        raise RuntimeError(f"hpo: {method} trained {f.epochs} epochs but accounts {res.budget_spent}")
    multi = method in ("hyperband", "bohb")
    return Row(
        method=method,
        seed=seed,
        loss=res.loss,
        config=res.config,
        at_epochs=res.budget,
        epochs=res.budget_spent,
        resumed=_resumed(res) if multi else res.budget_spent,
        trainings=len(res.evaluations),
        seconds=seconds,
    )


def import_optuna() -> Any:
    """The optuna module (imported by name: optional, untyped here), or ImportError with the hint."""
    import importlib

    try:
        return importlib.import_module("optuna")
    except ImportError as exc:
        raise ImportError(f"hpo: the Optuna rows need optuna: {INSTALL_HINT}") from exc


class Resumable(Protocol):
    """A training run that can be advanced epoch by epoch (``Trainer``)."""

    epochs: int

    def advance(self, epochs: int) -> None: ...

    def val_loss(self) -> float: ...


@dataclass(frozen=True)
class OptunaResult:
    """An Optuna search: the least loss reported, its configuration and epoch, the epochs spent, the
    trials started."""

    loss: float
    config: Config
    at_epochs: int
    epochs: int
    trainings: int


def _suggest(trial: Any, p: Param) -> Any:
    """The Optuna suggestion of one hyperparameter of a ``SearchSpace`` (same range and scale)."""
    if p.kind == "categorical":
        return trial.suggest_categorical(p.name, list(p.choices))
    if p.kind == "int":
        return trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)
    return trial.suggest_float(p.name, p.low, p.high, log=p.log)


def optuna_search(
    space_: SearchSpace,
    make_trainer: Callable[[Config], Resumable],
    *,
    R: int,
    eta: int,
    budget: int,
    seed: int,
    pruned: bool,
) -> OptunaResult:
    """Optuna's TPESampler(seed) on ``space_`` at an epoch ``budget``: without ``pruned`` each trial
    trains R epochs (floor(budget / R) trials); with it, HyperbandPruner(min_resource=1,
    max_resource=R, reduction_factor=eta) sees the loss after every epoch and trials start until
    ``budget`` epochs are spent (the running trial is cut there, and told PRUNED). Every epoch
    trained counts. The study is named after the seed, because HyperbandPruner assigns a trial to a
    bracket by crc32 of the study's name and the trial number (an unnamed study gets a random name,
    and the run is then not reproducible). ImportError (with the install hint) without optuna."""
    optuna = import_optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = (
        optuna.pruners.HyperbandPruner(min_resource=1, max_resource=R, reduction_factor=eta)
        if pruned
        else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(  # named: HyperbandPruner picks a trial's bracket by crc32(name_number)
        study_name=f"optref-hpo-seed{seed}",
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=pruner,
    )
    step = 1 if pruned else R
    spent, trainings = 0, 0
    best: tuple[float, Config, int] = (math.inf, {}, 0)
    while spent + step <= budget:
        trial = study.ask()
        config: Config = {p.name: _suggest(trial, p) for p in space_.params}
        trainer = make_trainer(config)
        trainings += 1
        value, state = math.inf, optuna.trial.TrialState.COMPLETE
        for epoch in range(step, R + 1, step):
            trainer.advance(step)
            spent += step
            value = trainer.val_loss()
            if value < best[0]:
                best = (value, dict(config), trainer.epochs)
            if pruned:
                trial.report(value, epoch)
                if epoch < R and (spent >= budget or trial.should_prune()):
                    state = optuna.trial.TrialState.PRUNED
                    break
        if state == optuna.trial.TrialState.PRUNED:
            study.tell(trial, state=state)
        else:
            study.tell(trial, value)
    return OptunaResult(loss=best[0], config=best[1], at_epochs=best[2], epochs=spent, trainings=trainings)


def run_optuna(method: str, seed: int, R: int, eta: int, iterations: int) -> Row:
    """One search by Optuna (``tpe``: TPESampler; ``tpe+hb``: with HyperbandPruner) on the Peaks
    objective at the budget of ``iterations`` Hyperband runs."""
    t0 = time.perf_counter()
    res = optuna_search(
        SPACE,
        lambda c: Trainer(c, seed),
        R=R,
        eta=eta,
        budget=iterations * hyperband_budget(R, eta),
        seed=seed,
        pruned=method == "tpe+hb",
    )
    return Row(
        method=method,
        seed=seed,
        loss=res.loss,
        config=res.config,
        at_epochs=res.at_epochs,
        epochs=res.epochs,
        resumed=res.epochs,
        trainings=res.trainings,
        seconds=time.perf_counter() - t0,
    )


def run(method: str, seed: int, R: int, eta: int, iterations: int) -> Row:
    """One (method, seed) search."""
    fn: Callable[[str, int, int, int, int], Row] = run_optuna if method in OPTUNA_METHODS else run_ours
    return fn(method, seed, R, eta, iterations)


def _ms(vals: Sequence[float], digits: int) -> str:
    a = np.asarray([v for v in vals if math.isfinite(v)], dtype=float)
    if a.size == 0:
        return "inf"
    if a.size == 1:
        return f"{a[0]:.{digits}f}"
    return f"{a.mean():.{digits}f} ± {a.std(ddof=1):.{digits}f}"


def table(rows: Sequence[Row], budget: int, R: int) -> str:
    """One line per method: best validation loss (mean ± sd over seeds), epochs, resumed, wall time."""
    head = (
        f"{'method':<10} {'seeds':>5} {'best val loss':>16} {'epochs':>7} {'resumed':>8} "
        f"{'trainings':>9} {'wall s':>7}   best config (seed of least loss)"
    )
    lines = [head, "-" * len(head)]
    for m in METHODS:
        rs = [r for r in rows if r.method == m]
        if not rs:
            continue
        b = min(rs, key=lambda r: r.loss)
        cfg = f"lr={b.config['lr']:.3g} b={b.config['batch_size']} w={b.config['width']} @{b.at_epochs} ep (seed {b.seed})"
        lines.append(
            f"{m:<10} {len(rs):>5} {_ms([r.loss for r in rs], 4):>16} {np.mean([r.epochs for r in rs]):>7.0f} "
            f"{np.mean([r.resumed for r in rs]):>8.0f} {np.mean([r.trainings for r in rs]):>9.1f} "
            f"{np.mean([r.seconds for r in rs]):>7.1f}   {cfg}"
        )
    lines.append(
        f"budget {budget} epochs per search (R = {R} epochs per full training); wall s: mean per search"
    )
    return "\n".join(lines)


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="optref hpo",
        description="Search SGD's (lr, batch size, width) on Peaks: random search, Hyperband, BO, BOHB, "
        "and Optuna's TPE and TPE + HyperbandPruner at the same epoch budget (reference/experiments/hpo_peaks.py).",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: R = 3, two Hyperband iterations (24 epochs), one seed",
    )
    p.add_argument("--seeds", type=int, help=f"comparison seeds 0..N-1 (default {DEFAULTS['seeds']})")
    p.add_argument("--R", type=int, help=f"epochs of one full training, m eta^k (default {DEFAULTS['R']})")
    p.add_argument("--eta", type=int, help=f"halving rate (default {DEFAULTS['eta']})")
    p.add_argument(
        "--iterations", type=int, help=f"budget = this many Hyperband runs (default {DEFAULTS['iterations']})"
    )
    p.add_argument("--methods", help=f"comma-separated subset of {','.join(METHODS)}")
    p.add_argument("--no-progress", action="store_true", help="no line per search on stderr")
    return p.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """``optref hpo``: exit 0 after the table, 2 on bad arguments or a requested Optuna method
    without optuna, 1 if a search fails (one line on stderr)."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    base = QUICK if args.quick else DEFAULTS
    R = base["R"] if args.R is None else args.R
    eta = base["eta"] if args.eta is None else args.eta
    iterations = base["iterations"] if args.iterations is None else args.iterations
    seeds = base["seeds"] if args.seeds is None else args.seeds
    methods = list(METHODS) if args.methods is None else [m.strip() for m in args.methods.split(",")]
    bad = [m for m in methods if m not in METHODS]
    if bad:
        print(
            f"optref hpo: --methods must name some of {','.join(METHODS)}, got {','.join(bad)}",
            file=sys.stderr,
        )
        return 2
    if seeds < 1 or iterations < 1:
        print("optref hpo: --seeds and --iterations must be >= 1", file=sys.stderr)
        return 2
    try:
        budget = iterations * hyperband_budget(R, eta)
    except (ValueError, TypeError) as exc:
        print(f"optref hpo: --R/--eta: {exc}", file=sys.stderr)
        return 2
    if budget // R < SPACE.dim + 2:
        print(
            f"optref hpo: the budget {budget} epochs holds fewer than {SPACE.dim + 2} full trainings",
            file=sys.stderr,
        )
        return 2
    try:
        import_optuna()
    except ImportError:
        asked = [m for m in methods if m in OPTUNA_METHODS]
        if args.methods is not None and asked:
            print(f"optref hpo: {','.join(asked)} need optuna: {INSTALL_HINT}", file=sys.stderr)
            return 2
        methods = [m for m in methods if m not in OPTUNA_METHODS]
        print(f"optref hpo: optuna is not installed, its rows are skipped: {INSTALL_HINT}", file=sys.stderr)
    rows = []
    t0 = time.perf_counter()
    for seed in range(seeds):
        for m in methods:
            try:
                r = run(m, seed, R, eta, iterations)
            except (ValueError, RuntimeError, ImportError) as exc:  # e.g. every run diverged
                print(f"optref hpo: {m} seed {seed}: {exc}", file=sys.stderr)
                return 1
            rows.append(r)
            if not args.no_progress:
                c = r.config
                print(
                    f"hpo: {m:<9} seed {seed}: best {r.loss:.4f} (lr={c.get('lr', math.nan):.3g} "
                    f"b={c.get('batch_size')} w={c.get('width')} @{r.at_epochs} ep), {r.epochs} epochs, {r.seconds:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
    print(table(rows, budget, R))
    print(f"total wall time {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0
