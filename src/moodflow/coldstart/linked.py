"""Generated linked data at the feature level, for tests and benchmarks of the audio projection.

No public data set pairs real audio with playlists, so the audio path is
checked on tracks whose tagger outputs (embedding, mood and genre
probabilities) and playlists derive from the same hidden taste factors. No
audio is generated here: the features stand in for the tagger's output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def linked_world(seed=0, n_tracks=400, n_clusters=6, n_playlists=3000, embedding_dim=24, n_moods=3, n_genres=4):
    """Generate tracks whose audio features and playlists derive from the same hidden factors.

    Each track has a taste factor (its cluster centre plus noise). Its
    embedding is a fixed linear map of the factor plus noise, its mood and
    genre probabilities a softmax of another map. Each playlist draws 4-8
    tracks of one cluster with weights `popularity * exp(factor . d)` for a
    random direction d, so both the cluster and the factor within it shape
    the playlists. Returns the playlists table, the tags table and the
    cluster of each track.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, 8)) * 2.0
    clusters = rng.integers(0, n_clusters, size=n_tracks)
    factors = centres[clusters] + 0.5 * rng.normal(size=(n_tracks, 8))
    embeddings = factors @ rng.normal(size=(8, embedding_dim)) + 0.3 * rng.normal(size=(n_tracks, embedding_dim))
    logits = factors @ rng.normal(size=(8, n_moods + n_genres))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    track_ids = np.array([f"trk-{i:05d}" for i in range(n_tracks)])
    popularity = rng.pareto(2.0, size=n_tracks) + 1.0

    rows = []
    for playlist in range(n_playlists):
        members = np.flatnonzero(clusters == rng.integers(0, n_clusters))
        tilt = factors[members] @ rng.normal(size=8)
        weights = popularity[members] * np.exp(tilt - tilt.max())
        weights /= weights.sum()
        size = min(len(members), int(rng.integers(4, 9)))
        for position, track in enumerate(rng.choice(members, size=size, replace=False, p=weights)):
            rows.append((f"pl-{playlist:05d}", track_ids[track], position))
    playlists = pd.DataFrame(rows, columns=["playlist_id", "track_id", "position"])

    tags = pd.DataFrame({"track_id": track_ids, "path": [f"{t}.wav" for t in track_ids], "duration_s": 30.0, "model_id": "tagger-test"})
    for index in range(n_moods):
        tags[f"mood_m{index}"] = probabilities[:, index].astype(np.float32)
    for index in range(n_genres):
        tags[f"genre_g{index}"] = probabilities[:, n_moods + index].astype(np.float32)
    tags["embedding"] = list(embeddings.astype(np.float32))
    return playlists, tags, dict(zip(track_ids, clusters))

