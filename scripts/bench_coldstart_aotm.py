"""Cold-start evaluation on Art of the Mix 2011 playlists with Deezer artists and valence/arousal.

Protocol:
1. Build the full space from every playlist.
2. Hide a random fraction (default 10%) of the warm songs that have Deezer
   metadata: remove them from every playlist and build the reduced space.
3. Align the full space to the reduced one with an orthogonal Procrustes
   rotation fitted on the tracks warm in both. A hidden song's true vector
   is its full-space vector rotated into the reduced space. (Folding in all
   of a song's playlists would also give a true vector, but then the
   early-usage predictions, which fold in a subset of the same playlists,
   would be scored against their own method.)
4. Train the MLP and the ridge baseline on the warm tracks of the reduced
   space (artist, valence/arousal, early usage simulated from 1-3 of their
   playlists).
5. Predict each hidden song from each feature set and score mean cosine to
   the true vector, recall@50 of the true vector's 50 nearest neighbours, and
   the hit rate of its playlist partners among the predicted vector's 50
   neighbours. Partners come only from the song's playlists after the first
   three (the ones early usage may read), so songs in 4+ playlists count.

Usage:
    nice -n 10 .venv/bin/python scripts/bench_coldstart_aotm.py \
        --aotm ../shared/data/aotm2011/playlists.csv.gz --deezer ../shared/data/deezer-mood \
        --out-json /tmp/coldstart_aotm.json
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from moodflow.coldstart.assemble import release_table, warm_training_rows
from moodflow.coldstart.cli import load_config
from moodflow.coldstart.features import FeatureTable, concat_tables, playlists_by_track, usage_block
from moodflow.coldstart.holdout import rotation_between
from moodflow.coldstart.train import train_from_rows
from moodflow.logs import configure_logging

logger = logging.getLogger("bench_coldstart_aotm")

K = 50
MAX_EARLY = 3


def load_data(aotm: Path, deezer: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    playlists = pd.read_csv(aotm).rename(columns={"song_id": "track_id"})
    playlists = playlists.sort_values(["playlist_id", "position"], kind="stable")
    frames = [pd.read_csv(path) for path in sorted(deezer.glob("*.csv"))]
    metadata = pd.concat(frames).rename(columns={"MSD_sng_id": "track_id", "artist_name": "artist"})
    metadata = metadata.drop_duplicates("track_id")[["track_id", "artist", "valence", "arousal"]]
    return playlists, metadata


def build(playlists: pd.DataFrame, overrides: list[str]):
    from moodflow.space import build_space
    from moodflow.space.config import SpaceConfig

    config = SpaceConfig.from_dict(dict(OmegaConf.to_container(OmegaConf.from_dotlist(overrides))))
    started = time.perf_counter()
    space = build_space(playlists[["playlist_id", "track_id", "position"]], config)
    logger.info("space %s: %d warm tracks in %.1f s", space.space_id, len(space.track_ids), time.perf_counter() - started)
    return space


def unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


def top_k(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    scores = queries.astype(np.float32) @ vectors.T
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    return top


def score(predicted, true, warm_vectors, partner_rows) -> dict:
    cosine = float((unit(predicted) * true).sum(axis=1).mean())
    predicted_top = top_k(warm_vectors, predicted, K)
    true_top = top_k(warm_vectors, true, K)
    recall = float(np.mean([len(set(a) & set(b)) / K for a, b in zip(predicted_top, true_top)]))
    hits = [bool(set(top) & partners) for top, partners in zip(predicted_top, partner_rows) if partners]
    return {"cosine": cosine, "recall_at_50": recall, "partner_hr_at_50": float(np.mean(hits)) if hits else float("nan"),
            "n": len(predicted), "n_with_partners": len(hits)}


def hidden_features(reduced, layout, config, hidden, playlists, metadata, kept_metadata, rng, tags=None):
    """Return the hidden songs' feature tables per early-usage level and their held-out partner rows."""
    order = rng.permutation(playlists["playlist_id"].unique())
    shuffled = playlists.set_index("playlist_id").loc[order].reset_index()
    playlists_of = playlists_by_track(shuffled, hidden)
    hidden_metadata = None if metadata is None else metadata[metadata["track_id"].isin(set(hidden.tolist()))]
    without_usage = OmegaConf.merge(config, {"features": {"max_usage_playlists": 0}})
    base = release_table(reduced, layout, without_usage, hidden, tags, hidden_metadata, kept_metadata, None)

    tables = {}
    for n_playlists in range(1, MAX_EARLY + 1):
        blocks = dict(base.blocks)
        blocks["usage"] = usage_block(reduced, hidden, playlists_of, n_playlists, config.features.fold_in_method)
        tables[n_playlists] = FeatureTable(base.track_ids, blocks, base.notes)

    reduced_rows = {track_id: row for row, track_id in enumerate(reduced.track_ids.tolist())}
    partner_rows = []
    for track_id in hidden:
        later = playlists_of.get(track_id, [])[MAX_EARLY:]
        partner_rows.append({reduced_rows[other] for playlist in later for other in playlist if other in reduced_rows})
    return tables, partner_rows


