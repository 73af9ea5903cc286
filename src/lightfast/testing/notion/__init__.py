"""A stand-in for Notion's REST API, for tests and benchmarks: see ``server.NotionStandIn``."""

from lightfast.testing.notion.server import NotionStandIn

__all__ = ["NotionStandIn"]
