// Two sets side by side (Sets tab): "Compare two sets", tap two sets in the list, and their
// numbers stand next to each other (reps, winks, depth, onset range, wink amplitude, the
// threshold they were flagged against) with the onset difference, and their reps overlaid
// in two charts (onset and wink amplitude, rep by rep).
import { lineChart } from "./charts.js";
import { deg, escapeHtml, kg, median, plural } from "./format.js";
import { allPages } from "./http.js";
import { $, state } from "./state.js";
import { VARIANT_COLORS } from "./theme.js";
import { variantLabel } from "./vocabulary.js";

const compare = { on: false, picked: [] };   // picked: set ids, in the order tapped
const COLORS = [VARIANT_COLORS[0], VARIANT_COLORS[1]];

export function wireCompare() {
  const list = $("set-list");
  const button = document.createElement("button");
  button.type = "button"; button.id = "compare-sets"; button.className = "secondary";
  button.textContent = "Compare two sets";
  list.before(button);
  const hint = document.createElement("p");
  hint.id = "compare-hint"; hint.className = "muted"; hint.hidden = true;
  list.before(hint);
  const card = document.createElement("div");
  card.id = "compare"; card.className = "card"; card.hidden = true;
  $("set-detail").before(card);
  button.addEventListener("click", () => toggle(!compare.on));
  // While comparing, a tap on a set picks it instead of opening it (sets.js opens it otherwise).
  list.addEventListener("click", (event) => {
    if (!compare.on) return;
    const item = event.target.closest("li[data-set]");
    if (!item) return;
    event.stopPropagation();
    pick(Number(item.dataset.set));
  }, true);
  document.querySelector('.tabs button[data-tab="sets"]').addEventListener("click", () => toggle(false));
  $("athlete").addEventListener("change", () => toggle(false));
}

function toggle(on) {
  compare.on = on;
  compare.picked = [];
  $("compare-sets").textContent = on ? "Cancel comparing" : "Compare two sets";
  $("compare-hint").hidden = !on;
  $("compare-hint").textContent = "Tap two sets to compare them.";
  if (on) $("compare").hidden = true;
  markPicked();
}

function markPicked() {
  document.querySelectorAll("#set-list li[data-set]").forEach((li) => li.classList.toggle("picked", compare.picked.includes(Number(li.dataset.set))));
}

async function pick(setId) {
  compare.picked = compare.picked.includes(setId) ? compare.picked.filter((id) => id !== setId) : [...compare.picked, setId].slice(-2);
  markPicked();
  $("compare-hint").textContent = compare.picked.length === 1 ? "Now tap the set to compare it with." : "Tap two sets to compare them.";
  if (compare.picked.length === 2) {
    const ids = [...compare.picked];
    toggle(false);
    await show(ids);
  }
}

function setName(set) {
  return `${variantLabel(set.variant)}, ${kg(set.load_kg)}, ${new Date(set.started_at).toLocaleString([], { dateStyle: "medium", timeStyle: "short" })}`;
}

