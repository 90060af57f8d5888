"""`moodflow coldstart train|project` end to end on generated linked data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from moodflow import cli
from moodflow.coldstart.cli import main as coldstart_main

from coldstart_fixtures import build_small_space, linked_world

TRAIN_SETTINGS = ["training.epochs=6", "training.patience=6", "model.hidden_dims=[64,64]"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A saved space, the warm tracks' tags and metadata, and a trained model (both kinds)."""
    folder = tmp_path_factory.mktemp("coldstart-cli")
    playlists, tags, clusters = linked_world(seed=3, n_tracks=240, n_playlists=1800)
    space = build_small_space(playlists)
    space.save(folder / "space")
    tags.to_parquet(folder / "tags.parquet")
    playlists.to_csv(folder / "playlists.csv", index=False)

    track_ids = list(tags["track_id"])
    metadata = pd.DataFrame({
        "track_id": track_ids,
        "artist": [f"Artist {clusters[t]}" for t in track_ids],
        "artist_id": [f"artist-{clusters[t]}" for t in track_ids],
        "valence": [float(clusters[t]) for t in track_ids],
        "arousal": [float(clusters[t] % 2) for t in track_ids],
    })
    # Two distinct artists share the name "Echo".
    metadata.loc[0, ["artist", "artist_id"]] = ["Echo", "echo-uk"]
    metadata.loc[1, ["artist", "artist_id"]] = ["Echo", "echo-us"]
    metadata.to_csv(folder / "metadata.csv", index=False)

    status = coldstart_main([
        "train", "--space", str(folder / "space"), "--out", str(folder / "model"),
        "--tags", str(folder / "tags.parquet"), "--metadata", str(folder / "metadata.csv"),
        "--playlists", str(folder / "playlists.csv"), *TRAIN_SETTINGS,
    ])
    assert status == 0
    return folder, space, tags, clusters


def _write_releases(folder, tags, embedding_dim=None):
    """Three releases: audio + known artist, ambiguous artist only, nothing usable."""
    release_tags = tags.iloc[[10]].copy()
    release_tags["track_id"] = ["new-audio"]
    if embedding_dim is not None:
        release_tags["embedding"] = [np.zeros(embedding_dim, np.float32)]
    release_tags.to_parquet(folder / "release_tags.parquet")
    releases = pd.DataFrame({
        "track_id": ["new-audio", "new-echo", "new-nothing"],
        "artist": ["Artist 2", "echo", "Unknown Band"],
    })
    releases.to_csv(folder / "releases.csv", index=False)


def _project(folder, model="model/mlp", space="space", *extra):
    return coldstart_main([
        "project", "--model", str(folder / model), "--space", str(folder / space),
        "--out", str(folder / "projections.parquet"), "--releases", str(folder / "releases.csv"),
        "--tags", str(folder / "release_tags.parquet"), "--metadata", str(folder / "metadata.csv"), *extra,
    ])


def test_project_writes_contract_columns(world):
    folder, space, tags, _ = world
    _write_releases(folder, tags)
    assert _project(folder) == 0

    table = pq.read_table(folder / "projections.parquet")
    assert table.column_names == ["track_id", "vector", "features_used", "model_id", "space_id", "projectable", "reason"]
    vector_type = table.schema.field("vector").type
    assert pa.types.is_fixed_size_list(vector_type)
    assert vector_type.list_size == space.dim
    assert vector_type.value_type == pa.float32()
    frame = table.to_pandas().set_index("track_id")
    assert frame.loc["new-audio", "features_used"] == "audio+artist"
    assert frame.loc["new-audio", "projectable"]
    np.testing.assert_allclose(np.linalg.norm(frame.loc["new-audio", "vector"]), 1.0, atol=1e-5)
    assert (frame["space_id"] == space.space_id).all()


def test_ambiguous_artist_is_skipped_with_reason(world):
    folder, _, tags, _ = world
    _write_releases(folder, tags)
    assert _project(folder) == 0
    frame = pd.read_parquet(folder / "projections.parquet").set_index("track_id")
    assert not frame.loc["new-echo", "projectable"]
    assert frame.loc["new-echo", "vector"] is None
    assert "matches 2 artists ['echo-uk', 'echo-us']" in frame.loc["new-echo", "reason"]


def test_track_without_features_is_listed(world):
    folder, _, tags, _ = world
    _write_releases(folder, tags)
    assert _project(folder, "model/ridge") == 0
    frame = pd.read_parquet(folder / "projections.parquet").set_index("track_id")
    assert len(frame) == 3
    assert not frame.loc["new-nothing", "projectable"]
    assert frame.loc["new-nothing", "vector"] is None
    assert "no usable feature" in frame.loc["new-nothing", "reason"]
    assert "'Unknown Band' has no warm track" in frame.loc["new-nothing", "reason"]


def test_ambiguous_artist_error_policy(world, capsys):
    folder, _, tags, _ = world
    _write_releases(folder, tags)
    status = cli.main([
        "coldstart", "project", "--model", str(folder / "model/mlp"), "--space", str(folder / "space"),
        "--out", str(folder / "projections.parquet"), "--releases", str(folder / "releases.csv"),
        "--metadata", str(folder / "metadata.csv"), "--tags", str(folder / "release_tags.parquet"),
        "features.on_ambiguous_artist=error",
    ])
    assert status == 1
    assert "artist name 'echo' of track 'new-echo' matches 2 artists" in capsys.readouterr().err


def test_embedding_size_mismatch_names_both_sizes(world, capsys):
    folder, _, tags, _ = world
    _write_releases(folder, tags, embedding_dim=10)
    status = cli.main([
        "coldstart", "project", "--model", str(folder / "model/mlp"), "--space", str(folder / "space"),
        "--out", str(folder / "projections.parquet"), "--releases", str(folder / "releases.csv"),
        "--tags", str(folder / "release_tags.parquet"),
    ])
    error = capsys.readouterr().err
    assert status == 1
    assert "expects 24 values per embedding, found 10" in error
    assert "release_tags.parquet" in error


def test_project_into_other_space_fails(world, capsys):
    folder, _, tags, _ = world
    playlists, _, _ = linked_world(seed=4, n_tracks=240, n_playlists=1800)
    other = build_small_space(playlists)
    other.save(folder / "other-space")
    _write_releases(folder, tags)
    status = cli.main([
        "coldstart", "project", "--model", str(folder / "model/mlp"), "--space", str(folder / "other-space"),
        "--out", str(folder / "projections.parquet"), "--releases", str(folder / "releases.csv"),
    ])
    error = capsys.readouterr().err
    assert status == 1
    assert other.space_id in error
    assert world[1].space_id in error


def test_usage_playlists_feed_fold_in(world):
    folder, space, tags, _ = world
    _write_releases(folder, tags)
    partner = str(space.track_ids[7])
    pd.DataFrame({"playlist_id": ["p1", "p1"], "track_id": ["new-nothing", partner]}).to_csv(folder / "usage.csv", index=False)
    assert _project(folder, "model/mlp", "space", "--usage", str(folder / "usage.csv")) == 0
    frame = pd.read_parquet(folder / "projections.parquet").set_index("track_id")
    assert frame.loc["new-nothing", "projectable"]
    assert frame.loc["new-nothing", "features_used"] == "usage"
    cosine = float(np.dot(frame.loc["new-nothing", "vector"], space.vector(partner)))
    assert cosine > 0.5
