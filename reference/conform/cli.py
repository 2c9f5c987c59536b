"""``optref conform`` and ``optref vectors`` (dispatched from reference/cli.py).

    optref conform torch.optim.Adam --hp lr=1e-3,amsgrad=true
    optref conform optax.lion --hp learning_rate=1e-4
    optref conform torch.optim.lr_scheduler.StepLR --hp step_size=3,gamma=0.5     # a schedule alone
    optref conform torch.optim.Adam --schedule StepLR:step_size=3                 # an optimizer driven by one
    optref conform --impl mymodule:my_adam_step --algo adam --hp lr=1e-3
    optref vectors export DIR
    optref vectors check DIR --impl mymodule:my_adam_step [--algo adam]

``conform`` prints a table (one row per mode and stream), the diagnosis on a mismatch and the
versions measured with (python, numpy, optim-reference, the peer's packages), and writes a PNG of
the deviation per step; ``--md FILE`` and ``--json FILE`` save the same report. ``--impl`` functions follow the calling convention of
``FunctionPeer`` (specs/conformance.md, "Your own function"). Exit statuses (``EXIT_STATUSES``):

    0    the peer conforms (vectors: every checked case passes)
    1    mismatch: the peer computes something else (the verdict; the diagnosis says what)
    2    usage error, or a configuration the reference has no equivalent for
    3    the peer's own code failed: it raised, returned the wrong shape / dtype / non-finite
         values, or its ``--impl`` module could not be imported (syntax error, raise on import)
    4    internal error of optim-reference itself (a bug: please report the line printed)
    130  interrupted (Ctrl-C)

Every error is one line on stderr naming the cause, never a traceback; an error is never
reported as a verdict. A plot that cannot be written is a warning and leaves the status alone.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import json
import math
import os
import re
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, cast

from .core import MODES, ConformanceReport, FunctionPeer, NotComparable, Peer, PeerFailed, conform
from .engine import LONG_STEPS
from .oracle_peers import ORACLE_PEERS
from .peers import FLOAT_DTYPES
from .streams import STREAMS

EXIT_OK, EXIT_MISMATCH, EXIT_USAGE, EXIT_PEER_FAILED, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130

#: The largest parameter count and step count the command line accepts (memory: steps x params floats).
MAX_PARAMS = 10**6
MAX_STEPS = 10**6

#: The exit statuses of ``optref conform`` and ``optref vectors`` (also in their --help and the README).
EXIT_STATUSES: dict[int, str] = {
    EXIT_OK: "conforms (vectors: every checked case passes)",
    EXIT_MISMATCH: "mismatch: the peer computes something else",
    EXIT_USAGE: "usage error, or no reference equivalent",
    EXIT_PEER_FAILED: "the peer's own code failed (raised; returned a wrong shape, dtype or non-finite "
    "values; its --impl module could not be imported)",
    EXIT_INTERNAL: "internal error of optim-reference (please report)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}


def _statuses_epilog() -> str:
    rows = "; ".join(f"{code} {text}" for code, text in EXIT_STATUSES.items())
    return f"Exit status: {rows}. Errors are one line on stderr, never a verdict."


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


#: learning_rate used when an optax optimizer that requires one is named without it: the
#: reference factory's default for the equivalent algorithm (1e-3 where that has none).
OPTAX_DEFAULT_LR = {
    "lion": 1e-4,
    "adagrad": 1e-2,
    "rmsprop": 1e-2,
    "sgd": 1e-2,
    "sign_sgd": 1e-2,
    "signum": 1e-2,
}


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
        if key in out:
            raise ValueError(f"--hp: {key!r} is given twice")
        low = raw.lower()
        if low in ("true", "false"):
            out[key] = low == "true"
        elif low in ("none", "null"):
            out[key] = None
        else:
            try:
                out[key] = ast.literal_eval(raw)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                out[key] = raw  # not a Python literal (or absurdly nested): the text itself
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
    total = sum(math.prod(s) for s in shapes)
    if total > MAX_PARAMS:
        raise ValueError(f"--shapes: {total} parameters in all; at most {MAX_PARAMS} are compared")
    return shapes


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _describe(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else f"{text[:37]}..."


def check_hp(hp: dict[str, Any], fn: Callable[..., Any], label: str, *, known_only: bool = False) -> None:
    """Each ``--hp`` value must be of the kind ``fn``'s default for that keyword is: a number where
    the default is a number, ``true``/``false`` where it is a bool, a tuple of as many numbers
    where it is a tuple (torch's ``betas``), and text only where the default is text. Keywords
    with no default (optax's ``learning_rate``) or a ``None`` default take a number or ``none``
    (a bool too where the name says so); ``none`` and text are also taken wherever the keyword's
    annotation allows them (``Optional[float]``, ``str | None``). Unknown keywords are refused with ``known_only`` (unless
    ``fn`` takes ``**kwargs``), else left to ``fn``'s own check."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return
    open_ended = any(q.kind is inspect.Parameter.VAR_KEYWORD for q in params.values())
    for key, value in hp.items():
        if key not in params:
            if known_only and not open_ended:
                kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                valid = [k for k, q in params.items() if k not in ("self", "params") and q.kind in kinds]
                raise ValueError(f"--hp {key}: {label} has no keyword {key!r} (valid: {', '.join(valid)})")
            continue
        default = params[key].default
        ann = params[key].annotation
        ann_text = ann if isinstance(ann, str) else repr(ann)  # typing objects repr with their members
        takes_none = value is None and ("None" in ann_text or "Optional" in ann_text)
        takes_text = isinstance(value, str) and re.search(r"\bstr\b", ann_text) is not None
        expected: str | None = None
        if takes_none or takes_text:  # the annotation allows it (torch Muon's adjust_lr_fn: str | None)
            pass
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                expected = "true or false"
        elif _is_number(default):
            if not _is_number(value):
                expected = "a number"
        elif isinstance(default, (tuple, list)):
            if not (
                isinstance(value, (tuple, list))
                and len(value) == len(default)
                and all(map(_is_number, value))
            ):
                example = repr(tuple(default)).replace(" ", "")
                expected = f"a tuple of {len(default)} numbers like {example}"
        elif isinstance(default, str):
            if not isinstance(value, str):
                expected = "text"
        elif isinstance(value, (str, tuple, list, dict, set)):
            expected = "a number" if default is inspect.Parameter.empty else "a number or none"
        if expected is not None:
            shown = f"the text {_describe(value)}" if isinstance(value, str) else _describe(value)
            raise ValueError(f"--hp {key}: {label} takes {expected}, got {shown}")
        if _is_number(value) and isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"--hp {key}: must be finite, got {value!r}")


def load_function(spec: str) -> Callable[..., Any]:
    """``"module:function"`` -> the function (the current directory is importable, as with python -m).

    A module or attribute that does not exist is a usage error (``ValueError``); a module that
    exists but fails while it is imported (a syntax error, an exception, ``sys.exit``, a missing
    dependency) is the peer's own code failing (``PeerFailed``)."""
    if ":" not in spec:
        raise ValueError(f"--impl must be module:function, got {spec!r}")
    mod_name, _, attr = spec.partition(":")
    if not mod_name or not all(part.isidentifier() for part in mod_name.split(".")):
        raise ValueError(
            f"--impl: {mod_name!r} is not a module name (module:function, e.g. mymodule:my_adam_step)"
        )
    if not attr or not all(part.isidentifier() for part in attr.split(".")):
        raise ValueError(
            f"--impl: {attr!r} is not a function name (module:function, e.g. mymodule:my_adam_step)"
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as e:
        if e.name is not None and (mod_name == e.name or mod_name.startswith(e.name + ".")):
            raise ValueError(
                f"--impl: cannot import module {mod_name!r}: no such module (searched the current directory and sys.path)"
            ) from None
        raise PeerFailed(f"--impl: importing {mod_name!r} failed: {_one_line(e)}") from None
    except SyntaxError as e:
        where = f"{os.path.basename(e.filename or '?')}, line {e.lineno}"
        raise PeerFailed(f"--impl: {mod_name!r} has a syntax error ({where}: {e.msg})") from None
    except SystemExit as e:
        raise PeerFailed(f"--impl: importing {mod_name!r} called sys.exit({e.code!r})") from None
    except Exception as e:  # noqa: BLE001 - the user's module may raise anything on import
        raise PeerFailed(f"--impl: importing {mod_name!r} raised {_one_line(e)}") from None
    obj: Any = mod
    for name in attr.split("."):
        try:
            has = hasattr(obj, name)
        except Exception as e:  # noqa: BLE001 - a module __getattr__ that raises
            raise PeerFailed(f"--impl: looking up {attr!r} in {mod_name!r} raised {_one_line(e)}") from None
        if not has:
            raise ValueError(f"--impl: module {mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, name)
    if not callable(obj):
        raise ValueError(f"--impl: {spec} is not callable (it is {type(obj).__name__})")
    fn: Callable[..., Any] = obj
    return fn


def _one_line(e: BaseException) -> str:
    """``Type: message`` on one line, cut to 300 characters."""
    text = " ".join(str(e).split())
    out = f"{type(e).__name__}: {text}" if text else type(e).__name__
    return out if len(out) <= 300 else f"{out[:297]}..."


def _problem(name: str, dim: int, seed: int) -> Any:
    if name == "least_squares":
        return None  # conform's default
    if name == "peaks":
        from ..problems import peaks

        prob = peaks(seed=seed)
        if prob.dim != dim:
            raise ValueError(
                f"--problem peaks has {prob.dim} parameters but the peer has {dim}; use --shapes 32x2,32,5x32,5"
            )
        return prob
    raise ValueError(f"--problem must be least_squares or peaks, got {name!r}")


def build_peer(
    target: str | None,
    impl: str | None,
    algo: str | None,
    hp: dict[str, Any],
    shapes: list[tuple[int, ...]],
    dtype: str,
    schedule: str | None = None,
) -> Peer:
    """The peer named on the command line (torch.optim.X, optax.x, or --impl with --algo), driven
    by ``schedule`` (``--schedule NAME:key=value,...``, reference/conform/schedules.py) if given."""
    if schedule is not None and (impl is not None or target is None or target in ORACLE_PEERS):
        raise ValueError("--schedule goes with a gradient-fed torch.optim.NAME or optax.NAME peer")
    if impl is not None:
        if target is not None:
            raise ValueError("give either a peer (torch.optim.Adam, optax.adam) or --impl, not both")
        if algo is None:
            raise ValueError("--impl needs --algo (the reference algorithm it implements)")
        from .._registry import ALGORITHMS, entry

        if algo not in ALGORITHMS:
            raise ValueError(f"--algo {algo!r} is not a registered algorithm ({', '.join(ALGORITHMS)})")
        check_hp(hp, entry(algo).factory, f"ref.{algo}")
        fn = load_function(impl)
        return FunctionPeer(fn, algo, dtype=dtype, **hp)
    if target is None:
        raise ValueError(
            "name a peer (e.g. torch.optim.Adam or optax.adamw) or pass --impl module:function --algo NAME"
        )
    if algo is not None:
        raise ValueError(f"--algo goes with --impl; {target} maps to its reference by itself")
    if target in ORACLE_PEERS:  # not a gradient-stream peer: its .spec serves the catalog
        return _oracle_peer(target, hp, shapes, dtype)
    if target.startswith("torch."):
        from .torch_adapter import _resolve_class, torch_peer

        if not target.startswith("torch.optim."):
            raise ValueError(f"unknown peer {target!r}: expected torch.optim.NAME")
        cls = _resolve_class(target)
        check_hp(hp, cls.__init__, f"torch.optim.{cls.__name__}", known_only=True)
        return torch_peer(cls, shapes, dtype=dtype, **_torch_schedule(schedule), **hp)
    if target.startswith("optax."):
        from .optax_adapter import optax_peer, required_learning_rate

        short = target.split(".")[-1]
        fn_optax = getattr(sys.modules["optax"], short, None)
        if target.count(".") != 1 or short.startswith("_") or not callable(fn_optax):
            raise ValueError(f"unknown peer {target!r}: optax has no optimizer {short!r}")
        check_hp(hp, fn_optax, f"optax.{short}", known_only=True)
        hp = _optax_schedule(schedule, hp, dtype)
        if "learning_rate" not in hp and required_learning_rate(short):
            hp = {**hp, "learning_rate": OPTAX_DEFAULT_LR.get(short, 1e-3)}
            print(
                f"optref conform: optax.{short} requires learning_rate; using {hp['learning_rate']!r} "
                "(the reference's default; pass --hp learning_rate=...)",
                file=sys.stderr,
            )
        return optax_peer(target, shapes, dtype=dtype, **hp)
    raise ValueError(f"unknown peer {target!r}: expected torch.optim.NAME or optax.NAME")


def _is_schedule(target: str) -> bool:
    from .schedules import is_schedule_name

    return is_schedule_name(target)


#: Schedule keywords whose values are not numbers (lists, dicts, functions, names): checked by
#: the schedule itself, not by ``check_hp``.
_SCHEDULE_FREE = {
    "lr_lambda",
    "scale_fn",
    "schedulers",
    "milestones",
    "interpolate_type",
    "boundaries_and_scales",
    "cosine_kwargs",
    "schedules",
    "boundaries",
}


def check_schedule_hp(hp: dict[str, Any], fn: Callable[..., Any], label: str) -> None:
    """``check_hp`` for a schedule's keywords (unknown ones refused), the non-numeric ones aside."""
    known = set(inspect.signature(fn).parameters) - {"self", "optimizer", "last_epoch", "verbose"}
    unknown = sorted(set(hp) - known)
    if unknown:
        raise ValueError(
            f"--hp {unknown[0]}: {label} has no keyword {unknown[0]!r} (valid: {', '.join(sorted(known))})"
        )
    check_hp({k: v for k, v in hp.items() if k not in _SCHEDULE_FREE}, fn, label)


def torch_scheduler_class(name: str) -> Any:
    from .schedules import _scheduler_class

    return _scheduler_class(name)


def _torch_schedule(text: str | None) -> dict[str, Any]:
    """``--schedule NAME:HP`` for a torch optimizer: ``{"scheduler": optimizer -> scheduler}``."""
    if text is None:
        return {}
    from .schedules import parse_schedule, torch_scheduler

    name, kw = parse_schedule(text)
    check_schedule_hp(kw, torch_scheduler_class(name).__init__, name)
    return {"scheduler": lambda o: torch_scheduler(o, name, **kw)}


def _optax_schedule(text: str | None, hp: dict[str, Any], dtype: str) -> dict[str, Any]:
    """``--schedule NAME:HP`` for an optax optimizer: its learning_rate; a note on stderr when optax
    computes it otherwise than the reference (float32 at its int32 count, NaN under jit)."""
    if text is None:
        return hp
    from .schedules import optax_schedule, parse_schedule, precision_note

    if "learning_rate" in hp:
        raise ValueError("--schedule is optax's learning_rate: do not pass --hp learning_rate too")
    name, kw = parse_schedule(text)
    sched = optax_schedule(name, kw)
    note = precision_note(sched, dtype)
    if note:
        print(f"optref conform: note: {note}", file=sys.stderr)
        if "non-finite" not in note:
            return {**hp, "learning_rate": _shared_rate(sched)}
    return {**hp, "learning_rate": sched}


def _shared_rate(sched: Any) -> Any:
    """An optax schedule that optax evaluates in float32 inside an optimizer (its int32 count): the
    schedule is compared alone as optax evaluates it, at float32 precision, and, when it conforms,
    the optimizer is compared given optax's own learning-rate stream (the bare optax schedule: the
    reference reads its values at the int32 count, as it shares a noise stream); when it does not,
    the reference schedule stays and the optimizer comparison shows the mismatch
    (specs/conformance.md, "Schedules")."""
    from .schedules import conform_schedule

    rep = conform_schedule(sched, count_dtype="int32", jit=True)
    verdict = "conforms" if rep.passed else "DOES NOT CONFORM"
    print(
        f"optref conform: {sched!r} alone at optax's int32 count, float32 precision: {verdict} "
        f"(worst {rep.worst:.3g} ulps of float32 at t = {rep.at}); "
        + (
            "the optimizer is compared given optax's own learning-rate stream"
            if rep.passed
            else "the optimizer is compared with the reference schedule"
        ),
        file=sys.stderr,
    )
    if not rep.passed:
        return sched
    import jax

    return jax.jit(sched.fn)  # optax compiles its update, the schedule inside it: the same values


def _conform_schedule(args: argparse.Namespace, hp: dict[str, Any]) -> int:
    """``optref conform torch.optim.lr_scheduler.NAME`` / ``optax.NAME_schedule``: eta_t alone."""
    from .schedules import conform_schedule

    for option, value, default in [
        ("--impl", args.impl, None),
        ("--algo", args.algo, None),
        ("--schedule", args.schedule, None),
        ("--dtype", args.dtype, "float64"),
        ("--problem", args.problem, "least_squares"),
        ("--shapes", args.shapes, "3x4,5"),
        ("--md", args.md, None),
    ]:
        if value != default:
            raise ValueError(f"{option} does not apply to a schedule compared alone ({args.peer})")
    if args.peer.startswith("torch."):
        lr = hp.pop("lr", 0.1)
        if not _is_number(lr) or not lr > 0 or not math.isfinite(lr):
            raise ValueError(f"--hp lr: the throwaway optimizer's rate must be a number > 0, got {lr!r}")
        check_schedule_hp(hp, torch_scheduler_class(args.peer).__init__, args.peer)
        report = conform_schedule(args.peer, n_steps=args.steps, lr=float(lr), **hp)
    else:
        import optax

        short = args.peer.split(".")[-1]
        check_schedule_hp(hp, getattr(optax.schedules, short), args.peer)
        report = conform_schedule(args.peer, n_steps=args.steps, **hp)
    status = EXIT_OK if report.passed else EXIT_MISMATCH
    print(report.table())
    if args.json is not None:
        data = {**report.to_dict(), "command": shlex.join(["optref", "conform", *args.argv])}
        try:
            with open(args.json, "w", encoding="utf-8") as f:
                f.write(json.dumps(data, indent=1, allow_nan=False) + "\n")
        except OSError as e:
            _err("optref conform", "warning", f"the report was not written to {args.json!r} ({_one_line(e)})")
        else:
            print(f"report: {args.json}")
    return status


def plot_report(report: ConformanceReport, path: str) -> None:
    """Deviation per step in units of eps_peer * S_t, one panel per mode, with the tolerance line.

    Drawn on a bare ``matplotlib.figure.Figure`` (no pyplot: no global backend switch, a lighter
    import) with fixed margins and legend places: tight_layout and legend(loc="best") each drew or
    searched the figure again and were most of the plot's cost.
    """
    import numpy as np
    from matplotlib.figure import Figure

    modes = list(dict.fromkeys(c.mode for c in report.comparisons))  # open, closed, long: report order
    if not modes:
        raise ValueError("the report has no runs to plot")
    width = 6.0 * len(modes)
    fig = Figure(figsize=(width, 4.4))
    fig.subplots_adjust(left=0.8 / width, right=1 - 0.15 / width, bottom=0.13, top=0.8, wspace=0.25)
    axes = fig.subplots(1, len(modes), squeeze=False)
    floor = 1e-2
    for ax, mode in zip(axes[0], modes):
        for c in (c for c in report.comparisons if c.mode == mode):
            t = np.arange(1, c.n + 1)
            ulps = np.where(np.isfinite(c.rel_dev), c.rel_dev / c.tolerance.eps, np.nan)
            ax.semilogy(
                t, np.maximum(ulps, floor), marker=".", ms=3, label=f"{c.stream}{'' if c.passed else ' (x)'}"
            )
        c0 = next(c for c in report.comparisons if c.mode == mode)
        t = np.arange(1, c0.n + 1)
        ax.semilogy(t, c0.tolerance.per_step * t, "k--", lw=1.5, label="tolerance C t")
        ax.set_xlabel("step t")
        ax.set_ylabel(f"max|dev| / (eps({c0.tolerance.dtype}) S_t)   [floor {floor}]")
        ax.set_title(f"{mode} loop" if mode in MODES else f"{mode} run")
        ax.legend(fontsize=6, loc="center right", ncol=2)
    fig.suptitle(f"{report.peer_name}\nvs {report.spec.describe()}", fontsize=8)
    fig.savefig(path, dpi=110)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if not 1 <= value <= MAX_STEPS:
        raise argparse.ArgumentTypeError(f"expected an integer in [1, {MAX_STEPS}], got {text}")
    return value


def _natural_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**63), got {text}")
    return value


def _err(prog: str, kind: str, e: BaseException | str) -> None:
    text = e if isinstance(e, str) else (" ".join(str(e).split()) or type(e).__name__)
    print(f"{prog}: {kind}: {text}", file=sys.stderr)


def _guarded(prog: str, body: Callable[[], int]) -> int:
    """Run ``body`` and map every failure to its exit status with one line on stderr: the peer's
    own code failing (3) is never a mismatch (1), and nothing prints a traceback."""
    try:
        return body()
    except PeerFailed as e:
        _err(prog, "the peer's own code failed", e)
        return EXIT_PEER_FAILED
    except NotComparable as e:
        _err(prog, "no reference equivalent", e)
        return EXIT_USAGE
    except (ValueError, TypeError, ImportError, OSError) as e:
        _err(prog, "error", e)
        return EXIT_USAGE
    except KeyboardInterrupt:
        _err(prog, "interrupted", "stopped by Ctrl-C; no verdict")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # pragma: no cover - `optref conform ... | head`
        return _broken_pipe()
    except Exception as e:  # noqa: BLE001 - a bug of optim-reference: still one line, never a verdict
        _err(prog, "internal error (please report)", _one_line(e))
        return EXIT_INTERNAL


def _broken_pipe() -> int:
    """stdout was closed by the reader (``| head``): stop quietly, as Unix tools do."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_OK


def _schedule_options(p: argparse.ArgumentParser) -> None:
    """--steps (whose default depends on the peer) and --schedule."""
    p.add_argument(
        "--steps",
        type=_positive_int,
        default=None,
        help="steps per run (default 40; a schedule alone: three of its horizons)",
    )
    p.add_argument(
        "--schedule",
        metavar="NAME:HP",
        help="drive the optimizer by a schedule, e.g. StepLR:step_size=3 (torch) or "
        "cosine_decay_schedule:init_value=1e-3,decay_steps=20 (optax)",
    )


def conform_main(argv: Sequence[str]) -> int:
    """Compare an optimizer implementation with the reference on every gradient stream."""
    p = _Parser(
        prog="optref conform",
        description="Compare an optimizer (torch.optim.NAME, optax.NAME or your own function) with the reference.",
        epilog=_statuses_epilog(),
    )
    p.add_argument("peer", nargs="?", help="torch.optim.NAME or optax.NAME")
    p.add_argument(
        "--hp",
        help="hyperparameters, e.g. lr=1e-3,amsgrad=true,betas=(0.9,0.99) (the peer's own keyword names)",
    )
    p.add_argument("--impl", help="your own step function as module:function (README, 'Your own function')")
    p.add_argument("--algo", help="the reference algorithm --impl implements (e.g. adam)")
    p.add_argument("--streams", default="all", help=f"comma list of {', '.join(STREAMS)} (default all)")
    p.add_argument("--mode", default="both", choices=["open", "closed", "both"])
    _schedule_options(p)
    p.add_argument(
        "--long-steps",
        type=_natural_int,
        default=None,
        help=f"steps of the long open-loop run for late bugs (default {LONG_STEPS}; 0 skips it)",
    )
    p.add_argument("--seed", type=_natural_int, default=0)
    p.add_argument(
        "--shapes", default="3x4,5", help="parameter shapes, e.g. 3x4,5 (a model's parameter list)"
    )
    p.add_argument(
        "--dtype",
        default="float64",
        choices=list(FLOAT_DTYPES),
        help="the precision the peer computes in (every peer kind; default float64)",
    )
    p.add_argument(
        "--problem", default="least_squares", choices=["least_squares", "peaks"], help="closed-loop objective"
    )
    p.add_argument("--plot", default="optref-conform.png", help="PNG of the deviation per step ('' to skip)")
    p.add_argument(
        "--md", metavar="FILE", help="also write the report (verdict, versions, every run) as Markdown"
    )
    p.add_argument(
        "--json", metavar="FILE", help="also write the report as JSON (schema optref-conform-report)"
    )
    p.add_argument("--no-diagnose", action="store_true", help="skip the variant search on a mismatch")
    try:
        args = p.parse_args(list(argv))
    except KeyboardInterrupt:
        _err(p.prog, "interrupted", "stopped by Ctrl-C; no verdict")
        return EXIT_INTERRUPTED
    args.argv = list(argv)
    return _guarded(p.prog, lambda: _conform(args))


def _report_path(option: str, path: str | None) -> None:
    """A report file must go into an existing directory and not onto a directory (checked before
    the run, so a typo costs no run)."""
    if path is None:
        return
    if not path or os.path.isdir(path):
        raise ValueError(f"{option}: {path!r} is not a file name")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ValueError(f"{option}: the directory {os.path.dirname(path)!r} does not exist")


def _write_reports(report: ConformanceReport, args: argparse.Namespace) -> None:
    """The --md and --json files; a write that fails is a warning and the verdict's status stands."""
    data = {**report.to_dict(), "command": shlex.join(["optref", "conform", *args.argv])}
    texts = {args.md: report.markdown(), args.json: json.dumps(data, indent=1, allow_nan=False) + "\n"}
    for path, text in texts.items():
        if path is None:
            continue
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            _err(
                "optref conform",
                "warning",
                f"the report was not written to {path!r} ({_one_line(e)}); the verdict stands",
            )
        else:
            print(f"report: {path}")


def _oracle_peer(target: str, hp: dict[str, Any], shapes: list[tuple[int, ...]], dtype: str) -> Peer:
    """torch.optim.LBFGS, optax.lbfgs, optax.polyak_sgd: an ``oracle_peers.OraclePeer`` (not a
    gradient-stream ``Peer``: it has the same ``name``, ``dtype`` and ``spec``, which the catalog
    reads; ``optref conform`` runs it with ``conform_oracle``)."""
    from .oracle_peers import oracle_peer

    return cast(Peer, oracle_peer(target, hp, shapes, dtype))


def _conform_oracle(args: argparse.Namespace, hp: dict[str, Any]) -> int:
    """An oracle-fed peer (reference/conform/oracle_peers.py): closed loop on its problems."""
    from .oracle_peers import conform_cli

    report = conform_cli(args, hp, parse_shapes(args.shapes))
    print(report.table())
    texts = {args.md: report.markdown(), args.json: None}
    if args.json is not None:
        data = {**report.to_dict(), "command": shlex.join(["optref", "conform", *args.argv])}
        texts[args.json] = json.dumps(data, indent=1, allow_nan=False) + "\n"
    for path, text in texts.items():
        if path is not None and text is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print(f"report: {path}")
    return EXIT_OK if report.passed else EXIT_MISMATCH


def _conform(args: argparse.Namespace) -> int:
    _report_path("--md", args.md)
    _report_path("--json", args.json)
    if (
        args.md is not None
        and args.json is not None
        and os.path.abspath(args.md) == os.path.abspath(args.json)
    ):
        raise ValueError("--md and --json name the same file")
    hp = parse_hp(args.hp)
    if args.peer is not None and _is_schedule(args.peer):
        return _conform_schedule(args, hp)
    if args.peer in ORACLE_PEERS:  # torch.optim.LBFGS, optax.lbfgs, optax.polyak_sgd
        return _conform_oracle(args, hp)
    shapes = parse_shapes(args.shapes)
    if args.problem == "peaks" and args.shapes == "3x4,5":
        shapes = [(32, 2), (32,), (5, 32), (5,)]
    streams = list(STREAMS) if args.streams == "all" else [s.strip() for s in args.streams.split(",")]
    for s in streams:
        if s not in STREAMS:
            raise ValueError(f"--streams: {s!r} is not one of {', '.join(STREAMS)}")
    modes = list(MODES) if args.mode == "both" else [args.mode]
    peer = build_peer(args.peer, args.impl, args.algo, hp, shapes, args.dtype, args.schedule)
    dim = peer.dim if peer.dim is not None else sum(math.prod(s) for s in shapes)
    problem = _problem(args.problem, dim, args.seed)
    long_steps = LONG_STEPS if args.long_steps is None else args.long_steps
    if long_steps > MAX_STEPS:
        raise ValueError(f"--long-steps must be at most {MAX_STEPS}, got {long_steps}")
    report = conform(
        peer,
        streams=streams,
        modes=modes,
        n_steps=40 if args.steps is None else args.steps,
        seed=args.seed,
        dim=dim,
        problem=problem,
        diagnose=not args.no_diagnose,
        long_steps=long_steps,
    )
    status = EXIT_OK if report.passed else EXIT_MISMATCH
    try:
        print(report.table())
    except BrokenPipeError:  # pragma: no cover - `| head`
        _broken_pipe()
        return status
    _write_reports(report, args)
    if args.plot:
        try:
            plot_report(report, args.plot)
        except KeyboardInterrupt:
            raise
        except Exception as e:  # noqa: BLE001 - the verdict stands whatever the plot does
            _err(
                "optref conform",
                "warning",
                f"the plot was not written to {args.plot!r} ({_one_line(e)}); the verdict stands",
            )
        else:
            print(f"plot: {args.plot}")
    return status


def vectors_main(argv: Sequence[str]) -> int:
    """Export the golden-vector corpus, or check an implementation against it."""
    p = _Parser(prog="optref vectors", description=vectors_main.__doc__, epilog=_statuses_epilog())
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    e = sub.add_parser("export", help="write index.json and one JSON file per algorithm (specs/vectors.md)")
    e.add_argument("directory")
    e.add_argument("--algorithms", help="comma list (default: every gradient-stream algorithm)")
    e.add_argument("--steps", type=_positive_int, default=16)
    e.add_argument("--dim", type=_positive_int, default=4)
    e.add_argument("--seed", type=_natural_int, default=0)
    c = sub.add_parser("check", help="verify an implementation against a corpus", epilog=_statuses_epilog())
    c.add_argument("directory")
    c.add_argument("--impl", required=True, help="module:function (FunctionPeer convention), or 'reference'")
    c.add_argument("--algo", help="only this algorithm's cases (default: inferred from the function name)")
    try:
        args = p.parse_args(list(argv))
    except KeyboardInterrupt:
        _err(p.prog, "interrupted", "stopped by Ctrl-C; no verdict")
        return EXIT_INTERRUPTED
    return _guarded(p.prog, lambda: _vectors(args))


def _vectors(args: argparse.Namespace) -> int:
    from .vectors import VectorFormatError, check_vectors, export_vectors, exportable_algorithms, load_vectors

    if args.command == "export":
        algos = None if not args.algorithms else [a.strip() for a in args.algorithms.split(",")]
        if algos is not None:
            valid = exportable_algorithms()
            for a in algos:
                if a not in valid:
                    raise ValueError(
                        f"--algorithms: {a!r} is not a gradient-stream algorithm ({', '.join(valid)})"
                    )
        if args.dim > 10_000 or args.steps * args.dim > 10**7:
            raise ValueError(
                f"--steps x --dim = {args.steps * args.dim} values per case is too large (at most 1e7, dim <= 1e4)"
            )
        counts = export_vectors(
            args.directory, algorithms=algos, seed=args.seed, n_steps=args.steps, dim=args.dim
        )
        for a, n in counts.items():
            print(f"{a:<10} {n:>4} cases")
        print(f"wrote {sum(counts.values())} cases to {args.directory}")
        return EXIT_OK
    try:
        corpus = load_vectors(args.directory)
    except VectorFormatError as err:
        _err("optref vectors", "malformed corpus", err)
        return EXIT_USAGE
    if args.impl == "reference":
        fn, algo = None, args.algo
    else:
        fn = load_function(args.impl)
        algo = args.algo or _infer_algorithm(fn, corpus.algorithms())
    report = check_vectors(corpus, fn, algorithm=algo)
    print(report.summary())
    return EXIT_OK if report.passed else EXIT_MISMATCH


def _infer_algorithm(fn: Callable[..., Any], available: list[str]) -> str:
    name = getattr(fn, "__name__", "").lower()
    hits = sorted((a for a in available if a in name), key=len, reverse=True)
    if not hits:
        raise ValueError(
            f"cannot infer the algorithm from {name!r}; pass --algo (one of {', '.join(available)})"
        )
    return hits[0]


__all__ = [
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_MISMATCH",
    "EXIT_OK",
    "EXIT_PEER_FAILED",
    "EXIT_STATUSES",
    "EXIT_USAGE",
    "build_peer",
    "check_hp",
    "conform_main",
    "load_function",
    "parse_hp",
    "parse_shapes",
    "plot_report",
    "vectors_main",
]
