"""Speed of the reference's first-order steps beside torch.optim and optax, and the bandwidth floor.

    python benchmarks/bench_first_order.py                 # p = 1e3 ... 1e7, Peaks widths 32 and 8192
    python benchmarks/bench_first_order.py --quick         # p = 1e3 ... 1e6, Peaks 32 and 1024 (< ~60 s)
    python benchmarks/bench_first_order.py --png speed.png --sizes 1e6,1e7 --algos adam,sgd --no-peaks
    python benchmarks/bench_first_order.py --sizes 1e6,1e7 --clock cpu --json out.json   # for bench_before_after.py

1. Optimizer step time of ref sgd, momentum, nesterov, rmsprop, adam, adamw against, measured in
   the same process with repetitions interleaved (ref, torch, optax, optax donated, ref, ...):
     * torch.optim's same optimizer with the same hyperparameters (torch's defaults; momentum is
       SGD(momentum=0.9) and ref ``momentum(form="polyak", first_step="grad")``, nesterov is
       SGD(momentum=0.9, nesterov=True) and ref ``nesterov(form="torch")``), in place;
     * optax's same transformation, ``jax.jit`` of ``update`` + ``apply_updates`` (pure: new
       buffers each step), and the same jitted with ``donate_argnums`` for params and state (XLA
       may write the new state into the old one's memory);
   one parameter vector of size p, a fixed gradient, float64 (``jax_enable_x64``), one thread.
   The ref time includes ``Optimizer.step``'s shape and finiteness check of the gradient. Before
   timing, one step of each peer from the same start is checked against the reference.
   "ref donated" is the same step with ``opt.step(state, grad, donate=True)`` (the opt-in buffer
   donation of reference/_core.py: the new state is written into the old one's memory, the old
   state is consumed; same bits), timed where the tree imported supports it.
2. The bandwidth floor of each step: the bytes it must move (every state vector read and written
   once, the gradient read once: ``FLOOR_VECTORS`` x 8 p bytes) divided by the memory bandwidth
   measured here (an in-place ``np.add`` on 10^7 float64: 3 x 8e7 bytes).
   No implementation of the step can be faster than the floor; fresh (untouched) output pages
   cost more than the copy measured here, which is what in-place torch and donated optax avoid.
   The floor is a main-memory floor: it binds at p = 10^7 (80 MB per vector). At p <= 10^6 the
   vectors (<= 8 MB each) fit in a 32 MB L3 cache, so a step can beat it (ratio < 1), and at
   p <= 10^4 per-call overhead dominates: there the floor column is only a scale.
   ``--keep-freed-memory`` opts in to ``keep_freed_memory()`` (reference/first_order/_fused.py):
   the reference's new arrays reuse the pages the previous state freed (steps stay pure).
3. Value and gradient of the Peaks loss (2-w-5 ReLU MLP, softmax cross-entropy, 800 points):
   ``autograd.value_and_grad(problem.loss)`` against torch autograd of the same network.

Each figure is the median over repetitions of the mean time per call within a repetition; the
spread printed is (max - min) / median over repetitions. ``--clock cpu`` times with the process's
CPU time instead of the wall clock (on a machine shared with other jobs, CPU time is not inflated
by waiting for a core; page faults count, as system time). The header prints the load average.
``--json FILE`` writes every repetition's times, the bandwidth and the load averages
(``benchmarks/bench_before_after.py`` reads it). Ratios are ref / peer (> 1: the
reference is slower). ``--png FILE`` draws time per step against p for every implementation and
the floor (not written by default).
"""

from __future__ import annotations

import os

from _bench import one_thread  # benchmarks/_bench.py

one_thread()
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
).strip()

import argparse  # noqa: E402
import inspect  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any

import numpy as np  # noqa: E402
import torch  # noqa: E402
from autograd import value_and_grad  # noqa: E402

import reference as ref  # noqa: E402
from reference import problems  # noqa: E402

torch.set_num_threads(1)

try:
    import jax  # noqa: E402
    import optax  # noqa: E402

    jax.config.update("jax_enable_x64", True)  # type: ignore[no-untyped-call]
