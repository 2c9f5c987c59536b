"""Latent-variable models (em_gmm: expectation-maximisation for Gaussian mixtures)."""
