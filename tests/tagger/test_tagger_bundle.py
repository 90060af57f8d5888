"""Tests of the tagger network, the chunking rule and bundle export and load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from moodflow.errors import MoodflowError
from moodflow.tagger.bundle import (
    BundleError,
    EmptyWaveformError,
    count_chunks,
    load_bundle,
    split_waveform,
    write_random_bundle,
)
from moodflow.tagger.network import build_tagger_net

MOODS = ["calm", "happy", "sad"]
GENRES = ["rock", "pop"]
SAMPLE_RATE = 16000
CHUNK_SAMPLES = 3 * SAMPLE_RATE


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("bundle") / "random"
    write_random_bundle(path, MOODS, GENRES, seed=7)
    return path


@pytest.mark.parametrize(
    ("n_samples", "expected"),
    [
        (1, 1),
        (CHUNK_SAMPLES // 2, 1),
        (CHUNK_SAMPLES - 1, 1),
        (CHUNK_SAMPLES, 1),
        (CHUNK_SAMPLES + CHUNK_SAMPLES // 2 - 1, 1),
        (CHUNK_SAMPLES + CHUNK_SAMPLES // 2, 2),
        (2 * CHUNK_SAMPLES, 2),
        (10 * CHUNK_SAMPLES + 5, 10),
    ],
)
def test_chunk_count_rule(n_samples: int, expected: int) -> None:
    waveform = np.arange(n_samples, dtype=np.float32)
    chunks = split_waveform(waveform, CHUNK_SAMPLES)
    assert count_chunks(n_samples, CHUNK_SAMPLES) == expected
    assert chunks.shape == (expected, CHUNK_SAMPLES)
    assert chunks.dtype == np.float32


def test_chunks_any_length_property() -> None:
    rng = np.random.default_rng(0)
    for n_samples in rng.integers(1, 12 * CHUNK_SAMPLES, size=200):
        chunks = split_waveform(np.zeros(n_samples, np.float32), CHUNK_SAMPLES)
        full, tail = divmod(int(n_samples), CHUNK_SAMPLES)
        assert chunks.shape[0] == max(1, full + (tail * 2 >= CHUNK_SAMPLES))


def test_short_clip_is_repeated() -> None:
    chunks = split_waveform(np.array([1.0, 2.0, 3.0], np.float32), 8)
    np.testing.assert_array_equal(chunks[0], [1, 2, 3, 1, 2, 3, 1, 2])


def test_last_chunk_is_end_aligned() -> None:
    waveform = np.arange(14, dtype=np.float32)
    chunks = split_waveform(waveform, 8)
    np.testing.assert_array_equal(chunks[0], np.arange(8))
    np.testing.assert_array_equal(chunks[1], np.arange(6, 14))


def test_empty_waveform_rejected() -> None:
    with pytest.raises(EmptyWaveformError):
        split_waveform(np.zeros(0, np.float32), CHUNK_SAMPLES)
    assert issubclass(EmptyWaveformError, MoodflowError)


def test_network_output_shapes() -> None:
    net = build_tagger_net(
        3, 2,
        front_end={"sample_rate": SAMPLE_RATE, "n_mels": 96},
        backbone={"channels": [8, 16], "embedding_dim": 24},
    ).eval()
    for n_samples in (4000, CHUNK_SAMPLES, 4 * SAMPLE_RATE):
        output = net(torch.randn(5, n_samples))
        assert output["mood_logits"].shape == (5, 3)
        assert output["genre_logits"].shape == (5, 2)
        assert output["embedding"].shape == (5, 24)


@pytest.mark.parametrize("n_samples", [1, 800, CHUNK_SAMPLES - 1, CHUNK_SAMPLES, 7 * SAMPLE_RATE + 123])
@pytest.mark.parametrize("kind", ["silence", "noise", "loud"])
def test_predict_track_finite(bundle_dir, n_samples: int, kind: str) -> None:
    bundle = load_bundle(bundle_dir)
    rng = np.random.default_rng(n_samples)
    waveform = {
        "silence": np.zeros(n_samples, np.float32),
        "noise": rng.normal(0, 0.1, n_samples).astype(np.float32),
        "loud": np.sign(rng.normal(size=n_samples)).astype(np.float32),
    }[kind]
    result = bundle.predict_track(waveform)
    assert result["mood_probs"].shape == (len(MOODS),)
    assert result["genre_probs"].shape == (len(GENRES),)
    assert result["embedding"].shape == (bundle.embedding_dim,)
    assert result["n_chunks"] == count_chunks(n_samples, bundle.chunk_samples)
    for name in ("mood_probs", "genre_probs", "embedding"):
        assert np.all(np.isfinite(result[name])), name
    assert np.all((result["mood_probs"] >= 0) & (result["mood_probs"] <= 1))
    assert result["genre_probs"].sum() == pytest.approx(1.0, abs=1e-5)


def test_track_is_mean_of_chunks(bundle_dir) -> None:
    bundle = load_bundle(bundle_dir)
    waveform = np.random.default_rng(1).normal(0, 0.1, 4 * bundle.chunk_samples).astype(np.float32)
    per_chunk = bundle.predict_chunks(bundle.split_into_chunks(waveform))
    track = bundle.predict_track(waveform)
    assert per_chunk["mood_probs"].shape == (4, len(MOODS))
    np.testing.assert_allclose(track["mood_probs"], per_chunk["mood_probs"].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(track["embedding"], per_chunk["embedding"].mean(axis=0), rtol=1e-6)


def test_batched_equals_single(bundle_dir) -> None:
    bundle = load_bundle(bundle_dir)
    chunks = np.random.default_rng(2).normal(0, 0.1, (5, bundle.chunk_samples)).astype(np.float32)
    batched = bundle.predict_chunks(chunks)
    for index in range(5):
        single = bundle.predict_chunks(chunks[index : index + 1])
        np.testing.assert_allclose(single["mood_probs"][0], batched["mood_probs"][index], atol=1e-5)


def test_bundle_fields(bundle_dir) -> None:
    bundle = load_bundle(bundle_dir)
    assert bundle.mood_labels == MOODS
    assert bundle.genre_labels == GENRES
    assert bundle.sample_rate == SAMPLE_RATE
    assert bundle.chunk_samples == CHUNK_SAMPLES
    assert len(bundle.model_id) == 16
    assert not bundle.model.training


def test_export_reload_identical(tmp_path) -> None:
    first_id = write_random_bundle(tmp_path / "a", MOODS, GENRES, seed=11)
    same_id = write_random_bundle(tmp_path / "b", MOODS, GENRES, seed=11)
    other_id = write_random_bundle(tmp_path / "c", MOODS, GENRES, seed=12)
    assert first_id == same_id
    assert first_id != other_id

    first = load_bundle(tmp_path / "a")
    waveform = np.random.default_rng(3).normal(0, 0.2, 2 * first.chunk_samples).astype(np.float32)
    expected = first.predict_track(waveform)

    from moodflow.tagger.bundle import export_bundle

    export_bundle(
        first.model,
        tmp_path / "reexported",
        mood_labels=first.mood_labels,
        genre_labels=first.genre_labels,
        chunk_samples=first.chunk_samples,
        architecture=first.config["architecture"],
    )
    reloaded = load_bundle(tmp_path / "reexported")
    assert reloaded.model_id == first.model_id
    result = reloaded.predict_track(waveform)
    for name in ("mood_probs", "genre_probs", "embedding"):
        np.testing.assert_array_equal(result[name], expected[name])


def test_missing_bundle_error(tmp_path) -> None:
    with pytest.raises(BundleError, match="not found") as caught:
        load_bundle(tmp_path / "nowhere")
    assert caught.value.path == tmp_path / "nowhere"


def test_missing_weights_error(tmp_path) -> None:
    write_random_bundle(tmp_path / "b", MOODS, GENRES)
    (tmp_path / "b" / "weights.pt").unlink()
    with pytest.raises(BundleError, match="missing weights.pt"):
        load_bundle(tmp_path / "b")


def test_truncated_weights_error(tmp_path) -> None:
    write_random_bundle(tmp_path / "b", MOODS, GENRES)
    weights = tmp_path / "b" / "weights.pt"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(BundleError, match="could not be read") as caught:
        load_bundle(tmp_path / "b")
    assert str(tmp_path / "b") in str(caught.value)


def test_bad_json_error(tmp_path) -> None:
    write_random_bundle(tmp_path / "b", MOODS, GENRES)
    (tmp_path / "b" / "bundle.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(tmp_path / "b")


def test_tampered_labels_error(tmp_path) -> None:
    write_random_bundle(tmp_path / "b", MOODS, GENRES)
    config_path = tmp_path / "b" / "bundle.json"
    config = json.loads(config_path.read_text())
    config["mood_labels"] = ["calm", "happy", "angry"]
    config_path.write_text(json.dumps(config))
    with pytest.raises(BundleError, match="model_id"):
        load_bundle(tmp_path / "b")


def test_wrong_chunk_shape_error(bundle_dir) -> None:
    bundle = load_bundle(bundle_dir)
    with pytest.raises(ValueError, match="split_into_chunks"):
        bundle.predict_chunks(np.zeros((2, 100), np.float32))
