"""The local engine: decoding worker processes feed batched inference in this process.

`workers` processes (started with the `forkserver` method, so they never
inherit torch's thread pools) take track indices from a task queue, run
`track_messages` and put each message on a result queue of at most
`max_blocks_in_flight` entries. That bound is the back-pressure that keeps
memory flat for tracks of any length. The main process gathers chunk
messages until `batch_size` chunks are waiting (or the queue is momentarily
empty), runs the model once over all of them, and hands the sums to a
`TrackAssembler`.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from moodflow.tagger.bundle import TaggerBundle
from moodflow.tagging.assembly import ChunkPredictor, TrackAssembler, TrackFailure, TrackResult, infer_chunk_groups
from moodflow.tagging.config import TagConfig
from moodflow.tagging.decode import ChunkMessage, DecodeSettings, DoneMessage, ErrorMessage
from moodflow.tagging.inputs import TrackInput
from moodflow.tagging.worker import PARENT_CHECK_S, Started, worker_main

logger = logging.getLogger(__name__)

_POLL_S = 0.05


def _forget_track(current_track: dict[int, int], track_index: int) -> None:
    for worker_index, index in list(current_track.items()):
        if index == track_index:
            del current_track[worker_index]


class LocalEngine:
    """Tag tracks with decoding worker processes and batched inference in this process."""

    def __init__(self, bundle: TaggerBundle, settings: DecodeSettings, config: TagConfig) -> None:
        self.bundle = bundle
        self.settings = settings
        self.config = config
        self.predictor = ChunkPredictor(bundle, config.batch_size, optimize=config.optimize)

    def run(self, tracks: list[TrackInput], on_finished: Callable[[list[TrackResult | TrackFailure]], None]) -> None:
        """Tag `tracks`, calling `on_finished` with each group of tracks that finished."""
        if not tracks:
            return
        context = multiprocessing.get_context("forkserver")
        # The fork server imports the decoding code once; each worker then forks
        # from it in milliseconds instead of importing numpy, soxr and PyAV again.
        context.set_forkserver_preload(["moodflow.tagging.worker"])
        tasks = context.Queue()
        results = context.Queue(maxsize=self.config.max_blocks_in_flight)
        n_workers = min(self.config.workers, len(tracks))
        workers = [self._start_worker(context, index, tasks, results) for index in range(n_workers)]
        logger.info("local engine: %d decoding workers, batches of %d chunks", n_workers, self.config.batch_size)
        try:
            self._loop(tracks, tasks, results, workers, context, on_finished)
        finally:
            for _ in workers:
                tasks.put(None)
            for process in workers:
                process.join(timeout=5)
                if process.is_alive():
                    process.terminate()
                    process.join()

    def _start_worker(self, context, index: int, tasks, results) -> multiprocessing.Process:
        process = context.Process(
            target=worker_main,
            args=(index, self.settings, tasks, results, os.getpid()),
            name=f"moodflow-tag-decoder-{index}",
            daemon=True,
        )
        process.start()
        return process

    def _loop(self, tracks, tasks, results, workers, context, on_finished) -> None:
        bundle = self.bundle
        assembler = TrackAssembler(len(bundle.mood_labels), len(bundle.genre_labels), bundle.embedding_dim)
        pending: list[tuple[int, np.ndarray]] = []
        pending_chunks = 0
        next_task = 0
        in_flight = 0
        finished = 0
        current_track: dict[int, int] = {}  # worker index -> track index being decoded
        max_in_flight = 2 * len(workers)

        while finished < len(tracks):
            while in_flight < max_in_flight and next_task < len(tracks):
                tasks.put((next_task, tracks[next_task]))
                next_task += 1
                in_flight += 1

            try:
                track_index, message = results.get(timeout=_POLL_S if pending else PARENT_CHECK_S)
            except queue.Empty:
                if pending:
                    self._infer(pending, tracks, assembler)
                    pending, pending_chunks = [], 0
                else:
                    in_flight -= self._replace_dead_workers(workers, current_track, tracks, assembler, context, tasks, results)
                finished += self._deliver(assembler, on_finished)
                continue

            track = tracks[track_index]
            if isinstance(message, Started):
                current_track[message.worker_index] = track_index
            elif isinstance(message, ChunkMessage):
                pending.append((track_index, message.chunks))
                pending_chunks += message.chunks.shape[0]
                if pending_chunks >= self.config.batch_size:
                    self._infer(pending, tracks, assembler)
                    pending, pending_chunks = [], 0
            elif isinstance(message, DoneMessage):
                in_flight -= 1
                _forget_track(current_track, track_index)
                assembler.add_done(track, message.duration_s, message.n_chunk_messages)
            elif isinstance(message, ErrorMessage):
                in_flight -= 1
                _forget_track(current_track, track_index)
                assembler.add_error(track, message.error_class, message.message)
            finished += self._deliver(assembler, on_finished)

    def _infer(self, pending, tracks, assembler: TrackAssembler) -> None:
        sums = infer_chunk_groups(self.predictor, [chunks for _, chunks in pending])
        for (track_index, _), group_sums in zip(pending, sums):
            assembler.add_sums(tracks[track_index], group_sums)

    @staticmethod
    def _deliver(assembler: TrackAssembler, on_finished) -> int:
        done = assembler.take_finished()
        if done:
            on_finished(done)
        return len(done)

    def _replace_dead_workers(self, workers, current_track, tracks, assembler, context, tasks, results) -> int:
        """Fail the track of each worker that died (a decoder crash or an OOM kill), restart it, return the count."""
        n_failed = 0
        for index, process in enumerate(workers):
            if process.is_alive():
                continue
            track_index = current_track.pop(index, None)
            logger.error(
                "decoding worker %d exited with code %s while decoding track %s; starting a new worker",
                index, process.exitcode, tracks[track_index].track_id if track_index is not None else None,
            )
            if track_index is not None:
                n_failed += 1
                assembler.add_error(
                    tracks[track_index],
                    "DecoderCrashError",
                    f"the decoding process exited with code {process.exitcode} while decoding "
                    f"{tracks[track_index].path}; the file may crash the decoder or need more memory",
                )
            workers[index] = self._start_worker(context, index, tasks, results)
        return n_failed
