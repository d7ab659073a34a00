// WinkWatch phone dashboard: sign in with a token, follow one athlete live (WebSocket
// /live/ws), start/stop sets, rep detail, set summaries, history and sensor status.
// Angles in degrees; live times on the gateway clock (s), stored rep times in s since the set started.
"use strict";

const VARIANTS = {
  back_squat: "Back squat", front_squat: "Front squat", goblet_squat: "Goblet squat",
  box_squat: "Box squat", bodyweight_squat: "Bodyweight squat", quadruped_rock_back: "Quadruped rock-back",
};
const LIVE_WINDOW_S = 10;           // the live chart shows this much
const BUFFER_S = 300;               // live angles kept for rep detail
const SENSOR_REFRESH_MS = 5000;
const RECONNECT_MAX_MS = 15000;
const COLORS = { thigh: "#3d8bfd", tilt: "#ff9f1c", hip: "#b37feb", wink: "#ff4d4f", descent: "#3d8bfd", ascent: "#ff9f1c" };
const VARIANT_COLORS = ["#3d8bfd", "#ff9f1c", "#35c27a", "#b37feb", "#ff4d4f", "#f5e663"];

const $ = (id) => document.getElementById(id);
const state = {
  token: localStorage.getItem("winkwatch.token") || "",
  athleteId: Number(localStorage.getItem("winkwatch.athlete")) || null,
  athletes: [],
  ws: null, wsRetryMs: 1000, wsWanted: false,
  buffer: { t: [], thigh: [], tilt: [], hip: [] },
  currentSet: null,          // {id, set_key, variant, load_kg, recording}
  liveReps: [],              // {source: "live"|"stored", set_id, set_key, metrics}
  cuedReps: new Set(),
  sensors: new Map(),
  setAngles: new Map(),      // set id -> promise of /dashboard/sets/{id}/angles
  drawPending: false,
  tab: "live",
};
// Read by the end-to-end test and handy in the browser console.
window.winkwatch = { state, cues: [], events: 0, repsShown: 0 };

