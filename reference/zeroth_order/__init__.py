"""Zeroth-order methods: only loss values, no gradients (simulated_annealing)."""
