"""``optref conform`` and ``optref vectors`` (dispatched from reference/cli.py).

    optref conform torch.optim.Adam --hp lr=1e-3,amsgrad=true
    optref conform optax.lion --hp learning_rate=1e-4
    optref conform --impl mymodule:my_adam_step --algo adam --hp lr=1e-3
    optref vectors export DIR
    optref vectors check DIR --impl mymodule:my_adam_step [--algo adam]

``conform`` prints a table (one row per mode and stream), the diagnosis on a mismatch, writes a
PNG of the deviation per step, and exits 0 if the peer conforms, 1 on a mismatch, 2 on a usage
error or a configuration the reference cannot express. ``--impl`` functions follow the calling
convention of ``FunctionPeer`` (specs/conformance.md, "Your own function").
"""

from __future__ import annotations

import argparse
import ast
import importlib
import os
import sys
from typing import Any, Callable, Sequence

from .core import MODES, ConformanceReport, FunctionPeer, NotComparable, Peer, conform
from .streams import STREAMS

EXIT_OK, EXIT_MISMATCH, EXIT_USAGE = 0, 1, 2

#: learning_rate used when an optax optimizer that requires one is named without it: the
#: reference factory's default for the equivalent algorithm (1e-3 where that has none).
OPTAX_DEFAULT_LR = {"lion": 1e-4, "adagrad": 1e-2, "rmsprop": 1e-2, "sgd": 1e-2, "sign_sgd": 1e-2, "signum": 1e-2}


def parse_hp(text: str | None) -> dict[str, Any]:
    """``"lr=1e-3,amsgrad=true,betas=(0.9,0.99)"`` -> dict; values are Python literals or
    true/false/none; anything else stays a string. Commas inside brackets do not split."""
    if not text:
        return {}
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    out: dict[str, Any] = {}
    for part in parts:
        if not part.strip():
            continue
        if "=" not in part:
            raise ValueError(f"--hp: expected key=value, got {part.strip()!r}")
        key, raw = (s.strip() for s in part.split("=", 1))
        if not key.isidentifier():
            raise ValueError(f"--hp: {key!r} is not a valid keyword name")
        low = raw.lower()
        if low in ("true", "false"):
            out[key] = low == "true"
        elif low in ("none", "null"):
            out[key] = None
        else:
            try:
                out[key] = ast.literal_eval(raw)
            except (ValueError, SyntaxError):
                out[key] = raw
    return out


def parse_shapes(text: str) -> list[tuple[int, ...]]:
    """``"3x4,5"`` -> [(3, 4), (5,)]."""
    shapes = []
    for part in text.split(","):
        try:
            shape = tuple(int(d) for d in part.strip().lower().split("x"))
        except ValueError:
            raise ValueError(f"--shapes: {part!r} is not a shape like 3x4") from None
        if not shape or any(d < 1 for d in shape):
            raise ValueError(f"--shapes: {part!r} must have positive dimensions")
        shapes.append(shape)
    return shapes


