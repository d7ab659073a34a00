// What the views share: the signed-in token, the athlete followed, the live buffer, the set
// being recorded and its reps. One object, owned here; views read and update it.
// Angles in degrees; times, live and stored alike, in s since the set started.
import { newBackoff } from "./reconnect.js";

export const $ = (id) => document.getElementById(id);

export const state = {
  token: localStorage.getItem("winkwatch.token") || "",
  athleteId: Number(localStorage.getItem("winkwatch.athlete")) || null,
  athletes: [],
  me: null,                  // {name, role} of the signed-in token (GET /me)
  ws: null, wsBackoff: newBackoff(), wsWanted: false,
  buffer: emptyBuffer(),     // live angles of one set: t (s since it started), thigh, tilt, hip (deg)
  currentSet: null,          // {id, set_key, variant, load_kg, recording}
  liveReps: [],              // {source: "live"|"stored", set_id, set_key, metrics}
  cuedReps: new Set(),
  liveWarnings: [],          // {code, sensor, setKey, message}: the Live view's, newest first
  cuedDepth: new Set(),      // depth-guard cues shown (set_key:rep)
  sensors: new Map(),
  setAngles: new Map(),      // set id -> promise of /dashboard/sets/{id}/angles
  drawPending: false,
  tab: "live",
};

// An athlete's name for an id (the gateway and the stream know athletes by id).
export function athleteName(id) {
  const found = state.athletes.find((a) => String(a.id) === String(id));
  return found ? found.name : `athlete ${id}`;
}

export function emptyBuffer() {
  return { setKey: null, t: [], thigh: [], tilt: [], hip: [] };
}

// Read by the end-to-end test and handy in the browser console.
window.winkwatch = { state, cues: [], depthCues: [], events: 0, repsShown: 0 };
