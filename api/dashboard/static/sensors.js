// The Sensors view: link state, health in words (good / check / bad, why), battery and gaps of every sensor, updated from
// the live stream's status events and refreshed from GET /sensors/status while shown.
import { escapeHtml, plural } from "./format.js";
import { healthHtml } from "./health.js";
import { api } from "./http.js";
import { $, athleteName, state } from "./state.js";

export function onSensorStatus(event) {
  const known = state.sensors.get(event.address) || {};
  state.sensors.set(event.address, { ...known, address: event.address, placement: event.placement, athlete_id: event.athlete_id,
    state: event.state, battery_pct: event.battery_pct ?? known.battery_pct, rssi_dbm: event.rssi_dbm ?? known.rssi_dbm,
    gaps: (known.gaps || 0) + (event.gap ? 1 : 0) });
  if (state.tab === "sensors") drawSensors();
}

export async function renderSensors() {
  try {
    for (const s of await api("/sensors/status")) state.sensors.set(s.address, s);
  } catch (error) {
    $("sensor-list").innerHTML = `<li class="error">${escapeHtml(error.message)}</li>`;
    return;
  }
  drawSensors();
}

// One sensor as a list item: placement, link state, who wears it (by name), health counters.
export function sensorHtml(s) {
  return `<li data-address="${escapeHtml(s.address)}">`
    + `${s.placement || "unassigned"} <span class="state ${escapeHtml(s.state)}">${escapeHtml(s.state)}</span>`
    + `<small>${escapeHtml(s.address)}${s.athlete_id ? ` · ${escapeHtml(athleteName(s.athlete_id))}` : ""}</small>`
    + `<small>${healthHtml(s)}</small>`
    + `<small>battery ${s.battery_pct ?? "?"}% · ${plural(s.gaps ?? 0, "gap")}${s.samples_missing ? ` (${plural(s.samples_missing, "sample")} lost)` : ""}</small></li>`;
}

function drawSensors() {
  const mine = [...state.sensors.values()].sort((a, b) =>
    (String(b.athlete_id) === String(state.athleteId)) - (String(a.athlete_id) === String(state.athleteId)) || a.address.localeCompare(b.address));
  $("sensor-list").innerHTML = mine.map(sensorHtml).join("") || '<li class="muted">No sensors seen by the gateway.</li>';
}
