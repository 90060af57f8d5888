"""The decoded-audio cache: hits after the first load, misses after a file changes."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from moodflow.audio import AudioDecodeError, AudioTooShortError, load_audio
from moodflow.data import AudioCache


def write_tone(path, seconds=1.0, sample_rate=22_050, amplitude=0.5):
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    sf.write(path, amplitude * np.sin(2 * np.pi * 440 * t), sample_rate, subtype="PCM_16")
    return path


@pytest.mark.parametrize(("dtype", "tolerance"), [("float32", 0.0), ("float16", 5e-4)])
def test_cache_matches_loader(tmp_path, dtype, tolerance):
    source = write_tone(tmp_path / "tone.wav")
    cache = AudioCache(tmp_path / "cache", 16_000, dtype=dtype)

    first = cache.load(source)
    second = cache.load(source)
    direct = load_audio(source, 16_000)

    assert (cache.misses, cache.hits) == (1, 1)
    assert first.dtype == np.float32
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, direct, atol=tolerance, rtol=0)


def test_cache_reads_are_memory_mapped(tmp_path):
    source = write_tone(tmp_path / "tone.wav")
    cache = AudioCache(tmp_path / "cache", 16_000, dtype="float16")

    cache.load(source)
    mapped = cache.load_mmap(source)

    assert isinstance(mapped, np.memmap)
    assert mapped.dtype == np.float16
    assert not mapped.flags.writeable


def test_changed_file_misses(tmp_path):
    source = write_tone(tmp_path / "tone.wav", amplitude=0.5)
    cache = AudioCache(tmp_path / "cache", 16_000, dtype="float32")
    before = cache.load(source)

    write_tone(source, amplitude=0.25)
    os.utime(source, ns=(1, 1))
    after = cache.load(source)

    assert cache.misses == 2
    assert abs(np.abs(before).max() - 0.5) < 0.01
    assert abs(np.abs(after).max() - 0.25) < 0.01


def test_sample_rate_is_part_of_key(tmp_path):
    source = write_tone(tmp_path / "tone.wav", seconds=2.0)

    low = AudioCache(tmp_path / "cache", 8_000).load(source)
    high = AudioCache(tmp_path / "cache", 16_000).load(source)

    assert low.size == 16_000
    assert high.size == 32_000


def test_decode_errors_are_not_cached(tmp_path):
    source = tmp_path / "empty.mp3"
    source.write_bytes(b"")
    cache = AudioCache(tmp_path / "cache", 16_000)

    for _ in range(2):
        with pytest.raises(AudioDecodeError, match="empty"):
            cache.load(source)

    assert not (tmp_path / "cache").exists()


def test_missing_file_raises_decode_error(tmp_path):
    cache = AudioCache(tmp_path / "cache", 16_000)

    with pytest.raises(AudioDecodeError, match="not found"):
        cache.load(tmp_path / "absent.wav")


def test_minimum_duration_checked_on_hit(tmp_path):
    source = write_tone(tmp_path / "short.wav", seconds=0.2)
    cache = AudioCache(tmp_path / "cache", 16_000)
    cache.load(source)

    with pytest.raises(AudioTooShortError) as caught:
        cache.load(source, min_duration_s=1.0)

    assert caught.value.path == source
    assert cache.hits == 1


def test_invalid_dtype_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="float16"):
        AudioCache(tmp_path, 16_000, dtype="int8")
