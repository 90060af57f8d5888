"""Dataset manifests, adapters for public layouts, artist-grouped splits and the decoded-audio cache."""

from moodflow.data.adapters import (
    EMOTIFY_GENRE_LABELS,
    EMOTIFY_MOOD_LABELS,
    LabelledManifest,
    emotify_manifest,
    folder_genre_manifest,
    jamendo_manifest,
    read_jamendo_vocabulary,
)
from moodflow.data.cache import AudioCache
from moodflow.data.manifest import (
    BASE_COLUMNS,
    ManifestError,
    ManifestProblem,
    read_manifest,
    validate_manifest,
    write_manifest,
)
from moodflow.data.splits import Split, fold_of_rows, group_kfold, train_val_test_split

__all__ = [
    "BASE_COLUMNS",
    "EMOTIFY_GENRE_LABELS",
    "EMOTIFY_MOOD_LABELS",
    "AudioCache",
    "LabelledManifest",
    "ManifestError",
    "ManifestProblem",
    "Split",
    "emotify_manifest",
    "fold_of_rows",
    "folder_genre_manifest",
    "group_kfold",
    "jamendo_manifest",
    "read_jamendo_vocabulary",
    "read_manifest",
    "train_val_test_split",
    "validate_manifest",
    "write_manifest",
]