# Feature set name -> (blocks the predictor may read, early-usage level).
FEATURE_SETS = {
    "artist": (["artist"], 1),
    "valence/arousal": (["descriptors"], 1),
    "usage, 1 playlist": (["usage"], 1),
    "usage, 2 playlists": (["usage"], 2),
    "usage, 3 playlists": (["usage"], 3),
    "all (artist + v/a + 3 playlists)": (["artist", "descriptors", "usage"], 3),
}


def evaluate(models, reduced, tables, true, partner_rows, seed, feature_sets=FEATURE_SETS) -> dict:
    """Score the models and the baselines on each feature set, over the songs that have it."""
    rng = np.random.default_rng(seed)
    warm = reduced.vectors.astype(np.float32)
    counts = np.asarray(reduced.track_counts, dtype=np.float64)
    centroid = unit((counts @ warm.astype(np.float64))[None, :]).astype(np.float32)
    results = {}
    for name, (blocks, level) in feature_sets.items():
        table = tables[level]
        rows = np.flatnonzero(np.all([table.blocks[block].present for block in blocks], axis=0))
        if len(rows) == 0:
            continue
        subset = table.select(blocks)
        partners = [partner_rows[row] for row in rows]
        predictors = {
            "random unit vector": unit(rng.normal(size=(len(rows), warm.shape[1]))).astype(np.float32),
            "popularity centroid": np.repeat(centroid, len(rows), axis=0),
        }
        if "artist" in blocks:
            predictors["artist mean"] = table.blocks["artist"].values[rows]
        if "usage" in blocks:
            predictors["fold-in"] = table.blocks["usage"].values[rows]
        for kind, model in models.items():
            predictors[kind] = model.predict(subset)[rows]
        results[name] = {predictor: score(vectors, true[rows], warm, partners) for predictor, vectors in predictors.items()}
        logger.info("%s (%d songs): %s", name, len(rows), {key: round(value["cosine"], 3) for key, value in results[name].items()})
    return results


def throughput(model, table, repeats: int = 20) -> float:
    """Return tracks per second of `model.predict` on `table` stacked `repeats` times."""
    big = concat_tables([table] * repeats)
    started = time.perf_counter()
    model.predict(big)
    return len(big) / (time.perf_counter() - started)


