"""The dataset manifest: one row per track, validated before training starts.

A manifest is a CSV or Parquet table with the columns

- `track_id`: unique string id;
- `path`: the audio file, absolute or relative to the manifest's folder;
- `group`: the unit that splits must keep together (the artist);
- `genre`: one label of the genre vocabulary (single-label);
- one column per mood label, named as the label, holding a soft target in
  [0, 1] (for example the fraction of listeners who felt that mood).

Other columns (title, album, ...) are kept and ignored. Row numbers in errors
are 1-based data rows, so row 1 is the first line after a CSV header.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from moodflow.errors import MoodflowError
from moodflow.tables import read_table

logger = logging.getLogger(__name__)

BASE_COLUMNS = ("track_id", "path", "group", "genre")
# Problems listed in full in an error message; the rest are counted.
MAX_LISTED_PROBLEMS = 50


@dataclass(frozen=True)
class ManifestProblem:
    """One invalid cell of a manifest: 1-based data row, column, value and what is wrong."""

    row: int
    column: str
    value: object
    reason: str

    def __str__(self) -> str:
        value = self.value.item() if isinstance(self.value, np.generic) else self.value
        return f"row {self.row}, column {self.column!r}, value {value!r}: {self.reason}"


class ManifestError(MoodflowError):
    """A manifest has invalid rows or lacks columns; `problems` lists every invalid cell."""

    def __init__(self, source: str, problems: Sequence[ManifestProblem], header: str | None = None) -> None:
        self.source = source
        self.problems = list(problems)
        lines = [str(problem) for problem in self.problems[:MAX_LISTED_PROBLEMS]]
        if len(self.problems) > MAX_LISTED_PROBLEMS:
            lines.append(f"... and {len(self.problems) - MAX_LISTED_PROBLEMS} more")
        header = header or f"{len(self.problems)} invalid value(s); fix them before training"
        super().__init__(f"manifest {source}: {header}:\n  " + "\n  ".join(lines))


def validate_manifest(
    frame: pd.DataFrame,
    mood_labels: Sequence[str],
    genre_labels: Sequence[str],
    *,
    root: str | Path | None = None,
    source: str = "(in memory)",
    check_files: bool = True,
) -> pd.DataFrame:
    """Check every row of `frame` and return a copy with absolute `path` values.

    Relative paths are resolved against `root` (default: the working
    directory). Raises `ManifestError` listing, for every row, a missing or
    duplicate `track_id`, a missing `path` or file (with `check_files`), a
    missing `group`, a genre outside `genre_labels`, and a mood value that is
    missing, not a number or outside [0, 1]. Raises it also when columns are
    missing or the table has no rows.
    """
    columns = (*BASE_COLUMNS, *mood_labels)
    missing_columns = [column for column in columns if column not in frame.columns]
    if missing_columns:
        raise ManifestError(
            source,
            [ManifestProblem(0, column, None, "column missing") for column in missing_columns],
            header=f"missing column(s) {missing_columns}; found {list(frame.columns)}",
        )
    if len(frame) == 0:
        raise ManifestError(source, [], header="the table has no rows")

    base = Path(root) if root is not None else Path.cwd()
    rows = _row_numbers(frame)
    frame = frame.reset_index(drop=True).copy()
    frame["path"] = [_resolve(base, value) for value in frame["path"]]

    problems = _check_ids(frame, rows) + _check_paths(frame, rows, check_files) + _check_groups(frame, rows)
    problems += _check_genres(frame, rows, genre_labels)
    problems += _check_moods(frame, rows, mood_labels)
    if problems:
        problems.sort(key=lambda problem: problem.row)
        raise ManifestError(source, problems)

    frame["track_id"] = frame["track_id"].astype(str)
    frame["group"] = frame["group"].astype(str)
    for label in mood_labels:
        frame[label] = frame[label].astype(np.float32)
    logger.info("manifest %s: %d tracks in %d groups are valid", source, len(frame), frame["group"].nunique())
    return frame


def read_manifest(
    path: str | Path,
    mood_labels: Sequence[str],
    genre_labels: Sequence[str],
    *,
    root: str | Path | None = None,
    check_files: bool = True,
) -> pd.DataFrame:
    """Read a manifest file and validate it; relative paths resolve against `root` or the file's folder."""
    path = Path(path)
    frame = read_table(path)
    return validate_manifest(
        frame,
        mood_labels,
        genre_labels,
        root=path.parent if root is None else root,
        source=str(path),
        check_files=check_files,
    )


def write_manifest(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a manifest as CSV or Parquet, chosen by the suffix of `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        raise ValueError(f"manifest path {path} must end in .csv or .parquet")
    return path


def _row_numbers(frame: pd.DataFrame) -> list[int]:
    """Return 1-based row numbers, taken from an integer index so that filtered tables keep the file's numbering."""
    if pd.api.types.is_integer_dtype(frame.index.dtype):
        return [int(index) + 1 for index in frame.index]
    return list(range(1, len(frame) + 1))


def _resolve(base: Path, value: object) -> str:
    if _is_missing(value):
        return ""
    path = Path(str(value))
    return str(path if path.is_absolute() else base / path)


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def _check_ids(frame: pd.DataFrame, rows: list[int]) -> list[ManifestProblem]:
    problems = []
    first_row: dict[str, int] = {}
    for row, value in zip(rows, frame["track_id"]):
        if _is_missing(value):
            problems.append(ManifestProblem(row, "track_id", value, "track_id is missing"))
            continue
        key = str(value)
        if key in first_row:
            problems.append(ManifestProblem(row, "track_id", value, f"duplicate of row {first_row[key]}"))
        else:
            first_row[key] = row
    return problems


def _check_paths(frame: pd.DataFrame, rows: list[int], check_files: bool) -> list[ManifestProblem]:
    problems = []
    for row, value in zip(rows, frame["path"]):
        if value == "":
            problems.append(ManifestProblem(row, "path", value, "path is missing"))
        elif check_files and not Path(value).is_file():
            problems.append(ManifestProblem(row, "path", value, "audio file not found"))
    return problems


def _check_groups(frame: pd.DataFrame, rows: list[int]) -> list[ManifestProblem]:
    return [
        ManifestProblem(row, "group", value, "group is missing; splits need it to keep an artist together")
        for row, value in zip(rows, frame["group"])
        if _is_missing(value)
    ]


def _check_genres(frame: pd.DataFrame, rows: list[int], genre_labels: Sequence[str]) -> list[ManifestProblem]:
    allowed = set(genre_labels)
    return [
        ManifestProblem(row, "genre", value, f"unknown genre; allowed: {list(genre_labels)}")
        for row, value in zip(rows, frame["genre"])
        if value not in allowed
    ]


def _check_moods(frame: pd.DataFrame, rows: list[int], mood_labels: Sequence[str]) -> list[ManifestProblem]:
    problems = []
    for label in mood_labels:
        numbers = pd.to_numeric(frame[label], errors="coerce")
        invalid = numbers.isna() | (numbers < 0.0) | (numbers > 1.0)
        for position in np.flatnonzero(invalid.to_numpy()):
            value = frame[label].iloc[position]
            problems.append(ManifestProblem(rows[position], label, value, "mood value must be a number in [0, 1]"))
    return problems