except ImportError:  # pragma: no cover - the peers extra is optional
    jax = optax = None  # type: ignore[assignment]

# name -> (ref hyperparameters, torch optimizer factory, optax transformation factory)
OPTIMIZERS: dict[
    str, tuple[dict[str, Any], Callable[[list[torch.Tensor]], torch.optim.Optimizer], Callable[[], Any]]
] = {
    "sgd": (dict(lr=1e-2), lambda ps: torch.optim.SGD(ps, lr=1e-2), lambda: optax.sgd(1e-2)),
    "momentum": (
        dict(lr=1e-2, beta=0.9, form="polyak", first_step="grad"),
        lambda ps: torch.optim.SGD(ps, lr=1e-2, momentum=0.9),
        lambda: optax.sgd(1e-2, momentum=0.9),  # trace v = g + beta v from v_0 = 0: v_1 = g_1
    ),
    "rmsprop": (
        dict(lr=1e-2),
        lambda ps: torch.optim.RMSprop(ps, lr=1e-2),
        lambda: optax.rmsprop(1e-2, decay=0.99, eps=1e-8, eps_in_sqrt=False),
    ),
    "nesterov": (
        dict(lr=1e-2, beta=0.9, form="torch"),
        lambda ps: torch.optim.SGD(ps, lr=1e-2, momentum=0.9, nesterov=True),
        lambda: optax.sgd(1e-2, momentum=0.9, nesterov=True),
    ),
    "adam": (dict(lr=1e-3), lambda ps: torch.optim.Adam(ps, lr=1e-3), lambda: optax.adam(1e-3)),
    "adamw": (
        dict(lr=1e-3, weight_decay=1e-2),
        lambda ps: torch.optim.AdamW(ps, lr=1e-3, weight_decay=1e-2),
        lambda: optax.adamw(1e-3, weight_decay=1e-2),
    ),
}

#: vectors of size p a step must read or write at least once: params and buffers read and written,
#: the gradient read (sgd 2 + 1; momentum, nesterov and rmsprop 4 + 1; adam and adamw 6 + 1).
FLOOR_VECTORS = {"sgd": 3, "momentum": 5, "nesterov": 5, "rmsprop": 5, "adam": 7, "adamw": 7}

IMPLS = ("ref", "ref donated", "torch", "optax jit", "optax donated")


#: the clock of every timing: ``time.perf_counter`` (wall) or ``time.process_time`` (CPU, --clock cpu)
CLOCK: Callable[[], float] = time.perf_counter


def copy_bandwidth(n: int = 10**7, reps: int = 7) -> float:
    """Bytes per second of an in-place ``np.add(a, b, out=a)`` on n float64 (read 2n, write n), median.

    An in-place add is the traffic pattern of an in-place optimizer step (every byte counted once;
    a copy into a separate buffer also reads the destination before writing it, so counting 2 x 8n
    for ``np.copyto`` understates the bandwidth by about a third).
    """
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(n), rng.standard_normal(n) * 1e-300  # a stays finite and unchanged in size
    times = []
    for _ in range(reps):
        t0 = CLOCK()
        np.add(a, b, out=a)
        times.append(CLOCK() - t0)
    return 3 * 8 * n / statistics.median(times)


def _interleaved(fns: list[Callable[[], None]], reps: int, inner: int) -> list[list[float]]:
    """Per function, ``reps`` mean times of ``inner`` calls, the functions alternating."""
    out: list[list[float]] = [[] for _ in fns]
    for f in fns:
        f()  # warm up (allocation, compilation, first-step branches)
    for _ in range(reps):
        for f, times in zip(fns, out):
            t0 = CLOCK()
            for _ in range(inner):
                f()
            times.append((CLOCK() - t0) / inner)
    return out


