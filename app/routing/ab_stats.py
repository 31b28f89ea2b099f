"""The statistics an A/B comparison of routing arms needs, in the standard library: means
with 95% intervals (Student t), proportions with Wilson intervals, Welch's test between
two means and a two-proportion z test, each two-sided."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Estimate:
    mean: float | None
    low: float | None
    high: float | None
    n: int


@dataclass(frozen=True)
class Test:
    difference: float | None
    low: float | None
    high: float | None
    p_value: float | None

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < 0.05


def mean_interval(values: Sequence[float]) -> Estimate:
    n = len(values)
    if n == 0:
        return Estimate(None, None, None, 0)
    mean = sum(values) / n
    if n == 1:
        return Estimate(mean, None, None, 1)
    half = t_quantile(n - 1) * math.sqrt(_variance(values, mean) / n)
    return Estimate(mean, mean - half, mean + half, n)


def wilson_interval(successes: int, n: int) -> Estimate:
    if n == 0:
        return Estimate(None, None, None, 0)
    p = successes / n
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n)


def welch_test(arm: Sequence[float], control: Sequence[float]) -> Test:
    """Difference of means (arm - control), its 95% interval and two-sided p."""
    if len(arm) < 2 or len(control) < 2:
        return Test(None, None, None, None)
    ma, mc = sum(arm) / len(arm), sum(control) / len(control)
    va, vc = _variance(arm, ma) / len(arm), _variance(control, mc) / len(control)
    diff = ma - mc
    se = math.sqrt(va + vc)
    if se == 0:
        return Test(diff, diff, diff, 1.0 if diff == 0 else 0.0)
    dof = (va + vc) ** 2 / (
        (va * va / (len(arm) - 1) if va else 0.0) + (vc * vc / (len(control) - 1) if vc else 0.0)
    )
    t = diff / se
    half = t_quantile(dof) * se
    return Test(diff, diff - half, diff + half, 2 * t_sf(abs(t), dof))


def proportion_test(success_a: int, n_a: int, success_c: int, n_c: int) -> Test:
    """Difference of proportions (arm - control): pooled z test, unpooled interval."""
    if n_a == 0 or n_c == 0:
        return Test(None, None, None, None)
    pa, pc = success_a / n_a, success_c / n_c
    diff = pa - pc
    pooled = (success_a + success_c) / (n_a + n_c)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_c))
    se = math.sqrt(pa * (1 - pa) / n_a + pc * (1 - pc) / n_c)
    p_value = 1.0 if se0 == 0 else math.erfc(abs(diff) / se0 / math.sqrt(2))
    return Test(diff, diff - Z95 * se, diff + Z95 * se, p_value)


def _variance(values: Sequence[float], mean: float) -> float:
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)


def t_sf(t: float, dof: float) -> float:
    """P(T > t) for Student's t with `dof` degrees of freedom (t >= 0), through the
    regularized incomplete beta function."""
    x = dof / (dof + t * t)
    return 0.5 * _betainc(dof / 2, 0.5, x)


def t_quantile(dof: float) -> float:
    """The two-sided 95% critical value of Student's t (bisection on t_sf)."""
    low, high = 0.0, 1000.0
    for _ in range(100):
        mid = (low + high) / 2
        if t_sf(mid, dof) > 0.025:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b) by its continued fraction (Numerical Recipes)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1 - x) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-12:
            break
    return h
