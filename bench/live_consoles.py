"""Does a crowd of open consoles slow search? (issue 12: "100 open live consoles do not slow search")

Starts ``lightfast serve --no-worker`` in its own process on a fresh SQLite home (fake embedder, a few
hundred indexed documents, an API key), then times ``POST /v1/search`` over HTTP with no live stream
open and with ``--consoles`` open ``GET /v1/events`` streams (what each console tab holds), the two
configurations interleaved ``--rounds`` times so a change of machine load hits both alike.

    python bench/live_consoles.py --consoles 100 --searches 200 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from lightfast.app.container import build_services
from lightfast.insights.percentiles import nearest_rank_percentiles
from lightfast.settings import Settings

QUERIES = ["deploy rollback", "rotate signing keys", "incident review", "billing invoices", "on call"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def prepare(home: Path, documents: int) -> str:
    docs = home / "docs"
    docs.mkdir(parents=True)
    (docs / "lightfast.yml").write_text("version: 1\nstore: docs\ninclude:\n  - '**/*.md'\n")
    for number in range(documents):
        topic = QUERIES[number % len(QUERIES)]
        (docs / f"note-{number:04d}.md").write_text(f"# Note {number}\n\nAbout {topic}, part {number}.\n")
    settings = Settings(home=home, embedding_provider="fake")
    services = build_services(settings)
    try:
        services.ingest.ingest_path(docs)
        workspace = services.workspaces.workspace_id()
        return services.api_keys.create(workspace, "bench").secret
    finally:
        services.close()


class Consoles:
    """``count`` open event streams, each read continuously in one asyncio loop on its own thread."""

    def __init__(self, base: str, key: str, count: int) -> None:
        self.base, self.key, self.count = base, key, count
        self.opened = 0
        self.events = 0
        self._stop: asyncio.Event | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_until_complete, args=(self._run(),), daemon=True
        )

    async def _stream(self, client: httpx.AsyncClient) -> None:
        async with client.stream("GET", "/v1/events", params={"timeout": 3600}) as response:
            response.raise_for_status()
            self.opened += 1
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    self.events += 1

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        limits = httpx.Limits(max_connections=self.count + 10)
        headers = {"Authorization": f"Bearer {self.key}"}
        async with httpx.AsyncClient(
            base_url=self.base, headers=headers, limits=limits, timeout=None
        ) as client:
            tasks = [asyncio.create_task(self._stream(client)) for _ in range(self.count)]
            await self._stop.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self) -> Consoles:
        self._thread.start()
        deadline = time.monotonic() + 60
        while self.opened < self.count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {self.opened} of {self.count} streams opened")
            time.sleep(0.05)
        time.sleep(2)  # let the streams settle into their steady state (heartbeats, polls)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)


def searches(base: str, key: str, count: int) -> list[float]:
    timings: list[float] = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        for number in range(count):
            started = time.perf_counter()
            answer = client.post("/v1/search", json={"query": QUERIES[number % len(QUERIES)]})
            timings.append((time.perf_counter() - started) * 1000)
            answer.raise_for_status()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--consoles", type=int, default=100)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--documents", type=int, default=500)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="lightfast-consoles-"))
    key = prepare(home, args.documents)
    port = free_port()
    env = {
        **os.environ,
        "LIGHTFAST_HOME": str(home),
        "LIGHTFAST_EMBEDDING_PROVIDER": "fake",
        "LIGHTFAST_RATE_LIMIT_PER_MINUTE": "1000000",  # the bench, not the limiter, is measured
    }
    command = [sys.executable, "-m", "lightfast.cli", "serve", "--no-worker", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        searches(base, key, 20)  # warm-up
        print(f"load before: {os.getloadavg()}")
        results: dict[str, list[float]] = {"0 consoles": [], f"{args.consoles} consoles": []}
        for _ in range(args.rounds):
            results["0 consoles"] += searches(base, key, args.searches)
            with Consoles(base, key, args.consoles) as open_consoles:
                results[f"{args.consoles} consoles"] += searches(base, key, args.searches)
                print(f"  {open_consoles.opened} streams open, {open_consoles.events} events read")
            # The server notices a closed stream when its next write (at the latest the 15 s heartbeat)
            # fails; wait for that, so the next "0 consoles" run really has none.
            time.sleep(20)
        print(f"load after: {os.getloadavg()}")
        print("\n| open consoles | searches | p50 ms | p95 ms | p99 ms |\n|---|---:|---:|---:|---:|")
        for name, timings in results.items():
            p50, p95, p99 = nearest_rank_percentiles(timings, (50, 95, 99))
            print(f"| {name} | {len(timings)} | {p50:.1f} | {p95:.1f} | {p99:.1f} |")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
