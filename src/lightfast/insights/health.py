"""Health of a workspace, its stores and their sources (pure), after seed 003's ``systemHealth``: a node
is healthy at a job success rate of 95 % or more, degraded at 80 % or more, else down. A node without a
finished job in the window is ``unknown`` (nothing says it is broken, nothing says it works); a parent is
never better than its worst known child, and says which child pulls it down."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

HEALTHY_AT = 0.95
DEGRADED_AT = 0.80


class HealthStatus(StrEnum):
    HEALTHY = "healthy"
    UNKNOWN = "unknown"
    DEGRADED = "degraded"
    DOWN = "down"


#: Worse is larger. ``unknown`` sits above healthy so a node with no evidence never reads as healthy
#: on its own, but :func:`roll_up` never lets an unknown child pull a known parent down.
SEVERITY = {HealthStatus.HEALTHY: 0, HealthStatus.UNKNOWN: 1, HealthStatus.DEGRADED: 2, HealthStatus.DOWN: 3}


@dataclass(frozen=True)
class Assessment:
    status: HealthStatus
    reason: str | None  # None only when healthy
    success_rate: float | None  # succeeded / finished, None without finished jobs


@dataclass(frozen=True)
class HealthNode:
    """One node of the health tree: a workspace, a store or a source."""

    kind: str  # workspace | store | source
    id: str
    name: str
    status: HealthStatus
    reason: str | None
    success_rate: float | None
    succeeded: int
    failed: int
    children: tuple[HealthNode, ...] = field(default=())


def status_for_rate(rate: float) -> HealthStatus:
    if rate >= HEALTHY_AT:
        return HealthStatus.HEALTHY
    if rate >= DEGRADED_AT:
        return HealthStatus.DEGRADED
    return HealthStatus.DOWN


def assess(succeeded: int, failed: int, window: str = "24 h") -> Assessment:
    """The health the finished jobs of the last ``window`` give: ``succeeded`` (completed, with or
    without document errors) and ``failed``; cancelled jobs say nothing about health and are left out."""
    if succeeded < 0 or failed < 0:
        raise ValueError("job counts cannot be negative")
    finished = succeeded + failed
    if finished == 0:
        return Assessment(HealthStatus.UNKNOWN, f"no finished jobs in the last {window}", None)
    rate = succeeded / finished
    status = status_for_rate(rate)
    if status is HealthStatus.HEALTHY:
        return Assessment(status, None, rate)
    reason = f"{failed} of {finished} jobs failed in the last {window} ({rate * 100:.1f} % succeeded)"
    return Assessment(status, reason, rate)


def worst(statuses: list[HealthStatus]) -> HealthStatus:
    return max(statuses, key=SEVERITY.__getitem__, default=HealthStatus.HEALTHY)


def roll_up(own: Assessment, children: tuple[HealthNode, ...]) -> tuple[HealthStatus, str | None]:
    """A parent's status and reason from its own assessment and its children: the worst of its own and
    its known children's (an unknown child does not count). A parent without evidence of its own takes
    its worst known child's status; when all is unknown, it stays unknown."""
    known = [c for c in children if c.status is not HealthStatus.UNKNOWN]
    pulling = max(known, key=lambda c: SEVERITY[c.status], default=None)
    if pulling is None or SEVERITY[pulling.status] <= SEVERITY[own.status]:
        if own.status is HealthStatus.UNKNOWN and pulling is not None:
            return pulling.status, None if pulling.status is HealthStatus.HEALTHY else _blame(pulling)
        return own.status, own.reason
    return pulling.status, _blame(pulling)


def _blame(child: HealthNode) -> str:
    return f"{child.kind} {child.name} is {child.status}: {child.reason}"


def node(
    kind: str,
    id: str,
    name: str,
    succeeded: int,
    failed: int,
    children: tuple[HealthNode, ...] = (),
    *,
    problem: str | None = None,
    window: str = "24 h",
) -> HealthNode:
    """A tree node from its job counts and children. ``problem`` (a source's configuration error) makes
    a node at least degraded whatever its jobs say, with that as the reason."""
    own = assess(succeeded, failed, window)
    if problem is not None and SEVERITY[own.status] < SEVERITY[HealthStatus.DEGRADED]:
        own = Assessment(HealthStatus.DEGRADED, problem, own.success_rate)
    status, reason = roll_up(own, children)
    return HealthNode(kind, id, name, status, reason, own.success_rate, succeeded, failed, children)
