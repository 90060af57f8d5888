"""Batched inference over chunk messages and per-track averaging, shared by both engines.

A track's prediction is the mean over its chunks of the sigmoid mood
probabilities, the softmax genre probabilities and the embedding, as in
`TaggerBundle.predict_track`. Chunks of one track may be spread over many
batches, and batches mix tracks, so the engines keep running float64 sums
per track (`ChunkSums`) and divide once all of a track's chunks are in.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from moodflow.tagger.bundle import TaggerBundle
from moodflow.tagging.inputs import TrackInput

logger = logging.getLogger(__name__)


@dataclass
class ChunkSums:
    """Sums of the chunk predictions of one chunk message, and its chunk count."""

    mood: np.ndarray
    genre: np.ndarray
    embedding: np.ndarray
    n_chunks: int


class ChunkPredictor:
    """The bundle's `predict_chunks`, optionally on a traced and frozen copy of the network.

    With `optimize`, the network is converted to the channels-last memory
    layout, traced with `torch.jit.trace` and frozen, which folds batch norm
    into the convolutions. On the shared 2-core development machine this made
    a batch of 32 three-second chunks about 2.5 times faster on one thread.
    Outputs differ from eager mode by about 1e-7. If tracing fails, the eager
    network is used and a warning is logged.
    """

    def __init__(self, bundle: TaggerBundle, batch_size: int, optimize: bool = True) -> None:
        self.bundle = bundle
        self.batch_size = batch_size
        self.network: torch.nn.Module | torch.jit.ScriptModule = bundle.model
        if optimize:
            self.network = self._optimized(bundle)

    @staticmethod
    def _optimized(bundle: TaggerBundle):
        example = torch.zeros(2, bundle.chunk_samples, device=bundle.device)
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore", torch.jit.TracerWarning)
                # NOTE: torch 2.14 deprecates jit.trace and jit.freeze (FutureWarning) in
                # favour of torch.compile, which was not tried here.
                warnings.simplefilter("ignore", FutureWarning)
                network = bundle.model.to(memory_format=torch.channels_last)
                return torch.jit.freeze(torch.jit.trace(network, example, strict=False))
        except (RuntimeError, TypeError) as error:
            logger.warning("tracing the tagger network failed (%s); running it in eager mode", error)
            return bundle.model

    def predict(self, chunks: np.ndarray) -> dict[str, np.ndarray]:
        """Return `mood_probs`, `genre_probs` and `embedding` per chunk, as `TaggerBundle.predict_chunks` does."""
        outputs: dict[str, list[np.ndarray]] = {"mood_probs": [], "genre_probs": [], "embedding": []}
        with torch.inference_mode():
            for start in range(0, chunks.shape[0], self.batch_size):
                batch = torch.from_numpy(chunks[start : start + self.batch_size]).to(self.bundle.device)
                result = self.network(batch)
                outputs["mood_probs"].append(torch.sigmoid(result["mood_logits"]).cpu().numpy())
                outputs["genre_probs"].append(torch.softmax(result["genre_logits"], dim=1).cpu().numpy())
                outputs["embedding"].append(result["embedding"].cpu().numpy())
        return {name: np.concatenate(parts).astype(np.float32, copy=False) for name, parts in outputs.items()}


def infer_chunk_groups(predictor: ChunkPredictor, groups: list[np.ndarray]) -> list[ChunkSums]:
    """Run the model once over the chunks of all `groups` and return the sums per group.

    `groups[i]` has shape `[n_i, chunk_samples]`. The model runs on their
    concatenation in batches of `predictor.batch_size` chunks.
    """
    outputs = predictor.predict(np.concatenate(groups))
    sums = []
    start = 0
    for group in groups:
        stop = start + group.shape[0]
        sums.append(
            ChunkSums(
                mood=outputs["mood_probs"][start:stop].sum(axis=0, dtype=np.float64),
                genre=outputs["genre_probs"][start:stop].sum(axis=0, dtype=np.float64),
                embedding=outputs["embedding"][start:stop].sum(axis=0, dtype=np.float64),
                n_chunks=group.shape[0],
            )
        )
        start = stop
    return sums


@dataclass
class _TrackState:
    track: TrackInput
    mood: np.ndarray
    genre: np.ndarray
    embedding: np.ndarray
    n_chunks: int = 0
    n_results: int = 0
    duration_s: float | None = None
    expected_results: int | None = None


@dataclass
class TrackResult:
    """A finished track: the averaged predictions, ready to become an output row."""

    track: TrackInput
    duration_s: float
    n_chunks: int
    mood: np.ndarray
    genre: np.ndarray
    embedding: np.ndarray


@dataclass
class TrackFailure:
    track: TrackInput
    error_class: str
    message: str


@dataclass
class TrackAssembler:
    """Collect chunk sums and end messages per track, in any order, and release finished tracks.

    A track is finished when its done message has arrived and as many chunk
    results as that message announced. An error message finishes the track
    as failed and drops its sums; results that arrive later for it are ignored.
    """

    n_moods: int
    n_genres: int
    embedding_dim: int
    _states: dict[str, _TrackState] = field(default_factory=dict)
    _failed: set[str] = field(default_factory=set)
    finished: list[TrackResult | TrackFailure] = field(default_factory=list)

    def _state(self, track: TrackInput) -> _TrackState:
        state = self._states.get(track.track_id)
        if state is None:
            state = _TrackState(
                track=track,
                mood=np.zeros(self.n_moods, dtype=np.float64),
                genre=np.zeros(self.n_genres, dtype=np.float64),
                embedding=np.zeros(self.embedding_dim, dtype=np.float64),
            )
            self._states[track.track_id] = state
        return state

    def add_sums(self, track: TrackInput, sums: ChunkSums) -> None:
        if track.track_id in self._failed:
            return
        state = self._state(track)
        state.mood += sums.mood
        state.genre += sums.genre
        state.embedding += sums.embedding
        state.n_chunks += sums.n_chunks
        state.n_results += 1
        self._release_if_complete(state)

    def add_done(self, track: TrackInput, duration_s: float, n_chunk_messages: int) -> None:
        if track.track_id in self._failed:
            return
        state = self._state(track)
        state.duration_s = duration_s
        state.expected_results = n_chunk_messages
        self._release_if_complete(state)

    def add_error(self, track: TrackInput, error_class: str, message: str) -> None:
        if track.track_id in self._failed:
            return
        self._states.pop(track.track_id, None)
        self._failed.add(track.track_id)
        self.finished.append(TrackFailure(track, error_class, message))

    def take_finished(self) -> list[TrackResult | TrackFailure]:
        finished, self.finished = self.finished, []
        return finished

    @property
    def n_open(self) -> int:
        return len(self._states)

    def _release_if_complete(self, state: _TrackState) -> None:
        if state.expected_results is None or state.n_results < state.expected_results:
            return
        del self._states[state.track.track_id]
        count = max(state.n_chunks, 1)
        self.finished.append(
            TrackResult(
                track=state.track,
                duration_s=float(state.duration_s),
                n_chunks=state.n_chunks,
                mood=(state.mood / count).astype(np.float32),
                genre=(state.genre / count).astype(np.float32),
                embedding=(state.embedding / count).astype(np.float32),
            )
        )
