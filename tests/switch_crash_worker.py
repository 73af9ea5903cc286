"""A job worker for the embedding-switch crash test: the real ``JobEngine`` with every fake embedder slowed
down per call and a few chunk texts per switch step, so a test can SIGKILL it in the middle of a switch.

    python tests/switch_crash_worker.py

``SWITCH_EMBED_DELAY`` (seconds per embedding call) and ``SWITCH_TEXTS_PER_STEP`` set the pace. The
process runs until killed."""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from lightfast.app import embedding_switch
from lightfast.app.container import build_services
from lightfast.app.engine import JobEngine, WorkerLock
from lightfast.embed.fake import FakeEmbedder
from lightfast.settings import Settings

_fast_embed = FakeEmbedder.embed_batch


def _slow_embed(self: FakeEmbedder, texts: list[str]) -> np.ndarray:
    time.sleep(float(os.environ.get("SWITCH_EMBED_DELAY", "0.2")))
    return _fast_embed(self, texts)


def main() -> None:
    # The pool builds the switch's target model itself, so the class is slowed, not one instance.
    FakeEmbedder.embed_batch = _slow_embed  # type: ignore[method-assign]
    embedding_switch.TEXTS_PER_STEP = int(os.environ.get("SWITCH_TEXTS_PER_STEP", "4"))
    settings = Settings()
    lock = WorkerLock(settings.home_dir)
    if not lock.acquire():
        print("another worker holds this LIGHTFAST_HOME", file=sys.stderr, flush=True)
        sys.exit(1)
    engine = JobEngine(build_services(settings)).start()
    print(f"worker {settings.worker_id} pid {os.getpid()} running ({engine})", file=sys.stderr, flush=True)
    while True:
        time.sleep(0.1)


if __name__ == "__main__":
    main()
