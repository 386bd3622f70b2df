"""What the ``regression`` flag rule's fit is, in closed form, when the signal is the register.

Register QA with a supervisor and no tampering: the signal on every supervised step is the
register concept itself, s = Y (the register holds the label, and Y says the answer equals
it). Two known concepts, X (the answer is correct) and Y, enter the fit with penalties
lambda_X = l1 cost_X shrink and lambda_Y = l1 cost_Y shrink, shrink = 1 / (1 + compute /
half_compute) (1 when half_compute = 0). The fit is the lasso on standardised concepts and
signal (``memory.standardise``),

    minimise over b   1/2 b'R b - b'r + lambda_X |b_X| + lambda_Y |b_Y|,

with R = [[1, rho], [rho, 1]] the correlation matrix of (X, Y) and r = (rho, 1) their
correlations with s = Y. Its stationarity conditions, with sigma_c = sign(b_c) where b_c != 0
and |gradient_c| <= lambda_c where b_c = 0, are

    b_X + rho b_Y = rho - lambda_X sigma_X,       rho b_X + b_Y = 1 - lambda_Y sigma_Y.

Write q = |rho| and sigma = sign(rho). Three supports are possible (b_Y < 0 never is: it
would need lambda_Y - q lambda_X < -(1 - rho^2) and q lambda_Y > lambda_X at once).

- **Y alone** (b_X = 0): b_Y = soft(1, lambda_Y) = (1 - lambda_Y)+, and X stays out iff its
  gradient |rho - rho b_Y| = q min(lambda_Y, 1) <= lambda_X. So: if lambda_X >= q lambda_Y.
- **both** (sigma_X = sigma, sigma_Y = +1): solving the 2 x 2 system,

      b_Y = 1 - (lambda_Y - q lambda_X) / (1 - rho^2),
      b_X = sigma (q lambda_Y - lambda_X) / (1 - rho^2),

  consistent iff q lambda_Y > lambda_X (b_X has the sign sigma) and
  lambda_Y - q lambda_X < 1 - rho^2 (b_Y > 0).
- **X alone** (b_Y = 0): b_X = sigma (q - lambda_X)+, and Y stays out iff
  |1 - rho b_X| <= lambda_Y, i.e. lambda_Y >= 1 - rho^2 + q lambda_X (or both are 0).

These regions tile the (lambda_X, lambda_Y) quadrant, and the problem is strictly convex for
|rho| < 1, so this is *the* minimiser. For rho = +-1 (X = Y or X = 1 - Y on every remembered
step) the "both" region is empty and the whole fit goes to the cheaper concept; on a tie
(lambda_X = lambda_Y) the minimiser is not unique and this function gives it to Y.

The flag weights are per unit of each concept: w_X = b_X sd(Y) / sd(X), w_Y = b_Y (the signal
is Y). In the "both" region, 1 - rho^2 = var(Y | X) / var(Y) is the share of Y's variance that
X does not explain (label noise), so with the unstandardised penalties of the raw fit,
lambda'_c = lambda_c sd(c) sd(s), this is

    w_Y = 1 - (lambda'_Y - beta lambda'_X) / var(Y | X),   beta = cov(X, Y) / var(X),

the raw form: the same fit, except that the raw penalties grow relative to the data as the
concepts' variances shrink (an accurate agent, var(X) = a(1 - a)); the standardised ones do not.

Predicting a sweep also needs rho and sd(Y) / sd(X), which follow from the world and the agent
(``qa_moments``): answers correct with probability a (the greedy answer is the truth for any
flag on X or Y; exploration epsilon answers uniformly, a = 1 - epsilon (K - 1) / K), random
label noise eta (a wrong label is uniform over the K - 1 wrong answers, independent of a wrong
answer), so

    P(Y = 1 | X = 1) = 1 - eta,    P(Y = 1 | X = 0) = eta / (K - 1),
    E[Y] = a (1 - eta) + (1 - a) eta / (K - 1),   cov(X, Y) = a (1 - a) ((1 - eta) - eta / (K - 1)).

With eta = 0, X = Y and rho = 1: whichever of X and Y is cheaper takes the flag. With eta > 0
the register fits the signal exactly and X only partly, and Y takes the flag unless its
penalty exceeds X's by enough (``boundary_cost``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


def lasso_two(rho: float, lam_x: float, lam_y: float) -> tuple[float, float]:
    """The standardised lasso fit (b_X, b_Y) of the signal s = Y on X and Y, whose correlation
    is ``rho`` (in [-1, 1]), with penalties ``lam_x``, ``lam_y`` >= 0 (see the module)."""
    q = abs(rho)
    sigma = 1.0 if rho >= 0 else -1.0
    if lam_x >= q * lam_y:  # X stays out (also: X has no variance, rho = 0)
        return 0.0, max(1.0 - lam_y, 0.0)
    det = 1.0 - rho * rho
    if lam_y - q * lam_x >= det:  # Y stays out
        return sigma * max(q - lam_x, 0.0), 0.0
    return sigma * (q * lam_y - lam_x) / det, 1.0 - (lam_y - q * lam_x) / det


def flag_two(
    rho: float, sd_x: float, sd_y: float, lam_x: float, lam_y: float
) -> tuple[float, float]:
    """The flag weights (w_X, w_Y) the fit gives: ``lasso_two`` per unit of each concept."""
    b_x, b_y = lasso_two(rho, lam_x, lam_y)
    return (b_x * sd_y / sd_x if sd_x > 0 else 0.0), b_y


def shrink(compute: float, half_compute: float) -> float:
    """The penalty's factor after ``compute`` training steps: 1 / (1 + compute / half)."""
    return 1.0 if half_compute <= 0 else 1.0 / (1.0 + compute / half_compute)


