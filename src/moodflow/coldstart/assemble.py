"""Assembly of feature tables for training (warm tracks) and projecting (new releases)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

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
    space_block,
    usage_block,
)
from moodflow.coldstart.holdout import heldout_space_blocks, holdout_shares
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


@dataclass
class TrainingRows:
    """Training rows of warm tracks.

    `table` contains the features, `targets [n, dim]` the unit space vectors,
    `extras` the layout settings for `FeatureLayout.fit`. `partners[i]` lists
    the space rows of the tracks that share a playlist with row `i`'s track
    in the playlists its usage block did not read. Rows built without
    playlists have no partners. `usage_levels[i]` is the number of
    playlists row `i`'s usage block may read (None without playlists).
    """

    table: FeatureTable
    targets: np.ndarray
    extras: dict
    partners: list[np.ndarray]
    usage_levels: np.ndarray | None = None


def warm_training_rows(
    space,
    config: DictConfig,
    tags: pd.DataFrame | None = None,
    metadata: pd.DataFrame | None = None,
    playlists: pd.DataFrame | None = None,
    tags_source: str = "tags table",
) -> TrainingRows:
    """Build the training rows of the warm tracks, their target vectors and the layout extras.

    Early usage is simulated by taking 1, 2, ... `max_usage_playlists` of
    each warm track's playlists in a seeded random order (the track itself
    removed). Level 1 has a row for every track; each higher level adds a
    row for every track in at least that many playlists.

    With playlists and `features.holdout_rounds > 0`, the rows are those of
    the held-out tracks of `moodflow.coldstart.holdout`: their artist means
    and fold-ins come from spaces rebuilt without them, as for a real new
    release. Otherwise every warm track gives rows computed in `space`.
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

    if playlists is None or features.max_usage_playlists < 1:
        no_partners = [np.zeros(0, dtype=np.int64)] * n
        return TrainingRows(FeatureTable(track_ids, blocks), space.vectors.astype(np.float32), extras, no_partners)

    playlists_of = playlists_by_track(playlists, track_ids)
    rng = np.random.default_rng(config.training.seed)
    shuffled = {track_id: [lists[i] for i in rng.permutation(len(lists))] for track_id, lists in playlists_of.items()}
    rounds = int(features.get("holdout_rounds", 0))
    if rounds:
        shares = holdout_shares(track_ids, rounds, float(features.holdout_fraction), rng)
        groups = []
        for held_out in shares:
            rows = space.rows_of(held_out)
            group = {name: block.take(rows) for name, block in blocks.items()}
            rebuilt = heldout_space_blocks(
                space, playlists, held_out, artists, shuffled, features.max_usage_playlists,
                features.on_ambiguous_artist, features.fold_in_method,
            )
            if "artist" in rebuilt:
                group["artist"] = rebuilt["artist"]
            groups.append((held_out, rows, group, rebuilt["usage"]))
    else:
        rows = np.arange(n)
        usage_levels = [
            usage_block(space, track_ids, shuffled, level, features.fold_in_method)
            for level in range(1, features.max_usage_playlists + 1)
        ]
        groups = [(track_ids, rows, blocks, usage_levels)]

    parts, targets, partners, row_levels = [], [], [], []
    for group_ids, group_rows, group_blocks, usage_levels in groups:
        counts = np.fromiter((len(shuffled.get(track_id, ())) for track_id in group_ids), dtype=np.int64)
        for level, usage in enumerate(usage_levels, start=1):
            if level == 1:
                keep = np.arange(len(group_ids))
            else:
                keep = np.flatnonzero(usage.present & (counts >= level))
            level_blocks = {name: block.take(keep) for name, block in group_blocks.items()}
            level_blocks["usage"] = usage.take(keep)
            parts.append(FeatureTable(group_ids[keep], level_blocks))
            targets.append(space.vectors[group_rows[keep]])
            row_levels.append(np.full(len(keep), level))
            partners += [_later_partners(space, track_id, shuffled.get(track_id, [])[level:]) for track_id in group_ids[keep]]
    rows = TrainingRows(concat_tables(parts), np.concatenate(targets).astype(np.float32), extras, partners, np.concatenate(row_levels))
    _log_feature_agreement(rows)
    return rows


def _log_feature_agreement(rows: TrainingRows) -> None:
    """Log, per usage level, how many rows have a fold-in and its mean cosine to the target.

    Rows computed in the space built with each track show a far higher
    cosine than new releases get, which is what held-out rows avoid.
    """
    usage = rows.table.blocks["usage"]
    for level in np.unique(rows.usage_levels):
        present = usage.present & (rows.usage_levels == level)
        cosine = float((usage.values[present] * rows.targets[present]).sum(axis=1).mean()) if present.any() else float("nan")
        logger.info("training rows with usage from %d playlist(s): %d, fold-in mean cosine to target %.3f", level, int(present.sum()), cosine)
    artist = rows.table.blocks.get("artist")
    if artist is not None and artist.present.any():
        first = artist.present & (rows.usage_levels == 1)
        cosine = float((artist.values[first] * rows.targets[first]).sum(axis=1).mean())
        logger.info("artist mean cosine to target %.3f over %d tracks", cosine, int(first.sum()))
    logger.info("%d training rows from %d tracks", len(rows.table), len(np.unique(rows.table.track_ids)))


def _later_partners(space, track_id: str, later_playlists: Sequence[Sequence[str]]) -> np.ndarray:
    """Space rows of the warm tracks that share one of `later_playlists` with `track_id`."""
    partners = {other for playlist in later_playlists for other in playlist if other != track_id and other in space}
    return np.fromiter((space.row_of(other) for other in partners), dtype=np.int64, count=len(partners))


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
            blocks["artist"] = space_block("artist", n, layout.space_dim)
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
            blocks["usage"] = space_block("usage", n, layout.space_dim)
    for name, block in blocks.items():
        logger.info("release feature %s: %d of %d tracks", name, int(block.present.sum()), n)
    return FeatureTable(track_ids, blocks, notes)
