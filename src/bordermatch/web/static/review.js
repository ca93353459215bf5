// Progressive enhancement only: every page works without scripts.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // A live character count, so an officer sees the limit before the server refuses.
  for (const counter of document.querySelectorAll("[data-counter-for]")) {
    const field = document.getElementById(counter.dataset.counterFor);
    if (!field) continue;
    const update = () => { counter.textContent = String(field.value.length); };
    field.addEventListener("input", update);
    update();
  }
  // One decision per click: a double click must not post twice (the second would be a 409).
  for (const form of document.querySelectorAll("form.decision")) {
    form.addEventListener("submit", (event) => {
      const reason = form.querySelector("textarea[name=reason]");
      if (reason && !reason.value.trim()) {
        event.preventDefault();
        reason.focus();
        return;
      }
      // Disable after the submitter's value is captured, so it is still sent.
      setTimeout(() => {
        for (const b of form.querySelectorAll("button")) b.disabled = true;
      }, 0);
    });
  }
});
