// The Setup view (admin tokens only): athletes (athletes.js), sensors found by the gateway's
// scan and paired to athletes (pairing.js), and a sign-in code for another phone
// (signin-qr.js).
import { renderAthletes, wireAthletes } from "./athletes.js";
import { wirePairing } from "./pairing.js";
import { wireSignInCode } from "./signin-qr.js";
import { state } from "./state.js";

export function renderSetup() {
  renderAthletes();
}

export function wireSetup() {
  wireAthletes();
  wirePairing();
  wireSignInCode();
  window.addEventListener("winkwatch:athletes-changed", () => { if (state.tab === "setup") renderAthletes(); });
}
