// The ready panel before Start (GET /athletes/{id}/ready, polled while no set records): both
// sensors streaming with their health, standing still with a countdown, the placement seen on
// the last squat (swapped / wrong segment), a missing sensor with the explicit override; after
// Start, "stand still" counts down until the set's calibrated event gives the tick.
import { escapeHtml } from "./format.js";
import { healthHtml } from "./health.js";
import { api } from "./http.js";
import { $, state } from "./state.js";

const POLL_MS = 1000;
const CALIBRATION_TIMEOUT_S = 8;  // no calibrated event by then: say so

let timer = null;
let last = null;        // the last ready check (ReadyPublic)
let calibration = null; // {setKey, startedMs, stillS, ok, message}
let tickTimer = null;

export function startReadyChecks() {
  stopReadyChecks();
  last = null;
  calibration = null;
  $("ready-override").checked = false;
  poll();
  timer = setInterval(poll, POLL_MS);
}

export function stopReadyChecks() {
  clearInterval(timer);
  timer = null;
}

async function poll() {
  if (!state.athleteId || state.tab !== "live") return;
  const athleteId = state.athleteId;
  try {
    const body = await api(`/athletes/${athleteId}/ready`);
    if (athleteId !== state.athleteId) return;
    last = body;
    $("ready-error").textContent = "";
  } catch (error) {
    last = null;
    $("ready-error").textContent = error.message;
  }
  render();
}

function recording() {
  return Boolean(state.currentSet && state.currentSet.recording);
}

export function render() {
  const panel = $("ready");
  panel.hidden = !last && !calibration;
  window.winkwatch.ready = last;
  if (calibration && recording()) { renderCalibration(); return; }
  if (!last) return;
  const sensors = last.sensors.map((s) => `<li class="ready-sensor ${s.health}" data-placement="${s.placement}">`
    + `<b>${escapeHtml(s.placement)}</b> ${healthHtml(s)}</li>`).join("");
  const placement = last.missing.length ? "" : last.placement_code
    ? `<li class="ready-warning" data-code="${escapeHtml(last.placement_code)}">⚠ ${escapeHtml(last.placement_message)}</li>`
    : `<li class="${last.placement_checked ? "ready-ok" : "muted"}">${last.placement_checked ? "✓ " : ""}${escapeHtml(last.placement_message)}</li>`;
  const left = Math.max(0, last.calibration_still_s - last.still_s);
  const still = last.missing.length || recording() ? ""
    : left > 0 ? `<li class="ready-still">Stand still: <b class="countdown">${left.toFixed(1)} s</b></li>`
      : `<li class="ready-ok ready-still">✓ standing still: start now</li>`;
  // The server cannot store (a full disk...): said first, while recording too.
  const storage = last.storage_problem
    ? `<li class="ready-warning" data-code="storage_failing">⚠ ${escapeHtml(last.storage_problem)}</li>` : "";
  $("ready-list").innerHTML = storage + sensors + placement + still;
  $("ready-title").textContent = recording() ? "Sensors" : last.ready ? "Ready"
    : last.storage_problem ? "Not ready: nothing can be stored now"
      : last.missing.length ? "Not ready: a sensor is missing" : "Check before the set";
  panel.classList.toggle("is-ready", last.ready);
  const override = last.missing.length > 0 && !recording();
  $("ready-override-row").hidden = !override;
  $("ready-override-text").textContent = override
    ? `Start without the ${last.missing.join(" and ")} sensor (the set is marked; no angles or reps without both)` : "";
  $("start-set").disabled = recording() || (override && !$("ready-override").checked);
}

function renderCalibration() {
  const c = calibration;
  const elapsed = (Date.now() - c.startedMs) / 1000;
  const without = startedWithoutText(state.currentSet);
  $("ready-title").textContent = c.ok === true ? "Calibrated" : without ? "No calibration" : "Calibrating";
  $("ready").classList.toggle("is-ready", c.ok === true);
  let line;
  if (without && c.ok === null) line = `<li class="ready-warning">⚠ ${escapeHtml(without)}: no angles or reps in this set</li>`;
  else if (c.ok === true) line = `<li class="ready-ok calibrated">✓ ${escapeHtml(c.message)}</li>`;  // "calibrated from ..."
  else if (c.ok === false) line = `<li class="ready-warning">⚠ ${escapeHtml(c.message)}</li>`;
  else if (elapsed < c.stillS) line = `<li class="ready-still">Stand still: <b class="countdown">${(c.stillS - elapsed).toFixed(1)} s</b></li>`;
  else if (elapsed < CALIBRATION_TIMEOUT_S) line = `<li class="ready-still">Stand still… waiting for calibration</li>`;
  else line = `<li class="ready-warning">⚠ not calibrated yet: stand still, then squat</li>`;
  $("ready-list").innerHTML = line;
  $("ready-override-row").hidden = true;
  $("ready").hidden = false;
}

// What the start request adds: the override, when a sensor is missing and the coach ticked it.
export function startOptions() {
  return last && last.missing.length && $("ready-override").checked ? { override_missing_sensors: true } : {};
}

// A set started: count down "stand still" until its calibrated event arrives.
export function onSetStartedReady(setKey) {
  calibration = { setKey, startedMs: Date.now(), stillS: last ? last.calibration_still_s : 2, ok: null, message: "" };
  clearInterval(tickTimer);
  tickTimer = setInterval(() => { if (calibration && calibration.ok === null) render(); }, 100);
  render();
}

export function onCalibrated(event) {
  if (!calibration || calibration.setKey !== event.set_key) calibration = { setKey: event.set_key, startedMs: Date.now(), stillS: 0 };
  calibration.ok = event.ok;
  calibration.message = event.message;
  clearInterval(tickTimer);
  window.winkwatch.calibrated = { ok: event.ok, message: event.message };
  render();
}

export function onSetStoppedReady() {
  calibration = null;
  clearInterval(tickTimer);
  render();
}

// The set's mark when it was started without a sensor ("started without: thigh").
export function startedWithoutText(set) {
  const missing = set && set.started_without ? set.started_without : [];
  return missing.length ? `started without the ${missing.join(" and ")} sensor` : "";
}

export function wireReady() {
  $("ready-override").addEventListener("change", render);
}
