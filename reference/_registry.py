"""The table of registered algorithms: name, factory, one-line update rule, spec file.

``ref.ALGORITHMS`` is the tuple of names; ``ref.make(name, **hyperparameters)`` calls the factory.
Add a row here when a module is added (and the module's spec under specs/).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._hyper import FieldInfo, Hyperparams
from .constrained.augmented_lagrangian import augmented_lagrangian
from .constrained.projected_gd import projected_gd
from .curvature.bfgs import bfgs
from .curvature.cg import cg
from .curvature.gauss_newton import gauss_newton
from .curvature.hessian_free import hessian_free
from .curvature.jacobi_gd import jacobi_gd
from .curvature.kfac import kfac
from .curvature.lbfgs import lbfgs
from .curvature.lbfgs_torch import lbfgs_torch
from .curvature.levenberg_marquardt import levenberg_marquardt
from .curvature.natural_gradient import natural_gradient
from .curvature.newton import newton
from .curvature.shampoo import shampoo
from .curvature.trust_region import trust_region
from .first_order.adabelief import adabelief
from .first_order.adadelta import adadelta
from .first_order.adafactor import adafactor
from .first_order.adagrad import adagrad
from .first_order.adam import adam
from .first_order.adamax import adamax
from .first_order.adamw import adamw
from .first_order.adan import adan
from .first_order.asgd import asgd
from .first_order.fromage import fromage
from .first_order.gd import gd
from .first_order.lamb import lamb
from .first_order.lars import lars
from .first_order.lion import lion
from .first_order.momentum import momentum
from .first_order.muon import muon
from .first_order.nadam import nadam
from .first_order.nesterov import nesterov
from .first_order.noisy_sgd import noisy_sgd
from .first_order.novograd import novograd
from .first_order.optimistic_adam import optimistic_adam
from .first_order.optimistic_gd import optimistic_gd
from .first_order.polyak_sgd import polyak_sgd
from .first_order.radam import radam
from .first_order.rmsprop import rmsprop
from .first_order.rprop import rprop
from .first_order.sgd import sgd
from .first_order.signsgd import signsgd
from .first_order.sm3 import sm3
from .first_order.sparse_adam import sparse_adam
from .first_order.steepest_descent import steepest_descent
from .first_order.yogi import yogi
from .latent_variable.em_gmm import em_gmm
from .proximal.fista import fista
from .proximal.prox_grad import prox_grad
from .variance_reduction.saga import saga
from .variance_reduction.svrg import svrg
from .zeroth_order.simulated_annealing import simulated_annealing


@dataclass(frozen=True)
class Entry:
    """One registered algorithm."""

    name: str
    factory: Callable[..., Any]
    rule: str  # the update rule in one line, as in the spec

    @property
    def family(self) -> str:
        """The family: the folder of reference/ that holds the module ("first-order", "curvature", ...)."""
        return str(self.factory.__module__).split(".")[1].replace("_", "-")

    @property
    def gradient_fed(self) -> bool:
        """Whether the step takes a gradient (``optimizer(...)``) rather than an oracle or a problem."""
        return bool(getattr(self.factory, "gradient_fed", True))

    @property
    def spec(self) -> str:
        return f"specs/{self.name}.md"

    @property
    def record(self) -> type[Hyperparams]:
        """The algorithm's hyperparameter record (``reference/_hyper.py``)."""
        rec = getattr(self.factory, "record", None)
        if rec is None:
            raise TypeError(f"{self.name}: its factory has no hyperparameter record")
        return rec  # type: ignore[no-any-return]

    def fields(self) -> tuple[FieldInfo, ...]:
        """Every hyperparameter: name, default (``REQUIRED`` if none), range and doc."""
        return self.record.fields()

    def defaults(self) -> dict[str, Any]:
        """The hyperparameters that have a default, with it (a required ``lr`` is left out)."""
        return {f.name: f.default for f in self.fields() if not f.required}

    def hyperparameter_names(self) -> tuple[str, ...]:
        """Every keyword the factory takes, in order."""
        return tuple(f.name for f in self.fields())


