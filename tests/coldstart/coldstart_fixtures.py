"""Generated fixtures for the cold-start tests."""

from __future__ import annotations

import numpy as np
from omegaconf import OmegaConf

from moodflow.coldstart.cli import DEFAULT_CONFIG


class VectorSpace:
    """A stand-in music space with given unit vectors (no playlists, no PPMI statistics)."""

    def __init__(self, track_ids, vectors, space_id="space-a"):
        self.track_ids = np.asarray(track_ids).astype(str)
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.dim = self.vectors.shape[1]
        self.space_id = space_id
        self._rows = {track_id: row for row, track_id in enumerate(self.track_ids)}

    def __contains__(self, track_id):
        return track_id in self._rows

    def row_of(self, track_id):
        return self._rows[track_id]


def unit_rows(matrix):
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def small_config(**overrides):
    """The shipped config with a short training schedule for tests."""
    config = OmegaConf.load(DEFAULT_CONFIG)
    settings = {"training.epochs": 25, "training.patience": 25, "model.hidden_dims": [128, 128]}
    settings.update(overrides)
    return OmegaConf.merge(config, OmegaConf.from_dotlist([f"{key}={value}" for key, value in settings.items()]))


def linked_world(seed=0, n_tracks=400, n_clusters=6, n_playlists=3000, embedding_dim=24, n_moods=3, n_genres=4):
    """Generate tracks whose audio features and playlists derive from the same hidden factors.

    Each track has a taste factor (its cluster centre plus noise). Its
    embedding is a fixed linear map of the factor plus noise, its mood and
    genre probabilities a softmax of another map; each playlist draws 4-8
    tracks of one cluster, favouring popular tracks. Returns the playlists
    table, the tags table and the cluster of each track.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, 8)) * 2.0
    clusters = rng.integers(0, n_clusters, size=n_tracks)
    factors = centres[clusters] + 0.5 * rng.normal(size=(n_tracks, 8))
    embeddings = factors @ rng.normal(size=(8, embedding_dim)) + 0.3 * rng.normal(size=(n_tracks, embedding_dim))
    logits = factors @ rng.normal(size=(8, n_moods + n_genres))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    track_ids = np.array([f"trk-{i:04d}" for i in range(n_tracks)])
    popularity = rng.pareto(2.0, size=n_tracks) + 1.0

    rows = []
    for playlist in range(n_playlists):
        members = np.flatnonzero(clusters == rng.integers(0, n_clusters))
        weights = popularity[members] / popularity[members].sum()
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


def build_small_space(playlists, dim=16):
    from moodflow.space import SpaceConfig, build_space

    return build_space(playlists, SpaceConfig(dim=dim, min_count=2))
