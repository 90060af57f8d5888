"""Compare tagger design choices under artist-grouped k-fold CV on Emotify.

The script decodes every track once to 16 kHz mono (cached as one .npz),
computes the log-mel spectrogram once with the bundle's front end, and trains
the backbone and heads of `moodflow.tagger.network` on random crops of the
cached spectrograms. That is the same network as `python train.py` trains,
minus Lightning, so many variants fit in the CPU budget. Each track is scored
by averaging chunk predictions over the whole clip (the bundle's rule) or over
overlapping views.

Example:
    nice -n 10 python scripts/tagger_design_sweep.py --root ../shared/data/emotify \
        --cache /tmp/emotify16k.npz --name base --epochs 20 --out sweep.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.model_selection import GroupKFold

from moodflow.logs import configure_logging
from moodflow.tagger.frontend import LogMelFrontEnd
from moodflow.tagger.metrics import build_report, median_thresholds, summarize_folds
from moodflow.tagger.network import build_tagger_net

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
EMOTIONS = ["amazement", "solemnity", "tenderness", "nostalgia", "calmness", "power",
            "joyful_activation", "tension", "sadness"]
FRONT_END = {"sample_rate": SAMPLE_RATE, "n_fft": 512, "hop_length": 256, "n_mels": 96,
             "f_min": 0.0, "f_max": 8000.0, "log_floor": 1e-6}


def load_audio_cache(root: Path, cache: Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Return the track table, a `[n_tracks, max_samples]` float32 audio matrix and the lengths."""
    tracks = pd.read_csv(root / "tracks.csv")
    if not cache.exists():
        import librosa

        started = time.perf_counter()
        waves = [librosa.load(root / path, sr=SAMPLE_RATE, mono=True)[0] for path in tracks.path]
        lengths = np.array([len(wave) for wave in waves])
        audio = np.zeros((len(waves), lengths.max()), np.float32)
        for index, wave in enumerate(waves):
            audio[index, : len(wave)] = wave
        np.savez(cache, audio=audio, lengths=lengths, track_id=tracks.track_id.values)
        logger.info("decoded %d tracks in %.1f s", len(waves), time.perf_counter() - started)
    stored = np.load(cache, allow_pickle=True)
    if list(stored["track_id"]) != list(tracks.track_id):
        raise SystemExit(f"cache {cache} does not match {root / 'tracks.csv'}; delete it")
    return tracks, stored["audio"], stored["lengths"]


def artist_folds(tracks: pd.DataFrame, n_folds: int) -> list[np.ndarray]:
    """Return the held-out row indices of each artist-grouped fold."""
    splitter = GroupKFold(n_splits=n_folds)
    return [test for _, test in splitter.split(tracks, groups=tracks.artist)]


def track_views(n_frames: int, view_frames: int, hop_frames: int) -> list[int]:
    """Return start frames of evaluation views covering `n_frames`."""
    if n_frames <= view_frames:
        return [0]
    starts = list(range(0, n_frames - view_frames + 1, hop_frames))
    if starts[-1] + view_frames < n_frames:
        starts.append(n_frames - view_frames)
    return starts