ENTRIES: tuple[Entry, ...] = (
    Entry("gd", gd, "theta_t = theta_{t-1} - eta_t grad L(theta_{t-1})"),
    Entry("sgd", sgd, "theta_t = theta_{t-1} - eta_t (1/b) sum_{i in B_t} grad l_i(theta_{t-1})"),
    Entry(
        "steepest_descent",
        steepest_descent,
        "eta_t = argmin_eta f(theta_{t-1} - eta g_t) (exact, Armijo or Wolfe); theta_t = theta_{t-1} - eta_t g_t",
    ),
    Entry("adagrad", adagrad, "s_t = s_{t-1} + g_t^2; theta_t = theta_{t-1} - eta_t g_t / (sqrt(s_t) + eps)"),
    Entry(
        "rmsprop",
        rmsprop,
        "v_t = alpha v_{t-1} + (1 - alpha) g_t^2; theta_t = theta_{t-1} - eta_t g_t / (sqrt(v_t) + eps)",
    ),
    Entry(
        "adadelta",
        adadelta,
        "v_t = rho v + (1-rho) g^2; delta = sqrt(u + eps)/sqrt(v_t + eps) g; u_t = rho u + (1-rho) delta^2; theta -= eta delta",
    ),
    Entry(
        "momentum",
        momentum,
        "v_t = beta v_{t-1} + g_t; theta_t = theta_{t-1} - eta_t v_t (forms ema, sutskever)",
    ),
    Entry(
        "nesterov",
        nesterov,
        "v_t = beta v_{t-1} - eta_t grad L(theta_{t-1} + beta v_{t-1}); theta_t = theta_{t-1} + v_t",
    ),
    Entry(
        "polyak_sgd",
        polyak_sgd,
        "eta_t = min((f(theta_{t-1}) - f*) / (g_t . g_t + eps), lr); theta_t = theta_{t-1} - eta_t g_t",
    ),
    Entry(
        "signsgd",
        signsgd,
        "m_t = beta m_{t-1} + (1 - beta) g_t (m_t = g_t if beta = 0); theta_t = theta_{t-1} - eta_t sign(m_t)",
    ),
    Entry(
        "lion",
        lion,
        "c_t = beta1 m_{t-1} + (1 - beta1) g_t; theta_t = theta_{t-1} - eta_t (sign(c_t) + lambda theta_{t-1}); m_t = beta2 m_{t-1} + (1 - beta2) g_t",
    ),
    Entry("adam", adam, "theta_t = theta_{t-1} - eta_t mhat_t / (sqrt(vhat_t) + eps), m, v EMAs of g, g^2"),
    Entry(
        "adamw", adamw, "theta_t = theta_{t-1} - eta_t (mhat_t / (sqrt(vhat_t) + eps) + lambda theta_{t-1})"
    ),
    Entry(
        "nadam",
        nadam,
        "theta_t = theta_{t-1} - eta_t [(1 - mu_t)/(1 - Pi_t) g_t + mu_{t+1}/(1 - Pi_{t+1}) m_t] / (sqrt(vhat_t) + eps)",
    ),
    Entry(
        "radam",
        radam,
        "theta_t = theta_{t-1} - eta_t r_t mhat_t / (sqrt(vhat_t) + eps) if rho_t > 5, else theta_{t-1} - eta_t mhat_t",
    ),
    Entry(
        "adamax",
        adamax,
        "u_t = max(beta2 u_{t-1}, abs(g_t) + eps); theta_t = theta_{t-1} - eta_t m_t / ((1 - beta1^t) u_t)",
    ),
    Entry(
        "sparse_adam",
        sparse_adam,
        "for g_i != 0 only: m, v Adam EMAs; theta_i -= eta sqrt(1 - beta2^t)/(1 - beta1^t) m_i / (sqrt(v_i) + eps)",
    ),
    Entry(
        "adan",
        adan,
        "d_t = g_t - g_{t-1}; m, v, n EMAs of g, d, (g + c d)^2; "
        "theta_t = (theta_{t-1} - eta (mhat + c vhat) / (sqrt(nhat) + eps)) / (1 + eta lambda)",
    ),
    Entry(
        "muon",
        muon,
        "B_t = mu B_{t-1} + (1 - mu) G_t; O_t = NewtonSchulz_k(G_t + mu (B_t - G_t)); "
        "W_t = (1 - eta lambda) W_{t-1} - eta sqrt(max(1, rows/cols)) O_t",
    ),
    Entry(
        "adafactor",
        adafactor,
        "R, C = EMAs of row/col means of g^2 (v for vectors); U = g / sqrt(R C / mean R); "
        "theta_t = theta_{t-1} - min(eta, 1/sqrt t) max(eps2, RMS(theta)) U / max(1, RMS(U)/d)",
    ),
    Entry(
        "sm3",
        sm3,
        "nu_t = g_t^2 + min over the row and column accumulators; mu <- max of nu over each row/column; "
        "theta_t = theta_{t-1} - eta_t g_t / sqrt(nu_t)",
    ),
    Entry(
        "rprop",
        rprop,
        "Delta_t = clip(Delta_{t-1} eta_(+/-), Dmin, Dmax) by sign(g_t g_{t-1}); theta_t = theta_{t-1} - Delta_t sign(g_t)",
    ),
    Entry(
        "asgd",
        asgd,
        "theta_t = (1 - lambda eta_t) theta_{t-1} - eta_t g_t; a_t = a_{t-1} + mu_t (theta_t - a_{t-1})",
    ),
    Entry(
        "yogi",
        yogi,
        "v_t = v_{t-1} - (1 - beta2) sign(v_{t-1} - g_t^2) g_t^2; theta_t = theta_{t-1} - eta_t m_t / (sqrt(v_t) + eps)",
    ),
    Entry(
        "adabelief",
        adabelief,
        "s_t = beta2 s_{t-1} + (1 - beta2) (g_t - m_t)^2 + eps; theta_t = theta_{t-1} - eta_t mhat_t / (sqrt(shat_t) + eps)",
    ),
    Entry(
        "lamb",
        lamb,
        "r_t = mhat_t / (sqrt(vhat_t) + eps) + lambda theta; theta_l -= eta_t phi(norm(theta_l)) / norm(r_l) r_l per tensor l",
    ),
    Entry(
        "lars",
        lars,
        "rho_l = kappa norm(theta_l) / (norm(g_l) + lambda norm(theta_l)); v_t = mu v_{t-1} + eta_t rho_l (g + lambda theta); theta -= v_t",
    ),
    Entry(
        "fromage",
        fromage,
        "theta_l <- (theta_l - eta norm(theta_l) / norm(g_l) g_l) / sqrt(1 + eta^2) per tensor l",
    ),
    Entry(
        "novograd",
        novograd,
        "v_l = beta2 v_l + (1 - beta2) norm(g_l)^2; m = beta1 m + g / (sqrt(v_l) + eps) + lambda theta; theta -= eta_t m",
    ),
    Entry(
        "optimistic_gd",
        optimistic_gd,
        "u_t = (alpha + beta) g_t - beta g_{t-1} (g_0 = g_1); theta_t = theta_{t-1} - eta_t u_t",
    ),
    Entry(
        "optimistic_adam",
        optimistic_adam,
        "r_t = mhat_t / (sqrt(vhat_t) + eps); theta_t = theta_{t-1} - eta_t ((alpha + beta) r_t - beta r_{t-1})",
    ),
    Entry(
        "noisy_sgd",
        noisy_sgd,
        "sigma_t^2 = eta / t^gamma; theta_t = theta_{t-1} - eta_t (g_t + sigma_t z_t), z_t ~ N(0, I)",
    ),
    Entry(
        "gauss_newton",
        gauss_newton,
        "(s sum_i J_i^T H_i J_i + l2 I + lambda I) delta = -grad L; theta_t = theta_{t-1} + alpha delta",
    ),
    Entry(
        "levenberg_marquardt",
        levenberg_marquardt,
        "(G + mu I) delta = -g; accept if gain ratio rho > 0; mu by Nielsen's rule",
    ),
    Entry(
        "hessian_free",
        hessian_free,
        "truncated CG on (G + lambda I) delta = -g with matrix-free G v; lambda by Martens' rule",
    ),
    Entry(
        "natural_gradient",
        natural_gradient,
        "theta_t = theta_{t-1} - eta_t (F + lambda I)^{-1} grad L, F true or empirical Fisher",
    ),
    Entry("kfac", kfac, "Wbar_l <- Wbar_l - eta (S_l + sqrt(g)/pi I)^{-1} grad_l (A_l + pi sqrt(g) I)^{-1}"),
    Entry("shampoo", shampoo, "L += G G^T, R += G^T G; W <- W - eta L^{-1/4} G R^{-1/4}"),
    Entry(
        "newton", newton, "(H_t + (mu + tau) I) d_t = -g_t; theta_t = theta_{t-1} + alpha_t d_t (line search)"
    ),
    Entry(
        "jacobi_gd",
        jacobi_gd,
        "M_t = max(|diag grad^2 L(theta)|, lambda) (refreshed every k steps); theta_t = theta_{t-1} - eta_t g_t / M_t",
    ),
    Entry(
        "bfgs",
        bfgs,
        "d = -H g; strong Wolfe alpha; s = alpha d, y = g_t - g_{t-1}; H = (I - rho s y^T) H (I - rho y s^T) + rho s s^T",
    ),
    Entry(
        "lbfgs",
        lbfgs,
        "d = -H_m g by the two-loop recursion over the last m pairs (s, y), H_0 = (s^T y / y^T y) I; strong Wolfe",
    ),
    Entry(
        "lbfgs_torch",
        lbfgs_torch,
        "torch.optim.LBFGS: up to max_iter two-loop iterations per step, t_1 = min(1, 1/sum_i abs(g_i)) lr, torch's strong Wolfe",
    ),
    Entry(
        "trust_region",
        trust_region,
        "p ~ argmin_{||p|| <= Delta} g^T p + 1/2 p^T H p (Steihaug-CG); rho = actual/predicted; Delta update",
    ),
    Entry(
        "cg",
        cg,
        "alpha = r^T r / p^T A p; x += alpha p; r += alpha A p; p = -r + (r^T r)_new / (r^T r)_old p",
    ),
    Entry(
        "svrg",
        svrg,
        "g_t = grad l_i(theta) - grad l_i(theta~) + grad L(theta~); theta_t = theta_{t-1} - eta g_t",
    ),
    Entry(
        "saga",
        saga,
        "g_t = grad l_j(theta) - alpha_j + mean(alpha); alpha_j = grad l_j(theta); theta_t = theta_{t-1} - eta g_t",
    ),
    Entry(
        "prox_grad",
        prox_grad,
        "theta_t = sign(z) max(|z| - eta lambda, 0), z = theta_{t-1} - eta grad f(theta_{t-1})",
    ),
    Entry(
        "fista",
        fista,
        "theta_t = prox(y - eta grad f(y)); s_t = (1 + sqrt(1 + 4 s^2))/2; y_t = theta_t + (s_{t-1} - 1)/s_t (theta_t - theta_{t-1})",
    ),
    Entry(
        "projected_gd",
        projected_gd,
        "theta_t = Proj_C(theta_{t-1} - eta_t g_t), C a box, Euclidean ball or simplex",
    ),
    Entry(
        "augmented_lagrangian",
        augmented_lagrangian,
        "theta_k ~ argmin f - lambda^T h + (mu/2)||h||^2 + sum psi(g, nu) (inner L-BFGS); lambda_k = lambda_{k-1} - mu h(theta_k); nu_k = max(0, nu_{k-1} + mu g(theta_k))",
    ),
    Entry(
        "simulated_annealing",
        simulated_annealing,
        "theta' = theta_{t-1} + sigma z; accept iff Delta L <= 0 or u < exp(-Delta L / T_t); T_t = T0 decay^(t-1)",
    ),
    Entry(
        "em_gmm",
        em_gmm,
        "r_ik = pi_k N(x_i|mu_k,Sigma_k) / sum_j pi_j N(x_i|mu_j,Sigma_j); N_k = sum_i r_ik; pi_k = N_k/n; mu_k = sum_i r_ik x_i / N_k; Sigma_k = (sum_i r_ik (x_i-mu_k)(x_i-mu_k)^T + a I) / N_k",
    ),
)

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
