"""Wrappers around other optimizers (clip_by_global_norm, flat for structured params)."""
