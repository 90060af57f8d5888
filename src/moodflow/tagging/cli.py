"""`moodflow tag`: batch-tag a folder or manifest of audio files with a tagger bundle."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from moodflow.logs import configure_logging
from moodflow.tagging.config import DEFAULT_CONFIG_PATH, ENGINES, load_config
from moodflow.tagging.job import run_tagging

logger = logging.getLogger(__name__)

EXIT_TRACKS_FAILED = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moodflow tag",
        description=(
            "Tag the mood and genre of every audio file in a folder or manifest with a tagger bundle. "
            "Output is a folder of Parquet parts (one row per track) plus an errors table; rerunning the "
            "same command resumes and skips tracks already tagged by the same model id."
        ),
        epilog=(
            "Extra KEY=VALUE arguments override config keys, e.g. ray.address=auto ray.actors=4 "
            "silence_threshold_dbfs=null. Keys and units: part_size (tracks), block_seconds (seconds of audio "
            "per decoder message), max_blocks_in_flight (blocks), min_duration_s (seconds), "
            "silence_threshold_dbfs (dBFS peak, null tags silent files), torch_threads (threads, null for auto), "
            "optimize (true/false), ray.num_cpus (CPUs of a local Ray), ray.actors (inference actors), "
            "ray.gpus_per_actor (GPUs), ray.tracks_per_batch (message rows per actor call). "
            "Exit status: 0 on success (even when some tracks failed), "
            f"1 when the job cannot start (bad bundle, manifest, output or config), {EXIT_TRACKS_FAILED} "
            "with --fail-on-error when any track failed."
        ),
    )

    parser.add_argument("input", help="folder searched recursively for audio, or a manifest (CSV, TSV or Parquet "
                        "with track_id and path columns; local path or URI such as s3://bucket/manifest.parquet)")
    parser.add_argument("--bundle", required=True, help="model bundle folder (bundle.json and weights.pt)")
    parser.add_argument("--output", required=True, help="output folder of Parquet parts, e.g. out/tags.parquet")
    parser.add_argument("--config", type=Path, default=None,
                        help=f"YAML config file (default: {DEFAULT_CONFIG_PATH} when present)")

    parser.add_argument("--engine", choices=ENGINES, default=None, help="local worker processes or Ray Data")
    parser.add_argument("--workers", type=int, default=None, help="decoding worker processes (local engine)")
    parser.add_argument("--batch-size", type=int, default=None, help="chunks per forward pass of the model")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--part-size", type=int, default=None, help="tracks per committed Parquet part")
    parser.add_argument("--ray-address", default=None,
                        help="Ray cluster address (auto, ray://HOST:10001); default starts a local Ray")

    parser.add_argument("--force", action="store_true", help="delete the committed parts and tag everything again")
    parser.add_argument("--fail-on-error", action="store_true",
                        help=f"exit with status {EXIT_TRACKS_FAILED} when any track failed")
    parser.add_argument("--no-progress", action="store_true", help="log lines instead of a progress bar on a terminal")
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)
    configure_logging(args.verbose)
    bad_overrides = [item for item in args.overrides if "=" not in item]
    if bad_overrides:
        parser.error(f"config overrides must look like KEY=VALUE, got {bad_overrides}")

    config = load_config(
        args.config,
        overrides={
            "engine": args.engine,
            "workers": args.workers,
            "batch_size": args.batch_size,
            "device": args.device,
            "part_size": args.part_size,
            "ray.address": args.ray_address,
        },
        dotlist=args.overrides,
    )
    summary = run_tagging(
        args.input,
        args.bundle,
        args.output,
        config,
        force=args.force,
        use_progress_bar=False if args.no_progress else None,
    )
    print(summary.describe(), file=sys.stderr)
    if args.fail_on_error and summary.failed:
        logger.error("%d tracks failed; see the errors table in %s/_errors", summary.failed, args.output)
        return EXIT_TRACKS_FAILED
    return 0
