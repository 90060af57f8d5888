"""`moodflow demo`: the whole pipeline end to end on a generated corpus.

Every stage runs as the same command a user would type (printed before it
runs), in a fresh Python process, so the demo exercises the real entry points:

    generate data -> python train.py -> moodflow evaluate -> moodflow tag
    -> moodflow space -> moodflow coldstart train/project -> moodflow index
    -> moodflow flow moods -> moodflow flow page (plain and mood-steered)

The corpus is synthetic (see `moodflow.synth`): clips whose mood and genre are
audible by construction, playlists and listening histories that follow the
same hidden tastes, and a few new releases with audio but no usage. All
artifacts and pictures land in one output folder whose path is printed.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from moodflow.errors import MoodflowError
from moodflow.logs import configure_logging

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]


class DemoStepError(MoodflowError):
    """A stage of the demo exited with a non-zero status."""


@dataclass(frozen=True)
class DemoSize:
    """Corpus and training sizes of one demo preset."""

    n_tracks: int
    n_artists: int
    n_playlists: int
    n_users: int
    n_new_releases: int
    clip_seconds: float
    max_epochs: int
    space_dim: int
    page_size: int
    # Flow Mood mode of the demo's mood page: a one-epoch tagger scores every
    # track near 0.5, so the tiny size re-ranks instead of filtering.
    mood_mode: str = "filter"
    # 2-D projection of the music map: "auto" (UMAP when installed) or "pca".
    map_method: str = "auto"


# "default" is what `make demo` runs; "tiny" is the end-to-end test's size.
SIZES: dict[str, DemoSize] = {
    "default": DemoSize(
        n_tracks=320, n_artists=64, n_playlists=600, n_users=40, n_new_releases=8,
        clip_seconds=4.0, max_epochs=8, space_dim=32, page_size=12,
    ),
    "tiny": DemoSize(
        n_tracks=48, n_artists=12, n_playlists=120, n_users=6, n_new_releases=4,
        clip_seconds=4.0, max_epochs=1, space_dim=8, page_size=6, mood_mode="rerank", map_method="pca",
    ),
}


@dataclass
class StepTiming:
    name: str
    command: str
    seconds: float


@dataclass
class DemoResult:
    """Timings and pictures of one demo run."""

    out_dir: Path
    timings: list[StepTiming] = field(default_factory=list)
    pictures: list[Path] = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        return sum(step.seconds for step in self.timings)


class DemoRunner:
    """Runs the demo's commands one after the other, timing and printing each."""

    def __init__(self, out_dir: Path, quiet: bool, in_process: bool = False) -> None:
        self.result = DemoResult(out_dir=out_dir)
        self.quiet = quiet
        self.in_process = in_process
        self.log_dir = out_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def run(self, name: str, display: list[str], argv: list[str], always_show: bool = False) -> None:
        """Run `argv` (shown to the user as `display`) and raise `DemoStepError` on failure.

        With `quiet`, output goes to a log file unless `always_show` is set
        (the Flow pages, which are the demo's result).
        """
        quiet = self.quiet and not always_show
        shown = shlex.join(display)  # the command as the user would type it
        print(f"\n==> [{len(self.result.timings) + 1}] {name}\n    $ {shown}", flush=True)
        log_path = self.log_dir / f"{len(self.result.timings) + 1:02d}-{name.replace(' ', '-')}.log"
        started = time.perf_counter()
        if self.in_process:
            status = _run_in_process(argv)
        else:
            env = {**os.environ, "MOODFLOW_ROOT": str(REPO_ROOT)}
            with open(log_path, "w", encoding="utf-8") as log_file:
                status = subprocess.run(
                    argv,
                    cwd=REPO_ROOT,
                    env=env,
                    stdout=log_file if quiet else None,
                    stderr=subprocess.STDOUT if quiet else None,
                    check=False,
                ).returncode
        seconds = time.perf_counter() - started
        self.result.timings.append(StepTiming(name=name, command=shown, seconds=seconds))
        if status != 0:
            where = f"; its output is in {log_path}" if quiet and not self.in_process else ""
            raise DemoStepError(f"demo step {name!r} failed with exit status {status}: {shown}{where}")
        print(f"    done in {seconds:.1f} s", flush=True)


def _run_in_process(argv: list[str]) -> int:
    """Run a demo command inside this process (the test suite's mode: no interpreter start-ups).

    `argv` is a subprocess command line built by `_moodflow` or `_python_script`.
    """
    import runpy

    if argv[1:3] == ["-m", "moodflow.cli"]:
        from moodflow import cli

        return cli.main(argv[3:])
    script, args = argv[1], argv[2:]
    saved_argv = sys.argv
    sys.argv = [script, *args]
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exit_request:
        return int(exit_request.code or 0)
    finally:
        sys.argv = saved_argv
    return 0


