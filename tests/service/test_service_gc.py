"""Garbage-collector tuning of `moodflow serve`."""

from __future__ import annotations

import gc

from moodflow.service.cli import _tune_garbage_collector


def test_serve_freezes_startup_objects():
    thresholds = gc.get_threshold()
    try:
        _tune_garbage_collector()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (50_000, 20, 100)
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
