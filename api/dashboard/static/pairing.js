// Setup, sensors: scan through the gateway (name, kind, signal, battery), pair a sensor to an
// athlete as sacrum or thigh, unassign it, rename it. Each change is stored and in effect on
// the running gateway at once (no restart).
import { athletesChanged } from "./athletes.js";
import { once } from "./busy.js";
import { escapeHtml } from "./format.js";
import { allPages, api } from "./http.js";
import { $, athleteName, state } from "./state.js";
import { placements, sensorKindLabel } from "./vocabulary.js";

const SCAN_S = 4;
let found = [];  // the last scan's sensors (POST /sensors/scan)

// Signal strength in words a coach can act on (BLE RSSI, dBm).
function signalWords(rssi) {
  if (rssi === null || rssi === undefined) return "signal ?";
  const words = rssi >= -65 ? "strong" : rssi >= -80 ? "fair" : "weak: move closer";
  return `signal ${words} (${rssi} dBm)`;
}

async function scan() {
  $("scan-state").textContent = `Listening for ${SCAN_S} s…`;
  try {
    found = await api("/sensors/scan", { method: "POST", json: { timeout_s: SCAN_S } });
    $("scan-state").textContent = found.length
      ? `${found.length} sensor${found.length === 1 ? "" : "s"} found, strongest first.`
      : "No sensors heard. Are they switched on, charged and not connected to a phone app?";
  } catch (error) {
    $("scan-state").textContent = error.message;
    found = [];
  }
  await drawFound();
}

async function drawFound() {
  const athletes = await allPages("/athletes");
  const options = athletes.map((a) => `<option value="${a.id}" ${a.id === state.athleteId ? "selected" : ""}>${escapeHtml(a.name)}</option>`).join("");
  $("found-sensors").innerHTML = found.map((s) => {
    const worn = s.athlete_id ? `worn by ${escapeHtml(athleteName(s.athlete_id))} (${escapeHtml(s.placement)})` : "not paired";
    return `<li data-address="${escapeHtml(s.address)}">`
      + `<b>${escapeHtml(s.name || s.address)}</b> <span class="muted">${escapeHtml(sensorKindLabel(s.kind))}</span>`
      + `<small>${signalWords(s.rssi_dbm)} · battery ${s.battery_pct ?? "?"}%</small>`
      + `<small>${escapeHtml(s.address)} · <span class="worn">${worn}</span></small>`
      + `<div class="row pair"><select aria-label="athlete for ${escapeHtml(s.address)}">${options}</select>`
      + placements().map((p) => `<button type="button" data-pair="${escapeHtml(p.value)}">${escapeHtml(p.label.charAt(0).toUpperCase() + p.label.slice(1))}</button>`).join("")
      + "</div><div class=\"row actions\">"
      + (s.athlete_id ? '<button type="button" class="secondary" data-act="unassign">Unassign</button>' : "")
      + '<button type="button" class="secondary" data-act="rename">Rename</button></div>'
      + '<p class="error" role="alert"></p></li>';
  }).join("");
}

// The sensor's id, registering it first if the database does not know it yet.
async function sensorId(sensor) {
  if (sensor.sensor_id) return sensor.sensor_id;
  const made = await api("/sensors", { method: "POST", json: { address: sensor.address, kind: sensor.kind, name: sensor.name || "" } });
  sensor.sensor_id = made.id;
  return made.id;
}

async function assign(sensor, athleteId, placement) {
  const stored = await api(`/sensors/${await sensorId(sensor)}/assignment`, {
    method: "PUT", json: athleteId ? { athlete_id: athleteId, placement } : {} });
  // Whoever held that place before lost it: refresh what the list shows.
  for (const other of found) {
    if (other !== sensor && athleteId && other.athlete_id === athleteId && other.placement === placement) {
      other.athlete_id = null; other.placement = null;
    }
  }
  sensor.athlete_id = stored.athlete_id;
  sensor.placement = stored.placement;
  $("scan-state").textContent = athleteId
    ? `${sensor.name || sensor.address} is ${athleteName(athleteId)}'s ${placement} sensor now (in effect at once).`
    : `${sensor.name || sensor.address} is unassigned.`;
}

export function wirePairing() {
  $("scan-sensors").addEventListener("click", () => once($("scan-sensors"), scan));
  $("found-sensors").addEventListener("click", (event) => {
    const button = event.target.closest("button");
    const item = event.target.closest("li[data-address]");
    if (button && item) once(button, () => onSensorButton(button, item));
  });
}

// Pair, unassign or rename the scanned sensor of list item `item`.
async function onSensorButton(button, item) {
  const sensor = found.find((s) => s.address === item.dataset.address);
  const error = item.querySelector(".error");
  error.textContent = "";
  try {
    if (button.dataset.pair) await assign(sensor, Number(item.querySelector("select").value), button.dataset.pair);
    if (button.dataset.act === "unassign") await assign(sensor, null, null);
    if (button.dataset.act === "rename") {
      const name = prompt("Name this sensor (e.g. the colour of its strap)", sensor.name || "");
      if (name === null) return;
      const stored = await api(`/sensors/${await sensorId(sensor)}`, { method: "PATCH", json: { name } });
      sensor.name = stored.name;
    }
  } catch (problem) {
    error.textContent = problem.message;
    return;
  }
  await drawFound();
  athletesChanged();
}
