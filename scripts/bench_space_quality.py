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

from moodflow.index import CooccurrenceRerank, TrackIndex
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
    """Rank with the index: user vector of the query tracks, exact search, query tracks excluded."""
    index = TrackIndex.build(space, "flat")
    column_of = {track_id: i for i, track_id in enumerate(split.train.track_ids)}
    histories = [list(split.train.track_ids[query]) for query in split.queries]
    pages: list[list] = [[] for _ in histories]
    if rerank is None:
        # One batched search: rows without any known query track stay empty.
        vectors, rows = [], []
        for row, history in enumerate(histories):
            try:
                vectors.append(space.user_vector(history, recency_half_life=recency_half_life))
                rows.append(row)
            except UnknownTrackError:
                continue
        found = index.search(np.stack(vectors), k, exclude=[set(histories[row]) for row in rows])
        for row, page in zip(rows, found):
            pages[row] = page
    else:
        for row, history in enumerate(histories):
            try:
                pages[row] = index.search_history(history, k, recency_half_life=recency_half_life, rerank=rerank)
            except UnknownTrackError:
                continue
    return [np.asarray([column_of[track_id] for track_id, _ in page], dtype=np.int64) for page in pages]


def rank_by_als(split, factors: int, iterations: int, regularization: float, alpha: float, seed: int, k: int = 50):
    """Rank with implicit's ALS; each held-out playlist is a training user with its query tracks."""
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    items = incidence_matrix(split.train)
    model = AlternatingLeastSquares(factors=factors, iterations=iterations, regularization=regularization,
                                    alpha=alpha, random_state=seed, num_threads=2)
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
    parser.add_argument("--baselines", action="store_true", help="also run popularity and co-occurrence kNN")
    parser.add_argument("--als", nargs="*", default=[], metavar="ALPHA:REGULARIZATION",
                        help="implicit ALS runs (128 factors, 15 iterations), e.g. 1:0.01 40:0.1")
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
    for item in args.als:
        alpha, regularization = (float(value) for value in item.split(":"))
        started = time.perf_counter()
        rankings = rank_by_als(split, 128, 15, regularization, alpha, 0)
        settings = {"factors": 128, "iterations": 15, "alpha": alpha, "regularization": regularization}
        report("als", settings, rankings, split, warm_mask, time.perf_counter() - started)

    for build_settings, query_settings_list in SWEEPS.get(args.sweep, []):
        started = time.perf_counter()
        space = build_space(split.train, SpaceConfig(**build_settings))
        build_seconds = time.perf_counter() - started
        for query_settings in query_settings_list:
            started = time.perf_counter()
            rankings = rank_by_space(space, split, **query_settings)
            settings = {**build_settings, **{key: str(value) for key, value in query_settings.items()},
                        "build_seconds": round(build_seconds, 1)}
            report("space", settings, rankings, split, warm_mask, time.perf_counter() - started)


PLAIN = {"smoothing": 1.0, "alpha": 1.0, "shift": 0.0, "dim": 128, "max_partners": 0}
DEFAULT = {}
RERANK = CooccurrenceRerank(candidates=200, weight=1.0)
# Each entry: build settings, then the query settings evaluated on that build.
SWEEPS = {
    "plain": [(PLAIN, [{}])],
    "first": [
        (PLAIN, [{}, {"recency_half_life": 1.0}]),
        ({**PLAIN, "alpha": 0.5}, [{}]),
        ({**PLAIN, "smoothing": 0.75, "alpha": 0.5}, [{}, {"recency_half_life": 1.0}, {"rerank": RERANK}]),
    ],
    "second": [
        (PLAIN, [{"rerank": CooccurrenceRerank(200, weight)} for weight in (0.5, 1.0, 2.0)]
         + [{"rerank": CooccurrenceRerank(200, 1.0, include_partners=False)}]),
        ({**PLAIN, "dim": 256}, [{}, {"rerank": CooccurrenceRerank(200, 1.0)}]),
        ({**PLAIN, "shift": math.log(2)}, [{}]),
    ],
    "fourth": [
        ({"smoothing": 1.0, "alpha": 1.0}, [{}, {"rerank": CooccurrenceRerank(200, 2.0)}]),
        (PLAIN, [{"rerank": CooccurrenceRerank(200, 3.0)}, {"rerank": CooccurrenceRerank(500, 2.0)},
                 {"rerank": CooccurrenceRerank(200, 2.0), "recency_half_life": 2.0}]),
    ],
    "third": [
        (PLAIN, [{"rerank": CooccurrenceRerank(200, weight, normalise=True)} for weight in (1.0, 2.0, 4.0)]),
    ],
}

if __name__ == "__main__":
    main()
