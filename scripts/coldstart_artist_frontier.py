"""How far the artist mean can move before it loses recall@50, on the Art of the Mix hidden songs.

The hidden-song protocol of `bench_coldstart_aotm.py` (same seed, same
hidden songs, same true vectors) is scored for the artist mean shifted
along the popularity centroid, `normalize(artist_mean + beta * centroid)`,
for several `beta`. Positive `beta` hedges towards the popular songs,
negative `beta` moves away from them. The table shows whether any such
shift gains mean cosine without losing recall@50. A model whose only input
is the artist mean would need such a shift to beat it on both.

Usage:
    nice -n 10 .venv/bin/python scripts/coldstart_artist_frontier.py \
        --aotm ../shared/data/aotm2011/playlists.csv.gz --deezer ../shared/data/deezer-mood
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from bench_coldstart_aotm import align, build, hidden_features, load_data, score, unit

from moodflow.coldstart.cli import load_config
from moodflow.coldstart.projector import FeatureLayout
from moodflow.logs import configure_logging

BETAS = (-0.3, -0.15, 0.0, 0.15, 0.3, 0.6)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--aotm", type=Path, required=True, help="aotm2011/playlists.csv.gz")
    parser.add_argument("--deezer", type=Path, required=True, help="folder with the deezer-mood CSV files")
    parser.add_argument("--hide-fraction", type=float, default=0.1, help="fraction of warm songs with metadata to hide")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    configure_logging()
    config = load_config(None, [])
    rng = np.random.default_rng(args.seed)

    playlists, metadata = load_data(args.aotm, args.deezer)
    full = build(playlists, [])
    candidates = np.array(sorted(set(full.track_ids.tolist()) & set(metadata["track_id"])))
    hidden = rng.choice(candidates, size=int(round(args.hide_fraction * len(candidates))), replace=False)
    hidden_set = set(hidden.tolist())
    reduced = build(playlists[~playlists["track_id"].isin(hidden_set)], [])
    rotation, _ = align(full, reduced)
    true = unit(full.vectors[[full.row_of(track_id) for track_id in hidden]] @ rotation).astype(np.float32)

    kept_metadata = metadata[~metadata["track_id"].isin(hidden_set)]
    layout = FeatureLayout(blocks=["artist"], dims={"artist": reduced.dim}, space_dim=reduced.dim)
    tables, partner_rows = hidden_features(reduced, layout, config, hidden, playlists, metadata, kept_metadata, rng)
    artist = tables[1].blocks["artist"]
    rows = np.flatnonzero(artist.present)

    warm = reduced.vectors.astype(np.float32)
    counts = np.asarray(reduced.track_counts, dtype=np.float64)
    centroid = unit((counts @ warm.astype(np.float64))[None, :])[0].astype(np.float32)
    print(f"{len(rows)} hidden songs with a known artist")
    print("| beta | mean cosine | recall@50 | partner HR@50 |")
    print("|---|---|---|---|")
    for beta in BETAS:
        predicted = unit(artist.values[rows] + beta * centroid)
        values = score(predicted, true[rows], warm, [partner_rows[row] for row in rows])
        print(f"| {beta:+.2f} | {values['cosine']:.3f} | {values['recall_at_50']:.3f} | {values['partner_hr_at_50']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
