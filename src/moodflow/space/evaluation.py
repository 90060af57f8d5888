"""Playlist-continuation evaluation of a space against simple baselines.

Protocol: among playlists with at least 3 distinct tracks, a random fraction
has its last track held out. The space is built on everything else, and for
each held-out playlist the remaining tracks are the query. A method ranks
candidate tracks (never the query tracks themselves) and scores a hit when
the held-out track is in its top k. NDCG uses the single relevant item:
1 / log2(rank + 1) with rank starting at 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from moodflow.space.cooccurrence import Playlists


@dataclass(frozen=True)
class ContinuationSplit:
    """Training playlists and the held-out continuation queries.

    `queries[i]` are track indices (into `train.track_ids`) of query i, in
    playlist order, and `targets[i]` is the held-out track index. The
    training playlists keep the query tracks of each held-out playlist;
    `query_playlists[i]` is the row of query i's playlist in `train`.
    """

    train: Playlists
    queries: list[np.ndarray]
    targets: np.ndarray
    query_playlists: np.ndarray


def continuation_split(playlists: Playlists, fraction: float = 0.1, min_tracks: int = 3, seed: int = 0) -> ContinuationSplit:
    """Hold out the last track of a random `fraction` of playlists with >= `min_tracks` tracks."""
    lengths = playlists.lengths
    eligible = np.flatnonzero(lengths >= min_tracks)
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(eligible, size=int(round(fraction * len(eligible))), replace=False))

    keep = np.ones(len(playlists.indices), dtype=bool)
    keep[playlists.indptr[chosen + 1] - 1] = False
    targets = playlists.indices[playlists.indptr[chosen + 1] - 1].astype(np.int64)
    queries = [playlists.indices[playlists.indptr[p]: playlists.indptr[p + 1] - 1].astype(np.int64) for p in chosen]
    new_lengths = lengths - np.isin(np.arange(len(lengths)), chosen)
    indptr = np.concatenate([[0], np.cumsum(new_lengths)]).astype(np.int64)
    train = Playlists(track_ids=playlists.track_ids, indptr=indptr, indices=playlists.indices[keep])
    return ContinuationSplit(train=train, queries=queries, targets=targets, query_playlists=chosen)


def incidence_matrix(playlists: Playlists) -> sp.csr_matrix:
    """Return the binary playlists x tracks matrix."""
    data = np.ones(len(playlists.indices), dtype=np.float32)
    return sp.csr_matrix((data, playlists.indices, playlists.indptr), shape=(playlists.n_playlists, len(playlists.track_ids)))


def hit_metrics(rankings: list[np.ndarray], targets: np.ndarray, mask: np.ndarray | None = None) -> dict[str, float]:
    """Return HR@10, HR@50 and NDCG@50 of ranked track indices against single targets."""
    ranks = np.full(len(targets), np.inf)
    for i, (ranking, target) in enumerate(zip(rankings, targets)):
        found = np.flatnonzero(np.asarray(ranking)[:50] == target)
        if len(found):
            ranks[i] = found[0] + 1
    if mask is not None:
        ranks = ranks[mask]
    ndcg = np.where(np.isfinite(ranks), 1.0 / np.log2(np.minimum(ranks, 1e9) + 1), 0.0)
    return {
        "hr@10": float(np.mean(ranks <= 10)),
        "hr@50": float(np.mean(ranks <= 50)),
        "ndcg@50": float(np.mean(ndcg)),
        "n": int(len(ranks)),
    }


def top_k_excluding(scores: np.ndarray, exclude: np.ndarray, k: int) -> np.ndarray:
    """Return the indices of the k largest scores, skipping `exclude` and non-positive scores."""
    scores = scores.astype(np.float64).copy()
    scores[exclude] = -np.inf
    top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return top[np.isfinite(scores[top])]


def rank_by_popularity(track_counts: np.ndarray, queries: list[np.ndarray], k: int = 50) -> list[np.ndarray]:
    """Rank every query's candidates by training playlist count."""
    order = np.argsort(-track_counts, kind="stable")[: k + 200]
    rankings = []
    for query in queries:
        rankings.append(order[~np.isin(order, query)][:k])
    return rankings


def rank_by_cooccurrence(counts: sp.csr_matrix, queries: list[np.ndarray], k: int = 50, batch: int = 2000) -> list[np.ndarray]:
    """Rank candidates by the sum of their co-occurrence counts with the query tracks (item kNN)."""
    rankings = []
    n_tracks = counts.shape[0]
    for start in range(0, len(queries), batch):
        chunk = queries[start: start + batch]
        rows = np.repeat(np.arange(len(chunk)), [len(query) for query in chunk])
        selector = sp.csr_matrix((np.ones(len(rows)), (rows, np.concatenate(chunk))), shape=(len(chunk), n_tracks))
        scores = (selector @ counts).tocsr()
        for i, query in enumerate(chunk):
            row = scores.getrow(i)
            values = row.data.astype(np.float64)
            columns = row.indices
            keep = ~np.isin(columns, query)
            values, columns = values[keep], columns[keep]
            order = np.lexsort((columns, -values))[:k]
            rankings.append(columns[order])
    return rankings
