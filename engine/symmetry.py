"""Interchangeable parameter groups: one representative for every relabelling of a point.

A model that sums identical terms (two Gaussian peaks, three exponentials) has the same value
when the terms' parameters swap places, so every minimum has copies that differ only in the
labels. Given the groups that may be permuted (``symmetries=``), each converged point is put
in canonical order (the groups sorted by their values, first parameter first), so the copies
merge into one minimum.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.exceptions import ProblemError

#: One symmetry: equally long groups of parameter indices whose values may be permuted.
Symmetry = tuple[tuple[int, ...], ...]


def parse_symmetries(value: Any, lower: np.ndarray, upper: np.ndarray) -> tuple[Symmetry, ...]:
    """Check ``symmetries=`` and return it as tuples of index groups.

    ``value`` is one symmetry (a list of index groups, ``[[0, 1, 2], [3, 4, 5]]``) or a list
    of them (``[[[0, 1], [2, 3]], [[4], [5]]]``); None or empty means none.

    Raises
    ------
    ProblemError
        Groups of different lengths, fewer than two groups, an index out of range or used
        twice, or permuted groups whose bounds differ (a relabelled copy would leave the box).

    Examples
    --------
    >>> parse_symmetries([[0, 1], [2, 3]], np.zeros(4), np.ones(4))
    (((0, 1), (2, 3)),)
    """
    if value is None or (hasattr(value, "__len__") and len(value) == 0):
        return ()
    fix = ("give the groups of parameter indices that may swap places, e.g. "
           "symmetries=[[0, 1, 2], [3, 4, 5]] for two peaks of (height, centre, width)")
    try:
        nested = isinstance(value[0][0], (list, tuple, np.ndarray))
    except (TypeError, IndexError, KeyError):
        raise ProblemError(f"symmetries={value!r} is not a list of index groups; {fix}") from None
    sets = value if nested else [value]
    dim = lower.size
    parsed: list[Symmetry] = []
    used: set[int] = set()
    for s, groups in enumerate(sets):
        try:
            groups_t = tuple(tuple(int(i) for i in group) for group in groups)
        except (TypeError, ValueError):
            raise ProblemError(f"symmetries[{s}]={groups!r} holds something that is not an "
                               f"integer index; {fix}") from None
        if len(groups_t) < 2 or len({len(g) for g in groups_t}) != 1 or not groups_t[0]:
            raise ProblemError(f"symmetries[{s}]={groups!r} must be two or more non-empty "
                               f"groups of equal length; {fix}")
        flat = [i for g in groups_t for i in g]
        bad = [i for i in flat if not 0 <= i < dim]
        if bad:
            raise ProblemError(f"symmetries[{s}] names index {bad[0]} but the problem has "
                               f"{dim} parameters (indices 0..{dim - 1}); {fix}")
        if len(set(flat)) != len(flat) or used & set(flat):
            raise ProblemError(f"symmetries[{s}]={groups!r} uses an index twice; each "
                               f"parameter may belong to one group only")
        used |= set(flat)
        first = groups_t[0]
        for group in groups_t[1:]:
            if not (np.array_equal(lower[list(group)], lower[list(first)])
                    and np.array_equal(upper[list(group)], upper[list(first)])):
                raise ProblemError(
                    f"symmetries[{s}]: groups {list(first)} and {list(group)} have different "
                    "bounds, so a relabelled copy of a point may lie outside the box; give "
                    "interchangeable parameters equal bounds")
        parsed.append(groups_t)
    return tuple(parsed)


def canonical(x: np.ndarray, symmetries: tuple[Symmetry, ...]) -> tuple[np.ndarray, bool]:
    """``x`` with each symmetry's groups sorted by their values; whether that moved any.

    Examples
    --------
    >>> y, moved = canonical(np.array([3.0, 0.1, 1.0, 0.2]), (((0, 1), (2, 3)),))
    >>> y.tolist(), moved
    ([1.0, 0.2, 3.0, 0.1], True)
    """
    if not symmetries:
        return x, False
    out = np.array(x, dtype=float)
    moved = False
    for groups in symmetries:
        index = np.array(groups)
        blocks = out[index]  # (n_groups, group length)
        order = np.lexsort(blocks.T[::-1])  # by the first parameter, ties by the next
        if (order != np.arange(len(order))).any():
            out[index] = blocks[order]
            moved = True
    return out, moved


def describe(symmetries: tuple[Symmetry, ...]) -> str:
    """The symmetries in words, for notes.

    Examples
    --------
    >>> describe((((0, 1), (2, 3)),))
    'parameter groups [0, 1] <-> [2, 3]'
    """
    return "; ".join("parameter groups " + " <-> ".join(str(list(g)) for g in groups)
                     for groups in symmetries)
