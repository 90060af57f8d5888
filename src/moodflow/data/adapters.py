"""Adapters from public dataset layouts to a validated manifest (see `moodflow.data.manifest`).

Each adapter returns a `LabelledManifest`: the validated table plus the mood
and genre vocabularies that its label columns use.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from moodflow.data.manifest import ManifestError, ManifestProblem, validate_manifest
from moodflow.tables import read_table

logger = logging.getLogger(__name__)

EMOTIFY_MOOD_LABELS = (
    "amazement",
    "solemnity",
    "tenderness",
    "nostalgia",
    "calmness",
    "power",
    "joyful_activation",
    "tension",
    "sadness",
)
EMOTIFY_GENRE_LABELS = ("classical", "rock", "electronic", "pop")
AUDIO_SUFFIXES = (".mp3", ".ogg", ".oga", ".flac", ".wav", ".m4a", ".aac", ".aif", ".aiff", ".opus")

JAMENDO_MOOD_PREFIX = "mood/theme---"
JAMENDO_GENRE_PREFIX = "genre---"
# Fixed leading columns of an MTG-Jamendo TSV; every later column is one tag.
JAMENDO_COLUMNS = ("TRACK_ID", "ARTIST_ID", "ALBUM_ID", "PATH", "DURATION")


@dataclass(frozen=True)
class LabelledManifest:
    """A validated manifest table with the vocabularies of its label columns."""

    table: pd.DataFrame
    mood_labels: tuple[str, ...]
    genre_labels: tuple[str, ...]


def emotify_manifest(root: str | Path, *, check_files: bool = True) -> LabelledManifest:
    """Build the manifest of an Emotify-layout folder (`tracks.csv` plus `audio/`).

    The synthetic clip sets of `moodflow.synth` use the same layout. `group`
    is the artist, `genre` the four-class label and the mood columns the nine
    GEMS vote fractions. Title, artist, album and year are kept.
    """
    root = Path(root)
    tracks_csv = root / "tracks.csv"
    required = ("track_id", "path", "genre", "artist", *EMOTIFY_MOOD_LABELS)
    frame = read_table(tracks_csv, required_columns=required)
    frame = frame.assign(group=frame["artist"])
    table = validate_manifest(
        frame, EMOTIFY_MOOD_LABELS, EMOTIFY_GENRE_LABELS, root=root, source=str(tracks_csv), check_files=check_files
    )
    return LabelledManifest(table, EMOTIFY_MOOD_LABELS, EMOTIFY_GENRE_LABELS)


def folder_genre_manifest(
    root: str | Path, *, suffixes: Sequence[str] = AUDIO_SUFFIXES, check_files: bool = True
) -> LabelledManifest:
    """Build a manifest from one sub-folder per genre: `<root>/<genre>/[<artist>/...]<file>`.

    The genre vocabulary is the sorted list of sub-folder names that contain
    audio. A file inside a further sub-folder gets that folder's name as its
    group (the usual `genre/artist/track` layout). A file directly in the genre
    folder has no artist, so it is its own group, and a logged warning
    explains that splits cannot keep its artist together. There are no mood labels.
    `track_id` is the path relative to `root` without the suffix.
    """
    root = Path(root)
    if not root.is_dir():
        raise ManifestError(str(root), [], header="folder not found")
    allowed = {suffix.lower() for suffix in suffixes}

    rows = []
    for genre_dir in sorted(path for path in root.iterdir() if path.is_dir()):
        for path in sorted(genre_dir.rglob("*")):
            if not path.is_file() or path.suffix.lower() not in allowed:
                continue
            relative = path.relative_to(root)
            nested = len(relative.parts) > 2
            rows.append(
                {
                    "track_id": str(relative.with_suffix("")),
                    "path": str(relative),
                    "group": relative.parts[1] if nested else str(relative.with_suffix("")),
                    "genre": genre_dir.name,
                }
            )
    if not rows:
        raise ManifestError(
            str(root), [], header=f"no audio files with suffix {sorted(allowed)} in any genre sub-folder"
        )

    frame = pd.DataFrame(rows)
    ungrouped = int((frame["group"] == frame["track_id"]).sum())
    if ungrouped:
        logger.warning(
            "%s: %d of %d files sit directly in a genre folder, so each is its own group; "
            "put them in <genre>/<artist>/ folders to keep artists together in splits",
            root, ungrouped, len(frame),
        )
    genre_labels = tuple(sorted(frame["genre"].unique()))
    table = validate_manifest(frame, (), genre_labels, root=root, source=str(root), check_files=check_files)
    return LabelledManifest(table, (), genre_labels)


def read_jamendo_vocabulary(path: str | Path, prefix: str) -> tuple[str, ...]:
    """Read an MTG-Jamendo tag list (one `prefix` + name a line) and return the names."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(str(path), [], header="tag vocabulary file not found")
    names = []
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        tag = line.strip()
        if not tag:
            continue
        if not tag.startswith(prefix):
            raise ManifestError(
                str(path), [ManifestProblem(line_number, "tag", tag, f"expected a tag starting with {prefix!r}")]
            )
        names.append(tag[len(prefix) :])
    return tuple(names)


