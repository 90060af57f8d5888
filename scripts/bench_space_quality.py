"""Playlist-continuation quality of the music space against baselines.

Runs the protocol of moodflow.space.evaluation on a playlists table and
prints one JSON line per method and setting. Example (Art of the Mix):

    nice -n 10 .venv/bin/python scripts/bench_space_quality.py \
        --playlists ../shared/data/aotm2011/playlists.csv.gz --track-column song_id --sweep
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path

import numpy as np

from moodflow.index import TrackIndex
from moodflow.space import SpaceConfig, UnknownTrackError, build_space
from moodflow.space.cooccurrence import count_cooccurrence, playlists_from_frame
from moodflow.space.evaluation import (
    continuation_split,
    hit_metrics,
    incidence_matrix,
    rank_by_cooccurrence,
    rank_by_popularity,
)
from moodflow.tables import read_table

WARM_MIN_COUNT = 5


def report(name: str, settings: dict, rankings, split, warm_mask, seconds: float) -> None:
    row = {
        "method": name,
        **settings,
        "all": hit_metrics(rankings, split.targets),
        "warm": hit_metrics(rankings, split.targets, warm_mask),
        "seconds": round(seconds, 1),
    }
    print(json.dumps(row), flush=True)


def rank_by_space(space, split, k=50, recency_half_life=None, rerank=None):
    """Rank with the index: user vector of the query tracks, exact search."""
    index = TrackIndex.build(space, "flat")
    column_of = {track_id: i for i, track_id in enumerate(split.train.track_ids)}
    rankings = []
    histories = [list(split.train.track_ids[query]) for query in split.queries]
    for history in histories:
        try:
            page = index.search_history(history, k, recency_half_life=recency_half_life, rerank=rerank)
        except UnknownTrackError:  # no query track has a vector: an empty ranking
            page = []
        rankings.append(np.asarray([column_of[track_id] for track_id, _ in page], dtype=np.int64))
    return rankings


def rank_by_als(split, factors: int, iterations: int, regularization: float, seed: int, k: int = 50):
    """Rank with implicit's ALS; each held-out playlist is a training user with its query tracks."""
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    items = incidence_matrix(split.train)
    model = AlternatingLeastSquares(factors=factors, iterations=iterations, regularization=regularization,
                                    random_state=seed, num_threads=2)
    # implicit warns that a multi-threaded BLAS slows its own threads down.
    with threadpool_limits(1, "blas"):
        model.fit(items, show_progress=False)
        users = split.query_playlists
        ids, _ = model.recommend(users, items[users], N=k, filter_already_liked_items=True)
    return [np.asarray(row[row >= 0], dtype=np.int64) for row in ids]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--playlists", type=Path, required=True)
    parser.add_argument("--track-column", default="track_id")
    parser.add_argument("--baselines", action="store_true", help="also run popularity, co-occurrence kNN and ALS")
    parser.add_argument("--sweep", default="", help="name of a predefined sweep in SWEEPS")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    table = read_table(args.playlists).rename(columns={args.track_column: "track_id"})
    playlists = playlists_from_frame(table)
    split = continuation_split(playlists, fraction=0.1, min_tracks=3, seed=0)
    train_counts = split.train.track_counts()
    warm_mask = train_counts[split.targets] >= WARM_MIN_COUNT
    print(json.dumps({"queries": len(split.targets), "warm_queries": int(warm_mask.sum()),
                      "train_playlists": split.train.n_playlists}), flush=True)

    if args.baselines:
        started = time.perf_counter()
        report("popularity", {}, rank_by_popularity(train_counts, split.queries), split, warm_mask, time.perf_counter() - started)
        started = time.perf_counter()
        counts = count_cooccurrence(split.train, None, 10_000_000)
        report("cooccurrence_knn", {}, rank_by_cooccurrence(counts, split.queries), split, warm_mask, time.perf_counter() - started)
        started = time.perf_counter()
        report("als", {"factors": 128}, rank_by_als(split, 128, 15, 0.01, 0), split, warm_mask, time.perf_counter() - started)

    for settings in SWEEPS.get(args.sweep, []):
        settings = dict(settings)
        query_settings = {key: settings.pop(key) for key in ("recency_half_life", "rerank") if key in settings}
        started = time.perf_counter()
        space = build_space(split.train, SpaceConfig(**settings))
        rankings = rank_by_space(space, split, **query_settings)
        report("space", {**settings, **{k: str(v) for k, v in query_settings.items()}}, rankings, split, warm_mask,
               time.perf_counter() - started)


PLAIN = {"smoothing": 1.0, "alpha": 1.0, "shift": 0.0, "dim": 128, "max_partners": 0}
SWEEPS = {
    "plain": [PLAIN],
    "first": [
        PLAIN,
        {**PLAIN, "alpha": 0.5},
        {**PLAIN, "alpha": 0.0},
        {**PLAIN, "smoothing": 0.75, "alpha": 0.5},
        {**PLAIN, "smoothing": 0.75, "alpha": 0.5, "shift": math.log(2)},
        {**PLAIN, "smoothing": 0.75, "alpha": 0.5, "recency_half_life": 1.0},
        {**PLAIN, "smoothing": 0.75, "alpha": 0.5, "window": 3},
    ],
}

if __name__ == "__main__":
    main()
