"""The list of tracks to tag: a folder searched recursively, or a manifest table.

A manifest is a CSV, TSV or Parquet table with `track_id` and `path` columns
(and optionally `album_id`, `artist`, `release_date`, which the job ignores).
A relative `path` is taken relative to the manifest's folder. The manifest
and the audio paths may also be URIs that `pyarrow.fs` can open, such as
`s3://bucket/week/manifest.parquet` or `gs://...`. Audio given by URI is
copied to a temporary file before decoding.
"""

from __future__ import annotations

import io
import logging
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pandas as pd

from moodflow.errors import MoodflowError
from moodflow.tables import TableError, read_table

logger = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".aif", ".aiff", ".wma", ".mp4")
MANIFEST_COLUMNS = ("track_id", "path")
_URI_PATTERN = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


class TaggingInputError(MoodflowError):
    """The input folder or manifest is missing, unreadable or invalid."""


@dataclass(frozen=True)
class TrackInput:
    track_id: str
    path: str


def is_uri(path: str) -> bool:
    """Return whether `path` has a URI scheme such as `s3://` or `file://`."""
    return bool(_URI_PATTERN.match(path))


def list_tracks(source: str) -> list[TrackInput]:
    """List the tracks of a folder or a manifest, sorted by track id.

    Raises `TaggingInputError` naming `source` when it is missing, unreadable,
    contains no audio, or lists a track id twice.
    """
    if not is_uri(source) and Path(source).is_dir():
        tracks = discover_folder(Path(source))
    else:
        tracks = read_manifest(source)
    if not tracks:
        raise TaggingInputError(f"no audio tracks found in {source}; audio files end in {', '.join(AUDIO_SUFFIXES)}")
    return sorted(tracks, key=lambda track: track.track_id)


def discover_folder(folder: Path) -> list[TrackInput]:
    """Find audio files under `folder`; the track id is the relative path without suffix.

    When two files differ only by suffix (`a.mp3`, `a.ogg`), both keep the
    suffix in their track id so that no track is lost.
    """
    try:
        paths = [path for path in sorted(folder.rglob("*")) if path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES]
    except OSError as error:
        raise TaggingInputError(f"could not list input folder {folder}: {error}") from error

    relative = [path.relative_to(folder).as_posix() for path in paths]
    stems = [str(PurePosixPath(name).with_suffix("")) for name in relative]
    stem_counts = Counter(stems)
    tracks = []
    for path, name, stem in zip(paths, relative, stems):
        track_id = stem if stem_counts[stem] == 1 else name
        tracks.append(TrackInput(track_id=track_id, path=str(path.resolve())))
    logger.info("found %d audio files under %s", len(tracks), folder)
    return tracks


def read_manifest(source: str) -> list[TrackInput]:
    """Read a manifest table (local path or URI) into track inputs."""
    try:
        if is_uri(source):
            frame = _read_remote_table(source)
        else:
            frame = read_table(source, required_columns=MANIFEST_COLUMNS)
    except TableError as error:
        raise TaggingInputError(f"invalid manifest: {error}") from error

    missing_columns = [column for column in MANIFEST_COLUMNS if column not in frame.columns]
    if missing_columns:
        raise TaggingInputError(
            f"manifest {source} is missing column(s) {missing_columns}; found {list(frame.columns)}"
        )
    empty_rows = frame.index[frame["track_id"].isna() | frame["path"].isna()].tolist()
    if empty_rows:
        raise TaggingInputError(
            f"manifest {source} has an empty track_id or path in row(s) {[row + 1 for row in empty_rows[:10]]}"
        )
    track_ids = frame["track_id"].astype(str)
    duplicated = sorted(set(track_ids[track_ids.duplicated()]))
    if duplicated:
        raise TaggingInputError(
            f"manifest {source} lists {len(duplicated)} track id(s) more than once, e.g. {duplicated[:5]}"
        )

    base = _manifest_base(source)
    tracks = [
        TrackInput(track_id=track_id, path=_resolve(str(path), base))
        for track_id, path in zip(track_ids, frame["path"])
    ]
    logger.info("read %d tracks from manifest %s", len(tracks), source)
    return tracks


def _manifest_base(source: str) -> str:
    if is_uri(source):
        return source.rsplit("/", 1)[0]
    return str(Path(source).resolve().parent)


def _resolve(path: str, base: str) -> str:
    if is_uri(path) or os.path.isabs(path):
        return path
    if is_uri(base):
        return f"{base}/{path}"
    return str(Path(base) / path)


def _read_remote_table(uri: str) -> pd.DataFrame:
    from pyarrow import fs as pafs

    try:
        filesystem, remote_path = pafs.FileSystem.from_uri(uri)
        with filesystem.open_input_file(remote_path) as handle:
            data = handle.read()
    except (OSError, ValueError) as error:
        raise TaggingInputError(f"could not read manifest {uri}: {error}") from error

    name = uri.lower()
    compression = "gzip" if name.endswith(".gz") else None
    try:
        if name.endswith(".parquet"):
            return pd.read_parquet(io.BytesIO(data))
        if name.endswith((".tsv", ".tsv.gz")):
            return pd.read_csv(io.BytesIO(data), sep="\t", compression=compression)
        if name.endswith((".csv", ".csv.gz")):
            return pd.read_csv(io.BytesIO(data), compression=compression)
    except Exception as error:  # pandas and pyarrow raise many unrelated types
        raise TaggingInputError(f"could not parse manifest {uri}: {type(error).__name__}: {error}") from error
    raise TaggingInputError(f"unknown manifest format for {uri}; use .csv, .csv.gz, .tsv, .tsv.gz or .parquet")


def fetch_to_local(path: str) -> tuple[str, bool]:
    """Return a local file path for `path`, copying a URI to a temporary file.

    The boolean is True when the caller must delete the temporary copy.
    NOTE: the tests cover `file://` URIs only; `s3://` and `gs://` go through
    the same `pyarrow.fs` calls but were not run against a real bucket.
    """
    if not is_uri(path):
        return path, False
    from pyarrow import fs as pafs

    filesystem, remote_path = pafs.FileSystem.from_uri(path)
    suffix = PurePosixPath(remote_path).suffix
    handle, local = tempfile.mkstemp(prefix="moodflow-tag-", suffix=suffix)
    try:
        with os.fdopen(handle, "wb") as out, filesystem.open_input_stream(remote_path) as source:
            while block := source.read(1 << 20):
                out.write(block)
    except BaseException:
        Path(local).unlink(missing_ok=True)
        raise
    return local, True
