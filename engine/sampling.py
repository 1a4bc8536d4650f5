"""Space-filling start points inside a box.

Every generator returns points strictly inside the bounds. One integer seed fixes all of them:
it becomes a :class:`numpy.random.SeedSequence`, whose child ``(0,)`` drives the quasi-random
samplers and whose child ``(1, i)`` drives start ``i`` of the ``uniform`` sampler, so start ``i``
is the same point whatever the number of starts or workers.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from scipy.stats import qmc

from engine.exceptions import ConfigError

SOBOL_SEQ_MAX_DIM = 40
# Points are kept this far (as a fraction of the width) from each face so that every start is
# strictly inside the box even where a generator returns exactly 0.
_EDGE = 1e-9


def seed_sequence(seed: int | np.random.SeedSequence | None) -> np.random.SeedSequence:
    """Return the run's root SeedSequence; ``None`` draws fresh entropy (recorded in results).

    Examples
    --------
    >>> seed_sequence(7).entropy
    7
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ConfigError(
            f"seed={seed!r} is not allowed; use a non-negative integer or None (fresh entropy)"
        )
    if seed is not None and seed < 0:
        raise ConfigError(f"seed={seed} is negative; use a non-negative integer or None")
    return np.random.SeedSequence(None if seed is None else int(seed))


def _child(root: np.random.SeedSequence, *key: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, *key))


def start_rng(root: np.random.SeedSequence, index: int) -> np.random.Generator:
    """The random generator that belongs to start ``index`` alone."""
    return np.random.default_rng(_child(root, 1, index))


def _unit_sobol(n: int, d: int, root: np.random.SeedSequence) -> np.ndarray:
    engine = qmc.Sobol(d=d, scramble=True, seed=np.random.default_rng(_child(root, 0)))
    with warnings.catch_warnings():
        # The balance note for n not a power of two does not apply: start i is fixed for any n.
        warnings.simplefilter("ignore", UserWarning)
        return engine.random(n)


def _unit_halton(n: int, d: int, root: np.random.SeedSequence) -> np.ndarray:
    engine = qmc.Halton(d=d, scramble=True, seed=np.random.default_rng(_child(root, 0)))
    return engine.random(n)


def _unit_lhs(n: int, d: int, root: np.random.SeedSequence) -> np.ndarray:
    engine = qmc.LatinHypercube(d=d, seed=np.random.default_rng(_child(root, 0)))
    return engine.random(n)


def _unit_lhs_cd(n: int, d: int, root: np.random.SeedSequence) -> np.ndarray:
    # Latin hypercube whose centred discrepancy is lowered by random coordinate swaps:
    # still one point per stratum in each coordinate, and more even in the plane.
    engine = qmc.LatinHypercube(d=d, optimization="random-cd",
                                seed=np.random.default_rng(_child(root, 0)))
    return engine.random(n)


def _unit_uniform(n: int, d: int, root: np.random.SeedSequence) -> np.ndarray:
    return np.array([start_rng(root, i).random(d) for i in range(n)]).reshape(n, d)


def _unit_sobol_seq(n: int, d: int, root: np.random.SeedSequence) -> np.ndarray:
    if d > SOBOL_SEQ_MAX_DIM:
        raise ConfigError(
            f"sampler='sobol-seq' supports at most {SOBOL_SEQ_MAX_DIM} dimensions but the "
            f"problem has {d}; use sampler='sobol' (scipy.stats.qmc), which has no such limit"
        )
    import sobol_seq

    # The package already leaves out the all-zero point, so its first start is the centre.
    return np.asarray(sobol_seq.i4_sobol_generate(d, n), dtype=float)


_GENERATORS: dict[str, Callable[[int, int, np.random.SeedSequence], np.ndarray]] = {
    "sobol": _unit_sobol,
    "halton": _unit_halton,
    "lhs": _unit_lhs,
    "lhs-cd": _unit_lhs_cd,
    "uniform": _unit_uniform,
    "sobol-seq": _unit_sobol_seq,
}
#: Sampler names. A new sampler is one function ``f(n, d, root) -> (n, d) unit points`` and
#: its entry above; it is then drawn eagerly (the whole prefix) wherever it is used.
SAMPLERS = tuple(_GENERATORS)


def sample_unit(
    sampler: str, n: int, d: int, seed: int | np.random.SeedSequence | None = None
) -> np.ndarray:
    """``n`` points of dimension ``d`` strictly inside the unit box.

    Parameters
    ----------
    sampler : {'sobol', 'halton', 'lhs', 'lhs-cd', 'uniform', 'sobol-seq'}
        ``sobol``/``halton`` are scrambled, seeded :mod:`scipy.stats.qmc` sequences, ``lhs`` a
        Latin hypercube (``lhs-cd`` with its centred discrepancy lowered), ``uniform``
        independent uniform points, ``sobol-seq`` the unscrambled sequence of the
        ``sobol-seq`` package (deterministic, at most 40 dimensions).
    n, d : int
        Number of points and dimension.
    seed : int, SeedSequence or None
        Root seed of the run.

    Examples
    --------
    >>> u = sample_unit("sobol", 8, 3, seed=1)
    >>> u.shape, bool(((u > 0) & (u < 1)).all())
    ((8, 3), True)
    """
    if sampler not in _GENERATORS:
        raise ConfigError(
            f"sampler={sampler!r} is unknown; allowed: {', '.join(SAMPLERS)} "
            "(or pass an array of start points)"
        )
    if n <= 0:
        return np.empty((0, d))
    unit = _GENERATORS[sampler](n, d, seed_sequence(seed))
    return np.clip(unit, _EDGE, 1.0 - _EDGE)


