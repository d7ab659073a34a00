// Sensor health in words (good / check / bad with the reason, from the server's
// sensor_gateway.health), and the live view's alerts: a sensor of the followed athlete that
// disconnects or whose battery runs low.
import { escapeHtml } from "./format.js";
import { $, state } from "./state.js";

const BATTERY_ALERT_PCT = 25;  // the server's "check" level for a battery (health.py)
const LABELS = { good: "good", check: "check", bad: "bad" };

// A health badge and its reason, for any sensor row ({health, health_reason} or {health, reason}).
export function healthHtml(s) {
  const level = LABELS[s.health] ? s.health : null;
  const reason = s.health_reason ?? s.reason ?? "";
  if (!level) return `<span class="health unknown">?</span> <span class="muted">${escapeHtml(reason || "no health reported")}</span>`;
  return `<span class="health ${level}">${LABELS[level]}</span> <span class="reason">${escapeHtml(reason)}</span>`;
}

const alerts = new Map();  // address -> text, for the followed athlete's sensors

// From the live stream's sensor_status_changed events.
export function onSensorAlert(event) {
  if (String(event.athlete_id) !== String(state.athleteId)) return;
  const name = event.placement ? `${event.placement} sensor` : "sensor";
  let text = null;
  if (event.state === "disconnected") text = `${name} disconnected: reconnecting, keep it near the gateway`;
  else if (event.state === "gone") text = `${name} lost: switch it off and on`;
  else if (event.battery_pct !== null && event.battery_pct !== undefined && event.battery_pct <= BATTERY_ALERT_PCT) {
    text = `${name} battery low (${event.battery_pct} %): charge it after this set`;
  }
  if (text) alerts.set(event.address, text); else alerts.delete(event.address);
  renderAlerts();
}

export function clearSensorAlerts() {
  alerts.clear();
  renderAlerts();
}

function renderAlerts() {
  const box = $("sensor-alerts");
  box.hidden = alerts.size === 0;
  box.innerHTML = [...alerts.values()].map((t) => `<div>${escapeHtml(t)}</div>`).join("");
  window.winkwatch.sensorAlerts = [...alerts.values()];
}
