"""Experiments that reproduce the notes' figures (``optref peaks``)."""

from __future__ import annotations
