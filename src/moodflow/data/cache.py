"""A disk cache of decoded, resampled audio, so only the first epoch decodes.

Each track is stored as one `.npy` file of mono samples at the cache's sample
rate, named by a hash of the source file's absolute path, size, modification
time (ns), the sample rate and the storage dtype. Editing or replacing a
source file therefore misses the cache instead of returning stale audio.
Reads are memory-mapped. Files are written through a temporary file and an
atomic rename, so concurrent writers (data-loader workers) never expose a
half-written entry. Decode failures are not cached: they raise every time.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from moodflow.audio import AudioTooShortError, load_audio
from moodflow.hashing import content_hash

logger = logging.getLogger(__name__)

# Bump when the decoder or resampler changes what it returns, so old entries miss.
CACHE_FORMAT_VERSION = "1"
STORAGE_DTYPES = ("float16", "float32")


class AudioCache:
    """Decoded mono audio at `sample_rate` Hz, cached as `.npy` files under `directory`.

    `dtype="float16"` halves disk space (Emotify at 16 kHz: 384 MB instead of
    768 MB). But `load` then converts every read to float32, so the warm pass
    over the 400 Emotify tracks was 5x slower (1.80 s against 0.34 s with
    scripts/bench_audio_cache.py on the shared 2-core machine). Its rounding error is at most 2**-11 of a
    sample's magnitude (about -66 dB).
    """

    def __init__(self, directory: str | Path, sample_rate: int, dtype: str = "float32") -> None:
        if dtype not in STORAGE_DTYPES:
            raise ValueError(f"cache dtype must be one of {STORAGE_DTYPES}, got {dtype!r}")
        self.directory = Path(directory)
        self.sample_rate = int(sample_rate)
        self.dtype = dtype
        self.hits = 0
        self.misses = 0

    def entry_path(self, path: str | Path) -> Path:
        """Return the cache file of `path` in its current version (size and mtime)."""
        source = Path(path).resolve()
        status = source.stat()
        key = content_hash(
            [CACHE_FORMAT_VERSION, str(source), str(status.st_size), str(status.st_mtime_ns), str(self.sample_rate), self.dtype]
        )
        return self.directory / key[:2] / f"{key}.npy"

    def load_mmap(self, path: str | Path, min_duration_s: float = 0.0) -> np.ndarray:
        """Return the samples of `path` as a read-only memory map in the storage dtype.

        Decodes with `moodflow.audio.load_audio` and stores the result on a
        miss. Raises `AudioDecodeError` (including `AudioTooShortError`
        against `min_duration_s`) like `load_audio`.
        """
        try:
            entry = self.entry_path(path)
        except FileNotFoundError:
            # load_audio raises the named error for a missing file.
            return load_audio(path, self.sample_rate, min_duration_s)

        if entry.exists():
            samples = np.load(entry, mmap_mode="r")
            self.hits += 1
            if samples.size / self.sample_rate < min_duration_s:
                raise AudioTooShortError(Path(path), samples.size / self.sample_rate, min_duration_s)
            return samples

        samples = load_audio(path, self.sample_rate, min_duration_s)
        self.misses += 1
        self._write(entry, samples.astype(self.dtype))
        return np.load(entry, mmap_mode="r")

    def load(self, path: str | Path, min_duration_s: float = 0.0) -> np.ndarray:
        """Return the samples of `path` as a float32 array in memory (see `load_mmap`)."""
        return np.asarray(self.load_mmap(path, min_duration_s), dtype=np.float32)

    def _write(self, entry: Path, samples: np.ndarray) -> None:
        entry.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{entry.stem}.", suffix=".tmp", dir=entry.parent)
        try:
            with os.fdopen(handle, "wb") as stream:
                np.save(stream, samples)
            os.replace(temporary, entry)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        logger.debug("cached %d samples as %s", samples.size, entry)
