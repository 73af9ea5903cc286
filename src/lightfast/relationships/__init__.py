"""The relationship graph's pure layer (issue 14): mentions in text, identities and temporal edges from
metadata, seed 004's ``DocumentRelationships``. No I/O: lightfast.db.relationships stores, and
lightfast.app.relationships resolves and serves."""

from lightfast.relationships.documents import DocumentLinks, document_links, identities, metadata_edges
from lightfast.relationships.mentions import Context, edge_kind, extract_edges
from lightfast.relationships.model import EDGE_KINDS, TARGET_TYPES, Edge, Target

__all__ = [
    "EDGE_KINDS",
    "TARGET_TYPES",
    "Context",
    "DocumentLinks",
    "Edge",
    "Target",
    "document_links",
    "edge_kind",
    "extract_edges",
    "identities",
    "metadata_edges",
]
