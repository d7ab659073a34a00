// WinkWatch phone dashboard: sign in with a token, then one view per tab (live.js, sets.js,
// history.js, sensors.js, assessment.js, gym.js, setup.js for admin tokens) over the shared state (state.js); rep detail
// (rep-detail.js) opens from any rep table, two sets compare side by side (compare.js), every
// number explains itself (explain.js). Vocabularies come from the API (vocabulary.js).
import { leaveAssessment, renderAssessment } from "./assessment.js";
import { wireCompare } from "./compare.js";
import { showSoundHint, unlockAudio, wireCueToggles } from "./cue.js";
import { loadExplanations, wireExplanations } from "./explain.js";
import { escapeHtml } from "./format.js";
import { leaveGym, showGym } from "./gym.js";
import { wireGuard } from "./guard.js";
import { allPages, api } from "./http.js";
import { wireReady } from "./ready.js";
import { renderHistory } from "./history.js";
import { disconnect, drawLive, followAthlete, renderSetState, wireLive } from "./live.js";
import { wireRepDetail } from "./rep-detail.js";
import { renderSensors } from "./sensors.js";
import { renderSets, wireSets } from "./sets.js";
import { renderSetup, wireSetup } from "./setup.js";
import { $, state } from "./state.js";
import { loadVocabulary, setVariants } from "./vocabulary.js";

const SENSOR_REFRESH_MS = 5000;

// ---------------------------------------------------------------- sign in
function readTokenFromUrl() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    state.token = decodeURIComponent(match[1]);
    localStorage.setItem("winkwatch.token", state.token);
    history.replaceState(null, "", location.pathname + location.search);  // keep the secret off screen
    return true;
  }
  return false;
}

async function signIn(token) {
  state.token = token.trim();
  $("signin-error").textContent = "";
  try {
    [state.athletes, state.me] = await Promise.all([allPages("/athletes"), api("/me"), loadVocabulary()]);
  } catch (error) {
    $("signin-error").textContent = error.status === 401
      ? "This token is unknown or revoked. Create one with `winkwatch token create NAME`."
      : `Cannot reach the gateway: ${error.message}`;
    showSignIn();
    return;
  }
  localStorage.setItem("winkwatch.token", state.token);
  document.body.dataset.role = state.me.role;  // read-only: no controls it cannot use (style.css)
  $("signin").hidden = true;
  $("app").hidden = false;
  $("athlete").hidden = false;
  fillAthleteMenu();
  $("variant").innerHTML = setVariants().map((v) => `<option value="${escapeHtml(v.value)}">${escapeHtml(v.label)}</option>`).join("");
  await selectAthlete(state.athleteId);
}

function fillAthleteMenu() {
  const select = $("athlete");
  select.innerHTML = state.athletes.map((a) => `<option value="${a.id}">${escapeHtml(a.name)}</option>`).join("")
    || "<option value=''>no athletes yet</option>";
  if (!state.athletes.some((a) => a.id === state.athleteId)) state.athleteId = state.athletes.length ? state.athletes[0].id : null;
  if (state.athleteId) select.value = String(state.athleteId);
}

// Athletes were added, renamed, archived or deleted (Setup): the menu follows.
async function athletesChanged() {
  const followed = state.athleteId;
  state.athletes = await allPages("/athletes");
  fillAthleteMenu();
  if (state.athleteId !== followed) await selectAthlete(state.athleteId);
}

function showSignIn() {
  $("signin").hidden = false;
  $("app").hidden = true;
  $("athlete").hidden = true;
  $("token").value = state.token;
}

function signOut() {
  localStorage.removeItem("winkwatch.token");
  delete document.body.dataset.role;
  state.token = "";
  disconnect();
  if (VIEWS[state.tab]) VIEWS[state.tab].leave();  // its own streams end too (Gym); signing in shows it again
  showSignIn();
}

async function selectAthlete(athleteId) {
  state.athleteId = athleteId;
  localStorage.setItem("winkwatch.athlete", String(athleteId || ""));
  loadExplanations();
  await followAthlete();
  if (state.tab !== "live") showTab(state.tab);
}

// ---------------------------------------------------------------- tabs and wiring
// Views that render themselves into their (empty) section: shown, and told when left.
const VIEWS = {
  assess: { show: renderAssessment, leave: leaveAssessment },
  gym: { show: showGym, leave: leaveGym },
  setup: { show: renderSetup, leave: () => {} },
};

function showTab(tab) {
  if (state.tab !== tab && VIEWS[state.tab]) VIEWS[state.tab].leave();
  state.tab = tab;
  document.querySelectorAll(".tabs button").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.tab === tab)));
  document.querySelectorAll(".tab").forEach((section) => { section.hidden = section.id !== `tab-${tab}`; });
  window.scrollTo(0, 0);  // a tab opens at its top, not at the last tab's scroll position
  clearInterval(state.sensorTimer);
  if (tab === "live") drawLive();
  if (tab === "sets") renderSets();
  if (tab === "history") renderHistory().catch((error) => { $("history-legend").textContent = error.message; });
  if (tab === "sensors") { renderSensors(); state.sensorTimer = setInterval(renderSensors, SENSOR_REFRESH_MS); }
  if (VIEWS[tab]) VIEWS[tab].show();
}

function wire() {
  $("signin-form").addEventListener("submit", (event) => { event.preventDefault(); unlockAudio(); signIn($("token").value); });
  $("athlete").addEventListener("change", (event) => selectAthlete(Number(event.target.value)));
  $("signout").addEventListener("click", signOut);
  document.querySelectorAll(".tabs button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));
  // A sign-in link opened in a tab already showing the dashboard: sign in with its token.
  window.addEventListener("hashchange", () => { if (readTokenFromUrl()) signIn(state.token); });
  window.addEventListener("winkwatch:refused", (event) => { signOut(); $("signin-error").textContent = event.detail; });
  window.addEventListener("winkwatch:athletes-changed", () => athletesChanged().catch(() => {}));
  wireLive();
  wireSetup();
  wireSets();
  wireRepDetail();
  wireCueToggles();
  wireExplanations();
  wireCompare();
  wireGuard();
  wireReady();
}

sessionStorage.removeItem("winkwatch.reloaded");  // every module loaded (boot.js)
wire();
showSoundHint();
readTokenFromUrl();
if (state.token) signIn(state.token); else showSignIn();
renderSetState();
