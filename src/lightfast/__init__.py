"""Lightfast: a self-hostable knowledge layer for software teams."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the SDK clients are imported on first use only (``from lightfast import Lightfast``)
    from lightfast.sdk import AsyncLightfast, Lightfast

__version__ = "0.1.0"

__all__ = ["AsyncLightfast", "Lightfast", "__version__"]

_LAZY = {"Lightfast", "AsyncLightfast"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from lightfast import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
