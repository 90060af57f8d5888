"""The decoding worker process of the local engine.

This module imports no torch (neither does `moodflow.tagging.decode`), so the
fork server that preloads it starts quickly and its workers stay small.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from dataclasses import dataclass

from moodflow.tagging.decode import DecodeSettings, track_messages

PARENT_CHECK_S = 1.0


@dataclass
class Started:
    track_index: int
    worker_index: int


def worker_main(
    worker_index: int,
    settings: DecodeSettings,
    tasks: multiprocessing.Queue,
    results: multiprocessing.Queue,
    parent_pid: int,
) -> None:
    """Decode `(index, track)` tasks until a `None` arrives or the parent process dies."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    while True:
        try:
            task = tasks.get(timeout=PARENT_CHECK_S)
        except queue.Empty:
            if not _is_alive(parent_pid):
                return
            continue
        if task is None:
            return
        track_index, track = task
        if not _put(results, (track_index, Started(track_index, worker_index)), parent_pid):
            return
        for message in track_messages(track, settings):
            if not _put(results, (track_index, message), parent_pid):
                return


def _put(results: multiprocessing.Queue, item: object, parent_pid: int) -> bool:
    """Put `item`, waiting while the queue is full; return False when the parent has died."""
    while True:
        try:
            results.put(item, timeout=PARENT_CHECK_S)
            return True
        except queue.Full:
            if not _is_alive(parent_pid):
                return False


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
