"""Projection models on generated features with known targets."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from moodflow.coldstart import ColdStartModel, FeatureBlock, FeatureTable, train_models
from moodflow.coldstart.errors import ColdStartError, NoTrainingDataError
from moodflow.errors import SpaceMismatchError

from coldstart_fixtures import small_config, unit_rows

N_TRAIN, N_TEST, N_AUDIO, N_DESCRIPTORS, DIM = 1500, 300, 20, 3, 12


@pytest.fixture(scope="module")
def linear_world():
    """Targets `normalize(audio @ W)`; descriptors are a noisy 3-d view of the same audio."""
    rng = np.random.default_rng(7)
    n = N_TRAIN + N_TEST
    audio = rng.normal(size=(n, N_AUDIO)).astype(np.float32)
    weights = rng.normal(size=(N_AUDIO, DIM))
    targets = unit_rows(audio @ weights).astype(np.float32)
    descriptors = (audio[:, :N_DESCRIPTORS] + 0.1 * rng.normal(size=(n, N_DESCRIPTORS))).astype(np.float32)
    artist = unit_rows(targets + 0.3 * rng.normal(size=targets.shape)).astype(np.float32)
    track_ids = np.array([f"track-{i:04d}" for i in range(n)])
    present = np.ones(n, dtype=bool)
    table = FeatureTable(
        track_ids,
        {
            "audio": FeatureBlock(audio, present.copy()),
            "artist": FeatureBlock(artist, present.copy()),
            "descriptors": FeatureBlock(descriptors, present.copy()),
        },
    )
    return table, targets


def _rows(table, rows):
    return FeatureTable(
        table.track_ids[rows],
        {name: FeatureBlock(block.values[rows], block.present[rows]) for name, block in table.blocks.items()},
    )


@pytest.fixture(scope="module")
def trained(linear_world):
    table, targets = linear_world
    train_rows = np.arange(N_TRAIN)
    models = train_models(_rows(table, train_rows), targets[train_rows], "space-a", small_config(), embedding_dim=N_AUDIO)
    return models


def test_projection_recovers_linear_map(linear_world, trained):
    table, targets = linear_world
    test_rows = np.arange(N_TRAIN, N_TRAIN + N_TEST)
    audio_only = _rows(table, test_rows).select(["audio"])
    for kind, minimum in (("ridge", 0.97), ("mlp", 0.93)):
        predicted = trained[kind].predict(audio_only)
        cosine = (predicted * targets[test_rows]).sum(axis=1).mean()
        assert cosine > minimum, f"{kind} mean cosine {cosine:.3f} on held-out tracks"


def test_every_feature_combination_gives_unit_vectors(linear_world, trained):
    table, _ = linear_world
    test_table = _rows(table, np.arange(N_TRAIN, N_TRAIN + 50))
    names = list(test_table.blocks)
    for size in range(1, len(names) + 1):
        for combination in itertools.combinations(names, size):
            for kind, model in trained.items():
                predicted = model.predict(test_table.select(combination))
                assert np.isfinite(predicted).all(), (kind, combination)
                np.testing.assert_allclose(np.linalg.norm(predicted, axis=1), 1.0, atol=1e-4)


def test_combined_features_beat_descriptors_alone(linear_world, trained):
    table, targets = linear_world
    test_rows = np.arange(N_TRAIN, N_TRAIN + N_TEST)
    test_table = _rows(table, test_rows)
    combined = (trained["mlp"].predict(test_table) * targets[test_rows]).sum(axis=1).mean()
    descriptors = (trained["mlp"].predict(test_table.select(["descriptors"])) * targets[test_rows]).sum(axis=1).mean()
    assert combined > descriptors + 0.1


def test_track_without_features_is_unprojectable(linear_world, trained):
    table, _ = linear_world
    test_table = _rows(table, np.arange(N_TRAIN, N_TRAIN + 4))
    test_table.blocks["audio"].present[1] = False
    test_table.blocks["artist"].present[1] = False
    test_table.blocks["descriptors"].present[1] = False
    frame = trained["mlp"].project(test_table, "space-a")
    assert len(frame) == 4
    assert frame["projectable"].tolist() == [True, False, True, True]
    assert frame.loc[1, "vector"] is None
    assert "no usable feature" in frame.loc[1, "reason"]
    assert frame.loc[0, "features_used"] == "audio+artist+descriptors"
    assert (frame["space_id"] == "space-a").all()
    assert (frame["model_id"] == trained["mlp"].model_id).all()


def test_projecting_into_other_space_raises(linear_world, trained):
    table, _ = linear_world
    with pytest.raises(SpaceMismatchError) as caught:
        trained["ridge"].project(_rows(table, np.arange(3)), "space-b")
    assert "space-a" in str(caught.value)
    assert "space-b" in str(caught.value)


@pytest.mark.parametrize("kind", ["mlp", "ridge"])
def test_model_save_load_round_trip(tmp_path, linear_world, trained, kind):
    table, _ = linear_world
    test_table = _rows(table, np.arange(N_TRAIN, N_TRAIN + 20))
    model = trained[kind]
    model.save(tmp_path / kind)
    loaded = ColdStartModel.load(tmp_path / kind)
    assert loaded.model_id == model.model_id
    assert loaded.space_id == "space-a"
    assert loaded.layout == model.layout
    np.testing.assert_allclose(loaded.predict(test_table), model.predict(test_table), atol=1e-6)


def test_corrupt_model_weights_raise(tmp_path, trained):
    folder = trained["ridge"].save(tmp_path / "ridge")
    weights = np.load(folder / "ridge.npy")
    np.save(folder / "ridge.npy", weights * 2)
    with pytest.raises(ColdStartError, match="corrupt"):
        ColdStartModel.load(folder)


def test_model_id_changes_with_space(linear_world):
    table, targets = linear_world
    rows = np.arange(200)
    config = small_config()
    first = train_models(_rows(table, rows), targets[rows], "space-a", config, kinds=("ridge",))["ridge"]
    second = train_models(_rows(table, rows), targets[rows], "space-b", config, kinds=("ridge",))["ridge"]
    assert first.model_id != second.model_id


def test_training_without_features_raises(linear_world):
    table, targets = linear_world
    empty = _rows(table, np.arange(10)).select([])
    with pytest.raises(NoTrainingDataError, match="none of the 10 warm tracks"):
        train_models(empty, targets[:10], "space-a", small_config())


def test_non_finite_audio_is_absent():
    import pandas as pd

    from moodflow.coldstart.features import audio_block

    tags = pd.DataFrame({
        "track_id": ["a", "b"],
        "embedding": [np.ones(4, np.float32), np.array([1, np.nan, 0, 0], np.float32)],
        "mood_happy": [0.5, 0.5],
    })
    block = audio_block(["a", "b", "c"], tags, source="tags.parquet")
    assert block.present.tolist() == [True, False, False]
    assert np.isfinite(block.values).all()
    assert block.values[0].tolist() == [1, 1, 1, 1, 0.5]
