"""Lightfast: a self-hostable knowledge layer for software teams."""

__version__ = "0.1.0"
