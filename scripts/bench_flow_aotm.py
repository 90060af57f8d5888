"""Evaluate Flow and Flow Mood on Art of the Mix playlists with Deezer mood labels.

Protocol:
1. Hold out a random set of playlists with at least `--min-length` distinct
   tracks; build the music space from the other playlists.
2. Split the Deezer-labelled tracks of the space in two halves. The mood table
   gets true valence/arousal for the first half only. The second half
   ("held-out labelled") is scored from playlist categories of the training
   playlists or from valence/arousal predicted from the space vector.
3. Relevance: each held-out playlist's first half is the history, its second
   half (tracks with a vector) the target. HR@50 (at least one target track
   among 50), recall@50 and NDCG@50 for Flow's first 50 tracks and for plain
   nearest-neighbour search around the mean history vector.
4. Mood: for each mood, the share of returned held-out-labelled tracks whose
   true valence/arousal falls in the mood's region (true-label score at or
   above the mood threshold), Flow Mood against unfiltered Flow, and the
   relevance given up.

Writes the space, moods.parquet, metadata.csv and listeners.csv under
`--out` for the load test, and prints Markdown tables.

    nice -n 10 .venv/bin/python scripts/bench_flow_aotm.py --data ../shared/data --out outputs/flow-aotm
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from moodflow.flow.catalogue import Catalogue
from moodflow.flow.engine import FlowEngine
from moodflow.flow.moods import MoodVocabulary, category_counts_from_playlists
from moodflow.flow.moodtable import build_mood_table, evaluate_predictor
from moodflow.flow.profile import HistoryEntry
from moodflow.flow.session import FlowConfig, FlowRequest, NoTracksForMoodError
from moodflow.logs import configure_logging
from moodflow.space import SpaceConfig, build_space

K = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with aotm2011/ and deezer-mood/")
    parser.add_argument("--out", type=Path, required=True, help="folder for the artifacts the load test serves")
    parser.add_argument("--test-playlists", type=int, default=1000, help="number of held-out playlists to evaluate")
    parser.add_argument("--min-length", type=int, default=8, help="minimum distinct tracks of a held-out playlist")
    parser.add_argument("--mood-queries", type=int, default=1000, help="held-out playlists used for the mood evaluation")
    parser.add_argument("--skip-relevance", action="store_true", help="run only the predictor and mood evaluations")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    configure_logging()
    rng = np.random.default_rng(args.seed)
    vocabulary = MoodVocabulary.load()

    playlists = pd.read_csv(args.data / "aotm2011" / "playlists.csv.gz")
    deezer = pd.concat([pd.read_csv(args.data / "deezer-mood" / f"{s}.csv") for s in ("train", "validation", "test")])
    deezer = deezer.drop_duplicates("MSD_sng_id").rename(columns={"MSD_sng_id": "track_id"})

    lengths = playlists.drop_duplicates(["playlist_id", "song_id"]).groupby("playlist_id").size()
    eligible = lengths.index[lengths >= args.min_length].to_numpy()
    test_ids = set(rng.choice(eligible, size=min(args.test_playlists, len(eligible)), replace=False))
    is_test = playlists["playlist_id"].isin(test_ids)
    train = playlists[~is_test].rename(columns={"song_id": "track_id"})
    test = playlists[is_test].sort_values(["playlist_id", "position"])

    started = time.perf_counter()
    metadata = deezer[["track_id", "artist_name", "track_name"]].rename(columns={"artist_name": "artist", "track_name": "title"})
    space = build_space(train[["playlist_id", "track_id", "position"]], SpaceConfig(), metadata[["track_id", "artist"]])
    print(f"space: {len(space.track_ids)} warm tracks, dim {space.dim}, built in {time.perf_counter() - started:.1f} s")
    args.out.mkdir(parents=True, exist_ok=True)
    space.save(args.out / "space")
    metadata.to_csv(args.out / "metadata.csv", index=False)

    track_ids = np.asarray(space.track_ids).astype(str)
    labelled = deezer[deezer["track_id"].isin(set(track_ids))]
    shuffled = labelled.sample(frac=1.0, random_state=args.seed)
    known, held_out = shuffled.iloc[: len(shuffled) // 2], shuffled.iloc[len(shuffled) // 2 :]
    print(f"labelled tracks in the space: {len(labelled)} ({len(known)} known, {len(held_out)} held out)")

    _report_predictor(vocabulary, space, known, held_out)

    categories = category_counts_from_playlists(train, "track_id")
    moods = build_mood_table(vocabulary, track_ids, space.vectors, space.space_id, None, known, categories)
    moods.to_parquet(args.out / "moods.parquet", index=False)
    print("mood sources:", moods["source"].value_counts().to_dict())

    catalogue = Catalogue.from_tables(
        vocabulary, space.space_id, track_ids, space.vectors, moods,
        popularity=space.track_counts, metadata=metadata, cooccurrence=space.cooccurrence_scores,
    )
    from moodflow.index import TrackIndex

    index = TrackIndex.build(space, "hnsw")
    index.save(args.out / "index")
    indexed = Catalogue.from_tables(
        vocabulary, space.space_id, track_ids, space.vectors, moods,
        popularity=space.track_counts, metadata=metadata, index=index,
    )
    queries = _queries(test, catalogue)
    _write_listeners(queries, args.out / "listeners.csv")
    print(f"held-out playlists evaluated: {len(queries)} (history = first half, target = second half with a vector)")

    held_out_va = {t: (v, a) for t, v, a in zip(held_out["track_id"], held_out["valence"], held_out["arousal"])}
    if not args.skip_relevance:
        _relevance(catalogue, indexed, queries)
    mood_queries = queries[: args.mood_queries]
    describe = {True: "rescaled to the labels' spread", False: "raw (not rescaled)"}
    print(f"\nmood evaluation on {len(mood_queries)} held-out playlists; predicted valence/arousal "
          f"{describe[vocabulary.rescale_predictions]} (configs/moods.yaml)")
    _mood(catalogue, mood_queries, held_out_va, vocabulary)

    other_vocabulary = replace(vocabulary, rescale_predictions=not vocabulary.rescale_predictions)
    other_moods = build_mood_table(other_vocabulary, track_ids, space.vectors, space.space_id, None, known, categories)
    other_catalogue = Catalogue.from_tables(
        other_vocabulary, space.space_id, track_ids, space.vectors, other_moods,
        popularity=space.track_counts, metadata=metadata, cooccurrence=space.cooccurrence_scores,
    )
    print(f"\nthe same with predicted valence/arousal {describe[other_vocabulary.rescale_predictions]}")
    _mood(other_catalogue, mood_queries, held_out_va, other_vocabulary)


def _report_predictor(vocabulary, space, known, held_out) -> None:
    rows_known = np.array([space.row_of(t) for t in known["track_id"]])
    vectors, labels = space.vectors[rows_known], known[["valence", "arousal"]].to_numpy(np.float32)
    knn = {"_target_": "sklearn.neighbors.KNeighborsRegressor", "n_neighbors": 25, "weights": "distance", "metric": "cosine"}
    print("\nvalence/arousal predicted from the space vector, 80/20 split of the known labelled tracks\n")
    print("| regressor | output | dimension | R² | Pearson r | mean predictor R² | train / test |")
    print("|---|---|---|---|---|---|---|")
    for label, config in ((f"{vocabulary.predictor['_target_']} (configs/moods.yaml)", vocabulary.predictor), ("kNN, 25 neighbours", knn)):
        for rescale in (False, True):
            report = evaluate_predictor(vectors, labels, config, rescale=rescale)
            for name in report.r2:
                print(f"| {label} | {'rescaled' if rescale else 'raw'} | {name} | {report.r2[name]:.3f} | "
                      f"{report.pearson[name]:.3f} | {report.mean_predictor_r2[name]:.3f} | {report.n_train} / {report.n_test} |")


def _queries(test: pd.DataFrame, catalogue: Catalogue) -> list[tuple[str, list[str], set[str]]]:
    queries = []
    for playlist_id, group in test.groupby("playlist_id", sort=True):
        songs = list(dict.fromkeys(group["song_id"]))
        half = len(songs) // 2
        history = [s for s in songs[:half] if catalogue.row_of(s) is not None]
        target = {s for s in songs[half:] if catalogue.row_of(s) is not None} - set(history)
        if history and target:
            queries.append((playlist_id, history, target))
    return queries


def _write_listeners(queries, path: Path) -> None:
    rows = [{"listener_id": pid, "track_id": t, "plays": 1} for pid, history, _ in queries for t in history]
    pd.DataFrame(rows).to_csv(path, index=False)


def _metrics(ranked: list[str], target: set[str]) -> tuple[float, float, float]:
    gains = np.array([1.0 if t in target else 0.0 for t in ranked[:K]])
    discounts = 1.0 / np.log2(np.arange(2, len(gains) + 2))
    ideal = (1.0 / np.log2(np.arange(2, min(len(target), K) + 2))).sum()
    return float(gains.any()), float(gains.sum() / min(len(target), K)), float((gains * discounts).sum() / ideal)


def _nearest_mean(catalogue: Catalogue, history: list[str]) -> list[str]:
    rows = np.array([catalogue.row_of(t) for t in history])
    mean = catalogue.vectors[rows].mean(axis=0)
    found, _ = catalogue.search(mean / np.linalg.norm(mean), K, exclude_rows=rows)
    return [str(catalogue.track_ids[r]) for r in found]


def _flow_tracks(engine: FlowEngine, history: list[str], mood: str | None = None) -> list[str]:
    request = FlowRequest(history=tuple(HistoryEntry(t) for t in history), mood=mood, page_size=K)
    return [t["track_id"] for t in engine.flow_page(request)["tracks"]]


def _engines(catalogue: Catalogue) -> dict[str, FlowEngine]:
    discoveries = {"discovery": 1.0}
    configs = {
        "Flow, default mix, no co-occurrence boost": FlowConfig(max_page_size=K, cooccurrence_weight=0.0),
        "Flow, discoveries only, no boost": FlowConfig(max_page_size=K, shares=discoveries, cooccurrence_weight=0.0),
        "Flow, discoveries only, no boost, one centre": FlowConfig(
            max_page_size=K, shares=discoveries, cooccurrence_weight=0.0, max_centres=1
        ),
        "Flow, discoveries only, no boost, no artist cap": FlowConfig(
            max_page_size=K, shares=discoveries, cooccurrence_weight=0.0, artist_cap=K
        ),
        "Flow, discoveries only, co-occurrence boost 1.0 (default)": FlowConfig(
            max_page_size=K, shares=discoveries, cooccurrence_weight=1.0
        ),
        "Flow, discoveries only, boost 1.0, no artist cap": FlowConfig(
            max_page_size=K, shares=discoveries, cooccurrence_weight=1.0, artist_cap=K
        ),
        "Flow, default mix, boost 1.0 (the shipped config)": FlowConfig(max_page_size=K, cooccurrence_weight=1.0),
    }
    return {name: FlowEngine(catalogue, config, b"bench") for name, config in configs.items()}


def _relevance(catalogue: Catalogue, indexed: Catalogue, queries) -> None:
    print(f"\n| method (first {K} tracks) | HR@{K} | recall@{K} | NDCG@{K} | ms per query |")
    print("|---|---|---|---|---|")
    methods = {"nearest neighbours of the mean vector": lambda history: _nearest_mean(catalogue, history)}
    for name, engine in _engines(catalogue).items():
        methods[name] = lambda history, engine=engine: _flow_tracks(engine, history)
    hnsw_config = FlowConfig(max_page_size=K, shares={"discovery": 1.0}, cooccurrence_weight=0.0)
    hnsw = FlowEngine(indexed, hnsw_config, b"bench")
    methods["Flow, discoveries only, no boost, HNSW index"] = lambda history: _flow_tracks(hnsw, history)
    for name, method in methods.items():
        started = time.perf_counter()
        scores = np.array([_metrics(method(history), target) for _, history, target in queries])
        elapsed = (time.perf_counter() - started) * 1000 / len(queries)
        hr, recall, ndcg = scores.mean(axis=0)
        print(f"| {name} | {hr:.3f} | {recall:.3f} | {ndcg:.3f} | {elapsed:.1f} |")


def _mood(catalogue: Catalogue, queries, held_out_va: dict, vocabulary: MoodVocabulary) -> None:
    # FlowConfig's defaults match configs/flow.yaml, co-occurrence boost included.
    engine = FlowEngine(catalogue, FlowConfig(max_page_size=K, shares={"discovery": 1.0}), b"bench")
    plain = {pid: _flow_tracks(engine, history) for pid, history, _ in queries}
    print(f"\nFlow Mood (filter, discoveries only, co-occurrence boost {engine.config.cooccurrence_weight}, "
          f"first {K} tracks) against unfiltered Flow; "
          "'in region' = share of returned held-out-labelled tracks whose true valence/arousal "
          "scores at least the threshold for the mood\n")
    print(f"| mood | threshold | catalogue share passing | in region: Flow Mood | in region: Flow | labelled tracks judged (Mood / Flow) | NDCG@{K} Mood / Flow | HR@{K} Mood / Flow |")
    print("|---|---|---|---|---|---|---|---|")
    for mood in vocabulary.moods:
        column = vocabulary.moods.index(mood)
        threshold = vocabulary.threshold(mood)
        passing = float((catalogue.mood_scores[:, column] >= threshold).mean())
        in_mood, in_plain, judged_mood, judged_plain, metrics_mood, metrics_plain = 0, 0, 0, 0, [], []
        for pid, history, target in queries:
            try:
                tracks = _flow_tracks(engine, history, mood)
            except NoTracksForMoodError:
                continue
            for ranked, counters in ((tracks, "mood"), (plain[pid], "plain")):
                labelled = [held_out_va[t] for t in ranked if t in held_out_va]
                if labelled:
                    scores = vocabulary.from_valence_arousal(np.array(labelled))[:, column]
                    hits = int((scores >= threshold).sum())
                    if counters == "mood":
                        in_mood, judged_mood = in_mood + hits, judged_mood + len(labelled)
                    else:
                        in_plain, judged_plain = in_plain + hits, judged_plain + len(labelled)
            metrics_mood.append(_metrics(tracks, target))
            metrics_plain.append(_metrics(plain[pid], target))
        mood_metrics, plain_metrics = np.mean(metrics_mood, axis=0), np.mean(metrics_plain, axis=0)
        print(
            f"| {mood} | {threshold:.2f} | {passing:.3f} | {in_mood / max(judged_mood, 1):.3f} | "
            f"{in_plain / max(judged_plain, 1):.3f} | {judged_mood} / {judged_plain} | "
            f"{mood_metrics[2]:.3f} / {plain_metrics[2]:.3f} | {mood_metrics[0]:.3f} / {plain_metrics[0]:.3f} |"
        )


if __name__ == "__main__":
    main()
