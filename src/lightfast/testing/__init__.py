"""The test kit: stand-ins of outside systems and fakes of the ports, for Lightfast's own tests and for
projects that test against Lightfast.

- :mod:`lightfast.testing.github`: a local stand-in of the GitHub REST API a GitHub App uses.
- :mod:`lightfast.testing.cohere`, :mod:`lightfast.testing.openai`, :mod:`lightfast.testing.rerank`: local
  stand-ins of Cohere's embed and rerank API, OpenAI's embeddings API (and so of OpenAI-compatible servers),
  and the text-embeddings-inference and Jina rerank APIs; real HTTP servers with scripted faults.
- :class:`FakeEmbedder`, :class:`WordTokenizer`: a deterministic embedder (``embedding_provider="fake"``).
- :class:`FakeClock`: a clock tests move by hand; the job engine reads time through it.
- :mod:`lightfast.testing.plugin`: pytest fixtures (``lightfast_settings``, ``lightfast_services``,
  ``lightfast_client``, ...), registered as the ``lightfast`` pytest plugin.

The names are imported on first use, so loading the pytest plugin costs next to nothing.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lightfast.embed.fake import FAKE_SPEC, FakeEmbedder, WordTokenizer
    from lightfast.testing.clock import FakeClock

__all__ = ["FAKE_SPEC", "FakeClock", "FakeEmbedder", "WordTokenizer"]

_FROM = {
    "FAKE_SPEC": "lightfast.embed.fake",
    "FakeEmbedder": "lightfast.embed.fake",
    "WordTokenizer": "lightfast.embed.fake",
    "FakeClock": "lightfast.testing.clock",
}


def __getattr__(name: str) -> Any:
    if name in _FROM:
        from importlib import import_module

        return getattr(import_module(_FROM[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
