"""Fold-in of early usage against a space built from generated playlists."""

from __future__ import annotations

import numpy as np
import pytest

from moodflow.coldstart.features import playlists_by_track, usage_block
from moodflow.coldstart.foldin import fold_in

from coldstart_fixtures import VectorSpace, build_small_space, linked_world, unit_rows


@pytest.fixture(scope="module")
def space_and_playlists():
    playlists, _, clusters = linked_world(seed=1, n_tracks=200, n_playlists=1500)
    return build_small_space(playlists), playlists, clusters


def test_fold_in_one_warm_partner_returns_its_direction(space_and_playlists):
    space, _, _ = space_and_playlists
    partner = str(space.track_ids[5])
    vector = fold_in(space, [["new-release", partner]], track_id="new-release")
    assert vector is not None
    assert float(vector @ space.vector(partner)) == pytest.approx(1.0, abs=1e-5)


def test_fold_in_ignores_unknown_partners(space_and_playlists):
    space, _, _ = space_and_playlists
    partner = str(space.track_ids[9])
    vector = fold_in(space, [["new-release", "never-seen", partner], ["new-release", "also-unknown"]], track_id="new-release")
    assert float(vector @ space.vector(partner)) == pytest.approx(1.0, abs=1e-5)


def test_fold_in_without_warm_partner_is_none(space_and_playlists):
    space, _, _ = space_and_playlists
    assert fold_in(space, [["new-release", "never-seen"]], track_id="new-release") is None
    assert fold_in(space, [], track_id="new-release") is None


def test_fold_in_lands_in_its_cluster(space_and_playlists):
    space, playlists, clusters = space_and_playlists
    members = [t for t in space.track_ids if clusters[t] == clusters[space.track_ids[0]]][:6]
    vector = fold_in(space, [["new-release", *members[:3]], ["new-release", *members[3:]]], track_id="new-release")
    scores = space.vectors @ vector
    top = space.track_ids[np.argsort(-scores)[:10]]
    same_cluster = sum(clusters[t] == clusters[members[0]] for t in top)
    assert same_cluster >= 9


def test_fold_in_zero_weights_uses_counts():
    space = VectorSpace(["a", "b"], unit_rows(np.array([[1.0, 0.0], [1.0, 1.0]])))
    space.fold_in_weights = lambda playlists, track_id=None: {}
    vector = fold_in(space, [["new", "a", "b"], ["new", "a"]], track_id="new")
    expected = unit_rows((2 * space.vectors[0] + space.vectors[1])[None, :])[0]
    np.testing.assert_allclose(vector, expected, atol=1e-6)


def test_usage_block_uses_first_playlists_only(space_and_playlists):
    space, playlists, _ = space_and_playlists
    track_id = str(space.track_ids[3])
    playlists_of = playlists_by_track(playlists, [track_id])
    first = playlists_of[track_id][0]
    block = usage_block(space, [track_id, "absent"], playlists_of, 1)
    expected = fold_in(space, [first], track_id=track_id)
    np.testing.assert_allclose(block.values[0], expected, atol=1e-6)
    assert block.present.tolist() == [True, False]
    np.testing.assert_array_equal(block.values[1], 0.0)
