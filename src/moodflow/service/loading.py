"""Start-up of the service: read the settings, load and cross-check the artifacts."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

import pandas as pd
from hydra.utils import instantiate
from omegaconf import OmegaConf

from moodflow.errors import MoodflowError
from moodflow.flow.catalogue import load_catalogue
from moodflow.flow.engine import FlowEngine
from moodflow.flow.moods import MoodVocabulary
from moodflow.flow.profile import HistoryEntry
from moodflow.flow.session import FlowConfig
from moodflow.tables import read_table

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_SERVE_CONFIG = REPO_ROOT / "configs" / "serve.yaml"


class ServiceConfigError(MoodflowError):
    """The service settings are incomplete or invalid."""


def load_settings(path: str | Path = DEFAULT_SERVE_CONFIG, overrides: list[str] = ()) -> dict:
    """Read the serve YAML and apply `key=value` overrides."""
    path = Path(path)
    if not path.exists():
        raise ServiceConfigError(f"service config not found: {path}")
    settings = OmegaConf.load(path)
    bad = [o for o in overrides if "=" not in o]
    if bad:
        raise ServiceConfigError(f"invalid override(s) {bad}; write key=value, e.g. space=outputs/space")
    unknown = [o.split("=", 1)[0] for o in overrides if o.split("=", 1)[0] not in settings]
    if unknown:
        raise ServiceConfigError(f"unknown setting(s) {unknown} in {path}; known: {', '.join(settings)}")
    settings = OmegaConf.merge(settings, OmegaConf.from_dotlist(list(overrides)))
    return OmegaConf.to_container(settings, resolve=True)


def load_flow_config(path: str | Path) -> FlowConfig:
    path = _repo_path(path)
    if not path.exists():
        raise ServiceConfigError(f"Flow config not found: {path}")
    return instantiate(OmegaConf.load(path), _convert_="all")


def cursor_secret(configured: str | None) -> bytes:
    value = configured or os.environ.get("MOODFLOW_CURSOR_SECRET")
    if value:
        return value.encode("utf-8")
    logger.warning("no cursor_secret set: using a random key, so cursors stop working when the server restarts")
    return secrets.token_bytes(32)


def load_listeners(path: str | Path) -> dict[str, tuple[HistoryEntry, ...]]:
    """Read stored histories: `listener_id, track_id[, plays][, last_played]` rows."""
    table = read_table(path, ("listener_id", "track_id"))
    plays = table["plays"] if "plays" in table.columns else pd.Series(1.0, index=table.index)
    last = table["last_played"] if "last_played" in table.columns else pd.Series(float("nan"), index=table.index)
    listeners: dict[str, list[HistoryEntry]] = {}
    for listener, track, count, when in zip(table["listener_id"].astype(str), table["track_id"].astype(str), plays, last):
        entry = HistoryEntry(track, float(count), None if pd.isna(when) else float(when))
        listeners.setdefault(listener, []).append(entry)
    return {listener: tuple(entries) for listener, entries in listeners.items()}


def limit_threads(threads: int) -> None:
    """Limit BLAS and Faiss (OpenMP) to `threads` threads per call.

    Requests run concurrently, so threads inside one search only compete
    with other requests. On a busy machine, OpenMP threads waiting for a
    core made HNSW searches several times slower.
    """
    import faiss
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    faiss.omp_set_num_threads(threads)
    logger.info("BLAS and Faiss limited to %d thread(s) per call", threads)


def build_engine(settings: dict) -> tuple[FlowEngine, dict]:
    """Load every artifact the settings name and return the engine and stored listeners."""
    for required in ("space", "moods"):
        if not settings.get(required):
            raise ServiceConfigError(f"setting {required!r} is missing; pass {required}=PATH")
    vocabulary = MoodVocabulary.load(_repo_path(settings["moods_config"]))
    flow_config = load_flow_config(settings["flow_config"])
    catalogue = load_catalogue(
        settings["space"],
        settings["moods"],
        vocabulary,
        index_folder=settings.get("index"),
        projections_path=settings.get("projections"),
        metadata_path=settings.get("metadata"),
        metadata_columns=settings.get("metadata_columns"),
    )
    listeners = load_listeners(settings["listeners"]) if settings.get("listeners") else {}
    engine = FlowEngine(catalogue, flow_config, cursor_secret(settings.get("cursor_secret")), int(settings["max_sessions"]))
    logger.info(
        "loaded space %s: %d tracks, %d new releases, %d stored listeners, search %s",
        catalogue.space_id, int((~catalogue.is_new_release).sum()), int(catalogue.is_new_release.sum()),
        len(listeners), "index" if catalogue.index is not None else "exact",
    )
    return engine, listeners


def _repo_path(path: str | Path) -> Path:
    """Resolve a relative config path against the working directory, then the repository."""
    path = Path(path)
    if path.is_absolute() or path.exists():
        return path
    return REPO_ROOT / path
