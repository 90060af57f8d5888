"""`moodflow evaluate`: score a tagger bundle on the held-out tracks of a data config.

The tracks come from the same Hydra data config that training uses, so
`data.fold=k` evaluates exactly the artists that fold `k` held out, and the
mood thresholds are the medians over that fold's training tracks. With
`data.fold=null` every track is evaluated and the thresholds are the medians
over all of them, which the report records.

Writes `<out>/report.json`, `<out>/report.md` and PNG plots: per-tag ROC-AUC
and PR-AUC bars (beside a baseline when `--baseline-report` is given) and the
genre confusion matrix.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from moodflow.errors import MoodflowError
from moodflow.logs import configure_logging
from moodflow.tagger.metrics import build_report, median_thresholds
from moodflow.tagger.plots import plot_confusion_matrix, plot_tag_bars

logger = logging.getLogger(__name__)

# src/moodflow/tagger/evaluate.py -> the repository root, three folders up from the package.
REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CONFIG_DIR = REPO_ROOT / "configs"


class EvaluationError(MoodflowError):
    """An evaluation cannot run: bad config, mismatched labels or an unreadable report."""


def compose_train_config(overrides: Sequence[str], config_dir: Path = DEFAULT_CONFIG_DIR) -> DictConfig:
    """Compose `configs/train.yaml` with Hydra `overrides`, the way `python train.py` does."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    config_dir = Path(config_dir).resolve()
    if not (config_dir / "train.yaml").is_file():
        raise EvaluationError(f"config folder {config_dir} has no train.yaml; pass --config-dir with the repository's configs/")
    os.environ.setdefault("MOODFLOW_ROOT", str(config_dir.parent))
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            return compose(config_name="train", overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as error:
        raise EvaluationError(f"invalid Hydra overrides {list(overrides)}: {error}") from error


def read_tracks(data_cfg: DictConfig, mood_labels: Sequence[str], genre_labels: Sequence[str]):
    """Read and validate the manifest that `data_cfg` names, returning a `TrackTable`."""
    from moodflow.tagger.datamodule import read_track_table

    path_root = data_cfg.get("path_root") or data_cfg.get("root")
    manifest = data_cfg.manifest
    if isinstance(manifest, DictConfig):
        # Data configs such as folder_genre and jamendo build the manifest with
        # an adapter (`_target_`) instead of naming a file.
        import hydra

        manifest = hydra.utils.instantiate(manifest)
    else:
        manifest = str(manifest)
    return read_track_table(
        manifest,
        list(mood_labels),
        list(genre_labels),
        path_root=path_root,
        group_column=data_cfg.get("group_column", "group"),
        genre_column=data_cfg.get("genre_column", "genre"),
    )


def fold_rows(groups: Sequence[str], n_folds: int, fold: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (training rows, held-out rows) of `fold`. With `fold=None` both are all rows."""
    from moodflow.tagger.folds import assign_group_folds

    if fold is None:
        every_row = np.arange(len(groups))
        return every_row, every_row
    folds = assign_group_folds(groups, n_folds, seed=seed)
    return np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)


def check_no_training_overlap(metadata: dict, data_name: str, n_folds: int, fold: int | None, allow_overlap: bool = False) -> None:
    """Raise `EvaluationError` when the evaluated tracks include the bundle's training tracks.

    `metadata` is the bundle's recorded training set-up (`data`, `fold`,
    `n_folds`). A bundle trained on another data config, or one without
    that record, passes. NOTE: the fold seed is not recorded, so a bundle
    trained with another `data.fold_seed` is not caught.
    """
    if allow_overlap or "fold" not in metadata or metadata.get("data") != data_name:
        return
    trained_fold, trained_n_folds = metadata["fold"], metadata.get("n_folds")
    if fold is not None and trained_fold == fold and trained_n_folds == n_folds:
        return
    if trained_fold is None:
        trained_on = f"every track of {data_name!r}"
        fix = "train with data.fold=k to keep a held-out fold"
    else:
        trained_on = f"{data_name!r} with fold {trained_fold} of {trained_n_folds} held out"
        fix = f"evaluate with data.fold={trained_fold} data.n_folds={trained_n_folds}"
    evaluated = "every track" if fold is None else f"fold {fold} of {n_folds}"
    raise EvaluationError(
        f"the bundle was trained on {trained_on}, so evaluating {evaluated} scores tracks it was trained on; "
        f"{fix}, or pass --allow-overlap to evaluate anyway"
    )


def predict_with_bundle(bundle, paths: Sequence[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Return track-level mood probabilities `[n, n_moods]` and genre probabilities `[n, n_genres]`.

    Each track is decoded at the bundle's sample rate and its chunk
    predictions are averaged over the whole track (`predict_track`).
    """
    from moodflow.audio import load_audio

    started = time.perf_counter()
    mood_rows, genre_rows = [], []
    for path in paths:
        prediction = bundle.predict_track(load_audio(path, bundle.sample_rate))
        mood_rows.append(prediction["mood_probs"])
        genre_rows.append(prediction["genre_probs"])
    logger.info("predicted %d tracks with bundle %s in %.1f s", len(paths), bundle.model_id, time.perf_counter() - started)
    return np.stack(mood_rows), np.stack(genre_rows)


def per_tag_series(report: dict, metric: str) -> dict[str, float | None]:
    """Return `{tag: value}` of `metric` from a single-split report or a cross-validation summary."""
    if "mood" in report and "per_tag" in report["mood"]:
        return {label: entry[metric] for label, entry in report["mood"]["per_tag"].items()}
    if "mood_per_tag" in report:
        return {label: entry[metric]["mean"] for label, entry in report["mood_per_tag"].items()}
    raise EvaluationError(
        "report has neither mood.per_tag (a `moodflow evaluate` report) nor mood_per_tag "
        f"(a cross-validation summary); found keys {sorted(report)}"
    )


def load_baseline_report(path: str | Path) -> dict:
    """Read a baseline report JSON: a `moodflow evaluate` report or the baseline summary of `moodflow cv`."""
    path = Path(path)
    try:
        report = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise EvaluationError(f"cannot read baseline report {path}: {error}") from error
    if "models" in report:  # a `moodflow cv` report, whose baseline summary is used
        if "baseline" not in report["models"]:
            raise EvaluationError(f"cross-validation report {path} has no baseline results; rerun `moodflow cv` without --cnn-only")
        return report["models"]["baseline"]["summary"]
    per_tag_series(report, "roc_auc")  # raises with the keys found when the layout is unknown
    return report


def _format(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3f}"


def report_to_markdown(report: dict, title: str, baseline: dict | None = None) -> str:
    """Render a single-split report as Markdown tables, with a baseline column when given."""
    mood = report["mood"]
    genre = report["genre"]
    lines = [f"# {title}", "", f"Tracks evaluated: {report['n_tracks']}. {mood['binarization']}.", ""]
    header = "| metric | model |" + (" baseline |" if baseline else "")
    rule = "|---|---|" + ("---|" if baseline else "")
    lines += [header, rule]
    headline = [
        ("genre accuracy", genre["accuracy"], None),
        ("mood macro ROC-AUC", mood["macro_roc_auc"], None),
        ("mood macro PR-AUC", mood["macro_pr_auc"], None),
    ]
    if baseline:
        baseline_values = _headline_of(baseline)
        headline = [(name, value, baseline_values[name]) for name, value, _ in headline]
    for name, value, baseline_value in headline:
        lines.append(f"| {name} | {_format(value)} |" + (f" {_format(baseline_value)} |" if baseline else ""))

    lines += ["", "## Per emotion", ""]
    lines += ["| emotion | threshold | positives | ROC-AUC | PR-AUC |" + (" baseline ROC-AUC | baseline PR-AUC |" if baseline else "")]
    lines += ["|---|---|---|---|---|" + ("---|---|" if baseline else "")]
    baseline_roc = per_tag_series(baseline, "roc_auc") if baseline else {}
    baseline_pr = per_tag_series(baseline, "pr_auc") if baseline else {}
    for label, entry in mood["per_tag"].items():
        row = (
            f"| {label} | {mood['thresholds'][label]:.3f} | {entry['n_positive']}/{entry['n_positive'] + entry['n_negative']} "
            f"| {_format(entry['roc_auc'])} | {_format(entry['pr_auc'])} |"
        )
        if baseline:
            row += f" {_format(baseline_roc.get(label))} | {_format(baseline_pr.get(label))} |"
        lines.append(row)
    if mood["undefined_tags"]:
        lines += ["", f"Undefined (one class only in this split, not averaged): {', '.join(mood['undefined_tags'])}."]

    lines += ["", "## Genre confusion matrix (rows true, columns predicted)", ""]
    lines += ["| true \\ predicted | " + " | ".join(genre["labels"]) + " |", "|---|" + "---|" * len(genre["labels"])]
    for label, counts in zip(genre["labels"], genre["confusion_matrix"]):
        lines.append(f"| {label} | " + " | ".join(str(count) for count in counts) + " |")
    return "\n".join(lines) + "\n"


def _headline_of(report: dict) -> dict[str, float | None]:
    if "genre_accuracy" in report:  # cross-validation summary: fold means
        return {
            "genre accuracy": report["genre_accuracy"]["mean"],
            "mood macro ROC-AUC": report["mood_macro_roc_auc"]["mean"],
            "mood macro PR-AUC": report["mood_macro_pr_auc"]["mean"],
        }
    return {
        "genre accuracy": report["genre"]["accuracy"],
        "mood macro ROC-AUC": report["mood"]["macro_roc_auc"],
        "mood macro PR-AUC": report["mood"]["macro_pr_auc"],
    }


def write_report(report: dict, out_dir: Path, title: str, baseline: dict | None = None) -> list[Path]:
    """Write report.json, report.md and the PNG plots to `out_dir` and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "report.json", out_dir / "report.md"]
    written[0].write_text(json.dumps(report, indent=2) + "\n")
    written[1].write_text(report_to_markdown(report, title, baseline))

    labels = list(report["mood"]["per_tag"])
    for metric in ("roc_auc", "pr_auc"):
        series = {"model": [per_tag_series(report, metric)[label] for label in labels]}
        if baseline:
            baseline_values = per_tag_series(baseline, metric)
            series["baseline"] = [baseline_values.get(label) for label in labels]
        written.append(plot_tag_bars(labels, series, metric, out_dir / f"mood_{metric}.png", title=f"{title}: per-emotion"))
    genre = report["genre"]
    written.append(
        plot_confusion_matrix(genre["confusion_matrix"], genre["labels"], out_dir / "genre_confusion.png", f"{title}: genre")
    )
    return written


def evaluate_bundle(
    bundle_path: Path, overrides: Sequence[str], config_dir: Path = DEFAULT_CONFIG_DIR, allow_overlap: bool = False
) -> dict:
    """Evaluate the bundle on the held-out tracks of the composed data config and return the report."""
    from moodflow.tagger.bundle import load_bundle

    bundle = load_bundle(bundle_path)
    cfg = compose_train_config(overrides, config_dir)
    tracks = read_tracks(cfg.data, bundle.mood_labels, bundle.genre_labels)
    fold, n_folds = cfg.data.get("fold"), int(cfg.data.get("n_folds", 5))
    check_no_training_overlap(bundle.config.get("metadata", {}), cfg.data.get("name"), n_folds, fold, allow_overlap)
    train_rows, held_out_rows = fold_rows(tracks.groups, n_folds, fold, int(cfg.data.get("fold_seed", 0)))
    if fold is None:
        logger.warning("data.fold is null: evaluating all %d tracks with thresholds from the same tracks", len(tracks))
    logger.info("evaluating bundle %s on %d held-out tracks of fold %s", bundle.model_id, len(held_out_rows), fold)

    mood_scores, genre_probs = predict_with_bundle(bundle, [tracks.paths[row] for row in held_out_rows])
    report = build_report(
        mood_labels=bundle.mood_labels,
        mood_fractions=tracks.mood_targets[held_out_rows],
        mood_scores=mood_scores,
        thresholds=median_thresholds(tracks.mood_targets[train_rows]),
        genre_labels=bundle.genre_labels,
        genre_index=tracks.genre_index[held_out_rows],
        genre_probs=genre_probs,
    )
    report["model_id"] = bundle.model_id
    report["fold"] = fold
    report["threshold_source"] = "all evaluated tracks" if fold is None else f"training tracks of fold {fold}"
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moodflow evaluate",
        description=(
            "Evaluate a tagger bundle on the held-out tracks (data.fold) of a Hydra data config and write "
            "report.json, report.md and PNG plots. Example: moodflow evaluate models/emotify --out reports/fold0 "
            "data=emotify data.root=../shared/data/emotify data.fold=0"
        ),
    )
    parser.add_argument("bundle", type=Path, help="bundle folder written by train.py (models/<name>)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of configs/train.yaml choosing the data, e.g. data=emotify data.root=PATH data.fold=0")
    parser.add_argument("--out", type=Path, required=True, help="folder for report.json, report.md and the PNG plots")
    parser.add_argument("--baseline-report", type=Path, help="report JSON of the baseline (moodflow evaluate or moodflow cv) to plot beside the model")
    parser.add_argument("--config-dir", type=Path, default=DEFAULT_CONFIG_DIR, help="Hydra config folder (default: the repository's configs/)")
    parser.add_argument(
        "--allow-overlap", action="store_true",
        help="evaluate even when the bundle's recorded training fold shows it was trained on the evaluated tracks",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_intermixed_args(argv)
    configure_logging(args.verbose)
    baseline = load_baseline_report(args.baseline_report) if args.baseline_report else None
    report = evaluate_bundle(args.bundle, args.overrides, args.config_dir, args.allow_overlap)
    written = write_report(report, args.out, f"Bundle {report['model_id']}", baseline)
    print(report_to_markdown(report, f"Bundle {report['model_id']}", baseline))
    logger.info("wrote %s", ", ".join(str(path) for path in written))
    return 0
