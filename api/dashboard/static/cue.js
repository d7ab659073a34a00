// The wink cue: a red banner, a beep (Web Audio) and a vibration, each toggleable.
import { $, state } from "./state.js";
import { deg } from "./format.js";

let audio = null;

export function onWinkOnset(event) {
  const key = `${event.set_key}:${event.rep}`;
  if (state.cuedReps.has(key)) return;
  state.cuedReps.add(key);
  const cue = $("cue");
  cue.textContent = `Butt wink: rep ${event.rep}, from ${deg(event.onset_depth_deg)} thigh angle`;
  cue.hidden = false;
  cue.style.animation = "none"; void cue.offsetWidth; cue.style.animation = "";  // restart the pulse
  const sound = $("cue-sound").checked && beep();
  const vibrate = $("cue-vibrate").checked && typeof navigator.vibrate === "function" && navigator.vibrate([180, 80, 180]);
  window.winkwatch.cues.push({ athlete_id: event.athlete_id, rep: event.rep, onset_depth_deg: event.onset_depth_deg, sound: Boolean(sound), vibrate: Boolean(vibrate), at_ms: Date.now() });
  clearTimeout(state.cueTimer);
  state.cueTimer = setTimeout(() => { cue.hidden = true; }, 6000);
}

export function hideCue() {
  $("cue").hidden = true;
}

export function unlockAudio() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!audio && Context) audio = new Context();
  if (audio && audio.state === "suspended") audio.resume().then(showSoundHint, showSoundHint);
  showSoundHint();
}

// Browsers only play sound after the user has touched the page (e.g. when signed in from a link).
export function showSoundHint() {
  $("sound-hint").hidden = !$("cue-sound").checked || Boolean(audio && audio.state === "running");
}

// `count` tones of `frequencyHz`, each `lengthS` long (the wink: one 880-Hz tone).
export function beep(frequencyHz = 880, lengthS = 0.35, count = 1) {
  if (!audio) return false;
  for (let k = 0; k < count; k++) {
    const start = audio.currentTime + k * (lengthS + 0.08);
    const oscillator = audio.createOscillator(), gain = audio.createGain();
    oscillator.frequency.value = frequencyHz;
    gain.gain.setValueAtTime(0.001, start);
    gain.gain.exponentialRampToValueAtTime(0.4, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.001, start + lengthS);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(start);
    oscillator.stop(start + lengthS + 0.05);
  }
  return true;
}

// Sound and vibration toggles, remembered on the phone.
export function wireCueToggles() {
  for (const id of ["cue-sound", "cue-vibrate"]) {
    const saved = localStorage.getItem(`winkwatch.${id}`);
    if (saved !== null) $(id).checked = saved === "1";
    $(id).addEventListener("change", (event) => { localStorage.setItem(`winkwatch.${id}`, event.target.checked ? "1" : "0"); unlockAudio(); });
  }
  document.addEventListener("click", unlockAudio, { once: true });  // browsers allow sound after a tap
}
