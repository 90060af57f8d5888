"""Score per-fold CNN bundles against the baseline under artist-grouped k-fold CV.

The bundles come from `moodflow cv` (`<out>/cnn/bundles/fold<k>`) or from
`python train.py data.fold=<k> bundle_name=fold<k>` runs, which can train
folds in parallel. Folds, thresholds and metrics are those of `moodflow cv`.
For each fold, the fold's CNN bundle scores its held-out tracks three ways,
with no retraining:

- `cnn`: the bundle's rule (non-overlapping chunks, mean of chunk predictions);
- `cnn_overlap`: chunks every half chunk (twice as many views), mean;
- `cnn+baseline`: late fusion, the mean of the CNN's and the hand-made
  baseline's probabilities (baseline fitted on the fold's training tracks);
- `cnn_ensemble` (with `--extra-bundle-dir`): the mean of this bundle's and
  a second fold bundle's track predictions.

The baseline alone is scored too, so all rows share the folds and thresholds.

Example:
    nice -n 10 python scripts/tagger_views_fusion.py --bundle-dir outputs/cv-emotify/cnn/bundles \
        --root ../shared/data/emotify --feature-cache CACHE --audio-cache .cache/audio --out outputs/cv-emotify/views_fusion.json
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from moodflow.data.cache import AudioCache
from moodflow.data.adapters import EMOTIFY_GENRE_LABELS, EMOTIFY_MOOD_LABELS
from moodflow.logs import configure_logging
from moodflow.tagger.baseline import BaselineTagger, FeatureCache, features_for_tracks
from moodflow.tagger.bundle import load_bundle
from moodflow.tagger.datamodule import read_track_table
from moodflow.tagger.folds import assign_group_folds
from moodflow.tagger.metrics import binarize_moods, build_report, median_thresholds, summarize_folds

logger = logging.getLogger(__name__)


def overlapping_chunks(waveform: np.ndarray, chunk_samples: int) -> np.ndarray:
    """Return chunks every `chunk_samples // 2` samples, the last one aligned to the end."""
    if waveform.shape[0] <= chunk_samples:
        return np.resize(waveform, chunk_samples)[None, :]
    hop = chunk_samples // 2
    starts = list(range(0, waveform.shape[0] - chunk_samples + 1, hop))
    if starts[-1] + chunk_samples < waveform.shape[0]:
        starts.append(waveform.shape[0] - chunk_samples)
    return np.stack([waveform[start : start + chunk_samples] for start in starts])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle-dir", type=Path, required=True, help="folder with one bundle per fold, named fold0, fold1, ...")
    parser.add_argument("--root", type=Path, required=True, help="Emotify folder with tracks.csv")
    parser.add_argument("--feature-cache", type=Path, required=True, help="baseline feature cache folder")
    parser.add_argument("--audio-cache", type=Path, required=True, help="decoded-audio cache folder (moodflow.data.cache)")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--extra-bundle-dir", type=Path, help="second set of fold bundles to ensemble with the first")
    parser.add_argument("--n-folds", type=int, default=5)
    parser.add_argument("--only-folds", type=int, nargs="*", help="score only these fold numbers")
    args = parser.parse_args()
    configure_logging()

    moods, genres = list(EMOTIFY_MOOD_LABELS), list(EMOTIFY_GENRE_LABELS)
    tracks = read_track_table(args.root / "tracks.csv", moods, genres, group_column="artist")
    folds = assign_group_folds(tracks.groups, args.n_folds)
    features = features_for_tracks(tracks.paths, FeatureCache(args.feature_cache))
    reports: dict[str, list[dict]] = {"baseline": [], "cnn": [], "cnn_overlap": [], "cnn+baseline": []}
    if args.extra_bundle_dir:
        reports["cnn_ensemble"] = []
    started = time.perf_counter()
    for fold in range(args.n_folds):
        if args.only_folds and fold not in args.only_folds:
            continue
        train_rows, held_out = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
        thresholds = median_thresholds(tracks.mood_targets[train_rows])
        bundle = load_bundle(args.bundle_dir / f"fold{fold}")
        if bundle.mood_labels != moods or bundle.genre_labels != genres:
            raise SystemExit(f"fold {fold} bundle labels differ from Emotify's {moods} / {genres}")

        audio_cache = AudioCache(args.audio_cache, bundle.sample_rate)
        baseline = BaselineTagger(moods, genres)
        baseline.fit(features[train_rows], binarize_moods(tracks.mood_targets[train_rows], thresholds), tracks.genre_index[train_rows])
        scores = {"baseline": baseline.predict(features[held_out])}
        plain, overlap = [], []
        for row in held_out:
            waveform = audio_cache.load(tracks.paths[row])
            prediction = bundle.predict_track(waveform)
            plain.append((prediction["mood_probs"], prediction["genre_probs"]))
            views = bundle.predict_chunks(overlapping_chunks(waveform, bundle.chunk_samples))
            overlap.append((views["mood_probs"].mean(0), views["genre_probs"].mean(0)))
        scores["cnn"] = (np.stack([m for m, _ in plain]), np.stack([g for _, g in plain]))
        scores["cnn_overlap"] = (np.stack([m for m, _ in overlap]), np.stack([g for _, g in overlap]))
        scores["cnn+baseline"] = tuple((a + b) / 2 for a, b in zip(scores["cnn"], scores["baseline"]))
        if args.extra_bundle_dir:
            extra = load_bundle(args.extra_bundle_dir / f"fold{fold}")
            predictions = [extra.predict_track(audio_cache.load(tracks.paths[row])) for row in held_out]
            extra_scores = (np.stack([p["mood_probs"] for p in predictions]), np.stack([p["genre_probs"] for p in predictions]))
            scores["cnn_ensemble"] = tuple((a + b) / 2 for a, b in zip(scores["cnn"], extra_scores))
        for name, (mood_scores, genre_probs) in scores.items():
            report = build_report(
                mood_labels=moods,
                mood_fractions=tracks.mood_targets[held_out],
                mood_scores=mood_scores,
                thresholds=thresholds,
                genre_labels=genres,
                genre_index=tracks.genre_index[held_out],
                genre_probs=genre_probs,
            )
            reports[name].append(report)
            logger.info("fold %d %s: genre %.3f, mood ROC-AUC %.3f", fold, name, report["genre"]["accuracy"], report["mood"]["macro_roc_auc"])

    summary = {name: summarize_folds(fold_reports) for name, fold_reports in reports.items()}
    per_fold = {name: [(r["genre"]["accuracy"], r["mood"]["macro_roc_auc"]) for r in fold_reports] for name, fold_reports in reports.items()}
    args.out.write_text(json.dumps({"summary": summary, "per_fold": per_fold, "seconds": time.perf_counter() - started}, indent=2))
    print("| emotion | CNN ROC-AUC | baseline ROC-AUC | CNN PR-AUC | baseline PR-AUC |")
    print("|---|---|---|---|---|")
    for label in moods:
        cnn, base = summary["cnn"]["mood_per_tag"][label], summary["baseline"]["mood_per_tag"][label]
        print(
            f"| {label} | {cnn['roc_auc']['mean']:.3f} | {base['roc_auc']['mean']:.3f} "
            f"| {cnn['pr_auc']['mean']:.3f} | {base['pr_auc']['mean']:.3f} |"
        )
    for name, entry in summary.items():
        print(
            f"{name:14s} genre {entry['genre_accuracy']['mean']:.3f} ± {entry['genre_accuracy']['std']:.3f}  "
            f"mood ROC-AUC {entry['mood_macro_roc_auc']['mean']:.3f} ± {entry['mood_macro_roc_auc']['std']:.3f}  "
            f"PR-AUC {entry['mood_macro_pr_auc']['mean']:.3f}"
        )


if __name__ == "__main__":
    main()
