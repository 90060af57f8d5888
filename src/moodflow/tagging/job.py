"""The batch-tagging job: checks before any work, resume, engine run, parts and summary."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import torch

from moodflow.tagger.bundle import TaggerBundle, load_bundle
from moodflow.tagging.assembly import TrackFailure, TrackResult
from moodflow.tagging.config import TagConfig, TaggingConfigError, inference_threads
from moodflow.tagging.decode import DecodeSettings
from moodflow.tagging.inputs import list_tracks
from moodflow.tagging.progress import Progress
from moodflow.tagging.store import PartWriter, TagStore

logger = logging.getLogger(__name__)


@dataclass
class TagSummary:
    """Counts and timing of one run. `skipped` tracks were already done for this model id."""

    tagged: int
    failed: int
    skipped: int
    audio_s: float
    wall_s: float
    model_id: str
    output: str

    @property
    def throughput(self) -> float:
        """Seconds of audio tagged per wall-clock second."""
        return self.audio_s / self.wall_s if self.wall_s > 0 else 0.0

    def describe(self) -> str:
        return (
            f"tagged {self.tagged} tracks, failed {self.failed}, skipped {self.skipped} already done "
            f"(model {self.model_id}); {self.audio_s / 3600:.3f} hours of audio in {self.wall_s:.1f} s, "
            f"{self.throughput:.1f} s of audio per second, {self.tagged / max(self.wall_s, 1e-9):.2f} tracks/s; "
            f"output {self.output}"
        )


def resolve_device(name: str) -> torch.device:
    """Map `auto` to cuda when available, else cpu; reject an unavailable cuda device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise TaggingConfigError(f"invalid device {name!r}; use cpu, cuda, cuda:N or auto") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TaggingConfigError(f"device {name!r} requested but torch finds no CUDA device; use device=cpu or auto")
    return device


def decode_settings(bundle: TaggerBundle, config: TagConfig) -> DecodeSettings:
    return DecodeSettings(
        sample_rate=bundle.sample_rate,
        chunk_samples=bundle.chunk_samples,
        block_seconds=config.block_seconds,
        min_duration_s=config.min_duration_s,
        silence_threshold_dbfs=config.silence_threshold_dbfs,
    )


def run_tagging(
    source: str,
    bundle_path: str,
    output: str,
    config: TagConfig,
    *,
    force: bool = False,
    use_progress_bar: bool | None = None,
) -> TagSummary:
    """Tag every track of `source` not yet done for the bundle's model id into the folder `output`.

    Everything that can stop the job (bundle, input list, output folder,
    device) is checked before any track is decoded, and raises a
    `MoodflowError` that names the path or value.
    """
    started = time.monotonic()
    device = resolve_device(config.device)
    bundle = load_bundle(bundle_path, device=device)
    logger.info(
        "loaded bundle %s (model %s, %d moods, %d genres, %d-dim embedding) on %s",
        bundle_path, bundle.model_id, len(bundle.mood_labels), len(bundle.genre_labels), bundle.embedding_dim, device,
    )
    tracks = list_tracks(source)

    with TagStore(output) as store:
        if force:
            logger.info("--force: deleting the committed parts in %s", output)
            store.clear()
        done = store.done_track_ids(bundle.model_id)
        todo = [track for track in tracks if track.track_id not in done]
        skipped = len(tracks) - len(todo)
        logger.info("%d tracks listed, %d already done for model %s, %d to tag", len(tracks), skipped, bundle.model_id, len(todo))

        writer = PartWriter(bundle.model_id, bundle.mood_labels, bundle.genre_labels, bundle.embedding_dim)
        sink = _PartSink(store, writer, config.part_size, Progress(len(todo), use_bar=use_progress_bar))
        if todo:
            engine = _build_engine(bundle, config)
            try:
                engine.run(todo, sink.add)
            finally:
                sink.progress.close()
            sink.flush()

    summary = TagSummary(
        tagged=sink.tagged,
        failed=sink.failed,
        skipped=skipped,
        audio_s=sink.audio_s,
        wall_s=time.monotonic() - started,
        model_id=bundle.model_id,
        output=str(output),
    )
    logger.info("summary: %s", summary.describe())
    return summary


def _build_engine(bundle: TaggerBundle, config: TagConfig):
    settings = decode_settings(bundle, config)
    if config.engine == "ray":
        from moodflow.tagging.ray_engine import RayEngine

        return RayEngine(bundle, settings, config)

    from moodflow.tagging.local import LocalEngine

    threads = inference_threads(config)
    torch.set_num_threads(threads)
    logger.info("torch uses %d intra-op threads for inference", threads)
    return LocalEngine(bundle, settings, config)


class _PartSink:
    """Buffer finished tracks and commit a part every `part_size` tracks."""

    def __init__(self, store: TagStore, writer: PartWriter, part_size: int, progress: Progress) -> None:
        self.store = store
        self.writer = writer
        self.part_size = part_size
        self.progress = progress
        self.results: list[TrackResult] = []
        self.failures: list[TrackFailure] = []
        self.tagged = 0
        self.failed = 0
        self.audio_s = 0.0

    def add(self, finished: list[TrackResult | TrackFailure]) -> None:
        for item in finished:
            if isinstance(item, TrackResult):
                self.results.append(item)
                self.progress.update(audio_s=item.duration_s)
            else:
                logger.warning("track %s failed: %s: %s", item.track.track_id, item.error_class, item.message)
                self.failures.append(item)
                self.progress.update(failed=True)
            if len(self.results) + len(self.failures) >= self.part_size:
                self.flush()

    def flush(self) -> None:
        if not self.results and not self.failures:
            return
        self.store.commit(self.writer.tags_table(self.results), self.writer.errors_table(self.failures))
        self.tagged += len(self.results)
        self.failed += len(self.failures)
        self.audio_s += sum(result.duration_s for result in self.results)
        self.results, self.failures = [], []

