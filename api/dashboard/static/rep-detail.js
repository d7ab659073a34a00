// Rep detail (a sheet over any view): pelvic tilt against thigh angle (descent solid, ascent
// dashed) and the three angles through time, from the live stream when it still holds the
// rep, else from the set's stored raw samples analysed again.
import { lineChart, xyChart } from "./charts.js";
import { deg } from "./format.js";
import { api } from "./http.js";
import { flagHtml, thresholdText } from "./reps.js";
import { $, state } from "./state.js";
import { COLORS } from "./theme.js";

function angleSeriesOfSet(setId) {
  if (!state.setAngles.has(setId) || (state.currentSet && state.currentSet.id === setId && state.currentSet.recording)) {
    state.setAngles.set(setId, api(`/dashboard/sets/${setId}/angles`));
  }
  return state.setAngles.get(setId);
}

function slice(series, from, to) {
  const out = { t: [], thigh: [], tilt: [], hip: [] };
  for (let i = 0; i < series.t.length; i++) {
    if (series.t[i] < from || series.t[i] > to) continue;
    out.t.push(series.t[i]); out.thigh.push(series.thigh[i]); out.tilt.push(series.tilt[i]); out.hip.push(series.hip[i]);
  }
  return out;
}

export async function openRep(rep) {
  const m = rep.metrics;
  $("rep-title").textContent = `Rep ${m.rep}`;
  $("rep-facts").innerHTML = `Depth ${deg(m.depth_deg)}, hip flexion ${deg(m.hip_flexion_max_deg)}, `
    + `tilt peak ${deg(m.pelvic_tilt_peak_deg, 1)} → bottom ${deg(m.pelvic_tilt_bottom_deg, 1)}, `
    + `wink ${deg(m.wink_deg, 1)}${thresholdText(m)}${m.butt_wink ? ` from ${deg(m.wink_onset_depth_deg)}` : ""} ${flagHtml(m)}`
    + `; down ${m.descent_s.toFixed(1)} s, up ${m.ascent_s.toFixed(1)} s${m.quality.length ? `; ${m.quality.join(", ")}` : ""}.`;
  $("rep-note").textContent = "";
  $("rep-detail").hidden = false;
  let series = null, note = "";
  const b = state.buffer;  // live and stored rep times are both s since the set started
  if (rep.source === "live" && b.setKey === rep.set_key && b.t.length && b.t[0] <= m.start_s && b.t[b.t.length - 1] >= m.end_s) {
    series = slice(b, m.start_s, m.end_s);
    note = "From the live stream (about 20 samples per second).";
  } else {
    try {
      const setId = rep.set_id || (state.currentSet && state.currentSet.set_key === rep.set_key ? state.currentSet.id : null);
      if (!setId) throw new Error("the set of this rep is not stored yet; try again in a moment");
      const angles = await angleSeriesOfSet(setId);
      series = slice({ t: angles.t_s, thigh: angles.thigh_deg, tilt: angles.pelvic_tilt_deg, hip: angles.hip_flexion_deg },
        m.start_s, m.end_s);
      note = "From the stored raw samples, analysed again.";
    } catch (error) {
      $("rep-note").textContent = `No angles for this rep: ${error.message}`;
      return;
    }
  }
  $("rep-note").textContent = note;
  drawRep(series, m);
}

function valueAt(series, key, t) {
  let best = 0;
  for (let i = 0; i < series.t.length; i++) if (Math.abs(series.t[i] - t) < Math.abs(series.t[best] - t)) best = i;
  return series[key][best];
}

function drawRep(series, times) {
  const split = series.t.findIndex((t) => t >= times.bottom_s);
  const marks = [];
  if (times.wink_onset_s !== null && times.wink_onset_s !== undefined && times.butt_wink) {
    marks.push({ x: valueAt(series, "thigh", times.wink_onset_s), y: valueAt(series, "tilt", times.wink_onset_s),
      color: COLORS.wink, label: "wink onset" });
  }
  xyChart($("rep-loop"), {
    x: series.thigh, y: series.tilt, split: split < 0 ? series.t.length : split + 1,
    colors: [COLORS.descent, COLORS.ascent], marks, xLabel: "thigh angle (deg)", yLabel: "pelvic tilt (deg)",
  });
  const t0 = times.start_s;
  const timeMarks = [{ x: times.bottom_s - t0, color: "#9aa5b4", label: "bottom" }];
  if (marks.length) timeMarks.push({ x: times.wink_onset_s - t0, color: COLORS.wink, label: "wink" });
  lineChart($("rep-time"), {
    x: series.t.map((t) => t - t0), xLabel: "s", yLabel: "deg", marks: timeMarks,
    series: [{ y: series.thigh, color: COLORS.thigh }, { y: series.tilt, color: COLORS.tilt }, { y: series.hip, color: COLORS.hip }],
  });
}

export function wireRepDetail() {
  $("rep-close").addEventListener("click", () => { $("rep-detail").hidden = true; });
}
