"""The JSON shape of a job (camelCase), shared by the API and the CLI's --json output."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lightfast.db.models import Job
from lightfast.db.types import iso
from lightfast.app.jobs import JobDetail


def job_payload(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "name": job.name,
        "status": job.status,
        "trigger": job.trigger,
        "sourceId": job.source_id,
        "storeId": job.store_id,
        "retryOf": job.retry_of,
        "progress": {"processed": job.progress_processed, "total": job.progress_total},
        "createdAt": iso(job.created_at),
        "startedAt": iso(job.started_at),
        "completedAt": iso(job.completed_at),
        "durationMs": job.duration_ms,
        "error": job.error_message,
        "output": job.output,
    }


def job_detail_payload(detail: JobDetail) -> dict[str, Any]:
    def at(ms: int | None) -> str | None:
        return datetime.fromtimestamp(ms / 1000).astimezone().isoformat() if ms is not None else None

    return {
        **job_payload(detail.job),
        "steps": [
            {
                "id": s.id,
                "name": s.name,
                "status": s.status,
                "startedAt": at(s.started_at_ms),
                "completedAt": at(s.completed_at_ms),
                "durationMs": s.duration_ms,
                "error": s.error,
            }
            for s in detail.steps
        ],
        "failures": [{"path": f.path, "reason": f.reason, "message": f.message} for f in detail.failures],
    }
