"""Experiments that reproduce the seeds' figures (``optref peaks``)."""
