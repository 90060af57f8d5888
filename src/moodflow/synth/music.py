"""Render short synthetic music clips whose genre and mood are audible.

A clip is defined by a genre and a point in the valence/arousal plane, both in
[-1, 1]. Each maps to audio features that listeners and taggers associate with
it:

- arousal sets the tempo (60 to 160 BPM), the note density (1, 2 or 4 notes
  per beat) and the loudness (peak 0.2 to 0.7);
- valence sets the mode (major when valence >= 0, natural minor otherwise) and
  the register (higher melodies for higher valence);
- the genre sets the timbre and the drums. Classical is a soft additive tone
  with slow attacks and no drums, and rock a distorted sawtooth with kick and
  snare. Electronic is a square-wave arpeggio over a four-on-the-floor kick,
  and pop a decaying piano-like tone with a light backbeat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GENRES = ("classical", "rock", "electronic", "pop")

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)


@dataclass(frozen=True)
class ClipStyle:
    """Genre and mood of one clip; `valence` and `arousal` lie in [-1, 1]."""

    genre: str
    valence: float
    arousal: float

    def __post_init__(self) -> None:
        if self.genre not in GENRES:
            raise ValueError(f"unknown genre {self.genre!r}; expected one of {GENRES}")
        for name in ("valence", "arousal"):
            value = getattr(self, name)
            if not -1.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [-1, 1], got {value}")

    @property
    def tempo_bpm(self) -> float:
        return 110.0 + 50.0 * self.arousal

    @property
    def notes_per_beat(self) -> int:
        if self.arousal < -0.3:
            return 1
        if self.arousal < 0.4:
            return 2
        return 4

    @property
    def peak(self) -> float:
        return 0.45 + 0.25 * self.arousal

    @property
    def is_major(self) -> bool:
        return self.valence >= 0.0


def render_clip(style: ClipStyle, seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Render a mono float32 clip of `seconds` at `sample_rate` Hz with peak `style.peak`.

    `rng` chooses the key and the melody, so the same generator state gives
    the same samples.
    """
    n_samples = round(seconds * sample_rate)
    if n_samples < 1:
        raise ValueError(f"clip of {seconds} s has no samples at {sample_rate} Hz")
    out = np.zeros(n_samples, dtype=np.float64)

    beat_s = 60.0 / style.tempo_bpm
    step_s = beat_s / style.notes_per_beat
    scale = MAJOR_SCALE if style.is_major else MINOR_SCALE
    # Valence moves the melody up or down by up to 6 semitones.
    root_midi = int(rng.integers(52, 60)) + round(6 * style.valence)

    _add_melody(out, style, scale, root_midi, step_s, sample_rate, rng)
    _add_chords(out, style, scale, root_midi - 12, 4 * beat_s, sample_rate)
    _add_drums(out, style.genre, beat_s, sample_rate, rng)

    peak = np.abs(out).max()
    if peak > 0:
        out *= style.peak / peak
    return out.astype(np.float32)


def _midi_to_hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12)


def _add_melody(out, style, scale, root_midi, step_s, sample_rate, rng) -> None:
    degree = 0
    start_s = 0.0
    total_s = out.size / sample_rate
    while start_s < total_s:
        # A bounded random walk over scale degrees, two octaves wide.
        degree = int(np.clip(degree + rng.integers(-2, 3), -3, 10))
        octave, index = divmod(degree, len(scale))
        midi = root_midi + 12 * octave + scale[index]
        _add_note(out, style.genre, _midi_to_hz(midi), start_s, step_s * 0.95, 1.0, sample_rate)
        start_s += step_s


