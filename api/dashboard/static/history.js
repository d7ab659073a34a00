// The History view: wink onset depth and amplitude set by set (median per set, by variant,
// labelled with the load, sessions shaded) and the athlete summary by variant and by load.
import { lineChart } from "./charts.js";
import { deg, median, plural } from "./format.js";
import { allPages, api, pages } from "./http.js";
import { $, athleteName, state } from "./state.js";
import { VARIANT_COLORS } from "./theme.js";
import { variantLabel } from "./vocabulary.js";

export async function renderHistory() {
  const athleteId = state.athleteId;
  const [summary, sets, loaded] = await Promise.all([
    api(`/athletes/${athleteId}/summary`), allPages(`/sets?athlete_id=${athleteId}`), pages(`/reps?athlete_id=${athleteId}`),
  ]);
  if (athleteId !== state.athleteId) return;
  // A long history is drawn from its newest reps: the set of the oldest rep loaded may have more
  // reps past them, so it is left out as well, and the note under the charts says so.
  const cut = loaded.more ? loaded.items[loaded.items.length - 1].set_id : null;
  const reps = loaded.items.filter((r) => r.set_id !== cut);
  // One point per set (oldest first): median over its reps, coloured by variant, labelled with the load;
  // shaded bands group the sets of one session.
  const ordered = sets.filter((s) => reps.some((r) => r.set_id === s.id)).sort((a, b) => a.id - b.id);
  const variants = [...new Set(ordered.map((s) => s.variant))].sort();
  const onset = [], amplitude = [];
  variants.forEach((variant, k) => {
    const color = VARIANT_COLORS[k % VARIANT_COLORS.length];
    const x = [], yOnset = [], yWink = [], labels = [];
    ordered.forEach((set, i) => {
      if (set.variant !== variant) return;
      const rows = reps.filter((r) => r.set_id === set.id);
      x.push(i + 1);
      yOnset.push(median(rows.filter((r) => r.butt_wink).map((r) => r.wink_onset_depth_deg)));
      yWink.push(median(rows.map((r) => r.wink_deg)));
      labels.push(set.load_kg === null ? "bw" : `${set.load_kg}`);
    });
    onset.push({ x, y: yOnset, color, dots: true, labels, width: 0 });
    amplitude.push({ x, y: yWink, color, dots: true, labels, width: 0 });
  });
  const spans = [];
  ordered.forEach((set, i) => {
    const last = spans[spans.length - 1];
    if (last && last.session === set.session_id) last.to = i + 1.5;
    else spans.push({ session: set.session_id, from: i + 0.5, to: i + 1.5, color: spans.length % 2 ? "rgba(255,255,255,0.03)" : "rgba(255,255,255,0.08)" });
  });
  const xRange = [0.5, Math.max(ordered.length, 1) + 0.5];
  const top = Math.max(15, ...reps.map((r) => r.wink_deg));
  // An empty chart says why: no reps stored yet, or reps but never a wink (nothing to place).
  const noReps = ordered.length ? null : `No reps stored for ${athleteName(athleteId)} yet: record a set on the Live tab.`;
  const noWinks = noReps || (reps.some((r) => r.butt_wink) ? null : `No wink in any of ${plural(reps.length, "rep")}: no onset to plot.`);
  lineChart($("history-onset"), { x: [], series: onset, xRange, yRange: [40, 120], spans, integerX: true,
    xLabel: "set (label: kg)", yLabel: "onset (deg)", emptyText: noWinks });
  lineChart($("history-amplitude"), { x: [], series: amplitude, xRange, yRange: [0, top], spans, integerX: true,
    xLabel: "set (label: kg)", yLabel: "wink (deg)", emptyText: noReps });
  drawLegend(variants);
  $("history-cut").hidden = !loaded.more;
  $("history-cut").textContent = loaded.more
    ? `Drawn: the newest ${plural(ordered.length, "set")} (${plural(reps.length, "rep")}); older sets are not. The tables below count every rep.` : "";
  $("history-variants").innerHTML = summary.variants.map((v) => `<tr><td>${variantLabel(v.variant)}</td><td>${v.reps}</td>`
    + `<td>${v.wink_reps}</td><td>${deg(v.median_wink_onset_depth_deg)}</td><td>${deg(v.median_loaded_onset_depth_deg)}</td></tr>`).join("");
  $("history-loads").innerHTML = summary.by_load.map((p) => `<tr><td>${variantLabel(p.variant)}</td><td>${p.load_kg}</td>`
    + `<td>${p.reps}</td><td>${p.wink_reps}</td><td>${deg(p.median_wink_onset_depth_deg)}</td></tr>`).join("");
}

// Built through the DOM, colours included: no inline style attributes (a strict CSP allows none).
function drawLegend(variants) {
  const legend = $("history-legend");
  legend.replaceChildren();
  if (!variants.length) { legend.textContent = "No reps yet."; return; }
  variants.forEach((variant, k) => {
    const item = document.createElement("span");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = VARIANT_COLORS[k % VARIANT_COLORS.length];
    item.append(swatch, variantLabel(variant));
    legend.append(item);
  });
}
