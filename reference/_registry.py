"""The table of registered algorithms: name, factory, one-line update rule, spec file.

``ref.ALGORITHMS`` is the tuple of names; ``ref.make(name, **hyperparameters)`` calls the factory.
Add a row here when a module is added (and the module's spec under specs/).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .adadelta import adadelta
from .adagrad import adagrad
from .adam import adam
from .bfgs import bfgs
from .cg import cg
from .em_gmm import em_gmm
from .fista import fista
from .adamw import adamw
from .gauss_newton import gauss_newton
from .hessian_free import hessian_free
from .kfac import kfac
from .levenberg_marquardt import levenberg_marquardt
from .natural_gradient import natural_gradient
from .shampoo import shampoo
from .gd import gd
from .lion import lion
from .lbfgs import lbfgs
from .momentum import momentum
from .nesterov import nesterov
from .newton import newton
from .projected_gd import projected_gd
from .prox_grad import prox_grad
from .augmented_lagrangian import augmented_lagrangian
from .rmsprop import rmsprop
from .saga import saga
from .sgd import sgd
from .signsgd import signsgd
from .simulated_annealing import simulated_annealing
from .svrg import svrg
from .trust_region import trust_region


@dataclass(frozen=True)
class Entry:
    """One registered algorithm."""

    name: str
    factory: Callable[..., Any]
    rule: str  # the update rule in one line, as in the spec
    family: str  # "first-order", "curvature", "variance-reduction", "proximal", ...

    @property
    def spec(self) -> str:
        return f"specs/{self.name}.md"


ENTRIES: tuple[Entry, ...] = (
    Entry("gd", gd, "theta_t = theta_{t-1} - eta_t grad L(theta_{t-1})", "first-order"),
    Entry("sgd", sgd, "theta_t = theta_{t-1} - eta_t (1/b) sum_{i in B_t} grad l_i(theta_{t-1})", "first-order"),
    Entry("adagrad", adagrad, "s_t = s_{t-1} + g_t^2; theta_t = theta_{t-1} - eta_t g_t / (sqrt(s_t) + eps)", "first-order"),
    Entry("rmsprop", rmsprop, "v_t = alpha v_{t-1} + (1 - alpha) g_t^2; theta_t = theta_{t-1} - eta_t g_t / (sqrt(v_t) + eps)", "first-order"),
    Entry("adadelta", adadelta, "v_t = rho v + (1-rho) g^2; delta = sqrt(u + eps)/sqrt(v_t + eps) g; u_t = rho u + (1-rho) delta^2; theta -= eta delta", "first-order"),
    Entry("momentum", momentum, "v_t = beta v_{t-1} + g_t; theta_t = theta_{t-1} - eta_t v_t (forms ema, sutskever)", "first-order"),
    Entry("nesterov", nesterov, "v_t = beta v_{t-1} - eta_t grad L(theta_{t-1} + beta v_{t-1}); theta_t = theta_{t-1} + v_t", "first-order"),
    Entry("signsgd", signsgd, "m_t = beta m_{t-1} + (1 - beta) g_t (m_t = g_t if beta = 0); theta_t = theta_{t-1} - eta_t sign(m_t)", "first-order"),
    Entry("lion", lion, "c_t = beta1 m_{t-1} + (1 - beta1) g_t; theta_t = theta_{t-1} - eta_t (sign(c_t) + lambda theta_{t-1}); m_t = beta2 m_{t-1} + (1 - beta2) g_t", "first-order"),
    Entry("adam", adam, "theta_t = theta_{t-1} - eta_t mhat_t / (sqrt(vhat_t) + eps), m, v EMAs of g, g^2", "first-order"),
    Entry("adamw", adamw, "theta_t = theta_{t-1} - eta_t (mhat_t / (sqrt(vhat_t) + eps) + lambda theta_{t-1})", "first-order"),
    Entry("gauss_newton", gauss_newton, "(s sum_i J_i^T H_i J_i + l2 I + lambda I) delta = -grad L; theta_t = theta_{t-1} + alpha delta", "curvature"),
    Entry("levenberg_marquardt", levenberg_marquardt, "(G + mu I) delta = -g; accept if gain ratio rho > 0; mu by Nielsen's rule", "curvature"),
    Entry("hessian_free", hessian_free, "truncated CG on (G + lambda I) delta = -g with matrix-free G v; lambda by Martens' rule", "curvature"),
    Entry("natural_gradient", natural_gradient, "theta_t = theta_{t-1} - eta_t (F + lambda I)^{-1} grad L, F true or empirical Fisher", "curvature"),
    Entry("kfac", kfac, "Wbar_l <- Wbar_l - eta (S_l + sqrt(g)/pi I)^{-1} grad_l (A_l + pi sqrt(g) I)^{-1}", "curvature"),
    Entry("shampoo", shampoo, "L += G G^T, R += G^T G; W <- W - eta L^{-1/4} G R^{-1/4}", "curvature"),
    Entry("newton", newton, "(H_t + (mu + tau) I) d_t = -g_t; theta_t = theta_{t-1} + alpha_t d_t (line search)", "curvature"),
    Entry("bfgs", bfgs, "d = -H g; strong Wolfe alpha; s = alpha d, y = g_t - g_{t-1}; H = (I - rho s y^T) H (I - rho y s^T) + rho s s^T", "curvature"),
    Entry("lbfgs", lbfgs, "d = -H_m g by the two-loop recursion over the last m pairs (s, y), H_0 = (s^T y / y^T y) I; strong Wolfe", "curvature"),
    Entry("trust_region", trust_region, "p ~ argmin_{||p|| <= Delta} g^T p + 1/2 p^T H p (Steihaug-CG); rho = actual/predicted; Delta update", "curvature"),
    Entry("cg", cg, "alpha = r^T r / p^T A p; x += alpha p; r += alpha A p; p = -r + (r^T r)_new / (r^T r)_old p", "linear-solver"),
    Entry("svrg", svrg, "g_t = grad l_i(theta) - grad l_i(theta~) + grad L(theta~); theta_t = theta_{t-1} - eta g_t", "variance-reduction"),
    Entry("saga", saga, "g_t = grad l_j(theta) - alpha_j + mean(alpha); alpha_j = grad l_j(theta); theta_t = theta_{t-1} - eta g_t", "variance-reduction"),
    Entry("prox_grad", prox_grad, "theta_t = sign(z) max(|z| - eta lambda, 0), z = theta_{t-1} - eta grad f(theta_{t-1})", "proximal"),
    Entry("fista", fista, "theta_t = prox(y - eta grad f(y)); s_t = (1 + sqrt(1 + 4 s^2))/2; y_t = theta_t + (s_{t-1} - 1)/s_t (theta_t - theta_{t-1})", "proximal"),
    Entry("projected_gd", projected_gd, "theta_t = Proj_C(theta_{t-1} - eta_t g_t), C a box, Euclidean ball or simplex", "constrained"),
    Entry("augmented_lagrangian", augmented_lagrangian, "theta_k ~ argmin f - lambda^T h + (mu/2)||h||^2 (inner L-BFGS); lambda_k = lambda_{k-1} - mu h(theta_k)", "constrained"),
    Entry("simulated_annealing", simulated_annealing, "theta' = theta_{t-1} + sigma z; accept iff Delta L <= 0 or u < exp(-Delta L / T_t); T_t = T0 decay^(t-1)", "zeroth-order"),
    Entry("em_gmm", em_gmm, "r_ik = pi_k N(x_i|mu_k,Sigma_k) / sum_j pi_j N(x_i|mu_j,Sigma_j); N_k = sum_i r_ik; pi_k = N_k/n; mu_k = sum_i r_ik x_i / N_k; Sigma_k = (sum_i r_ik (x_i-mu_k)(x_i-mu_k)^T + a I) / N_k", "latent-variable"),
)  # fmt: skip

_BY_NAME = {e.name: e for e in ENTRIES}
ALGORITHMS: tuple[str, ...] = tuple(e.name for e in ENTRIES)


def entry(name: str) -> Entry:
    """The registry row for ``name``; ValueError listing the valid names otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown algorithm {name!r}; registered: {', '.join(ALGORITHMS)}") from None


def make(name: str, **hyperparameters: Any) -> Any:
    """Build the registered algorithm ``name`` with ``hyperparameters`` (validated by its factory)."""
    return entry(name).factory(**hyperparameters)
