"""Sources of documents: one module per source type."""
