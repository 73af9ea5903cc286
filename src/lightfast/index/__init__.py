"""Vector and lexical search backends behind one interface, chosen by the database dialect."""

from lightfast.index.base import Hit, SearchFilters, SearchIndex
from lightfast.index.registry import make_index

__all__ = ["Hit", "SearchFilters", "SearchIndex", "make_index"]
