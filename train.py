"""Train the mood and genre tagger: `python train.py [hydra overrides]`.

Composes `configs/train.yaml`, trains, exports the bundle to
`models/<bundle_name>/` and returns the monitored validation metric, so a
Hydra sweeper can optimise it. Example:

    python train.py data=emotify data.root=../shared/data/emotify trainer.max_epochs=30
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

REPO_ROOT = Path(__file__).resolve().parent
os.environ.setdefault("MOODFLOW_ROOT", str(REPO_ROOT))

logger = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from moodflow.tagger.training import run_training

    result = run_training(cfg)
    logger.info("monitored metric %s = %s, bundle %s (model_id %s)", cfg.monitor, result.metric, result.bundle_dir, result.model_id)
    return result.metric


if __name__ == "__main__":
    main()
