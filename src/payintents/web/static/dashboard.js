// The one thing script does here: a form marked data-once is sent once, so a double click on
// "Refund" sends one request. The server never depends on it: each refund form carries its own
// idempotency key, and a second request with it replays the first answer.
"use strict";
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-once")) return;
  if (form.dataset.sent === "yes") {
    event.preventDefault();
    return;
  }
  form.dataset.sent = "yes";
  form.querySelectorAll("button[type=submit]").forEach((button) => button.setAttribute("aria-busy", "true"));
});
// Coming back to the page from the history cache: the form may be used again (the key replays).
window.addEventListener("pageshow", (event) => {
  if (event.persisted) document.querySelectorAll("form[data-once]").forEach((form) => delete form.dataset.sent);
});
