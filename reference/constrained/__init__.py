"""Constrained optimisation (projected_gd, augmented_lagrangian)."""