// ---------------------------------------------------------------- HTTP
class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${state.token}`, ...(options.headers || {}) };
  if (options.json !== undefined) { headers["Content-Type"] = "application/json"; options.body = JSON.stringify(options.json); }
  const response = await fetch(path, { ...options, headers });
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
    if (Array.isArray(detail)) detail = detail.map((problem) => problem.msg).join("; ");  // 422
    if (typeof detail !== "string") detail = JSON.stringify(detail);
    throw new ApiError(response.status, detail);
  }
  return options.raw ? response : response.json();
}

async function allPages(path, maxPages = 10) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page++) {
    const sep = path.includes("?") ? "&" : "?";
    const body = await api(`${path}${sep}limit=500${cursor ? `&cursor=${cursor}` : ""}`);
    items.push(...body.items);
    if (!body.next_cursor) break;
    cursor = body.next_cursor;
  }
  return items;
}

// ---------------------------------------------------------------- formatting
const deg = (v, digits = 0) => {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  const text = Number(v).toFixed(digits);
  return `${Number(text) === 0 ? (0).toFixed(digits) : text}°`;  // never "-0°"
};
const kg = (v) => (v === null || v === undefined ? "bodyweight" : `${Number(v)} kg`);
const median = (values) => {
  const v = values.filter((x) => x !== null && isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
};
const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

// ---------------------------------------------------------------- sign in
function readTokenFromUrl() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    state.token = decodeURIComponent(match[1]);
    localStorage.setItem("winkwatch.token", state.token);
    history.replaceState(null, "", location.pathname + location.search);  // keep the secret off screen
  }
}

async function signIn(token) {
  state.token = token.trim();
  $("signin-error").textContent = "";
  try {
    state.athletes = await allPages("/athletes");
  } catch (error) {
    $("signin-error").textContent = error.status === 401
      ? "This token is unknown or revoked. Create one with `winkwatch token create NAME`."
      : `Cannot reach the gateway: ${error.message}`;
    showSignIn();
    return;
  }
  localStorage.setItem("winkwatch.token", state.token);
  $("signin").hidden = true;
  $("app").hidden = false;
  $("athlete").hidden = false;
  const select = $("athlete");
  select.innerHTML = state.athletes.map((a) => `<option value="${a.id}">${escapeHtml(a.name)}</option>`).join("")
    || "<option value=''>no athletes yet</option>";
  if (!state.athletes.some((a) => a.id === state.athleteId)) state.athleteId = state.athletes.length ? state.athletes[0].id : null;
  if (state.athleteId) select.value = String(state.athleteId);
  await selectAthlete(state.athleteId);
}

function showSignIn() {
  $("signin").hidden = false;
  $("app").hidden = true;
  $("athlete").hidden = true;
  $("token").value = state.token;
}

function signOut() {
  localStorage.removeItem("winkwatch.token");
  state.token = "";
  disconnect();
  showSignIn();
}

// ---------------------------------------------------------------- athlete and live stream
async function selectAthlete(athleteId) {
  state.athleteId = athleteId;
  localStorage.setItem("winkwatch.athlete", String(athleteId || ""));
  state.buffer = { t: [], thigh: [], tilt: [], hip: [] };
  state.liveReps = [];
  state.cuedReps = new Set();
  state.currentSet = null;
  $("cue").hidden = true;
  renderLiveReps();
  drawLive();
  connect();
  await refreshCurrentSet(true);
  if (state.tab !== "live") showTab(state.tab);
}

function connect() {
  disconnect();
  if (!state.athleteId) return;
  state.wsWanted = true;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  // The token goes in the first message, never in the URL (URLs end up in access logs).
  const ws = new WebSocket(`${scheme}://${location.host}/live/ws?athlete_id=${state.athleteId}`);
  state.ws = ws;
  ws.onopen = () => { ws.send(JSON.stringify({ token: state.token })); state.wsRetryMs = 1000; setLink(true); };
  ws.onmessage = (message) => { if (state.ws === ws) handleEvent(JSON.parse(message.data)); };
  ws.onclose = (close) => {
    if (state.ws !== ws) return;
    setLink(false, close.reason);
    if (close.code === 1008) { signOut(); $("signin-error").textContent = close.reason; return; }
    if (state.wsWanted) {
      setTimeout(() => { if (state.ws === ws) connect(); }, state.wsRetryMs);
      state.wsRetryMs = Math.min(state.wsRetryMs * 2, RECONNECT_MAX_MS);
    }
  };
}

function disconnect() {
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
    case "rep_completed": return onRepCompleted(event);
    case "rep_started": $("calibration").textContent = `rep ${event.rep}…`; return undefined;
    case "calibrated": $("calibration").textContent = event.ok ? "calibrated" : event.message; return undefined;
    case "quality_warning": $("calibration").textContent = event.message; return undefined;
    case "sensor_status_changed": return onSensorStatus(event);
    default: return undefined;
  }
}

function onAngles(event) {
  const b = state.buffer;
  b.t.push(event.t_s); b.thigh.push(event.thigh_deg); b.tilt.push(event.pelvic_tilt_deg); b.hip.push(event.hip_flexion_deg);
  const cut = b.t.findIndex((t) => t >= event.t_s - BUFFER_S);
  if (cut > 0) for (const key of Object.keys(b)) b[key].splice(0, cut);
  $("thigh-now").textContent = deg(event.thigh_deg);
  $("tilt-now").textContent = deg(event.pelvic_tilt_deg);
  $("hip-now").textContent = deg(event.hip_flexion_deg);
  if (!state.drawPending) {
    state.drawPending = true;
    requestAnimationFrame(() => { state.drawPending = false; drawLive(); });
  }
}

function drawLive() {
  if (state.tab !== "live") return;
  const b = state.buffer;
  const end = b.t.length ? b.t[b.t.length - 1] : LIVE_WINDOW_S;
  const first = b.t.findIndex((t) => t >= end - LIVE_WINDOW_S);
  const from = first < 0 ? 0 : first;
  const x = b.t.slice(from).map((t) => t - end);
  const marks = state.liveReps
    .filter((r) => r.source === "live" && r.metrics.wink_onset_s !== null && r.metrics.wink_onset_s >= end - LIVE_WINDOW_S)
    .map((r) => ({ x: r.metrics.wink_onset_s - end, color: COLORS.wink, label: "wink" }));
  Charts.lineChart($("live-chart"), {
    x, xRange: [-LIVE_WINDOW_S, 0], yRange: [-20, 140], xLabel: "s", yLabel: "deg", marks,
    series: [
      { y: b.thigh.slice(from), color: COLORS.thigh },
      { y: b.tilt.slice(from), color: COLORS.tilt },
      { y: b.hip.slice(from), color: COLORS.hip },
    ],
  });
}

