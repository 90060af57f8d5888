"""The output folder of `moodflow tag`: Parquet parts committed by atomic renames.

Layout of an output folder `OUT` (conventionally named `tags.parquet`):

- `OUT/part-NNNNNN.parquet`: tagged tracks, one row per track and model id.
  `pandas.read_parquet(OUT)` reads exactly these, because Arrow's dataset
  discovery skips names that start with `_` or `.`;
- `OUT/_errors/part-NNNNNN.parquet`: the tracks of the same part that
  failed (`track_id, path, error_class, message, model_id`);
- `OUT/_manifest.json`: the completed parts with their row counts, rewritten
  after every commit;
- `OUT/_lock`: an advisory lock held while a job writes.

Commit protocol: the errors part is written first, then the tags part. Both
writes go to a temporary name and `os.replace` it, so the tags part
appearing is the commit point. A kill at any moment leaves either a whole
part or none: `recover` deletes temporary files and errors parts without
their tags part. So a track is done (for a model id) exactly when a
committed tags or errors part lists it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from moodflow.errors import MoodflowError
from moodflow.tagging.assembly import TrackFailure, TrackResult

logger = logging.getLogger(__name__)

ERRORS_FOLDER = "_errors"
MANIFEST_FILE = "_manifest.json"
LOCK_FILE = "_lock"
# mkstemp creates files readable by the owner only; parts are meant to be shared.
_FILE_MODE = 0o644
_PART_PATTERN = re.compile(r"^part-(\d{6})\.parquet$")

ERRORS_SCHEMA = pa.schema(
    [
        ("track_id", pa.string()),
        ("path", pa.string()),
        ("error_class", pa.string()),
        ("message", pa.string()),
        ("model_id", pa.string()),
    ]
)


class TaggingOutputError(MoodflowError):
    """The output folder cannot be written, is locked, or holds foreign files."""


def tags_schema(mood_labels: list[str], genre_labels: list[str], embedding_dim: int) -> pa.Schema:
    """Return the Arrow schema of a tags part for a bundle's vocabularies and embedding size."""
    fields = [
        ("track_id", pa.string()),
        ("path", pa.string()),
        ("duration_s", pa.float64()),
        ("model_id", pa.string()),
    ]
    fields += [(f"mood_{label}", pa.float32()) for label in mood_labels]
    fields += [(f"genre_{label}", pa.float32()) for label in genre_labels]
    fields.append(("embedding", pa.list_(pa.float32(), embedding_dim)))
    return pa.schema(fields)


@dataclass
class PartWriter:
    """Turn finished tracks of one model into Arrow tables of the output schema."""

    model_id: str
    mood_labels: list[str]
    genre_labels: list[str]
    embedding_dim: int

    @property
    def schema(self) -> pa.Schema:
        return tags_schema(self.mood_labels, self.genre_labels, self.embedding_dim)

    def tags_table(self, results: list[TrackResult]) -> pa.Table:
        columns: dict[str, pa.Array] = {
            "track_id": pa.array([result.track.track_id for result in results], pa.string()),
            "path": pa.array([result.track.path for result in results], pa.string()),
            "duration_s": pa.array([result.duration_s for result in results], pa.float64()),
            "model_id": pa.array([self.model_id] * len(results), pa.string()),
        }
        moods = np.stack([result.mood for result in results]) if results else np.zeros((0, len(self.mood_labels)))
        genres = np.stack([result.genre for result in results]) if results else np.zeros((0, len(self.genre_labels)))
        for index, label in enumerate(self.mood_labels):
            columns[f"mood_{label}"] = pa.array(moods[:, index], pa.float32())
        for index, label in enumerate(self.genre_labels):
            columns[f"genre_{label}"] = pa.array(genres[:, index], pa.float32())
        flat = (
            np.concatenate([result.embedding for result in results]).astype(np.float32)
            if results
            else np.zeros(0, dtype=np.float32)
        )
        columns["embedding"] = pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), self.embedding_dim)
        return pa.table(columns, schema=self.schema)

    def errors_table(self, failures: list[TrackFailure]) -> pa.Table:
        return pa.table(
            {
                "track_id": [failure.track.track_id for failure in failures],
                "path": [failure.track.path for failure in failures],
                "error_class": [failure.error_class for failure in failures],
                "message": [failure.message for failure in failures],
                "model_id": [self.model_id] * len(failures),
            },
            schema=ERRORS_SCHEMA,
        )


