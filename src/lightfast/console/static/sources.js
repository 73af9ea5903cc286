// The sources page: "Config" and "Disconnect" open their pages in a <dialog> over the list instead of
// navigating. Without JavaScript the links lead to the same pages, and every action is a plain form post.
"use strict";
(function () {
  const dialog = document.getElementById("source-dialog");
  if (!dialog || typeof dialog.showModal !== "function") return;
  const body = dialog.querySelector(".dialog-body");
  let opener = null;

  async function open(link) {
    const url = new URL(link.href, window.location.href);
    url.searchParams.set("fragment", "1");
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) { window.location.href = link.href; return; }
    body.innerHTML = await response.text();  // rendered by the server, autoescaped
    opener = link;
    dialog.showModal();
    const first = body.querySelector("button, input, a[href]");
    if (first) first.focus();
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-dialog]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    open(link).catch(() => { window.location.href = link.href; });
  });
  // Focus goes back to the link that opened the dialog (keyboard users keep their place).
  dialog.addEventListener("close", () => { body.innerHTML = ""; if (opener) opener.focus(); });
})();
