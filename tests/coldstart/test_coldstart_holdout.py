"""Training rows built from tracks held out of rebuilt spaces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import special_ortho_group

from moodflow.coldstart.assemble import warm_training_rows
from moodflow.coldstart.errors import ColdStartError
from moodflow.coldstart.features import ArtistCatalogue
from moodflow.coldstart.holdout import check_holdout_settings, holdout_shares, rotation_between
from moodflow.space import MusicSpace

from coldstart_fixtures import build_small_space, linked_world, small_config, unit_rows


def test_holdout_shares_are_disjoint_and_sized():
    track_ids = [f"t{index}" for index in range(1000)]
    shares = holdout_shares(track_ids, rounds=4, fraction=0.1, rng=np.random.default_rng(0))
    assert [len(share) for share in shares] == [100] * 4
    assert len(set(np.concatenate(shares).tolist())) == 400


@pytest.mark.parametrize(("rounds", "fraction", "quoted"), [(-1, 0.1, "-1"), (5, 0.3, "0.3"), (2, 0.0, "0.0")])
def test_invalid_holdout_settings_quote_the_value(rounds, fraction, quoted):
    with pytest.raises(ColdStartError, match=quoted):
        check_holdout_settings(rounds, fraction)


def test_rotation_between_recovers_known_rotation():
    rng = np.random.default_rng(3)
    track_ids = [f"t{index}" for index in range(200)]
    vectors = unit_rows(rng.normal(size=(200, 8))).astype(np.float32)
    rotation = special_ortho_group.rvs(8, random_state=4).astype(np.float32)
    source = MusicSpace.from_vectors(track_ids, vectors)
    target = MusicSpace.from_vectors(track_ids[::-1], (vectors @ rotation)[::-1])
    fitted, cosine = rotation_between(source, target)
    np.testing.assert_allclose(fitted, rotation, atol=1e-4)
    assert cosine == pytest.approx(1.0, abs=1e-5)


def test_artist_mean_of_unbuilt_track():
    space = MusicSpace.from_vectors(["a", "b"], np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32))
    metadata = pd.DataFrame({"track_id": ["a", "b", "new"], "artist": ["X", "Y", "X"]})
    block = ArtistCatalogue(space, metadata).warm_block(["a", "new"])
    # "a" is the only warm track of X, so leaving it out leaves nothing.
    assert block.present.tolist() == [False, True]
    np.testing.assert_allclose(block.values[1], [1.0, 0.0])


@pytest.fixture(scope="module")
def world():
    playlists, _, _ = linked_world(seed=2, n_tracks=300, n_playlists=2500)
    return playlists, build_small_space(playlists)


def test_heldout_rows_come_from_rebuilt_spaces(world):
    playlists, space = world
    config = small_config(**{"features.holdout_rounds": 2, "features.holdout_fraction": 0.2, "features.max_usage_playlists": 2})
    rows = warm_training_rows(space, config, playlists=playlists)
    table, targets = rows.table, rows.targets

    held_out = np.unique(table.track_ids)
    assert len(held_out) == 2 * round(0.2 * len(space.track_ids))
    np.testing.assert_array_equal(targets, space.vectors[space.rows_of(table.track_ids)])
    usage = table.blocks["usage"]
    np.testing.assert_allclose(np.linalg.norm(usage.values[usage.present], axis=1), 1.0, atol=1e-5)

    in_place_config = small_config(**{"features.holdout_rounds": 0, "features.max_usage_playlists": 2})
    in_place_rows = warm_training_rows(space, in_place_config, playlists=playlists)
    in_place = (in_place_rows.table, in_place_rows.targets)
    first = np.flatnonzero(usage.present)[0]
    same_track = np.flatnonzero((in_place[0].track_ids == table.track_ids[first]) & in_place[0].blocks["usage"].present)[0]
    assert not np.allclose(usage.values[first], in_place[0].blocks["usage"].values[same_track])
    # The rebuilt spaces never saw the held-out tracks, so their fold-ins sit farther from the targets.
    heldout_cosine = (usage.values[usage.present] * targets[usage.present]).sum(axis=1).mean()
    in_place_usage = in_place[0].blocks["usage"]
    in_place_cosine = (in_place_usage.values[in_place_usage.present] * in_place[1][in_place_usage.present]).sum(axis=1).mean()
    assert heldout_cosine < in_place_cosine


def test_second_level_rows_need_two_playlists(world):
    playlists, space = world
    config = small_config(**{"features.holdout_rounds": 0, "features.max_usage_playlists": 2})
    table = warm_training_rows(space, config, playlists=playlists).table
    n = len(space.track_ids)
    per_track = playlists.groupby("track_id")["playlist_id"].nunique()
    second_level = table.track_ids[n:]
    assert (per_track.loc[second_level] >= 2).all()
