// The Live view: one athlete's stream (WebSocket /live/ws), the angles now and over the last
// 10 s, the set being recorded (start/stop), its reps as they complete, and the wink cue.
import { busy, once } from "./busy.js";
import { lineChart } from "./charts.js";
import { ask } from "./confirm.js";
import { hideCue, onWinkOnset } from "./cue.js";
import { deg, escapeHtml, kg } from "./format.js";
import { loadGuard, onDepthCeilingNear } from "./guard.js";
import { clearSensorAlerts, onSensorAlert } from "./health.js";
import { allPages, api, permissionMessage } from "./http.js";
import { keepFinishedSet, renderLastSet } from "./lastset.js";
import { onCalibrated, onSetStartedReady, onSetStoppedReady, render as renderReady, startedWithoutText, startOptions, startReadyChecks } from "./ready.js";
import { renderRepTable, summaryHtml } from "./reps.js";
import { nextDelayMs, opened } from "./reconnect.js";
import { onSensorStatus } from "./sensors.js";
import { $, emptyBuffer, state } from "./state.js";
import { COLORS } from "./theme.js";
import { variantLabel } from "./vocabulary.js";

const LIVE_WINDOW_S = 10;           // the live chart shows this much
const BUFFER_S = 300;               // live angles kept for rep detail
const BREAK_S = 0.5;                // no angles for longer (a sensor gap): the lines break

// Forget the previous athlete's stream and follow `state.athleteId`.
export async function followAthlete() {
  state.buffer = emptyBuffer();
  state.liveReps = [];
  state.cuedReps = new Set();
  state.currentSet = null;
  clearLiveWarnings();
  hideCue();
  renderLiveReps();
  renderLastSet();
  drawLive();
  connect();
  loadGuard();
  clearSensorAlerts();
  startReadyChecks();
  await refreshCurrentSet(true);
}

// `again`: a reconnect after the stream dropped: what it missed meanwhile (reps, the set's
// stop, a new set) is read from the API once the stream is back.
function connect(again = false) {
  disconnect();
  if (!state.athleteId) return;
  state.wsWanted = true;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  // The token goes in the first message, never in the URL (URLs end up in access logs).
  // batch=true: each frame is an array of the messages queued for this page (one send).
  const ws = new WebSocket(`${scheme}://${location.host}/live/ws?athlete_id=${state.athleteId}&batch=true`);
  state.ws = ws;
  ws.onopen = () => {
    ws.send(JSON.stringify({ token: state.token }));
    opened(state.wsBackoff);
    setLink(true);
    if (again) refreshCurrentSet(true);
  };
  ws.onmessage = (message) => {
    if (state.ws !== ws) return;
    for (const event of JSON.parse(message.data)) handleEvent(event);
  };
  ws.onclose = (close) => {
    if (state.ws !== ws) return;
    setLink(false, close.reason);
    if (close.code === 1008) {  // the token was refused: the sign-in view takes over
      window.dispatchEvent(new CustomEvent("winkwatch:refused", { detail: close.reason }));
      return;
    }
    if (state.wsWanted) {
      setTimeout(() => { if (state.ws === ws) connect(true); }, nextDelayMs(state.wsBackoff, close));
    }
  };
}

export function disconnect() {
  state.wsWanted = false;
  if (state.ws) { const ws = state.ws; state.ws = null; ws.close(); }
  setLink(false);
}

function setLink(up, reason) {
  const link = $("link");
  link.textContent = up ? "live" : "offline";
  link.classList.toggle("up", up);
  link.title = reason || (up ? "receiving live data" : "not connected");
}

function handleEvent(event) {
  window.winkwatch.events += 1;
  switch (event.type) {
    case "live_angles": return onAngles(event);
    case "set_started": return onSetStarted(event);
    case "set_stopped": return onSetStopped(event);
    case "wink_onset": return onWinkOnset(event);
    case "depth_ceiling_near": return onDepthCeilingNear(event);
    case "rep_completed": return onRepCompleted(event);
    case "rep_started": $("calibration").textContent = `rep ${event.rep}…`; return undefined;
    case "calibrated": $("calibration").textContent = event.ok ? "calibrated" : event.message; return onCalibrated(event);
    case "quality_warning": return onQualityWarning(event);
    case "sensor_status_changed": onSensorAlert(event); return onSensorStatus(event);
    default: return undefined;
  }
}

