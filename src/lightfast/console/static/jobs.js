// The Jobs tab, live: progress bars move and jobs change sections without a reload. Server-Sent Events
// from /console/events; when the stream fails, /console/jobs/state is polled instead. The page works
// without this script (the forms post, the links navigate); this only makes it live.
"use strict";
(function () {
  const board = document.getElementById("jobs-board");
  const detail = document.querySelector(".job-detail");
  let refreshing = null;
  let pollTimer = null;

  function setBadge(count) {
    const badge = document.getElementById("running-count");
    if (!badge) return;
    badge.textContent = String(count);
    badge.setAttribute("aria-label", count + " running");
    badge.hidden = count === 0;
  }

  // Reload the tab's HTML from the server (a job appeared or changed section).
  function refresh() {
    if (!board || refreshing) return;
    refreshing = setTimeout(async () => {
      try {
        const response = await fetch(board.dataset.partial, { credentials: "same-origin" });
        if (response.redirected) { window.location.assign(response.url); return; }  // signed out: to /login
        if (response.ok) {
          const focused = document.activeElement && document.activeElement.closest("[data-job-id]");
          board.innerHTML = await response.text();  // our own server-rendered, autoescaped partial
          const jobs = board.querySelector(".jobs");
          if (jobs) setBadge(Number(jobs.dataset.running || 0));
          if (focused) {  // keep keyboard users where they were
            const again = board.querySelector('[data-job-id="' + CSS.escape(focused.dataset.jobId) + '"] a, [data-job-id="' + CSS.escape(focused.dataset.jobId) + '"] button');
            if (again) again.focus();
          }
        }
      } finally { refreshing = null; }
    }, 150);
  }

  function formatSeconds(seconds) {
    if (seconds < 60) return Math.max(1, Math.round(seconds)) + " s";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min " + Math.round(seconds % 60) + " s";
    return Math.floor(seconds / 3600) + " h " + Math.round((seconds % 3600) / 60) + " min";
  }

  // Apply one job's state; true when the page shows it as it is, false when it must be re-rendered.
  function apply(job) {
    if (detail) {
      if (detail.dataset.jobId !== job.id) return true;
      if (detail.dataset.status !== job.status) { window.location.reload(); return true; }
      const counts = detail.querySelector(".counts");
      if (counts) counts.textContent = job.progress.processed.toLocaleString() + " / " + (job.progress.total == null ? "?" : job.progress.total.toLocaleString());
      return true;
    }
    if (!board) return true;
    const card = board.querySelector('[data-job-id="' + CSS.escape(job.id) + '"]');
    if (!card || card.dataset.status !== job.status) return false;
    const bar = card.querySelector("progress");
    if (bar && job.progress.total) {
      const pct = Math.round((100 * job.progress.processed) / job.progress.total);
      bar.max = job.progress.total;
      bar.value = job.progress.processed;
      bar.textContent = pct + "%";
      card.querySelector(".counts").textContent = job.progress.processed.toLocaleString() + " / " + job.progress.total.toLocaleString();
      card.querySelector(".pct").textContent = pct + "%";
    }
    const eta = card.querySelector(".eta");
    if (eta) eta.textContent = job.etaSeconds == null ? "" : " · about " + formatSeconds(job.etaSeconds) + " left";
    return true;
  }

  async function poll() {
    try {
      const response = await fetch(board ? board.dataset.state : "/console/jobs/state", { credentials: "same-origin" });
      if (!response.ok) return;
      const state = await response.json();
      setBadge(state.running);
      let stale = false;
      for (const job of state.jobs) if (!apply(job)) stale = true;
      if (board) {  // a job the tab shows that the state no longer lists, or the other way round
        const shown = board.querySelectorAll("[data-job-id]").length;
        if (stale || shown !== state.jobs.length) refresh();
      }
    } catch (_) { /* offline for a moment: the next poll tries again */ }
  }

  function startPolling() {
    if (!pollTimer) pollTimer = setInterval(poll, 2000);
  }

  function listen() {
    if (!window.EventSource) { startPolling(); return; }
    const source = new EventSource("/console/events");
    source.addEventListener("job", (message) => {
      if (!apply(JSON.parse(message.data))) refresh();
    });
    source.addEventListener("reset", () => { refresh(); poll(); });
    source.addEventListener("open", () => {
      if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
      poll();  // what changed while the stream was down
    });
    source.addEventListener("error", () => {
      // EventSource retries by itself; poll meanwhile so nothing stands still.
      startPolling();
    });
  }

  // Cancel and Retry through fetch: no page load; the tab re-renders from the server's answer.
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("js-job-action")) return;
    event.preventDefault();
    const button = form.querySelector("button");
    if (button) button.disabled = true;
    const response = await fetch(form.action, {
      method: "POST", credentials: "same-origin",
      headers: { "accept": "application/json", "x-csrf-token": window.Lightfast.csrf() },
      body: new URLSearchParams(new FormData(form)),
    });
    const answer = await response.json().catch(() => ({}));
    if (detail) {
      window.location.assign(response.ok && answer.job ? "/jobs/" + encodeURIComponent(answer.job) : window.location.href);
      return;
    }
    if (!response.ok) window.alert(answer.error || "The job could not be changed.");
    if (button) button.disabled = false;
    refresh();
  });

  if (board || (detail && detail.dataset.live)) listen();
  window.LightfastJobs = { refresh, poll };
})();
