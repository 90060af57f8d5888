"""`moodflow cv`: artist-grouped k-fold cross-validation of the CNN and the baseline.

Both models see the same folds: `moodflow.tagger.folds.assign_group_folds`
over the manifest's group column (artist), exactly as training assigns
`data.fold`. For each fold the CNN is trained with `run_training` on the
other folds and evaluated on the held-out tracks, and the baseline is fitted
and evaluated on the same rows. Mood thresholds are the medians over each
fold's training tracks.

Writes `<out>/cv_report.json` (per-fold reports and fold means), a Markdown
side-by-side table `<out>/cv_report.md`, and PNG plots. While it runs,
`<out>/cv_report.partial.json` contains the folds finished so far. CNN fold bundles and
training logs go under `<out>/cnn/`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from moodflow.logs import configure_logging
from moodflow.tagger.evaluate import (
    DEFAULT_CONFIG_DIR,
    EvaluationError,
    compose_train_config,
    predict_with_bundle,
    read_tracks,
)
from moodflow.tagger.metrics import binarize_moods, build_report, median_thresholds, summarize_folds
from moodflow.tagger.plots import plot_confusion_matrix, plot_tag_bars

logger = logging.getLogger(__name__)

# The baseline runs first: its minutes give a figure before the CNN's hours start.
MODELS = ("baseline", "cnn")
PARTIAL_REPORT = "cv_report.partial.json"


def default_feature_cache() -> Path:
    """Return `$XDG_CACHE_HOME/moodflow/baseline-features` (default `~/.cache/...`)."""
    cache_home = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache_home / "moodflow" / "baseline-features"


def _held_out_report(tracks, held_out_rows, thresholds, mood_labels, genre_labels, mood_scores, genre_probs) -> dict:
    """Score one model's predictions on a fold's held-out tracks."""
    return build_report(
        mood_labels=mood_labels,
        mood_fractions=tracks.mood_targets[held_out_rows],
        mood_scores=mood_scores,
        thresholds=thresholds,
        genre_labels=genre_labels,
        genre_index=tracks.genre_index[held_out_rows],
        genre_probs=genre_probs,
    )


def _baseline_fold(features, tracks, train_rows, held_out_rows, thresholds, mood_labels, genre_labels) -> dict:
    from moodflow.tagger.baseline import BaselineTagger

    baseline = BaselineTagger(mood_labels, genre_labels)
    baseline.fit(
        features[train_rows],
        binarize_moods(tracks.mood_targets[train_rows], thresholds),
        tracks.genre_index[train_rows],
    )
    mood_scores, genre_probs = baseline.predict(features[held_out_rows])
    return _held_out_report(tracks, held_out_rows, thresholds, mood_labels, genre_labels, mood_scores, genre_probs)


def _cnn_fold(fold_overrides: list[str], config_dir: Path, tracks, held_out_rows, thresholds, mood_labels, genre_labels) -> dict:
    from moodflow.tagger.bundle import load_bundle
    from moodflow.tagger.training import run_training

    cfg = compose_train_config(fold_overrides, config_dir)
    result = run_training(cfg)
    if result.bundle_dir is None:
        raise EvaluationError("training exported no bundle; do not pass export_bundle=false to `moodflow cv`")
    bundle = load_bundle(result.bundle_dir)
    if list(bundle.mood_labels) != list(mood_labels) or list(bundle.genre_labels) != list(genre_labels):
        raise EvaluationError(
            f"bundle {result.bundle_dir} has labels {bundle.mood_labels} / {bundle.genre_labels}, "
            f"but the data config has {list(mood_labels)} / {list(genre_labels)}"
        )
    mood_scores, genre_probs = predict_with_bundle(bundle, [tracks.paths[row] for row in held_out_rows])
    report = _held_out_report(tracks, held_out_rows, thresholds, mood_labels, genre_labels, mood_scores, genre_probs)
    report["model_id"] = bundle.model_id
    report["training_seconds"] = result.seconds
    return report


def run_crossval(
    overrides: Sequence[str],
    out_dir: Path,
    models: Sequence[str] = MODELS,
    feature_cache: Path | None = None,
    config_dir: Path = DEFAULT_CONFIG_DIR,
) -> dict:
    """Run k-fold cross-validation of `models` on the composed data config and return the report."""
    from moodflow.tagger.baseline import FeatureCache, features_for_tracks
    from moodflow.tagger.folds import assign_group_folds

    cfg = compose_train_config(overrides, config_dir)
    mood_labels, genre_labels = list(cfg.data.mood_labels), list(cfg.data.genre_labels)
    n_folds, fold_seed = int(cfg.data.n_folds), int(cfg.data.get("fold_seed", 0))
    tracks = read_tracks(cfg.data, mood_labels, genre_labels)
    try:
        folds = assign_group_folds(tracks.groups, n_folds, seed=fold_seed)
    except ValueError as error:
        raise EvaluationError(f"cannot split {len(tracks)} tracks into {n_folds} folds: {error}") from error
    logger.info("%d-fold cross-validation of %s on %d tracks, %d groups", n_folds, list(models), len(tracks), len(set(tracks.groups)))

    report: dict = {
        "n_folds": n_folds,
        "fold_seed": fold_seed,
        "n_tracks": len(tracks),
        "overrides": list(overrides),
        "fold_sizes": [int(np.sum(folds == fold)) for fold in range(n_folds)],
        "models": {},
    }
    features = None
    if "baseline" in models:
        started = time.perf_counter()
        cache = FeatureCache(feature_cache or default_feature_cache())
        features = features_for_tracks(tracks.paths, cache)
        report["baseline_feature_seconds"] = time.perf_counter() - started

    for model in models:
        started = time.perf_counter()
        fold_reports = []
        for fold in range(n_folds):
            train_rows, held_out_rows = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
            thresholds = median_thresholds(tracks.mood_targets[train_rows])
            logger.info("%s fold %d/%d: %d training, %d held-out tracks", model, fold + 1, n_folds, len(train_rows), len(held_out_rows))
            if model == "baseline":
                fold_report = _baseline_fold(features, tracks, train_rows, held_out_rows, thresholds, mood_labels, genre_labels)
            else:
                fold_overrides = [
                    *overrides,
                    f"data.fold={fold}",
                    f"paths.output_dir={out_dir.resolve() / 'cnn' / f'fold{fold}'}",
                    f"paths.models_dir={out_dir.resolve() / 'cnn' / 'bundles'}",
                    f"bundle_name=fold{fold}",
                ]
                fold_report = _cnn_fold(fold_overrides, config_dir, tracks, held_out_rows, thresholds, mood_labels, genre_labels)
            fold_report["fold"] = fold
            fold_reports.append(fold_report)
            _write_partial(out_dir, report, model, fold_reports)
            logger.info(
                "%s fold %d: genre accuracy %.3f, mood macro ROC-AUC %s",
                model, fold, fold_report["genre"]["accuracy"], fold_report["mood"]["macro_roc_auc"],
            )
        seconds = time.perf_counter() - started
        if model == "baseline":
            seconds += report["baseline_feature_seconds"]
        report["models"][model] = {"seconds": seconds, "summary": summarize_folds(fold_reports), "folds": fold_reports}

    # ru_maxrss is in KiB on Linux. It covers this process only, so data-loader
    # worker processes of the CNN training are not counted.
    report["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report


def _write_partial(out_dir: Path, report: dict, model: str, fold_reports: list[dict]) -> None:
    """Save the finished folds, so a run stopped in a late fold keeps the earlier results."""
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = {**report, "in_progress": {"model": model, "folds": fold_reports}}
    temporary = out_dir / f".{PARTIAL_REPORT}.tmp"
    temporary.write_text(json.dumps(partial, indent=2) + "\n")
    temporary.replace(out_dir / PARTIAL_REPORT)


def _mean_std(entry: dict) -> str:
    if entry["mean"] is None:
        return "undefined"
    return f"{entry['mean']:.3f} ± {entry['std']:.3f}"


def format_side_by_side(report: dict) -> str:
    """Render the fold means (± standard deviation over folds) of every model as Markdown tables."""
    models = list(report["models"])
    summaries = {model: report["models"][model]["summary"] for model in models}
    compare = "cnn" in models and "baseline" in models
    lines = [
        f"{report['n_folds']}-fold artist-grouped cross-validation on {report['n_tracks']} tracks "
        f"(fold sizes {report['fold_sizes']}). Mean ± standard deviation over folds.",
        "",
        "| metric | " + " | ".join(models) + " |" + (" cnn − baseline |" if compare else ""),
        "|---|" + "---|" * (len(models) + compare),
    ]
    for name, key in (("genre accuracy", "genre_accuracy"), ("mood macro ROC-AUC", "mood_macro_roc_auc"), ("mood macro PR-AUC", "mood_macro_pr_auc")):
        row = f"| {name} | " + " | ".join(_mean_std(summaries[model][key]) for model in models) + " |"
        if compare:
            cnn_mean, baseline_mean = summaries["cnn"][key]["mean"], summaries["baseline"][key]["mean"]
            difference = "undefined" if cnn_mean is None or baseline_mean is None else f"{cnn_mean - baseline_mean:+.3f}"
            row += f" {difference} |"
        lines.append(row)
    lines.append("| wall time (s) | " + " | ".join(f"{report['models'][model]['seconds']:.0f}" for model in models) + " |" + (" |" if compare else ""))
    if "peak_rss_mib" in report:
        lines += ["", f"Peak resident memory of the `moodflow cv` process: {report['peak_rss_mib']:.0f} MiB."]

    lines += ["", "| emotion | " + " | ".join(f"{model} ROC-AUC | {model} PR-AUC" for model in models) + " |"]
    lines.append("|---|" + "---|---|" * len(models))
    for label in summaries[models[0]]["mood_per_tag"]:
        cells = []
        for model in models:
            entry = summaries[model]["mood_per_tag"][label]
            cells += [_mean_std(entry["roc_auc"]), _mean_std(entry["pr_auc"])]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_crossval(report: dict, out_dir: Path) -> list[Path]:
    """Write cv_report.json, cv_report.md and the PNG plots to `out_dir` and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "cv_report.json", out_dir / "cv_report.md"]
    written[0].write_text(json.dumps(report, indent=2) + "\n")
    written[1].write_text(format_side_by_side(report))
    (out_dir / PARTIAL_REPORT).unlink(missing_ok=True)

    models = list(report["models"])
    labels = list(report["models"][models[0]]["summary"]["mood_per_tag"])
    for metric in ("roc_auc", "pr_auc"):
        series, errors = {}, {}
        for model in models:
            per_tag = report["models"][model]["summary"]["mood_per_tag"]
            series[model] = [per_tag[label][metric]["mean"] for label in labels]
            errors[model] = [per_tag[label][metric]["std"] for label in labels]
        title = f"{report['n_folds']}-fold CV, mean over folds (bars: standard deviation)"
        written.append(plot_tag_bars(labels, series, metric, out_dir / f"cv_mood_{metric}.png", errors=errors, title=title))
    for model in models:
        folds = report["models"][model]["folds"]
        matrix = np.sum([fold["genre"]["confusion_matrix"] for fold in folds], axis=0)
        genre_labels = folds[0]["genre"]["labels"]
        title = f"{model}: genre, held-out tracks of all folds"
        written.append(plot_confusion_matrix(matrix, genre_labels, out_dir / f"cv_genre_confusion_{model}.png", title))
    return written


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moodflow cv",
        description=(
            "Artist-grouped k-fold cross-validation (k = data.n_folds) of the CNN and the hand-made baseline "
            "on the same folds. Every positional argument is a Hydra override of configs/train.yaml and is "
            "passed to training for each fold. `moodflow cv` itself sets data.fold, paths.output_dir, "
            "paths.models_dir and bundle_name. Example: moodflow cv --out outputs/cv data=emotify "
            "data.root=../shared/data/emotify trainer.max_epochs=20"
        ),
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for data and training, e.g. data=emotify data.root=PATH trainer.max_epochs=20")
    parser.add_argument("--out", type=Path, required=True, help="folder for cv_report.json, cv_report.md, the PNG plots and the CNN fold bundles")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--baseline-only", action="store_true", help="run only the baseline (librosa features and logistic regression)")
    only.add_argument("--cnn-only", action="store_true", help="run only the CNN")
    parser.add_argument(
        "--feature-cache", type=Path, default=None,
        help="folder of cached per-track baseline features (default: $XDG_CACHE_HOME/moodflow/baseline-features)",
    )
    parser.add_argument("--config-dir", type=Path, default=DEFAULT_CONFIG_DIR, help="Hydra config folder (default: the repository's configs/)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_intermixed_args(argv)
    configure_logging(args.verbose)
    models = list(MODELS)
    if args.baseline_only:
        models = ["baseline"]
    elif args.cnn_only:
        models = ["cnn"]
    report = run_crossval(args.overrides, args.out, models, args.feature_cache, args.config_dir)
    written = write_crossval(report, args.out)
    print(format_side_by_side(report))
    logger.info("wrote %s", ", ".join(str(path) for path in written))
    return 0
