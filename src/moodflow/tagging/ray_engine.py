"""The Ray engine: Ray Data decodes in CPU tasks and runs inference in an actor pool.

Pipeline: `from_items(tracks)` -> `flat_map(decode)` (one CPU per task; a
track becomes the same chunk, done and error messages as on the local
engine, one row each) -> `map_batches(InferenceActor)` (an actor pool of
`ray.actors` actors with `ray.gpus_per_actor` GPUs each) -> the driver
iterates the per-message sums, averages them per track with the same
`TrackAssembler`, and commits parts through the same `TagStore`. So both
engines write the same schema with the same resume semantics, and only the
driver touches the output folder.

The bundle's files travel to the actors as bytes inside the task arguments,
so the workers of a remote cluster need no access to the driver's disk.
Audio paths must be readable from every worker: a shared file system or
URIs such as `s3://...` (see `moodflow.tagging.inputs`).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from moodflow.tagger.bundle import CONFIG_FILE, WEIGHTS_FILE, TaggerBundle
from moodflow.tagging.assembly import ChunkSums, TrackAssembler, TrackFailure, TrackResult
from moodflow.tagging.config import TagConfig
from moodflow.tagging.decode import ChunkMessage, DecodeSettings, DoneMessage, track_messages
from moodflow.tagging.inputs import TrackInput

logger = logging.getLogger(__name__)

KIND_CHUNKS, KIND_DONE, KIND_ERROR = "chunks", "done", "error"


def decode_to_rows(row: dict, settings: DecodeSettings) -> Iterator[dict]:
    """Decode one track row into message rows; chunks travel as float32 bytes."""
    track = TrackInput(track_id=str(row["track_id"]), path=str(row["path"]))
    for message in track_messages(track, settings):
        out = {
            "track_index": int(row["track_index"]),
            "kind": KIND_ERROR,
            "chunks": b"",
            "n_chunks": 0,
            "duration_s": 0.0,
            "n_chunk_messages": 0,
            "error_class": "",
            "message": "",
        }
        if isinstance(message, ChunkMessage):
            out.update(kind=KIND_CHUNKS, chunks=message.chunks.astype(np.float32).tobytes(), n_chunks=message.chunks.shape[0])
        elif isinstance(message, DoneMessage):
            out.update(kind=KIND_DONE, duration_s=message.duration_s, n_chunk_messages=message.n_chunk_messages)
        else:
            out.update(error_class=message.error_class, message=message.message)
        yield out


class InferenceActor:
    """Holds one loaded bundle and turns batches of message rows into per-row prediction sums."""

    def __init__(self, bundle_files: dict[str, bytes], batch_size: int, device: str, threads: int, optimize: bool) -> None:
        import torch

        from moodflow.tagger.bundle import load_bundle

        torch.set_num_threads(threads)
        self._folder = tempfile.TemporaryDirectory(prefix="moodflow-bundle-")
        for name, data in bundle_files.items():
            (Path(self._folder.name) / name).write_bytes(data)
        from moodflow.tagging.assembly import ChunkPredictor

        self.bundle = load_bundle(self._folder.name, device=device)
        self.predictor = ChunkPredictor(self.bundle, batch_size, optimize=optimize)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from moodflow.tagging.assembly import infer_chunk_groups

        n_rows = len(batch["kind"])
        bundle = self.bundle
        mood = np.zeros((n_rows, len(bundle.mood_labels)), dtype=np.float64)
        genre = np.zeros((n_rows, len(bundle.genre_labels)), dtype=np.float64)
        embedding = np.zeros((n_rows, bundle.embedding_dim), dtype=np.float64)

        chunk_rows = [index for index in range(n_rows) if batch["kind"][index] == KIND_CHUNKS]
        if chunk_rows:
            groups = [
                np.frombuffer(batch["chunks"][index], dtype=np.float32).reshape(-1, bundle.chunk_samples)
                for index in chunk_rows
            ]
            for index, sums in zip(chunk_rows, infer_chunk_groups(self.predictor, groups)):
                mood[index], genre[index], embedding[index] = sums.mood, sums.genre, sums.embedding

        result = {name: batch[name] for name in batch if name != "chunks"}
        result.update(mood_sum=mood, genre_sum=genre, embedding_sum=embedding)
        return result


class RayEngine:
    """Tag tracks on a local Ray instance (started and stopped here) or an existing cluster."""

    def __init__(self, bundle: TaggerBundle, settings: DecodeSettings, config: TagConfig) -> None:
        self.bundle = bundle
        self.settings = settings
        self.config = config

    def run(self, tracks: list[TrackInput], on_finished: Callable[[list[TrackResult | TrackFailure]], None]) -> None:
        import ray

        ray_config = self.config.ray
        started_here = False
        if not ray.is_initialized():
            if ray_config.address:
                logger.info("connecting to the Ray cluster at %s", ray_config.address)
                ray.init(address=ray_config.address, log_to_driver=False)
            else:
                logger.info("starting a local Ray instance with %d CPUs", ray_config.num_cpus)
                ray.init(num_cpus=ray_config.num_cpus, include_dashboard=False, log_to_driver=False)
                started_here = True
        try:
            self._run(tracks, on_finished)
        finally:
            if started_here:
                ray.shutdown()

    def _run(self, tracks, on_finished) -> None:
        import ray

        ray_config = self.config.ray
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False

        bundle = self.bundle
        bundle_files = {name: (bundle.path / name).read_bytes() for name in (CONFIG_FILE, WEIGHTS_FILE)}
        # NOTE: GPU actors (and device=cuda on the local engine) were never run,
        # because the development machine has no GPU.
        use_gpu = ray_config.gpus_per_actor > 0
        items = [{"track_index": index, "track_id": track.track_id, "path": track.path} for index, track in enumerate(tracks)]

        # About 20 tracks per decoding task at scale, but at least 16 tasks so small runs spread out.
        n_blocks = min(len(items), max(16, len(items) // 20))
        dataset = ray.data.from_items(items, override_num_blocks=n_blocks)
        dataset = dataset.flat_map(decode_to_rows, fn_kwargs={"settings": self.settings}, num_cpus=1)
        dataset = dataset.map_batches(
            InferenceActor,
            fn_constructor_kwargs={
                "bundle_files": bundle_files,
                "batch_size": self.config.batch_size,
                "device": "cuda" if use_gpu else "cpu",
                "threads": 1,
                "optimize": self.config.optimize,
            },
            compute=ray.data.ActorPoolStrategy(size=ray_config.actors),
            batch_size=ray_config.tracks_per_batch,
            batch_format="numpy",
            num_gpus=ray_config.gpus_per_actor if use_gpu else None,
            num_cpus=1,
        )
        logger.info(
            "ray engine: %d tracks, %d inference actors (%s GPUs each), %d message rows per actor batch",
            len(tracks), ray_config.actors, ray_config.gpus_per_actor, ray_config.tracks_per_batch,
        )

        assembler = TrackAssembler(len(bundle.mood_labels), len(bundle.genre_labels), bundle.embedding_dim)
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            for index in range(len(batch["kind"])):
                _feed_row(assembler, tracks, batch, index)
            finished = assembler.take_finished()
            if finished:
                on_finished(finished)
        if assembler.n_open:
            raise RuntimeError(f"Ray pipeline ended with {assembler.n_open} tracks still incomplete")


def _feed_row(assembler: TrackAssembler, tracks: list[TrackInput], batch: dict[str, np.ndarray], index: int) -> None:
    track = tracks[int(batch["track_index"][index])]
    kind = batch["kind"][index]
    if kind == KIND_CHUNKS:
        sums = ChunkSums(
            mood=batch["mood_sum"][index],
            genre=batch["genre_sum"][index],
            embedding=batch["embedding_sum"][index],
            n_chunks=int(batch["n_chunks"][index]),
        )
        assembler.add_sums(track, sums)
    elif kind == KIND_DONE:
        assembler.add_done(track, float(batch["duration_s"][index]), int(batch["n_chunk_messages"][index]))
    else:
        assembler.add_error(track, str(batch["error_class"][index]), str(batch["message"][index]))