def _optax_steppers(
    make: Callable[[], Any], x0: np.ndarray, g: np.ndarray
) -> tuple[Callable[[], None], Callable[[], None], np.ndarray]:
    """optax jit and jit-with-donation steppers, and the params after one jitted step from x0."""
    tx = make()

    def update(params: Any, state: Any, grad: Any) -> tuple[Any, Any]:
        u, state = tx.update(grad, state, params)
        return optax.apply_updates(params, u), state

    jit = jax.jit(update)
    donated = jax.jit(update, donate_argnums=(0, 1))
    gj = jax.device_put(g)
    one = np.asarray(jit(jax.device_put(x0), tx.init(jax.device_put(x0)), gj)[0])
    boxes = []
    for fn in (jit, donated):
        p0 = jax.device_put(x0.copy())
        box = {"p": p0, "s": tx.init(p0)}

        def stepper(fn: Any = fn, box: dict[str, Any] = box) -> None:
            box["p"], box["s"] = fn(box["p"], box["s"], gj)
            box["p"].block_until_ready()

        boxes.append(stepper)
    return boxes[0], boxes[1], one


def bench_optimizer(
    name: str, p: int, reps: int, inner: int, with_optax: bool = True
) -> dict[str, list[float]]:
    """Times per repetition of each implementation in ``IMPLS`` (optax's absent without jax)."""
    kwargs, make_torch, make_optax = OPTIMIZERS[name]
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(p)
    g = rng.standard_normal(p)

    opt = ref.make(name, **kwargs)
    box = {"state": opt.init(x0)}

    def ref_step() -> None:
        box["state"] = opt.step(box["state"], g)

    dbox = {"state": opt.init(x0)}

    def ref_donated() -> None:
        dbox["state"] = opt.step(dbox["state"], g, donate=True)

    w = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    w.grad = torch.tensor(g, dtype=torch.float64)
    topt = make_torch([w])

    def torch_step() -> None:
        topt.step()

    # one step from the same start agrees (the benchmark times the same computation)
    s1 = opt.step(opt.init(x0), g)
    w1 = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    w1.grad = torch.tensor(g, dtype=torch.float64)
    make_torch([w1]).step()
    peers = {"torch": w1.detach().numpy()}
    impls = ["ref", "torch"]
    fns = [ref_step, torch_step]
    if "donate" in inspect.signature(opt.step).parameters:  # the tree imported supports it
        s1d = opt.step(opt.init(x0), g, donate=True)
        if not np.array_equal(s1d.params, s1.params):
            raise RuntimeError(f"{name}: the donated step differs from the pure step")
        impls.insert(1, "ref donated")
        fns.insert(1, ref_donated)
    if optax is not None and with_optax:
        jit_step, donated_step, peers["optax"] = _optax_steppers(make_optax, x0, g)
        fns += [jit_step, donated_step]
        impls += ["optax jit", "optax donated"]
    for peer, after in peers.items():
        err = float(np.max(np.abs(s1.params - after)))
        if err > 1e-12:
            raise RuntimeError(f"{name}: ref and {peer} disagree after one step (max abs diff {err:.3g})")
    return dict(zip(impls, _interleaved(fns, reps, inner)))


def bench_peaks(width: int, reps: int, inner: int) -> tuple[list[float], list[float]]:
    prob = problems.peaks(width=width)
    theta = prob.init_params(np.random.default_rng(0))
    vg = value_and_grad(prob.loss)

    W1, b1, W2, b2 = (
        torch.tensor(np.array(a), dtype=torch.float64, requires_grad=True) for a in prob.unflatten(theta)
    )
    X = torch.tensor(prob.X, dtype=torch.float64)
    y = torch.tensor(prob.y, dtype=torch.long)

    def torch_vg() -> tuple[torch.Tensor, list[torch.Tensor]]:
        for t in (W1, b1, W2, b2):
            t.grad = None
        logits = torch.relu(X @ W1.T + b1) @ W2.T + b2
        loss = torch.nn.functional.cross_entropy(logits, y)
        loss.backward()  # type: ignore[no-untyped-call]
        return loss, [t.grad for t in (W1, b1, W2, b2)]  # type: ignore[misc]

    v_ref, g_ref = vg(theta)
    v_t, g_t = torch_vg()
    g_torch = np.concatenate([t.numpy().ravel() for t in g_t])
    if abs(v_ref - float(v_t.detach())) > 1e-12 or np.max(np.abs(g_ref - g_torch)) > 1e-12:
        raise RuntimeError(f"peaks width {width}: ref and torch loss/gradient disagree")
    ta, tb = _interleaved([lambda: vg(theta) and None, lambda: torch_vg() and None], reps, inner)
    return ta, tb


