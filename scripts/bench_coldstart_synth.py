r"""Cold-start evaluation of the audio projection on a generated corpus with rendered audio clips.

`moodflow.synth.generate_corpus` renders every track's clip from its hidden
factors (genre, valence, arousal) and draws the playlists from the same
factors, so each track's true place in the music space is known. Unlike
`bench_coldstart_audio.py`, whose tagger outputs are drawn directly from the
factors, the audio features here come from a tagger trained on the clips.

Protocol:
1. Generate the corpus (warm tracks only: clips, playlists, metadata with
   artist and valence/arousal, hidden factors).
2. Build the full space from every playlist. Hide a random fraction (default
   10%) of its warm tracks: remove them from every playlist and build the
   reduced space. A hidden track's true vector is its full-space vector
   rotated into the reduced space by the orthogonal Procrustes fit of
   `bench_coldstart_aotm.align`.
3. Train the tagger (`python train.py`, a short run) on the clips of the
   tracks that are not hidden, then tag every warm track with `moodflow tag`.
4. Train the cold-start MLP and ridge on the reduced space's warm tracks
   (audio, artist, valence/arousal, early usage from 1-3 playlists).
5. Score the hidden tracks per feature set with `bench_coldstart_aotm.evaluate`:
   mean cosine to the true vector, recall@50 of its 50 nearest neighbours,
   and the hit rate of held-out playlist partners. The baselines are a
   random unit vector, the popularity centroid, the artist mean where the
   artist applies, and the fold-in where usage applies.
6. Score a control and two references:
   - audio from the same network left untrained (seeded weights), trained
     and scored exactly like the "audio" row: what tagger training adds;
   - the MLP and ridge trained on every warm track's 6 hidden factors the
     clips are rendered from (genre, valence, arousal): about the most
     that audio can reveal;
   - the same on all 8 hidden factors, which add the artist style that
     only usage or the artist reveals.

Usage:
    nice -n 10 .venv/bin/python scripts/bench_coldstart_synth.py --out-json /tmp/coldstart_synth.json

To score another cold-start config without training the tagger again, keep
the work folder. Then run again with `--reuse` and the same corpus arguments:
    nice -n 10 .venv/bin/python scripts/bench_coldstart_synth.py --work-dir /tmp/synth-work --out-json a.json
    nice -n 10 .venv/bin/python scripts/bench_coldstart_synth.py --work-dir /tmp/synth-work --reuse \
        --set features.holdout_rounds=0 --out-json b.json
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from bench_coldstart_aotm import align, evaluate, hidden_features, print_markdown, throughput, unit
from omegaconf import OmegaConf

from moodflow.coldstart.assemble import warm_training_rows
from moodflow.coldstart.cli import load_config
from moodflow.coldstart.features import FeatureTable, descriptor_block
from moodflow.coldstart.train import train_from_rows
from moodflow.demo import REPO_ROOT, DemoRunner
from moodflow.hashing import content_hash
from moodflow.logs import configure_logging
from moodflow.space import SpaceConfig, build_space
from moodflow.synth import GENRES, generate_corpus
from moodflow.synth.corpus import AROUSAL_DIM, FACTOR_DIM, GENRE_DIMS, VALENCE_DIM
from moodflow.tagger.bundle import write_random_bundle
from moodflow.tagging import read_tags

logger = logging.getLogger("bench_coldstart_synth")

FACTOR_COLUMNS = [f"factor_{index}" for index in range(FACTOR_DIM)]
# The factors the clips are rendered from (genre, valence, arousal). The artist style dims are not audible.
AUDIBLE_COLUMNS = [FACTOR_COLUMNS[index] for index in (*range(FACTOR_DIM)[GENRE_DIMS], VALENCE_DIM, AROUSAL_DIM)]

# Feature set name -> (blocks the predictor may read, early-usage level).
FEATURE_SETS = {
    "audio": (["audio"], 1),
    "artist": (["artist"], 1),
    "valence/arousal": (["descriptors"], 1),
    "usage, 1 playlist": (["usage"], 1),
    "usage, 3 playlists": (["usage"], 3),
    "audio + 1 playlist": (["audio", "usage"], 1),
    "audio + artist + v/a": (["audio", "artist", "descriptors"], 1),
    "all (audio + artist + v/a + 1 playlist)": (["audio", "artist", "descriptors", "usage"], 1),
}
# Arguments that decide the tagger and its tags. `--reuse` compares them with the earlier run's.
TAGGER_INPUTS = ("tracks", "artists", "playlists", "clip_seconds", "epochs", "seed", "hide_fraction", "untrained_control")
# Names of the untrained-tagger control row and of the hidden-factor reference rows.
UNTRAINED_SET = "audio, untrained tagger (control)"
FACTOR_SET = "hidden factors, all 8 (reference)"
AUDIBLE_SET = "hidden factors, 6 audible (reference)"


def source_state() -> dict:
    """Return the git commit and a hash of the uncommitted cold-start changes, so a figure names the code behind it.

    The hash covers the cold-start package, its config and `bench_coldstart_aotm.py`, whose scoring this script uses.
    """
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False).stdout

    paths = ["src/moodflow/coldstart", "configs/coldstart.yaml", "scripts/bench_coldstart_aotm.py"]
    changed = git("status", "--porcelain", "--untracked-files=all", "--", *paths).splitlines()
    untracked = sorted(REPO_ROOT / line[3:] for line in changed if line.startswith("??"))
    diff_hash = content_hash([git("diff", "HEAD", "--", *paths), *untracked]) if changed else None
    return {"commit": git("rev-parse", "HEAD").strip(), "uncommitted_files": changed, "uncommitted_hash": diff_hash}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=3000, help="generated warm tracks (default 3000)")
    parser.add_argument("--artists", type=int, default=300, help="generated artists (default 300)")
    parser.add_argument("--playlists", type=int, default=9000, help="generated playlists of 5-15 tracks (default 9000)")
    parser.add_argument("--clip-seconds", type=float, default=4.0, help="clip length in seconds (default 4)")
    parser.add_argument("--epochs", type=int, default=10, help="tagger training epochs (default 10)")
    parser.add_argument("--dim", type=int, default=32, help="space dimension (default 32)")
    parser.add_argument("--hide-fraction", type=float, default=0.1, help="fraction of warm tracks to hide (default 0.1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the corpus, the hidden tracks and the training")
    parser.add_argument("--set", dest="overrides", nargs="*", default=[], help="cold-start config overrides KEY=VALUE")
    parser.add_argument("--work-dir", type=Path, help="folder for the corpus, tagger and tags (default: a temporary folder, deleted)")
    parser.add_argument("--no-untrained-control", dest="untrained_control", action="store_false",
                        help="skip the control that tags the clips with the same network untrained")
    parser.add_argument("--reuse", action="store_true",
                        help="read the tagger and tags of an earlier run in --work-dir when it had the same arguments")
    parser.add_argument("--in-process", action="store_true", help="run train.py and moodflow tag inside this process")
    parser.add_argument("--out-json", type=Path, help="write every figure to this JSON file")
    args = parser.parse_args(argv)
    if args.reuse and args.work_dir is None:
        parser.error("--reuse needs --work-dir, the folder of the earlier run")
    return args


def hide_tracks(playlists: pd.DataFrame, args: argparse.Namespace, rng: np.random.Generator, timings: dict):
    """Build the full and the reduced space and return them with the hidden ids and true vectors."""
    space_config = SpaceConfig(dim=args.dim, seed=args.seed)
    started = time.perf_counter()
    full = build_space(playlists[["playlist_id", "track_id", "position"]], space_config)
    timings["full_space_seconds"] = time.perf_counter() - started

    warm_ids = np.asarray(full.track_ids, dtype=str)
    hidden = rng.choice(warm_ids, size=int(round(args.hide_fraction * len(warm_ids))), replace=False)
    reduced_playlists = playlists[~playlists["track_id"].isin(set(hidden.tolist()))]
    started = time.perf_counter()
    reduced = build_space(reduced_playlists[["playlist_id", "track_id", "position"]], space_config)
    timings["reduced_space_seconds"] = time.perf_counter() - started
    logger.info("hid %d of %d warm tracks; reduced space has %d warm tracks", len(hidden), len(warm_ids), len(reduced.track_ids))

    rotation, alignment_cosine = align(full, reduced)
    true = unit(full.vectors[[full.row_of(track_id) for track_id in hidden]] @ rotation).astype(np.float32)
    return full, reduced, reduced_playlists, hidden, true, alignment_cosine


def train_and_tag(runner: DemoRunner, corpus, hidden: np.ndarray, work: Path, args: argparse.Namespace):
    """Train the tagger on the clips of the tracks not hidden and tag every warm clip.

    With `--reuse`, a tagger and tags that an earlier run wrote to the same
    work folder with the same `TAGGER_INPUTS` are read instead. Returns the
    tags, the tags of the untrained control (None with
    `--no-untrained-control`) and the trained bundle's metadata.
    """
    bundle = work / "models" / "synth-bench"
    untrained = work / "models" / "synth-bench-untrained"
    tags_dir, untrained_dir = work / "tags.parquet", work / "tags_untrained.parquet"
    stamp = work / "tagger_inputs.json"
    inputs = {name: getattr(args, name) for name in TAGGER_INPUTS}
    if args.reuse and stamp.exists() and json.loads(stamp.read_text()) == inputs:
        logger.info("reusing the tagger and the tags in %s, written with the same arguments %s", work, inputs)
    else:
        stamp.unlink(missing_ok=True)
        clips = pd.read_csv(corpus.clips_tracks_csv)
        _train_tagger(runner, corpus, clips[~clips["track_id"].isin(set(hidden.tolist()))], bundle, work, args)
        manifest = work / "tagging_manifest.csv"
        paths = [str((corpus.clips_dir / path).resolve()) for path in clips["path"]]
        pd.DataFrame({"track_id": clips["track_id"], "path": paths}).to_csv(manifest, index=False)
        _tag(runner, "tag warm tracks", manifest, bundle, tags_dir)
        if args.untrained_control:
            # Control: the same network, seeded but untrained, tags the same clips.
            described = json.loads((bundle / "bundle.json").read_text())
            write_random_bundle(
                untrained, described["mood_labels"], described["genre_labels"], seed=args.seed,
                chunk_seconds=described["chunk_seconds"], **described["architecture"],
            )
            _tag(runner, "tag with untrained tagger", manifest, untrained, untrained_dir)
        stamp.write_text(json.dumps(inputs))

    bundle_metadata = json.loads((bundle / "bundle.json").read_text()).get("metadata", {})
    untrained_tags = read_tags(untrained_dir) if args.untrained_control else None
    return read_tags(tags_dir), untrained_tags, bundle_metadata


def _train_tagger(runner: DemoRunner, corpus, clips: pd.DataFrame, bundle: Path, work: Path, args: argparse.Namespace) -> None:
    # The manifest's paths are relative to data.root, so the filtered copy stays in the clips folder.
    training_manifest = corpus.clips_dir / "tracks_not_hidden.csv"
    clips.to_csv(training_manifest, index=False)
    overrides = [
        "data=synthetic", f"data.root={corpus.clips_dir}", f"data.manifest={training_manifest}",
        f"paths.models_dir={bundle.parent}", f"bundle_name={bundle.name}", f"trainer.max_epochs={args.epochs}",
        f"seed={args.seed}",
        # The demo's fast settings: one crop per clip and 32 ms mel frames.
        "data.crops_per_track=1", "model.net.front_end.hop_length=512",
        f"hydra.run.dir={work / 'train'}", "trainer.enable_progress_bar=false",
    ]
    runner.run("train tagger", ["python", "train.py", *overrides], [sys.executable, str(REPO_ROOT / "train.py"), *overrides])


def _tag(runner: DemoRunner, name: str, manifest: Path, bundle: Path, tags_dir: Path) -> None:
    # --force: a folder left by an earlier run with another bundle is tagged again, not appended to.
    tag_args = ["tag", str(manifest), "--bundle", str(bundle), "--output", str(tags_dir), "--no-progress", "--force"]
    runner.run(name, ["moodflow", *tag_args], [sys.executable, "-m", "moodflow.cli", *tag_args])


def genre_accuracy(tags: pd.DataFrame, metadata: pd.DataFrame, track_ids: np.ndarray) -> float:
    """Return the share of `track_ids` whose most probable tagged genre is their generated genre."""
    columns = [f"genre_{genre}" for genre in GENRES]
    indexed = tags.set_index("track_id")
    predicted = indexed.loc[track_ids, columns].to_numpy().argmax(axis=1)
    expected = metadata.set_index("track_id").loc[track_ids, "genre"].map(GENRES.index).to_numpy()
    return float(np.mean(predicted == expected))


def train_and_score(reduced, config, tags, data: dict, hidden, true, seed: int, feature_sets: dict):
    """Train the MLP and ridge on the warm tracks and score `feature_sets` on the hidden ones.

    `data` contains the `playlists`, the `reduced_playlists` without the
    hidden tracks, the `metadata` and the `kept_metadata` of the tracks not
    hidden. Each call shuffles the hidden tracks' playlists with the same
    seed, so two calls score the same early usage and the same partners.
    Returns the models, the number of training rows, the hidden feature
    tables by usage level, the partner rows and the scores.
    """
    hidden_set = set(hidden.tolist())
    warm_tags = tags[~tags["track_id"].isin(hidden_set)]
    rows = warm_training_rows(reduced, config, warm_tags, data["kept_metadata"], data["reduced_playlists"])
    models = train_from_rows(rows, reduced, config)
    tables, partner_rows = hidden_features(
        reduced, models["mlp"].layout, config, hidden, data["playlists"], data["metadata"], data["kept_metadata"],
        np.random.default_rng([seed, 1]), tags=tags,
    )
    results = evaluate(models, reduced, tables, true, partner_rows, seed, feature_sets)
    return models, len(rows.table), tables, partner_rows, results


def factor_scores(reduced, config, name: str, factors: pd.DataFrame, columns, hidden, true, partner_rows, seed: int) -> dict:
    """Train the MLP and ridge on hidden factor `columns` alone, on every warm track, and score them."""
    factor_config = OmegaConf.merge(config, {"features": {"descriptor_columns": list(columns)}})
    warm = factors[~factors["track_id"].isin(set(hidden.tolist()))]
    models = train_from_rows(warm_training_rows(reduced, factor_config, None, warm, None), reduced, factor_config)
    hidden_table = FeatureTable(hidden, {"descriptors": descriptor_block(hidden, factors, columns)})
    return evaluate(models, reduced, {1: hidden_table}, true, partner_rows, seed, {name: (["descriptors"], 1)})


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging()
    config = load_config(None, args.overrides)
    source = source_state()  # at start-up, right after the cold-start code was imported
    rng = np.random.default_rng(args.seed)
    temporary = None if args.work_dir else tempfile.TemporaryDirectory(prefix="bench_coldstart_synth_")
    work = (args.work_dir or Path(temporary.name)).resolve()
    runner = DemoRunner(work, quiet=True, in_process=args.in_process)
    timings: dict[str, float | None] = {}

    started = time.perf_counter()
    corpus = generate_corpus(
        work / "data", n_tracks=args.tracks, n_artists=args.artists, n_playlists=args.playlists,
        n_users=0, n_new_releases=0, clip_seconds=args.clip_seconds, seed=args.seed,
    )
    timings["generate_corpus_seconds"] = time.perf_counter() - started
    playlists = pd.read_csv(corpus.playlists_csv).sort_values(["playlist_id", "position"], kind="stable")
    metadata = pd.read_csv(corpus.track_metadata_csv)[["track_id", "artist", "genre", "valence", "arousal", "factor_row"]]
    factor_values = np.load(corpus.hidden_factors_npy)[metadata["factor_row"].to_numpy()]
    factors = pd.DataFrame(factor_values, columns=FACTOR_COLUMNS).assign(track_id=metadata["track_id"].to_numpy())

    full, reduced, reduced_playlists, hidden, true, alignment_cosine = hide_tracks(playlists, args, rng, timings)

    tags, untrained_tags, bundle_metadata = train_and_tag(runner, corpus, hidden, work, args)
    step_seconds = {step.name: step.seconds for step in runner.result.timings}
    timings["tagger_training_seconds"] = step_seconds.get("train tagger")
    timings["tagging_seconds"] = step_seconds.get("tag warm tracks")
    timings["untrained_tagging_seconds"] = step_seconds.get("tag with untrained tagger")
    data = {
        "playlists": playlists, "reduced_playlists": reduced_playlists, "metadata": metadata,
        "kept_metadata": metadata[~metadata["track_id"].isin(set(hidden.tolist()))],
    }

    started = time.perf_counter()
    models, training_rows, tables, partner_rows, results = train_and_score(
        reduced, config, tags, data, hidden, true, args.seed, FEATURE_SETS
    )
    timings["coldstart_train_and_score_seconds"] = time.perf_counter() - started
    if untrained_tags is not None:
        # The control goes through the same training and scoring as the "audio" row.
        results.update(train_and_score(
            reduced, config, untrained_tags, data, hidden, true, args.seed, {UNTRAINED_SET: (["audio"], 1)}
        )[-1])
    for name, columns in ((AUDIBLE_SET, AUDIBLE_COLUMNS), (FACTOR_SET, FACTOR_COLUMNS)):
        results.update(factor_scores(reduced, config, name, factors, columns, hidden, true, partner_rows, args.seed))

    summary = {
        "tracks": args.tracks, "artists": args.artists, "playlists": args.playlists,
        "clip_seconds": args.clip_seconds, "space_dim": args.dim,
        "full_warm": len(full.track_ids), "reduced_warm": len(reduced.track_ids), "hidden_tracks": len(hidden),
        "alignment_cosine": alignment_cosine,
        "tagger_epochs": bundle_metadata.get("epochs"), "tagger_validation_score": bundle_metadata.get("metric"),
        "tagger_genre_accuracy_hidden": genre_accuracy(tags, metadata, hidden),
        "training_rows": training_rows,
        "mlp_epochs": models["mlp"].summary["epochs"], "mlp_train_seconds": models["mlp"].summary["train_seconds"],
        "ridge_train_seconds": models["ridge"].summary["train_seconds"],
        **timings,
        "mlp_predict_tracks_per_second": throughput(models["mlp"], tables[1]),
        "ridge_predict_tracks_per_second": throughput(models["ridge"], tables[1]),
        "coldstart_config": OmegaConf.to_container(config, resolve=True),
        "source": source,
    }
    print(json.dumps(summary, indent=2))
    print_markdown(results)
    if args.out_json:
        args.out_json.write_text(json.dumps({"summary": summary, "results": results}, indent=2))
    if temporary is not None:
        temporary.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
