"""Assembly of feature tables for training (warm tracks) and projecting (new releases)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from moodflow.coldstart.features import (
    ArtistCatalogue,
    FeatureTable,
    absent_block,
    audio_block,
    concat_tables,
    descriptor_block,
    playlists_by_track,
    usage_block,
)
from moodflow.coldstart.projector import FeatureLayout

logger = logging.getLogger(__name__)


def present_descriptor_columns(metadata: pd.DataFrame | None, columns: Sequence[str]) -> list[str]:
    """Return the configured descriptor columns that `metadata` has, warning about the others."""
    if metadata is None:
        return []
    missing = [column for column in columns if column not in metadata.columns]
    if missing:
        logger.warning(
            "metadata lacks descriptor column(s) %s; training without them "
            "(set features.descriptor_columns to the columns you have)", missing,
        )
    return [column for column in columns if column in metadata.columns]


def warm_artists(space, metadata: pd.DataFrame | None) -> pd.DataFrame | None:
    """Return the warm tracks' artists from `metadata`, else from the space's own artist map."""
    if metadata is not None and "artist" in metadata.columns:
        return metadata
    artist_of = getattr(space, "artist_of", None)
    if artist_of:
        return pd.DataFrame({"track_id": list(artist_of), "artist": list(artist_of.values())})
    return None


def warm_training_table(
    space,
    config: DictConfig,
    tags: pd.DataFrame | None = None,
    metadata: pd.DataFrame | None = None,
    playlists: pd.DataFrame | None = None,
    tags_source: str = "tags table",
) -> tuple[FeatureTable, np.ndarray, dict]:
    """Build the training rows of the warm tracks, their target vectors and the layout extras.

    Early usage is simulated by taking 1, 2, ... `max_usage_playlists` of
    each warm track's playlists in a seeded random order (the track itself
    removed). Each usage level adds one copy of the rows that have it.
    """
    track_ids = np.asarray(space.track_ids).astype(str)
    n = len(track_ids)
    features = config.features
    extras: dict = {}

    blocks = {}
    if tags is not None:
        blocks["audio"] = audio_block(track_ids, tags, source=tags_source)
        extras["embedding_dim"] = len(tags["embedding"].iloc[0]) if len(tags) else 0
        extras["audio_label_columns"] = [c for c in tags.columns if c.startswith(("mood_", "genre_"))]
    artists = warm_artists(space, metadata)
    if artists is not None:
        blocks["artist"] = ArtistCatalogue(space, artists, features.on_ambiguous_artist).warm_block(track_ids)
    descriptor_columns = present_descriptor_columns(metadata, features.descriptor_columns)
    if descriptor_columns:
        blocks["descriptors"] = descriptor_block(track_ids, metadata, descriptor_columns)
        extras["descriptor_columns"] = descriptor_columns
    for name, block in blocks.items():
        logger.info("warm feature %s: %d of %d tracks", name, int(block.present.sum()), n)
        if not block.present.any():
            logger.warning(
                "warm feature %s covers none of the %d warm tracks, so the model will not use it; "
                "check that its table's track ids are the space's track ids", name, n,
            )

    if playlists is None:
        return FeatureTable(track_ids, blocks), space.vectors.astype(np.float32), extras

    playlists_of = playlists_by_track(playlists, track_ids)
    rng = np.random.default_rng(config.training.seed)
    shuffled = {track_id: [lists[i] for i in rng.permutation(len(lists))] for track_id, lists in playlists_of.items()}
    levels, targets = [], []
    for n_playlists in range(1, features.max_usage_playlists + 1):
        usage = usage_block(space, track_ids, shuffled, n_playlists, features.fold_in_method)
        rows = np.arange(n) if n_playlists == 1 else np.flatnonzero(usage.present)
        level_blocks = {name: type(block)(block.values[rows], block.present[rows]) for name, block in blocks.items()}
        level_blocks["usage"] = type(usage)(usage.values[rows], usage.present[rows])
        levels.append(FeatureTable(track_ids[rows], level_blocks))
        targets.append(space.vectors[rows])
        logger.info("warm feature usage from %d playlist(s): %d of %d tracks", n_playlists, int(usage.present.sum()), n)
    return concat_tables(levels), np.concatenate(targets).astype(np.float32), extras


def release_table(
    space,
    layout: FeatureLayout,
    config: DictConfig,
    track_ids: Sequence[str],
    tags: pd.DataFrame | None = None,
    releases: pd.DataFrame | None = None,
    warm_metadata: pd.DataFrame | None = None,
    usage_playlists: pd.DataFrame | None = None,
    tags_source: str = "tags table",
) -> FeatureTable:
    """Build the feature table of new releases for the blocks in `layout`.

    `releases` contains each release's `artist` (or `artist_id`) and
    descriptors, and `warm_metadata` the artists of the warm tracks.
    `usage_playlists` lists the playlists in which releases have appeared
    so far, oldest first.
    """
    track_ids = np.asarray(track_ids).astype(str)
    n = len(track_ids)
    blocks = {}
    notes: list[list[str]] = [[] for _ in range(n)]
    if "audio" in layout.blocks:
        blocks["audio"] = audio_block(
            track_ids, tags, source=tags_source,
            embedding_dim=layout.embedding_dim, label_columns=layout.audio_label_columns,
        )
    if "artist" in layout.blocks:
        artists = warm_artists(space, warm_metadata)
        if releases is not None and artists is not None and "artist" in releases.columns:
            catalogue = ArtistCatalogue(space, artists, config.features.on_ambiguous_artist)
            indexed = releases.assign(track_id=releases["track_id"].astype(str)).drop_duplicates("track_id").set_index("track_id")
            names = [indexed["artist"].get(track_id) for track_id in track_ids]
            artist_ids = [indexed["artist_id"].get(track_id) for track_id in track_ids] if "artist_id" in indexed else None
            blocks["artist"], artist_notes = catalogue.release_block(track_ids, names, artist_ids)
            notes = [left + right for left, right in zip(notes, artist_notes)]
        else:
            blocks["artist"] = absent_block(n, layout.space_dim)
    if "descriptors" in layout.blocks:
        columns = layout.descriptor_columns
        if releases is not None and all(column in releases.columns for column in columns):
            blocks["descriptors"] = descriptor_block(track_ids, releases, columns)
        else:
            logger.info("releases have no descriptor columns %s; projecting without descriptors", columns)
            blocks["descriptors"] = absent_block(n, len(columns))
    if "usage" in layout.blocks:
        if usage_playlists is not None:
            playlists_of = playlists_by_track(usage_playlists, track_ids)
            blocks["usage"] = usage_block(
                space, track_ids, playlists_of, config.features.max_usage_playlists, config.features.fold_in_method
            )
        else:
            blocks["usage"] = absent_block(n, layout.space_dim)
    for name, block in blocks.items():
        logger.info("release feature %s: %d of %d tracks", name, int(block.present.sum()), n)
    return FeatureTable(track_ids, blocks, notes)
