"""Flow: moods, endless personal mixes steerable by mood, and new releases for a listener."""

from moodflow.flow.catalogue import Catalogue, UnknownTrackError, load_catalogue
from moodflow.flow.cursor import CursorError
from moodflow.flow.engine import FlowEngine
from moodflow.flow.moods import MoodVocabulary, UnknownMoodError
from moodflow.flow.profile import HistoryEntry
from moodflow.flow.session import FlowConfig, FlowRequest, FlowRequestError, FlowSession, NoTracksForMoodError

__all__ = [
    "Catalogue",
    "CursorError",
    "FlowConfig",
    "FlowEngine",
    "FlowRequest",
    "FlowRequestError",
    "FlowSession",
    "HistoryEntry",
    "MoodVocabulary",
    "NoTracksForMoodError",
    "UnknownMoodError",
    "UnknownTrackError",
    "load_catalogue",
]