def iter_unit_blocks(
    sampler: str, n: int, d: int, seed: int | np.random.SeedSequence | None = None,
    block: int = 1024,
) -> Iterator[np.ndarray]:
    """The points of :func:`sample_unit`, produced lazily in blocks of at most ``block``.

    The concatenated blocks equal ``sample_unit(sampler, n, d, seed)``, so start ``i`` does
    not depend on how (or whether) the sequence is cut. Memory stays bounded for huge ``n``.

    Examples
    --------
    >>> blocks = list(iter_unit_blocks("sobol", 10, 2, seed=3, block=4))
    >>> [len(b) for b in blocks]
    [4, 4, 2]
    >>> bool(np.array_equal(np.vstack(blocks), sample_unit("sobol", 10, 2, seed=3)))
    True
    """
    if sampler not in _GENERATORS:
        sample_unit(sampler, 0, d)  # raises the ConfigError naming the allowed samplers
    root = seed_sequence(seed)
    if sampler in ("sobol", "halton"):
        cls = qmc.Sobol if sampler == "sobol" else qmc.Halton
        engine = cls(d=d, scramble=True, seed=np.random.default_rng(_child(root, 0)))
        for first in range(0, n, block):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # Sobol balance note for odd n
                unit = engine.random(min(block, n - first))
            yield np.clip(unit, _EDGE, 1.0 - _EDGE)
    elif sampler == "uniform":
        for first in range(0, n, block):
            count = min(block, n - first)
            unit = np.array([start_rng(root, first + i).random(d) for i in range(count)])
            yield np.clip(unit.reshape(count, d), _EDGE, 1.0 - _EDGE)
    else:
        unit = sample_unit(sampler, n, d, root)
        for first in range(0, n, block):
            yield unit[first : first + block]


def sample_starts(
    sampler: str,
    n: int,
    lower: np.ndarray,
    upper: np.ndarray,
    seed: int | np.random.SeedSequence | None = None,
) -> np.ndarray:
    """``n`` start points strictly inside the box ``[lower, upper]``.

    Examples
    --------
    >>> pts = sample_starts("halton", 4, np.array([-5.0, 0.0]), np.array([5.0, 1.0]), seed=0)
    >>> pts.shape
    (4, 2)
    """
    lower = np.asarray(lower, dtype=float)
    upper = np.asarray(upper, dtype=float)
    unit = sample_unit(sampler, n, lower.size, seed)
    return lower + unit * (upper - lower)


class UnitStream:
    """An open-ended stream of sample points in the unit box, drawn ``n`` at a time.

    The points drawn in total do not depend on how the draws are cut, so a run that samples
    in rounds is repeated exactly from the same seed.

    Examples
    --------
    >>> stream = UnitStream("sobol", 2, seed=5)
    >>> a = np.vstack([stream.draw(4), stream.draw(4)])
    >>> bool(np.array_equal(a, UnitStream("sobol", 2, seed=5).draw(8)))
    True
    """

    def __init__(self, sampler: str, d: int,
                 seed: int | np.random.SeedSequence | None = None) -> None:
        if sampler not in _GENERATORS:
            sample_unit(sampler, 0, d)  # raises the ConfigError naming the allowed samplers
        self.sampler = sampler
        self.d = d
        self.root = seed_sequence(seed)
        self.drawn = 0
        self._engine: Any = None
        if sampler in ("sobol", "halton"):
            cls = qmc.Sobol if sampler == "sobol" else qmc.Halton
            # Its own child of the seed: the exploration sample is not the start sequence.
            self._engine = cls(d=d, scramble=True, seed=np.random.default_rng(_child(self.root, 1)))
        elif sampler == "uniform":
            self._engine = np.random.default_rng(_child(self.root, 1))

    def draw(self, n: int) -> np.ndarray:
        """The next ``n`` points, shape ``(n, d)``, strictly inside the unit box."""
        if n <= 0:
            return np.empty((0, self.d))
        if isinstance(self._engine, np.random.Generator):
            unit = self._engine.random((n, self.d))
        elif self._engine is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # Sobol balance note for odd n
                unit = self._engine.random(n)
        else:  # lhs, sobol-seq: generate the prefix again and take the new part
            unit = sample_unit(self.sampler, self.drawn + n, self.d, _child(self.root, 1))[
                self.drawn:]
        self.drawn += n
        return np.clip(unit, _EDGE, 1.0 - _EDGE)
