"""Variance-reduced stochastic methods for finite sums (svrg, saga)."""
