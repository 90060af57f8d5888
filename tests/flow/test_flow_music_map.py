"""The music map: projection, sampling of large catalogues and the listener's overlay."""

from __future__ import annotations

import numpy as np
import pytest

from moodflow.flow.moods import MoodVocabulary
from moodflow.flow.music_map import draw_listener_map, draw_music_map, project_2d
from moodflow.flow.profile import HistoryEntry
from moodflow.flow.session import FlowConfig
from moodflow.flow.testing import make_catalogue


def test_project_2d_pca_separates_clusters():
    rng = np.random.default_rng(0)
    vectors = np.concatenate([rng.normal(0, 0.05, (40, 8)) + 1.0, rng.normal(0, 0.05, (40, 8)) - 1.0])
    points, model, method = project_2d(vectors.astype(np.float32), method="pca")
    assert method == "PCA"
    assert points.shape == (80, 2)
    assert np.sign(points[:40, 0]).std() == 0
    assert np.sign(points[:40, 0])[0] != np.sign(points[40:, 0])[0]
    assert model.transform(vectors[:1]).shape == (1, 2)


def test_project_2d_rejects_unknown_method():
    with pytest.raises(ValueError, match="'tsne'"):
        project_2d(np.zeros((5, 3), dtype=np.float32), method="tsne")


def test_music_map_draws_unscored_tracks(tmp_path):
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(60, 8)).astype(np.float32)
    scores = rng.uniform(size=(60, 3))
    scores[:10] = 0.0
    path = draw_music_map(
        vectors, scores, ["chill", "party", "tender"], np.arange(60) >= 55, tmp_path / "map.png",
        history_rows=np.array([11, 12]), flow_rows=np.array([20, 21, 22]), method="pca",
    )
    assert path.stat().st_size > 10_000


def test_listener_map_samples_large_catalogue(tmp_path, caplog):
    vocabulary = MoodVocabulary.load()
    catalogue = make_catalogue(vocabulary, n_tracks=600, n_new_releases=20)
    history = [HistoryEntry(f"t{i:05d}", 3.0) for i in range(0, 80, 8)]
    caplog.set_level("INFO", logger="moodflow.flow.music_map")

    path = draw_listener_map(
        catalogue, FlowConfig(), history, tmp_path / "map.png", page_size=6, method="pca", max_points=200,
    )

    assert path.stat().st_size > 10_000
    assert any("drawing" in record.message and "of 620 tracks" in record.message for record in caplog.records)
