"""When enough is known: Boender and Rinnooy Kan's Bayesian estimates from hit counts.

After ``n`` local solves (from starts spread uniformly over the region) that found ``w``
distinct minima, the posterior expectation of the total number of minima is

    N_est = w (n - 1) / (n - w - 2)                        (valid for n > w + 2)

and the expected fraction of the region covered by the basins of the minima found is

    coverage = (n - w - 1) (n + w) / (n (n - 1))

(Boender and Rinnooy Kan, "Bayesian stopping rules for multistart global optimization
methods", Math. Programming 37, 1987). The rule used here stops once ``N_est < w + 0.5``,
that is once the estimate says that no minimum is left to find.
"""

from __future__ import annotations

import math


def estimated_n_minima(n_solves: int, n_found: int) -> float:
    """Posterior expected number of minima; ``inf`` while too few solves to tell.

    Examples
    --------
    >>> estimated_n_minima(100, 4)
    4.212765957446808
    >>> estimated_n_minima(5, 4)
    inf
    """
    n, w = int(n_solves), int(n_found)
    if w == 0:
        return math.inf if n == 0 else 0.0
    if n <= w + 2:
        return math.inf
    return w * (n - 1) / (n - w - 2)


def estimated_coverage(n_solves: int, n_found: int) -> float:
    """Posterior expected fraction of the region in the basins of the minima found.

    Examples
    --------
    >>> round(estimated_coverage(100, 4), 4)
    0.9988
    >>> estimated_coverage(1, 1)
    0.0
    """
    n, w = int(n_solves), int(n_found)
    if n < 2 or n <= w + 1:
        return 0.0
    return (n - w - 1) * (n + w) / (n * (n - 1))


def bayes_says_stop(n_solves: int, n_found: int) -> bool:
    """True once the estimated number of minima is within 0.5 of the number found.

    Examples
    --------
    >>> bayes_says_stop(100, 4), bayes_says_stop(20, 4)
    (True, False)
    """
    return n_found > 0 and estimated_n_minima(n_solves, n_found) < n_found + 0.5