def _add_chords(out, style, scale, root_midi, bar_s, sample_rate) -> None:
    # I-IV-V-I in major, i-VI-VII-i in minor, one chord per bar.
    progression = (0, 3, 4, 0) if style.is_major else (0, 5, 6, 0)
    start_s = 0.0
    bar = 0
    total_s = out.size / sample_rate
    while start_s < total_s:
        chord_root = progression[bar % len(progression)]
        for offset in (0, 2, 4):
            octave, index = divmod(chord_root + offset, len(scale))
            midi = root_midi + 12 * octave + scale[index]
            _add_note(out, style.genre, _midi_to_hz(midi), start_s, bar_s, 0.35, sample_rate)
        start_s += bar_s
        bar += 1


def _add_note(out, genre, frequency_hz, start_s, length_s, amplitude, sample_rate) -> None:
    start = round(start_s * sample_rate)
    length = min(round(length_s * sample_rate), out.size - start)
    if length <= 0:
        return
    t = np.arange(length) / sample_rate
    phase = 2 * np.pi * frequency_hz * t

    if genre == "classical":
        vibrato = 0.004 * np.sin(2 * np.pi * 5.0 * t)
        tone = sum(np.sin(k * phase * (1 + vibrato)) / k**2 for k in range(1, 5))
        envelope = np.minimum(1.0, t / 0.08) * np.minimum(1.0, (length_s - t) / 0.08)
    elif genre == "rock":
        sawtooth = 2.0 * ((frequency_hz * t) % 1.0) - 1.0
        fifth = 2.0 * ((1.5 * frequency_hz * t) % 1.0) - 1.0
        tone = np.tanh(3.0 * (sawtooth + 0.7 * fifth))
        envelope = np.minimum(1.0, t / 0.005) * np.exp(-t / max(length_s, 1e-3))
    elif genre == "electronic":
        tone = np.sign(np.sin(phase)) * 0.6
        envelope = np.minimum(1.0, t / 0.002) * np.exp(-t / 0.12)
    else:  # pop: a piano-like decaying tone
        tone = sum(np.sin(k * phase) * np.exp(-t * k * 1.5) / k for k in range(1, 6))
        envelope = np.minimum(1.0, t / 0.003) * np.exp(-t / 0.6)
    out[start : start + length] += amplitude * tone * envelope


def _add_drums(out, genre, beat_s, sample_rate, rng) -> None:
    if genre == "classical":
        return
    kick = _kick(sample_rate)
    snare = _noise_hit(sample_rate, 0.12, 0.05, rng)
    hat = _noise_hit(sample_rate, 0.04, 0.01, rng)
    # Beats that get a kick and a snare within each four-beat bar.
    kick_beats, snare_beats, kick_gain, snare_gain = {
        "rock": ((0, 2), (1, 3), 1.0, 0.8),
        "electronic": ((0, 1, 2, 3), (), 1.2, 0.0),
        "pop": ((0, 2), (1, 3), 0.6, 0.4),
    }[genre]

    beat = 0
    while beat * beat_s < out.size / sample_rate:
        position = beat % 4
        if position in kick_beats:
            _mix_at(out, kick_gain * kick, beat * beat_s, sample_rate)
        if position in snare_beats:
            _mix_at(out, snare_gain * snare, beat * beat_s, sample_rate)
        if genre == "electronic":
            _mix_at(out, 0.5 * hat, (beat + 0.5) * beat_s, sample_rate)
        beat += 1


def _kick(sample_rate: int) -> np.ndarray:
    t = np.arange(round(0.15 * sample_rate)) / sample_rate
    frequency = 50.0 + 100.0 * np.exp(-t / 0.03)
    phase = 2 * np.pi * np.cumsum(frequency) / sample_rate
    return np.sin(phase) * np.exp(-t / 0.05)


def _noise_hit(sample_rate: int, length_s: float, decay_s: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(round(length_s * sample_rate)) / sample_rate
    return rng.standard_normal(t.size) * np.exp(-t / decay_s) * 0.5


def _mix_at(out: np.ndarray, hit: np.ndarray, start_s: float, sample_rate: int) -> None:
    start = round(start_s * sample_rate)
    length = min(hit.size, out.size - start)
    if length > 0:
        out[start : start + length] += hit[:length]
