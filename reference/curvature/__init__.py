"""Curvature methods: Newton, quasi-Newton, trust region, Gauss-Newton, Levenberg-Marquardt, Hessian-free, natural gradient, K-FAC, Shampoo; CG and the line searches they share."""
