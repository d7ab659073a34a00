// A question with a few answers, as a modal dialog (the page's own, not window.confirm, so
// that it can offer more than yes/no: "archive instead", "delete the sets too").
import { escapeHtml } from "./format.js";

// Resolves with the chosen answer's value, or null when dismissed (Esc, Cancel).
export function ask(title, text, answers) {
  const dialog = document.createElement("dialog");
  dialog.className = "ask card";
  dialog.innerHTML = `<h2>${escapeHtml(title)}</h2><p>${escapeHtml(text)}</p><div class="answers">`
    + answers.map((a, i) => `<button type="button" data-i="${i}" class="${a.danger ? "danger" : a.primary ? "" : "secondary"}">${escapeHtml(a.label)}</button>`).join("")
    + '<button type="button" data-i="cancel" class="secondary">Cancel</button></div>';
  document.body.append(dialog);
  return new Promise((resolve) => {
    const finish = (value) => { dialog.close(); dialog.remove(); resolve(value); };
    dialog.addEventListener("cancel", (event) => { event.preventDefault(); finish(null); });
    dialog.querySelectorAll("button").forEach((b) => b.addEventListener("click", () =>
      finish(b.dataset.i === "cancel" ? null : answers[Number(b.dataset.i)].value)));
    dialog.showModal();
  });
}
