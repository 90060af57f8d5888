"""Decoding of generated audio files in every supported format and every bad case."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from moodflow.audio import (
    AudioDecodeError,
    AudioTooShortError,
    audio_duration_s,
    iter_audio_blocks,
    load_audio,
)
from tests.conftest import shared_data_path

TARGET_RATE = 16_000
TONE_HZ = 440.0


def half_scale_sine(sample_rate: int, seconds: float, channels: int = 1) -> np.ndarray:
    """Return a 0.5-amplitude 440 Hz sine of shape [frames, channels].

    10 ms linear fades at both ends keep lossy codecs from overshooting at
    the edges, so a decoded peak near 0.5 checks the scale.
    """
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    tone = 0.5 * np.sin(2 * np.pi * TONE_HZ * t)
    fade = min(round(0.01 * sample_rate), tone.size // 2)
    ramp = np.linspace(0.0, 1.0, fade)
    tone[:fade] *= ramp
    tone[tone.size - fade :] *= ramp[::-1]
    return np.repeat(tone[:, None], channels, axis=1)


def write_with_pyav(path: Path, sample_rate: int, seconds: float, codec: str) -> None:
    """Encode a half-scale mono sine with FFmpeg through PyAV."""
    samples = half_scale_sine(sample_rate, seconds)[:, 0].astype(np.float32)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=sample_rate)
        stream.layout = "mono"
        frame_size = stream.codec_context.frame_size or 1024
        for start in range(0, samples.size, frame_size):
            chunk = samples[start : start + frame_size]
            # AAC encodes only whole frames, so the last one is zero-padded.
            chunk = np.pad(chunk, (0, frame_size - chunk.size))
            frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
            frame.sample_rate = sample_rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


# (file name, sample rate, channels, soundfile format, soundfile subtype, peak tolerance)
SOUNDFILE_CASES = [
    ("pcm_u8.wav", 22_050, 1, "WAV", "PCM_U8", 0.02),
    ("pcm_16.wav", 44_100, 2, "WAV", "PCM_16", 0.01),
    ("pcm_24.wav", 48_000, 2, "WAV", "PCM_24", 0.01),
    ("pcm_32.wav", 44_100, 1, "WAV", "PCM_32", 0.01),
    ("float.wav", 44_100, 2, "WAV", "FLOAT", 0.01),
    ("double.wav", 44_100, 1, "WAV", "DOUBLE", 0.01),
    ("extensible_6ch.wav", 48_000, 6, "WAVEX", "PCM_16", 0.01),
    ("narrowband_8k.wav", 8_000, 1, "WAV", "PCM_16", 0.02),
    ("hires_96k.wav", 96_000, 2, "WAV", "PCM_24", 0.01),
    ("lossless.flac", 44_100, 2, "FLAC", "PCM_16", 0.01),
    ("vorbis.ogg", 44_100, 2, "OGG", "VORBIS", 0.05),
    ("layer3.mp3", 44_100, 2, "MP3", "MPEG_LAYER_III", 0.05),
    ("name with spaces ünïcødé 音楽.wav", 22_050, 1, "WAV", "PCM_16", 0.01),
]


@pytest.mark.parametrize(("name", "rate", "channels", "container", "subtype", "tolerance"), SOUNDFILE_CASES)
def test_load_formats_half_scale_sine(tmp_path, name, rate, channels, container, subtype, tolerance):
    path = tmp_path / name
    sf.write(path, half_scale_sine(rate, 1.0, channels), rate, format=container, subtype=subtype)

    samples = load_audio(path, TARGET_RATE)

    assert samples.dtype == np.float32
    assert samples.ndim == 1
    # Lossy codecs add encoder delay and padding of up to a few thousand samples.
    assert abs(samples.size - TARGET_RATE) <= (2_500 if container in ("MP3", "OGG") else 2)
    assert abs(np.abs(samples).max() - 0.5) < tolerance


def test_wavex_header_is_extensible(tmp_path):
    path = tmp_path / "six.wav"
    sf.write(path, half_scale_sine(48_000, 0.2, 6), 48_000, format="WAVEX", subtype="PCM_16")

    header = path.read_bytes()[:64]

    # WAVE_FORMAT_EXTENSIBLE is format tag 0xFFFE in the fmt chunk.
    assert header[20:22] == b"\xfe\xff"


def test_load_m4a_aac_through_pyav(tmp_path):
    path = tmp_path / "tone.m4a"
    write_with_pyav(path, 44_100, 1.0, "aac")

    samples = load_audio(path, TARGET_RATE)

    assert abs(samples.size - TARGET_RATE) <= 1_000
    assert abs(np.abs(samples).max() - 0.5) < 0.05


def test_load_downmix_averages_channels(tmp_path):
    path = tmp_path / "left_only.wav"
    stereo = half_scale_sine(16_000, 0.5, 2)
    stereo[:, 1] = 0.0
    sf.write(path, stereo, 16_000, subtype="FLOAT")

    samples = load_audio(path, TARGET_RATE)

    assert abs(np.abs(samples).max() - 0.25) < 1e-4


def test_load_same_rate_is_exact(tmp_path):
    path = tmp_path / "exact.wav"
    signal = half_scale_sine(TARGET_RATE, 0.5)[:, 0].astype(np.float32)
    sf.write(path, signal, TARGET_RATE, subtype="FLOAT")

    samples = load_audio(path, TARGET_RATE)

    np.testing.assert_array_equal(samples, signal)


@pytest.mark.parametrize("source_rate", [8_000, 22_050, 44_100, 96_000])
def test_resampled_length_matches_duration(tmp_path, source_rate):
    path = tmp_path / f"tone_{source_rate}.wav"
    sf.write(path, half_scale_sine(source_rate, 2.5), source_rate, subtype="PCM_16")

    samples = load_audio(path, TARGET_RATE)

    assert abs(samples.size - 2.5 * TARGET_RATE) <= 1


def test_load_silence_gives_zeros(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(44_100, dtype=np.int16), 44_100, subtype="PCM_16")

    samples = load_audio(path, TARGET_RATE)

    assert samples.size == TARGET_RATE
    assert np.abs(samples).max() < 1e-6


def test_short_clip_loads_without_minimum(tmp_path):
    path = tmp_path / "blip.wav"
    sf.write(path, half_scale_sine(44_100, 0.05), 44_100, subtype="PCM_16")

    samples = load_audio(path, TARGET_RATE)

    assert abs(samples.size - 800) <= 1


def test_short_clip_below_minimum_raises(tmp_path):
    path = tmp_path / "blip.wav"
    sf.write(path, half_scale_sine(44_100, 0.05), 44_100, subtype="PCM_16")

    with pytest.raises(AudioTooShortError) as caught:
        load_audio(path, TARGET_RATE, min_duration_s=1.0)

    assert caught.value.path == path
    assert abs(caught.value.duration_s - 0.05) < 1e-3
    assert caught.value.min_duration_s == 1.0
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, AudioDecodeError)


def test_zero_byte_file_raises(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")

    with pytest.raises(AudioDecodeError, match="empty") as caught:
        load_audio(path, TARGET_RATE)

    assert caught.value.path == path
    assert str(path) in str(caught.value)


def test_text_named_mp3_raises(tmp_path):
    path = tmp_path / "notes.mp3"
    path.write_text("These are liner notes, not audio.\n" * 50)

    with pytest.raises(AudioDecodeError) as caught:
        load_audio(path, TARGET_RATE)

    assert caught.value.path == path
    assert str(path) in str(caught.value)


def test_missing_file_raises(tmp_path):
    path = tmp_path / "absent.flac"

    with pytest.raises(AudioDecodeError, match="not found") as caught:
        load_audio(path, TARGET_RATE)

    assert caught.value.path == path


def test_header_only_wav_raises(tmp_path):
    path = tmp_path / "header_only.wav"
    sf.write(path, half_scale_sine(44_100, 1.0), 44_100, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[:44])

    with pytest.raises(AudioDecodeError) as caught:
        load_audio(path, TARGET_RATE)

    assert caught.value.path == path


@pytest.mark.parametrize("container,subtype", [("WAV", "PCM_16"), ("FLAC", "PCM_16"), ("MP3", "MPEG_LAYER_III")])
def test_truncated_file_keeps_decodable_part(tmp_path, container, subtype):
    path = tmp_path / f"truncated.{container.lower()}"
    sf.write(path, half_scale_sine(44_100, 2.0), 44_100, format=container, subtype=subtype)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    samples = load_audio(path, TARGET_RATE)

    # About half of the 2 s survives; decoders may drop the last partial frame.
    assert 0.5 * TARGET_RATE < samples.size < 1.5 * TARGET_RATE
    assert abs(np.abs(samples).max() - 0.5) < 0.05


def test_nan_samples_raise(tmp_path):
    path = tmp_path / "nan.wav"
    signal = half_scale_sine(16_000, 0.5)[:, 0].astype(np.float32)
    signal[100] = np.nan
    sf.write(path, signal, 16_000, subtype="FLOAT")

    with pytest.raises(AudioDecodeError, match="NaN"):
        load_audio(path, TARGET_RATE)


def test_invalid_sample_rate_raises(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, half_scale_sine(16_000, 0.1), 16_000)

    with pytest.raises(ValueError, match="sample_rate"):
        load_audio(path, 0)


@pytest.mark.parametrize("container,subtype", [("WAV", "PCM_16"), ("MP3", "MPEG_LAYER_III")])
def test_blocks_match_whole_load(tmp_path, container, subtype):
    path = tmp_path / f"long.{container.lower()}"
    sf.write(path, half_scale_sine(44_100, 7.3, 2), 44_100, format=container, subtype=subtype)

    blocks = list(iter_audio_blocks(path, TARGET_RATE, block_seconds=2.0))
    whole = load_audio(path, TARGET_RATE)

    assert [block.size for block in blocks[:-1]] == [2 * TARGET_RATE] * (len(blocks) - 1)
    assert 0 < blocks[-1].size <= 2 * TARGET_RATE
    streamed = np.concatenate(blocks)
    assert abs(streamed.size - whole.size) <= 2
    overlap = min(streamed.size, whole.size)
    assert np.abs(streamed[:overlap] - whole[:overlap]).max() < 1e-3


def test_blocks_from_m4a(tmp_path):
    path = tmp_path / "tone.m4a"
    write_with_pyav(path, 44_100, 3.0, "aac")

    blocks = list(iter_audio_blocks(path, TARGET_RATE, block_seconds=1.0))

    assert sum(block.size for block in blocks) == pytest.approx(3 * TARGET_RATE, abs=1_000)
    assert all(block.dtype == np.float32 for block in blocks)


def test_blocks_of_empty_file_raise(tmp_path):
    path = tmp_path / "empty.ogg"
    path.write_bytes(b"")

    with pytest.raises(AudioDecodeError, match="empty"):
        list(iter_audio_blocks(path, TARGET_RATE))


@pytest.mark.parametrize(("name", "seconds"), [("a.wav", 1.25), ("b.flac", 0.4), ("c.m4a", 2.0)])
def test_duration_from_decoded_samples(tmp_path, name, seconds):
    path = tmp_path / name
    if name.endswith(".m4a"):
        write_with_pyav(path, 44_100, seconds, "aac")
        tolerance = 0.05
    else:
        sf.write(path, half_scale_sine(44_100, seconds), 44_100)
        tolerance = 1e-4

    assert audio_duration_s(path) == pytest.approx(seconds, abs=tolerance)


def test_blocks_of_long_file_bounded_memory(tmp_path):
    path = tmp_path / "ten_minutes.wav"
    rate = 8_000
    with sf.SoundFile(path, "w", samplerate=rate, channels=1, subtype="PCM_16") as handle:
        for _ in range(10):
            handle.write(half_scale_sine(rate, 60.0)[:, 0])

    tracemalloc.start()
    n_samples = 0
    peak_value = 0.0
    for block in iter_audio_blocks(path, TARGET_RATE, block_seconds=10.0):
        n_samples += block.size
        peak_value = max(peak_value, float(np.abs(block).max()))
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert abs(n_samples - 600 * TARGET_RATE) <= 2
    assert abs(peak_value - 0.5) < 0.01
    # The whole file at 16 kHz float32 is 38.4 MB; streaming keeps a few 10 s blocks.
    assert peak_bytes < 8_000_000


@pytest.mark.data
def test_emotify_mp3_decodes():
    path = shared_data_path("emotify") / "audio" / "classical" / "001.mp3"

    samples = load_audio(path, TARGET_RATE)

    # The Emotify excerpts are 30 s (one is 26 s), mono, 22.05 kHz MP3.
    assert abs(samples.size / TARGET_RATE - 30.0) < 0.2
    assert 0.05 < np.abs(samples).max() <= 1.0
    assert audio_duration_s(path) == pytest.approx(samples.size / TARGET_RATE, abs=0.01)


def test_m4a_with_non_ascii_name(tmp_path):
    path = tmp_path / "Café del Mar — 夜.m4a"
    write_with_pyav(path, 44_100, 1.0, "aac")

    samples = load_audio(path, TARGET_RATE)

    assert abs(samples.size - TARGET_RATE) <= 1_000
    assert abs(np.abs(samples).max() - 0.5) < 0.05