// The set's current warnings, newest first, one per kind and sensor (a newer one of the same
// kind and sensor replaces it). A sensor's `sensor_silent` goes once it is known to send again:
// its `sensor_sending_again` (the gateway's word), a `sensor_gap` of it (said when its samples
// resume), or live angles (they need both sensors). A new set starts with none.
const SILENT = "sensor_silent";
const BACK_CODES = new Set(["sensor_sending_again", "sensor_gap"]);

function onQualityWarning(event) {
  const sensor = event.placement ?? null;
  let list = state.liveWarnings;
  if (BACK_CODES.has(event.code)) list = list.filter((w) => !(w.code === SILENT && w.sensor === sensor));
  if (event.code !== "sensor_sending_again") {
    list = [{ code: event.code, sensor, setKey: event.set_key ?? null, message: event.message },
      ...list.filter((w) => !(w.code === event.code && w.sensor === sensor))];
  }
  state.liveWarnings = list;
  renderLiveWarnings();
}

// `setKey`: the set that starts, whose warnings (heard before its start was) stay.
export function clearLiveWarnings(setKey = null) {
  state.liveWarnings = setKey === null ? [] : state.liveWarnings.filter((w) => w.setKey === setKey);
  renderLiveWarnings();
}

function renderLiveWarnings() {
  const box = $("live-warning");
  box.innerHTML = state.liveWarnings.map((w) => `<li data-code="${escapeHtml(w.code)}"`
    + ` data-sensor="${escapeHtml(w.sensor ?? "")}">${escapeHtml(w.message)}</li>`).join("");
  window.winkwatch.liveWarnings = state.liveWarnings.map((w) => w.code + (w.sensor ? `:${w.sensor}` : ""));
}

function onAngles(event) {
  if (state.liveWarnings.some((w) => w.code === SILENT)) {  // both sensors send
    state.liveWarnings = state.liveWarnings.filter((w) => w.code !== SILENT);
    renderLiveWarnings();
  }
  if (state.buffer.setKey !== event.set_key) state.buffer = { ...emptyBuffer(), setKey: event.set_key };
  const b = state.buffer;
  if (b.t.length && event.set_t_s - b.t[b.t.length - 1] > BREAK_S) {  // no line across a gap
    b.t.push(b.t[b.t.length - 1]); b.thigh.push(null); b.tilt.push(null); b.hip.push(null);
  }
  b.t.push(event.set_t_s); b.thigh.push(event.thigh_deg); b.tilt.push(event.pelvic_tilt_deg); b.hip.push(event.hip_flexion_deg);
  const cut = b.t.findIndex((t) => t >= event.set_t_s - BUFFER_S);
  if (cut > 0) for (const key of ["t", "thigh", "tilt", "hip"]) b[key].splice(0, cut);
  $("thigh-now").textContent = deg(event.thigh_deg);
  $("tilt-now").textContent = deg(event.pelvic_tilt_deg);
  $("hip-now").textContent = deg(event.hip_flexion_deg);
  if (!state.drawPending) {
    state.drawPending = true;
    requestAnimationFrame(() => { state.drawPending = false; drawLive(); });
  }
}

export function drawLive() {
  if (state.tab !== "live") return;
  const b = state.buffer;
  const end = b.t.length ? b.t[b.t.length - 1] : LIVE_WINDOW_S;
  const first = b.t.findIndex((t) => t >= end - LIVE_WINDOW_S);
  const from = first < 0 ? 0 : first;
  const x = b.t.slice(from).map((t) => t - end);
  const marks = state.liveReps
    .filter((r) => r.source === "live" && r.set_key === b.setKey && r.metrics.wink_onset_s !== null && r.metrics.wink_onset_s >= end - LIVE_WINDOW_S)
    .map((r) => ({ x: r.metrics.wink_onset_s - end, color: COLORS.wink, label: "wink" }));
  const recording = state.currentSet && state.currentSet.recording;
  const emptyText = b.t.length ? null : !recording ? "No set recording: the angles show while a set records."
    : "Recording, but no angles yet: are both sensors on and streaming? (Sensors tab)";
  lineChart($("live-chart"), {
    x, xRange: [-LIVE_WINDOW_S, 0], yRange: [-20, 140], xLabel: "s", yLabel: "deg", marks, emptyText,
    series: [
      { y: b.thigh.slice(from), color: COLORS.thigh },
      { y: b.tilt.slice(from), color: COLORS.tilt },
      { y: b.hip.slice(from), color: COLORS.hip },
    ],
  });
}

