"""`build_space`: playlists -> co-occurrence -> PPMI -> truncated SVD -> MusicSpace."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from moodflow.space.config import SpaceConfig
from moodflow.space.cooccurrence import (
    Playlists,
    PlaylistInputError,
    count_cooccurrence,
    keep_strongest_partners,
    playlists_from_frame,
    playlists_from_lists,
)
from moodflow.space.model import MusicSpace, normalise_rows
from moodflow.space.ppmi import ppmi_matrix, smoothed_context_counts
from moodflow.space.svd import truncated_svd

logger = logging.getLogger(__name__)

COLD_BELOW_MIN_COUNT = "in fewer playlists than min_count"
COLD_NO_PPMI = "no co-occurrence with positive PPMI"


def build_space(
    playlists: pd.DataFrame | Iterable[Sequence[str]] | Playlists,
    config: SpaceConfig | None = None,
    tracks_metadata: pd.DataFrame | None = None,
) -> MusicSpace:
    """Build the music space from playlists.

    `playlists` is a long table (`playlist_id`, `track_id`, optional
    `position`), an iterable of track-id sequences, or `Playlists`.
    `tracks_metadata` is an optional table with `track_id` and `artist`
    and/or `album`. Tracks in fewer than `min_count` playlists, and tracks
    whose PPMI row is empty, get no vector and are listed as cold.
    """
    config = config or SpaceConfig()
    started = time.perf_counter()
    data = _normalise_input(playlists)
    track_counts = data.track_counts()
    logger.info(
        "building a space from %d playlists over %d tracks (%d entries)",
        data.n_playlists, len(data.track_ids), len(data.indices),
    )

    counts = count_cooccurrence(data, config.window, config.chunk_pairs)
    warm = track_counts >= config.min_count
    warm_index = np.flatnonzero(warm)
    counts = counts[warm_index][:, warm_index].tocsr()
    if config.min_pair_count > 1:
        counts.data[counts.data < config.min_pair_count] = 0
        counts.eliminate_zeros()
    counts = keep_strongest_partners(counts, config.max_partners)
    logger.info("kept %d of %d tracks as contexts, %d non-zero pairs", len(warm_index), len(warm), counts.nnz)

    context_counts = smoothed_context_counts(track_counts[warm_index], config.smoothing)
    ppmi = ppmi_matrix(counts, track_counts[warm_index], context_counts, data.n_playlists, config.shift)
    u, s, vt = truncated_svd(ppmi, config.dim, config.n_iter, config.oversamples, config.seed)
    if len(s) == 0:
        raise PlaylistInputError(
            f"no pair of the {len(warm_index)} tracks in at least min_count={config.min_count} playlists "
            f"has a positive PPMI, so the space would have no dimensions; add playlists or lower min_count"
        )
    vectors, has_vector = normalise_rows(u * s**config.alpha if len(s) else u)

    vector_index = warm_index[has_vector]
    no_vector = warm_index[~has_vector]
    below = np.flatnonzero(~warm)
    cold_index = np.concatenate([below, no_vector])
    cold_reasons = np.array([COLD_BELOW_MIN_COUNT] * len(below) + [COLD_NO_PPMI] * len(no_vector), dtype=object)
    order = np.argsort(cold_index, kind="stable")

    artist_of, album_of = _metadata_maps(tracks_metadata)
    space = MusicSpace(
        track_ids=data.track_ids[vector_index],
        vectors=vectors[has_vector].astype(np.float32),
        track_counts=track_counts[vector_index],
        n_playlists=data.n_playlists,
        config=config,
        context_track_ids=data.track_ids[warm_index],
        context_counts=context_counts,
        context_playlist_counts=track_counts[warm_index],
        components=vt.T.astype(np.float32),
        singular_values=s,
        cooccurrence=counts,
        cold_track_ids=data.track_ids[cold_index[order]],
        cold_reasons=cold_reasons[order],
        cold_track_counts=track_counts[cold_index[order]],
        artist_of=artist_of,
        album_of=album_of,
    )
    logger.info(
        "built space %s: %d tracks with vectors (dim %d), %d cold, in %.1f s",
        space.space_id, len(space), space.dim, len(space.cold_track_ids), time.perf_counter() - started,
    )
    return space


def _normalise_input(playlists) -> Playlists:
    if isinstance(playlists, Playlists):
        return playlists
    if isinstance(playlists, pd.DataFrame):
        return playlists_from_frame(playlists)
    if isinstance(playlists, (str, bytes)):
        raise PlaylistInputError(
            "playlists must be a table or an iterable of track-id sequences, not a string; "
            "read a file with moodflow.tables.read_table first"
        )
    return playlists_from_lists(playlists)


def _metadata_maps(metadata: pd.DataFrame | None) -> tuple[dict[str, str], dict[str, str]]:
    if metadata is None:
        return {}, {}
    if "track_id" not in metadata.columns:
        raise PlaylistInputError(
            f"track metadata is missing the track_id column; found {list(metadata.columns)}"
        )
    maps = []
    for column in ("artist", "album"):
        if column not in metadata.columns:
            maps.append({})
            continue
        rows = metadata[metadata[column].notna()]
        maps.append(dict(zip(rows["track_id"].astype(str), rows[column].astype(str))))
    return maps[0], maps[1]
