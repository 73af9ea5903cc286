"""The console's Jinja2 environment: templates from the package, HTML autoescaped, and the formatting
filters."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from lightfast import __version__
from lightfast.console import formatting
from lightfast.console.viewer import Viewer, services_of

environment = Environment(
    loader=PackageLoader("lightfast.console", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["duration"] = formatting.duration
environment.filters["count"] = formatting.count


def render(
    request: Request, template: str, viewer: Viewer | None, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """One page: the template with the viewer, the current path (for the navigation) and ``now``."""
    now = services_of(request).clock.now()
    html = environment.get_template(template).render(
        request=request,
        viewer=viewer,
        path=request.url.path,
        now=now,
        ago=lambda moment: formatting.ago(moment, now),
        version=__version__,
        **context,
    )
    return HTMLResponse(html, status_code=status_code)