async function refreshCurrentSet(loadReps) {
  if (!state.athleteId) return;
  const athleteId = state.athleteId;
  try {
    const sets = await api(`/sets?athlete_id=${athleteId}&status=recording&limit=5`);
    if (athleteId !== state.athleteId) return;
    const row = sets.items[sets.items.length - 1];
    if (row) {
      state.currentSet = { id: row.id, set_key: row.set_key, variant: row.variant, load_kg: row.load_kg, recording: true };
      if (loadReps) {
        const reps = await allPages(`/reps?set_id=${row.id}`);
        if (athleteId !== state.athleteId) return;
        const known = new Set(state.liveReps.map((r) => r.metrics.rep));
        for (const rep of reps.sort((a, b) => a.rep - b.rep)) {
          if (!known.has(rep.rep)) state.liveReps.push({ source: "stored", set_id: row.id, set_key: row.set_key, metrics: rep });
        }
        state.liveReps.sort((a, b) => a.metrics.rep - b.metrics.rep);
        renderLiveReps();
      }
    } else if (state.currentSet && state.currentSet.recording) {
      state.currentSet.recording = false;
    }
  } catch (error) {
    $("set-error").textContent = error.message;
  }
  renderSetState();
}

function renderSetState() {
  const element = $("set-state");
  const set = state.currentSet;
  element.classList.toggle("recording", Boolean(set && set.recording));
  element.textContent = !set ? "No set recording"
    : `${set.recording ? "Recording" : "Finished"}: ${VARIANTS[set.variant] || set.variant}, ${kg(set.load_kg)}`;
  $("start-set").disabled = Boolean(set && set.recording);
  $("stop-set").disabled = !(set && set.recording);
}

function onSetStarted(event) {
  state.currentSet = { id: null, set_key: event.set.set_key, variant: event.set.variant, load_kg: event.set.load_kg, recording: true };
  state.liveReps = [];
  state.cuedReps = new Set();
  $("cue").hidden = true;
  renderLiveReps();
  renderSetState();
  setTimeout(() => refreshCurrentSet(false), 1500);  // learn the stored set's id
}

function onSetStopped(event) {
  if (state.currentSet && state.currentSet.set_key === event.set.set_key) state.currentSet.recording = false;
  renderSetState();
}

function onWinkOnset(event) {
  const key = `${event.set_key}:${event.rep}`;
  if (state.cuedReps.has(key)) return;
  state.cuedReps.add(key);
  const cue = $("cue");
  cue.textContent = `Butt wink: rep ${event.rep}, from ${deg(event.onset_depth_deg)} thigh angle`;
  cue.hidden = false;
  cue.style.animation = "none"; void cue.offsetWidth; cue.style.animation = "";  // restart the pulse
  const sound = $("cue-sound").checked && beep();
  const vibrate = $("cue-vibrate").checked && typeof navigator.vibrate === "function" && navigator.vibrate([180, 80, 180]);
  window.winkwatch.cues.push({ athlete_id: event.athlete_id, rep: event.rep, onset_depth_deg: event.onset_depth_deg, sound: Boolean(sound), vibrate: Boolean(vibrate) });
  clearTimeout(state.cueTimer);
  state.cueTimer = setTimeout(() => { cue.hidden = true; }, 6000);
}

let audio = null;
function unlockAudio() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!audio && Context) audio = new Context();
  if (audio && audio.state === "suspended") audio.resume().then(showSoundHint, showSoundHint);
  showSoundHint();
}

// Browsers only play sound after the user has touched the page (e.g. when signed in from a link).
function showSoundHint() {
  $("sound-hint").hidden = !$("cue-sound").checked || Boolean(audio && audio.state === "running");
}