def jamendo_manifest(
    tsv_path: str | Path,
    audio_root: str | Path,
    *,
    mood_labels: Sequence[str] | None = None,
    genre_labels: Sequence[str] | None = None,
    vocabulary_dir: str | Path | None = None,
    drop_without_genre: bool = False,
    check_files: bool = True,
) -> LabelledManifest:
    """Build a manifest from an MTG-Jamendo TSV such as `autotagging_moodtheme.tsv`.

    Each line is TRACK_ID, ARTIST_ID, ALBUM_ID, PATH (relative to
    `audio_root`), DURATION, then one tab-separated tag per column
    (`mood/theme---x`, `genre---x`, `instrument---x`). Mood columns are 1.0
    when the track has the tag and 0.0 otherwise. `genre` is the track's first
    genre tag that is in the genre vocabulary. `group` is ARTIST_ID.

    Vocabularies come from `mood_labels`/`genre_labels`, else from
    `moodtheme.txt`/`genre.txt` in `vocabulary_dir`, else from the tags found
    in the TSV. A track with no genre in the vocabulary is an invalid row
    (reported by `ManifestError`) unless `drop_without_genre`, which drops it
    and logs the count. Tags outside the vocabularies are ignored.
    """
    tsv_path = Path(tsv_path)
    records = _read_jamendo_lines(tsv_path)
    if vocabulary_dir is not None:
        vocabulary_dir = Path(vocabulary_dir)
        if mood_labels is None:
            mood_labels = read_jamendo_vocabulary(vocabulary_dir / "moodtheme.txt", JAMENDO_MOOD_PREFIX)
        if genre_labels is None:
            genre_labels = read_jamendo_vocabulary(vocabulary_dir / "genre.txt", JAMENDO_GENRE_PREFIX)
    if mood_labels is None:
        mood_labels = _tags_found(records, JAMENDO_MOOD_PREFIX)
    if genre_labels is None:
        genre_labels = _tags_found(records, JAMENDO_GENRE_PREFIX)
    mood_labels, genre_labels = tuple(mood_labels), tuple(genre_labels)

    genre_set = set(genre_labels)
    rows = []
    for record in records:
        tags = record.pop("tags")
        moods = {tag[len(JAMENDO_MOOD_PREFIX) :] for tag in tags if tag.startswith(JAMENDO_MOOD_PREFIX)}
        genres = [tag[len(JAMENDO_GENRE_PREFIX) :] for tag in tags if tag.startswith(JAMENDO_GENRE_PREFIX)]
        known_genres = [genre for genre in genres if genre in genre_set]
        # An unknown genre is kept as found, so validation reports it with its row.
        if known_genres:
            record["genre"] = known_genres[0]
        elif genres:
            record["genre"] = genres[0]
        else:
            record["genre"] = ""
        record.update({label: float(label in moods) for label in mood_labels})
        rows.append(record)
    frame = pd.DataFrame(rows, columns=["track_id", "path", "group", "album", "duration_s", "genre", *mood_labels])

    if drop_without_genre:
        keep = frame["genre"].isin(genre_set)
        if not keep.all():
            logger.warning("%s: dropped %d tracks with no genre in the vocabulary", tsv_path, int((~keep).sum()))
        frame = frame[keep]
    table = validate_manifest(
        frame, mood_labels, genre_labels, root=audio_root, source=str(tsv_path), check_files=check_files
    )
    return LabelledManifest(table, mood_labels, genre_labels)


def _read_jamendo_lines(tsv_path: Path) -> list[dict]:
    if not tsv_path.is_file():
        raise ManifestError(str(tsv_path), [], header="TSV file not found")
    lines = tsv_path.read_text(encoding="utf-8").splitlines()
    if not lines or tuple(lines[0].split("\t")[: len(JAMENDO_COLUMNS)]) != JAMENDO_COLUMNS:
        found = lines[0].split("\t") if lines else []
        raise ManifestError(
            str(tsv_path), [], header=f"header must start with {list(JAMENDO_COLUMNS)}, found {found[:6]}"
        )

    records, problems = [], []
    for row, line in enumerate(lines[1:], start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < len(JAMENDO_COLUMNS):
            problems.append(ManifestProblem(row, "TAGS", line, f"expected at least {len(JAMENDO_COLUMNS)} tab-separated fields"))
            continue
        track_id, artist_id, album_id, path, duration = fields[: len(JAMENDO_COLUMNS)]
        records.append(
            {
                "track_id": track_id,
                "path": path,
                "group": artist_id,
                "album": album_id,
                "duration_s": pd.to_numeric(duration, errors="coerce"),
                "tags": [tag.strip() for tag in fields[len(JAMENDO_COLUMNS) :] if tag.strip()],
            }
        )
    if problems:
        raise ManifestError(str(tsv_path), problems)
    return records


def _tags_found(records: list[dict], prefix: str) -> tuple[str, ...]:
    found = {tag[len(prefix) :] for record in records for tag in record["tags"] if tag.startswith(prefix)}
    return tuple(sorted(found))
