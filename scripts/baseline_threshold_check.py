"""Compare mood binarisation choices for the baseline under artist-grouped 5-fold CV.

`moodflow cv` binarises each emotion at the median vote fraction of the fold's
training tracks (positive when strictly above). This script reruns the
baseline on the same folds with the median over *all* tracks and with
`>=` in place of `>`, to show how much the reported emotion ROC-AUC depends
on that choice. It reads the cached baseline features, so run
`moodflow cv --baseline-only` with the same --feature-cache first.

    python scripts/baseline_threshold_check.py --root ../shared/data/emotify --feature-cache .cache/baseline-features
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from moodflow.tagger.baseline import BaselineTagger, FeatureCache, features_for_tracks
from moodflow.tagger.datamodule import read_track_table
from moodflow.tagger.folds import assign_group_folds
from moodflow.tagger.metrics import build_report, summarize_folds

MOODS = ["amazement", "solemnity", "tenderness", "nostalgia", "calmness", "power", "joyful_activation", "tension", "sadness"]
GENRES = ["classical", "electronic", "pop", "rock"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="Emotify folder with tracks.csv")
    parser.add_argument("--feature-cache", type=Path, required=True, help="baseline feature cache folder")
    parser.add_argument("--n-folds", type=int, default=5, help="number of artist-grouped folds")
    args = parser.parse_args()

    tracks = read_track_table(args.root / "tracks.csv", MOODS, GENRES, group_column="artist")
    features = features_for_tracks(tracks.paths, FeatureCache(args.feature_cache))
    folds = assign_group_folds(tracks.groups, args.n_folds)
    all_track_medians = np.median(tracks.mood_targets, axis=0)

    variants = {
        "training median, >": (False, False),
        "all-track median, >": (True, False),
        "training median, >=": (False, True),
        "all-track median, >=": (True, True),
    }
    print(f"| binarisation | genre accuracy | mood macro ROC-AUC | mood macro PR-AUC |\n|---|---|---|---|")
    for name, (use_all_tracks, inclusive) in variants.items():
        reports = []
        for fold in range(args.n_folds):
            train, held_out = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
            thresholds = all_track_medians if use_all_tracks else np.median(tracks.mood_targets[train], axis=0)
            # build_report binarises with `>`; shifting by a tiny epsilon turns it into `>=`.
            if inclusive:
                thresholds = thresholds.astype(np.float64) - 1e-9
            train_binary = tracks.mood_targets[train] > thresholds
            tagger = BaselineTagger(MOODS, GENRES).fit(features[train], train_binary, tracks.genre_index[train])
            mood_scores, genre_probs = tagger.predict(features[held_out])
            reports.append(
                build_report(
                    mood_labels=MOODS, mood_fractions=tracks.mood_targets[held_out], mood_scores=mood_scores,
                    thresholds=thresholds, genre_labels=GENRES, genre_index=tracks.genre_index[held_out],
                    genre_probs=genre_probs,
                )
            )
        summary = summarize_folds(reports)
        print(
            f"| {name} | {summary['genre_accuracy']['mean']:.3f} | {summary['mood_macro_roc_auc']['mean']:.3f} "
            f"| {summary['mood_macro_pr_auc']['mean']:.3f} |"
        )


if __name__ == "__main__":
    main()
