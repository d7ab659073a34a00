// Depth guard on the Live view: the athlete's prescribed depth ceiling and the coach's margin
// (GET/PUT /athletes/{id}/depth-guard, stored per athlete), and the cue when the gateway says
// the thigh is about to reach it (event depth_ceiling_near, before the wink). Whether this
// phone signals the cue (and with sound / vibration: the Live toggles) is kept on the phone.
import { beep } from "./cue.js";
import { deg, escapeHtml } from "./format.js";
import { api, permissionMessage } from "./http.js";
import { $, state } from "./state.js";

const CUE_SHOWN_MS = 2500;
const MARGIN_STEP_DEG = 1;
const PHONE_KEY = "winkwatch.depth-cue";

let settings = null;  // the followed athlete's depth guard (DepthGuardPublic)
let hideTimer = null;

export async function loadGuard() {
  settings = null;
  renderGuard();
  if (!state.athleteId) return;
  const athleteId = state.athleteId;
  try {
    const body = await api(`/athletes/${athleteId}/depth-guard`);
    if (athleteId === state.athleteId) settings = body;
  } catch (error) {
    $("guard-error").textContent = error.message;
  }
  renderGuard();
}

function renderGuard() {
  const card = $("guard");
  card.hidden = !settings;
  if (!settings) return;
  const s = settings;
  $("guard-text").innerHTML = s.ceiling_thigh_deg === null
    ? `<b>Depth guard</b> <span class="muted">${escapeHtml(s.explanation)}</span>`
    : `<b>Depth guard</b> ${s.active ? `cue at <b>${deg(s.cue_level_deg)}</b>` : "<b>off</b>"}`
      + ` <span class="muted">ceiling ${deg(s.ceiling_thigh_deg)} thigh, margin ${deg(s.margin_deg)}</span>`;
  $("guard-text").title = s.explanation;
  const controls = s.ceiling_thigh_deg !== null;
  $("guard-controls").hidden = !controls;
  $("guard-on").checked = s.on;
  $("guard-margin").textContent = deg(s.margin_deg);
}

async function update(change) {
  $("guard-error").textContent = "";
  try {
    settings = await api(`/athletes/${state.athleteId}/depth-guard`, { method: "PUT", json: change });
  } catch (error) {
    $("guard-error").textContent = permissionMessage(error);
  }
  renderGuard();
}

export function onDepthCeilingNear(event) {
  const key = `${event.set_key}:${event.rep}`;
  if (state.cuedDepth.has(key)) return;
  state.cuedDepth.add(key);
  const phone = $("guard-phone").checked;
  const sound = phone && $("cue-sound").checked && beep(520, 0.12, 2);
  const vibrate = phone && $("cue-vibrate").checked && typeof navigator.vibrate === "function" && navigator.vibrate([90, 60, 90, 60, 90]);
  window.winkwatch.depthCues.push({ athlete_id: event.athlete_id, rep: event.rep, thigh_deg: event.thigh_deg,
    ceiling_thigh_deg: event.ceiling_thigh_deg, shown: phone, sound: Boolean(sound), vibrate: Boolean(vibrate), at_ms: Date.now() });
  if (!phone) return;
  const cue = $("depth-cue");
  cue.textContent = `Depth: brake now (ceiling ${deg(event.ceiling_thigh_deg)}), rep ${event.rep}`;
  cue.hidden = false;
  clearTimeout(hideTimer);
  hideTimer = setTimeout(() => { cue.hidden = true; }, CUE_SHOWN_MS);
}

export function wireGuard() {
  const saved = localStorage.getItem(PHONE_KEY);
  if (saved !== null) $("guard-phone").checked = saved === "1";
  $("guard-phone").addEventListener("change", (event) => localStorage.setItem(PHONE_KEY, event.target.checked ? "1" : "0"));
  $("guard-on").addEventListener("change", (event) => update({ on: event.target.checked }));
  $("guard-less").addEventListener("click", () => settings && update({ margin_deg: Math.max(0, settings.margin_deg - MARGIN_STEP_DEG) }));
  $("guard-more").addEventListener("click", () => settings && update({ margin_deg: Math.min(30, settings.margin_deg + MARGIN_STEP_DEG) }));
}