async function show(ids) {
  const card = $("compare");
  card.hidden = false;
  card.innerHTML = '<p class="muted">Loading both sets…</p>';
  let sets, reps;
  try {
    const all = await allPages(`/sets?athlete_id=${state.athleteId}`, 2);
    sets = ids.map((id) => all.find((s) => s.id === id));
    reps = await Promise.all(ids.map(async (id) => (await allPages(`/reps?set_id=${id}`)).sort((a, b) => a.rep - b.rep)));
  } catch (error) {
    card.innerHTML = `<p class="error">${escapeHtml(error.message)}</p>`;
    return;
  }
  const facts = reps.map(setFacts);
  const row = (label, fn, key, explain) => `<tr data-row="${key}"><th${explain ? ` data-explain="${explain}"` : ""}>${label}</th>${facts.map((f) => `<td>${fn(f)}</td>`).join("")}</tr>`;
  const onsetDiff = facts[0].onset !== null && facts[1].onset !== null ? facts[1].onset - facts[0].onset : null;
  card.innerHTML = `<div class="row"><h2>Two sets side by side</h2><button type="button" class="secondary" id="compare-close">Close</button></div>`
    + `<table class="grid compare-table"><thead><tr><th></th>${sets.map((s, k) => `<th><span class="swatch" data-color="${k}"></span>${escapeHtml(setName(s))}</th>`).join("")}</tr></thead><tbody>`
    + row("reps", (f) => f.reps, "reps")
    + row("with a wink", (f) => `${f.winks}`, "winks", "threshold")
    + row("median depth", (f) => deg(f.depth), "depth", "thigh")
    + row("wink onset", (f) => (f.onset === null ? "no wink" : `${deg(f.onset)} <small>(${deg(f.onsetLow)}–${deg(f.onsetHigh)})</small>`), "onset", "onset")
    + row("median wink", (f) => deg(f.wink, 1), "wink", "wink")
    + row("threshold", (f) => f.threshold, "threshold", "threshold")
    + "</tbody></table>"
    + `<p class="compare-diff" data-onset-diff="${onsetDiff === null ? "" : onsetDiff.toFixed(1)}">${diffText(facts, onsetDiff)}</p>`
    + '<h3>Wink onset, rep by rep</h3><canvas id="compare-onset" class="chart"></canvas>'
    + '<h3>Wink amplitude, rep by rep</h3><canvas id="compare-wink" class="chart"></canvas>';
  card.querySelectorAll(".swatch[data-color]").forEach((s) => { s.style.background = COLORS[Number(s.dataset.color)]; });
  $("compare-close").addEventListener("click", () => { card.hidden = true; });
  const most = Math.max(1, ...reps.map((r) => r.length));
  const series = (key, onlyWinks) => reps.map((r, k) => ({ x: r.map((m) => m.rep), y: r.map((m) => (onlyWinks && !m.butt_wink ? null : m[key])), color: COLORS[k], dots: true }));
  const anyWink = reps.some((r) => r.some((m) => m.butt_wink));
  const noReps = reps.every((r) => !r.length) ? "Neither set has reps stored." : null;
  lineChart($("compare-onset"), { x: [], series: series("wink_onset_depth_deg", true), xRange: [0.5, most + 0.5], yRange: [40, 130], integerX: true,
    xLabel: "rep", yLabel: "onset (deg)", emptyText: noReps || (anyWink ? null : "Neither set has a wink: no onset to compare.") });
  lineChart($("compare-wink"), { x: [], series: series("wink_deg", false), xRange: [0.5, most + 0.5], integerX: true,
    yRange: [0, Math.max(15, ...reps.flat().map((m) => m.wink_deg))], xLabel: "rep", yLabel: "wink (deg)", emptyText: noReps });
  card.scrollIntoView({ behavior: "smooth" });
}

function setFacts(reps) {
  const onsets = reps.filter((m) => m.butt_wink && m.wink_onset_depth_deg !== null).map((m) => m.wink_onset_depth_deg);
  const first = reps[0];
  const threshold = !first ? "–" : `${deg(first.wink_threshold_deg, 1)} ${first.threshold_source === "personal" ? "personal" : "default"}`;
  return {
    reps: reps.length, winks: onsets.length, depth: median(reps.map((m) => m.depth_deg)),
    onset: median(onsets), onsetLow: onsets.length ? Math.min(...onsets) : null, onsetHigh: onsets.length ? Math.max(...onsets) : null,
    wink: median(reps.map((m) => m.wink_deg)), threshold,
  };
}

function diffText(facts, onsetDiff) {
  const [a, b] = facts;
  if (onsetDiff !== null) {
    const way = Math.abs(onsetDiff) < 1 ? "about the same depth" : onsetDiff > 0 ? "deeper (later)" : "shallower (earlier)";
    return `The wink starts ${deg(Math.abs(onsetDiff))} ${way} in the second set (median onset ${deg(a.onset)} → ${deg(b.onset)}).`;
  }
  if (a.winks && !b.winks) return `Wink in ${plural(a.winks, "rep")} of the first set, none in the second (depth ${deg(b.depth)}).`;
  if (!a.winks && b.winks) return `No wink in the first set; ${plural(b.winks, "rep")} of the second wink.`;
  return "Neither set has a wink.";
}
