"""Model bundles: export a trained tagger to `models/<name>/` and load it back.

A bundle folder contains two files:

- `bundle.json`: format version, `model_id`, label vocabularies, sample rate,
  chunk length, the log-mel parameters and the architecture keywords of
  `build_tagger_net`, plus optional training metadata;
- `weights.pt`: the network's `state_dict`, loaded with `weights_only=True`.

`model_id` is a content hash of the weights and of everything in
`bundle.json` that changes predictions, so two bundles with the same id give
the same predictions. Loading recomputes it and rejects a bundle whose files
do not match.

Chunking rule (`split_into_chunks`), with `C = chunk_samples` and a clip of
`L > 0` samples:

- `L < C`: the clip is repeated end to end and cut to one chunk of `C`
  samples, so a short clip is tagged on its own content, not on silence;
- `L >= C`: chunks start at 0, C, 2C, ... and cover `L // C` full chunks. A
  remaining tail of at least `C / 2` samples adds one more chunk, the last
  `C` samples of the clip (overlapping the previous chunk), so no chunk is
  padded. A shorter tail is dropped.

So every clip gives `max(1, L // C + (1 if L % C >= C / 2 else 0))` chunks,
and the count depends only on `L`.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from moodflow.errors import MoodflowError
from moodflow.hashing import content_hash
from moodflow.tagger.network import TaggerNet, build_tagger_net

logger = logging.getLogger(__name__)

BUNDLE_FORMAT_VERSION = 1
CONFIG_FILE = "bundle.json"
WEIGHTS_FILE = "weights.pt"

DEFAULT_FRONT_END = {
    "sample_rate": 16000,
    "n_fft": 512,
    "hop_length": 256,
    "n_mels": 96,
    "f_min": 0.0,
    "f_max": 8000.0,
    "log_floor": 1e-6,
}
DEFAULT_BACKBONE = {"channels": [32, 64, 64, 128, 128], "embedding_dim": 128, "dropout": 0.3}


class BundleError(MoodflowError):
    """A model bundle is missing, incomplete, corrupt or inconsistent."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"model bundle {self.path}: {problem}")


class EmptyWaveformError(MoodflowError):
    """A waveform passed to the tagger has no samples."""


