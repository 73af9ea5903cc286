// The Activity page's live feed: new activities arrive over the console's event stream and are put at
// the top of today's list. Only on the unfiltered first page (a filtered view would need the server's
// filters); the page reads fully without this script.
"use strict";
(() => {
  const timeline = document.getElementById("timeline");
  if (!timeline || timeline.dataset.live !== "on") return;
  const status = document.getElementById("live-status");
  const seen = new Set([...timeline.querySelectorAll("[data-id]")].map((row) => row.dataset.id));
  function text(tag, value, cls) {
    const el = document.createElement(tag); el.textContent = value; if (cls) el.className = cls; return el;
  }
  function row(activity) {
    const li = document.createElement("li");
    li.className = "activity"; li.dataset.id = activity.id; li.dataset.category = activity.category;
    const time = text("time", new Date(activity.timestamp).toISOString().slice(11, 19));
    time.setAttribute("datetime", activity.timestamp);
    li.append(time, " ", text("span", activity.category, "badge"), " ", text("strong", activity.action, "action"),
      " ", text("span", activity.summary || "", "summary"),
      " ", text("span", "by " + activity.actorType + (activity.actorId ? " " + activity.actorId : ""), "actor"),
      " ", text("span", activity.entityType + (activity.entityId ? " " + activity.entityId : ""), "entity"));
    if (activity.status && activity.status !== "ok") {
      const bad = activity.status === "failed" || activity.status === "refused";
      li.append(" ", text("span", activity.status, bad ? "status-bad" : "badge status-" + activity.status));
    }
    return li;
  }
  function todayList() {
    const today = new Date().toISOString().slice(0, 10);
    const first = timeline.querySelector("section.day");
    if (first && first.querySelector("h2").textContent === today) return first.querySelector("ol");
    const section = document.createElement("section"); section.className = "day";
    const list = document.createElement("ol"); list.className = "activities";
    section.append(text("h2", today), list);
    const empty = timeline.querySelector(".empty"); if (empty) empty.remove();
    timeline.prepend(section);
    return list;
  }
  function add(activity) {
    if (seen.has(activity.id)) return;
    seen.add(activity.id);
    todayList().prepend(row(activity));
  }
  // Without the stream (no EventSource, or a proxy that buffers it) the newest rows are polled instead.
  let pollTimer = null;
  async function poll() {
    try {
      const response = await fetch("/console/activity/latest", { credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      for (const activity of data.items.slice().reverse()) add(activity);  // oldest first: newest on top
    } catch (_) { /* offline for a moment: the next poll tries again */ }
  }
  function startPolling() {
    if (status) status.textContent = "· updating every 5 s";
    if (!pollTimer) pollTimer = setInterval(poll, 5000);
  }
  if (!window.EventSource) { startPolling(); return; }
  const source = new EventSource("/console/events");
  source.addEventListener("open", () => {
    if (status) status.textContent = "· live";
    if (pollTimer) { clearInterval(pollTimer); pollTimer = null; poll(); }  // what came while it was down
  });
  source.addEventListener("error", () => { startPolling(); if (status) status.textContent = "· reconnecting"; });
  source.addEventListener("activity", (message) => add(JSON.parse(message.data)));
})();
