"""Speed of the reference as ratios to torch (float64, CPU, one thread), measured in one process.

    python benchmarks/bench_first_order.py            # p = 1e6 and 1e7, Peaks widths 32 and 8192
    python benchmarks/bench_first_order.py --quick    # p = 1e5 and 1e6, Peaks widths 32 and 1024

1. Optimizer step time of ref adam, adamw, rmsprop, momentum against torch.optim's same optimizer
   with the same hyperparameters (torch's defaults; momentum = SGD(momentum=0.9), ref
   ``momentum(form="polyak", first_step="grad")``). One parameter vector of size p, a fixed
   gradient. The ref time includes ``Optimizer.step``'s shape and finiteness check of the gradient.
2. Value and gradient of the Peaks loss (seed 000's 2-w-5 ReLU MLP, softmax cross-entropy, 800
   training points): ``autograd.value_and_grad(problem.loss)`` against torch autograd of the same
   network (forward, ``cross_entropy``, ``backward``), after checking both give the same numbers.

Repetitions alternate ref and torch (ref, torch, ref, torch, ...) so that load from other
processes hits both alike; each figure is the median over repetitions of the mean time per call
within a repetition. The ratio is ref / torch (> 1: the reference is slower). Algorithms not yet
in ``reference.ALGORITHMS`` are skipped with a message.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from typing import Any, Callable  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from autograd import value_and_grad  # noqa: E402

import reference as ref  # noqa: E402
from reference import problems  # noqa: E402

torch.set_num_threads(1)

# name -> (ref hyperparameters, torch optimizer factory)
OPTIMIZERS: dict[str, tuple[dict[str, Any], Callable[[list[torch.Tensor]], torch.optim.Optimizer]]] = {
    "adam": (dict(lr=1e-3), lambda ps: torch.optim.Adam(ps, lr=1e-3)),
    "adamw": (dict(lr=1e-3, weight_decay=1e-2), lambda ps: torch.optim.AdamW(ps, lr=1e-3, weight_decay=1e-2)),
    "rmsprop": (dict(lr=1e-2), lambda ps: torch.optim.RMSprop(ps, lr=1e-2)),
    "momentum": (
        dict(lr=1e-2, beta=0.9, form="polyak", first_step="grad"),
        lambda ps: torch.optim.SGD(ps, lr=1e-2, momentum=0.9),
    ),
}


def _interleaved(fa: Callable[[], None], fb: Callable[[], None], reps: int, inner: int) -> tuple[float, float]:
    """Median over ``reps`` of the mean time of ``inner`` calls, a and b alternating."""
    ta: list[float] = []
    tb: list[float] = []
    fa()
    fb()  # warm up (allocation, first-step branches)
    for _ in range(reps):
        for f, out in ((fa, ta), (fb, tb)):
            t0 = time.perf_counter()
            for _ in range(inner):
                f()
            out.append((time.perf_counter() - t0) / inner)
    return statistics.median(ta), statistics.median(tb)


def bench_optimizer(name: str, p: int, reps: int, inner: int) -> tuple[float, float]:
    kwargs, make_torch = OPTIMIZERS[name]
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(p)
    g = rng.standard_normal(p)

    opt = ref.make(name, **kwargs)
    box = {"state": opt.init(x0)}

    def ref_step() -> None:
        box["state"] = opt.step(box["state"], g)

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
    err = float(np.max(np.abs(s1.params - w1.detach().numpy())))
    if err > 1e-12:
        raise RuntimeError(f"{name}: ref and torch disagree after one step (max abs diff {err:.3g})")
    return _interleaved(ref_step, torch_step, reps, inner)


def bench_peaks(width: int, reps: int, inner: int) -> tuple[float, float]:
    prob = problems.peaks(width=width)
    theta = prob.init_params(np.random.default_rng(0))
    vg = value_and_grad(prob.loss)

    W1, b1, W2, b2 = (torch.tensor(np.array(a), dtype=torch.float64, requires_grad=True) for a in prob.unflatten(theta))
    X = torch.tensor(prob.X, dtype=torch.float64)
    y = torch.tensor(prob.y, dtype=torch.long)

    def torch_vg() -> tuple[torch.Tensor, list[torch.Tensor]]:
        for t in (W1, b1, W2, b2):
            t.grad = None
        logits = torch.relu(X @ W1.T + b1) @ W2.T + b2
        loss = torch.nn.functional.cross_entropy(logits, y)
        loss.backward()
        return loss, [t.grad for t in (W1, b1, W2, b2)]  # type: ignore[misc]

    v_ref, g_ref = vg(theta)
    v_t, g_t = torch_vg()
    g_torch = np.concatenate([t.numpy().ravel() for t in g_t])
    if abs(v_ref - float(v_t.detach())) > 1e-12 or np.max(np.abs(g_ref - g_torch)) > 1e-12:
        raise RuntimeError(f"peaks width {width}: ref and torch loss/gradient disagree")
    return _interleaved(lambda: vg(theta) and None, lambda: torch_vg() and None, reps, inner)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    ap.add_argument("--reps", type=int, default=9, help="interleaved repetitions (median)")
    args = ap.parse_args()
    sizes = (10**5, 10**6) if args.quick else (10**6, 10**7)
    widths = (32, 1024) if args.quick else (32, 8192)

    print(f"numpy {np.__version__}, torch {torch.__version__}, threads: torch {torch.get_num_threads()}, "
          f"OMP/MKL/OPENBLAS=1; float64, CPU; median of {args.reps} interleaved repetitions")  # fmt: skip
    rows: list[tuple[str, str, float, float]] = []
    for name in OPTIMIZERS:
        if name not in ref.ALGORITHMS:
            print(f"skip {name}: not registered in reference.ALGORITHMS yet")
            continue
        for p in sizes:
            inner = max(1, int(3e7 // (p * 10)))  # ~ a few tens of ms per repetition
            tr, tt = bench_optimizer(name, p, args.reps, inner)
            rows.append((f"{name} step", f"p = {p:.0e}", tr, tt))
            print(f"  {name:9s} p={p:.0e}: ref {tr * 1e3:8.3f} ms  torch {tt * 1e3:8.3f} ms  ratio {tr / tt:5.2f}", flush=True)
    for w in widths:
        prob_p = 8 * w + 5
        inner = 50 if w <= 64 else 3
        tr, tt = bench_peaks(w, args.reps, inner)
        rows.append(("peaks value+grad", f"w = {w} (p = {prob_p})", tr, tt))
        print(f"  peaks w={w}: ref {tr * 1e3:8.3f} ms  torch {tt * 1e3:8.3f} ms  ratio {tr / tt:5.2f}", flush=True)

    print()
    print(f"| {'what':18s} | {'size':20s} | {'ref (ms)':>10s} | {'torch (ms)':>10s} | {'ref/torch':>9s} |")
    print(f"|{'-' * 20}|{'-' * 22}|{'-' * 12}|{'-' * 12}|{'-' * 11}|")
    for what, size, tr, tt in rows:
        print(f"| {what:18s} | {size:20s} | {tr * 1e3:10.3f} | {tt * 1e3:10.3f} | {tr / tt:9.2f} |")


if __name__ == "__main__":
    main()
