"""`moodflow space`: build a music space folder from a playlists table."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd
from hydra.utils import instantiate
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from moodflow.logs import configure_logging
from moodflow.space.build import build_space
from moodflow.space.config import SpaceConfig, SpaceConfigError
from moodflow.tables import read_table

logger = logging.getLogger(__name__)

DEFAULT_CONFIG = Path(__file__).resolve().parents[3] / "configs" / "space.yaml"


def load_space_config(path: Path | None, overrides: list[str]) -> SpaceConfig:
    """Compose the YAML config at `path` (default: configs/space.yaml) with KEY=VALUE overrides."""
    path = path or DEFAULT_CONFIG
    try:
        base = OmegaConf.load(path) if path.exists() else OmegaConf.create({"_target_": "moodflow.space.SpaceConfig"})
        merged = OmegaConf.merge(base, OmegaConf.from_dotlist(overrides))
        values = OmegaConf.to_container(merged, resolve=True)
    except (OmegaConfBaseException, ValueError) as error:
        raise SpaceConfigError(f"invalid space config {path} with overrides {overrides}: {error}") from error
    SpaceConfig.from_dict(values)  # rejects unknown keys before instantiation
    return instantiate(values)


def _read_metadata(paths: list[Path], track_column: str, artist_column: str, album_column: str) -> pd.DataFrame | None:
    if not paths:
        return None
    frames = []
    for path in paths:
        frame = read_table(path, required_columns=(track_column,))
        renamed = {track_column: "track_id", artist_column: "artist", album_column: "album"}
        frames.append(frame.rename(columns=renamed)[[c for c in ("track_id", "artist", "album") if c in frame.rename(columns=renamed)]])
    return pd.concat(frames, ignore_index=True).drop_duplicates("track_id")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moodflow space",
        description="Build the collaborative music space (co-occurrence, PPMI, truncated SVD) from playlists.",
    )
    parser.add_argument("--playlists", type=Path, required=True,
                        help="CSV/TSV/Parquet table with a playlist id, a track id and optionally a position")
    parser.add_argument("--out", type=Path, required=True, help="space folder to write")
    parser.add_argument("--playlist-column", default="playlist_id", help="playlist id column (default: playlist_id)")
    parser.add_argument("--track-column", default="track_id", help="track id column (default: track_id)")
    parser.add_argument("--position-column", default="position", help="position column, used when present")
    parser.add_argument("--metadata", type=Path, action="append", default=[],
                        help="track metadata table with artist and/or album; may be repeated")
    parser.add_argument("--metadata-track-column", default="track_id", help="track id column of the metadata")
    parser.add_argument("--artist-column", default="artist", help="artist column of the metadata")
    parser.add_argument("--album-column", default="album", help="album column of the metadata")
    parser.add_argument("--config", type=Path, default=None, help=f"space config YAML (default: {DEFAULT_CONFIG})")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    parser.add_argument("overrides", nargs="*", help="config overrides KEY=VALUE, e.g. dim=64 window=10")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    config = load_space_config(args.config, args.overrides)
    logger.info("space config: %s", config)

    table = read_table(args.playlists, required_columns=(args.playlist_column, args.track_column))
    renamed = {args.playlist_column: "playlist_id", args.track_column: "track_id", args.position_column: "position"}
    table = table.rename(columns=renamed)
    metadata = _read_metadata(args.metadata, args.metadata_track_column, args.artist_column, args.album_column)

    space = build_space(table, config, tracks_metadata=metadata)
    space.save(args.out)
    print(f"space {space.space_id}: {len(space)} tracks, dim {space.dim}, "
          f"{len(space.cold_track_ids)} cold, written to {args.out}")
    return 0
