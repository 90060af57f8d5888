"""Configuration of the batch-tagging job.

Values come, in increasing precedence, from the dataclass defaults below,
`configs/tag.yaml` (or the file given with `--config`), command-line options
and `key=value` overrides such as `ray.address=auto`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from moodflow.errors import MoodflowError

ENGINES = ("local", "ray")
DEFAULT_CONFIG_PATH = Path(__file__).resolve().parents[3] / "configs" / "tag.yaml"


class TaggingConfigError(MoodflowError):
    """A tagging configuration file or override is invalid."""


@dataclass
class RayConfig:
    address: str | None = None
    num_cpus: int = 2
    actors: int = 1
    gpus_per_actor: float = 0.0
    tracks_per_batch: int = 8


@dataclass
class TagConfig:
    engine: str = "local"
    workers: int = 2
    batch_size: int = 64
    device: str = "auto"
    torch_threads: int | None = None
    optimize: bool = True
    part_size: int = 64
    max_blocks_in_flight: int = 8
    block_seconds: float = 60.0
    min_duration_s: float = 1.0
    silence_threshold_dbfs: float | None = -60.0
    ray: RayConfig = field(default_factory=RayConfig)


def load_config(path: Path | None = None, overrides: dict | None = None, dotlist: list[str] | None = None) -> TagConfig:
    """Merge the defaults, a YAML file, option values and `key=value` overrides.

    `path=None` reads `configs/tag.yaml` of the source tree when it exists.
    `overrides` maps dotted keys to values and skips `None` values, so unset
    command-line options keep the file's value.
    """
    schema = OmegaConf.structured(TagConfig)
    layers = [schema]
    if path is None and DEFAULT_CONFIG_PATH.exists():
        path = DEFAULT_CONFIG_PATH
    try:
        if path is not None:
            if not Path(path).is_file():
                raise TaggingConfigError(f"config file not found: {path}")
            layers.append(OmegaConf.load(path))
        if overrides:
            set_values = [f"{key}={value}" for key, value in overrides.items() if value is not None]
            layers.append(OmegaConf.from_dotlist(set_values))
        if dotlist:
            layers.append(OmegaConf.from_dotlist(dotlist))
        merged = OmegaConf.merge(*layers)
    except OmegaConfBaseException as error:
        raise TaggingConfigError(f"invalid tagging config (file {path}, overrides {dotlist}): {error}") from error

    config: TagConfig = OmegaConf.to_object(merged)
    validate_config(config)
    return config


def validate_config(config: TagConfig) -> None:
    """Raise `TaggingConfigError` naming the first value out of its allowed range."""
    if config.engine not in ENGINES:
        raise TaggingConfigError(f"invalid engine {config.engine!r}; use one of {', '.join(ENGINES)}")
    positive = {
        "workers": config.workers,
        "batch_size": config.batch_size,
        "part_size": config.part_size,
        "max_blocks_in_flight": config.max_blocks_in_flight,
        "block_seconds": config.block_seconds,
        "ray.num_cpus": config.ray.num_cpus,
        "ray.actors": config.ray.actors,
        "ray.tracks_per_batch": config.ray.tracks_per_batch,
    }
    for name, value in positive.items():
        if value <= 0:
            raise TaggingConfigError(f"invalid {name} {value!r}; it must be greater than 0")
    if config.torch_threads is not None and config.torch_threads <= 0:
        raise TaggingConfigError(f"invalid torch_threads {config.torch_threads!r}; use a positive count or null")
    if config.min_duration_s < 0:
        raise TaggingConfigError(f"invalid min_duration_s {config.min_duration_s!r}; it must be 0 or more")
    if config.ray.gpus_per_actor < 0:
        raise TaggingConfigError(f"invalid ray.gpus_per_actor {config.ray.gpus_per_actor!r}; it must be 0 or more")


def available_cpus() -> int:
    """Return the CPUs this process may run on (the affinity mask, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not available on macOS
        return os.cpu_count() or 1


def inference_threads(config: TagConfig) -> int:
    """Return torch's intra-op thread count: the config's, or the CPUs the decoders leave free."""
    if config.torch_threads is not None:
        return config.torch_threads
    return max(1, available_cpus() - config.workers)
