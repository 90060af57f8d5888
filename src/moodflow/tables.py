"""Reading and writing the CSV and Parquet tables that stages exchange."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from moodflow.errors import MoodflowError

TABLE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".parquet")


class TableError(MoodflowError):
    """A table file is missing, unreadable or lacks required columns."""


def read_table(path: str | Path, required_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a CSV, TSV (optionally gzipped) or Parquet file into a DataFrame.

    Raises `TableError` naming the file when it is missing, has an unknown
    suffix, cannot be parsed, or lacks any of `required_columns`.
    """
    path = Path(path)
    if not path.exists():
        raise TableError(f"table not found: {path}; check the path and that the file exists")
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            frame = pd.read_parquet(path)
        elif name.endswith((".csv", ".csv.gz")):
            frame = pd.read_csv(path)
        elif name.endswith((".tsv", ".tsv.gz")):
            frame = pd.read_csv(path, sep="\t")
        else:
            raise TableError(
                f"unknown table format for {path}; use one of {', '.join(TABLE_SUFFIXES)}"
            )
    except TableError:
        raise
    except Exception as error:  # pandas and pyarrow raise many unrelated types
        raise TableError(f"could not read table {path}: {type(error).__name__}: {error}") from error

    missing = [column for column in required_columns if column not in frame.columns]
    if missing:
        raise TableError(
            f"table {path} is missing required column(s) {missing}; "
            f"found columns {list(frame.columns)}"
        )
    return frame


def write_parquet_atomic(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write `frame` to `path` through a temporary file and an atomic rename.

    A reader never sees a half-written file, even if the process is killed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        frame.to_parquet(temporary, index=False)
        # mkstemp creates the file readable by its owner only. Reading the
        # umask means setting it, which races with other threads, so use the
        # usual mode of a data file instead.
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
