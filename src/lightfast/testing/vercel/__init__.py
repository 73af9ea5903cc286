"""A stand-in for Vercel's REST API, for tests and benchmarks: see ``server.VercelStandIn``."""

from lightfast.testing.vercel.server import VercelStandIn

__all__ = ["VercelStandIn"]
