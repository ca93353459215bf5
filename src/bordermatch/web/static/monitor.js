// The lane monitor: poll the lane's newest encounter id, insert new vehicles in place.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("monitor");
  if (!root) return;
  const prefix = root.dataset.prefix;
  const lane = encodeURIComponent(root.dataset.lane);
  const status = document.getElementById("monitor-status");
  let newest = root.dataset.newest;

  // A thumbnail that fails to load says so in words: never a broken image.
  const unavailable = (img) => {
    const box = document.createElement("div");
    box.className = "thumb placeholder photo-purged";
    box.textContent = "unavailable";
    img.replaceWith(box);
  };
  const guardAll = () => root.querySelectorAll("img.thumb:not([data-guarded])").forEach((img) => {
    img.dataset.guarded = "1";
    if (img.complete && img.naturalWidth === 0) unavailable(img);
    else img.addEventListener("error", () => unavailable(img));
  });
  guardAll();

  async function refresh() {
    const head = await fetch(`${prefix}/monitor/head.json?lane=${lane}`,
                             {cache: "no-store", credentials: "same-origin"});
    if (head.status === 401) { status.textContent = "Signed out: reload to sign in."; return false; }
    if (!head.ok) return true;
    const info = await head.json();
    if (!info.newest || info.newest === newest) return true;
    const page = await fetch(`${prefix}/monitor/cards?lane=${lane}`,
                             {cache: "no-store", credentials: "same-origin"});
    if (!page.ok) return true;
    const doc = new DOMParser().parseFromString(await page.text(), "text/html");
    // Keep the cards already shown (their thumbnails are not fetched, nor audited, again).
    const cards = [...doc.querySelectorAll("article.vehicle")].map((card) =>
      root.querySelector(`[data-encounter="${CSS.escape(card.dataset.encounter)}"]`)
        || document.adoptNode(card));
    root.replaceChildren(...cards);
    guardAll();
    document.getElementById("monitor-empty")?.remove();
    newest = info.newest;
    root.dataset.newest = newest;
    status.textContent = `${info.count} encounter${info.count === 1 ? "" : "s"} on this lane; updated ${new Date().toLocaleTimeString()}.`;
    return true;
  }

  const every = Number(root.dataset.pollMs) || 2000;
  const loop = async () => {
    let again = true;
    try { again = await refresh(); } catch (e) { /* the network blinked: try next time */ }
    if (again) setTimeout(loop, every);
  };
  setTimeout(loop, every);
});
