"""Linear, Notion, Zendesk and Sentry ingestion against the local stand-ins (issues 13, 14), through the real
services.

* backfill: a Linear workspace of ``--issues`` issues (a comment on every fifth) and a Notion workspace of
  ``--pages`` pages, a Zendesk account of ``--tickets`` tickets with their comments and 100 articles (and
  its reconciliation), each listed and indexed by one full sync; documents/s and API requests per document.
* webhook-to-searchable: ``--deliveries`` signed Linear deliveries, each posted to the webhook route and
  its job run, then searched for a word only that issue holds; p50/p95 of post -> found.

    python bench/vendors.py --embedder fake --issues 1000 --pages 200 --deliveries 100

The fake embedder measures the machinery (API paging, rendering, storage, search); ``local`` adds the
model's cost, which dominates (bench/results/ingest.md).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services
from lightfast.app.linear_backfill import LinearBackfill
from lightfast.app.search import SearchMode, SearchRequest
from lightfast.db.engine import make_engine
from lightfast.settings import Settings
from lightfast.sources.linear.webhooks import sign
from lightfast.testing.linear import LinearStandIn
from lightfast.testing.notion import NotionStandIn
from lightfast.testing.notion.server import block
from lightfast.testing.sentry import SentryStandIn
from lightfast.testing.vercel import VercelStandIn
from lightfast.testing.zendesk import ZendeskStandIn

LINEAR_KEY = "lin_api_bench_key_0123456789"
NOTION_KEY = "secret_bench_integration_token"
SECRET = "lin_wh_bench_secret_0123456789"
ZENDESK_TOKEN = "zd_bench_token_0123456789"


def nearest_rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def zendesk_backfill(services: Services, workspace: str, tickets: int) -> dict[str, object]:
    """A Zendesk account of ``tickets`` tickets (0-3 replies each, every other one an internal note) and
    100 articles, listed by one full sync; then a reconciliation of the unchanged account."""
    standin = ZendeskStandIn(ZENDESK_TOKEN, "agent@acme.example")
    for n in range(tickets):
        ticket = standin.add_ticket(f"Ticket {n}: part{n} broke", f"Part{n} broke after {n} days.")
        for k in range(n % 4):
            standin.add_comment(ticket["id"], f"Reply {k} on part{n}", public=k % 2 == 0)
    section = standin.add_section("Fixes", standin.add_category("Help"))
    for n in range(100):
        standin.add_article(f"Fixing part{n}", f"<h2>Steps</h2><ol><li>Open part{n}</li></ol>", section)
    assert services.vendors.zendesk is not None
    services.vendors.zendesk.transport = standin.transport()
    options = {"subdomain": "acme", "email": "agent@acme.example"}
    connections = services.vendors.connections
    connected = connections.connect(workspace, "zendesk", token=ZENDESK_TOKEN, options=options)
    assert connected.job_id is not None
    began = time.perf_counter()
    documents = services.runner.run_inline(connected.job_id).documents_added
    seconds = time.perf_counter() - began
    listed = len(standin.requests)
    again = services.jobs.enqueue_sync(workspace, connected.source.id, mode="full").job_id
    began = time.perf_counter()
    services.runner.run_inline(again)
    return {
        "documents": documents,
        "seconds": round(seconds, 2),
        "documents_per_second": round(documents / seconds, 1),
        "requests_per_document": round(listed / max(documents, 1), 3),
        "reconciliation_requests": len(standin.requests) - listed,
        "reconciliation_seconds": round(time.perf_counter() - began, 2),
    }


def sentry_backfill(services: Services, workspace: str, issues: int) -> dict[str, object]:
    """A Sentry organization of two projects and ``issues`` issues (a comment on every third), listed by
    one full sync; then a reconciliation of the unchanged organization (listing pages only)."""
    standin = SentryStandIn("sntrys_bench_token_0123456789")
    standin.add_project("web", platform="javascript")
    standin.add_project("api")
    for n in range(issues):
        issue = standin.add_issue("api" if n % 2 else "web", f"KeyError: 'part{n}'", frames=12)
        if n % 3 == 0:
            standin.add_comment(issue["id"], f"part{n} broke after the deploy")
    assert services.vendors.sentry is not None
    services.vendors.sentry.transport = standin.transport()
    connected = services.vendors.connections.connect(
        workspace, "sentry", token=standin.token, options={"organization": "acme"}
    )
    assert connected.job_id is not None
    began = time.perf_counter()
    documents = services.runner.run_inline(connected.job_id).documents_added
    seconds = time.perf_counter() - began
    listed = len(standin.requests)
    again = services.jobs.enqueue_sync(workspace, connected.source.id, mode="full").job_id
    began = time.perf_counter()
    services.runner.run_inline(again)
    return {
        "documents": documents,
        "seconds": round(seconds, 2),
        "documents_per_second": round(documents / seconds, 1),
        "requests_per_document": round(listed / max(documents, 1), 3),
        "reconciliation_requests": len(standin.requests) - listed,
        "reconciliation_seconds": round(time.perf_counter() - began, 2),
    }


def vercel_backfill(services: Services, workspace: str, deployments: int) -> dict[str, object]:
    """Two Vercel projects of ``deployments`` deployments in all (every 20th failed, its log read), listed
    by one full sync; then a reconciliation of the unchanged projects (listing pages only)."""
    standin = VercelStandIn("vercel_bench_token_0123456789")
    projects = [standin.add_project("web")["id"], standin.add_project("api")["id"]]
    for n in range(deployments):
        failed = n % 20 == 0
        standin.add_deployment(
            projects[n % 2],
            message=f"change {n} to part{n}",
            state="ERROR" if failed else "READY",
            log=[f"Error: part{n} does not build"] * 3 if failed else [],
        )
    assert services.vendors.vercel is not None
    services.vendors.vercel.transport = standin.transport()
    connected = services.vendors.connections.connect(
        workspace, "vercel", token=standin.token, options={"projects": "web,api"}
    )
    assert connected.job_id is not None
    began = time.perf_counter()
    documents = services.runner.run_inline(connected.job_id).documents_added
    seconds = time.perf_counter() - began
    listed = len(standin.requests)
    again = services.jobs.enqueue_sync(workspace, connected.source.id, mode="full").job_id
    began = time.perf_counter()
    services.runner.run_inline(again)
    return {
        "documents": documents,
        "seconds": round(seconds, 2),
        "documents_per_second": round(documents / seconds, 1),
        "requests_per_document": round(listed / max(documents, 1), 3),
        "reconciliation_requests": len(standin.requests) - listed,
        "reconciliation_seconds": round(time.perf_counter() - began, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", choices=["fake", "local"], default="fake")
    parser.add_argument("--issues", type=int, default=1000)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--deliveries", type=int, default=100)
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--sentry-issues", type=int, default=1000)
    parser.add_argument("--vercel-deployments", type=int, default=1000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lightfast-vendors-"))
    settings = Settings(
        home=work / "home",
        database_url=f"sqlite:///{work / 'bench.db'}",
        embedding_provider=args.embedder,
        webhook_max_age=0,
    )
    services = build_services(settings, engine=make_engine(settings.resolved_database_url))
    results: dict[str, object] = {"embedder": args.embedder}
    try:
        workspace = services.workspaces.ensure_workspace_id()

        linear = LinearStandIn(LINEAR_KEY)
        for n in range(args.issues):
            issue = linear.add_issue(
                f"Issue {n}: subsystem{n} misbehaves", f"Steps to reproduce for subsystem{n}."
            )
            if n % 5 == 0:
                linear.add_comment(issue, f"Seen again on host{n}")
        backfill = LinearBackfill(
            settings, services.sessions, services.vendors.credentials, transport=linear.transport()
        )
        services.vendors.openers.linear_backfill = backfill.for_connection
        connected = services.vendors.connections.connect(workspace, "linear", name="acme", token=LINEAR_KEY)
        assert connected.job_id is not None
        began = time.perf_counter()
        summary = services.runner.run_inline(connected.job_id)
        seconds = time.perf_counter() - began
        documents = summary.documents_added
        results["linear_backfill"] = {
            "documents": documents,
            "seconds": round(seconds, 2),
            "documents_per_second": round(documents / seconds, 1),
            "requests_per_document": round(len(linear.requests) / max(documents, 1), 3),
        }

        notion = NotionStandIn(NOTION_KEY)
        for n in range(args.pages):
            notion.add_page(
                f"Page {n}", [block("heading_1", f"Topic {n}"), block("paragraph", f"About area{n}.")]
            )
        services.vendors.notion.transport = notion.transport()
        connected = services.vendors.connections.connect(workspace, "notion", name="acme", token=NOTION_KEY)
        assert connected.job_id is not None
        began = time.perf_counter()
        summary = services.runner.run_inline(connected.job_id)
        seconds = time.perf_counter() - began
        results["notion_backfill"] = {
            "documents": summary.documents_added,
            "seconds": round(seconds, 2),
            "documents_per_second": round(summary.documents_added / seconds, 1),
            "requests_per_document": round(len(notion.requests) / max(summary.documents_added, 1), 3),
        }

        results["zendesk_backfill"] = zendesk_backfill(services, workspace, args.tickets)
        results["sentry_backfill"] = sentry_backfill(services, workspace, args.sentry_issues)
        results["vercel_backfill"] = vercel_backfill(services, workspace, args.vercel_deployments)

        webhook = services.vendors.connections.connect(
            workspace, "linear", name="hooks", webhook_secret=SECRET
        )
        latencies: list[float] = []
        with TestClient(create_app(services)) as client:
            for n in range(args.deliveries):
                word = f"zebra{n}quokka"
                body = json.dumps(
                    {
                        "action": "create",
                        "type": "Issue",
                        "createdAt": "2026-01-01T00:00:00.000Z",
                        "url": f"https://linear.app/acme/issue/HOOK-{n}",
                        "data": {
                            "id": f"hook-issue-{n}",
                            "identifier": f"HOOK-{n}",
                            "title": f"Delivery {n} {word}",
                            "updatedAt": "2026-01-01T00:00:00.000Z",
                            "team": {"key": "HOOK"},
                        },
                    }
                ).encode()
                began = time.perf_counter()
                answer = client.post(
                    f"/webhooks/linear/{webhook.source.id}",
                    content=body,
                    headers={"Linear-Signature": sign(SECRET, body)},
                )
                for job_id in answer.json()["jobs"]:
                    services.runner.run_inline(job_id)
                found = services.search.search(SearchRequest(workspace, word, mode=SearchMode.FAST))
                latencies.append((time.perf_counter() - began) * 1000)
                assert found.results, word
                assert word in found.results[0].title, word
        results["webhook_to_searchable_ms"] = {
            "deliveries": len(latencies),
            "p50": round(nearest_rank(latencies, 50), 1),
            "p95": round(nearest_rank(latencies, 95), 1),
        }
    finally:
        services.close()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
