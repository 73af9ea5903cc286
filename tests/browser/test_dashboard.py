"""The dashboard in a real browser: after an ingest and some searches its figures equal the API's, the
period switch works as plain links, the charts are drawn on their canvases, and the table fallbacks and
the health tree are there."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from lightfast.console.formatting import count, duration
from tests.browser.conftest import LiveServer


def shown_rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def shown_count(value: float | None) -> str:
    return "—" if value is None else count(value)


def shown_ms(value: float | None) -> str:
    return "—" if value is None else duration(value)


def test_dashboard_numbers_equal_the_api(live_server: LiveServer, page: Any, tmp_path: Any) -> None:
    services = live_server.services
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        (docs / f"note{i}.md").write_text(f"# Note {i}\n\nDeploy the cluster, step {i}.\n\nMore text {i}.\n")
    first = services.ingest.ingest_path(str(docs))
    (docs / "note3.md").write_text("# Note 3\n\nA fourth note.\n")
    services.ingest.ingest_path(str(docs))  # a second job, on the same store and source
    workspace = services.jobs.get_job(services.workspaces.workspace_id(), first.job_id).workspace_id
    secret = services.api_keys.create(workspace, "t").secret
    api = httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {secret}"})
    for query in ("deploy cluster", "fourth note"):
        assert api.post("/v1/search", json={"query": query}).status_code == 200

    stats = api.get("/v1/workspace/statistics", params={"period": "24h"}).json()
    assert stats["jobs"]["current"] == 2
    page.goto(live_server.url + "/dashboard")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    for name, key, shown in (
        ("sources", "sources", shown_count),
        ("documents", "documents", shown_count),
        ("chunks", "chunks", shown_count),
        ("jobs", "jobs", shown_count),
        ("success-rate", "successRate", shown_rate),
        ("average-duration", "averageDurationMs", shown_ms),
    ):
        tile = page.locator(f'.tile[data-stat="{name}"]')
        expect(tile.locator(".value")).to_have_text(shown(stats[key]["current"]))
    expect(page.locator('.tile[data-stat="documents"] .value')).to_have_text("4")
    expect(page.locator('.tile[data-stat="jobs"] .change')).to_have_text("new")  # nothing the day before
    store = stats["stores"][0]
    row = page.locator(f'table.stores tr[data-store="{store["name"]}"]')
    expect(row).to_contain_text(count(store["documents"]))

    for name in ("24h", "7d", "30d"):
        p = api.get("/v1/workspace/jobs/percentiles", params={"range": name}).json()
        cells = page.locator(f'table.percentiles tr[data-range="{name}"] td')
        expect(cells).to_have_text(
            [
                count(p["count"]),
                shown_ms(p["p50Ms"]),
                shown_ms(p["p95Ms"]),
                shown_ms(p["p99Ms"]),
                shown_ms(p["maxMs"]),
            ]
        )

    health = api.get("/v1/workspace/health").json()
    root = page.locator('.health-tree > li[data-kind="workspace"]')
    expect(root).to_have_attribute("data-status", health["status"])
    expect(page.locator('.health-tree li[data-kind="store"]')).to_have_count(len(health["children"]))

    # Five charts, each drawn: its canvas has painted pixels.
    charts = page.locator("figure.chart[data-drawn=true]")
    expect(charts).to_have_count(5)
    # Pixels in the series colour (the accent, #2454d6): the data itself is drawn, not only the axes.
    painted = page.evaluate(
        """() => Array.from(document.querySelectorAll('figure.chart')).map(f => {
            const c = f.querySelector('canvas');
            const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 0; i < px.length; i += 4)
              if (Math.abs(px[i] - 36) < 24 && Math.abs(px[i + 1] - 84) < 24 && Math.abs(px[i + 2] - 214) < 24
                  && px[i + 3] > 200) n++;
            return [f.dataset.series, n]; })"""
    )
    assert [name for name, _ in painted] == ["jobs", "duration", "success", "latency", "queries"]
    assert all(n >= 10 for _, n in painted), painted

    # The query count per hour equals the API's, in the table fallback too.
    series = api.get("/v1/workspace/timeseries", params={"range": "24h"}).json()
    last = series["points"][-1]
    assert last["queryCount"] == 2
    page.get_by_text("Queries per hour as a table").click()
    last_row = page.locator("section[aria-labelledby=h-queries-chart] details tbody tr").last
    expect(last_row.locator("td").first).to_have_text(str(last["queryCount"]))

    # The period switch is a plain link: it works by keyboard, without JavaScript.
    page.get_by_role("link", name="7 days").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(live_server.url + "/dashboard?period=7d")
    week = api.get("/v1/workspace/statistics", params={"period": "7d"}).json()
    expect(page.locator('.tile[data-stat="jobs"] .value')).to_have_text(shown_count(week["jobs"]["current"]))
    expect(page.get_by_role("link", name="7 days")).to_have_attribute("aria-current", "page")
    api.close()


def test_dashboard_reads_without_javascript(live_server: LiveServer, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live_server.url + "/dashboard?period=30d")
        expect(page.locator('.tile[data-stat="jobs"] .value')).to_have_text("0")
        expect(page.locator("table.percentiles tbody tr")).to_have_count(3)
        expect(page.locator(".health-tree li[data-kind=workspace]")).to_have_attribute(
            "data-status", "unknown"
        )
        response = page.goto(live_server.url + "/dashboard?period=1y")
        assert response is not None
        assert response.status == 400
        expect(page.get_by_role("alert")).to_contain_text("period: must be one of 24h, 7d, 30d")
    finally:
        context.close()
