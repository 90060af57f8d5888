"""Cold start: place new releases in the music space from their content features.

`moodflow coldstart train` learns, on warm tracks, a projection from content
features (audio, artist, early usage and descriptors, each optional) to
space vectors. `moodflow coldstart project` applies it to new releases and
writes `projections.parquet`.
"""

from moodflow.coldstart.errors import AmbiguousArtistError, ColdStartError, EmbeddingSizeError, NoTrainingDataError
from moodflow.coldstart.features import ArtistCatalogue, FeatureBlock, FeatureTable
from moodflow.coldstart.foldin import fold_in
from moodflow.coldstart.projector import ColdStartModel, FeatureLayout, write_projections
from moodflow.coldstart.train import train_models

__all__ = [
    "AmbiguousArtistError",
    "ArtistCatalogue",
    "ColdStartError",
    "ColdStartModel",
    "EmbeddingSizeError",
    "FeatureBlock",
    "FeatureLayout",
    "FeatureTable",
    "NoTrainingDataError",
    "fold_in",
    "train_models",
    "write_projections",
]
