"""Behaviour of the space build: counts, PPMI, SVD, derived vectors, files."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from moodflow.space import (
    DimensionCappedWarning,
    MusicSpace,
    PlaylistInputError,
    SpaceConfig,
    SpaceConfigError,
    UnknownTrackError,
    build_space,
)
from moodflow.space.cli import load_space_config
from moodflow.space.cooccurrence import count_cooccurrence, keep_strongest_partners, playlists_from_lists
from moodflow.space.ppmi import ppmi_matrix, smoothed_context_counts

import scipy.sparse as sp

TINY = [["a", "b", "c"], ["a", "b"], ["b", "c", "d"], ["a", "c"]]


def clustered_playlists(n_clusters: int = 4, tracks_per_cluster: int = 30, n_playlists: int = 800, seed: int = 0):
    """Playlists drawn from one cluster each, so the clusters are the ground truth."""
    rng = np.random.default_rng(seed)
    playlists = []
    for _ in range(n_playlists):
        cluster = rng.integers(n_clusters)
        members = rng.choice(tracks_per_cluster, size=rng.integers(3, 9), replace=False)
        playlists.append([f"c{cluster}-t{member}" for member in members])
    return playlists


def test_cooccurrence_tiny_hand_counts():
    data = playlists_from_lists(TINY)
    counts = count_cooccurrence(data, window=None, chunk_pairs=1).toarray()
    expected = np.array([
        # a  b  c  d
        [0, 2, 2, 0],
        [2, 0, 2, 1],
        [2, 2, 0, 1],
        [0, 1, 1, 0],
    ])
    assert list(data.track_ids) == ["a", "b", "c", "d"]
    assert np.array_equal(counts, expected)
    assert list(data.track_counts()) == [3, 3, 3, 1]


def test_cooccurrence_window_limits_pairs():
    data = playlists_from_lists([["a", "b", "c", "d"]])
    counts = count_cooccurrence(data, window=1, chunk_pairs=1000).toarray()
    assert counts[0, 1] == 1
    assert counts[0, 2] == 0
    assert counts[2, 3] == 1


def test_cooccurrence_chunking_equal_to_one_chunk():
    playlists = clustered_playlists(n_playlists=200)
    data = playlists_from_lists(playlists)
    whole = count_cooccurrence(data, None, chunk_pairs=10**9)
    chunked = count_cooccurrence(data, None, chunk_pairs=7)
    assert (whole != chunked).nnz == 0


def test_ppmi_tiny_hand_checked():
    data = playlists_from_lists(TINY)
    counts = count_cooccurrence(data, None, 100)
    track_counts = data.track_counts()
    ppmi = ppmi_matrix(counts, track_counts, track_counts.astype(float), data.n_playlists, shift=0.0).toarray()
    # N = 4, c_a = c_b = c_c = 3, c_d = 1.
    assert ppmi[0, 1] == pytest.approx(0.0)  # log(4*2 / 9) < 0
    assert ppmi[1, 3] == pytest.approx(math.log(4 * 1 / (3 * 1)))
    assert ppmi[3, 1] == pytest.approx(math.log(4 / 3))


def test_ppmi_shift_and_smoothing():
    data = playlists_from_lists(TINY)
    counts = count_cooccurrence(data, None, 100)
    track_counts = data.track_counts()
    smoothed = smoothed_context_counts(track_counts, 0.5)
    assert smoothed.sum() == pytest.approx(track_counts.sum())
    ppmi = ppmi_matrix(counts, track_counts, smoothed, data.n_playlists, shift=0.1).toarray()
    # Smoothing raises the rare context d (c = 1) and lowers b (c = 3).
    assert smoothed[3] > 1.0
    assert ppmi[1, 3] == 0.0
    assert ppmi[3, 1] == pytest.approx(math.log(4 * 1 / (1 * smoothed[1])) - 0.1)


def test_partner_cap_keeps_strongest():
    counts = sp.csr_matrix(np.array([
        [0, 5, 1, 1],
        [5, 0, 0, 0],
        [1, 0, 0, 3],
        [1, 0, 3, 0],
    ]))
    capped = keep_strongest_partners(counts, 1).toarray()
    assert capped[0, 1] == 5
    assert capped[2, 3] == 3
    assert capped[0, 2] == 0
    assert capped[0, 3] == 0
    assert np.array_equal(capped, capped.T)


def test_svd_recovers_clusters():
    space = build_space(clustered_playlists(), SpaceConfig(dim=8))
    clusters = np.array([track_id.split("-")[0] for track_id in space.track_ids])
    similarity = space.vectors @ space.vectors.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = similarity.argmax(axis=1)
    assert np.mean(clusters[nearest] == clusters) > 0.95


def test_vectors_unit_float32_finite():
    space = build_space(clustered_playlists(), SpaceConfig(dim=8))
    assert space.vectors.dtype == np.float32
    assert np.all(np.isfinite(space.vectors))
    assert np.allclose(np.linalg.norm(space.vectors, axis=1), 1.0, atol=1e-5)


def test_build_deterministic():
    playlists = clustered_playlists()
    first = build_space(playlists, SpaceConfig(dim=8))
    second = build_space(list(reversed(playlists)), SpaceConfig(dim=8))
    assert first.space_id == second.space_id
    assert np.array_equal(first.vectors, second.vectors)


def test_randomized_svd_deterministic(monkeypatch):
    monkeypatch.setattr("moodflow.space.svd.DENSE_SVD_MAX_CELLS", 0)
    playlists = clustered_playlists()
    first = build_space(playlists, SpaceConfig(dim=8))
    second = build_space(playlists, SpaceConfig(dim=8))
    assert np.array_equal(first.vectors, second.vectors)


def test_space_roundtrip(tmp_path):
    metadata = pd.DataFrame({"track_id": ["c0-t1", "c0-t2", "c1-t1"], "artist": ["x", "x", "y"], "album": ["p", "q", "q"]})
    space = build_space(clustered_playlists(), SpaceConfig(dim=8), tracks_metadata=metadata)
    space.save(tmp_path / "space")
    loaded = MusicSpace.load(tmp_path / "space")
    assert loaded.space_id == space.space_id
    assert np.array_equal(loaded.vectors, space.vectors)
    assert list(loaded.track_ids) == list(space.track_ids)
    assert np.array_equal(loaded.track_counts, space.track_counts)
    assert list(loaded.cold_track_ids) == list(space.cold_track_ids)
    assert loaded.artist_of == space.artist_of
    assert loaded.album_of == space.album_of
    assert loaded.config == space.config
    assert (loaded.cooccurrence != space.cooccurrence).nnz == 0


def test_load_rejects_changed_vectors(tmp_path):
    space = build_space(clustered_playlists(), SpaceConfig(dim=8))
    space.save(tmp_path)
    vectors = np.load(tmp_path / "vectors.npy")
    vectors[0] = -vectors[0]
    np.save(tmp_path / "vectors.npy", vectors)
    with pytest.raises(Exception, match="hash"):
        MusicSpace.load(tmp_path)


def test_derived_vectors():
    metadata = pd.DataFrame({"track_id": ["c0-t1", "c0-t2", "c1-t1"], "artist": ["x", "x", "y"]})
    space = build_space(clustered_playlists(), SpaceConfig(dim=8), tracks_metadata=metadata)
    artists = space.artist_vectors()
    assert list(artists.keys) == ["x", "y"]
    expected = space.vector("c0-t1") + space.vector("c0-t2")
    assert np.allclose(artists.vector("x"), expected / np.linalg.norm(expected), atol=1e-6)
    assert np.allclose(artists.vector("y"), space.vector("c1-t1"), atol=1e-6)
    assert len(space.album_vectors().keys) == 0

    playlist = space.playlist_vector(["c0-t1", "c0-t2", "never-seen"])
    assert np.allclose(playlist, artists.vector("x"), atol=1e-6)


def test_user_vector_play_count_weighting():
    space = build_space(clustered_playlists(), SpaceConfig(dim=8))
    first, second = space.vector("c0-t1"), space.vector("c1-t1")
    user = space.user_vector({"c0-t1": math.e**2, "c1-t1": 1})
    expected = 3.0 * first + 1.0 * second
    assert np.allclose(user, expected / np.linalg.norm(expected), atol=1e-5)
    assert np.allclose(space.user_vector([("c0-t1", 1), "c1-t1"]), space.playlist_vector(["c0-t1", "c1-t1"]), atol=1e-6)

    recent = space.user_vector(["c0-t1", "c1-t1"], recency_half_life=1.0)
    expected = 0.5 * first + second
    assert np.allclose(recent, expected / np.linalg.norm(expected), atol=1e-5)


def test_unknown_track_error_reasons():
    space = build_space(TINY + [["solo"]], SpaceConfig(dim=2))
    with pytest.raises(UnknownTrackError, match="cold"):
        space.row_of("solo")
    with pytest.raises(UnknownTrackError, match="not in the playlists"):
        space.row_of("nobody")
    with pytest.raises(UnknownTrackError, match="none of the 1 history"):
        space.user_vector(["nobody"])
    assert "nobody" not in space


def test_bad_playlists_handled():
    playlists = [[], ["only"], ["a", "b", "a", "b"], ["a", "b"], ["é/ü x", "a", "b"], ["é/ü x", "b"]]
    space = build_space(playlists, SpaceConfig(dim=2))
    assert space.n_playlists == 5
    assert "é/ü x" in space
    assert "only" in list(space.cold_track_ids)
    assert np.all(np.isfinite(space.vectors))


def test_empty_input_rejected():
    with pytest.raises(PlaylistInputError, match="no track ids"):
        build_space([[], []])
    with pytest.raises(PlaylistInputError, match="missing column"):
        build_space(pd.DataFrame({"playlist": [1], "track_id": ["a"]}))


def test_frame_input_uses_positions():
    frame = pd.DataFrame({
        "playlist_id": ["p", "p", "p", "q", "q", "q"],
        "track_id": ["c", "a", "b", "a", "b", None],
        "position": [2, 0, 1, 0, 1, 2],
    })
    windowed = build_space(frame, SpaceConfig(dim=2, window=1, smoothing=0.75))
    assert windowed.cooccurrence[windowed._context_column["a"], windowed._context_column["b"]] == 2


def test_no_positive_ppmi_rejected():
    # Two tracks that always appear together have PMI log(N·c/(c·c)) = 0.
    with pytest.raises(PlaylistInputError, match="no dimensions"), pytest.warns(DimensionCappedWarning):
        build_space([["a", "b"], ["a", "b"]], SpaceConfig(dim=2, smoothing=1.0))


def test_dim_too_large_capped_with_warning():
    with pytest.warns(DimensionCappedWarning, match="requested dim=128"):
        space = build_space(TINY + TINY, SpaceConfig(dim=128))
    assert space.dim <= 3
    assert np.all(np.isfinite(space.vectors))


def test_invalid_config_rejected():
    with pytest.raises(SpaceConfigError, match="alpha=2"):
        SpaceConfig(alpha=2)
    with pytest.raises(SpaceConfigError, match="unknown space setting"):
        SpaceConfig.from_dict({"dims": 3})


def test_yaml_config_instantiates_with_overrides():
    config = load_space_config(None, ["dim=16", "window=5"])
    assert isinstance(config, SpaceConfig)
    assert config.dim == 16
    assert config.window == 5
    assert config.smoothing == SpaceConfig().smoothing


def test_fold_in_weights_equal_build_row():
    playlists = clustered_playlists()
    config = SpaceConfig(dim=8, smoothing=0.75, max_partners=0)
    space = build_space(playlists, config)
    track_id = "c2-t3"
    own = [playlist for playlist in playlists if track_id in playlist]
    weights = space.fold_in_weights(own, track_id=track_id)

    counts = space.cooccurrence.astype(np.float64)
    column = space._context_column[track_id]
    row = ppmi_matrix(counts, space.context_playlist_counts, space.context_counts, space.n_playlists, config.shift)
    expected = {space.context_track_ids[j]: value for j, value in zip(row[column].indices, row[column].data)}
    assert set(weights) == set(expected)
    for context_id, value in expected.items():
        assert weights[context_id] == pytest.approx(value)

    folded = space.fold_in(weights)
    assert float(folded @ space.vector(track_id)) > 0.99


def test_fold_in_unknown_partners_gives_nothing():
    space = build_space(clustered_playlists(), SpaceConfig(dim=8))
    assert space.fold_in_weights([["x", "y"]]) == {}
    assert space.fold_in({}) is None


def test_cli_builds_space(tmp_path):
    from moodflow.space.cli import main

    rows = [(f"p{number}", track_id, position)
            for number, playlist in enumerate(clustered_playlists(n_playlists=100))
            for position, track_id in enumerate(playlist)]
    table = pd.DataFrame(rows, columns=["pid", "song_id", "position"])
    table.to_csv(tmp_path / "playlists.csv", index=False)
    status = main(["--playlists", str(tmp_path / "playlists.csv"), "--playlist-column", "pid",
                   "--track-column", "song_id", "--out", str(tmp_path / "space"), "dim=4"])
    assert status == 0
    assert MusicSpace.load(tmp_path / "space").dim == 4


def test_projection_2d_separates_clusters():
    space = build_space(clustered_playlists(n_clusters=2), SpaceConfig(dim=8))
    points = space.projection_2d()
    assert points.shape == (len(space), 2)
    assert points.dtype == np.float32
    first_axis_sign = np.sign(points[:, 0])
    clusters = np.array([track_id.split("-")[0] for track_id in space.track_ids])
    agreement = np.mean((first_axis_sign > 0) == (clusters == clusters[0]))
    assert max(agreement, 1 - agreement) > 0.95
