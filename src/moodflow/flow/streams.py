"""Candidate streams that Flow pages draw from.

A stream yields `(row, score, source, reason)` candidates in its order and
skips rows already served. A candidate that a page rejects (artist cap) is
deferred: it comes first again on the next page instead of being lost.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class RankedStream:
    """A finite stream over a precomputed ranking.

    `describe(row, score)` returns the reason shown for a candidate; it runs
    only for candidates actually offered, because rankings can cover the
    whole catalogue.
    """

    def __init__(self, rows: np.ndarray, scores: np.ndarray, source: str, describe: Callable[[int, float], str]) -> None:
        self._rows = np.asarray(rows, dtype=np.int64)
        self._scores = np.asarray(scores, dtype=np.float64)
        self._source = source
        self._describe = describe
        self._position = 0
        self._ready: list[tuple] = []
        self._deferred: list[tuple] = []

    def next(self, used: np.ndarray):
        while self._ready:
            candidate = self._ready.pop(0)
            if not used[candidate[0]]:
                return candidate
        while self._position < len(self._rows):
            i = self._position
            self._position += 1
            row = self._rows[i]
            if not used[row]:
                score = float(self._scores[i])
                return int(row), score, self._source, self._describe(int(row), score)
        return None

    def defer(self, candidate: tuple) -> None:
        self._deferred.append(candidate)

    def end_page(self) -> None:
        self._ready = self._deferred + self._ready
        self._deferred = []


class DiscoveryStream(RankedStream):
    """Nearest neighbours of several taste centres, interleaved by centre weight.

    Each centre's neighbour list is fetched in growing blocks (`block`, then
    doubling k), so the stream is endless until the candidates run out.
    Centres take turns by smooth weighted round robin, so a centre holding
    30 % of the history weight supplies about 30 % of the discoveries.
    """

    def __init__(
        self, catalogue, centres, centre_weights, candidate_mask, block, mood_weight, jitter, rng,
        search_rows=None, subset_key=None, boost=None,
    ) -> None:
        """`search_rows` (None: all rows) are searched, then `candidate_mask` filters the results.

        `boost` (per row, or None) is added to the similarity before ranking.
        Rows with a positive boost join each centre's first block even when
        the search did not return them (the history's co-occurrence partners).
        """
        super().__init__(np.zeros(0), np.zeros(0), "discovery", lambda row, score: "")
        self.catalogue = catalogue
        self.centres = np.asarray(centres, dtype=np.float32)
        self.weights = np.asarray(centre_weights, dtype=np.float64)
        self.candidate_mask = candidate_mask
        self.search_rows = search_rows
        self.block = block
        self.mood_weight = mood_weight
        self.jitter = jitter
        self.rng = rng
        self.subset_key = subset_key
        self.boost = boost
        k = len(self.centres)
        self._lists: list[list[tuple[int, float]]] = [[] for _ in range(k)]
        self._pointers = [0] * k
        self._fetched = [0] * k
        self._done = [False] * k
        self._credit = np.zeros(k)

    def next(self, used: np.ndarray):
        while self._ready:
            candidate = self._ready.pop(0)
            if not used[candidate[0]]:
                return candidate
        while not all(self._done):
            centre = self._pick_centre()
            candidate = self._next_of(centre, used)
            if candidate is not None:
                return candidate
        return None

    def _pick_centre(self) -> int:
        active = np.array([not d for d in self._done])
        self._credit[active] += self.weights[active]
        credit = np.where(active, self._credit, -np.inf)
        centre = int(np.argmax(credit))
        self._credit[centre] -= self.weights[active].sum()
        return centre

    def _next_of(self, centre: int, used: np.ndarray):
        while True:
            entries = self._lists[centre]
            while self._pointers[centre] < len(entries):
                row, similarity, score = entries[self._pointers[centre]]
                self._pointers[centre] += 1
                if not used[row]:
                    n = len(self.centres)
                    where = f"taste centre {centre + 1} of {n}" if n > 1 else "your taste"
                    # The ranking score adds playlist co-occurrence with the history to
                    # the cosine similarity, so a low similarity can still rank high.
                    reason = f"discovery for {where} (similarity {similarity:.2f}, score {score:.2f})"
                    return row, score, "discovery", reason
            if not self._fetch(centre):
                self._done[centre] = True
                return None

    def _fetch(self, centre: int) -> bool:
        """Extend the centre's list with the next block of neighbours; False when none remain."""
        limit = len(self.catalogue) if self.search_rows is None else len(self.search_rows)
        previous = self._fetched[centre]
        if previous >= limit:
            return False
        k = min(limit, max(self.block, 2 * previous))
        rows, similarity = self.catalogue.search(
            self.centres[centre], k, allowed_rows=self.search_rows, subset_key=self.subset_key
        )
        self._fetched[centre] = k
        rows, similarity = rows[previous:], similarity[previous:].astype(np.float64)
        if self.boost is not None and previous == 0:
            partners = np.flatnonzero((self.boost > 0) & self.candidate_mask)
            partners = partners[~np.isin(partners, rows)]
            rows = np.concatenate([rows, partners])
            similarity = np.concatenate([similarity, self.catalogue.vectors[partners] @ self.centres[centre]])
        keep = self.candidate_mask[rows]
        rows, similarity = rows[keep], similarity[keep]
        score = similarity + self.boost[rows] if self.boost is not None else similarity
        if self.mood_weight is not None:
            score = score * self.mood_weight[rows]
        spread = np.std(score) if len(score) > 1 else 0.0
        order = np.argsort(-(score + self.rng.gumbel(size=len(score)) * self.jitter * spread), kind="stable")
        self._lists[centre].extend((int(rows[i]), float(similarity[i]), float(score[i])) for i in order)
        return True


class LazyStream:
    """A stream built on first use, for fallbacks that most pages never reach."""

    def __init__(self, build: Callable[[], RankedStream]) -> None:
        self._build = build
        self._stream: RankedStream | None = None

    def next(self, used: np.ndarray):
        if self._stream is None:
            self._stream = self._build()
        return self._stream.next(used)

    def defer(self, candidate: tuple) -> None:
        self._stream.defer(candidate)

    def end_page(self) -> None:
        if self._stream is not None:
            self._stream.end_page()