def run_fold(args, mels, frame_counts, moods, genres, train_rows, test_rows, seed):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    spec = {"freq_mask_bands": args.freq_mask, "time_mask_frames": args.time_mask, "n_masks": args.n_masks}
    net = build_tagger_net(len(EMOTIONS), 4, front_end=FRONT_END,
                           backbone={"channels": args.channels, "embedding_dim": args.embedding_dim,
                                     "dropout": args.dropout},
                           spec_augment=spec)
    optimizer = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = int(np.ceil(len(train_rows) * args.crops_per_track / args.batch_size))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=steps_per_epoch * args.epochs)
    crop = args.chunk_frames
    mood_targets = torch.from_numpy(moods.astype(np.float32))
    genre_targets = torch.from_numpy(genres.copy())

    for epoch in range(args.epochs):
        net.train()
        order = np.repeat(train_rows, args.crops_per_track)
        rng.shuffle(order)
        for start in range(0, len(order), args.batch_size):
            rows = order[start : start + args.batch_size]
            offsets = [rng.integers(0, max(1, frame_counts[row] - crop + 1)) for row in rows]
            batch = torch.stack([mels[row, :, :, offset : offset + crop] for row, offset in zip(rows, offsets)])
            if args.gain_db > 0:
                # A gain of g dB adds g/10 to log10 power.
                batch = batch + torch.from_numpy(rng.uniform(-args.gain_db, args.gain_db, (len(rows), 1, 1, 1)).astype(np.float32)) / 10
            mood_batch = mood_targets[rows]
            genre_batch = F.one_hot(genre_targets[rows], 4).float()
            if args.mixup > 0:
                lam = torch.from_numpy(rng.beta(args.mixup, args.mixup, (len(rows), 1)).astype(np.float32))
                perm = torch.randperm(len(rows))
                # Mix in the power domain, as mixing waveforms would.
                power = 10 ** batch
                batch = torch.log10(lam[:, :, None, None] * power + (1 - lam[:, :, None, None]) * power[perm] + 1e-6)
                mood_batch = lam * mood_batch + (1 - lam) * mood_batch[perm]
                genre_batch = lam * genre_batch + (1 - lam) * genre_batch[perm]
            features = net.spec_augment(batch)
            embedding = net.backbone(features)
            dropped = net.backbone.dropout(embedding)
            loss = (args.mood_weight * F.binary_cross_entropy_with_logits(net.mood_head(dropped), mood_batch)
                    + args.genre_weight * F.cross_entropy(net.genre_head(dropped), genre_batch))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()

    net.eval()
    view_hop = max(1, int(crop * args.view_hop))
    mood_scores, genre_probs, embeddings = [], [], []
    with torch.inference_mode():
        for row in test_rows:
            starts = track_views(frame_counts[row], crop, view_hop)
            views = torch.stack([mels[row, :, :, s : s + crop] for s in starts])
            embedding = net.backbone(views)
            mood_scores.append(torch.sigmoid(net.mood_head(embedding)).mean(0).numpy())
            genre_probs.append(torch.softmax(net.genre_head(embedding), 1).mean(0).numpy())
    return np.array(mood_scores), np.array(genre_probs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="Emotify folder with tracks.csv")
    parser.add_argument("--cache", type=Path, required=True, help=".npz of decoded 16 kHz audio (written if missing)")
    parser.add_argument("--out", type=Path, required=True, help="JSON-lines file; one summary line is appended")
    parser.add_argument("--name", required=True, help="label of this variant in the output")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--only-folds", type=int, nargs="*", help="run only these fold numbers")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one model per seed; >1 seed is an ensemble")
    parser.add_argument("--chunk-seconds", type=float, default=3.0)
    parser.add_argument("--view-hop", type=float, default=1.0, help="evaluation view hop as a fraction of a chunk")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--crops-per-track", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-2)
    parser.add_argument("--channels", type=int, nargs="+", default=[32, 64, 64, 128, 128])
    parser.add_argument("--embedding-dim", type=int, default=128)
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--freq-mask", type=int, default=0, help="max mel bands per frequency mask")
    parser.add_argument("--time-mask", type=int, default=0, help="max frames per time mask")
    parser.add_argument("--n-masks", type=int, default=1)
    parser.add_argument("--gain-db", type=float, default=0.0, help="random gain in +-dB")
    parser.add_argument("--mixup", type=float, default=0.0, help="mixup Beta(alpha, alpha); 0 turns it off")
    parser.add_argument("--mood-weight", type=float, default=1.0)
    parser.add_argument("--genre-weight", type=float, default=1.0)
    parser.add_argument("--save-scores", type=Path, help="write per-track out-of-fold scores to this .npz")
    args = parser.parse_args()
    configure_logging()
    torch.set_num_threads(2)

    tracks, audio, lengths = load_audio_cache(args.root, args.cache)
    started = time.perf_counter()
    front_end = LogMelFrontEnd(**FRONT_END)
    with torch.inference_mode():
        mels = torch.cat([front_end(torch.from_numpy(audio[i : i + 50])) for i in range(0, len(audio), 50)])
    frame_counts = lengths // FRONT_END["hop_length"] + 1
    args.chunk_frames = int(round(args.chunk_seconds * SAMPLE_RATE / FRONT_END["hop_length"])) + 1
    logger.info("log-mels %s in %.1f s", tuple(mels.shape), time.perf_counter() - started)

    moods = tracks[EMOTIONS].to_numpy(np.float32)
    genre_labels = sorted(tracks.genre.unique())
    genres = tracks.genre.map({g: i for i, g in enumerate(genre_labels)}).to_numpy(np.int64)
    folds = artist_folds(tracks, args.folds)
    oof_moods = np.zeros_like(moods)
    oof_genres = np.zeros((len(tracks), 4), np.float32)
    reports, fold_seconds = [], []
    for fold, test_rows in enumerate(folds):
        if args.only_folds and fold not in args.only_folds:
            continue
        train_rows = np.setdiff1d(np.arange(len(tracks)), test_rows)
        fold_started = time.perf_counter()
        outputs = [run_fold(args, mels, frame_counts, moods, genres, train_rows, test_rows, seed) for seed in args.seeds]
        mood_scores = np.mean([o[0] for o in outputs], axis=0)
        genre_probs = np.mean([o[1] for o in outputs], axis=0)
        oof_moods[test_rows], oof_genres[test_rows] = mood_scores, genre_probs
        fold_seconds.append(time.perf_counter() - fold_started)
        report = build_report(mood_labels=EMOTIONS, mood_fractions=moods[test_rows], mood_scores=mood_scores,
                              thresholds=median_thresholds(moods[train_rows]), genre_labels=genre_labels,
                              genre_index=genres[test_rows], genre_probs=genre_probs)
        reports.append(report)
        logger.info("%s fold %d: genre acc %.3f, mood macro ROC-AUC %.3f, %.0f s", args.name, fold,
                    report["genre"]["accuracy"], report["mood"]["macro_roc_auc"], fold_seconds[-1])
    summary = summarize_folds(reports)
    line = {
        "name": args.name,
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "genre_accuracy": summary["genre_accuracy"]["mean"],
        "mood_macro_roc_auc": summary["mood_macro_roc_auc"]["mean"],
        "mood_macro_pr_auc": summary["mood_macro_pr_auc"]["mean"],
        "summary": summary,
        "fold_seconds": fold_seconds,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    with args.out.open("a") as handle:
        handle.write(json.dumps(line) + "\n")
    if args.save_scores:
        np.savez(args.save_scores, mood_scores=oof_moods, genre_probs=oof_genres, track_id=tracks.track_id.values)
    logger.info("%s: genre acc %.3f, mood ROC-AUC %.3f, PR-AUC %.3f, total %.0f s", args.name,
                line["genre_accuracy"], line["mood_macro_roc_auc"], line["mood_macro_pr_auc"], sum(fold_seconds))


if __name__ == "__main__":
    main()
