"""Streaming chunking and per-track decoding checks of the batch-tagging job."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from moodflow.tagger.bundle import split_waveform
from moodflow.tagging.decode import (
    ChunkMessage,
    DecodeSettings,
    DoneMessage,
    ErrorMessage,
    StreamingChunker,
    TruncatedAudioError,
    check_ogg_complete,
    track_messages,
)
from moodflow.tagging.inputs import TrackInput

from tagging_audio import SAMPLE_RATE, tone


@pytest.mark.parametrize("chunk_samples", [7, 16, 100])
def test_streaming_chunker_matches_split_waveform(chunk_samples):
    rng = np.random.default_rng(0)
    for n_samples in [1, 3, chunk_samples - 1, chunk_samples, chunk_samples + 1, 2 * chunk_samples + chunk_samples // 2, 517]:
        waveform = rng.standard_normal(n_samples).astype(np.float32)
        expected = split_waveform(waveform, chunk_samples)
        for block_size in [1, 5, chunk_samples, 64, 1000]:
            chunker = StreamingChunker(chunk_samples)
            parts = [chunker.push(waveform[start : start + block_size]) for start in range(0, n_samples, block_size)]
            parts.append(chunker.finish())
            streamed = np.concatenate(parts)
            assert streamed.shape == expected.shape, (n_samples, block_size)
            np.testing.assert_array_equal(streamed, expected)


def _settings(**changes) -> DecodeSettings:
    values = dict(sample_rate=16000, chunk_samples=16000, block_seconds=1.5, min_duration_s=0.5, silence_threshold_dbfs=-60.0)
    values.update(changes)
    return DecodeSettings(**values)


def test_track_messages_chunks_then_done(tmp_path: Path):
    path = tmp_path / "tone.wav"
    sf.write(path, tone(4.6, 440.0), SAMPLE_RATE)
    messages = list(track_messages(TrackInput("tone", str(path)), _settings()))

    chunk_messages = [message for message in messages if isinstance(message, ChunkMessage)]
    assert isinstance(messages[-1], DoneMessage)
    assert messages[-1].n_chunk_messages == len(chunk_messages)
    assert messages[-1].duration_s == pytest.approx(4.6, abs=0.01)
    # 4.6 s in 1 s chunks: 4 full chunks plus the last second for the 0.6 s tail.
    assert sum(message.chunks.shape[0] for message in chunk_messages) == 5


def test_silent_track_is_an_error(tmp_path: Path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros((SAMPLE_RATE * 2, 1), dtype=np.float32), SAMPLE_RATE)
    messages = list(track_messages(TrackInput("silence", str(path)), _settings()))

    assert isinstance(messages[-1], ErrorMessage)
    assert messages[-1].error_class == "SilentTrackError"
    assert "silence_threshold_dbfs" in messages[-1].message


def test_silence_threshold_none_tags_silence(tmp_path: Path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros((SAMPLE_RATE * 2, 1), dtype=np.float32), SAMPLE_RATE)
    messages = list(track_messages(TrackInput("silence", str(path)), _settings(silence_threshold_dbfs=None)))

    assert isinstance(messages[-1], DoneMessage)


def test_truncated_ogg_detected(tmp_path: Path):
    complete = tmp_path / "complete.ogg"
    sf.write(complete, tone(6.0, 330.0), SAMPLE_RATE, subtype="VORBIS")
    truncated = tmp_path / "truncated.ogg"
    data = complete.read_bytes()
    truncated.write_bytes(data[: len(data) * 2 // 3])

    check_ogg_complete(complete)
    with pytest.raises(TruncatedAudioError, match="truncated.ogg"):
        check_ogg_complete(truncated)


def test_file_uri_input_decodes(tmp_path: Path):
    path = tmp_path / "tone.flac"
    sf.write(path, tone(2.0, 440.0), SAMPLE_RATE)
    messages = list(track_messages(TrackInput("tone", path.as_uri()), _settings()))

    assert isinstance(messages[-1], DoneMessage)
    assert messages[-1].duration_s == pytest.approx(2.0, abs=0.01)
