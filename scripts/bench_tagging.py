"""Benchmark `moodflow tag` against a plain librosa loop, and check resume, Ray and memory.

Usage (each step can be skipped; results go to --json and stdout):

    nice -n 10 .venv/bin/python scripts/bench_tagging.py \\
        --input /tmp/releases/usr/share/games/wesnoth/1.16/data/core/music \\
        --bundle models/emotify --workdir /tmp/bench-tagging --json /tmp/bench-tagging/results.json

    .venv/bin/python scripts/bench_tagging.py top-moods OUTPUT_FOLDER   # mood table in Markdown

Steps:
- `plain`: the loop a user would write: `librosa.load(path, sr=bundle.sample_rate)`
  then `bundle.predict_track(waveform)`, one file after the other, torch's default threads;
- `job`: `run_tagging` with the default config into a fresh folder (the reference output);
- `breakdown`: one process, one thread, every file: decode at the native rate
  (libsndfile), downmix plus soxr resampling, log-mel front end, and the CNN
  (eager and traced-frozen) on the file's chunks;
- `memory`: `moodflow tag` on the longest track alone, peak resident memory of
  the whole process tree sampled every 20 ms, against `librosa.load` of the same file;
- `resume`: `moodflow tag` killed with SIGKILL after 3 committed parts, rerun,
  compared with the reference output;
- `ray`: the Ray engine on a local 2-CPU Ray, compared with the reference output.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

STEPS = ("plain", "job", "breakdown", "memory", "resume", "ray")
FLOAT_PREFIXES = ("mood_", "genre_")


def audio_files(folder: Path) -> list[Path]:
    from moodflow.tagging.inputs import discover_folder

    return [Path(track.path) for track in discover_folder(folder)]


def bench_plain(files: list[Path], bundle_path: str) -> dict:
    import librosa
    import torch

    from moodflow.tagger.bundle import load_bundle

    bundle = load_bundle(bundle_path)
    started = time.perf_counter()
    audio_s = 0.0
    for path in files:
        waveform, _ = librosa.load(path, sr=bundle.sample_rate, mono=True)
        bundle.predict_track(waveform)
        audio_s += waveform.size / bundle.sample_rate
    wall_s = time.perf_counter() - started
    return {"wall_s": wall_s, "audio_s": audio_s, "x_realtime": audio_s / wall_s, "torch_threads": torch.get_num_threads()}


def bench_job(folder: Path, bundle_path: str, output: Path) -> dict:
    import shutil

    from moodflow.tagging.config import inference_threads, load_config
    from moodflow.tagging.job import run_tagging

    shutil.rmtree(output, ignore_errors=True)
    config = load_config()
    summary = run_tagging(str(folder), bundle_path, str(output), config, use_progress_bar=False)
    return {
        "wall_s": summary.wall_s,
        "audio_s": summary.audio_s,
        "x_realtime": summary.throughput,
        "tagged": summary.tagged,
        "failed": summary.failed,
        "workers": config.workers,
        "torch_threads": inference_threads(config),
        "batch_size": config.batch_size,
    }


def bench_breakdown(files: list[Path], bundle_path: str) -> dict:
    import soundfile as sf
    import soxr
    import torch

    from moodflow.audio.loading import RESAMPLE_QUALITY
    from moodflow.tagger.bundle import load_bundle
    from moodflow.tagging.assembly import ChunkPredictor

    torch.set_num_threads(1)
    bundle = load_bundle(bundle_path)
    eager_model = load_bundle(bundle_path).model
    frozen = ChunkPredictor(bundle, batch_size=64, optimize=True).network
    stages = ("decode", "resample", "mel", "cnn_eager", "frozen_mel_and_cnn")
    # CPU seconds (time.process_time) resist the machine's load better than wall time.
    cpu_s = dict.fromkeys(stages, 0.0)
    wall_s = dict.fromkeys(stages, 0.0)
    audio_s = 0.0

    def timed(stage, function, *arguments):
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        result = function(*arguments)
        cpu_s[stage] += time.process_time() - cpu_start
        wall_s[stage] += time.perf_counter() - wall_start
        return result

    for path in files:
        frames, native_rate = timed("decode", lambda: sf.read(path, dtype="float32", always_2d=True))
        waveform = timed(
            "resample",
            lambda: soxr.resample(frames.mean(axis=1), native_rate, bundle.sample_rate, quality=RESAMPLE_QUALITY),
        ).astype(np.float32)
        audio_s += waveform.size / bundle.sample_rate
        if np.abs(waveform).max() == 0:
            continue

        chunks = torch.from_numpy(bundle.split_into_chunks(waveform))
        with torch.inference_mode():
            for start in range(0, chunks.shape[0], 64):
                batch = chunks[start : start + 64]
                log_mel = timed("mel", eager_model.front_end, batch)
                timed("cnn_eager", lambda: eager_model.genre_head(eager_model.backbone(log_mel)))
                timed("frozen_mel_and_cnn", frozen, batch)
    return {
        "audio_s": audio_s,
        "cpu_s": cpu_s,
        "wall_s": wall_s,
        "cpu_s_per_audio_hour": {name: value / audio_s * 3600 for name, value in cpu_s.items()},
    }


def _tree_rss_bytes(root_pid: int) -> int:
    """Sum the resident memory of `root_pid` and all its descendants, read from /proc."""
    children: dict[int, list[int]] = {}
    rss_pages: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/statm") as handle:
                rss_pages[int(entry)] = int(handle.read().split()[1])
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss_pages.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total * os.sysconf("SC_PAGE_SIZE")


def _run_sampled(command: list[str]) -> tuple[int, float, float]:
    """Run `command`, return (exit status, wall seconds, peak process-tree RSS in MiB)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss_bytes(process.pid))
        time.sleep(0.02)
    return process.returncode, time.perf_counter() - started, peak / 2**20