class TagStore:
    """An output folder opened for writing: locked, recovered and ready to commit parts."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._lock_handle = None
        self._next_index = 0

    def open(self) -> TagStore:
        """Create and lock the folder, check that it is writable and recover from a killed run.

        Raises `TaggingOutputError` naming the folder when it cannot be
        created or written, or another job holds its lock.
        """
        try:
            (self.folder / ERRORS_FOLDER).mkdir(parents=True, exist_ok=True)
            handle, probe = tempfile.mkstemp(prefix=".write-check-", dir=self.folder)
            os.close(handle)
            os.unlink(probe)
            self._lock_handle = open(self.folder / LOCK_FILE, "a")
        except OSError as error:
            raise TaggingOutputError(
                f"output folder {self.folder} cannot be written ({error.strerror or error}); "
                "choose a writable path with --output"
            ) from error
        try:
            fcntl.flock(self._lock_handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            self._lock_handle.close()
            self._lock_handle = None
            raise TaggingOutputError(
                f"output folder {self.folder} is locked by another running `moodflow tag`; "
                "wait for it to finish or write to another folder"
            ) from error
        self.recover()
        return self

    def close(self) -> None:
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None

    def __enter__(self) -> TagStore:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def recover(self) -> None:
        """Delete what a killed run left half-done and rewrite the manifest from the committed parts."""
        errors_folder = self.folder / ERRORS_FOLDER
        for folder in (self.folder, errors_folder):
            for leftover in [*folder.glob(".part-*.tmp"), *folder.glob(".manifest-*.tmp")]:
                logger.info("removing temporary file %s left by an interrupted run", leftover)
                leftover.unlink()
        committed = set(committed_part_names(self.folder))
        for errors_part in errors_folder.glob("part-*.parquet"):
            if errors_part.name not in committed:
                logger.info("removing errors part %s whose tags part was never committed", errors_part)
                errors_part.unlink()
        indices = [int(_PART_PATTERN.match(name).group(1)) for name in committed]
        self._next_index = max(indices, default=-1) + 1
        self._write_manifest()

    def clear(self) -> None:
        """Delete every committed part, errors part and the manifest (used by `--force`)."""
        for name in committed_part_names(self.folder):
            (self.folder / name).unlink()
            (self.folder / ERRORS_FOLDER / name).unlink(missing_ok=True)
        self._next_index = 0
        self._write_manifest()

    def done_track_ids(self, model_id: str) -> set[str]:
        """Return the track ids that a committed part lists, as tagged or failed, for `model_id`."""
        done: set[str] = set()
        for name in committed_part_names(self.folder):
            for path in (self.folder / name, self.folder / ERRORS_FOLDER / name):
                if not path.exists():
                    continue
                table = pq.read_table(path, columns=["track_id", "model_id"])
                frame = table.to_pandas()
                done.update(frame.loc[frame["model_id"] == model_id, "track_id"])
        return done

    def commit(self, tags: pa.Table, errors: pa.Table) -> str:
        """Write one part (errors first, then tags as the commit point) and return its file name."""
        name = f"part-{self._next_index:06d}.parquet"
        _write_table_atomic(errors, self.folder / ERRORS_FOLDER / name)
        _write_table_atomic(tags, self.folder / name)
        self._next_index += 1
        self._write_manifest()
        logger.debug("committed %s: %d tagged, %d failed", name, tags.num_rows, errors.num_rows)
        return name

    def _write_manifest(self) -> None:
        parts = []
        for name in committed_part_names(self.folder):
            errors_path = self.folder / ERRORS_FOLDER / name
            parts.append(
                {
                    "name": name,
                    "tagged": pq.ParquetFile(self.folder / name).metadata.num_rows,
                    "failed": pq.ParquetFile(errors_path).metadata.num_rows if errors_path.exists() else 0,
                }
            )
        text = json.dumps({"parts": parts}, indent=1) + "\n"
        handle, temporary = tempfile.mkstemp(prefix=".manifest-", suffix=".tmp", dir=self.folder)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, _FILE_MODE)
        os.replace(temporary, self.folder / MANIFEST_FILE)


def committed_part_names(folder: str | Path) -> list[str]:
    """Return the names of the committed tags parts in `folder`, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(path.name for path in folder.iterdir() if _PART_PATTERN.match(path.name))


def read_tags(folder: str | Path, model_id: str | None = None) -> pd.DataFrame:
    """Read the tagged tracks of an output folder, optionally of one model id only.

    The `embedding` column contains one float32 array per row.
    """
    folder = Path(folder)
    names = committed_part_names(folder)
    if not names:
        raise TaggingOutputError(f"no committed tags parts in {folder}; run `moodflow tag` first")
    table = pa.concat_tables([pq.read_table(folder / name) for name in names], promote_options="default")
    frame = table.to_pandas()
    if model_id is not None:
        frame = frame[frame["model_id"] == model_id].reset_index(drop=True)
    return frame


def read_errors(folder: str | Path) -> pd.DataFrame:
    """Read the errors table of an output folder (failed tracks of every committed part)."""
    folder = Path(folder)
    tables = [
        pq.read_table(folder / ERRORS_FOLDER / name)
        for name in committed_part_names(folder)
        if (folder / ERRORS_FOLDER / name).exists()
    ]
    if not tables:
        return ERRORS_SCHEMA.empty_table().to_pandas()
    return pa.concat_tables(tables).to_pandas()


def _write_table_atomic(table: pa.Table, path: Path) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        pq.write_table(table, temporary)
        os.chmod(temporary, _FILE_MODE)
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

