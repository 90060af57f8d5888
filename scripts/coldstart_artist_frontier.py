"""How far the artist mean can move before it loses recall@50, on the Art of the Mix hidden songs.

The hidden-song protocol of `bench_coldstart_aotm.py` (same seed, same
hidden songs, same true vectors) is scored for the artist mean shifted
along the popularity centroid, `normalize(artist_mean + beta * centroid)`,
for several `beta`. Positive `beta` hedges towards the popular songs,
negative `beta` moves away from them. The table shows whether any such
shift gains mean cosine without losing recall@50. A model whose only input
is the artist mean would need such a shift to beat it on both.

A second table scores other vectors built from the artist's warm tracks.
One is the mean weighted by the square root of each track's playlist count.
Two are the fold-ins (weighted mean and SVD) of every playlist of the
artist's tracks. The last moves the mean towards the average of its `k`
nearest warm songs.

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
from moodflow.coldstart.features import normalize_artist_name, playlists_by_track
from moodflow.coldstart.foldin import FOLD_IN_METHODS, fold_in
from moodflow.coldstart.projector import FeatureLayout
from moodflow.logs import configure_logging

BETAS = (-0.3, -0.15, 0.0, 0.15, 0.3, 0.6)


def other_artist_vectors(reduced, reduced_playlists, metadata, hidden_ids, artist_means):
    """Yield (name, unit vectors of the hidden songs) for other vectors built from each song's artist."""
    artist_of = dict(zip(metadata["track_id"], metadata["artist"].map(normalize_artist_name)))
    tracks_of: dict[str, list[str]] = {}
    for track_id in reduced.track_ids.tolist():
        if track_id in artist_of:
            tracks_of.setdefault(artist_of[track_id], []).append(track_id)
    artist_tracks = [tracks_of[artist_of[track_id]] for track_id in hidden_ids]
    warm = reduced.vectors.astype(np.float64)
    counts = np.asarray(reduced.track_counts, dtype=np.float64)
    yield "mean (the baseline)", artist_means
    weighted = [np.sqrt(counts[reduced.rows_of(tracks)]) @ warm[reduced.rows_of(tracks)] for tracks in artist_tracks]
    yield "mean weighted by sqrt(playlist count)", unit(np.stack(weighted))

    playlists_of = playlists_by_track(reduced_playlists, sorted({t for tracks in artist_tracks for t in tracks}))
    for method in FOLD_IN_METHODS:
        vectors = []
        for tracks, mean in zip(artist_tracks, artist_means):
            vector = fold_in(reduced, [playlist for track in tracks for playlist in playlists_of.get(track, [])], method=method)
            vectors.append(mean if vector is None else vector)
        yield f"fold-in ({method}) of every playlist of the artist's tracks", unit(np.stack(vectors))

    scores = artist_means @ reduced.vectors.T
    for k in (5, 20, 50):
        nearest = np.argpartition(-scores, k, axis=1)[:, :k]
        yield f"mean moved towards its {k} nearest warm songs", unit(artist_means + reduced.vectors[nearest].mean(axis=1))


def print_table(header: str, rows) -> None:
    print(f"| {header} | mean cosine | recall@50 | partner HR@50 |")
    print("|---|---|---|---|")
    for name, values in rows:
        print(f"| {name} | {values['cosine']:.3f} | {values['recall_at_50']:.3f} | {values['partner_hr_at_50']:.3f} |")


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
    reduced_playlists = playlists[~playlists["track_id"].isin(hidden_set)]
    reduced = build(reduced_playlists, [])
    rotation, _ = align(full, reduced)
    true = unit(full.vectors[[full.row_of(track_id) for track_id in hidden]] @ rotation).astype(np.float32)

    kept_metadata = metadata[~metadata["track_id"].isin(hidden_set)]
    layout = FeatureLayout(blocks=["artist"], dims={"artist": reduced.dim}, space_dim=reduced.dim)
    tables, partner_rows = hidden_features(reduced, layout, config, hidden, playlists, metadata, kept_metadata, rng)
    artist = tables[1].blocks["artist"]
    rows = np.flatnonzero(artist.present)
    partners = [partner_rows[row] for row in rows]

    warm = reduced.vectors.astype(np.float32)
    counts = np.asarray(reduced.track_counts, dtype=np.float64)
    centroid = unit((counts @ warm.astype(np.float64))[None, :])[0].astype(np.float32)
    print(f"{len(rows)} hidden songs with a known artist")
    shifted = [
        (f"{beta:+.2f}", score(unit(artist.values[rows] + beta * centroid), true[rows], warm, partners)) for beta in BETAS
    ]
    print_table("beta", shifted)
    print()
    others = other_artist_vectors(reduced, reduced_playlists, metadata, hidden[rows], artist.values[rows])
    print_table("artist vector", [(name, score(vectors, true[rows], warm, partners)) for name, vectors in others])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
