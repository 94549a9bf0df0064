"""Predicted customer lifetime value: BG/NBD (how many more purchases) × Gamma-Gamma (worth).

Implemented from Fader, Hardie & Lee (2005) "Counting your customers the easy way"
and Fader & Hardie (2013) "The Gamma-Gamma model of monetary value", with scipy.
Validated on the CDNOW sample against the published parameters
(r=0.243, α=4.414, a=0.793, b=2.426; p=6.25, q=3.74, v=15.44): see tests/insights/test_clv.py.
Time is in weeks; predictions are undiscounted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    v: float


def bgnbd_log_likelihood(params, x, t_x, big_t) -> np.ndarray:
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + big_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return a1 + a2 + np.logaddexp(a3, a4)


def fit_bgnbd(x, t_x, big_t) -> BgNbd:
    x, t_x, big_t = (np.asarray(v, dtype=float) for v in (x, t_x, big_t))
    if len(x) < 10 or not (x > 0).any():
        raise ValueError("BG/NBD needs at least 10 customers and some repeat purchases")

    def nll(log_params):
        return -bgnbd_log_likelihood(np.exp(log_params), x, t_x, big_t).sum()

    best = minimize(
        nll,
        np.log([1.0, 1.0, 1.0, 1.0]),
        method="Nelder-Mead",
        options={"maxiter": 4000, "xatol": 1e-7, "fatol": 1e-9},
    )
    return BgNbd(*np.exp(best.x))


def expected_purchases(m: BgNbd, t: float, x, t_x, big_t) -> np.ndarray:
    """E[purchases in the next t weeks | x repeat purchases, last at t_x, observed for T]."""
    x, t_x, big_t = (np.asarray(v, dtype=float) for v in (x, t_x, big_t))
    r, alpha, a, b = m.r, m.alpha, m.a, m.b
    hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + big_t + t))
    first = (a + b + x - 1) / (a - 1)
    second = 1 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp
    denom = 1 + np.where(x > 0, a / (b + x - 1) * ((alpha + big_t) / (alpha + t_x)) ** (r + x), 0)
    return first * second / denom


def gg_log_likelihood(params, x, m_x) -> np.ndarray:
    p, q, v = params
    return (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m_x)
        + p * x * np.log(x)
        - (p * x + q) * np.log(x * m_x + v)
    )


def fit_gamma_gamma(x, m_x) -> GammaGamma:
    """Fit on customers with at least one repeat purchase (x > 0) and their mean repeat value."""
    x, m_x = np.asarray(x, dtype=float), np.asarray(m_x, dtype=float)
    keep = (x > 0) & (m_x > 0)
    x, m_x = x[keep], m_x[keep]
    if len(x) < 10:
        raise ValueError("Gamma-Gamma needs at least 10 repeat customers")

    def nll(log_params):
        return -gg_log_likelihood(np.exp(log_params), x, m_x).sum()

    best = minimize(
        nll,
        np.log([1.0, 1.0, 1.0]),
        method="Nelder-Mead",
        options={"maxiter": 4000, "xatol": 1e-7, "fatol": 1e-9},
    )
    return GammaGamma(*np.exp(best.x))


def expected_value(m: GammaGamma, x, m_x) -> np.ndarray:
    """E[mean purchase value]; the population mean for customers without repeat purchases."""
    x, m_x = np.asarray(x, dtype=float), np.asarray(m_x, dtype=float)
    population = m.p * m.v / (m.q - 1)
    personal = (m.p * (m.v + x * m_x)) / (m.p * x + m.q - 1)
    return np.where(x > 0, personal, population)


def predicted_clv(bg: BgNbd, gg: GammaGamma, weeks: float, x, t_x, big_t, m_x) -> np.ndarray:
    return expected_purchases(bg, weeks, x, t_x, big_t) * expected_value(gg, x, m_x)
