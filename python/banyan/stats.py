"""95% confidence intervals for a state's mean reward, from the sums a checkpoint keeps
(visits n, reward sum, sum of squared rewards): Wilson's score interval when every reward
is 0 or 1 (e.g. the oscillation reward: the mean estimates a probability), Student's t
interval otherwise. Pure Python (no SciPy): the t quantile comes from a table for small
degrees of freedom and a Cornish-Fisher expansion beyond it (error below 1e-4).
"""
import math

Z975 = 1.959963984540054

# Two-sided 95% quantiles t(0.975, df) for df = 1 .. 30.
_T975 = (12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
         2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
         2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423)


def t_quantile_975(df):
    """t(0.975, df) for df >= 1 (float df rounds down in the table range)."""
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if df <= len(_T975):
        return _T975[int(df) - 1]
    z = Z975
    return (z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3))


def wilson_interval(successes, n, z=Z975):
    """Wilson score interval (lo, hi) for a proportion: successes of n trials."""
    if n <= 0:
        return (math.nan, math.nan)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(p * (1 - p) / n + z * z / (4 * n * n), 0.0)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def t_interval(mean, sd, n):
    """Student's t interval (lo, hi) for a mean of n samples with sample deviation sd; NaN
    bounds when n < 2 (no spread can be estimated)."""
    if n < 2 or not math.isfinite(sd):
        return (math.nan, math.nan)
    half = t_quantile_975(n - 1) * sd / math.sqrt(n)
    return (mean - half, mean + half)


def mean_interval(n, reward_sum, reward_sq, binary):
    """(lo, hi, method) for a state visited n times: 'wilson' when binary (rewards 0/1),
    't' otherwise (sample variance from the sums, clamped at 0 against rounding)."""
    n = int(n)
    if n <= 0:
        return (math.nan, math.nan, "none")
    mean = reward_sum / n
    if binary:
        lo, hi = wilson_interval(reward_sum, n)
        return (lo, hi, "wilson")
    if n < 2 or not math.isfinite(reward_sq):
        return (math.nan, math.nan, "t")
    var = max(reward_sq - reward_sum * reward_sum / n, 0.0) / (n - 1)
    lo, hi = t_interval(mean, math.sqrt(var), n)
    return (lo, hi, "t")
