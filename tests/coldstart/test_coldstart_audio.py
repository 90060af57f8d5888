"""Audio projection on generated linked data with known true vectors.

Tracks' audio features and playlists derive from the same hidden taste
factors, so a projection trained on warm tracks' audio must place held-out
tracks near their true space vectors and among tracks of their own cluster.
"""

from __future__ import annotations

import numpy as np
import pytest

from moodflow.coldstart.assemble import release_table, warm_training_rows
from moodflow.coldstart.features import FeatureBlock, FeatureTable
from moodflow.coldstart.train import train_models

from coldstart_fixtures import build_small_space, linked_world, small_config, unit_rows


@pytest.fixture(scope="module")
def audio_projection():
    playlists, tags, clusters = linked_world(seed=5, n_tracks=400, n_playlists=3000)
    space = build_small_space(playlists)
    config = small_config()
    rows = warm_training_rows(space, config, tags=tags)
    table, targets, extras = rows.table, rows.targets, rows.extras

    rng = np.random.default_rng(0)
    held_out = rng.random(len(table)) < 0.2
    train_rows = np.flatnonzero(~held_out)
    train_table = FeatureTable(
        table.track_ids[train_rows],
        {name: FeatureBlock(block.values[train_rows], block.present[train_rows]) for name, block in table.blocks.items()},
    )
    models = train_models(train_table, targets[train_rows], space.space_id, config, **extras)
    held_out_ids = table.track_ids[held_out]
    releases = release_table(space, models["mlp"].layout, config, held_out_ids, tags=tags)
    return space, models, releases, targets[held_out], clusters


def test_audio_projection_beats_centroid(audio_projection):
    space, models, releases, true_vectors, _ = audio_projection
    counts = space.track_counts.astype(np.float64)
    centroid = unit_rows((counts @ space.vectors)[None, :])[0]
    centroid_cosine = float((true_vectors @ centroid).mean())
    for kind, model in models.items():
        cosine = float((model.predict(releases) * true_vectors).sum(axis=1).mean())
        assert cosine > 0.6, f"{kind} mean cosine {cosine:.3f}"
        assert cosine > centroid_cosine + 0.3, f"{kind} {cosine:.3f} vs centroid {centroid_cosine:.3f}"


def test_audio_projection_lands_in_own_cluster(audio_projection):
    space, models, releases, _, clusters = audio_projection
    predicted = models["mlp"].predict(releases)
    top = np.argsort(-(predicted @ space.vectors.T), axis=1)[:, :10]
    same = [
        np.mean([clusters[space.track_ids[row]] == clusters[track_id] for row in rows])
        for track_id, rows in zip(releases.track_ids, top)
    ]
    assert np.mean(same) > 0.8
