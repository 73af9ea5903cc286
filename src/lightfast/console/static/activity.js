// The Activity page's live feed: new activities arrive over the console's event stream and are put at
// the top of today's list. Only on the unfiltered first page (a filtered view would need the server's
// filters); the page reads fully without this script.
"use strict";
(() => {
  const timeline = document.getElementById("timeline");
  if (!timeline || timeline.dataset.live !== "on" || !window.EventSource) return;
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
      " ", text("span", "by " + activity.actorType + (activity.actorId ? " " + activity.actorId : ""), "actor"),
      " ", text("span", activity.entityType + (activity.entityId ? " " + activity.entityId : ""), "entity"));
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
  const source = new EventSource("/console/events");
  source.addEventListener("open", () => { if (status) status.textContent = "· live"; });
  source.addEventListener("error", () => { if (status) status.textContent = "· reconnecting"; });
  source.addEventListener("activity", (message) => {
    const activity = JSON.parse(message.data);
    if (seen.has(activity.id)) return;
    seen.add(activity.id);
    todayList().prepend(row(activity));
  });
})();
