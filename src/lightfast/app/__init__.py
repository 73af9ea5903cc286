"""The application layer: the use cases every shell (API, CLI, MCP server, console, workers) calls, and
the composition root (``container``) that builds them from one Settings object."""
