"""Generate a small synthetic music world whose audio and usage share hidden factors.

Every track has a hidden factor vector of `FACTOR_DIM` = 8 numbers:

- dims 0-3: the genre, one-hot over `GENRES` (the artist's genre) plus
  Gaussian noise (sd 0.1);
- dim 4: valence and dim 5: arousal, in [-1, 1], around the artist's mood
  centre (its genre's centre plus an artist offset);
- dims 6-7: an artist style that audio does not reveal (the artist's value
  plus noise), so only the artist's other tracks or usage can recover it.

The audio of a track is rendered from dims 0-5 (`ClipStyle`: genre, valence,
arousal), and playlists and listening histories choose tracks by a Gaussian
kernel on the whole factor vector, weighted by a track popularity. Audio and
usage therefore agree where the factors are audible, which is what the
cold-start projection learns and what tests can check against the saved
factors. New releases are drawn the same way but appear in no playlist and no
history.

Everything written is named `synthetic_*` so it cannot be mistaken for real data.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from moodflow.synth.clips import GENRE_MOOD_CENTRES, write_labelled_clip, write_tracks_csv
from moodflow.synth.music import GENRES, ClipStyle

logger = logging.getLogger(__name__)

FACTOR_DIM = 8
GENRE_DIMS = slice(0, 4)
VALENCE_DIM = 4
AROUSAL_DIM = 5
STYLE_DIMS = slice(6, 8)
# Width of the Gaussian kernel that turns factor distance into choice weight.
KERNEL_WIDTH = 0.45
# Listening dates are days after this fixed date, so output never depends on today.
HISTORY_START = dt.date(2026, 1, 1)
MOOD_CATEGORIES = {(True, True): "happy", (True, False): "calm", (False, False): "sad", (False, True): "tense"}


@dataclass(frozen=True)
class CorpusPaths:
    """Files and folders written by `generate_corpus`."""

    root: Path
    clips_dir: Path
    clips_tracks_csv: Path
    new_releases_dir: Path
    new_releases_tracks_csv: Path
    track_metadata_csv: Path
    playlists_csv: Path
    listening_history_csv: Path
    hidden_factors_npy: Path


def generate_corpus(
    out_dir: str | Path,
    *,
    n_tracks: int = 300,
    n_artists: int = 60,
    n_playlists: int = 400,
    n_users: int = 50,
    n_new_releases: int = 8,
    clip_seconds: float = 4.0,
    sample_rate: int = 16_000,
    seed: int = 0,
) -> CorpusPaths:
    """Write a linked synthetic corpus under `out_dir` and return its paths.

    Written files (all in `out_dir`):

    - `synthetic_clips/`: the `n_tracks` warm tracks in the Emotify layout
      (`tracks.csv` with GEMS vote fractions, `audio/<genre>/*.wav`);
    - `synthetic_new_releases/`: `n_new_releases` tracks in the same layout,
      by existing artists except the last one, whose artist is new;
    - `synthetic_track_metadata.csv`: `track_id, title, artist, album, genre,
      valence, arousal, is_new_release, factor_row` for every track;
    - `synthetic_playlists.csv`: `playlist_id, track_id, position, category`
      (5 to 15 warm tracks each);
    - `synthetic_listening_history.csv`: `user_id, track_id, plays,
      last_played` (ISO dates in 2026, 10 to 40 warm tracks per user);
    - `synthetic_hidden_factors.npy`: float32 `[n_tracks + n_new_releases,
      8]`, row `factor_row` of the metadata table.

    The same arguments always write byte-identical files.
    """
    if n_tracks < len(GENRES) or not len(GENRES) <= n_artists <= n_tracks:
        raise ValueError(
            f"need n_tracks >= {len(GENRES)} and {len(GENRES)} <= n_artists <= n_tracks, "
            f"got n_tracks={n_tracks}, n_artists={n_artists}"
        )
    for name, value in (("n_playlists", n_playlists), ("n_users", n_users), ("n_new_releases", n_new_releases)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")

    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    world_seed, clip_seed, usage_seed = np.random.SeedSequence(seed).spawn(3)
    world_rng = np.random.default_rng(world_seed)

    artists = _draw_artists(n_artists + 1, world_rng)  # the extra artist releases only new music
    warm_artists = _assign_tracks(n_tracks, n_artists, world_rng)
    new_artists = [int(world_rng.integers(n_artists)) for _ in range(max(n_new_releases - 1, 0))]
    new_artists += [n_artists] if n_new_releases else []
    all_artists = np.array(warm_artists + new_artists, dtype=np.int64)
    factors = _draw_track_factors(all_artists, artists, world_rng)
    popularity = world_rng.lognormal(0.0, 0.7, size=n_tracks)

    track_ids = [f"synthetic-t{index + 1:04d}" for index in range(n_tracks)]
    track_ids += [f"synthetic-new-{index + 1:03d}" for index in range(n_new_releases)]
    clip_seeds = clip_seed.spawn(len(track_ids))

    clips_dir = root / "synthetic_clips"
    new_dir = root / "synthetic_new_releases"
    metadata = []
    clip_rows: dict[Path, list[dict[str, object]]] = {clips_dir: [], new_dir: []}
    for row, track_id in enumerate(track_ids):
        is_new = row >= n_tracks
        artist = int(all_artists[row])
        style = _style_of(factors[row])
        number = row - n_tracks + 1 if is_new else row + 1
        kind = "new release" if is_new else "piece"
        names = {
            "track_id": track_id,
            "title": f"Synthetic {style.genre} {kind} {number:04d}",
            "artist": f"Synthetic Artist {artist + 1:03d}",
            "album": f"Synthetic Album {artist + 1:03d}" + (" (new)" if is_new else ""),
        }
        folder = new_dir if is_new else clips_dir
        clip_rows[folder].append(
            write_labelled_clip(
                folder,
                f"audio/{style.genre}/{track_id}.wav",
                style,
                clip_seconds,
                sample_rate,
                np.random.default_rng(clip_seeds[row]),
                year=2026 if is_new else 2000 + artist % 25,
                **names,
            )
        )
        metadata.append(
            {
                **names,
                "genre": style.genre,
                "valence": round(style.valence, 4),
                "arousal": round(style.arousal, 4),
                "is_new_release": is_new,
                "factor_row": row,
            }
        )

    clips_tracks_csv = write_tracks_csv(clip_rows[clips_dir], clips_dir / "tracks.csv")
    new_dir.mkdir(parents=True, exist_ok=True)
    new_tracks_csv = write_tracks_csv(clip_rows[new_dir], new_dir / "tracks.csv")
    track_metadata_csv = root / "synthetic_track_metadata.csv"
    _write_csv(pd.DataFrame(metadata), track_metadata_csv)

    usage_rng = np.random.default_rng(usage_seed)
    warm_factors = factors[:n_tracks]
    playlists = _draw_playlists(n_playlists, warm_factors, popularity, track_ids, usage_rng)
    playlists_csv = _write_csv(playlists, root / "synthetic_playlists.csv")
    history = _draw_histories(n_users, warm_factors, popularity, track_ids, usage_rng)
    history_csv = _write_csv(history, root / "synthetic_listening_history.csv")

    factors_npy = root / "synthetic_hidden_factors.npy"
    np.save(factors_npy, factors.astype(np.float32))
    logger.info(
        "wrote a synthetic corpus to %s: %d tracks, %d new releases, %d artists, %d playlists, %d users",
        root, n_tracks, n_new_releases, n_artists, n_playlists, n_users,
    )
    return CorpusPaths(
        root=root,
        clips_dir=clips_dir,
        clips_tracks_csv=clips_tracks_csv,
        new_releases_dir=new_dir,
        new_releases_tracks_csv=new_tracks_csv,
        track_metadata_csv=track_metadata_csv,
        playlists_csv=playlists_csv,
        listening_history_csv=history_csv,
        hidden_factors_npy=factors_npy,
    )


@dataclass(frozen=True)
class _Artists:
    """Per-artist genre index `[n]`, mood centre `[n, 2]` and style `[n, 2]`."""

    genre: np.ndarray
    mood: np.ndarray
    style: np.ndarray


def _draw_artists(n_artists: int, rng: np.random.Generator) -> _Artists:
    genre = rng.permutation(np.arange(n_artists) % len(GENRES))
    centres = np.array([GENRE_MOOD_CENTRES[GENRES[index]] for index in genre])
    mood = centres + rng.normal(0.0, 0.25, size=(n_artists, 2))
    style = rng.normal(0.0, 0.5, size=(n_artists, 2))
    return _Artists(genre=genre, mood=mood, style=style)


def _assign_tracks(n_tracks: int, n_artists: int, rng: np.random.Generator) -> list[int]:
    """Return the artist of each warm track: at least two each when possible, the rest by random shares."""
    min_tracks = 2 if n_tracks >= 2 * n_artists else 1
    shares = rng.dirichlet(np.full(n_artists, 2.0))
    counts = min_tracks + rng.multinomial(n_tracks - min_tracks * n_artists, shares)
    return [artist for artist in range(n_artists) for _ in range(counts[artist])]


def _draw_track_factors(track_artists: np.ndarray, artists: _Artists, rng: np.random.Generator) -> np.ndarray:
    n_tracks = len(track_artists)
    factors = np.zeros((n_tracks, FACTOR_DIM))
    factors[np.arange(n_tracks), artists.genre[track_artists]] = 1.0
    factors[:, GENRE_DIMS] += rng.normal(0.0, 0.1, size=(n_tracks, len(GENRES)))
    mood = artists.mood[track_artists] + rng.normal(0.0, 0.35, size=(n_tracks, 2))
    factors[:, [VALENCE_DIM, AROUSAL_DIM]] = np.clip(mood, -1.0, 1.0)
    factors[:, STYLE_DIMS] = artists.style[track_artists] + rng.normal(0.0, 0.2, size=(n_tracks, 2))
    return factors


def _style_of(factor: np.ndarray) -> ClipStyle:
    genre = GENRES[int(np.argmax(factor[GENRE_DIMS]))]
    return ClipStyle(genre, float(factor[VALENCE_DIM]), float(factor[AROUSAL_DIM]))


def _choice_weights(factors: np.ndarray, popularity: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Return popularity times a Gaussian kernel of the factor distance to `centre`, summing to 1."""
    squared = ((factors - centre) ** 2).sum(axis=1)
    weights = popularity * np.exp(-squared / (2 * KERNEL_WIDTH**2))
    return weights / weights.sum()