def bench_memory(files: list[Path], bundle_path: str, workdir: Path) -> dict:
    import shutil

    import soundfile as sf

    by_duration = sorted(files, key=lambda path: sf.info(path).duration)
    peaks = {}
    for label, path in (("shortest", by_duration[0]), ("longest", by_duration[-1])):
        manifest = workdir / f"{label}.csv"
        manifest.write_text(f"track_id,path\n{path.stem},{path}\n")
        output = workdir / f"memory-{label}.parquet"
        shutil.rmtree(output, ignore_errors=True)
        peaks[label] = _run_sampled(
            [sys.executable, "-m", "moodflow.cli", "tag", str(manifest), "--bundle", bundle_path, "--output", str(output), "--no-progress"]
        )
    longest = by_duration[-1]
    job_status, job_wall, job_peak = peaks["longest"]
    librosa_status, _, librosa_peak = _run_sampled(
        [sys.executable, "-c", f"import librosa; librosa.load({str(longest)!r}, sr=16000, mono=True)"]
    )
    baseline_status, _, python_peak = _run_sampled([sys.executable, "-c", "import librosa, torch"])
    return {
        "track": longest.name,
        "duration_s": sf.info(longest).duration,
        "job_peak_tree_rss_mib": job_peak,
        "shortest_track": by_duration[0].name,
        "shortest_duration_s": sf.info(by_duration[0]).duration,
        "job_peak_tree_rss_mib_shortest": peaks["shortest"][2],
        "job_status": job_status,
        "job_wall_s": job_wall,
        "librosa_load_peak_rss_mib": librosa_peak,
        "import_librosa_torch_rss_mib": python_peak,
        "statuses_ok": job_status == 0 and librosa_status == 0 and baseline_status == 0,
    }


def compare_outputs(left: Path, right: Path) -> dict:
    from moodflow.tagging import read_errors, read_tags

    a = read_tags(left).sort_values("track_id").reset_index(drop=True)
    b = read_tags(right).sort_values("track_id").reset_index(drop=True)
    same_ids = a["track_id"].tolist() == b["track_id"].tolist()
    columns = [column for column in a.columns if column.startswith(FLOAT_PREFIXES)]
    max_diff = None
    if same_ids:
        max_diff = float(max(
            np.abs(a[columns].to_numpy() - b[columns].to_numpy()).max(),
            np.abs(np.stack(a["embedding"]) - np.stack(b["embedding"])).max(),
        ))
    return {
        "rows": [len(a), len(b)],
        "duplicates": int(b["track_id"].duplicated().sum()),
        "same_track_ids": same_ids,
        "max_abs_diff": max_diff,
        "errors": [len(read_errors(left)), len(read_errors(right))],
    }