function beep() {
  if (!audio) return false;
  const oscillator = audio.createOscillator(), gain = audio.createGain();
  oscillator.frequency.value = 880;
  gain.gain.setValueAtTime(0.001, audio.currentTime);
  gain.gain.exponentialRampToValueAtTime(0.4, audio.currentTime + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.35);
  oscillator.connect(gain).connect(audio.destination);
  oscillator.start();
  oscillator.stop(audio.currentTime + 0.4);
  return true;
}

function onRepCompleted(event) {
  const set = state.currentSet;
  const rep = { source: "live", set_id: set && set.set_key === event.set_key ? set.id : null, set_key: event.set_key, metrics: event.metrics };
  state.liveReps = state.liveReps.filter((r) => !(r.set_key === event.set_key && r.metrics.rep === event.metrics.rep));
  state.liveReps.push(rep);
  state.liveReps.sort((a, b) => a.metrics.rep - b.metrics.rep);
  renderLiveReps(event.metrics.rep);
}

// The flag with its grade: `borderline` is within the athlete's own noise of the threshold.
function flagHtml(m) {
  const source = m.threshold_source === "personal" ? `personal, ${m.baseline_reps} reps` : "default";
  const title = `threshold ${deg(m.wink_threshold_deg, 1)} (${source})`;
  if (m.wink_grade === "borderline") {
    return `<span class="flag borderline" title="${title}">${m.butt_wink ? "wink?" : "ok?"}</span>`;
  }
  return m.butt_wink ? `<span class="flag wink" title="${title}">WINK</span>` : `<span class="flag ok" title="${title}">ok</span>`;
}

function thresholdText(m) {
  if (m.wink_threshold_deg === undefined || m.wink_threshold_deg === null) return "";
  const source = m.threshold_source === "personal" ? `personal baseline, ${m.baseline_reps} reps` : (m.baseline_reps ? `default; baseline of ${m.baseline_reps} reps is lower` : "default");
  return ` vs threshold ${deg(m.wink_threshold_deg, 1)} (${source}), ${m.wink_grade}`;
}

function repRow(rep, isNew) {
  const m = rep.metrics;
  const flag = flagHtml(m);
  return `<tr class="rep${isNew ? " new" : ""}" data-rep="${m.rep}"><td>${m.rep}</td><td>${deg(m.depth_deg)}</td>`
    + `<td>${deg(m.wink_deg, 1)}</td><td>${m.butt_wink ? deg(m.wink_onset_depth_deg) : "–"}</td><td>${flag}</td></tr>`;
}

function renderLiveReps(newRep) {
  const body = $("live-reps");
  body.innerHTML = state.liveReps.map((r) => repRow(r, r.metrics.rep === newRep)).join("");
  body.querySelectorAll("tr.rep").forEach((row, i) => row.addEventListener("click", () => openRep(state.liveReps[i])));
  $("live-rep-count").textContent = state.liveReps.length ? `(${state.liveReps.length})` : "";
  $("live-summary").innerHTML = summaryHtml(state.liveReps.map((r) => r.metrics));
  window.winkwatch.repsShown = state.liveReps.length;
}

// Where the wink starts across a set's reps, and what depth to stop above (box height guidance).
function summaryHtml(reps) {
  if (!reps.length) return '<span class="muted">Reps appear here as they are completed.</span>';
  const winks = reps.filter((m) => m.butt_wink && m.wink_onset_depth_deg !== null);
  const depth = median(reps.map((m) => m.depth_deg));
  if (!winks.length) {
    return `No butt wink in ${reps.length} rep${reps.length > 1 ? "s" : ""} (median depth ${deg(depth)}, `
      + `largest wink ${deg(Math.max(...reps.map((m) => m.wink_deg)), 1)}).`;
  }
  const onsets = winks.map((m) => m.wink_onset_depth_deg);
  const shallowest = Math.min(...onsets);
  const stopAbove = Math.floor(shallowest);
  return `Wink in ${winks.length} of ${reps.length} reps, starting at ${deg(shallowest)}–${deg(Math.max(...onsets))} `
    + `thigh angle (median ${deg(median(onsets))}; median depth ${deg(depth)}).`
    + `<div class="advice" data-stop-above="${stopAbove}">Stop above ${stopAbove}°: set a box so the thigh stops at about ${stopAbove}° `
    + `(${stopAbove >= 90 ? "at or below" : "above"} parallel).</div>`;
}

