// A table of reps (live or stored) and the set summary: where the wink starts across the
// set's reps, and what depth to stop above (box height guidance).
import { deg, median } from "./format.js";
import { openRep } from "./rep-detail.js";

// The rep's measurement uncertainty u (`wink_uncertainty_deg`, fusion.baseline): `borderline`
// = measured within ±u of the bar. Empty where u is not known (some reps stored before it was).
const knownUncertainty = (m) => m.wink_uncertainty_deg !== undefined && m.wink_uncertainty_deg !== null;

export function uncertaintyText(m) {
  if (!knownUncertainty(m)) return "";
  const u = deg(m.wink_uncertainty_deg, 1);
  return m.wink_grade === "borderline" ? `borderline: within ±${u} of your bar` : `${m.wink_grade}, measured to ±${u}`;
}

// The flag with its grade: `borderline` is within the athlete's own noise of the threshold.
export function flagHtml(m) {
  const source = m.threshold_source === "personal" ? `personal, ${m.baseline_reps} reps` : "default";
  const uncertainty = uncertaintyText(m);
  const title = `threshold ${deg(m.wink_threshold_deg, 1)} (${source})${uncertainty ? `; ${uncertainty}` : ""}`;
  if (m.wink_grade === "borderline") {
    return `<span class="flag borderline" title="${title}">${m.butt_wink ? "wink?" : "ok?"}</span>`;
  }
  return m.butt_wink ? `<span class="flag wink" title="${title}">WINK</span>` : `<span class="flag ok" title="${title}">ok</span>`;
}

export function thresholdText(m) {
  if (m.wink_threshold_deg === undefined || m.wink_threshold_deg === null) return "";
  const source = m.threshold_source === "personal" ? `personal baseline, ${m.baseline_reps} reps` : (m.baseline_reps ? `default; baseline of ${m.baseline_reps} reps is lower` : "default");
  return ` vs threshold ${deg(m.wink_threshold_deg, 1)} (${source}), ${uncertaintyText(m) || m.wink_grade}`;
}

// A live rep the server could not store (`stored: false` on its rep_completed: a full disk...);
// the same rep comes again with `stored: true` once it is.
const UNSTORED_HTML = '<span class="flag unstored" title="shown live, not stored: the server cannot '
  + 'write its database now (the warning above says why); it is stored once it can">not stored</span>';

function repRow(rep, isNew) {
  const m = rep.metrics;
  const flag = flagHtml(m) + (rep.stored === false ? ` ${UNSTORED_HTML}` : "");
  return `<tr class="rep${isNew ? " new" : ""}${rep.stored === false ? " unstored" : ""}" data-rep="${m.rep}"><td>${m.rep}</td><td>${deg(m.depth_deg)}</td>`
    + `<td>${deg(m.wink_deg, 1)}</td><td>${m.butt_wink ? deg(m.wink_onset_depth_deg) : "–"}</td><td>${flag}</td></tr>`;
}

// Fill `body` (a tbody) with one row per entry; a tap opens the rep's detail.
export function renderRepTable(body, entries, newRep) {
  body.innerHTML = entries.map((r) => repRow(r, r.metrics.rep === newRep)).join("");
  body.querySelectorAll("tr.rep").forEach((row, i) => row.addEventListener("click", () => openRep(entries[i])));
}

export function summaryHtml(reps) {
  if (!reps.length) return '<span class="muted">Reps appear here as they are completed.</span>';
  const winks = reps.filter((m) => m.butt_wink && m.wink_onset_depth_deg !== null);
  const depth = median(reps.map((m) => m.depth_deg));
  if (!winks.length) {
    return `No butt wink in ${reps.length} rep${reps.length > 1 ? "s" : ""} (median depth ${deg(depth)}, `
      + `largest wink ${deg(Math.max(...reps.map((m) => m.wink_deg)), 1)}).`;
  }
  const onsets = winks.map((m) => m.wink_onset_depth_deg);
  // Whole degrees, the shallowest rounded down as the advice is: the two always agree.
  const stopAbove = Math.floor(Math.min(...onsets));
  const deepest = Math.max(stopAbove, Math.round(Math.max(...onsets)));
  const range = deepest === stopAbove ? deg(stopAbove) : `${deg(stopAbove)}–${deg(deepest)}`;
  return `Wink in ${winks.length} of ${reps.length} reps, starting at ${range} `
    + `thigh angle (median ${deg(median(onsets))}; median depth ${deg(depth)}).`
    + `<div class="advice" data-stop-above="${stopAbove}">Stop above ${stopAbove}°: set a box so the thigh stops at about ${stopAbove}° `
    + `(${stopAbove >= 90 ? "at or below" : "above"} parallel).</div>`;
}

