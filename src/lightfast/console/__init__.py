"""The web console: server-rendered pages (Jinja2) over the same application services the API uses, with
a little JavaScript for live updates. A shell: it holds no SQL and no business rules."""

from lightfast.console.routes import install

__all__ = ["install"]
