// What each number means, where it is shown: every element with data-explain="<key>" gets a
// small "?" that opens the explanation (GET /athletes/{id}/explanations: the API's text, the
// threshold in use for this athlete, or an admin's own words for them). An admin changes the
// text for the athlete or hides the explanation from the same sheet. Views only add the
// attribute; new elements are found as they appear.
import { escapeHtml } from "./format.js";
import { api, permissionMessage } from "./http.js";
import { $, athleteName, state } from "./state.js";

let current = { athleteId: null, items: new Map(), threshold: null };
let openKey = null;

export async function loadExplanations() {
  const athleteId = state.athleteId;
  if (!athleteId) return;
  try {
    const body = await api(`/athletes/${athleteId}/explanations`);
    if (athleteId !== state.athleteId) return;
    current = { athleteId, items: new Map(body.items.map((i) => [i.key, i])), threshold: body };
  } catch (_) {
    current = { athleteId, items: new Map(), threshold: null };  // no "?" rather than a broken one
  }
  decorate(document.body);
  if (openKey) show(openKey);
}

// The threshold in use for the followed athlete, in words (null until loaded).
export function thresholdInUse() { return current.threshold; }

function decorate(root) {
  root.querySelectorAll("[data-explain]").forEach((element) => {
    const item = current.items.get(element.dataset.explain);
    let button = element.querySelector(":scope > button.explain");
    if (!item || !item.shown) { if (button) button.remove(); return; }
    if (!button) {
      button = document.createElement("button");
      button.type = "button";
      button.className = "explain";
      button.textContent = "?";
      button.addEventListener("click", (event) => { event.stopPropagation(); show(element.dataset.explain); });
      const value = element.querySelector(":scope > b");  // right after the label, before a readout
      if (value) element.insertBefore(button, value); else element.append(button);
    }
    button.setAttribute("aria-label", `What is ${item.label}?`);
  });
}

function sheet() {
  let element = $("explain-sheet");
  if (element) return element;
  element = document.createElement("div");
  element.id = "explain-sheet";
  element.className = "explain-sheet";
  element.setAttribute("role", "dialog");
  element.hidden = true;
  document.body.append(element);
  return element;
}

function show(key) {
  const item = current.items.get(key);
  const element = sheet();
  if (!item) { element.hidden = true; openKey = null; return; }
  openKey = key;
  element.innerHTML = `<div class="row"><h2>${escapeHtml(item.label)}</h2><button type="button" class="secondary" data-close>Close</button></div>`
    + `<p class="explain-text">${escapeHtml(item.text)}</p>`
    + (item.custom ? `<p class="muted">Written for ${escapeHtml(athleteName(current.athleteId))}. The default: ${escapeHtml(item.default_text)}</p>` : "")
    + `<details class="admin-only"><summary>Change for ${escapeHtml(athleteName(current.athleteId))} (admin)</summary>`
    + `<textarea rows="3" maxlength="1000" aria-label="explanation for this athlete" placeholder="${escapeHtml(item.default_text)}">${item.custom ? escapeHtml(item.text) : ""}</textarea>`
    + `<div class="row"><button type="button" data-save>Save</button><button type="button" class="secondary" data-hide>Hide for this athlete</button>`
    + `<button type="button" class="secondary" data-reset>Default</button></div><p class="error" role="alert"></p></details>`;
  element.hidden = false;
  const error = element.querySelector(".error");
  const change = (method, body) => api(`/athletes/${current.athleteId}/explanations/${key}`, { method, json: body })
    .then(() => loadExplanations()).catch((e) => { error.textContent = permissionMessage(e); });
  element.querySelector("[data-close]").addEventListener("click", () => { element.hidden = true; openKey = null; });
  element.querySelector("[data-save]").addEventListener("click", () => change("PUT", { text: element.querySelector("textarea").value, shown: true }));
  element.querySelector("[data-hide]").addEventListener("click", () => { change("PUT", { text: item.custom ? item.text : null, shown: false }); element.hidden = true; openKey = null; });
  element.querySelector("[data-reset]").addEventListener("click", () => change("DELETE"));
}

export function wireExplanations() {
  new MutationObserver((records) => {
    for (const record of records) for (const node of record.addedNodes) {
      if (node.nodeType === 1 && !node.classList.contains("explain")) decorate(node.parentElement || node);
    }
  }).observe(document.body, { childList: true, subtree: true });
}
