"""`moodflow coldstart train|project`: learn and apply the cold-start projection."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from moodflow.coldstart.assemble import release_table, warm_training_rows
from moodflow.coldstart.errors import ColdStartError
from moodflow.coldstart.projector import ColdStartModel, write_projections
from moodflow.coldstart.train import train_from_rows
from moodflow.logs import configure_logging
from moodflow.tables import read_table

logger = logging.getLogger(__name__)

DEFAULT_CONFIG = Path(__file__).resolve().parents[3] / "configs" / "coldstart.yaml"
MAX_LOGGED_UNPROJECTABLE = 20


def load_config(path: str | Path | None, overrides: list[str]) -> DictConfig:
    """Load the YAML config and apply `key=value` overrides."""
    path = Path(path) if path else DEFAULT_CONFIG
    if not path.exists():
        raise ColdStartError(f"config not found: {path}; pass --config with the path of coldstart.yaml")
    config = OmegaConf.load(path)
    return OmegaConf.merge(config, OmegaConf.from_dotlist(overrides))


def load_space(folder: str):
    """Load a music space folder with `moodflow.space.MusicSpace.load`."""
    from moodflow.space import MusicSpace

    return MusicSpace.load(folder)


def read_playlists(path: str | None) -> pd.DataFrame | None:
    """Read a playlists table (`playlist_id`, `track_id`; AotM's `song_id` is accepted as `track_id`)."""
    if path is None:
        return None
    frame = read_table(path)
    if "track_id" not in frame.columns and "song_id" in frame.columns:
        frame = frame.rename(columns={"song_id": "track_id"})
    missing = [column for column in ("playlist_id", "track_id") if column not in frame.columns]
    if missing:
        raise ColdStartError(f"playlists table {path} lacks column(s) {missing}; found {list(frame.columns)}")
    if "position" in frame.columns:
        frame = frame.sort_values(["playlist_id", "position"], kind="stable")
    return frame


def read_optional(path: str | None, required: tuple[str, ...] = ("track_id",)) -> pd.DataFrame | None:
    return None if path is None else read_table(path, required)


def read_metadata(paths: list[str] | None, track_column: str, artist_column: str) -> pd.DataFrame | None:
    """Read and stack metadata tables, renaming their id and artist columns to `track_id` and `artist`."""
    if not paths:
        return None
    frames = [read_table(path, (track_column,)) for path in paths]
    metadata = pd.concat(frames, ignore_index=True).rename(columns={track_column: "track_id", artist_column: "artist"})
    metadata["track_id"] = metadata["track_id"].astype(str)
    return metadata.drop_duplicates("track_id")


def train(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    space = load_space(args.space)
    tags = read_optional(args.tags, ("track_id", "embedding"))
    metadata = read_metadata(args.metadata, args.metadata_track_column, args.artist_column)
    playlists = read_playlists(args.playlists)
    logger.info("training cold-start projection for space %s (%d warm tracks)", space.space_id, len(space.track_ids))

    rows = warm_training_rows(space, config, tags, metadata, playlists, tags_source=str(args.tags))
    kinds = ("mlp", "ridge") if args.kind == "both" else (args.kind,)
    models = train_from_rows(rows, space, config, kinds=kinds)

    for kind, model in models.items():
        folder = Path(args.out) / kind if len(models) > 1 else Path(args.out)
        model.save(folder)
        print(f"{kind}: model {model.model_id} for space {model.space_id} -> {folder}")
    return 0


def project(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    model = ColdStartModel.load(args.model)
    space = load_space(args.space)
    model.check_space(space.space_id)

    tags = read_optional(args.tags, ("track_id", "embedding"))
    releases = read_metadata([args.releases] if args.releases else None, args.metadata_track_column, args.artist_column)
    metadata = read_metadata(args.metadata, args.metadata_track_column, args.artist_column)
    usage = read_playlists(args.usage)
    if releases is not None:
        track_ids = releases["track_id"].astype(str).drop_duplicates().tolist()
    elif tags is not None:
        track_ids = tags["track_id"].astype(str).drop_duplicates().tolist()
    else:
        raise ColdStartError("give --releases (a table with track_id) or --tags to say which tracks to project")

    started = time.perf_counter()
    table = release_table(space, model.layout, config, track_ids, tags, releases, metadata, usage, tags_source=str(args.tags))
    frame = model.project(table, space.space_id)
    write_projections(frame, args.out, model.layout.space_dim)
    seconds = time.perf_counter() - started

    n_projected = int(frame["projectable"].sum())
    logger.info("projected %d of %d tracks in %.2f s -> %s", n_projected, len(frame), seconds, args.out)
    unprojectable = frame.loc[~frame["projectable"]]
    for row in unprojectable.head(MAX_LOGGED_UNPROJECTABLE).itertuples():
        logger.warning("track %s not projected: %s", row.track_id, row.reason)
    if len(unprojectable) > MAX_LOGGED_UNPROJECTABLE:
        logger.warning(
            "%d more tracks not projected; the reason column of %s lists each one",
            len(unprojectable) - MAX_LOGGED_UNPROJECTABLE, args.out,
        )
    print(f"projected {n_projected} of {len(frame)} tracks ({len(frame) - n_projected} unprojectable) -> {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moodflow coldstart", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    commands = parser.add_subparsers(dest="command", required=True)

    train_parser = commands.add_parser("train", help="train the projection on the warm tracks of a space")
    train_parser.add_argument("--space", required=True, help="music space folder")
    train_parser.add_argument("--out", required=True, help="model folder to write (mlp/ and ridge/ inside with --kind both)")
    train_parser.add_argument("--kind", choices=("mlp", "ridge", "both"), default="both", help="which model(s) to train")
    train_parser.add_argument("--tags", help="batch-tagging Parquet of warm tracks (audio features)")
    train_parser.add_argument(
        "--metadata", action="append",
        help="table of warm tracks: track_id, artist[, artist_id], descriptor columns; may be repeated",
    )
    train_parser.add_argument("--playlists", help="playlists table (playlist_id, track_id) to simulate early usage")
    train_parser.set_defaults(handler=train)

    project_parser = commands.add_parser("project", help="project new releases into the space")
    project_parser.add_argument("--model", required=True, help="model folder written by train")
    project_parser.add_argument("--space", required=True, help="music space folder the model was trained for")
    project_parser.add_argument("--out", required=True, help="projections Parquet file to write")
    project_parser.add_argument("--releases", help="table of releases: track_id[, artist, artist_id, descriptor columns]")
    project_parser.add_argument("--tags", help="batch-tagging Parquet of the releases (audio features)")
    project_parser.add_argument(
        "--metadata", action="append",
        help="table of warm tracks with their artist, for the artist feature; may be repeated",
    )
    project_parser.add_argument("--usage", help="playlists (playlist_id, track_id) in which releases appeared, oldest first")
    project_parser.set_defaults(handler=project)

    for sub in (train_parser, project_parser):
        sub.add_argument("--metadata-track-column", default="track_id", help="track id column of metadata and releases tables")
        sub.add_argument("--artist-column", default="artist", help="artist name column of metadata and releases tables")
        sub.add_argument("--config", help=f"YAML config (default {DEFAULT_CONFIG})")
        sub.add_argument("overrides", nargs="*", help="config overrides such as training.epochs=10")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `moodflow coldstart train` or `moodflow coldstart project`."""
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    return args.handler(args)
