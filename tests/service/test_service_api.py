"""The HTTP API through FastAPI's test client, and once through a real uvicorn server."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from moodflow.flow.engine import FlowEngine
from moodflow.flow.moods import MoodVocabulary
from moodflow.flow.profile import HistoryEntry
from moodflow.flow.session import FlowConfig
from moodflow.flow.testing import make_catalogue
from moodflow.service.app import create_app

HISTORY = [{"track_id": f"t{i:05d}", "plays": 1 + i % 5, "last_played": 1.7e9 - i * 86_400 * 9} for i in range(0, 480, 8)]


@pytest.fixture(scope="module")
def engine() -> FlowEngine:
    return FlowEngine(make_catalogue(MoodVocabulary.load()), FlowConfig(), b"service-test")


@pytest.fixture(scope="module")
def client(engine):
    listeners = {"alice": tuple(HistoryEntry(h["track_id"], h["plays"], h["last_played"]) for h in HISTORY)}
    with TestClient(create_app(engine, listeners)) as test_client:
        yield test_client


def test_health_and_ready(client, engine):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["ready"] is True
    assert ready["space_id"] == engine.catalogue.space_id
    assert ready["tracks"] == 2000
    assert ready["new_releases"] == 40
    assert ready["search"] == "exact"


def test_openapi_served(client):
    schema = client.get("/openapi.json").json()
    assert {"/flow", "/new-releases", "/tracks/{track_id}/neighbours", "/tracks/{track_id}/moods"} <= set(schema["paths"])


def test_neighbours(client):
    response = client.get("/tracks/t00000/neighbours", params={"k": 5})
    assert response.status_code == 200
    neighbours = response.json()["neighbours"]
    assert len(neighbours) == 5
    assert "t00000" not in {n["track_id"] for n in neighbours}
    similarities = [n["similarity"] for n in neighbours]
    assert similarities == sorted(similarities, reverse=True)


def test_neighbours_unknown_track(client):
    response = client.get("/tracks/nope/neighbours")
    assert response.status_code == 404
    assert "'nope'" in response.json()["detail"]


def test_neighbours_k_out_of_range(client):
    response = client.get("/tracks/t00000/neighbours", params={"k": 100000})
    assert response.status_code == 400
    assert "100000" in response.json()["detail"]


def test_track_moods(client):
    body = client.get("/tracks/t00001/moods").json()
    assert body["source"] == "tagger"
    assert set(body["moods"]) == {"chill", "energetic", "melancholy", "tender", "focus", "party"}
    assert body["moods"]["energetic"] > 0.5


def test_flow_pages_follow_cursor(client):
    first = client.post("/flow", json={"history": HISTORY, "seed": 4})
    assert first.status_code == 200
    first = first.json()
    assert len(first["tracks"]) == 20
    second = client.post("/flow", json={"history": HISTORY, "seed": 4, "cursor": first["next_cursor"]}).json()
    assert second["page"] == 1
    assert not {t["track_id"] for t in first["tracks"]} & {t["track_id"] for t in second["tracks"]}
    cursor_only = client.post("/flow", json={"cursor": first["next_cursor"]}).json()
    assert cursor_only == second


def test_flow_mood(client):
    body = client.post("/flow", json={"history": HISTORY, "mood": "chill"}).json()
    assert body["mood"] == "chill"
    assert body["mood_mode"] == "filter"
    assert all(t["moods"]["chill"] >= 0.5 for t in body["tracks"])


def test_flow_stored_listener(client):
    by_id = client.post("/flow", json={"listener_id": "alice"}).json()
    by_body = client.post("/flow", json={"history": HISTORY}).json()
    assert by_id["session"] == by_body["session"]
    assert client.get("/listeners/alice/flow").json()["session"] == by_body["session"]
    unknown = client.post("/flow", json={"listener_id": "bob"})
    assert unknown.status_code == 404
    assert "'bob'" in unknown.json()["detail"]


def test_flow_empty_history_is_stated(client):
    body = client.post("/flow", json={"history": []}).json()
    assert body["start"] == "popularity"
    assert "history is empty" in body["notes"][0]


@pytest.mark.parametrize(
    ("payload", "status", "fragment"),
    [
        ({"history": HISTORY, "mood": "grumpy"}, 400, "'grumpy'"),
        ({"history": HISTORY, "mood": "chill", "threshold": 0.99}, 422, "lower the threshold"),
        ({"history": HISTORY, "mood": "chill", "threshold": 3}, 400, "threshold"),
        ({"history": HISTORY, "cursor": "not-a-cursor"}, 400, "not-a-cursor"),
        ({"history": [{"track_id": "t00000", "plays": -2}]}, 400, "plays"),
        ({"history": HISTORY, "mood_mode": "shuffle", "mood": "chill"}, 400, "'shuffle'"),
        ({"history": HISTORY, "listener_id": "alice"}, 400, "not both"),
    ],
)
def test_flow_bad_input(client, payload, status, fragment):
    response = client.post("/flow", json=payload)
    assert response.status_code == status
    assert fragment in response.json()["detail"]


def test_flow_cursor_of_other_session(client):
    cursor = client.post("/flow", json={"history": HISTORY, "seed": 1}).json()["next_cursor"]
    response = client.post("/flow", json={"history": HISTORY, "seed": 2, "cursor": cursor})
    assert response.status_code == 409
    assert "belongs to session" in response.json()["detail"]


def test_malformed_json(client):
    response = client.post("/flow", content=b'{"history": [', headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_huge_history_capped_and_stated(client):
    history = [{"track_id": f"t{i:05d}"} for i in range(2000)] + [{"track_id": f"x{i}"} for i in range(3000)]
    body = client.post("/flow", json={"history": history}).json()
    assert any("capped to the 2000" in note for note in body["notes"])
    assert len(body["tracks"]) == 20


def test_new_releases(client):
    body = client.post("/new-releases", json={"history": HISTORY, "k": 5}).json()
    assert len(body["releases"]) == 5
    assert all(r["new_release"] for r in body["releases"])
    moody = client.get("/listeners/alice/new-releases", params={"mood": "chill", "k": 50}).json()
    assert all(r["moods"]["chill"] >= 0.5 for r in moody["releases"])


def test_requests_logged_with_latency(client, caplog):
    with caplog.at_level("INFO", logger="moodflow.service.app"):
        client.get("/health")
    assert any("GET /health 200" in r.getMessage() and r.getMessage().endswith("ms") for r in caplog.records)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_real_uvicorn_server(engine):
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(engine), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            assert http.get("/health").json() == {"status": "ok"}
            page = http.post("/flow", json={"history": HISTORY, "mood": "energetic"}).json()
            assert len(page["tracks"]) == 20
            follow = http.post("/flow", json={"cursor": page["next_cursor"]})
            assert follow.status_code == 200
            assert follow.json()["page"] == 1
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_flow_cursor_of_stale_space(client, engine):
    cursor = client.post("/flow", json={"history": HISTORY}).json()["next_cursor"]
    rebuilt = make_catalogue(MoodVocabulary.load())
    rebuilt.space_id = "rebuiltspace0000"
    stale_app = create_app(FlowEngine(rebuilt, FlowConfig(), b"service-test"))
    with TestClient(stale_app) as stale_client:
        response = stale_client.post("/flow", json={"history": HISTORY, "cursor": cursor})
    assert response.status_code == 410
    assert "rebuiltspace0000" in response.json()["detail"]


def test_cursor_only_after_eviction(engine):
    small = FlowEngine(engine.catalogue, FlowConfig(), b"service-test", max_sessions=1)
    with TestClient(create_app(small)) as small_client:
        cursor = small_client.post("/flow", json={"history": HISTORY, "seed": 1}).json()["next_cursor"]
        small_client.post("/flow", json={"history": HISTORY, "seed": 2})
        response = small_client.post("/flow", json={"cursor": cursor})
    assert response.status_code == 410
    assert "send the history again" in response.json()["detail"]