export async function refreshCurrentSet(loadReps) {
  if (!state.athleteId) return;
  const athleteId = state.athleteId;
  try {
    const sets = await api(`/sets?athlete_id=${athleteId}&status=recording&limit=5`);
    if (athleteId !== state.athleteId) return;
    const row = sets.items[sets.items.length - 1];
    const shown = state.currentSet;
    // The set shown as recording has ended unheard (the stream was down): its reps as stored.
    if (loadReps && shown && shown.recording && shown.id !== null && (!row || row.set_key !== shown.set_key)) {
      await addStoredReps(shown);
      if (athleteId !== state.athleteId || state.currentSet !== shown) return;
      shown.recording = false;
      onSetStoppedReady();
    }
    if (row) {
      // A set started unheard (changed) is shown as set_started would have, but without
      // the calibration countdown: its still window is long past.
      const changed = !state.currentSet || state.currentSet.set_key !== row.set_key;
      takeStartedSet({ id: row.id, set_key: row.set_key, variant: row.variant, load_kg: row.load_kg, started_without: row.started_without }, false);
      if (loadReps || changed) await addStoredReps(state.currentSet);
      if (athleteId !== state.athleteId) return;
    } else if (state.currentSet && state.currentSet.recording) {
      state.currentSet.recording = false;
    }
  } catch (error) {
    $("set-error").textContent = error.message;
  }
  renderSetState();
}

// The stored reps of `set` (this page's current set) that it has not shown yet.
async function addStoredReps(set) {
  const athleteId = state.athleteId;
  const reps = await allPages(`/reps?set_id=${set.id}`);
  if (athleteId !== state.athleteId || state.currentSet !== set) return;
  const known = new Set(state.liveReps.filter((r) => r.set_key === set.set_key).map((r) => r.metrics.rep));
  for (const rep of reps.sort((a, b) => a.rep - b.rep)) {
    if (!known.has(rep.rep)) state.liveReps.push({ source: "stored", set_id: set.id, set_key: set.set_key, metrics: rep });
  }
  state.liveReps.sort((a, b) => a.metrics.rep - b.metrics.rep);
  renderLiveReps();
}

export function renderSetState() {
  const element = $("set-state");
  const set = state.currentSet;
  element.classList.toggle("recording", Boolean(set && set.recording));
  element.textContent = !set ? "No set recording"
    : `${set.recording ? "Recording" : "Finished"}: ${variantLabel(set.variant)}, ${kg(set.load_kg)}`
      + (startedWithoutText(set) ? ` (${startedWithoutText(set)})` : "");
  $("start-set").disabled = busy($("start-set")) || Boolean(set && set.recording);
  $("stop-set").disabled = !(set && set.recording);
  renderReady();
}

function onSetStarted(event) {
  // The server adds the stored set's id; only a sink that could not store it leaves it null.
  takeStartedSet({ id: event.set_id ?? null, set_key: event.set.set_key, variant: event.set.variant, load_kg: event.set.load_kg });
  renderSetState();
  if (state.currentSet.id === null) setTimeout(() => refreshCurrentSet(false), 1500);
}

// A set of this athlete started: told by its set_started event, by this page's POST /sets
// or by the API (refreshCurrentSet: the page was not listening when it started), whichever
// comes first (the set is stored before the gateway starts it, so any may); a later one adds
// what the first did not know (the stored id, the sensors it started without). `justNow`:
// the set starts now, so the calibration countdown runs (not for one found started earlier).
function takeStartedSet(set, justNow = true) {
  const current = state.currentSet;
  if (current && current.set_key === set.set_key) {
    current.id = current.id ?? set.id;
    current.started_without = current.started_without ?? set.started_without;
    current.variant = set.variant;  // the API's row may have been edited since
    current.load_kg = set.load_kg;
    current.recording = true;
    return;
  }
  if (current) keepFinishedSet(current, state.liveReps);
  state.currentSet = { ...set, recording: true };
  clearLiveWarnings(set.set_key);
  state.liveReps = [];
  state.cuedReps = new Set();
  hideCue();
  renderLiveReps();
  if (justNow) onSetStartedReady(set.set_key);
  else onSetStoppedReady();
}

