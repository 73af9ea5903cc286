"""The HTTP edge: FastAPI routers and the mapping of errors to HTTP."""
