"""Write a synthetic labelled clip set in the Emotify layout.

The output folder looks like the real Emotify data set, so the Emotify adapter
reads both:

    <root>/tracks.csv                   one row per clip, columns TRACKS_COLUMNS
    <root>/audio/<genre>/<NNN>.wav      16-bit PCM, mono

Each artist plays one genre and has its own mood offset, so grouping splits
by artist matters here as it does on the real data. The nine GEMS emotion
columns are vote fractions: each clip has `n_listeners` simulated listeners
who each feel an emotion with a probability that follows the clip's valence
and arousal (see `gems_probabilities`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from moodflow.data.adapters import EMOTIFY_MOOD_LABELS
from moodflow.synth.music import GENRES, ClipStyle, render_clip

logger = logging.getLogger(__name__)

# The nine GEMS emotions, in the column order of Emotify's tracks.csv.
GEMS_EMOTIONS = EMOTIFY_MOOD_LABELS
TRACKS_COLUMNS = (
    "track_id",
    "path",
    "genre",
    "artist",
    "album",
    "title",
    "year",
    "id3_genre",
    "n_listeners",
    *GEMS_EMOTIONS,
    "liked",
    "disliked",
)

# Logit of each emotion (and of liked/disliked) as
# bias + w_valence * valence + w_arousal * arousal, plus a per-genre bonus.
_VOTE_WEIGHTS = {
    "amazement": (-0.8, 0.3, 0.8),
    "solemnity": (-0.8, -0.3, -0.9),
    "tenderness": (-0.5, 1.2, -0.9),
    "nostalgia": (-0.7, -0.8, -0.6),
    "calmness": (0.0, 0.2, -1.8),
    "power": (-0.4, -0.2, 1.8),
    "joyful_activation": (-0.5, 1.3, 1.0),
    "tension": (-0.9, -1.2, 1.2),
    "sadness": (-1.0, -1.8, -0.4),
    "liked": (0.2, 0.6, 0.0),
    "disliked": (-1.6, -0.6, 0.0),
}
_GENRE_VOTE_BONUS = {("classical", "solemnity"): 0.8, ("rock", "power"): 0.6, ("electronic", "amazement"): 0.4}

# Mean (valence, arousal) of each genre's artists.
GENRE_MOOD_CENTRES = {
    "classical": (0.0, -0.5),
    "rock": (-0.2, 0.5),
    "electronic": (0.2, 0.3),
    "pop": (0.4, 0.0),
}


@dataclass(frozen=True)
class ClipSetPaths:
    """Files written by `generate_clips`."""

    root: Path
    tracks_csv: Path
    audio_dir: Path


def _assign_artists(n_clips: int, n_artists: int, rng: np.random.Generator) -> tuple[list[str], list[int]]:
    """Return each artist's genre and each clip's artist, clips sorted by genre then artist."""
    artist_genres = [GENRES[index] for index in rng.permutation(np.arange(n_artists) % len(GENRES))]
    min_tracks = 2 if n_clips >= 2 * n_artists else 1
    shares = rng.dirichlet(np.full(n_artists, 2.0))
    counts = min_tracks + rng.multinomial(n_clips - min_tracks * n_artists, shares)
    order = sorted(range(n_artists), key=lambda artist: (GENRES.index(artist_genres[artist]), artist))
    clip_artists = [artist for artist in order for _ in range(counts[artist])]
    return artist_genres, clip_artists


def gems_probabilities(style: ClipStyle) -> dict[str, float]:
    """Return the probability that one listener feels each emotion (and likes or dislikes the clip)."""
    probabilities = {}
    for name, (bias, valence_weight, arousal_weight) in _VOTE_WEIGHTS.items():
        logit = bias + valence_weight * style.valence + arousal_weight * style.arousal
        logit += _GENRE_VOTE_BONUS.get((style.genre, name), 0.0)
        probabilities[name] = float(1.0 / (1.0 + np.exp(-logit)))
    return probabilities


def simulate_votes(style: ClipStyle, n_listeners: int, rng: np.random.Generator) -> dict[str, float]:
    """Return vote fractions (k / n_listeners, 4 decimals) of the GEMS emotions, liked and disliked."""
    fractions = {}
    for name, probability in gems_probabilities(style).items():
        votes = rng.binomial(n_listeners, probability)
        fractions[name] = round(votes / n_listeners, 4)
    return fractions


def write_labelled_clip(
    root: Path,
    relative_path: str,
    style: ClipStyle,
    clip_seconds: float,
    sample_rate: int,
    rng: np.random.Generator,
    **metadata: object,
) -> dict[str, object]:
    """Render one clip to `root / relative_path` (16-bit WAV) and return its `tracks.csv` row.

    `metadata` gives `track_id`, `artist`, `album`, `title` and `year`. `rng`
    draws the melody, the number of listeners (11 to 59) and their votes.
    """
    (root / relative_path).parent.mkdir(parents=True, exist_ok=True)
    samples = render_clip(style, clip_seconds, sample_rate, rng)
    sf.write(root / relative_path, samples, sample_rate, subtype="PCM_16")

    n_listeners = int(rng.integers(11, 60))
    return {
        **metadata,
        "path": relative_path,
        "genre": style.genre,
        "id3_genre": style.genre.capitalize(),
        "n_listeners": n_listeners,
        **simulate_votes(style, n_listeners, rng),
    }


def write_tracks_csv(rows: list[dict[str, object]], path: Path) -> Path:
    """Write `rows` as an Emotify-layout `tracks.csv` with columns in `TRACKS_COLUMNS` order."""
    pd.DataFrame(rows, columns=list(TRACKS_COLUMNS)).to_csv(path, index=False, lineterminator="\n")
    return path


def generate_clips(
    out_dir: str | Path,
    *,
    n_clips: int = 24,
    n_artists: int | None = None,
    clip_seconds: float = 4.0,
    sample_rate: int = 16_000,
    seed: int = 0,
) -> ClipSetPaths:
    """Write `n_clips` labelled synthetic clips and their `tracks.csv` under `out_dir`.

    `n_artists` defaults to `max(4, n_clips // 3)`. Artists are spread evenly
    over the four genres in a shuffled order, and each gets at least two
    tracks when `n_clips >= 2 * n_artists` and a random share of the rest,
    so artist sizes vary as on real data. Rows are sorted by genre, then
    artist. The same arguments always write byte-identical files.
    """
    if n_clips < 1:
        raise ValueError(f"n_clips must be at least 1, got {n_clips}")
    n_artists = max(len(GENRES), n_clips // 3) if n_artists is None else n_artists
    if not 1 <= n_artists <= n_clips:
        raise ValueError(f"n_artists must be in [1, n_clips={n_clips}], got {n_artists}")

    root = Path(out_dir)
    audio_dir = root / "audio"
    seeds = np.random.SeedSequence(seed)
    layout_seed, *clip_seeds = seeds.spawn(n_clips + 1)
    layout_rng = np.random.default_rng(layout_seed)
    artist_genres, clip_artists = _assign_artists(n_clips, n_artists, layout_rng)
    artist_offsets = layout_rng.normal(0.0, 0.25, size=(n_artists, 2))

    rows = []
    for index, artist in enumerate(clip_artists):
        genre = artist_genres[artist]
        rng = np.random.default_rng(clip_seeds[index])
        centre = np.asarray(GENRE_MOOD_CENTRES[genre]) + artist_offsets[artist]
        valence, arousal = np.clip(centre + rng.normal(0.0, 0.35, size=2), -1.0, 1.0)
        style = ClipStyle(genre, float(valence), float(arousal))

        row = write_labelled_clip(
            root,
            f"audio/{genre}/{index + 1:03d}.wav",
            style,
            clip_seconds,
            sample_rate,
            rng,
            track_id=f"synthetic-{index + 1:03d}",
            artist=f"Synthetic Artist {artist + 1:02d}",
            album=f"Synthetic Album {artist + 1:02d}",
            title=f"Synthetic {genre} piece {index + 1:03d}",
            year=2000 + artist % 20,
        )
        rows.append(row)

    tracks_csv = write_tracks_csv(rows, root / "tracks.csv")
    logger.info("wrote %d synthetic clips by %d artists to %s", n_clips, n_artists, root)
    return ClipSetPaths(root=root, tracks_csv=tracks_csv, audio_dir=audio_dir)