def _spread(times: list[float]) -> float:
    return (max(times) - min(times)) / statistics.median(times)


def plot(path: str, results: dict[tuple[str, int], dict[str, list[float]]], bandwidth: float) -> None:
    """Time per step against p, one panel per algorithm: every implementation and the floor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(n for n, _ in results))
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.4), squeeze=False, sharey=True)
    for ax, name in zip(axes[0], names):
        sizes = sorted(p for n, p in results if n == name)
        for impl in IMPLS:
            if impl in results[(name, sizes[0])]:
                ys = [statistics.median(results[(name, p)][impl]) for p in sizes]
                ax.loglog(sizes, ys, marker="o", label=impl)
        ax.loglog(
            sizes, [FLOOR_VECTORS[name] * 8 * p / bandwidth for p in sizes], "k--", label="bandwidth floor"
        )
        ax.set_title(name)
        ax.set_xlabel("p")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("seconds per step")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=120)
        print(f"wrote {path}")
    except OSError as e:
        print(f"warning: could not write {path}: {e}", file=sys.stderr)


def _sizes(text: str) -> tuple[int, ...]:
    try:
        out = tuple(int(float(s)) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be numbers separated by commas, got {text!r}") from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be >= 1, got {text!r}")
    return out


def _algos(text: str) -> tuple[str, ...]:
    out = tuple(text.split(","))
    bad = [a for a in out if a not in OPTIMIZERS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown algorithm {bad[0]!r}; choose from {', '.join(OPTIMIZERS)}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="p = 1e3 ... 1e6, 5 repetitions (a smoke run)")
    ap.add_argument(
        "--reps", type=int, default=None, help="interleaved repetitions (median); default 9, 5 with --quick"
    )
    ap.add_argument("--sizes", type=_sizes, default=None, help="comma-separated p, e.g. 1e3,1e6,1e7")
    ap.add_argument("--algos", type=_algos, default=tuple(OPTIMIZERS), help="comma-separated, e.g. adam,sgd")
    ap.add_argument("--no-peaks", action="store_true", help="skip the Peaks value+grad rows")
    ap.add_argument("--no-optax", action="store_true", help="time the reference against torch only")
    ap.add_argument("--png", default=None, help="write time per step against p to this file (default: none)")
    ap.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall clock (default) or the process's CPU time",
    )
    ap.add_argument("--json", default=None, help="write every repetition's times and the loads to this file")
    ap.add_argument(
        "--keep-freed-memory",
        action="store_true",
        help="opt in to reference.first_order._fused.keep_freed_memory() (glibc malloc reuses "
        "freed large blocks: no fresh pages per step; the process keeps its peak memory)",
    )
    args = ap.parse_args()
    if args.keep_freed_memory:
        from reference.first_order._fused import keep_freed_memory

        print(f"keep_freed_memory(): {'on' if keep_freed_memory() else 'unavailable (no glibc)'}")
    reps = args.reps or (5 if args.quick else 9)
    sizes = args.sizes or (
        (10**3, 10**4, 10**5, 10**6) if args.quick else (10**3, 10**4, 10**5, 10**6, 10**7)
    )
    widths = () if args.no_peaks else ((32, 1024) if args.quick else (32, 8192))

    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    load_start = os.getloadavg()
    bw = copy_bandwidth()
    print(
        f"numpy {np.__version__}, torch {torch.__version__}, "
        f"{'optax ' + optax.__version__ + ', jax ' + jax.__version__ if optax else 'no optax'}; "
        f"one thread; float64, CPU; median of {reps} interleaved repetitions ({args.clock} clock); "
        f"memory bandwidth (in-place add) {bw / 1e9:.2f} GB/s; load average {load_start[0]:.2f} "
        f"(reference from {os.path.dirname(os.path.dirname(ref.__file__))})"
    )
    results: dict[tuple[str, int], dict[str, list[float]]] = {}
    for name in args.algos:
        if name not in ref.ALGORITHMS:
            print(f"skip {name}: not registered in reference.ALGORITHMS yet")
            continue
        for p in sizes:
            inner = max(1, int(3e6 // (p * 3) if p < 10**4 else 3e7 // (p * 10)))
            results[(name, p)] = times = bench_optimizer(name, p, reps, inner, not args.no_optax)
            med = {k: statistics.median(v) for k, v in times.items()}
            floor = FLOOR_VECTORS[name] * 8 * p / bw
            extra = "".join(
                f"  {k} {med[k] * 1e3:8.3f} ms" for k in IMPLS if k not in ("ref", "torch") and k in med
            )
            print(
                f"  {name:8s} p={p:.0e}: ref {med['ref'] * 1e3:8.3f} ms (spread {_spread(times['ref']):.0%})  "
                f"torch {med['torch'] * 1e3:8.3f} ms (spread {_spread(times['torch']):.0%}){extra}  "
                f"floor {floor * 1e3:8.3f} ms  ref/torch {med['ref'] / med['torch']:5.2f}",
                flush=True,
            )

    print()
    head = [
        "what",
        "p",
        "ref ms",
        "ref donated ms",
        "torch ms",
        "optax ms",
        "optax donated ms",
        "floor ms",
        "ref/torch",
        "ref donated/torch",
        "ref/optax",
        "ref/floor",
        "torch/floor",
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for (name, p), times in results.items():
        med = {k: statistics.median(v) for k, v in times.items()}
        floor = FLOOR_VECTORS[name] * 8 * p / bw
        ox, dn = med.get("optax jit", float("nan")), med.get("optax donated", float("nan"))
        rd = med.get("ref donated", float("nan"))
        cells = [
            f"{name} step",
            f"{p:.0e}",
            f"{med['ref'] * 1e3:.4g}",
            f"{rd * 1e3:.4g}",
            f"{med['torch'] * 1e3:.4g}",
            f"{ox * 1e3:.4g}",
            f"{dn * 1e3:.4g}",
            f"{floor * 1e3:.4g}",
            f"{med['ref'] / med['torch']:.2f}",
            f"{rd / med['torch']:.2f}",
            f"{med['ref'] / ox:.2f}",
            f"{med['ref'] / floor:.2f}",
            f"{med['torch'] / floor:.2f}",
        ]
        print("| " + " | ".join(cells) + " |")
    for w in widths:
        inner = 50 if w <= 64 else 3
        ta, tb = bench_peaks(w, reps, inner)
        tr, tt = statistics.median(ta), statistics.median(tb)
        print(
            f"| peaks value+grad | w = {w} (p = {8 * w + 5}) | {tr * 1e3:.4g} | | {tt * 1e3:.4g} | | | | {tr / tt:.2f} | | | | |"
        )
    if args.png:
        plot(args.png, results, bw)
    if args.json:
        _write_json(args.json, results, bw, args.clock, load_start)


def _write_json(
    path: str,
    results: dict[tuple[str, int], dict[str, list[float]]],
    bandwidth: float,
    clock: str,
    load_start: tuple[float, float, float],
) -> None:
    """Every repetition's times per (algorithm, p, implementation), the bandwidth and the loads."""
    import json

    doc = {
        "reference": os.path.dirname(os.path.dirname(ref.__file__)),
        "clock": clock,
        "bandwidth": bandwidth,
        "load_start": load_start,
        "load_end": os.getloadavg(),
        "rows": [{"algo": n, "p": p, "times": t} for (n, p), t in results.items()],
    }
    try:
        with open(path, "w") as f:
            json.dump(doc, f)
    except OSError as e:
        print(f"warning: could not write {path}: {e}", file=sys.stderr)


if __name__ == "__main__":
    main()
