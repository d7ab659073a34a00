// The end-of-set summary stays in view after the next set starts: the Live view keeps the
// athlete's previous set (its name, when, the summary with the stop-above advice) in a card
// of its own until another set ends.
import { escapeHtml, kg } from "./format.js";
import { summaryHtml } from "./reps.js";
import { $, state } from "./state.js";
import { variantLabel } from "./vocabulary.js";

const previous = new Map();  // athlete id -> {set, reps, at}

// Called as a new set starts: `set` (state.currentSet) and its reps (state.liveReps) are kept.
export function keepFinishedSet(set, reps) {
  if (!set || !reps.length) return;
  previous.set(String(state.athleteId), { set: { ...set }, reps: reps.map((r) => r.metrics), at: new Date() });
  renderLastSet();
}

export function renderLastSet() {
  const card = $("last-set");
  if (!card) return;
  const kept = previous.get(String(state.athleteId));
  card.hidden = !kept;
  if (!kept) return;
  card.innerHTML = `<h2>Previous set <span class="muted">${escapeHtml(variantLabel(kept.set.variant))}, ${kg(kept.set.load_kg)}, `
    + `ended by ${kept.at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}</span></h2>`
    + `<div class="summary">${summaryHtml(kept.reps)}</div>`;
}