def _moodflow(*args: str) -> tuple[list[str], list[str]]:
    """Return the (display, argv) pair of a `moodflow` subcommand."""
    return ["moodflow", *args], [sys.executable, "-m", "moodflow.cli", *args]


def _python_script(script: str, *args: str) -> tuple[list[str], list[str]]:
    return ["python", script, *args], [sys.executable, str(REPO_ROOT / script), *args]


def _history_for_flow(histories_csv: Path, out_csv: Path) -> Path:
    """Rewrite the generated listening histories with Unix-second timestamps for `moodflow flow page`."""
    frame = pd.read_csv(histories_csv)
    frame = frame.rename(columns={"user_id": "listener_id"})
    played = pd.to_datetime(frame["last_played"], utc=True)
    frame["last_played"] = (played - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    frame.to_csv(out_csv, index=False)
    return out_csv


def _tagging_manifest(label_tables: list[Path], out_csv: Path) -> Path:
    """Join Emotify-layout label tables into one `track_id, path` manifest with absolute paths."""
    frames = []
    for table in label_tables:
        frame = pd.read_csv(table, usecols=["track_id", "path"])
        frame["path"] = [str((table.parent / path).resolve()) for path in frame["path"]]
        frames.append(frame)
    pd.concat(frames, ignore_index=True).to_csv(out_csv, index=False)
    return out_csv


def _pick_listener(histories_csv: Path) -> str:
    """Pick the listener with the longest history, so the profile has several tastes."""
    frame = pd.read_csv(histories_csv)
    counts = frame.groupby("user_id")["track_id"].nunique().sort_values(ascending=False, kind="stable")
    return str(counts.index[0])


def run_demo(
    out_dir: Path, size_name: str = "default", seed: int = 0, quiet: bool = False, in_process: bool = False,
) -> DemoResult:
    """Run every stage on a generated corpus under `out_dir` and return the timings.

    With `in_process` the commands run inside this Python process instead of
    fresh interpreters: the same entry points, without a torch import per step.
    """
    if size_name not in SIZES:
        raise MoodflowError(f"unknown demo size {size_name!r}; choose one of {sorted(SIZES)}")
    size = SIZES[size_name]
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    runner = DemoRunner(out_dir, quiet=quiet, in_process=in_process)

    data = out_dir / "data"
    clips = data / "synthetic_clips"
    releases = data / "synthetic_new_releases"
    metadata = data / "synthetic_track_metadata.csv"
    playlists = data / "synthetic_playlists.csv"
    histories = data / "synthetic_listening_history.csv"
    models = out_dir / "models"
    bundle = models / "demo-tagger"
    tags = out_dir / "tags.parquet"
    space = out_dir / "space"
    index = out_dir / "index"
    coldstart_model = out_dir / "coldstart"
    projections = out_dir / "projections.parquet"
    moods = out_dir / "moods.parquet"
    pictures = out_dir / "pictures"
    pictures.mkdir(exist_ok=True)

    runner.run("generate data", *_python_script(
        "scripts/generate_synthetic.py", "corpus", str(data),
        "--n-tracks", str(size.n_tracks), "--n-artists", str(size.n_artists),
        "--n-playlists", str(size.n_playlists), "--n-users", str(size.n_users),
        "--n-new-releases", str(size.n_new_releases), "--clip-seconds", str(size.clip_seconds),
        "--seed", str(seed),
    ))

    runner.run("train tagger", *_python_script(
        "train.py", "data=synthetic", f"data.root={clips}", f"paths.models_dir={models}",
        "bundle_name=demo-tagger", f"trainer.max_epochs={size.max_epochs}", f"seed={seed}",
        # One crop per clip halves the CNN's cost, and 32 ms mel frames halve it again.
        # The generated moods and genres are still learned within a few epochs.
        "data.crops_per_track=1", "model.net.front_end.hop_length=512",
        f"hydra.run.dir={out_dir / 'train'}", f"trainer.enable_progress_bar={not quiet and sys.stdout.isatty()}",
    ))

    runner.run("evaluate tagger", *_moodflow(
        "evaluate", str(bundle), "data=synthetic", f"data.root={clips}", "--out", str(out_dir / "evaluate"),
    ))

    progress = ["--no-progress"] if quiet else []
    manifest = _tagging_manifest([clips / "tracks.csv", releases / "tracks.csv"], out_dir / "tagging_manifest.csv")
    runner.run("tag all tracks", *_moodflow(
        "tag", str(manifest), "--bundle", str(bundle), "--output", str(tags), *progress,
    ))

    runner.run("build space", *_moodflow(
        "space", "--playlists", str(playlists), "--metadata", str(metadata), "--out", str(space),
        f"dim={size.space_dim}",
    ))

    runner.run("train cold start", *_moodflow(
        "coldstart", "train", "--space", str(space), "--out", str(coldstart_model),
        "--tags", str(tags), "--metadata", str(metadata), "--playlists", str(playlists),
    ))
    runner.run("project new releases", *_moodflow(
        "coldstart", "project", "--model", str(coldstart_model / "mlp"), "--space", str(space),
        "--releases", str(releases / "tracks.csv"), "--tags", str(tags),
        "--metadata", str(metadata), "--out", str(projections),
    ))

    runner.run("build index", *_moodflow("index", "build", "--space", str(space), "--out", str(index)))

    runner.run("score moods", *_moodflow(
        "flow", "moods", "--space", str(space), "--tags", str(tags),
        "--projections", str(projections), "--out", str(moods),
    ))

    listeners = _history_for_flow(histories, out_dir / "listeners.csv")
    listener = _pick_listener(histories)
    page_args = [
        "flow", "page", "--space", str(space), "--moods", str(moods), "--index", str(index),
        "--projections", str(projections), "--metadata", str(metadata),
        "--listeners", str(listeners), "--listener", listener,
        "--page-size", str(size.page_size), "--seed", str(seed),
    ]
    runner.run("flow page", *_moodflow(*page_args, "--plot", str(pictures / "flow_page.png")), always_show=True)
    runner.run("flow mood page", *_moodflow(
        *page_args, "--mood", "chill", "--mood-mode", size.mood_mode, "--plot", str(pictures / "flow_mood_chill.png"),
    ), always_show=True)

    print(f"\n==> [{len(runner.result.timings) + 1}] music map\n    (moodflow.flow.music_map, in this process)", flush=True)
    map_started = time.perf_counter()
    music_map = _draw_demo_music_map(
        space, moods, index, projections, metadata, listeners, listener, size.page_size, seed,
        pictures / "music_map.png", size.map_method,
    )
    runner.result.timings.append(StepTiming("music map", "moodflow.flow.music_map.draw_music_map", time.perf_counter() - map_started))

    runner.result.pictures = _gather_pictures(out_dir, pictures, music_map)
    return runner.result


def _draw_demo_music_map(
    space: Path, moods: Path, index: Path, projections: Path, metadata: Path,
    listeners: Path, listener: str, page_size: int, seed: int, png_path: Path, map_method: str = "auto",
) -> Path:
    """Draw the music map with the listener's history, taste centres and first Flow page."""
    from moodflow.flow import MoodVocabulary, load_catalogue
    from moodflow.flow.moods import DEFAULT_MOODS_CONFIG
    from moodflow.flow.music_map import draw_listener_map
    from moodflow.service.loading import load_flow_config, load_listeners

    catalogue = load_catalogue(space, moods, MoodVocabulary.load(DEFAULT_MOODS_CONFIG), index, projections, metadata)
    return draw_listener_map(
        catalogue, load_flow_config(REPO_ROOT / "configs" / "flow.yaml"), load_listeners(listeners)[listener],
        png_path, seed=seed, page_size=page_size, method=map_method, title=f"Music map, listener {listener}",
    )


def _gather_pictures(out_dir: Path, pictures: Path, music_map: Path) -> list[Path]:
    """Copy each stage's PNGs into `pictures/` so one folder shows them all."""
    import shutil

    found = [music_map]
    for png in sorted((out_dir / "train").rglob("*.png")) + sorted((out_dir / "evaluate").rglob("*.png")):
        target = pictures / png.name
        shutil.copyfile(png, target)
        found.append(target)
    found += [path for path in sorted(pictures.glob("flow_*.png"))]
    return found


def _print_summary(result: DemoResult) -> None:
    print("\n" + "=" * 72)
    print("moodflow demo finished (synthetic data)")
    for step in result.timings:
        print(f"  {step.seconds:7.1f} s  {step.name}")
    print(f"  {result.total_seconds:7.1f} s  total")
    print("pictures:")
    for picture in result.pictures:
        print(f"  {picture}")
    print(f"all artifacts: {result.out_dir}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="moodflow demo",
        description="Run the whole moodflow pipeline on a generated synthetic corpus (no downloads).",
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "outputs" / "demo", help="output folder (default: outputs/demo)")
    parser.add_argument("--size", choices=sorted(SIZES), default="default", help="corpus and training size preset")
    parser.add_argument("--seed", type=int, default=0, help="seed of the corpus, the training and the Flow session")
    parser.add_argument("--quiet", action="store_true", help="send each step's output to OUT/logs instead of the terminal")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    args = parser.parse_args(argv)
    configure_logging(args.verbose)

    result = run_demo(args.out, size_name=args.size, seed=args.seed, quiet=args.quiet)
    _print_summary(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
