"""Random draws the standard library lacks on Python 3.11: Poisson and binomial counts."""

from __future__ import annotations

import math
import random


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 50:  # normal approximation: exact enough for traffic counts, and O(1)
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    # Knuth's product method, O(lam)
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def binomial(rng: random.Random, n: int, p: float) -> int:
    if n <= 0 or p <= 0:
        return 0
    if p >= 1:
        return n
    if n * p > 40 and n * (1 - p) > 40:
        x = int(round(rng.gauss(n * p, math.sqrt(n * p * (1 - p)))))
        return min(n, max(0, x))
    if p > 0.5:
        return n - binomial(rng, n, 1 - p)
    # Count successes by skipping geometric gaps: O(n*p) instead of O(n).
    log_q = math.log(1 - p)
    count, pos = 0, 0
    while True:
        pos += int(math.log(1 - rng.random()) / log_q) + 1
        if pos > n:
            return count
        count += 1


def normal_cdf(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))
