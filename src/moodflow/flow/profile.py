"""Listener histories and taste profiles (one or several centres in the space)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from moodflow.errors import MoodflowError


class HistoryError(MoodflowError):
    """A history entry is invalid."""


@dataclass(frozen=True)
class HistoryEntry:
    """One listened track: play count and, optionally, the last play time (Unix seconds)."""

    track_id: str
    plays: float = 1.0
    last_played: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.plays, (int, float)) or not math.isfinite(self.plays) or self.plays <= 0:
            raise HistoryError(f"play count of track {self.track_id!r} must be a positive number, got {self.plays!r}")
        if self.last_played is not None and not math.isfinite(self.last_played):
            raise HistoryError(f"last_played of track {self.track_id!r} must be a finite Unix time, got {self.last_played!r}")


@dataclass
class ResolvedHistory:
    """A history reduced to known catalogue rows, with what was dropped."""

    rows: np.ndarray
    plays: np.ndarray
    last_played: np.ndarray  # NaN where unknown
    unknown_ids: list[str]
    capped_from: int | None  # number of distinct tracks before the cap, or None


def resolve_history(entries: list[HistoryEntry], row_of, max_history: int) -> ResolvedHistory:
    """Merge duplicate entries, drop unknown ids and keep at most `max_history` tracks.

    Duplicates sum their plays and keep the latest play time. Over the cap,
    the most recently played tracks are kept, then the most played.
    """
    merged: dict[str, list[float]] = {}
    for entry in entries:
        plays, last = merged.get(entry.track_id, [0.0, math.nan])
        latest = entry.last_played if entry.last_played is not None else math.nan
        if math.isnan(last) or (not math.isnan(latest) and latest > last):
            last = latest
        merged[entry.track_id] = [plays + float(entry.plays), last]

    capped_from = None
    if len(merged) > max_history:
        capped_from = len(merged)
        ordered = sorted(merged.items(), key=lambda item: (-_nan_to(item[1][1], -math.inf), -item[1][0], item[0]))
        merged = dict(ordered[:max_history])

    rows, plays, last_played, unknown = [], [], [], []
    for track_id, (count, last) in merged.items():
        row = row_of(track_id)
        if row is None:
            unknown.append(track_id)
            continue
        rows.append(row)
        plays.append(count)
        last_played.append(last)
    return ResolvedHistory(
        rows=np.asarray(rows, dtype=np.int64),
        plays=np.asarray(plays, dtype=np.float64),
        last_played=np.asarray(last_played, dtype=np.float64),
        unknown_ids=unknown,
        capped_from=capped_from,
    )


def _nan_to(value: float, replacement: float) -> float:
    return replacement if math.isnan(value) else value


def taste_centres(
    vectors: np.ndarray,
    weights: np.ndarray,
    max_centres: int,
    min_tracks_per_centre: int,
    seed: int,
    min_silhouette: float = 0.25,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cluster history vectors [n, d] into 1..max_centres unit centres.

    Runs weighted k-means (k-means++ start, Lloyd steps) for each k from 2 to
    the largest k that leaves `min_tracks_per_centre` tracks per centre on
    average, and keeps the k with the best silhouette if it exceeds
    `min_silhouette`; otherwise one centre, the weighted mean. Returns the
    centres [k, d], their weights (share of history weight, summing to 1)
    and the cluster label of each history track.

    NOTE: this is a small numpy k-means rather than scikit-learn's KMeans,
    which costs about 10 ms per fit on this data and would dominate the
    latency of a session's first page.
    """
    n = len(vectors)
    weights = np.asarray(weights, dtype=np.float64)
    single = _unit(np.average(vectors, axis=0, weights=weights))[None, :]
    best = (single, np.ones(1), np.zeros(n, dtype=np.int64))
    largest_k = min(max_centres, n // max(min_tracks_per_centre, 1))
    if largest_k < 2:
        return best

    rng = np.random.default_rng(seed)
    similarity = vectors @ vectors.T
    best_silhouette = min_silhouette
    for k in range(2, largest_k + 1):
        centres, labels = _weighted_kmeans(vectors, weights, k, rng)
        if len(np.unique(labels)) < k:
            continue
        score = _silhouette(1.0 - similarity, labels)
        if score > best_silhouette:
            best_silhouette = score
            shares = np.array([weights[labels == c].sum() for c in range(k)])
            best = (centres, shares / shares.sum(), labels)
    return best


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vector)
    return (vector / norm).astype(np.float32) if norm > 0 else vector.astype(np.float32)


def _weighted_kmeans(vectors, weights, k, rng, iterations: int = 20):
    n = len(vectors)
    first = rng.choice(n, p=weights / weights.sum())
    chosen = [first]
    distance = 1.0 - vectors @ vectors[first]
    for _ in range(1, k):
        probabilities = np.clip(distance, 0, None) * weights
        total = probabilities.sum()
        candidate = rng.choice(n, p=probabilities / total) if total > 0 else rng.integers(n)
        chosen.append(candidate)
        distance = np.minimum(distance, 1.0 - vectors @ vectors[candidate])
    centres = vectors[chosen].astype(np.float64)
    labels = np.zeros(n, dtype=np.int64)
    for _ in range(iterations):
        new_labels = np.argmax(vectors @ centres.T, axis=1)
        if _ > 0 and np.array_equal(new_labels, labels):
            break
        labels = new_labels
        for c in range(k):
            members = labels == c
            if members.any():
                centres[c] = _unit(np.average(vectors[members], axis=0, weights=weights[members]))
    return centres.astype(np.float32), labels


def _silhouette(distance: np.ndarray, labels: np.ndarray) -> float:
    clusters = np.unique(labels)
    mean_to = np.stack([distance[:, labels == c].mean(axis=1) for c in clusters], axis=1)
    own = np.searchsorted(clusters, labels)
    sizes = np.array([(labels == c).sum() for c in clusters])
    # Exclude the zero self-distance from the mean distance to the own cluster.
    a = mean_to[np.arange(len(labels)), own] * sizes[own] / np.maximum(sizes[own] - 1, 1)
    others = mean_to.copy()
    others[np.arange(len(labels)), own] = np.inf
    b = others.min(axis=1)
    values = np.where(sizes[own] > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(values.mean())
