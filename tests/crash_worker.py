"""A job worker for the crash tests: ``lightfast worker`` with an embedder slowed down enough that a test
can SIGKILL it in the middle of a sync.

    python tests/crash_worker.py

Settings come from the ``LIGHTFAST_*`` environment like the real worker's; ``CRASH_EMBED_DELAY`` (seconds
per embedding call, default 0.25) sets the slowdown. The process runs until killed.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from lightfast.app.container import build_services
from lightfast.app.engine import JobEngine, WorkerLock
from lightfast.embed.fake import FakeEmbedder
from lightfast.settings import Settings


class SlowFakeEmbedder(FakeEmbedder):
    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        time.sleep(self.delay)
        return super().embed_batch(texts)


def main() -> None:
    settings = Settings()
    lock = WorkerLock(settings.home_dir)
    if not lock.acquire():
        print("another worker holds this LIGHTFAST_HOME", file=sys.stderr, flush=True)
        sys.exit(1)
    embedder = SlowFakeEmbedder(float(os.environ.get("CRASH_EMBED_DELAY", "0.25")))
    services = build_services(settings, embedder=embedder)
    engine = JobEngine(services).start()
    print(f"worker {settings.worker_id} pid {os.getpid()} running", file=sys.stderr, flush=True)
    while True:  # publish the dispatcher's tick count (LIGHTFAST_HOME/ticks) for tests that wait on it
        (settings.home_dir / "ticks.tmp").write_text(str(engine.ticks))
        (settings.home_dir / "ticks.tmp").replace(settings.home_dir / "ticks")
        time.sleep(0.05)


if __name__ == "__main__":
    main()
