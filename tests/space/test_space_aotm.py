"""Space build on the real Art of the Mix playlists (skipped when the data is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import shared_data_path
from moodflow.index import TrackIndex
from moodflow.space import SpaceConfig, build_space
from moodflow.tables import read_table


@pytest.mark.data
def test_aotm_space_builds_unit_vectors():
    folder = shared_data_path("aotm2011")
    table = read_table(folder / "playlists.csv.gz").rename(columns={"song_id": "track_id"})
    space = build_space(table, SpaceConfig(dim=32))
    assert space.n_playlists == 106_237
    assert 30_000 < len(space) < 45_000
    assert np.allclose(np.linalg.norm(space.vectors, axis=1), 1.0, atol=1e-5)

    index = TrackIndex.build(space, "hnsw")
    popular = space.track_ids[int(np.argmax(space.track_counts))]
    page = index.neighbours(popular, 10)
    assert len(page) == 10
    assert popular not in [track_id for track_id, _ in page]
