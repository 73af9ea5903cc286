"""A stand-in for Zendesk's Support and Help Center APIs, for tests and benchmarks: see
``server.ZendeskStandIn``."""

from lightfast.testing.zendesk.server import ZendeskStandIn

__all__ = ["ZendeskStandIn"]