// ---------------------------------------------------------------- start / stop
async function startSet() {
  $("set-error").textContent = "";
  const load = $("load").value === "" ? null : Number($("load").value);
  try {
    const row = await api("/sets", { method: "POST", json: { athlete_id: state.athleteId, variant: $("variant").value, load_kg: load } });
    state.currentSet = { id: row.id, set_key: row.set_key, variant: row.variant, load_kg: row.load_kg, recording: true };
    renderSetState();
  } catch (error) {
    $("set-error").textContent = permissionMessage(error);
  }
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

function permissionMessage(error) {
  return error.status === 403
    ? "This token is read-only. Start and stop sets with an admin token (winkwatch token create NAME --role admin)."
    : error.message;
}

// ---------------------------------------------------------------- rep detail
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

async function openRep(rep) {
  const m = rep.metrics;
  $("rep-title").textContent = `Rep ${m.rep}`;
  $("rep-facts").innerHTML = `Depth ${deg(m.depth_deg)}, hip flexion ${deg(m.hip_flexion_max_deg)}, `
    + `tilt peak ${deg(m.pelvic_tilt_peak_deg, 1)} → bottom ${deg(m.pelvic_tilt_bottom_deg, 1)}, `
    + `wink ${deg(m.wink_deg, 1)}${thresholdText(m)}${m.butt_wink ? ` from ${deg(m.wink_onset_depth_deg)}` : ""} ${flagHtml(m)}`
    + `; down ${m.descent_s.toFixed(1)} s, up ${m.ascent_s.toFixed(1)} s${m.quality.length ? `; ${m.quality.join(", ")}` : ""}.`;
  $("rep-note").textContent = "";
  $("rep-detail").hidden = false;
  let series = null, times = m, note = "";
  const b = state.buffer;
  if (rep.source === "live" && b.t.length && b.t[0] <= m.start_s && b.t[b.t.length - 1] >= m.end_s) {
    series = slice(b, m.start_s, m.end_s);
    note = "From the live stream (about 20 samples per second).";
  } else {
    try {
      const setId = rep.set_id || (state.currentSet && state.currentSet.set_key === rep.set_key ? state.currentSet.id : null);
      if (!setId) throw new Error("the set of this rep is not stored yet; try again in a moment");
      if (rep.source === "live") {  // live times are on the gateway clock: use the stored rep's
        const stored = (await allPages(`/reps?set_id=${setId}`)).find((r) => r.rep === m.rep);
        if (!stored) throw new Error("this rep is not stored yet; try again in a moment");
        times = stored;
      }
      const angles = await angleSeriesOfSet(setId);
      series = slice({ t: angles.t_s, thigh: angles.thigh_deg, tilt: angles.pelvic_tilt_deg, hip: angles.hip_flexion_deg },
        times.start_s, times.end_s);
      note = "From the stored raw samples, analysed again.";
    } catch (error) {
      $("rep-note").textContent = `No angles for this rep: ${error.message}`;
      return;
    }
  }
  $("rep-note").textContent = note;
  drawRep(series, times);
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
  Charts.xyChart($("rep-loop"), {
    x: series.thigh, y: series.tilt, split: split < 0 ? series.t.length : split + 1,
    colors: [COLORS.descent, COLORS.ascent], marks, xLabel: "thigh angle (deg)", yLabel: "pelvic tilt (deg)",
  });
  const t0 = times.start_s;
  const timeMarks = [{ x: times.bottom_s - t0, color: "#9aa5b4", label: "bottom" }];
  if (marks.length) timeMarks.push({ x: times.wink_onset_s - t0, color: COLORS.wink, label: "wink" });
  Charts.lineChart($("rep-time"), {
    x: series.t.map((t) => t - t0), xLabel: "s", yLabel: "deg", marks: timeMarks,
    series: [{ y: series.thigh, color: COLORS.thigh }, { y: series.tilt, color: COLORS.tilt }, { y: series.hip, color: COLORS.hip }],
  });
}

// ---------------------------------------------------------------- sets tab
async function renderSets() {
  const list = $("set-list");
  try {
    const sets = (await allPages(`/sets?athlete_id=${state.athleteId}`, 2)).sort((a, b) => b.id - a.id);
    list.innerHTML = sets.map((s) => `<li data-set="${s.id}">${VARIANTS[s.variant] || s.variant}, ${kg(s.load_kg)}`
      + `<small>${new Date(s.started_at).toLocaleString()} · ${s.status} · ${Math.round(s.recorded_s)} s recorded</small></li>`).join("")
      || '<li class="muted">No sets yet.</li>';
    list.querySelectorAll("li[data-set]").forEach((item) => item.addEventListener("click", () =>
      openSet(sets.find((s) => s.id === Number(item.dataset.set)))));
  } catch (error) {
    list.innerHTML = `<li class="error">${escapeHtml(error.message)}</li>`;
  }
}

async function openSet(set) {
  $("set-detail").hidden = false;
  $("set-title").textContent = `${VARIANTS[set.variant] || set.variant}, ${kg(set.load_kg)} (set ${set.id})`;
  $("export-reps").setAttribute("href", `/export/reps.csv?set_id=${set.id}`);
  $("export-raw").setAttribute("href", `/sets/${set.id}/raw.zip`);
  $("set-findings").innerHTML = set.findings.map((f) => `<li>${escapeHtml(f.message)}</li>`).join("");
  const reps = (await allPages(`/reps?set_id=${set.id}`)).sort((a, b) => a.rep - b.rep);
  const entries = reps.map((r) => ({ source: "stored", set_id: set.id, set_key: set.set_key, metrics: r }));
  const body = $("set-reps");
  body.innerHTML = entries.map((r) => repRow(r, false)).join("");
  body.querySelectorAll("tr.rep").forEach((row, i) => row.addEventListener("click", () => openRep(entries[i])));
  $("set-summary").innerHTML = summaryHtml(reps);
  $("set-detail").scrollIntoView({ behavior: "smooth" });
}

// Exports need the token in a header, so they are fetched and handed to the browser as a file.
async function download(anchor) {
  try {
    const response = await api(anchor.getAttribute("href"), { raw: true });
    const disposition = response.headers.get("Content-Disposition") || "";
    const name = (disposition.match(/filename="([^"]+)"/) || [null, "export"])[1];
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url; link.download = name;
    document.body.appendChild(link); link.click(); link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (error) {
    $("set-findings").innerHTML = `<li class="error">Export failed: ${escapeHtml(error.message)}</li>`;
  }
}

// ---------------------------------------------------------------- history tab
async function renderHistory() {
  const athleteId = state.athleteId;
  const [summary, sets, reps] = await Promise.all([
    api(`/athletes/${athleteId}/summary`), allPages(`/sets?athlete_id=${athleteId}`), allPages(`/reps?athlete_id=${athleteId}`),
  ]);
  if (athleteId !== state.athleteId) return;
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
  Charts.lineChart($("history-onset"), { x: [], series: onset, xRange, yRange: [40, 120], spans, integerX: true,
    xLabel: "set (label: kg)", yLabel: "onset (deg)" });
  Charts.lineChart($("history-amplitude"), { x: [], series: amplitude, xRange, yRange: [0, top], spans, integerX: true,
    xLabel: "set (label: kg)", yLabel: "wink (deg)" });
  $("history-legend").innerHTML = variants.map((v) => `<span><span class="swatch"></span>${VARIANTS[v] || v}</span>`).join("")
    || "No reps yet.";
  // colours set through the DOM: the CSP allows no inline style attributes
  $("history-legend").querySelectorAll(".swatch").forEach((swatch, k) => { swatch.style.background = VARIANT_COLORS[k % VARIANT_COLORS.length]; });
  $("history-variants").innerHTML = summary.variants.map((v) => `<tr><td>${VARIANTS[v.variant] || v.variant}</td><td>${v.reps}</td>`
    + `<td>${v.wink_reps}</td><td>${deg(v.median_wink_onset_depth_deg)}</td><td>${deg(v.median_loaded_onset_depth_deg)}</td></tr>`).join("");
  $("history-loads").innerHTML = summary.by_load.map((p) => `<tr><td>${VARIANTS[p.variant] || p.variant}</td><td>${p.load_kg}</td>`
    + `<td>${p.reps}</td><td>${p.wink_reps}</td><td>${deg(p.median_wink_onset_depth_deg)}</td></tr>`).join("");
}

// ---------------------------------------------------------------- sensors tab
function onSensorStatus(event) {
  const known = state.sensors.get(event.address) || {};
  state.sensors.set(event.address, { ...known, address: event.address, placement: event.placement, athlete_id: event.athlete_id,
    state: event.state, battery_pct: event.battery_pct ?? known.battery_pct, rssi_dbm: event.rssi_dbm ?? known.rssi_dbm,
    gaps: (known.gaps || 0) + (event.gap_start_s !== null && event.gap_start_s !== undefined ? 1 : 0) });
  if (state.tab === "sensors") drawSensors();
}

async function renderSensors() {
  try {
    for (const s of await api("/sensors/status")) state.sensors.set(s.address, s);
  } catch (error) {
    $("sensor-list").innerHTML = `<li class="error">${escapeHtml(error.message)}</li>`;
    return;
  }
  drawSensors();
}

function drawSensors() {
  const mine = [...state.sensors.values()].sort((a, b) =>
    (String(b.athlete_id) === String(state.athleteId)) - (String(a.athlete_id) === String(state.athleteId)) || a.address.localeCompare(b.address));
  $("sensor-list").innerHTML = mine.map((s) => `<li data-address="${escapeHtml(s.address)}">`
    + `${s.placement || "unassigned"} <span class="state ${escapeHtml(s.state)}">${escapeHtml(s.state)}</span>`
    + `<small>${escapeHtml(s.address)}${s.athlete_id ? ` · athlete ${escapeHtml(s.athlete_id)}` : ""}</small>`
    + `<small>battery ${s.battery_pct ?? "?"}% · signal ${s.rssi_dbm ?? "?"} dBm · ${s.gaps ?? 0} gaps`
    + `${s.samples_missing ? ` (${s.samples_missing} samples lost)` : ""}${s.drift_ppm ? ` · drift ${s.drift_ppm.toFixed(0)} ppm` : ""}</small></li>`).join("")
    || '<li class="muted">No sensors seen by the gateway.</li>';
}

// ---------------------------------------------------------------- tabs and wiring
function showTab(tab) {
  state.tab = tab;
  document.querySelectorAll(".tabs button").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.tab === tab)));
  document.querySelectorAll(".tab").forEach((section) => { section.hidden = section.id !== `tab-${tab}`; });
  clearInterval(state.sensorTimer);
  if (tab === "live") drawLive();
  if (tab === "sets") renderSets();
  if (tab === "history") renderHistory().catch((error) => { $("history-legend").textContent = error.message; });
  if (tab === "sensors") { renderSensors(); state.sensorTimer = setInterval(renderSensors, SENSOR_REFRESH_MS); }
}

