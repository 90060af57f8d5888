"""Generated audio for the batch-tagging tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

MOODS = ["calm", "sad", "tense"]
GENRES = ["rock", "pop", "folk"]
SAMPLE_RATE = 22050


def tone(seconds: float, frequency: float, sample_rate: int = SAMPLE_RATE, channels: int = 1, seed: int = 0) -> np.ndarray:
    """Return a sine plus a little noise, `[samples, channels]` float32 in [-1, 1]."""
    rng = np.random.default_rng(seed)
    time = np.arange(int(seconds * sample_rate)) / sample_rate
    mono = 0.4 * np.sin(2 * np.pi * frequency * time) + 0.05 * rng.standard_normal(time.size)
    return np.repeat(mono[:, None], channels, axis=1).astype(np.float32)


def write_valid_folder(folder: Path, n_tracks: int = 6) -> list[str]:
    """Write `n_tracks` WAV/FLAC/OGG files of 0.7 to 7 s in nested folders and return their track ids."""
    lengths = [0.7, 1.3, 2.5, 4.0, 5.6, 7.0, 3.3, 1.9]
    formats = [("wav", "PCM_16"), ("flac", "PCM_16"), ("ogg", "VORBIS")]
    track_ids = []
    for index in range(n_tracks):
        extension, subtype = formats[index % len(formats)]
        relative = Path(f"album{index % 2}") / f"track{index}.{extension}"
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        audio = tone(lengths[index % len(lengths)], 220.0 * (index + 1), seed=index)
        sf.write(path, audio, SAMPLE_RATE, subtype=subtype)
        track_ids.append(relative.with_suffix("").as_posix())
    return sorted(track_ids)
