"""Compare ways to search a mood's subset of the catalogue for Flow Mood.

For each mood, the allowed subset is the tracks at or above the mood's
threshold. Each method returns k neighbours of random catalogue tracks:

- exact search over the subset's cached vectors (what `Catalogue.search`
  does with a `subset_key`);
- the HNSW `TrackIndex` with `allowed=` (a Faiss IDSelector);
- post-filtering the HNSW index's unfiltered top k, the approach that
  under-returns.

Prints per mood: subset size, ms per query, recall@k against exact search
and the mean number of results returned (k is a full page).

    nice -n 10 .venv/bin/python scripts/bench_flow_search.py --artifacts outputs/flow-aotm
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from moodflow.flow.catalogue import Catalogue
from moodflow.flow.moods import MoodVocabulary
from moodflow.index import TrackIndex
from moodflow.service.loading import limit_threads
from moodflow.space import MusicSpace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--artifacts", type=Path, required=True, help="folder with space/, index/ and moods.parquet")
    parser.add_argument("--queries", type=int, default=200, help="number of query tracks")
    parser.add_argument("-k", type=int, default=50, help="results per query (a full page)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS and Faiss threads, as `moodflow serve` sets them")
    args = parser.parse_args()
    limit_threads(args.threads)

    vocabulary = MoodVocabulary.load()
    space = MusicSpace.load(args.artifacts / "space")
    index = TrackIndex.load(args.artifacts / "index", space)
    moods = pd.read_parquet(args.artifacts / "moods.parquet")
    catalogue = Catalogue.from_tables(vocabulary, space.space_id, space.track_ids, space.vectors, moods)
    rng = np.random.default_rng(0)
    query_rows = rng.choice(len(catalogue), size=args.queries, replace=False)
    queries = catalogue.vectors[query_rows]
    k = args.k

    print(f"{len(catalogue)} tracks, {args.queries} queries, k = {k}\n")
    print("| mood | subset size | method | ms per query | recall@k vs exact | mean results returned |")
    print("|---|---|---|---|---|---|")
    for mood in vocabulary.moods:
        column = vocabulary.moods.index(mood)
        allowed_rows = np.flatnonzero(catalogue.mood_scores[:, column] >= vocabulary.threshold(mood))
        allowed_ids = set(catalogue.track_ids[allowed_rows])
        catalogue.search(queries[0], k, allowed_rows=allowed_rows, subset_key=mood)  # fill the subset cache

        started = time.perf_counter()
        exact = [set(catalogue.search(q, k, allowed_rows=allowed_rows, subset_key=mood)[0].tolist()) for q in queries]
        exact_ms = (time.perf_counter() - started) * 1000 / len(queries)
        exact_ids = [{catalogue.track_ids[r] for r in rows} for rows in exact]

        started = time.perf_counter()
        selector = [
            {track_id for track_id, _ in index.search(q[None, :], k, allowed=allowed_ids)[0]} for q in queries
        ]
        selector_ms = (time.perf_counter() - started) * 1000 / len(queries)

        started = time.perf_counter()
        post = [{t for t, _ in index.search(q[None, :], k)[0] if t in allowed_ids} for q in queries]
        post_ms = (time.perf_counter() - started) * 1000 / len(queries)

        for name, results, elapsed in (
            ("exact over cached subset", exact_ids, exact_ms),
            ("HNSW + IDSelector", selector, selector_ms),
            ("HNSW top k, then filter", post, post_ms),
        ):
            recall = np.mean([len(r & e) / max(len(e), 1) for r, e in zip(results, exact_ids)])
            returned = np.mean([len(r) for r in results])
            print(f"| {mood} | {len(allowed_rows)} | {name} | {elapsed:.2f} | {recall:.3f} | {returned:.1f} |")


if __name__ == "__main__":
    main()
