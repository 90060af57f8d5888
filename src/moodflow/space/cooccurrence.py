"""Playlist normalisation and sparse co-occurrence counting.

A playlist is de-duplicated (the first occurrence of a track keeps its
position), and two tracks co-occur in it when both are present and, if a
window is set, at most `window` positions apart. `count_cooccurrence` returns
c_ij, the number of playlists in which tracks i and j co-occur.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from moodflow.errors import MoodflowError

logger = logging.getLogger(__name__)


class PlaylistInputError(MoodflowError):
    """The playlists given to the space build are unusable."""


@dataclass(frozen=True)
class Playlists:
    """De-duplicated playlists in compressed form.

    `track_ids[indices[indptr[p]:indptr[p + 1]]]` are the tracks of playlist p
    in position order. `track_ids` is sorted, so two builds of the same
    playlists number the tracks identically. Empty playlists are dropped.
    """

    track_ids: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray

    @property
    def n_playlists(self) -> int:
        return len(self.indptr) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    def track_counts(self) -> np.ndarray:
        """Number of playlists containing each track, aligned with `track_ids`."""
        return np.bincount(self.indices, minlength=len(self.track_ids)).astype(np.int64)


def playlists_from_frame(frame: pd.DataFrame, source: str = "playlists table") -> Playlists:
    """Normalise a long table with `playlist_id`, `track_id` and optional `position`.

    Rows with a missing or empty `track_id` are dropped with a warning. Within
    a playlist, rows are ordered by `position` when present, else kept in
    table order.
    """
    missing = [column for column in ("playlist_id", "track_id") if column not in frame.columns]
    if missing:
        raise PlaylistInputError(
            f"{source} is missing column(s) {missing}; found {list(frame.columns)}"
        )
    columns = ["playlist_id", "track_id"] + (["position"] if "position" in frame.columns else [])
    table = frame[columns].copy()
    table["row"] = np.arange(len(table))

    invalid = table["track_id"].isna() | (table["track_id"].astype(str).str.len() == 0)
    invalid |= table["playlist_id"].isna()
    if invalid.any():
        logger.warning(
            "dropped %d of %d rows of %s with a missing playlist_id or track_id",
            int(invalid.sum()), len(table), source,
        )
        table = table[~invalid]
    if table.empty:
        raise PlaylistInputError(f"{source} contains no usable (playlist_id, track_id) rows")

    table["playlist_id"] = table["playlist_id"].astype(str)
    table["track_id"] = table["track_id"].astype(str)
    order = ["playlist_id"] + (["position"] if "position" in table.columns else []) + ["row"]
    table = table.sort_values(order, kind="stable")
    return _compress(table["playlist_id"].to_numpy(), table["track_id"].to_numpy())


def playlists_from_lists(playlists: Iterable[Sequence[str]]) -> Playlists:
    """Normalise playlists given as sequences of track ids, in position order."""
    playlist_keys: list[int] = []
    track_ids: list[str] = []
    for number, playlist in enumerate(playlists):
        for track_id in playlist:
            if track_id is None or (isinstance(track_id, float) and np.isnan(track_id)):
                continue
            track_ids.append(str(track_id))
            playlist_keys.append(number)
    if not track_ids:
        raise PlaylistInputError("the playlists contain no track ids")
    return _compress(np.asarray(playlist_keys), np.asarray(track_ids, dtype=object))


def _compress(playlist_keys: np.ndarray, track_ids: np.ndarray) -> Playlists:
    """Build `Playlists` from rows already grouped by playlist and in position order."""
    unique_ids, indices = np.unique(track_ids.astype(str), return_inverse=True)
    _, playlist_codes = np.unique(playlist_keys, return_inverse=True)
    order = np.argsort(playlist_codes, kind="stable")
    playlist_codes = playlist_codes[order]
    indices = indices[order].astype(np.int64)

    # Keep the first occurrence of each (playlist, track) pair.
    pair_keys = playlist_codes * len(unique_ids) + indices
    _, first = np.unique(pair_keys, return_index=True)
    keep = np.zeros(len(pair_keys), dtype=bool)
    keep[first] = True
    n_duplicates = int((~keep).sum())
    if n_duplicates:
        logger.info("ignored %d repeated tracks within playlists", n_duplicates)
    playlist_codes = playlist_codes[keep]
    indices = indices[keep]

    lengths = np.bincount(playlist_codes)
    lengths = lengths[lengths > 0]
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return Playlists(track_ids=unique_ids.astype(object), indptr=indptr, indices=indices.astype(np.int32))


def pairs_per_playlist(lengths: np.ndarray, window: int | None) -> np.ndarray:
    """Number of unordered co-occurring pairs in playlists of the given lengths."""
    lengths = lengths.astype(np.int64)
    if window is None:
        return lengths * (lengths - 1) // 2
    span = np.minimum(window, np.maximum(lengths - 1, 0))
    # Sum over offsets o = 1..span of (length - o).
    return span * lengths - span * (span + 1) // 2


def count_cooccurrence(playlists: Playlists, window: int | None, chunk_pairs: int) -> sp.csr_matrix:
    """Count c_ij over all playlists as a symmetric CSR matrix with a zero diagonal.

    Playlists are processed in chunks of at most `chunk_pairs` pairs (a single
    longer playlist forms its own chunk), so memory stays bounded by the chunk
    size plus the accumulated sparse matrix.
    """
    n_tracks = len(playlists.track_ids)
    lengths = playlists.lengths
    pair_totals = np.cumsum(pairs_per_playlist(lengths, window))
    upper = sp.csr_matrix((n_tracks, n_tracks), dtype=np.int32)

    start = 0
    n_chunks = 0
    while start < playlists.n_playlists:
        done_pairs = pair_totals[start - 1] if start > 0 else 0
        stop = int(np.searchsorted(pair_totals, done_pairs + chunk_pairs, side="right"))
        stop = max(stop, start + 1)
        upper = upper + _count_chunk(playlists, start, stop, window, n_tracks)
        n_chunks += 1
        start = stop
    logger.info(
        "counted %d co-occurring pairs of %d tracks in %d chunk(s)",
        int(pair_totals[-1]) if len(pair_totals) else 0, n_tracks, n_chunks,
    )
    counts = (upper + upper.T).tocsr()
    counts.sort_indices()
    return counts


def _count_chunk(playlists: Playlists, start: int, stop: int, window: int | None, n_tracks: int) -> sp.csr_matrix:
    """Count pairs of playlists `start:stop` into an upper-triangular matrix."""
    begin, end = playlists.indptr[start], playlists.indptr[stop]
    tracks = playlists.indices[begin:end]
    lengths = playlists.lengths[start:stop]
    playlist_start = np.repeat(playlists.indptr[start:stop] - begin, lengths)
    position = np.arange(end - begin) - playlist_start
    remaining = np.repeat(lengths, lengths) - position - 1

    max_offset = int(remaining.max()) if len(remaining) else 0
    if window is not None:
        max_offset = min(max_offset, window)
    rows, cols = [], []
    candidates = np.flatnonzero(remaining >= 1)
    for offset in range(1, max_offset + 1):
        candidates = candidates[remaining[candidates] >= offset]
        if len(candidates) == 0:
            break
        first = tracks[candidates]
        second = tracks[candidates + offset]
        rows.append(np.minimum(first, second))
        cols.append(np.maximum(first, second))
    if not rows:
        return sp.csr_matrix((n_tracks, n_tracks), dtype=np.int32)
    row = np.concatenate(rows)
    col = np.concatenate(cols)
    data = np.ones(len(row), dtype=np.int32)
    return sp.coo_matrix((data, (row, col)), shape=(n_tracks, n_tracks)).tocsr()


def keep_strongest_partners(counts: sp.csr_matrix, max_partners: int) -> sp.csr_matrix:
    """Keep a pair when it is among the `max_partners` largest counts of either track.

    Ties within a row are broken by the lower column index, so the result is
    deterministic. `max_partners=0` returns `counts` unchanged.
    """
    if max_partners <= 0:
        return counts
    counts = counts.tocsr()
    row_lengths = np.diff(counts.indptr)
    if len(row_lengths) == 0 or row_lengths.max() <= max_partners:
        return counts
    row_of_entry = np.repeat(np.arange(counts.shape[0]), row_lengths)
    order = np.lexsort((counts.indices, -counts.data.astype(np.int64), row_of_entry))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - np.repeat(counts.indptr[:-1], row_lengths)
    kept = sp.csr_matrix(
        ((rank < max_partners).astype(np.int8), counts.indices, counts.indptr), shape=counts.shape
    )
    either = (kept + kept.T).tocsr()
    either.data = (either.data > 0).astype(np.int8)
    result = counts.multiply(either).tocsr()
    result.eliminate_zeros()
    result.sort_indices()
    return result.astype(counts.dtype)
