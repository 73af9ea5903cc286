"""Search filters on a document's source metadata (seed 004's query patterns): ``{"state": "In
Progress"}``, ``{"teamKey": ["ENG", "OPS"]}``.

A condition names one top-level metadata key and the values it may have (any of them). A document
matches when the key's value equals one of them, or is a list holding one (a Linear issue's ``labels``).
Values are typed: ``"2"`` is not ``2`` and ``true`` is not ``1``, as in JSON (and as jsonb compares
them on PostgreSQL). Every condition must hold.

The filter comes from outside (API bodies, the CLI's ``--where``, MCP), so it is bounded here, before
any index sees it: few keys, short keys of a fixed alphabet (they become JSON paths), few values, short
strings, finite numbers within 64 bits. Refusals name the field (``filters.metadata.state``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lightfast.errors import InvalidInput

Scalar = str | int | float | bool

MAX_KEYS = 8
MAX_VALUES = 20  # per key
MAX_VALUE_CHARS = 200
# A key is spliced into a JSON path on SQLite ('$."key"'), so its alphabet excludes quotes and dots.
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
_INT64 = 2**63
FIELD = "filters.metadata"


@dataclass(frozen=True)
class MetadataCondition:
    key: str
    values: tuple[Scalar, ...]  # any of them

    @property
    def json_path(self) -> str:
        """The key as an SQLite JSON path (safe: the key pattern allows no quote)."""
        return f'$."{self.key}"'


def _scalar(value: object, field: str) -> Scalar:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise InvalidInput(f"{field} must be a 64-bit integer", field=field)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{field} must be a finite number", field=field)
        return value
    if isinstance(value, str):
        if len(value) > MAX_VALUE_CHARS:
            raise InvalidInput(f"{field} must be at most {MAX_VALUE_CHARS} characters", field=field)
        # Neither database can store (or compare) these: refused here, not as a 500 deep in a query.
        if "\x00" in value or any("\ud800" <= c <= "\udfff" for c in value):
            raise InvalidInput(f"{field} must not contain a NUL character or a lone surrogate", field=field)
        return value
    raise InvalidInput(
        f"{field} must be a string, number or boolean, or a list of them (not {type(value).__name__})",
        field=field,
    )


def _dedupe(values: Iterable[Scalar]) -> tuple[Scalar, ...]:
    """Values without repeats, typed (True and 1 stay two values), in the order given."""
    seen: set[tuple[str, Scalar]] = set()
    out: list[Scalar] = []
    for value in values:
        mark = ("bool" if isinstance(value, bool) else "other", value)
        if mark not in seen:
            seen.add(mark)
            out.append(value)
    return tuple(out)


def parse_metadata_filter(raw: object, field: str = FIELD) -> tuple[MetadataCondition, ...]:
    """The conditions of a filter object, sorted by key; InvalidInput naming the offending field."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{field} must be an object of key: value", field=field)
    if len(raw) > MAX_KEYS:
        raise InvalidInput(f"{field} takes at most {MAX_KEYS} keys", field=field)
    conditions: list[MetadataCondition] = []
    for key, given in raw.items():
        if not isinstance(key, str) or not KEY.fullmatch(key):
            shown = str(key)[:70]
            raise InvalidInput(
                f"{field} key {shown!r} must be a letter or underscore then up to 63 letters, digits, "
                "underscores or dashes",
                field=field,
            )
        where = f"{field}.{key}"
        if isinstance(given, list | tuple):
            if not given:
                raise InvalidInput(f"{where} must list at least one value", field=where)
            if len(given) > MAX_VALUES:
                raise InvalidInput(f"{where} takes at most {MAX_VALUES} values", field=where)
            values = _dedupe(_scalar(v, where) for v in given)
        else:
            values = (_scalar(given, where),)
        conditions.append(MetadataCondition(key, values))
    return tuple(sorted(conditions, key=lambda c: c.key))


def parse_where(expressions: Iterable[str], field: str = "where") -> dict[str, Any]:
    """The CLI's ``--where`` expressions as a filter object: ``KEY=VALUE`` compares with the string
    VALUE, ``KEY:=JSON`` with a JSON value (``priority:=2``, ``done:=true``); a key given twice takes
    any of its values. Checked by :func:`parse_metadata_filter` afterwards."""
    out: dict[str, list[Any]] = {}
    for expression in expressions:
        key, typed, value = _split(expression, field)
        if typed:
            try:
                parsed: Any = json.loads(value)
            except ValueError:
                raise InvalidInput(f"{field} {expression!r}: {value!r} is not JSON", field=field) from None
        else:
            parsed = value
        out.setdefault(key, []).extend(parsed if isinstance(parsed, list) else [parsed])
    return {key: values[0] if len(values) == 1 else values for key, values in out.items()}


def _split(expression: str, field: str) -> tuple[str, bool, str]:
    if "=" not in expression:
        raise InvalidInput(f"{field} {expression[:80]!r} must be KEY=VALUE or KEY:=JSON", field=field)
    key, value = expression.split("=", 1)
    typed = key.endswith(":")
    return (key[:-1] if typed else key).strip(), typed, value


def _same(a: object, b: Scalar) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(b, str):
        return isinstance(a, str) and a == b
    return isinstance(a, int | float) and a == b


def matches(conditions: Iterable[MetadataCondition], metadata: Mapping[str, Any] | None) -> bool:
    """Whether a document's metadata satisfies every condition: the reference both indexes follow."""
    metadata = metadata or {}
    for condition in conditions:
        if condition.key not in metadata:
            return False
        held = metadata[condition.key]
        candidates = held if isinstance(held, list) else [held]
        if not any(_same(c, v) for c in candidates for v in condition.values):
            return False
    return True