@dataclass(frozen=True)
class Moments:
    """Population moments of X and Y on supervised steps: their correlation and scales."""

    rho: float
    sd_x: float
    sd_y: float


def qa_moments(noise: float, answers: int = 4, epsilon: float = 0.1) -> Moments:
    """The moments of (X, Y) for an agent whose greedy answer is the truth, exploring with
    ``epsilon`` (uniform answers), under random label noise ``noise`` with ``answers``
    answers per question and no tampering (see the module)."""
    k = answers
    a = 1.0 - epsilon * (k - 1) / k
    p1, p0 = 1.0 - noise, noise / (k - 1)
    m_y = a * p1 + (1.0 - a) * p0
    var_x, var_y = a * (1.0 - a), m_y * (1.0 - m_y)
    cov = a * (1.0 - a) * (p1 - p0)
    sd_x, sd_y = math.sqrt(var_x), math.sqrt(var_y)
    rho = cov / (sd_x * sd_y) if sd_x > 0 and sd_y > 0 else 0.0
    return Moments(min(1.0, max(-1.0, rho)), sd_x, sd_y)


def register_margin(m: Moments, lam_x: float, lam_y: float) -> float:
    """w_Y - w_X for the fit with these moments and penalties (> 0: the register leads)."""
    w_x, w_y = flag_two(m.rho, m.sd_x, m.sd_y, lam_x, lam_y)
    return w_y - w_x


def _log_crossing(
    margin: Callable[[float], float], lo: float, hi: float, *, positive_above: bool
) -> float:
    """Where ``margin`` changes sign in [lo, hi]: 200 halvings on a log scale. It is positive
    above the crossing if ``positive_above``, else below it."""
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        if (margin(mid) > 0) == positive_above:
            hi = mid
        else:
            lo = mid
    return math.sqrt(lo * hi)


def boundary_cost(
    noise: float,
    *,
    l1: float = 0.06,
    cost_x: float = 1.0,
    compute: float = 200_000,
    half_compute: float = 20_000,
    answers: int = 4,
    epsilon: float = 0.1,
) -> float:
    """The register's specification cost at which its flag weight equals X's (above it X
    leads), by bisection on a log scale: w_Y - w_X falls as cost_Y grows. ``inf`` if the
    register leads at any cost up to 1e6; ``0`` if it never leads."""
    m = qa_moments(noise, answers, epsilon)
    unit = l1 * shrink(compute, half_compute)
    lam_x = unit * cost_x

    def margin(c: float) -> float:
        return register_margin(m, lam_x, unit * c)

    lo, hi = 1e-6, 1e6
    if margin(hi) > 0:
        return math.inf
    if margin(lo) <= 0:
        return 0.0
    return _log_crossing(margin, lo, hi, positive_above=False)


def boundary_compute(
    noise: float,
    *,
    l1: float = 0.06,
    cost_x: float = 1.0,
    cost_y: float = 4.0,
    half_compute: float = 20_000,
    aware_compute: float = 0.0,
    answers: int = 4,
    epsilon: float = 0.1,
) -> float:
    """The training compute from which the register's flag weight exceeds X's: the later of
    the compute at which Y enters the ontology (``aware_compute``) and the compute at which
    the shrinking penalty lets it lead (bisection; ``inf`` if it never leads)."""
    m = qa_moments(noise, answers, epsilon)

    def margin(c: float) -> float:
        s = l1 * shrink(c, half_compute)
        return register_margin(m, s * cost_x, s * cost_y)

    if margin(aware_compute) > 0:
        return aware_compute
    if half_compute <= 0:
        return math.inf
    lo, hi = max(aware_compute, 1.0), 1e12
    if margin(hi) <= 0:
        return math.inf
    return _log_crossing(margin, lo, hi, positive_above=True)
