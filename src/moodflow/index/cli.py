"""`moodflow index`: build a Faiss index over a space folder, or query one."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from moodflow.index.track_index import IndexBuildError, TrackIndex
from moodflow.logs import configure_logging
from moodflow.space.model import MusicSpace

logger = logging.getLogger(__name__)

DEFAULT_CONFIG = Path(__file__).resolve().parents[3] / "configs" / "index.yaml"


def load_index_config(path: Path | None, overrides: list[str]) -> tuple[str, dict]:
    """Return the index kind and its parameters from the YAML config and KEY=VALUE overrides."""
    path = path or DEFAULT_CONFIG
    try:
        base = OmegaConf.load(path) if path.exists() else OmegaConf.create({"kind": "hnsw", "params": {}})
        values = OmegaConf.to_container(OmegaConf.merge(base, OmegaConf.from_dotlist(overrides)), resolve=True)
    except (OmegaConfBaseException, ValueError) as error:
        raise IndexBuildError(f"invalid index config {path} with overrides {overrides}: {error}") from error
    kind = values.get("kind", "hnsw")
    return kind, dict((values.get("params") or {}).get(kind) or {})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moodflow index", description="Build or query a Faiss index over a music space.")
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="build an index and save it next to the space")
    build.add_argument("--space", type=Path, required=True, help="space folder written by `moodflow space`")
    build.add_argument("--out", type=Path, default=None, help="index folder (default: SPACE/index-KIND)")
    build.add_argument("--config", type=Path, default=None, help=f"index config YAML (default: {DEFAULT_CONFIG})")
    build.add_argument("overrides", nargs="*", help="config overrides KEY=VALUE, e.g. kind=flat")

    query = commands.add_parser("query", help="print the nearest tracks to a track or a history")
    query.add_argument("--space", type=Path, required=True, help="space folder")
    query.add_argument("--index", type=Path, required=True, help="index folder written by `moodflow index build`")
    target = query.add_mutually_exclusive_group(required=True)
    target.add_argument("--track", help="track id whose neighbours to print")
    target.add_argument("--history", help="comma-separated track ids of a listening history")
    query.add_argument("-k", type=int, default=10, help="number of results (default: 10)")

    for sub in (build, query):
        sub.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    space = MusicSpace.load(args.space)

    if args.command == "build":
        kind, params = load_index_config(args.config, args.overrides)
        index = TrackIndex.build(space, kind, **params)
        out = index.save(args.out or args.space / f"index-{kind}")
        print(f"{kind} index over {len(index)} vectors for space {space.space_id} written to {out}")
        return 0

    index = TrackIndex.load(args.index, space)
    if args.track is not None:
        results = index.neighbours(args.track, args.k)
    else:
        results = index.search_history([item.strip() for item in args.history.split(",") if item.strip()], args.k)
    for track_id, score in results:
        print(f"{track_id}\t{score:.4f}")
    return 0
