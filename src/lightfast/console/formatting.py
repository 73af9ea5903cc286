"""How the console writes times, durations and counts. Pure functions (the templates' filters)."""

from __future__ import annotations

from datetime import UTC, datetime


def ago(moment: datetime | None, now: datetime) -> str:
    """'just now', '2 minutes ago', '3 hours ago', '5 days ago'; '' without a moment."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = int((now - moment).total_seconds())
    if seconds < 0:
        return "in the future"
    if seconds < 45:
        return "just now"
    for size, unit in ((86_400, "day"), (3_600, "hour"), (60, "minute")):
        if seconds >= size:
            count = max(1, round(seconds / size)) if unit == "minute" else seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "just now"


def duration(milliseconds: float | None) -> str:
    """'850 ms', '4.2 s', '3 min 12 s', '2 h 5 min'; '' without a value."""
    if milliseconds is None:
        return ""
    if milliseconds < 1000:
        return f"{milliseconds:.0f} ms"
    seconds = milliseconds / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, second = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {second} s"
    hours, minute = divmod(minutes, 60)
    return f"{hours} h {minute} min"


def count(value: int | float | None) -> str:
    """1234567 -> '1,234,567'."""
    if value is None:
        return ""
    return f"{value:,.0f}"