def print_markdown(results: dict) -> None:
    print("| feature set | predictor | songs | mean cosine | recall@50 | partner HR@50 (songs) |")
    print("|---|---|---|---|---|---|")
    for name, predictors in results.items():
        for predictor, values in predictors.items():
            print(
                f"| {name} | {predictor} | {values['n']} | {values['cosine']:.3f} | {values['recall_at_50']:.3f} | "
                f"{values['partner_hr_at_50']:.3f} ({values['n_with_partners']}) |"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--aotm", type=Path, required=True, help="aotm2011/playlists.csv.gz")
    parser.add_argument("--deezer", type=Path, required=True, help="folder with the deezer-mood CSV files")
    parser.add_argument("--hide-fraction", type=float, default=0.1, help="fraction of warm songs with metadata to hide")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--space", nargs="*", default=[], help="space build settings KEY=VALUE, such as dim=128")
    parser.add_argument("--config", help="cold-start YAML config (default configs/coldstart.yaml)")
    parser.add_argument("--set", dest="overrides", nargs="*", default=[], help="cold-start config overrides KEY=VALUE")
    parser.add_argument("--max-playlists", type=int, help="use only the first N playlists (for quick checks)")
    parser.add_argument("--out-json", type=Path, help="write every figure to this JSON file")
    args = parser.parse_args(argv)
    configure_logging()
    config = load_config(args.config, args.overrides)
    rng = np.random.default_rng(args.seed)

    playlists, metadata = load_data(args.aotm, args.deezer)
    if args.max_playlists:
        first = playlists["playlist_id"].drop_duplicates().iloc[: args.max_playlists]
        playlists = playlists[playlists["playlist_id"].isin(set(first))]
    full = build(playlists, args.space)
    candidates = np.array(sorted(set(full.track_ids.tolist()) & set(metadata["track_id"])))
    hidden = rng.choice(candidates, size=int(round(args.hide_fraction * len(candidates))), replace=False)
    hidden_set = set(hidden.tolist())
    logger.info("hiding %d of %d warm songs with metadata", len(hidden), len(candidates))

    reduced_playlists = playlists[~playlists["track_id"].isin(hidden_set)]
    reduced = build(reduced_playlists, args.space)
    rotation, alignment_cosine = align(full, reduced)
    true = unit(full.vectors[[full.row_of(track_id) for track_id in hidden]] @ rotation).astype(np.float32)

    kept_metadata = metadata[~metadata["track_id"].isin(hidden_set)]
    started = time.perf_counter()
    rows = warm_training_rows(reduced, config, None, kept_metadata, reduced_playlists)
    table = rows.table
    feature_seconds = time.perf_counter() - started
    models = train_from_rows(rows, reduced, config)

    started = time.perf_counter()
    tables, partner_rows = hidden_features(reduced, models["mlp"].layout, config, hidden, playlists, metadata, kept_metadata, rng)
    hidden_feature_seconds = time.perf_counter() - started
    results = evaluate(models, reduced, tables, true, partner_rows, args.seed)

    summary = {
        "hidden_songs": len(hidden),
        "candidates": len(candidates),
        "full_warm": len(full.track_ids),
        "reduced_warm": len(reduced.track_ids),
        "alignment_cosine": alignment_cosine,
        "training_rows": len(table),
        "training_feature_seconds": feature_seconds,
        "mlp_train_seconds": models["mlp"].summary["train_seconds"],
        "mlp_epochs": models["mlp"].summary["epochs"],
        "ridge_train_seconds": models["ridge"].summary["train_seconds"],
        "hidden_feature_seconds": hidden_feature_seconds,
        "hidden_feature_tracks_per_second": 3 * len(hidden) / hidden_feature_seconds,
        "mlp_predict_tracks_per_second": throughput(models["mlp"], tables[MAX_EARLY]),
        "ridge_predict_tracks_per_second": throughput(models["ridge"], tables[MAX_EARLY]),
    }
    print(json.dumps(summary, indent=2))
    print_markdown(results)
    if args.out_json:
        args.out_json.write_text(json.dumps({"summary": summary, "results": results}, indent=2))
    return 0


def align(full, reduced) -> tuple[np.ndarray, float]:
    """Fit the rotation from the full space to the reduced one on the tracks warm in both."""
    rotation, cosine = rotation_between(full, reduced)
    logger.info("Procrustes alignment of the full space onto the reduced one: mean cosine %.4f", cosine)
    return rotation, cosine


if __name__ == "__main__":
    raise SystemExit(main())
