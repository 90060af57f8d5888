"""Log-mel front end that runs inside the tagger network."""

from __future__ import annotations

import torch
import torchaudio
from torch import nn


class LogMelFrontEnd(nn.Module):
    """Turn waveforms `[batch, samples]` into log-mel spectrograms `[batch, 1, n_mels, frames]`.

    The output is `log10(mel_power + log_floor)`. The floor keeps silence finite:
    digital silence maps to `log10(log_floor)` instead of minus infinity.
    Frames are `samples // hop_length + 1` because the STFT is centred.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 512,
        hop_length: int = 256,
        n_mels: int = 96,
        f_min: float = 0.0,
        f_max: float | None = 8000.0,
        log_floor: float = 1e-6,
    ) -> None:
        super().__init__()
        if log_floor <= 0:
            raise ValueError(f"log_floor must be > 0 so that silence stays finite, got {log_floor}")
        self.sample_rate = sample_rate
        self.n_mels = n_mels
        self.hop_length = hop_length
        self.log_floor = log_floor
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate,
            n_fft=n_fft,
            hop_length=hop_length,
            n_mels=n_mels,
            f_min=f_min,
            f_max=f_max,
            power=2.0,
        )

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        mel_power = self.mel(waveforms)
        return torch.log10(mel_power + self.log_floor).unsqueeze(1)
