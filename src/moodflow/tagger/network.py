"""The tagger network: log-mel front end, short-chunk CNN backbone and two heads.

This module holds plain `nn.Module`s. Training lives apart in
`moodflow.tagger.module`, so a bundle can rebuild the network without Lightning.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torchaudio
from torch import nn

from moodflow.tagger.frontend import LogMelFrontEnd


class ConvBlock(nn.Module):
    """3x3 convolution, batch norm, ReLU and a max-pool over (mel, time)."""

    def __init__(self, in_channels: int, out_channels: int, pool: tuple[int, int]) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(pool, ceil_mode=True),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)


class ShortChunkCNN(nn.Module):
    """Short-chunk CNN over log-mel input `[batch, 1, n_mels, frames]`.

    Each block halves both axes. After the last block, the mel axis is reduced
    with a max and the time axis with mean plus max, so any chunk length works.
    The result passes through one dense layer, which gives the embedding.
    """

    def __init__(
        self,
        channels: Sequence[int] = (32, 64, 64, 128, 128),
        embedding_dim: int = 128,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.input_norm = nn.BatchNorm2d(1)
        blocks = []
        in_channels = 1
        for out_channels in channels:
            blocks.append(ConvBlock(in_channels, out_channels, pool=(2, 2)))
            in_channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.embedding = nn.Sequential(
            nn.Linear(2 * in_channels, embedding_dim),
            nn.BatchNorm1d(embedding_dim),
            nn.ReLU(inplace=True),
        )
        self.dropout = nn.Dropout(dropout)
        self.embedding_dim = embedding_dim

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        features = self.blocks(self.input_norm(log_mel))
        features = features.amax(dim=2)
        pooled = torch.cat([features.mean(dim=2), features.amax(dim=2)], dim=1)
        return self.embedding(pooled)


class SpecAugment(nn.Module):
    """SpecAugment-style masking of mel bands and frames, active only in training mode.

    Each example gets `n_masks` frequency masks of up to `freq_mask_bands` bands
    and `n_masks` time masks of up to `time_mask_frames` frames. Zero widths
    turn the matching masking off.
    """

    def __init__(self, freq_mask_bands: int = 0, time_mask_frames: int = 0, n_masks: int = 1) -> None:
        super().__init__()
        masks: list[nn.Module] = []
        for _ in range(n_masks):
            if freq_mask_bands > 0:
                masks.append(torchaudio.transforms.FrequencyMasking(freq_mask_bands, iid_masks=True))
            if time_mask_frames > 0:
                masks.append(torchaudio.transforms.TimeMasking(time_mask_frames, iid_masks=True))
        self.masks = nn.ModuleList(masks)

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        if not self.training or not self.masks:
            return log_mel
        # Masked cells take the example's mean, not 0, because 0 is a loud
        # value on a log10 power scale.
        fill = log_mel.mean(dim=(2, 3), keepdim=True)
        keep = torch.ones_like(log_mel)
        for mask in self.masks:
            keep = mask(keep)
        return torch.where(keep > 0, log_mel, fill)


class TaggerNet(nn.Module):
    """Waveform chunks in, mood logits, genre logits and embedding out.

    `forward(waveforms)` takes `[batch, samples]` float32 audio at
    `front_end.sample_rate` and returns a dict with `mood_logits [batch, n_moods]`,
    `genre_logits [batch, n_genres]` and `embedding [batch, embedding_dim]`.
    """

    def __init__(
        self,
        n_moods: int,
        n_genres: int,
        front_end: LogMelFrontEnd,
        backbone: ShortChunkCNN,
        spec_augment: SpecAugment | None = None,
    ) -> None:
        super().__init__()
        if n_moods < 0 or n_genres < 1:
            raise ValueError(f"need n_moods >= 0 and n_genres >= 1, got n_moods={n_moods}, n_genres={n_genres}")
        self.front_end = front_end
        self.spec_augment = spec_augment if spec_augment is not None else SpecAugment()
        self.backbone = backbone
        self.mood_head = nn.Linear(backbone.embedding_dim, n_moods)
        self.genre_head = nn.Linear(backbone.embedding_dim, n_genres)

    @property
    def embedding_dim(self) -> int:
        return self.backbone.embedding_dim

    def forward(self, waveforms: torch.Tensor) -> dict[str, torch.Tensor]:
        log_mel = self.spec_augment(self.front_end(waveforms))
        embedding = self.backbone(log_mel)
        dropped = self.backbone.dropout(embedding)
        return {
            "mood_logits": self.mood_head(dropped),
            "genre_logits": self.genre_head(dropped),
            "embedding": embedding,
        }


def build_tagger_net(
    n_moods: int,
    n_genres: int,
    front_end: dict,
    backbone: dict,
    spec_augment: dict | None = None,
) -> TaggerNet:
    """Build a `TaggerNet` from plain keyword dicts.

    The same dicts (without `spec_augment`, which only acts in training) are
    stored in a bundle's `bundle.json`, so a bundle rebuilds its network
    without Hydra.
    """
    return TaggerNet(
        n_moods=n_moods,
        n_genres=n_genres,
        front_end=LogMelFrontEnd(**front_end),
        backbone=ShortChunkCNN(**backbone),
        spec_augment=SpecAugment(**spec_augment) if spec_augment else None,
    )