def bench_resume(folder: Path, bundle_path: str, workdir: Path, reference: Path) -> dict:
    import shutil

    from moodflow.tagging.store import committed_part_names

    output = workdir / "resume.parquet"
    shutil.rmtree(output, ignore_errors=True)
    command = [sys.executable, "-m", "moodflow.cli", "tag", str(folder), "--bundle", bundle_path,
               "--output", str(output), "--no-progress", "--part-size", "4"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while len(committed_part_names(output)) < 3 and process.poll() is None:
        time.sleep(0.05)
    still_running = process.poll() is None
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    parts_at_kill = committed_part_names(output)
    leftovers = sorted(path.name for path in output.rglob(".*.tmp"))

    started = time.perf_counter()
    rerun = subprocess.run(command, capture_output=True, text=True)
    return {
        "killed_while_running": still_running,
        "parts_at_kill": len(parts_at_kill),
        "temporary_files_at_kill": leftovers,
        "rerun_status": rerun.returncode,
        "rerun_wall_s": time.perf_counter() - started,
        "rerun_summary": rerun.stderr.strip().splitlines()[-1] if rerun.stderr else "",
        "comparison_with_uninterrupted": compare_outputs(reference, output),
    }


def bench_ray(folder: Path, bundle_path: str, workdir: Path, reference: Path) -> dict:
    import shutil

    from moodflow.tagging.config import load_config
    from moodflow.tagging.job import run_tagging

    output = workdir / "ray.parquet"
    shutil.rmtree(output, ignore_errors=True)
    config = load_config(dotlist=["engine=ray", "ray.num_cpus=2"])
    summary = run_tagging(str(folder), bundle_path, str(output), config, use_progress_bar=False)
    return {
        "wall_s_including_ray_start": summary.wall_s,
        "x_realtime": summary.throughput,
        "tagged": summary.tagged,
        "failed": summary.failed,
        "comparison_with_local": compare_outputs(reference, output),
    }


def top_moods(output: str, n_top: int = 3) -> None:
    """Print a Markdown table per track: the `n_top` moods, the mood most above the average track, the top genre.

    The second column subtracts each mood's mean over all tagged tracks, so it
    shows what sets a track apart even when every track shares the same top moods.
    """
    from moodflow.tagging import read_errors, read_tags

    tags = read_tags(output).sort_values("track_id")
    moods = [column for column in tags.columns if column.startswith("mood_")]
    genres = [column for column in tags.columns if column.startswith("genre_")]
    mood_means = tags[moods].mean()
    print("| track | duration | top moods (probability) | most above average | top genre |")
    print("|---|---|---|---|---|")
    for row in tags.itertuples(index=False):
        values = {column: getattr(row, column) for column in moods}
        best = sorted(values, key=values.get, reverse=True)[:n_top]
        mood_text = ", ".join(f"{name[5:]} {values[name]:.2f}" for name in best)
        distinct = max(moods, key=lambda column: values[column] - mood_means[column])
        distinct_text = f"{distinct[5:]} {values[distinct] - mood_means[distinct]:+.2f}"
        genre = max(genres, key=lambda column: getattr(row, column))
        minutes, seconds = divmod(round(row.duration_s), 60)
        print(
            f"| {row.track_id} | {minutes}:{seconds:02d} | {mood_text} | {distinct_text} "
            f"| {genre[6:]} {getattr(row, genre):.2f} |"
        )
    for row in read_errors(output).itertuples(index=False):
        print(f"| {row.track_id} | - | not tagged: {row.error_class} | - | - |")


def main() -> None:
    if len(sys.argv) >= 2 and sys.argv[1] == "top-moods":
        top_moods(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, required=True, help="folder of audio files")
    parser.add_argument("--bundle", required=True, help="model bundle folder")
    parser.add_argument("--workdir", type=Path, required=True, help="scratch folder for outputs (outside the repo)")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated subset of {','.join(STEPS)}")
    args = parser.parse_args()

    from moodflow.logs import configure_logging

    configure_logging()
    args.workdir.mkdir(parents=True, exist_ok=True)
    steps = args.steps.split(",")
    files = audio_files(args.input)
    reference = args.workdir / "job.parquet"
    results: dict = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, shared with other jobs",
        "load_average_at_start": os.getloadavg(),
        "files": len(files),
    }

    def record(name: str, value: dict) -> None:
        results[name] = value
        print(json.dumps({name: value}, indent=1), flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1) + "\n")

    if "plain" in steps:
        record("plain", bench_plain(files, args.bundle))
    if "job" in steps:
        record("job", bench_job(args.input, args.bundle, reference))
        if "plain" in results:
            results["job_vs_plain_wall_ratio"] = results["plain"]["wall_s"] / results["job"]["wall_s"]
    if "breakdown" in steps:
        record("breakdown", bench_breakdown(files, args.bundle))
    if "memory" in steps:
        record("memory", bench_memory(files, args.bundle, args.workdir))
    if "resume" in steps:
        record("resume", bench_resume(args.input, args.bundle, args.workdir, reference))
    if "ray" in steps:
        record("ray", bench_ray(args.input, args.bundle, args.workdir, reference))
    results["load_average_at_end"] = os.getloadavg()
    record("end", {"load_average": os.getloadavg()})


if __name__ == "__main__":
    main()
