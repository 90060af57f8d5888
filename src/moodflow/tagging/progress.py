"""Progress of a tagging run: a tqdm bar on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time

from tqdm import tqdm

logger = logging.getLogger(__name__)


class Progress:
    """Count finished tracks and audio seconds and show tracks/s and audio-hours/s."""

    def __init__(self, total_tracks: int, log_every_s: float = 30.0, use_bar: bool | None = None) -> None:
        self.total_tracks = total_tracks
        self.log_every_s = log_every_s
        self.started = time.monotonic()
        self.tracks = 0
        self.failed = 0
        self.audio_s = 0.0
        self._last_log = self.started
        if use_bar is None:
            use_bar = sys.stderr.isatty()
        self._bar = tqdm(total=total_tracks, unit="track", dynamic_ncols=True) if use_bar else None

    def update(self, audio_s: float = 0.0, failed: bool = False) -> None:
        self.tracks += 1
        self.failed += int(failed)
        self.audio_s += audio_s
        now = time.monotonic()
        elapsed = max(now - self.started, 1e-9)
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(
                {"audio_h/s": f"{self.audio_s / 3600 / elapsed:.3f}", "failed": self.failed}, refresh=False
            )
        elif now - self._last_log >= self.log_every_s:
            self._last_log = now
            logger.info(
                "progress: %d/%d tracks (%d failed), %.2f tracks/s, %.4f audio-hours/s",
                self.tracks, self.total_tracks, self.failed, self.tracks / elapsed, self.audio_s / 3600 / elapsed,
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
