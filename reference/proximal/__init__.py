"""Proximal-gradient methods for smooth + l1 objectives (prox_grad, fista)."""
