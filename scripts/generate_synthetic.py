"""Write a synthetic labelled clip set in the Emotify layout.

Example:
    python scripts/generate_synthetic.py clips outputs/synthetic-emotify --n-clips 200
"""

from __future__ import annotations

import argparse
import sys

from moodflow.logs import configure_logging


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    clips = commands.add_parser("clips", help="labelled clips with a tracks.csv in the Emotify layout")
    clips.add_argument("out_dir", help="folder to write (created if missing)")
    clips.add_argument("--n-clips", type=int, default=200, help="number of clips (default 200)")
    clips.add_argument("--n-artists", type=int, default=None, help="number of artists (default max(4, n_clips // 3))")
    clips.add_argument("--clip-seconds", type=float, default=8.0, help="clip length in seconds (default 8)")
    clips.add_argument("--sample-rate", type=int, default=16_000, help="sample rate in Hz (default 16000)")
    clips.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    clips.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    from moodflow import synth

    if args.command == "clips":
        paths = synth.generate_clips(
            args.out_dir,
            n_clips=args.n_clips,
            n_artists=args.n_artists,
            clip_seconds=args.clip_seconds,
            sample_rate=args.sample_rate,
            seed=args.seed,
        )
        print(paths.tracks_csv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
