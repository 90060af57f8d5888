"""Fold-in: a space vector for a new track from the first playlists that contain it.

The vector is the PPMI-weighted mean of the warm tracks the new track
co-occurs with, `v = normalize(sum_j w_j * v_j)`. The weights `w_j` come
from `MusicSpace.fold_in_weights`, which weighs the pair (new track, j)
exactly as the space build would if the given playlists were the new
track's only playlists. A track with exactly one warm partner therefore
gets that partner's direction.

`MusicSpace.fold_in` offers the other classic fold-in, the projection of the
PPMI row through the SVD factors (`m · V · Σ^(alpha-1)`); `method="svd"`
selects it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

logger = logging.getLogger(__name__)

FOLD_IN_METHODS = ("mean", "svd")


def fold_in(space, playlists: Sequence[Sequence[str]], track_id: str | None = None, method: str = "mean") -> np.ndarray | None:
    """Return the unit fold-in vector of a new track, or None when it has no warm partner.

    `playlists` are the track's first playlists as track ids in position
    order, with or without the track itself. `track_id` names the track so
    that it is never its own partner. When every PPMI weight is zero,
    because a shifted PPMI can clip all pairs of a rare track, the mean
    weighs the warm partners by their co-occurrence counts instead.
    """
    if method not in FOLD_IN_METHODS:
        raise ValueError(f"invalid fold-in method {method!r}; use one of {FOLD_IN_METHODS}")
    weights = space.fold_in_weights(playlists, track_id=track_id)
    if method == "svd":
        return space.fold_in(weights)

    warm = {partner: weight for partner, weight in weights.items() if partner in space and weight > 0}
    if not warm:
        warm = _cooccurrence_counts(space, playlists, track_id)
    if not warm:
        return None
    rows = np.fromiter((space.row_of(partner) for partner in warm), dtype=np.int64, count=len(warm))
    values = np.fromiter(warm.values(), dtype=np.float64, count=len(warm))
    vector = values @ space.vectors[rows].astype(np.float64)
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm == 0.0:
        return None
    return (vector / norm).astype(np.float32)


def _cooccurrence_counts(space, playlists: Sequence[Sequence[str]], track_id: str | None) -> dict[str, float]:
    counts: dict[str, float] = {}
    for playlist in playlists:
        for partner in dict.fromkeys(str(item) for item in playlist):
            if partner != track_id and partner in space:
                counts[partner] = counts.get(partner, 0.0) + 1.0
    return counts
