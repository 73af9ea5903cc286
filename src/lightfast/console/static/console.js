// Progressive enhancement shared by every page. Pages work without it; page scripts build on `Lightfast`.
"use strict";
const Lightfast = {
  // The CSRF token of this session, sent with every mutating fetch().
  csrf() { const m = document.querySelector('meta[name="csrf-token"]'); return m ? m.content : ""; },
  async post(url, body) {
    const response = await fetch(url, { method: "POST", credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": Lightfast.csrf() },
      body: JSON.stringify(body || {}) });
    return response;
  },
};
window.Lightfast = Lightfast;
