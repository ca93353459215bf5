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
  for (const form of document.querySelectorAll("form.decision")) {
    form.addEventListener("submit", (event) => {
      // The plain Accept/Reject buttons need a reason of the officer's own; a standard
      // reason's button carries its text.
      const reason = form.querySelector("textarea[name=reason]");
      const submitter = event.submitter;
      if (submitter && submitter.name === "decision" && reason && !reason.value.trim()) {
        event.preventDefault();
        reason.focus();
        return;
      }
      // One decision per click: a double click must not post twice (the second would be a
      // 409). Disable after the submitter's value is captured, so it is still sent.
      setTimeout(() => {
        for (const b of form.querySelectorAll("button")) b.disabled = true;
      }, 0);
    });
    keyboard(form);
  }
});

// Two keys decide: "a" (accept) or "r" (reject) arms that group of standard reasons, then
// its number submits. Keys typed into the reason box are text, never shortcuts.
function keyboard(form) {
  let armed = null;
  const groups = form.querySelectorAll("fieldset[data-group]");
  const arm = (name) => {
    armed = name;
    for (const g of groups) g.classList.toggle("armed", g.dataset.group === name);
    const first = form.querySelector(`fieldset[data-group="${name}"] button`);
    if (first) first.focus();
  };
  const disarm = () => {
    armed = null;
    for (const g of groups) g.classList.remove("armed");
  };
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    const t = event.target;
    if (t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT" || t.isContentEditable)) return;
    if (event.key === "Escape") { disarm(); return; }
    if (event.key === "a" || event.key === "r") {
      event.preventDefault();
      arm(event.key === "a" ? "accept" : "reject");
      return;
    }
    if (armed && /^[1-9]$/.test(event.key)) {
      const button = form.querySelector(
        `fieldset[data-group="${armed}"] button[data-key="${event.key}"]`);
      if (button) {
        event.preventDefault();
        form.requestSubmit(button);
      }
    }
  });
}
