// The gym view: every athlete recording now, at a glance, for a coach with several lifters.
// One card per recording set (athlete, what and how heavy, for how long), its angles now,
// reps and winks so far, the last rep, and a red flash when a wink starts. It follows the
// whole gym's live stream (/live/ws without an athlete) while shown; a tap opens the
// athlete's Live view.
import { deg, escapeHtml, kg, plural } from "./format.js";
import { allPages, api } from "./http.js";
import { newBackoff, nextDelayMs, opened } from "./reconnect.js";
import { $, athleteName, state } from "./state.js";
import { variantLabel } from "./vocabulary.js";

const ALERT_S = 6;             // a wink alert stays this long on the card
const FINISHED_KEEP_S = 20;    // a set that stopped stays, marked finished, this long
const CLOCK_MS = 1000;

// retryTimer: the reconnect waiting out its backoff (nothing else connects meanwhile).
const gym = { ws: null, wanted: false, backoff: newBackoff(), retryTimer: null, cards: new Map(), clock: null, pending: new Set(), drawQueued: false };
window.winkwatch.gym = gym;  // read by the browser tests, as `state` is

export async function showGym() {
  const section = $("tab-gym");
  if (!section.dataset.built) {
    section.innerHTML = `<div class="card"><h2>Gym: recording now <span id="gym-count" class="muted"></span></h2>
      <p class="muted">Every athlete with a set recording, live. Tap a card for that athlete's Live view.</p>
      <p id="gym-error" class="error" role="alert"></p></div>
      <div id="gym-cards" class="gym-grid"></div>`;
    section.dataset.built = "1";
  }
  gym.wanted = true;
  connect();
  await loadRecording();
  clearInterval(gym.clock);
  gym.clock = setInterval(tick, CLOCK_MS);
}

export function leaveGym() {
  gym.wanted = false;
  clearInterval(gym.clock);
  clearTimeout(gym.retryTimer);
  gym.retryTimer = null;
  if (gym.ws) { const ws = gym.ws; gym.ws = null; ws.close(); }
}

// The sets recording when the view opens (the stream then keeps the cards current).
async function loadRecording() {
  try {
    const sets = await allPages("/sets?status=recording", 1);
    const live = new Set(sets.map((s) => s.set_key));
    for (const [athlete, card] of gym.cards) if (!card.finishedAt && !live.has(card.setKey)) gym.cards.delete(athlete);
    await Promise.all(sets.map(async (s) => {
      const card = cardFor(String(s.athlete_id), { set_key: s.set_key, variant: s.variant, load_kg: s.load_kg, started: Date.parse(s.started_at) });
      card.setId = s.id;
      const reps = (await api(`/reps?set_id=${s.id}&limit=500`)).items;
      if (card.setKey !== s.set_key) return;
      for (const m of reps) addRep(card, m);
    }));
    $("gym-error").textContent = "";
  } catch (error) {
    $("gym-error").textContent = error.message;
  }
  render();
}

// Open the stream, unless it is open or a reconnect is waiting out its backoff (the view
// shown again meanwhile, as a tap on its tab or a late athlete change does, must not connect
// beside it: during a lockout that made two sockets, then three).
function connect() {
  if (gym.ws || !gym.wanted || gym.retryTimer !== null) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  // No athlete: the whole gym; batch=true: each frame an array of the queued messages.
  const ws = new WebSocket(`${scheme}://${location.host}/live/ws?batch=true`);
  gym.ws = ws;
  ws.onopen = () => { ws.send(JSON.stringify({ token: state.token })); opened(gym.backoff); };
  ws.onmessage = (message) => {
    if (gym.ws !== ws) return;
    for (const event of JSON.parse(message.data)) onEvent(event);
  };
  ws.onclose = (close) => {
    if (gym.ws !== ws) return;
    gym.ws = null;
    if (!gym.wanted) return;
    if (close.code === 1008) {  // the token was refused: the sign-in view takes over
      window.dispatchEvent(new CustomEvent("winkwatch:refused", { detail: close.reason }));
      return;
    }
    $("gym-error").textContent = close.reason ? `Live stream closed: ${close.reason}; reconnecting…` : "Live stream lost; reconnecting…";
    gym.retryTimer = setTimeout(() => { gym.retryTimer = null; connect(); loadRecording(); }, nextDelayMs(gym.backoff, close));
  };
}

function cardFor(athleteId, set) {
  let card = gym.cards.get(athleteId);
  if (!card || card.setKey !== set.set_key) {
    card = { athleteId, setKey: set.set_key, setId: null, variant: set.variant, loadKg: set.load_kg, started: set.started || Date.now(),
      reps: [], unstored: new Set(), angles: null, alert: null, finishedAt: null, sensorNote: "" };
    gym.cards.set(athleteId, card);
  }
  return card;
}

// `stored: false`: a rep shown live that the server could not store (a full disk...); the
// same rep comes again with `stored: true` once it is (reps loaded from /reps are stored).
function addRep(card, m, stored = true) {
  card.reps = card.reps.filter((r) => r.rep !== m.rep).concat([m]).sort((a, b) => a.rep - b.rep);
  if (stored) card.unstored.delete(m.rep); else card.unstored.add(m.rep);
}

