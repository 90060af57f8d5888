"""Errors raised when an audio file cannot be turned into samples."""

from __future__ import annotations

from pathlib import Path

from moodflow.errors import MoodflowError


class AudioDecodeError(MoodflowError):
    """An audio file is missing, empty, not audio, or truncated beyond use.

    `path` is the file that failed and `cause` the decoder's exception (or
    `None` when the file decoded but its content is unusable).
    """

    def __init__(self, path: str | Path, reason: str, cause: BaseException | None = None) -> None:
        self.path = Path(path)
        self.reason = reason
        self.cause = cause
        message = f"cannot decode audio file {str(self.path)!r}: {reason}"
        if cause is not None:
            message += f" ({type(cause).__name__}: {cause})"
        super().__init__(message)


class AudioTooShortError(AudioDecodeError):
    """An audio file decoded to fewer seconds than the caller's minimum."""

    def __init__(self, path: str | Path, duration_s: float, min_duration_s: float) -> None:
        self.duration_s = duration_s
        self.min_duration_s = min_duration_s
        super().__init__(
            path,
            f"it is {duration_s:.3f} s long, shorter than the minimum of {min_duration_s:.3f} s; "
            "use a longer recording or lower min_duration_s",
        )
