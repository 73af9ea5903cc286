// The search page: [Chat] [Jobs] switch in place (the links work without this script), and Chat keeps
// this session's queries and their results as a conversation (sessionStorage). Stored results are
// rebuilt with textContent only; a snippet is kept as text pieces and highlighted pieces, never as HTML.
"use strict";
(function () {
  const KEY = "lightfast.conversation";
  const MAX_TURNS = 20;

  // -- tabs --
  function show(tab) {
    for (const name of ["chat", "jobs"]) {
      const panel = document.getElementById("panel-" + name);
      const link = document.getElementById("tab-" + name);
      if (!panel || !link) continue;
      panel.hidden = name !== tab;
      if (name === tab) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
    }
    const url = new URL(window.location.href);
    url.searchParams.set("tab", tab);
    history.replaceState(null, "", url);
    if (tab === "jobs" && window.LightfastJobs) window.LightfastJobs.refresh();
  }
  for (const link of document.querySelectorAll(".tabs a[data-tab]")) {
    link.addEventListener("click", (event) => {
      if (event.metaKey || event.ctrlKey || event.shiftKey) return;
      event.preventDefault();
      show(link.dataset.tab);
    });
  }

  // -- conversation --
  function load() {
    try { const turns = JSON.parse(sessionStorage.getItem(KEY) || "[]"); return Array.isArray(turns) ? turns : []; }
    catch (_) { return []; }
  }
  function pieces(snippet) {
    const out = [];
    for (const node of snippet.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) out.push({ t: node.textContent });
      else if (node.nodeName === "MARK") out.push({ m: node.textContent });
      else out.push({ t: node.textContent });
    }
    return out;
  }
  function text(tag, value, className) {
    const element = document.createElement(tag);
    element.textContent = value == null ? "" : String(value);
    if (className) element.className = className;
    return element;
  }
  function render(turn) {
    const item = document.createElement("li");
    item.className = "turn";
    item.appendChild(text("p", turn.query, "asked"));
    const list = document.createElement("ol");
    list.className = "results";
    for (const r of (turn.results || []).slice(0, 10)) {
      const card = document.createElement("li");
      card.className = "card";
      const head = document.createElement("div");
      head.className = "card-head";
      head.append(text("span", r.source, "badge source"), " ", text("strong", r.title, "title"));
      const snippet = document.createElement("p");
      snippet.className = "snippet";
      for (const piece of r.snippet || []) snippet.appendChild(piece.m != null ? text("mark", piece.m) : document.createTextNode(String(piece.t || "")));
      const foot = text("div", "score " + r.score + " · store " + r.store, "card-foot");
      card.append(head, text("div", r.path, "path"), snippet, foot);
      list.appendChild(card);
    }
    if (!turn.results || !turn.results.length) list.appendChild(text("li", "Nothing matched.", "meta"));
    item.appendChild(list);
    return item;
  }

  const current = document.getElementById("current");
  const turns = load();
  const earlier = current && turns.length && turns[turns.length - 1].query === current.dataset.query ? turns.slice(0, -1) : turns;
  const conversation = document.getElementById("conversation");
  if (conversation) for (const turn of earlier) conversation.appendChild(render(turn));
  if (current) {
    const results = [...current.querySelectorAll(".results > .card")].map((card) => ({
      title: card.querySelector(".title").textContent,
      source: card.querySelector(".badge").textContent,
      path: card.querySelector(".path").textContent,
      snippet: pieces(card.querySelector(".snippet")),
      score: card.querySelector(".score").textContent,
      store: card.querySelector(".store").textContent,
    }));
    const next = [...earlier, { query: current.dataset.query, results }].slice(-MAX_TURNS);
    try { sessionStorage.setItem(KEY, JSON.stringify(next)); } catch (_) { /* storage full or off */ }
  }
})();