def _draw_playlists(n_playlists, factors, popularity, track_ids, rng) -> pd.DataFrame:
    rows = []
    n_tracks = len(factors)
    for playlist in range(n_playlists):
        seed_track = rng.choice(n_tracks, p=popularity / popularity.sum())
        centre = factors[seed_track] + rng.normal(0.0, 0.2, size=FACTOR_DIM)
        length = min(int(rng.integers(5, 16)), n_tracks)
        members = rng.choice(n_tracks, size=length, replace=False, p=_choice_weights(factors, popularity, centre))
        category = _category_of(centre, rng)
        for position, track in enumerate(members):
            rows.append(
                {
                    "playlist_id": f"synthetic-p{playlist + 1:05d}",
                    "track_id": track_ids[track],
                    "position": position,
                    "category": category,
                }
            )
    return pd.DataFrame(rows, columns=["playlist_id", "track_id", "position", "category"])


def _category_of(centre: np.ndarray, rng: np.random.Generator) -> str:
    """Name a playlist after the genre or the mood quadrant of its centre, half the time each."""
    if rng.random() < 0.5:
        return GENRES[int(np.argmax(centre[GENRE_DIMS]))]
    return MOOD_CATEGORIES[(bool(centre[VALENCE_DIM] >= 0), bool(centre[AROUSAL_DIM] >= 0))]


def _draw_histories(n_users, factors, popularity, track_ids, rng) -> pd.DataFrame:
    rows = []
    n_tracks = len(factors)
    for user in range(n_users):
        # A listener's taste mixes the neighbourhoods of one or two tracks.
        anchors = rng.choice(n_tracks, size=int(rng.integers(1, 3)), replace=False)
        weights = sum(_choice_weights(factors, popularity, factors[anchor]) for anchor in anchors) / len(anchors)
        size = min(int(rng.integers(10, 41)), n_tracks)
        tracks = rng.choice(n_tracks, size=size, replace=False, p=weights)
        affinity = weights[tracks] / weights[tracks].max()
        plays = 1 + rng.poisson(20.0 * affinity)
        days = rng.integers(0, 330, size=size)
        for track, count, day in zip(tracks, plays, days):
            rows.append(
                {
                    "user_id": f"synthetic-u{user + 1:04d}",
                    "track_id": track_ids[track],
                    "plays": int(count),
                    "last_played": (HISTORY_START + dt.timedelta(days=int(day))).isoformat(),
                }
            )
    return pd.DataFrame(rows, columns=["user_id", "track_id", "plays", "last_played"])


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False, lineterminator="\n")
    return path
