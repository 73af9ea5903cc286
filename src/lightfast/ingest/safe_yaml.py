"""YAML parsing with bounds on what a small document may become (pure).

YAML aliases let a few hundred bytes stand for gigabytes ("billion laughs": each level repeats the
previous one nine times), and an alias may even point into its own node, giving an infinite structure.
PyYAML composes a graph in which every alias is the same node object, so the graph stays small; the
expansion happens later, when the graph is turned into Python objects and from those into JSON.
``compose`` therefore builds the node graph while counting aliases and nesting, then walks it the way
a serializer would, expanding every alias, with a budget of nodes and characters, and stops as soon as
the budget is spent. Only a graph that passed is ever constructed (``load``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import Node, ScalarNode, SequenceNode


@dataclass(frozen=True)
class YamlLimits:
    max_chars: int  # length of the text, checked before parsing
    max_aliases: int  # alias references (``*name``); 0 refuses every alias
    max_depth: int  # nesting of sequences and mappings, with aliases expanded
    max_expanded: int  # nodes plus characters of scalars, with aliases expanded


class YamlLimitError(yaml.MarkedYAMLError):  # type: ignore[misc, unused-ignore]
    """The YAML text passes a limit; ``problem`` says which, without a subject (``"is nested ..."``)."""

    def __init__(self, problem: str, mark: Any = None) -> None:  # a yaml Mark (pure or libyaml's)
        super().__init__(problem=problem, problem_mark=mark)
        self.problem: str = problem


class _BoundedLoader(yaml.SafeLoader):  # type: ignore[misc, unused-ignore]
    """A SafeLoader whose composer refuses too many aliases and too deep nesting as it goes (before
    PyYAML's recursive composer could hit Python's recursion limit)."""

    def __init__(self, text: str, limits: YamlLimits) -> None:
        super().__init__(text)
        self.limits = limits
        self.aliases = 0
        self.depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent):
            if event.anchor in self.anchors:  # an undefined alias is PyYAML's own error
                self.aliases += 1
                if self.aliases > self.limits.max_aliases:
                    raise YamlLimitError(_too_many_aliases(self.limits.max_aliases), event.start_mark)
            return super().compose_node(parent, index)
        if not isinstance(event, SequenceStartEvent | MappingStartEvent):
            return super().compose_node(parent, index)
        self.depth += 1
        try:
            if self.depth > self.limits.max_depth:
                raise YamlLimitError(_too_deep(self.limits.max_depth), event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _too_many_aliases(limit: int) -> str:
    if limit == 0:
        return "uses YAML aliases (*name), which are not allowed"
    return f"has more than {limit} YAML aliases"


def _too_deep(limit: int) -> str:
    return f"is nested deeper than {limit} levels"


def _children(node: Node) -> Iterator[Node]:
    if isinstance(node, SequenceNode):
        return iter(node.value)
    return chain.from_iterable(node.value)  # a mapping: (key, value) pairs


def check_expansion(root: Node, limits: YamlLimits) -> None:
    """YamlLimitError when ``root`` with every alias expanded is deeper than ``limits.max_depth`` or
    counts more than ``limits.max_expanded`` nodes plus scalar characters. A node is charged when it
    is reached, so the work done is bounded by the budget whatever the graph (cycles included)."""
    budget = limits.max_expanded

    def charge(node: Node) -> None:
        nonlocal budget
        budget -= 1 + (len(node.value) if isinstance(node, ScalarNode) else 0)
        if budget < 0:
            raise YamlLimitError(
                f"expands to more than {limits.max_expanded:,} nodes and characters (YAML aliases)",
                node.start_mark,
            )

    charge(root)
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, ScalarNode):
            continue
        if depth > limits.max_depth:
            raise YamlLimitError(_too_deep(limits.max_depth), node.start_mark)
        for child in _children(node):
            charge(child)
            stack.append((child, depth + 1))


def compose(text: str, limits: YamlLimits) -> Node | None:
    """The node graph of a one-document YAML text (None when it is empty). YamlLimitError when it passes
    ``limits``; other ``yaml.YAMLError`` as PyYAML raises them."""
    if len(text) > limits.max_chars:
        raise YamlLimitError(f"is longer than {limits.max_chars:,} characters")
    loader = _BoundedLoader(text, limits)
    try:
        root: Node | None = loader.get_single_node()
    finally:
        loader.dispose()
    if root is not None:
        check_expansion(root, limits)
    return root


def load(text: str, limits: YamlLimits) -> object:
    """``yaml.safe_load`` within ``limits``: the graph is checked before any Python object is built.
    Besides the errors of ``compose``, constructing may raise ``yaml.YAMLError`` and, for values
    PyYAML resolves but cannot build (``2024-13-45``, ``!!int x``), ValueError, KeyError or TypeError."""
    root = compose(text, limits)
    if root is None:
        return None
    return SafeConstructor().construct_document(root)
