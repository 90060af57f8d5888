"""Generated catalogues with a known structure, for tests and benchmarks.

Tracks fall into `n_clusters` tight clusters of the space (tastes). Every
artist belongs to one cluster, each cluster has one dominant mood, and a few
tracks per cluster are new releases. Nothing here reads real data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from moodflow.flow.catalogue import Catalogue
from moodflow.flow.moods import MoodVocabulary

GENERATED_SPACE_ID = "generated0000000"


def make_catalogue(
    vocabulary: MoodVocabulary,
    n_tracks: int = 2000,
    n_clusters: int = 8,
    dim: int = 32,
    tracks_per_artist: int = 10,
    n_new_releases: int = 40,
    seed: int = 0,
    spread: float = 0.35,
) -> Catalogue:
    """Build a `Catalogue` of `n_tracks` warm tracks plus `n_new_releases`.

    Track ids are `t00000`..., new releases `new0000`...; cluster `c` holds
    tracks whose index modulo `n_clusters` is `c`, its dominant mood is
    `vocabulary.moods[c % n_moods]` with scores near 0.9 (at most 0.98), other moods near 0.1.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    total = n_tracks + n_new_releases
    cluster = np.arange(total) % n_clusters
    vectors = centres[cluster] + spread * rng.normal(size=(total, dim)) / np.sqrt(dim)
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)

    n_moods = len(vocabulary.moods)
    mood_scores = np.clip(0.1 + 0.05 * rng.normal(size=(total, n_moods)), 0, 1)
    mood_scores[np.arange(total), cluster % n_moods] = np.clip(0.9 + 0.05 * rng.normal(size=total), 0, 0.98)

    track_ids = np.array([f"t{i:05d}" for i in range(n_tracks)] + [f"new{i:04d}" for i in range(n_new_releases)])
    # Artists are per cluster: track i belongs to artist (cluster, rank within cluster // tracks_per_artist).
    rank = np.arange(total) // n_clusters
    artists = np.array([f"artist-{c}-{r // tracks_per_artist}" for c, r in zip(cluster, rank)], dtype=object)
    titles = np.array([f"Song {i}" for i in range(total)], dtype=object)
    popularity = np.concatenate([np.floor(1000.0 / (1 + np.arange(n_tracks)) ** 0.8) + 1, np.zeros(n_new_releases)])
    rng.shuffle(popularity[:n_tracks])

    return Catalogue(
        space_id=GENERATED_SPACE_ID,
        track_ids=track_ids,
        vectors=vectors,
        vocabulary=vocabulary,
        mood_scores=mood_scores.astype(np.float32),
        mood_sources=np.full(total, "tagger", dtype=object),
        popularity=popularity,
        is_new_release=np.arange(total) >= n_tracks,
        artists=artists,
        titles=titles,
    )


def cluster_of(track_id: str, n_tracks: int = 2000, n_clusters: int = 8) -> int:
    """Return the generated cluster of a track id made by `make_catalogue`."""
    index = int(track_id[3:]) + n_tracks if track_id.startswith("new") else int(track_id[1:])
    return index % n_clusters


def projections_frame(catalogue: Catalogue) -> pd.DataFrame:
    """Return the catalogue's new releases as a projections table (the cold-start output schema)."""
    rows = np.flatnonzero(catalogue.is_new_release)
    return pd.DataFrame(
        {
            "track_id": catalogue.track_ids[rows],
            "vector": list(catalogue.vectors[rows]),
            "features_used": "artist",
            "model_id": "generatedmodel00",
            "space_id": catalogue.space_id,
            "projectable": True,
            "reason": "",
        }
    )
