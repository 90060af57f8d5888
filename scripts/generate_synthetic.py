"""Write a synthetic labelled clip set (Emotify layout) or a linked synthetic corpus.

Examples:
    python scripts/generate_synthetic.py clips outputs/synthetic-emotify --n-clips 200
    python scripts/generate_synthetic.py corpus outputs/synthetic-corpus --n-tracks 300
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

    corpus = commands.add_parser("corpus", help="linked clips, playlists, listening histories and new releases")
    corpus.add_argument("out_dir", help="folder to write (created if missing)")
    corpus.add_argument("--n-tracks", type=int, default=300, help="warm tracks with audio and usage (default 300)")
    corpus.add_argument("--n-artists", type=int, default=60, help="artists of the warm tracks (default 60)")
    corpus.add_argument("--n-playlists", type=int, default=400, help="playlists of 5 to 15 tracks (default 400)")
    corpus.add_argument("--n-users", type=int, default=50, help="listeners with a history (default 50)")
    corpus.add_argument("--n-new-releases", type=int, default=8, help="tracks with audio but no usage (default 8)")
    corpus.add_argument("--clip-seconds", type=float, default=4.0, help="clip length in seconds (default 4)")
    corpus.add_argument("--sample-rate", type=int, default=16_000, help="sample rate in Hz (default 16000)")
    corpus.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    corpus.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
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
    else:
        paths = synth.generate_corpus(
            args.out_dir,
            n_tracks=args.n_tracks,
            n_artists=args.n_artists,
            n_playlists=args.n_playlists,
            n_users=args.n_users,
            n_new_releases=args.n_new_releases,
            clip_seconds=args.clip_seconds,
            sample_rate=args.sample_rate,
            seed=args.seed,
        )
        print(paths.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