def compute_model_id(state_dict: dict[str, torch.Tensor], identity: dict[str, Any]) -> str:
    """Hash the weights (names, dtypes, shapes, bytes) and the identity fields of `bundle.json`."""
    parts: list[bytes | str] = [json.dumps(identity, sort_keys=True)]
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        parts.append(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}")
        parts.append(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return content_hash(parts)


def _identity_fields(config: dict[str, Any]) -> dict[str, Any]:
    """Return the fields of `bundle.json` that change predictions."""
    return {
        "format_version": config["format_version"],
        "mood_labels": config["mood_labels"],
        "genre_labels": config["genre_labels"],
        "sample_rate": config["sample_rate"],
        "chunk_samples": config["chunk_samples"],
        "architecture": config["architecture"],
    }


def count_chunks(n_samples: int, chunk_samples: int) -> int:
    """Return the number of chunks `split_into_chunks` makes of a clip of `n_samples`."""
    if n_samples <= 0:
        raise EmptyWaveformError(f"waveform has {n_samples} samples; the tagger needs at least 1")
    full, tail = divmod(n_samples, chunk_samples)
    return max(1, full + (1 if tail * 2 >= chunk_samples else 0))


def split_waveform(waveform: np.ndarray, chunk_samples: int) -> np.ndarray:
    """Cut a mono waveform into `[n_chunks, chunk_samples]` float32 by the rule in the module docstring."""
    waveform = np.asarray(waveform, dtype=np.float32)
    if waveform.ndim != 1:
        raise ValueError(f"expected a mono waveform of shape [samples], got shape {waveform.shape}")
    n_samples = waveform.shape[0]
    n_chunks = count_chunks(n_samples, chunk_samples)
    if n_samples < chunk_samples:
        repeats = math.ceil(chunk_samples / n_samples)
        return np.tile(waveform, repeats)[:chunk_samples][None, :].copy()

    starts = [index * chunk_samples for index in range(n_samples // chunk_samples)]
    if len(starts) < n_chunks:
        starts.append(n_samples - chunk_samples)
    return np.stack([waveform[start : start + chunk_samples] for start in starts])


@dataclass
class TaggerBundle:
    """A loaded tagger: the network in eval mode plus what is needed to feed it."""

    path: Path | None
    model_id: str
    mood_labels: list[str]
    genre_labels: list[str]
    sample_rate: int
    chunk_samples: int
    model: TaggerNet
    config: dict[str, Any] = field(repr=False)
    batch_size: int = 32
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def embedding_dim(self) -> int:
        return self.model.embedding_dim

    def split_into_chunks(self, waveform: np.ndarray) -> np.ndarray:
        """Return `[n_chunks, chunk_samples]` float32 chunks of a mono waveform at `sample_rate`."""
        return split_waveform(waveform, self.chunk_samples)

    def predict_chunks(self, chunks: np.ndarray) -> dict[str, np.ndarray]:
        """Return `mood_probs [n, n_moods]`, `genre_probs [n, n_genres]` and `embedding [n, dim]`.

        Moods are independent sigmoids, genres one softmax. Chunks run through
        the network in batches of `batch_size`.
        """
        chunks = np.asarray(chunks, dtype=np.float32)
        if chunks.ndim != 2 or chunks.shape[1] != self.chunk_samples:
            raise ValueError(
                f"expected chunks of shape [n_chunks, {self.chunk_samples}], got {chunks.shape}; "
                "use split_into_chunks to cut a waveform"
            )
        if chunks.shape[0] == 0:
            raise EmptyWaveformError("predict_chunks got 0 chunks; pass at least one")
        outputs: dict[str, list[np.ndarray]] = {"mood_probs": [], "genre_probs": [], "embedding": []}
        with torch.inference_mode():
            for start in range(0, chunks.shape[0], self.batch_size):
                batch = torch.from_numpy(chunks[start : start + self.batch_size]).to(self.device)
                result = self.model(batch)
                outputs["mood_probs"].append(torch.sigmoid(result["mood_logits"]).cpu().numpy())
                outputs["genre_probs"].append(torch.softmax(result["genre_logits"], dim=1).cpu().numpy())
                outputs["embedding"].append(result["embedding"].cpu().numpy())
        return {name: np.concatenate(parts).astype(np.float32) for name, parts in outputs.items()}

    def predict_track(self, waveform: np.ndarray) -> dict[str, np.ndarray]:
        """Return the mean of the chunk predictions of a whole track, plus `n_chunks`.

        `mood_probs [n_moods]`, `genre_probs [n_genres]` and `embedding [dim]`
        are float32 arrays; `n_chunks` is an int.
        """
        chunk_outputs = self.predict_chunks(self.split_into_chunks(waveform))
        track = {name: values.mean(axis=0) for name, values in chunk_outputs.items()}
        track["n_chunks"] = int(chunk_outputs["mood_probs"].shape[0])
        return track


def export_bundle(
    model: TaggerNet,
    path: str | Path,
    *,
    mood_labels: list[str],
    genre_labels: list[str],
    chunk_samples: int,
    architecture: dict[str, Any],
    metadata: dict[str, Any] | None = None,
) -> str:
    """Write `model` as a bundle into the folder `path` and return its `model_id`.

    `architecture` holds the `front_end` and `backbone` keywords of
    `build_tagger_net`. Existing bundle files in `path` are replaced.
    """
    path = Path(path)
    if len(mood_labels) != model.mood_head.out_features or len(genre_labels) != model.genre_head.out_features:
        raise ValueError(
            f"label vocabularies ({len(mood_labels)} moods, {len(genre_labels)} genres) do not match the "
            f"network heads ({model.mood_head.out_features} moods, {model.genre_head.out_features} genres)"
        )
    architecture = {"front_end": dict(architecture["front_end"]), "backbone": dict(architecture["backbone"])}
    architecture["backbone"]["channels"] = [int(c) for c in architecture["backbone"]["channels"]]
    state_dict = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    config: dict[str, Any] = {
        "format_version": BUNDLE_FORMAT_VERSION,
        "mood_labels": list(mood_labels),
        "genre_labels": list(genre_labels),
        "sample_rate": int(architecture["front_end"]["sample_rate"]),
        "chunk_samples": int(chunk_samples),
        "architecture": architecture,
    }
    config["model_id"] = compute_model_id(state_dict, _identity_fields(config))
    config["chunk_seconds"] = config["chunk_samples"] / config["sample_rate"]
    config["metadata"] = metadata or {}

    path.mkdir(parents=True, exist_ok=True)
    torch.save(state_dict, path / WEIGHTS_FILE)
    (path / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    logger.info("exported bundle %s to %s", config["model_id"], path)
    return config["model_id"]


def load_bundle(path: str | Path, device: str | torch.device = "cpu") -> TaggerBundle:
    """Load the bundle in folder `path`, check its `model_id` and return it with the model in eval mode.

    Raises `BundleError` naming the path when a file is missing or unreadable,
    a field is missing, or the weights do not match the recorded `model_id`.
    """
    path = Path(path)
    if not path.is_dir():
        raise BundleError(path, "folder not found; export one with `python train.py` or write_random_bundle")
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (path / name).is_file():
            raise BundleError(path, f"missing {name}; the bundle is incomplete, export it again")
    try:
        config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(path, f"{CONFIG_FILE} is not valid JSON ({error})") from error
    required = ("format_version", "model_id", "mood_labels", "genre_labels", "sample_rate", "chunk_samples", "architecture")
    missing = [key for key in required if key not in config]
    if missing:
        raise BundleError(path, f"{CONFIG_FILE} lacks field(s) {missing}")
    if config["format_version"] != BUNDLE_FORMAT_VERSION:
        raise BundleError(
            path, f"format_version {config['format_version']!r} is not supported; expected {BUNDLE_FORMAT_VERSION}"
        )

    try:
        state_dict = torch.load(path / WEIGHTS_FILE, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load raises many types on truncated or foreign files
        raise BundleError(path, f"{WEIGHTS_FILE} could not be read ({type(error).__name__}: {error})") from error
    found_id = compute_model_id(state_dict, _identity_fields(config))
    if found_id != config["model_id"]:
        raise BundleError(
            path, f"weights and config hash to {found_id}, but bundle.json records model_id {config['model_id']}; "
            "the files were changed or mixed up, export the bundle again"
        )

    architecture = config["architecture"]
    try:
        model = build_tagger_net(
            n_moods=len(config["mood_labels"]),
            n_genres=len(config["genre_labels"]),
            front_end=architecture["front_end"],
            backbone=architecture["backbone"],
        )
        model.load_state_dict(state_dict)
    except (KeyError, TypeError, RuntimeError, ValueError) as error:
        raise BundleError(path, f"weights do not fit the architecture in {CONFIG_FILE} ({error})") from error
    device = torch.device(device)
    model.to(device).eval()
    return TaggerBundle(
        path=path,
        model_id=config["model_id"],
        mood_labels=list(config["mood_labels"]),
        genre_labels=list(config["genre_labels"]),
        sample_rate=int(config["sample_rate"]),
        chunk_samples=int(config["chunk_samples"]),
        model=model,
        config=config,
        device=device,
    )


def write_random_bundle(
    path: str | Path,
    mood_labels: list[str],
    genre_labels: list[str],
    seed: int = 0,
    *,
    chunk_seconds: float = 3.0,
    front_end: dict[str, Any] | None = None,
    backbone: dict[str, Any] | None = None,
) -> str:
    """Write a randomly initialised bundle (seeded, untrained) and return its `model_id`.

    Tests of later stages use it to get a valid bundle without training. The
    same seed and arguments give the same `model_id`. The default backbone is
    small (channels 8, 16, 16, 32; embedding 32) so that such tests stay fast.
    """
    front_end = {**DEFAULT_FRONT_END, **(front_end or {})}
    backbone = {"channels": [8, 16, 16, 32], "embedding_dim": 32, "dropout": 0.0, **(backbone or {})}
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = build_tagger_net(len(mood_labels), len(genre_labels), front_end=front_end, backbone=backbone)
    finally:
        torch.random.set_rng_state(generator_state)
    chunk_samples = int(round(chunk_seconds * front_end["sample_rate"]))
    return export_bundle(
        model,
        path,
        mood_labels=mood_labels,
        genre_labels=genre_labels,
        chunk_samples=chunk_samples,
        architecture={"front_end": front_end, "backbone": backbone},
        metadata={"random_init_seed": seed, "trained": False},
    )
