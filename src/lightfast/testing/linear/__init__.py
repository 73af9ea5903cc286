"""A stand-in for Linear's GraphQL API, for tests and benchmarks: see ``server.LinearStandIn``."""

from lightfast.testing.linear.server import LinearStandIn

__all__ = ["LinearStandIn"]
