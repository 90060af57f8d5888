"""Load-test `moodflow serve` on 127.0.0.1 with wrk or an async httpx client.

Starts the server as a subprocess on a free loopback port with the given
settings and waits for /ready. Then, for each scenario and concurrency, it
runs `concurrency` clients in closed loops for `--seconds` and prints a
Markdown table of throughput, p50/p99 latency and errors. The client and the
server share the machine's cores, so the figures include the client's cost.

Scenarios:
- `flow first page`: a new session per request (stored listener, random seed);
- `flow next page`: clients walk their own sessions by cursor;
- `flow mood first page`: a new Flow Mood session per request (random mood);
- `neighbours`: GET /tracks/{id}/neighbours?k=20;
- `moods`: GET /tracks/{id}/moods;
- `new releases` (only when the server has new releases).

    nice -n 10 .venv/bin/python scripts/loadtest_flow.py --client wrk --seconds 8 -- \\
        space=outputs/flow-aotm/space index=outputs/flow-aotm/index \\
        moods=outputs/flow-aotm/moods-serve.parquet projections=outputs/flow-aotm/projections.parquet \\
        listeners=outputs/flow-aotm/listeners.csv

The artifacts come from scripts/bench_flow_aotm.py (space, index, listeners),
scripts/loadtest_flow_releases.py with `moodflow coldstart train|project`
(projections) and `moodflow flow moods --projections` (moods-serve.parquet).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each scenario at each concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--scenarios", nargs="*", help="run only these scenarios")
    parser.add_argument("--server-log", type=Path, default=Path("outputs/loadtest-server.log"))
    parser.add_argument("--client", choices=("httpx", "wrk"), default="httpx",
                        help="load generator: wrk (the Debian package, lighter) or Python httpx")
    parser.add_argument("settings", nargs="*", help="`moodflow serve` settings as key=value")
    args = parser.parse_args()

    settings = dict(s.split("=", 1) for s in args.settings)
    listeners = pd.read_csv(settings["listeners"])["listener_id"].astype(str).unique().tolist()
    port = _free_port()
    args.server_log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "moodflow.cli", "serve", *args.settings, "host=127.0.0.1", f"port={port}",
               "cursor_secret=loadtest"]
    with open(args.server_log, "w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "MOODFLOW_LOG_LEVEL": "INFO"})
        try:
            asyncio.run(_run_all(f"http://127.0.0.1:{port}", listeners, args))
        finally:
            server.terminate()
            server.wait(timeout=30)


async def _run_all(base_url: str, listeners: list[str], args) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0, limits=httpx.Limits(max_connections=max(args.concurrency))) as client:
        ready = await _wait_ready(client)
        print(f"server ready: {ready['tracks']} tracks, {ready['new_releases']} new releases, search {ready['search']}, "
              f"{len(listeners)} stored listeners")
        moods = ready["moods"]
        track_ids = await _sample_tracks(client, listeners[:50])
        # Scenario name -> (untimed preparation or None, timed request).
        scenarios = {
            "flow first page": (None, lambda rng, state: _flow_first(client, rng, listeners, None)),
            "flow next page": (
                lambda rng, state: _start_session(client, rng, listeners, state),
                lambda rng, state: _flow_next(client, state),
            ),
            "flow mood first page": (None, lambda rng, state: _flow_first(client, rng, listeners, moods)),
            "neighbours": (None, lambda rng, state: client.get(f"/tracks/{rng.choice(track_ids)}/neighbours", params={"k": 20})),
            "moods": (None, lambda rng, state: client.get(f"/tracks/{rng.choice(track_ids)}/moods")),
        }
        if ready["new_releases"]:
            scenarios["new releases"] = (
                None, lambda rng, state: client.get(f"/listeners/{rng.choice(listeners)}/new-releases"),
            )
        if args.scenarios:
            scenarios = {name: run for name, run in scenarios.items() if name in args.scenarios}

        print(f"\n| endpoint | client | concurrency | requests | throughput (req/s) | p50 (ms) | p99 (ms) | errors |")
        print("|---|---|---|---|---|---|---|---|")
        for name, (prepare, request) in scenarios.items():
            for concurrency in args.concurrency:
                if args.client == "wrk" and name in WRK_SCENARIOS:
                    cursors = await _first_cursors(client, listeners, 200) if name == "flow next page" else []
                    row = _run_wrk(base_url, name, concurrency, args.seconds, listeners, track_ids, moods, cursors)
                    print(f"| {name} | wrk | {concurrency} | " + " | ".join(row) + " |", flush=True)
                    continue
                latencies, errors, elapsed = await _closed_loop(prepare, request, concurrency, args.seconds)
                p50, p99 = np.percentile(latencies, [50, 99]) if latencies else (float("nan"), float("nan"))
                print(f"| {name} | httpx | {concurrency} | {len(latencies)} | {len(latencies) / elapsed:.0f} | "
                      f"{p50:.1f} | {p99:.1f} | {errors} |", flush=True)


async def _wait_ready(client: httpx.AsyncClient) -> dict:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            response = await client.get("/ready")
            if response.status_code == 200:
                return response.json()
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.5)
    raise TimeoutError("the server did not become ready within 300 s; see the server log")


async def _sample_tracks(client, listeners) -> list[str]:
    tracks = []
    for listener in listeners:
        page = (await client.post("/flow", json={"listener_id": listener})).json()
        tracks += [t["track_id"] for t in page["tracks"]]
    return tracks


async def _flow_first(client, rng, listeners, moods):
    body = {"listener_id": rng.choice(listeners), "seed": rng.randrange(1 << 30)}
    if moods:
        body["mood"] = rng.choice(moods)
        body["mood_mode"] = "rerank"
    return await client.post("/flow", json=body)


async def _start_session(client, rng, listeners, state) -> None:
    """Start a session for this client unless it has a cursor to follow."""
    while state.get("cursor") is None:
        first = await client.post("/flow", json={"listener_id": rng.choice(listeners), "seed": rng.randrange(1 << 30)})
        state["cursor"] = first.json()["next_cursor"]


async def _flow_next(client, state):
    response = await client.post("/flow", json={"cursor": state["cursor"]})
    state["cursor"] = response.json().get("next_cursor") if response.status_code == 200 else None
    return response


async def _closed_loop(prepare, request, concurrency: int, seconds: float):
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def worker(number: int) -> None:
        nonlocal errors
        rng = random.Random(number)
        state: dict = {}
        while time.perf_counter() < stop:
            if prepare is not None:
                await prepare(rng, state)
            started = time.perf_counter()
            try:
                response = await request(rng, state)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append((time.perf_counter() - started) * 1000.0)
            else:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return latencies, errors, time.perf_counter() - started


WRK_SCENARIOS = ("flow first page", "flow next page", "flow mood first page", "neighbours", "moods", "new releases")


async def _first_cursors(client, listeners: list[str], count: int) -> list[str]:
    """Start `count` new sessions (untimed) and return their cursors to page 1."""
    cursors = []
    for i in range(count):
        page = await client.post("/flow", json={"listener_id": listeners[i % len(listeners)], "seed": 10_000_000 + i})
        cursors.append(page.json()["next_cursor"])
    return cursors


def _run_wrk(base_url, name, concurrency, seconds, listeners, track_ids, moods, cursors) -> list[str]:
    """Run wrk (one thread, `concurrency` connections) and return the table cells after the concurrency."""
    script = _wrk_script(name, listeners, track_ids, moods, cursors)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        output = subprocess.run(
            ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--timeout", "30s", "--latency", "-s", handle.name, base_url],
            capture_output=True, text=True, check=True, timeout=seconds + 60,
        ).stdout
    finally:
        os.unlink(handle.name)
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    throughput = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    percentiles = {p: _milliseconds(v) for p, v in re.findall(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+\w+)\s*$", output, re.M)}
    if set(percentiles) != {"50", "99"}:
        raise RuntimeError(f"could not read the 50% and 99% latencies from wrk's output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = 0
    if non_2xx:
        errors += int(non_2xx.group(1))
    if socket:
        errors += sum(int(count) for count in socket.groups())
    return [str(requests), f"{throughput:.0f}", f"{percentiles['50']:.1f}", f"{percentiles['99']:.1f}", str(errors)]


def _milliseconds(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def _wrk_script(name: str, listeners: list[str], track_ids: list[str], moods: list[str], cursors: list[str]) -> str:
    """Return a wrk Lua script that sends `name` requests with random listeners or tracks.

    For `flow next page`, a queue starts with one cursor per session; every
    response's next_cursor joins the queue, so the sessions are walked page by page.
    """
    listener_list = ",".join(json.dumps(listener) for listener in listeners)
    track_list = ",".join(json.dumps(track) for track in track_ids)
    mood_list = ",".join(json.dumps(mood) for mood in moods)
    bodies = {
        "flow first page": 'wrk.format("POST", "/flow", headers, \'{"listener_id":"\' .. pick(listeners) .. \'","seed":\' .. math.random(1000000) .. "}")',
        "flow mood first page": 'wrk.format("POST", "/flow", headers, \'{"listener_id":"\' .. pick(listeners) .. \'","seed":\' .. math.random(1000000) .. \',"mood":"\' .. pick(moods) .. \'","mood_mode":"rerank"}\')',
        "neighbours": 'wrk.format("GET", "/tracks/" .. pick(tracks) .. "/neighbours?k=20")',
        "moods": 'wrk.format("GET", "/tracks/" .. pick(tracks) .. "/moods")',
        "new releases": 'wrk.format("GET", "/listeners/" .. pick(listeners) .. "/new-releases")',
        "flow next page": 'wrk.format("POST", "/flow", headers, \'{"cursor":"\' .. next_cursor() .. \'"}\')',
    }
    cursor_list = ",".join(json.dumps(cursor) for cursor in cursors)
    walk = f"""
local queue = {{{cursor_list}}}
local first = {{{cursor_list}}}
function next_cursor()
  local cursor = table.remove(queue, 1)
  if cursor == nil then cursor = pick(first) end
  return cursor
end
response = function(status, headers, body)
  local cursor = body:match('"next_cursor":"([^"]+)"')
  if cursor then table.insert(queue, cursor) end
end
""" if cursors else ""
    return f"""
local listeners = {{{listener_list}}}
local tracks = {{{track_list}}}
local moods = {{{mood_list}}}
local headers = {{["Content-Type"] = "application/json"}}
math.randomseed(1)
function pick(items) return items[math.random(#items)] end
{walk}
request = function() return {bodies[name]} end
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    main()
