"""Decode one track into model-sized chunks, streaming, for either engine.

`track_messages` is what a decoding worker runs per track. It yields a
sequence of messages instead of one array so that memory stays bounded by a
block of audio however long the track is:

- `ChunkMessage(chunks)`: `[n, chunk_samples]` float32 chunks, in order;
- then exactly one of `DoneMessage(duration_s, n_chunk_messages)` or
  `ErrorMessage(error_class, message)`. After an error the chunks already
  sent for the track must be discarded.

The chunks equal `TaggerBundle.split_into_chunks` of the whole decoded
waveform (`StreamingChunker` applies the same rule block by block).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodflow.audio.errors import AudioDecodeError, AudioTooShortError
from moodflow.audio.loading import iter_audio_blocks
from moodflow.errors import MoodflowError
from moodflow.tagging.inputs import TrackInput, fetch_to_local

logger = logging.getLogger(__name__)

OGG_SUFFIXES = (".ogg", ".oga", ".opus")
# An Ogg page header starts with "OggS", version 0, then the header-type
# flags, in which bit 0x04 marks the last page of the stream.
_OGG_CAPTURE = b"OggS\x00"
_OGG_END_OF_STREAM = 0x04
_OGG_TAIL_BYTES = 1 << 16  # Ogg pages are at most 65,307 bytes long.


class SilentTrackError(MoodflowError):
    """A track decoded to audio whose peak stays below the silence threshold."""


class TruncatedAudioError(MoodflowError):
    """A container ends before its end-of-stream marker, so the file was cut short."""


@dataclass(frozen=True)
class DecodeSettings:
    sample_rate: int
    chunk_samples: int
    block_seconds: float
    min_duration_s: float
    silence_threshold_dbfs: float | None


@dataclass
class ChunkMessage:
    chunks: np.ndarray


@dataclass
class DoneMessage:
    duration_s: float
    n_chunk_messages: int


@dataclass
class ErrorMessage:
    error_class: str
    message: str


Message = ChunkMessage | DoneMessage | ErrorMessage


class StreamingChunker:
    """Cut a waveform that arrives in blocks into chunks by the bundle's rule.

    With `C = chunk_samples`, full chunks start at 0, C, 2C and so on. A tail
    of at least C/2 samples adds the last C samples as one more chunk, and a
    clip shorter than C is repeated up to one chunk. Between blocks only the
    last chunk and the samples after it are kept.
    """

    def __init__(self, chunk_samples: int) -> None:
        self.chunk_samples = chunk_samples
        self.n_samples = 0
        self._rest = np.zeros(0, dtype=np.float32)
        self._last_chunk: np.ndarray | None = None

    def push(self, block: np.ndarray) -> np.ndarray:
        """Add a block and return the full chunks it completes, `[k, C]` with k >= 0."""
        size = self.chunk_samples
        self.n_samples += block.size
        joined = np.concatenate([self._rest, np.asarray(block, dtype=np.float32)])
        n_full = joined.size // size
        chunks = joined[: n_full * size].reshape(n_full, size).copy()
        self._rest = joined[n_full * size :].copy()
        if n_full:
            self._last_chunk = chunks[-1]
        return chunks

    def finish(self) -> np.ndarray:
        """Return the chunks that depend on the total length, `[0 or 1, C]`."""
        size = self.chunk_samples
        if self.n_samples == 0:
            raise ValueError("StreamingChunker.finish called before any sample was pushed")
        if self._last_chunk is None:
            repeats = math.ceil(size / self._rest.size)
            return np.tile(self._rest, repeats)[:size][None, :].copy()
        tail = self._rest.size
        if tail * 2 < size:
            return np.zeros((0, size), dtype=np.float32)
        last = np.concatenate([self._last_chunk[tail:], self._rest])
        return last[None, :]


def track_messages(track: TrackInput, settings: DecodeSettings) -> Iterator[Message]:
    """Decode `track` and yield its chunk messages, then a done or an error message.

    Every failure becomes an `ErrorMessage` so that one bad file never stops
    a batch: decoding errors, too short, silent or truncated files, and
    unexpected exceptions (logged with their traceback).
    """
    local_path = track.path
    is_temporary = False
    n_chunk_messages = 0
    try:
        local_path, is_temporary = fetch_to_local(track.path)
        if Path(local_path).suffix.lower() in OGG_SUFFIXES:
            check_ogg_complete(local_path)

        chunker = StreamingChunker(settings.chunk_samples)
        peak = 0.0
        for block in iter_audio_blocks(local_path, settings.sample_rate, settings.block_seconds):
            if block.size:
                peak = max(peak, float(np.abs(block).max()))
            chunks = chunker.push(block)
            if chunks.shape[0]:
                n_chunk_messages += 1
                yield ChunkMessage(chunks)

        duration_s = chunker.n_samples / settings.sample_rate
        if duration_s < settings.min_duration_s:
            raise AudioTooShortError(track.path, duration_s, settings.min_duration_s)
        _check_not_silent(track.path, peak, settings.silence_threshold_dbfs)
        last = chunker.finish()
        if last.shape[0]:
            n_chunk_messages += 1
            yield ChunkMessage(last)
        yield DoneMessage(duration_s=duration_s, n_chunk_messages=n_chunk_messages)
    except (AudioDecodeError, SilentTrackError, TruncatedAudioError) as error:
        yield ErrorMessage(type(error).__name__, str(error))
    except Exception as error:  # a bad file must not stop the batch; record it instead
        logger.exception("unexpected error while decoding track %s (%s)", track.track_id, track.path)
        yield ErrorMessage(type(error).__name__, f"unexpected error while decoding {track.path}: {error}")
    finally:
        if is_temporary:
            os.unlink(local_path)


def check_ogg_complete(path: str | Path) -> None:
    """Raise `TruncatedAudioError` when an Ogg file's last page lacks the end-of-stream flag.

    libsndfile and FFmpeg decode a cut Ogg file up to the cut without any
    error, so without this check a truncated upload would be tagged on part
    of its audio.
    """
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as handle:
        handle.seek(max(0, size - _OGG_TAIL_BYTES))
        tail = handle.read()
    position = tail.rfind(_OGG_CAPTURE)
    if position < 0 or position + 5 >= len(tail):
        # No page header in the tail: not an Ogg stream we can judge, leave it to the decoder.
        return
    if not tail[position + 5] & _OGG_END_OF_STREAM:
        raise TruncatedAudioError(
            f"audio file {str(path)!r} is truncated: its last Ogg page has no end-of-stream flag, "
            "so the file was cut short; upload the complete file again"
        )


def _check_not_silent(path: str, peak: float, threshold_dbfs: float | None) -> None:
    if threshold_dbfs is None:
        return
    peak_dbfs = 20.0 * math.log10(peak) if peak > 0 else -math.inf
    if peak_dbfs < threshold_dbfs:
        peak_text = "-inf" if peak == 0 else f"{peak_dbfs:.1f}"
        raise SilentTrackError(
            f"audio file {path!r} is silent: its peak is {peak_text} dBFS, below the threshold of "
            f"{threshold_dbfs:.1f} dBFS; check the file, or set silence_threshold_dbfs=null to tag it anyway"
        )