function wire() {
  $("variant").innerHTML = Object.entries(VARIANTS).map(([value, label]) => `<option value="${value}">${label}</option>`).join("");
  $("signin-form").addEventListener("submit", (event) => { event.preventDefault(); unlockAudio(); signIn($("token").value); });
  $("athlete").addEventListener("change", (event) => selectAthlete(Number(event.target.value)));
  $("start-set").addEventListener("click", startSet);
  $("stop-set").addEventListener("click", stopSet);
  $("rep-close").addEventListener("click", () => { $("rep-detail").hidden = true; });
  $("signout").addEventListener("click", signOut);
  document.querySelectorAll(".tabs button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));
  document.querySelectorAll("a[data-download]").forEach((a) => a.addEventListener("click", (event) => { event.preventDefault(); download(a); }));
  for (const id of ["cue-sound", "cue-vibrate"]) {
    const saved = localStorage.getItem(`winkwatch.${id}`);
    if (saved !== null) $(id).checked = saved === "1";
    $(id).addEventListener("change", (event) => { localStorage.setItem(`winkwatch.${id}`, event.target.checked ? "1" : "0"); unlockAudio(); });
  }
  document.addEventListener("click", unlockAudio, { once: true });  // browsers allow sound after a tap
  window.addEventListener("resize", () => drawLive());
}

wire();
showSoundHint();
readTokenFromUrl();
if (state.token) signIn(state.token); else showSignIn();
renderSetState();
