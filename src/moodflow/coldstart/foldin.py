"""Fold-in: a space vector for a track from the first playlists that contain it.

The vector is the PPMI-weighted mean of the warm tracks the new track
co-occurs with, `v = normalize(sum_j w_j * v_j)`, where `w_j` is the PPMI
weight the space build would give the pair (new track, warm track j) if the
given playlists were the new track's only playlists. The weights come from
the space itself, so fold-in always matches the build's weighting.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

logger = logging.getLogger(__name__)


def ppmi_weights(space, playlists: Sequence[Sequence[str]]) -> dict[str, float]:
    """Return the PPMI weight of each warm track co-occurring with a new track.

    `playlists` lists the new track's first playlists, each as the ids of the
    other tracks in it. Tracks that are not warm in `space` get no weight.
    """
    return dict(space.fold_in_weights(playlists))


def fold_in(space, playlists: Sequence[Sequence[str]]) -> np.ndarray | None:
    """Return the unit fold-in vector of a new track, or None without warm partners.

    When every PPMI weight is zero (a shifted PPMI can clip all of a rare
    track's pairs), the warm partners are weighted by their co-occurrence
    count instead, so a track with warm partners always gets a direction.
    A track with exactly one warm partner gets that partner's vector.
    """
    weights = ppmi_weights(space, playlists)
    if not weights or not any(weight > 0 for weight in weights.values()):
        weights = _cooccurrence_counts(space, playlists)
    if not weights:
        return None

    rows = np.fromiter((space.row_of(track_id) for track_id in weights), dtype=np.int64, count=len(weights))
    values = np.fromiter(weights.values(), dtype=np.float64, count=len(weights))
    vector = values @ space.vectors[rows].astype(np.float64)
    norm = np.linalg.norm(vector)
    if not np.isfinite(norm) or norm == 0.0:
        return None
    return (vector / norm).astype(np.float32)


def _cooccurrence_counts(space, playlists: Sequence[Sequence[str]]) -> dict[str, float]:
    warm = set(space.track_ids.tolist()) if not hasattr(space, "has_track") else None
    counts: dict[str, float] = {}
    for playlist in playlists:
        for track_id in set(playlist):
            is_warm = space.has_track(track_id) if warm is None else track_id in warm
            if is_warm:
                counts[track_id] = counts.get(track_id, 0.0) + 1.0
    return counts
