"""TikTak: the best fraction of the sample, each start pulled toward the best minimum.

Arnoud, Guvenen and Kleineberg, NBER w26340, 2019; the selection itself is
:func:`engine.search.selection.tiktak_select`, the rounds :mod:`engine.search.rounds`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engine.search.registry import register
from engine.search.rounds import ExplorationRounds, Sample
from engine.search.selection import tiktak_blend, tiktak_select

if TYPE_CHECKING:  # annotations only: the session imports engine.search
    from engine.session import Session


@register("tiktak")
class TikTak(ExplorationRounds):
    """Starts from the best tenth of the sample, later ones pulled closer to the best
    minimum so far; plus hops from the best minima.

    Examples
    --------
    >>> from engine.options import SearchOptions
    >>> TikTak(SearchOptions()).name
    'tiktak'
    """

    def pick(self, session: Session, sample: Sample) -> tuple[list[np.ndarray], list[int]]:
        selection = tiktak_select(sample.values, sample.used)
        best_unit = _best_unit(session, sample)
        done = int(sample.used.sum())
        total = max(1, int(np.ceil(0.1 * np.isfinite(sample.values).sum())))
        rows = [int(r) for r in selection.rows]
        return [tiktak_blend(sample.units[r], best_unit, done + k, total)
                for k, r in enumerate(rows)], rows


def _best_unit(session: Session, sample: Sample) -> np.ndarray:
    """The best minimum so far (unit box), or the best sample point before any."""
    if len(session.online):
        return session.problem.to_unit(session.online.best().x)
    return sample.units[int(np.argmin(sample.values))]
