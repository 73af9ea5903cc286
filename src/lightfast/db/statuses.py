"""The values a job's ``status`` and ``trigger`` columns hold, named once. Every layer compares and sets
them through these enums; a ``StrEnum`` member equals its string, so rows read back as plain strings
compare equal to them."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    # Its worker stopped renewing its lease (it died or lost the database); a live worker takes the run
    # over where it stopped, and it is ``running`` again.
    INTERRUPTED = "interrupted"
    COMPLETED = "completed"
    COMPLETED_WITH_ERRORS = "completed_with_errors"  # finished; some documents failed (recorded)
    FAILED = "failed"
    CANCELLED = "cancelled"  # by a user, or superseded by a newer job


class JobTrigger(StrEnum):
    MANUAL = "manual"  # the CLI or the API
    SCHEDULED = "scheduled"  # a source's schedule
    WEBHOOK = "webhook"  # a delivery from an outside system (a GitHub push)
    AUTOMATIC = "automatic"


#: Not finished: a worker may still pick the job up, is running it, or will take it over.
ACTIVE: tuple[JobStatus, ...] = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.INTERRUPTED)
#: Finished, one way or another; the job never changes again.
TERMINAL: tuple[JobStatus, ...] = (
    JobStatus.COMPLETED,
    JobStatus.COMPLETED_WITH_ERRORS,
    JobStatus.FAILED,
    JobStatus.CANCELLED,
)
#: Finished and did its work (documents that failed are recorded per document).
SUCCEEDED: tuple[JobStatus, ...] = (JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS)
#: A retry may run these again.
RETRYABLE: tuple[JobStatus, ...] = (JobStatus.FAILED, JobStatus.CANCELLED)


class EventStatus(StrEnum):
    """An ingestion event's (a webhook delivery's): ``pending`` while the jobs it queued run, then
    what became of them (seed 001: processed, skipped or failed)."""

    PENDING = "pending"  # its jobs are not finished yet
    PROCESSED = "processed"  # handled: its jobs succeeded, or it needed none (a ping, an installation)
    SKIPPED = "skipped"  # its jobs were cancelled, or superseded by a disconnect
    FAILED = "failed"  # one of its jobs failed
    IGNORED = "ignored"  # not an event Lightfast acts on (another branch, an unknown event)
