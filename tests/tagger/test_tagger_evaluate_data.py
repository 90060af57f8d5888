"""A generated, labelled tone dataset in the Emotify layout for evaluation tests.

Genre "low" is a 220 Hz tone and genre "high" is white noise, so the two are
separable from spectral features. "calm" votes are high for low tracks and
"tense" votes high for high tracks, so both emotions are learnable too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

MOODS = ["calm", "tense"]
GENRES = ["low", "high"]
SAMPLE_RATE = 22050


def write_tone_dataset(root: Path, n_artists: int = 12, tracks_per_artist: int = 2, seconds: float = 1.0) -> Path:
    """Write WAV clips and `tracks.csv` under `root` and return the CSV path."""
    rng = np.random.default_rng(0)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    time_s = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    rows = []
    for artist in range(n_artists):
        for take in range(tracks_per_artist):
            # Every artist has tracks of both genres, so every fold contains both.
            genre = GENRES[(artist + take) % 2]
            track_id = f"a{artist:02d}-t{take}"
            if genre == "low":
                audio = 0.5 * np.sin(2 * np.pi * 220.0 * time_s) + 0.01 * rng.standard_normal(time_s.size)
                calm, tense = rng.uniform(0.6, 0.9), rng.uniform(0.0, 0.3)
            else:
                audio = 0.3 * rng.standard_normal(time_s.size)
                calm, tense = rng.uniform(0.0, 0.3), rng.uniform(0.6, 0.9)
            relative = f"audio/{track_id}.wav"
            sf.write(root / relative, audio.astype(np.float32), SAMPLE_RATE)
            rows.append(
                {"track_id": track_id, "path": relative, "genre": genre, "artist": f"artist {artist}", "calm": calm, "tense": tense}
            )
    manifest = root / "tracks.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest


def data_overrides(root: Path, n_folds: int = 4) -> list[str]:
    """Return Hydra overrides that point the Emotify data config at the generated dataset."""
    return [
        "data=emotify",
        f"data.root={root}",
        f"data.mood_labels=[{','.join(MOODS)}]",
        f"data.genre_labels=[{','.join(GENRES)}]",
        f"data.n_folds={n_folds}",
    ]
