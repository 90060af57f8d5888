"""Evidence columns of the space-valued blocks and the partner loss of the MLP."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

from moodflow.coldstart.assemble import warm_training_rows
from moodflow.coldstart.errors import ColdStartError
from moodflow.coldstart.features import ArtistCatalogue, FeatureTable, usage_block
from moodflow.coldstart.projector import FeatureLayout
from moodflow.coldstart.train import PartnerLoss, train_from_rows
from moodflow.space import MusicSpace

from coldstart_fixtures import build_small_space, linked_world, small_config, unit_rows


@pytest.fixture(scope="module")
def small_space():
    vectors = unit_rows(np.random.default_rng(0).normal(size=(6, 4))).astype(np.float32)
    return MusicSpace.from_vectors([f"w{index}" for index in range(6)], vectors)


def test_usage_evidence_counts_playlists_read(small_space):
    playlists_of = {"new": [["new", "w0"], ["w1", "new"], ["w2", "new"]], "one": [["one", "w3"]]}
    block = usage_block(small_space, ["new", "one", "none"], playlists_of, n_playlists=2)
    assert block.present.tolist() == [True, True, False]
    assert block.evidence[:, 0].tolist() == [2.0, 1.0, 0.0]


def test_artist_evidence_logs_track_count(small_space):
    metadata = pd.DataFrame({"track_id": ["w0", "w1", "w2", "new"], "artist": ["A", "A", "A", "A"]})
    block = ArtistCatalogue(small_space, metadata).warm_block(["w0", "new"])
    # w0 leaves itself out and keeps 2 tracks, while the new track uses all 3.
    np.testing.assert_allclose(block.evidence[:, 0], np.log1p([2, 3]))


def test_layout_appends_and_checks_evidence(small_space):
    playlists_of = {"new": [["new", "w0"], ["w1", "new"]]}
    table = FeatureTable(np.array(["new"]), {"usage": usage_block(small_space, ["new"], playlists_of, 2)})
    layout = FeatureLayout.fit(table, space_dim=4)
    assert layout.input_dim == 5
    x, _, _ = layout.encode(table)
    assert x[0, -1] == 2.0

    table.blocks["usage"].evidence = np.zeros((1, 3), dtype=np.float32)
    with pytest.raises(ColdStartError, match="3 evidence columns, the model expects 1"):
        layout.encode(table)


def _partner_settings(**overrides):
    settings = {"partner_temperature": 0.1, "partner_negatives": 6, "max_partners": 4}
    settings.update(overrides)
    return OmegaConf.create(settings)


def test_partner_loss_pulls_prediction_towards_partners():
    catalogue = np.eye(6, dtype=np.float32)
    partners = [np.array([2, 3])]
    loss = PartnerLoss(catalogue, partners, own_rows=np.array([0]), settings=_partner_settings(), rng=np.random.default_rng(0))
    prediction = torch.nn.functional.normalize(torch.ones(1, 6), dim=1).requires_grad_(True)
    value = loss(prediction, np.array([0]))
    value.backward()
    # Descending the gradient raises the partners' coordinates relative to the others.
    step = -prediction.grad[0]
    assert step[2] > step[4]
    assert step[3] > step[5]
    assert torch.isfinite(value)


def test_partner_loss_ignores_own_row():
    catalogue = np.eye(3, dtype=np.float32)
    loss = PartnerLoss(catalogue, [np.array([1])], own_rows=np.array([0]), settings=_partner_settings(), rng=np.random.default_rng(0))
    towards_self = loss(torch.tensor([[1.0, 0.0, 0.0]]), np.array([0]))
    neutral = loss(torch.tensor([[0.0, 0.0, 0.0]]), np.array([0]))
    # With its own row masked, pointing at the track itself scores like pointing nowhere.
    assert towards_self.item() == pytest.approx(neutral.item(), abs=1e-5)


def test_partner_loss_is_zero_without_partners():
    loss = PartnerLoss(np.eye(3, dtype=np.float32), [np.zeros(0, dtype=np.int64)], np.array([0]), _partner_settings(), np.random.default_rng(0))
    assert loss(torch.ones(1, 3), np.array([0])).item() == 0.0


def test_partner_training_gives_unit_vectors():
    playlists, _, _ = linked_world(seed=4, n_tracks=200, n_playlists=1500)
    space = build_small_space(playlists)
    config = small_config(**{
        "features.holdout_rounds": 2, "features.holdout_fraction": 0.2,
        "training.partner_weight": 0.05, "training.epochs": 5, "training.patience": 5,
    })
    rows = warm_training_rows(space, config, playlists=playlists)
    assert sum(len(partners) > 0 for partners in rows.partners) > len(rows.partners) // 2
    for own, partners in zip(space.rows_of(rows.table.track_ids), rows.partners):
        assert own not in set(partners.tolist())
    model = train_from_rows(rows, space, config, kinds=("mlp",))["mlp"]
    vectors = model.predict(rows.table)[rows.table.blocks["usage"].present]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
