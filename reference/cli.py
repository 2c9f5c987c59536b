"""The ``optref`` command (also ``python -m reference``).

    optref list                      every registered algorithm with its one-line update rule
    optref list NAME                 one algorithm's hyperparameters: default, valid range, meaning
    optref list --peers [--measure]  every torch.optim / optax optimizer and schedule: its reference call
    optref check [...]               the theory-check suite (theory_checks/runner.py)
    optref peaks [...]               the notes' Peaks experiments (reference/experiments/peaks.py)
    optref hpo [...]                 the Peaks hyperparameter search, ours beside Optuna's (reference/experiments/hpo_peaks.py)
    optref conform [...]             check an optimizer implementation against the reference
    optref vectors export|check ...  golden vectors (specs/vectors.md)

Each subcommand's own module parses its arguments; this file only dispatches, so that
``optref list`` never imports matplotlib, torch or jax. Ctrl-C anywhere past the dispatch (while
the subcommand's module imports, or inside a command that does not catch it) exits with status
130 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

#: Exit status of a command stopped by Ctrl-C (128 + SIGINT), whatever it was doing.
EXIT_INTERRUPTED = 130

_SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "list": ("reference.cli", "list_main"),
    "check": ("theory_checks.runner", "main"),
    "peaks": ("reference.experiments.peaks", "main"),
    "hpo": ("reference.experiments.hpo_peaks", "main"),
    "conform": ("reference.conform.cli", "conform_main"),
    "vectors": ("reference.conform.cli", "vectors_main"),
}

_USAGE = """usage: optref {list,check,peaks,hpo,conform,vectors} [options]

  list      every registered algorithm with its spec's one-line update rule (NAME: its hyperparameters)
  check     run the theory checks (--quick default, --full, --only NAME, --seed N, --report DIR)
  peaks     reproduce the notes' Peaks classification experiments
  hpo       search SGD's lr, batch size and width on Peaks: random, Hyperband, BO, BOHB, Optuna
  conform   compare an optimizer implementation (torch.optim, optax, your own) with the reference
  vectors   export or check the language-neutral golden vectors

Run `optref COMMAND --help` for a command's options."""


def list_main(argv: Sequence[str]) -> int:
    """Print every registered algorithm (name, update rule, spec), or one algorithm's hyperparameters."""
    import argparse

    from ._registry import ALGORITHMS, ENTRIES, entry

    families = sorted({e.family for e in ENTRIES})
    parser = argparse.ArgumentParser(prog="optref list", description=list_main.__doc__)
    parser.add_argument("name", nargs="?", help="an algorithm: print its hyperparameters")
    parser.add_argument("--family", choices=families, help="only this family")
    parser.add_argument(
        "--peers",
        action="store_true",
        help="the catalog: every torch.optim and optax optimizer and schedule, and its reference call",
    )
    parser.add_argument(
        "--measure", action="store_true", help="with --peers: run every optimizer pair (float64, float32)"
    )
    parser.add_argument("--framework", choices=["torch", "optax"], help="with --peers: one framework only")
    args = parser.parse_args(list(argv))
    if args.peers or args.measure or args.framework:
        if args.name is not None or args.family is not None or not args.peers:
            print(
                "optref list: --measure and --framework go with --peers, and --peers with no NAME or --family",
                file=sys.stderr,
            )
            return 2
        return _peers(args.framework, args.measure)
    if args.name is not None:
        if args.name not in ALGORITHMS:
            print(
                f"optref list: unknown algorithm {args.name!r}; registered: {', '.join(ALGORITHMS)}",
                file=sys.stderr,
            )
            return 2
        print(hyperparameter_table(entry(args.name)))
        return 0
    rows = [e for e in ENTRIES if args.family is None or e.family == args.family]
    width = max((len(e.name) for e in rows), default=4)
    for e in rows:
        print(f"{e.name:<{width}}  {e.rule}    [{e.spec}]")
    print(
        f"\n{len(rows)} algorithms; `optref list NAME` shows one algorithm's hyperparameters", file=sys.stderr
    )
    return 0


def _peers(framework: str | None, measure: bool) -> int:
    """``optref list --peers``: the catalog table (reference/conform/catalog.py); exit 1 when a
    measured pair does not conform, 2 when the peers extra is missing."""
    try:
        from .conform import catalog
        from .conform import optax_adapter as _optax  # noqa: F401 - the frameworks must import
        from .conform import torch_adapter as _torch  # noqa: F401
    except ImportError as e:
        print(f"optref list --peers: {e}", file=sys.stderr)
        return 2
    frameworks = (framework,) if framework else ("torch", "optax")
    rows = []
    for row in catalog.rows(frameworks):
        if measure:
            print(f"measuring {row.label} ...", file=sys.stderr, flush=True)
            catalog.measure(row)
        rows.append(row)
    print(catalog.table(rows))
    mapped = sum(1 for r in rows if r.reference)
    print(f"\n{mapped} of {len(rows)} peers have a reference call; the others say why not", file=sys.stderr)
    bad = [r.label for r in rows if any(not ok for _, _, ok, _ in r.results)]
    if bad:
        print(f"optref list --peers: {len(bad)} pair(s) do not conform: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


def hyperparameter_table(row: Any) -> str:
    """One algorithm's record as text fitted to the terminal: argument, default, range, meaning."""
    import shutil
    import textwrap

    cols = max(60, shutil.get_terminal_size((100, 24)).columns)
    fields = row.fields()
    if not fields:  # e.g. cg: the record has no field
        return f"ref.{row.name}: {row.rule}\nspec: {row.spec}\n\nno hyperparameters: ref.{row.name}() takes no argument"
    w_name = max(len("argument"), *(len(f.name) for f in fields))
    w_def = max(len("default"), *(len(repr(f.default)) for f in fields))
    indent = w_name + w_def + 4
    lines = [
        f"ref.{row.name}: {row.rule}",
        f"spec: {row.spec}",
        "",
        f"{'argument':<{w_name}}  {'default':<{w_def}}  valid range; meaning",
    ]
    for f in fields:
        text = f"{f.range.describe()}; {f.doc}"
        body = textwrap.wrap(text, width=max(30, cols - indent)) or [""]
        lines.append(f"{f.name:<{w_name}}  {f.default!r:<{w_def}}  {body[0]}")
        lines.extend(" " * indent + b for b in body[1:])
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in _SUBCOMMANDS:
        print(f"optref: unknown command {command!r}\n\n{_USAGE}", file=sys.stderr)
        return 2
    module, func = _SUBCOMMANDS[command]
    try:  # Ctrl-C while the subcommand's module (matplotlib, torch, ...) is still importing
        fn: Callable[[Sequence[str]], int] = getattr(importlib.import_module(module), func)
        return fn(rest)
    except KeyboardInterrupt:
        print(f"optref {command}: interrupted (Ctrl-C)", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