function onEvent(event) {
  const athleteId = event.athlete_id === null || event.athlete_id === undefined ? null : String(event.athlete_id);
  if (event.type === "set_started") {
    const card = cardFor(athleteId, { ...event.set, started: Date.parse(event.wall_utc) });
    card.setId = event.set_id ?? null;
    return redraw(athleteId, true);
  }
  const card = athleteId && gym.cards.get(athleteId);
  if (!card) return undefined;
  switch (event.type) {
    case "live_angles":
      if (event.set_key !== card.setKey) return undefined;
      card.angles = { thigh: event.thigh_deg, tilt: event.pelvic_tilt_deg, hip: event.hip_flexion_deg };
      return redraw(athleteId);
    case "rep_completed":
      if (event.set_key !== card.setKey) return undefined;
      addRep(card, event.metrics, event.stored !== false);
      return redraw(athleteId, true);
    case "wink_onset":
      if (event.set_key !== card.setKey) return undefined;
      card.alert = { rep: event.rep, onset: event.onset_depth_deg, until: Date.now() + ALERT_S * 1000 };
      return redraw(athleteId, true);
    case "set_stopped":
      if (event.set.set_key === card.setKey) card.finishedAt = Date.now();
      return redraw(athleteId, true);
    case "sensor_status_changed":
      card.sensorNote = event.state === "streaming" ? "" : `${event.placement || "a"} sensor ${event.state}`;
      return redraw(athleteId, true);
    default:
      return undefined;
  }
}

// Angles come ~20 times a second per athlete: cards are redrawn at most once a frame.
function redraw(athleteId, whole) {
  if (whole) { render(); return; }
  gym.pending.add(athleteId);
  if (gym.drawQueued) return;
  gym.drawQueued = true;
  requestAnimationFrame(() => {
    gym.drawQueued = false;
    for (const id of gym.pending) drawAngles(id);
    gym.pending.clear();
  });
}

function tick() {
  const now = Date.now();
  let changed = false;
  for (const [id, card] of gym.cards) {
    if (card.finishedAt && now - card.finishedAt > FINISHED_KEEP_S * 1000) { gym.cards.delete(id); changed = true; }
    if (card.alert && now > card.alert.until) { card.alert = null; changed = true; }
  }
  if (changed) render();
  else document.querySelectorAll("#gym-cards [data-elapsed]").forEach((el) => { el.textContent = elapsed(gym.cards.get(el.dataset.elapsed)); });
}

function elapsed(card) {
  if (!card) return "";
  const s = Math.max(0, Math.round(((card.finishedAt || Date.now()) - card.started) / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function render() {
  const target = $("gym-cards");
  if (!target) return;
  const cards = [...gym.cards.values()].sort((a, b) => athleteName(a.athleteId).localeCompare(athleteName(b.athleteId)));
  const recording = cards.filter((c) => !c.finishedAt).length;
  $("gym-count").textContent = `(${plural(recording, "athlete")})`;
  target.innerHTML = cards.map(cardHtml).join("")
    || '<p class="card muted">Nobody is recording now. Sets started on the Live view (or by the gateway) show up here at once.</p>';
  target.querySelectorAll("[data-athlete]").forEach((el) => el.addEventListener("click", () => openLive(el.dataset.athlete)));
  for (const card of cards) drawAngles(card.athleteId);
}

function cardHtml(card) {
  const reps = card.reps, winks = reps.filter((m) => m.butt_wink);
  const last = reps[reps.length - 1];
  const unstored = reps.filter((m) => card.unstored.has(m.rep)).length;
  const lastText = last ? `last rep ${last.rep}: ${deg(last.depth_deg)} deep, wink ${deg(last.wink_deg, 1)}${last.butt_wink ? ` from ${deg(last.wink_onset_depth_deg)}` : ""}${card.unstored.has(last.rep) ? " (not stored)" : ""}` : "no rep yet";
  const alert = card.alert ? `<p class="gym-alert" role="alert">Butt wink: rep ${card.alert.rep}, from ${deg(card.alert.onset)} thigh angle</p>` : "";
  return `<article class="gym-card${card.alert ? " winking" : ""}${card.finishedAt ? " finished" : ""}" data-athlete="${escapeHtml(card.athleteId)}" tabindex="0">`
    + `<header><b class="gym-name">${escapeHtml(athleteName(card.athleteId))}</b>`
    + `<span class="muted">${escapeHtml(variantLabel(card.variant))}, ${kg(card.loadKg)} · <span data-elapsed="${escapeHtml(card.athleteId)}">${elapsed(card)}</span>${card.finishedAt ? " · finished" : ""}</span></header>`
    + `<div class="gym-now"><div>thigh<b data-angle="thigh">–</b></div><div>tilt<b data-angle="tilt">–</b></div><div>hip<b data-angle="hip">–</b></div></div>`
    + `<p class="gym-reps"><b data-reps>${reps.length}</b> ${reps.length === 1 ? "rep" : "reps"} · `
    + `<span class="${winks.length ? "flag wink" : "flag ok"}" data-winks="${winks.length}">${plural(winks.length, "wink")}</span>`
    + (unstored ? ` <span class="flag unstored" data-unstored="${unstored}" title="shown live, not stored: the server cannot write its database now; they are stored once it can">${unstored} not stored</span>` : "")
    + "</p>"
    + `<p class="muted gym-last">${lastText}</p>${alert}`
    + (card.sensorNote ? `<p class="warning">${escapeHtml(card.sensorNote)}</p>` : "")
    + "</article>";
}

function drawAngles(athleteId) {
  const card = gym.cards.get(athleteId);
  const element = document.querySelector(`#gym-cards [data-athlete="${CSS.escape(athleteId)}"]`);
  if (!card || !element) return;
  const a = card.angles || {};
  for (const key of ["thigh", "tilt", "hip"]) element.querySelector(`[data-angle=${key}]`).textContent = deg(a[key]);
}

function openLive(athleteId) {
  const header = $("athlete");
  header.value = athleteId;
  header.dispatchEvent(new Event("change"));
  document.querySelector(".tabs button[data-tab=live]").click();
}