function onSetStopped(event) {
  if (state.currentSet && state.currentSet.set_key === event.set.set_key) state.currentSet.recording = false;
  onSetStoppedReady();
  renderSetState();
}

function onRepCompleted(event) {
  const set = state.currentSet;
  // A rep of a set this page has not heard start (it was not listening then): show that set
  // and its stored reps (this one is stored: a rep is streamed once stored, or marked
  // `stored: false` while the server cannot store, and streamed again once it is).
  if (set && set.set_key !== event.set_key) { refreshCurrentSet(true); return; }
  const rep = { source: "live", stored: event.stored !== false, set_id: event.set_id ?? (set && set.set_key === event.set_key ? set.id : null), set_key: event.set_key, metrics: event.metrics };
  state.liveReps = state.liveReps.filter((r) => !(r.set_key === event.set_key && r.metrics.rep === event.metrics.rep));
  state.liveReps.push(rep);
  state.liveReps.sort((a, b) => a.metrics.rep - b.metrics.rep);
  renderLiveReps(event.metrics.rep);
}

function renderLiveReps(newRep) {
  renderRepTable($("live-reps"), state.liveReps, newRep);
  $("live-rep-count").textContent = state.liveReps.length ? `(${state.liveReps.length})` : "";
  $("live-summary").innerHTML = summaryHtml(state.liveReps.map((r) => r.metrics));
  window.winkwatch.repsShown = state.liveReps.length;
}

// ---------------------------------------------------------------- start / stop
async function startSet() {
  $("set-error").textContent = "";
  const load = $("load").value === "" ? null : Number($("load").value);
  const body = { athlete_id: state.athleteId, variant: $("variant").value, load_kg: load, ...startOptions() };
  try {
    try {
      await postSet(body);
    } catch (error) {
      if (error.status !== 409 || !await replaceRecordingSet()) throw error;
      await postSet({ ...body, replace_recording: true });
    }
  } catch (error) {
    $("set-error").textContent = permissionMessage(error);
  }
}

async function postSet(body) {
  const row = await api("/sets", { method: "POST", json: body });
  takeStartedSet({ id: row.id, set_key: row.set_key, variant: row.variant, load_kg: row.load_kg, started_without: row.started_without });
}

// A start refused with 409: if it was because the athlete records a set this page had not
// heard of yet (started from another phone a moment before), show that set and ask whether
// to stop it for this one. True: replace it; false: the refusal stands (a missing sensor...);
// Cancel keeps that set (an error saying so).
async function replaceRecordingSet() {
  await refreshCurrentSet(false);
  const set = state.currentSet;
  if (!set || !set.recording) return false;
  const answer = await ask("A set is already recording",
    `This athlete is already recording ${variantLabel(set.variant)}, ${kg(set.load_kg)}, perhaps started from another phone.`,
    [{ label: "Stop it and start this one", value: "replace", danger: true }]);
  if (answer === "replace") return true;
  throw new Error("Kept the set that was recording: stop it here when it is done.");
}

async function stopSet() {
  $("set-error").textContent = "";
  try {
    if (!state.currentSet || state.currentSet.id === null) await refreshCurrentSet(false);
    if (!state.currentSet || !state.currentSet.id) throw new Error("no set is recording");
    await api(`/sets/${state.currentSet.id}/stop`, { method: "POST" });
    state.currentSet.recording = false;
    renderSetState();
  } catch (error) {
    $("set-error").textContent = permissionMessage(error);
  }
}

export function wireLive() {
  $("start-set").addEventListener("click", () => once($("start-set"), startSet, renderSetState));
  $("stop-set").addEventListener("click", () => once($("stop-set"), stopSet, renderSetState));
  window.addEventListener("resize", () => drawLive());
}
