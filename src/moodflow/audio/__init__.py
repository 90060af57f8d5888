"""Audio decoding: any common file to mono float32 at a requested sample rate."""

from moodflow.audio.errors import AudioDecodeError, AudioTooShortError
from moodflow.audio.loading import RESAMPLE_QUALITY, audio_duration_s, iter_audio_blocks, load_audio

__all__ = [
    "RESAMPLE_QUALITY",
    "AudioDecodeError",
    "AudioTooShortError",
    "audio_duration_s",
    "iter_audio_blocks",
    "load_audio",
]