def load_function(spec: str) -> Callable[..., Any]:
    """``"module:function"`` -> the function (the current directory is importable, as with python -m)."""
    if ":" not in spec:
        raise ValueError(f"--impl must be module:function, got {spec!r}")
    mod_name, _, attr = spec.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise ValueError(f"--impl: cannot import module {mod_name!r}: {e}") from None
    obj: Any = mod
    for name in attr.split("."):
        if not hasattr(obj, name):
            raise ValueError(f"--impl: module {mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, name)
    if not callable(obj):
        raise ValueError(f"--impl: {spec} is not callable")
    fn: Callable[..., Any] = obj
    return fn


def _problem(name: str, dim: int, seed: int) -> Any:
    if name == "least_squares":
        return None  # conform's default
    if name == "peaks":
        from ..problems import peaks

        prob = peaks(seed=seed)
        if prob.dim != dim:
            raise ValueError(f"--problem peaks has {prob.dim} parameters but the peer has {dim}; use --shapes 32x2,32,5x32,5")
        return prob
    raise ValueError(f"--problem must be least_squares or peaks, got {name!r}")


def build_peer(target: str | None, impl: str | None, algo: str | None, hp: dict[str, Any],
               shapes: list[tuple[int, ...]], dtype: str) -> Peer:  # fmt: skip
    """The peer named on the command line (torch.optim.X, optax.x, or --impl with --algo)."""
    if impl is not None:
        if target is not None:
            raise ValueError("give either a peer (torch.optim.Adam, optax.adam) or --impl, not both")
        if algo is None:
            raise ValueError("--impl needs --algo (the reference algorithm it implements)")
        return FunctionPeer(load_function(impl), algo, **hp)
    if target is None:
        raise ValueError("name a peer (e.g. torch.optim.Adam or optax.adamw) or pass --impl module:function --algo NAME")
    if target.startswith("torch."):
        from .torch_adapter import torch_peer

        return torch_peer(target, shapes, dtype=dtype, **hp)
    if target.startswith("optax."):
        from .optax_adapter import optax_peer, required_learning_rate

        short = target.split(".")[-1]
        if "learning_rate" not in hp and required_learning_rate(short):
            hp = {**hp, "learning_rate": OPTAX_DEFAULT_LR.get(short, 1e-3)}
            print(f"optref conform: optax.{short} requires learning_rate; using {hp['learning_rate']!r} "
                  "(the reference's default; pass --hp learning_rate=...)", file=sys.stderr)  # fmt: skip
        return optax_peer(target, shapes, dtype=dtype, **hp)
    raise ValueError(f"unknown peer {target!r}: expected torch.optim.NAME or optax.NAME")


def plot_report(report: ConformanceReport, path: str) -> None:
    """Deviation per step in units of eps_peer * S_t, one panel per mode, with the tolerance line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    modes = [m for m in MODES if any(c.mode == m for c in report.comparisons)]
    fig, axes = plt.subplots(1, len(modes), figsize=(6 * len(modes), 4), squeeze=False)
    floor = 1e-2
    for ax, mode in zip(axes[0], modes):
        for c in (c for c in report.comparisons if c.mode == mode):
            t = np.arange(1, c.n + 1)
            ulps = np.where(np.isfinite(c.rel_dev), c.rel_dev / c.tolerance.eps, np.nan)
            ax.semilogy(t, np.maximum(ulps, floor), marker=".", ms=3, label=f"{c.stream}{'' if c.passed else ' (x)'}")
        c0 = next(c for c in report.comparisons if c.mode == mode)
        t = np.arange(1, c0.n + 1)
        ax.semilogy(t, c0.tolerance.per_step * t, "k--", lw=1.5, label="tolerance C t")
        ax.set_xlabel("step t")
        ax.set_ylabel(f"max|dev| / (eps({c0.tolerance.dtype}) S_t)   [floor {floor}]")
        ax.set_title(f"{mode} loop")
        ax.legend(fontsize=7)
    fig.suptitle(f"{report.peer_name}\nvs {report.spec.describe()}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def conform_main(argv: Sequence[str]) -> int:
    """Compare an optimizer implementation with the reference on every gradient stream."""
    p = argparse.ArgumentParser(
        prog="optref conform",
        description="Compare an optimizer (torch.optim.NAME, optax.NAME or your own function) with the reference.",
        epilog="Exit status: 0 conforms, 1 mismatch, 2 usage error or no reference equivalent.",
    )
    p.add_argument("peer", nargs="?", help="torch.optim.NAME or optax.NAME")
    p.add_argument("--hp", help="hyperparameters, e.g. lr=1e-3,amsgrad=true (the peer's own keyword names)")
    p.add_argument("--impl", help="your own step function as module:function (see specs/conformance.md)")
    p.add_argument("--algo", help="the reference algorithm --impl implements (e.g. adam)")
    p.add_argument("--streams", default="all", help=f"comma list of {', '.join(STREAMS)} (default all)")
    p.add_argument("--mode", default="both", choices=["open", "closed", "both"])
    p.add_argument("--steps", type=int, default=40, help="steps per run (default 40)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shapes", default="3x4,5", help="parameter shapes, e.g. 3x4,5 (a model's parameter list)")
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"], help="the peer's precision")
    p.add_argument("--problem", default="least_squares", choices=["least_squares", "peaks"], help="closed-loop objective")
    p.add_argument("--plot", default="optref-conform.png", help="PNG of the deviation per step ('' to skip)")
    p.add_argument("--no-diagnose", action="store_true", help="skip the variant search on a mismatch")
    args = p.parse_args(list(argv))
    try:
        hp = parse_hp(args.hp)
        shapes = parse_shapes(args.shapes)
        if args.problem == "peaks" and args.shapes == "3x4,5":
            shapes = [(32, 2), (32,), (5, 32), (5,)]
        streams = list(STREAMS) if args.streams == "all" else [s.strip() for s in args.streams.split(",")]
        modes = list(MODES) if args.mode == "both" else [args.mode]
        peer = build_peer(args.peer, args.impl, args.algo, hp, shapes, args.dtype)
        dim = peer.dim if peer.dim is not None else sum(int(__import__("math").prod(s)) for s in shapes)
        problem = _problem(args.problem, dim, args.seed)
        report = conform(peer, streams=streams, modes=modes, n_steps=args.steps, seed=args.seed,
                         dim=dim, problem=problem, diagnose=not args.no_diagnose)  # fmt: skip
    except (ValueError, TypeError, ImportError) as e:
        kind = "no reference equivalent" if isinstance(e, NotComparable) else "error"
        print(f"optref conform: {kind}: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(report.table())
    if args.plot:
        plot_report(report, args.plot)
        print(f"plot: {args.plot}")
    return EXIT_OK if report.passed else EXIT_MISMATCH


def vectors_main(argv: Sequence[str]) -> int:
    """Export the golden-vector corpus, or check an implementation against it."""
    from .vectors import VectorFormatError, check_vectors, export_vectors, load_vectors

    p = argparse.ArgumentParser(prog="optref vectors", description=vectors_main.__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="write index.json and one JSON file per algorithm (specs/vectors.md)")
    e.add_argument("directory")
    e.add_argument("--algorithms", help="comma list (default: every gradient-stream algorithm)")
    e.add_argument("--steps", type=int, default=16)
    e.add_argument("--dim", type=int, default=4)
    e.add_argument("--seed", type=int, default=0)
    c = sub.add_parser("check", help="verify an implementation against a corpus")
    c.add_argument("directory")
    c.add_argument("--impl", required=True, help="module:function (FunctionPeer convention), or 'reference'")
    c.add_argument("--algo", help="only this algorithm's cases (default: inferred from the function name)")
    args = p.parse_args(list(argv))
    try:
        if args.command == "export":
            if args.steps < 1 or args.dim < 1:
                raise ValueError("--steps and --dim must be >= 1")
            algos = None if not args.algorithms else [a.strip() for a in args.algorithms.split(",")]
            counts = export_vectors(args.directory, algorithms=algos, seed=args.seed, n_steps=args.steps, dim=args.dim)
            for a, n in counts.items():
                print(f"{a:<10} {n:>4} cases")
            print(f"wrote {sum(counts.values())} cases to {args.directory}")
            return EXIT_OK
        corpus = load_vectors(args.directory)
        if args.impl == "reference":
            fn, algo = None, args.algo
        else:
            fn = load_function(args.impl)
            algo = args.algo or _infer_algorithm(fn, corpus.algorithms())
        report = check_vectors(corpus, fn, algorithm=algo)
    except VectorFormatError as err:
        print(f"optref vectors: malformed corpus: {err}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, TypeError, OSError) as err:
        print(f"optref vectors: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    print(report.summary())
    return EXIT_OK if report.passed else EXIT_MISMATCH


def _infer_algorithm(fn: Callable[..., Any], available: list[str]) -> str:
    name = getattr(fn, "__name__", "").lower()
    hits = sorted((a for a in available if a in name), key=len, reverse=True)
    if not hits:
        raise ValueError(f"cannot infer the algorithm from {name!r}; pass --algo (one of {', '.join(available)})")
    return hits[0]


__all__ = ["EXIT_MISMATCH", "EXIT_OK", "EXIT_USAGE", "build_peer", "conform_main", "load_function",
           "parse_hp", "parse_shapes", "plot_report", "vectors_main"]  # fmt: skip
