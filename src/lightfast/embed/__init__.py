"""Embedding providers behind one interface (``Embedder``), chosen by a configuration string."""

from lightfast.embed.base import Embedder, ModelSpec, Tokenizer
from lightfast.embed.registry import make_embedder, make_tokenizer, model_spec

__all__ = ["Embedder", "ModelSpec", "Tokenizer", "make_embedder", "make_tokenizer", "model_spec"]
