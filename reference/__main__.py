"""``python -m reference`` is ``optref``."""

from .cli import main

raise SystemExit(main())
