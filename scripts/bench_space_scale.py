"""Space build time and peak memory on generated power-law playlists.

Generates playlists whose track popularity follows a Zipf law, builds the
space from them in this process and prints one JSON line with the stage
timings and the peak resident memory. Run one size per process so the peak
memory belongs to that size alone:

    nice -n 10 .venv/bin/python scripts/bench_space_scale.py --playlists 100000
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time

import numpy as np

from moodflow.space import SpaceConfig, build_space
from moodflow.space.cooccurrence import Playlists


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def power_law_playlists(n_playlists: int, n_tracks: int, mean_extra_length: float, zipf: float, seed: int) -> Playlists:
    """Return de-duplicated playlists of 2 + geometric(mean_extra_length) tracks.

    Track t (0-based popularity rank) is drawn with probability proportional
    to (t + 1)^-zipf.
    """
    rng = np.random.default_rng(seed)
    lengths = 2 + rng.geometric(1.0 / (1.0 + mean_extra_length), size=n_playlists) - 1
    lengths = np.minimum(lengths, 500)
    weights = (np.arange(1, n_tracks + 1, dtype=np.float64)) ** -zipf
    cumulative = np.cumsum(weights / weights.sum())
    tracks = np.searchsorted(cumulative, rng.random(int(lengths.sum())), side="right")
    tracks = np.minimum(tracks, n_tracks - 1).astype(np.int64)
    playlist_of = np.repeat(np.arange(n_playlists, dtype=np.int64), lengths)

    # Drop repeats within a playlist, keeping the first position.
    _, first = np.unique(playlist_of * n_tracks + tracks, return_index=True)
    first.sort()
    tracks, playlist_of = tracks[first], playlist_of[first]
    used, tracks = np.unique(tracks, return_inverse=True)
    lengths = np.bincount(playlist_of, minlength=n_playlists)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    # Zero-padded ids sort in numeric order, as Playlists requires.
    track_ids = np.asarray([f"t{index:09d}" for index in used], dtype=object)
    return Playlists(track_ids=track_ids, indptr=indptr, indices=tracks.astype(np.int32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--playlists", type=int, required=True)
    parser.add_argument("--tracks-per-playlist", type=float, default=1.0,
                        help="catalogue size as a multiple of the number of playlists (default 1.0)")
    parser.add_argument("--mean-length", type=float, default=10.0, help="mean playlist length before de-duplication")
    parser.add_argument("--zipf", type=float, default=1.0)
    parser.add_argument("--dim", type=int, default=128)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    started = time.perf_counter()
    playlists = power_law_playlists(args.playlists, int(args.playlists * args.tracks_per_playlist),
                                    args.mean_length - 2, args.zipf, seed=0)
    generated_seconds = time.perf_counter() - started
    generated_rss = peak_rss_gib()

    started = time.perf_counter()
    space = build_space(playlists, SpaceConfig(dim=args.dim))
    build_seconds = time.perf_counter() - started
    print(json.dumps({
        "playlists": playlists.n_playlists,
        "entries": int(len(playlists.indices)),
        "distinct_tracks": len(playlists.track_ids),
        "tracks_with_vectors": len(space),
        "cooccurrence_nnz": int(space.cooccurrence.nnz),
        "generate_seconds": round(generated_seconds, 1),
        "build_seconds": round(build_seconds, 1),
        "peak_rss_gib_after_generation": round(generated_rss, 2),
        "peak_rss_gib": round(peak_rss_gib(), 2),
        "space_id": space.space_id,
    }), flush=True)


if __name__ == "__main__":
    main()
