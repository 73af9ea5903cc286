"""A stand-in for Sentry's REST API, for tests and benchmarks: see ``server.SentryStandIn``."""

from lightfast.testing.sentry.server import SentryStandIn

__all__ = ["SentryStandIn"]
