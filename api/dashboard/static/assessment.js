// The guided assessment: pick the athlete, run the test battery step by step (each step's
// instructions, start/stop, live angles and reps while it records, progress, skip or repeat),
// then the report (verdict in plain words, onsets with their 95% CI, the prescription, the
// API's figure of tilt against hip flexion per step), as PDF/HTML to print or share, and the
// athlete's assessments side by side. The API does the analysis (api/assessments.py); the
// live stream of the athlete followed (live.js) feeds the step's chart and reps.
import { busy, once } from "./busy.js";
import { lineChart } from "./charts.js";
import { deg, escapeHtml, plural } from "./format.js";
import { api, fetchFile, permissionMessage, saveFile } from "./http.js";
import { flagHtml } from "./reps.js";
import { $, athleteName, state } from "./state.js";
import { COLORS } from "./theme.js";
import { termLabel, terms } from "./vocabulary.js";

const LIVE_WINDOW_S = 10;
const REDRAW_MS = 250;             // the step's live chart and reps, while a step records
const LOAD_STEPS = new Set(["goblet", "loaded"]);   // the coach gives the load in kg
const REQUIRED_STEP = "baseline";  // first and required: it calibrates every later step

// One assessment being run on this phone: its steps in the battery's order and where we are.
const run = { assessment: null, steps: [], current: 0, timer: null, report: null, boxHint: null };

const TEMPLATE = `
<div id="assess-pick" class="card">
  <h2>Guided assessment</h2>
  <p class="muted">Finds out why the athlete winks and how deep to squat: a short battery of
  tests, each recorded with the two sensors. Strap them on once; they stay on for every step.</p>
  <label class="field">Athlete <select id="assess-athlete" aria-label="athlete to assess"></select></label>
  <div class="row">
    <input id="assess-femur" type="number" inputmode="decimal" min="20" max="80" step="0.5" placeholder="femur cm" aria-label="femur length in cm">
    <input id="assess-shank" type="number" inputmode="decimal" min="20" max="80" step="0.5" placeholder="shank cm" aria-label="shank length in cm">
  </div>
  <p class="muted">Femur (hip joint to knee) and shank (knee to ankle) lengths turn the depth limit into a box height in cm; optional.</p>
  <button id="assess-begin" type="button" class="admin-only">Start assessment</button>
  <p id="assess-error" class="error" role="alert"></p>
</div>
<div id="assess-run" hidden>
  <div class="card">
    <h2 id="assess-title"></h2>
    <progress id="assess-progress" max="1" value="0"></progress>
    <ol id="assess-steps" class="steps"></ol>
  </div>
  <div id="assess-step" class="card">
    <h2 id="assess-step-title"></h2>
    <p id="assess-instructions" class="instructions"></p>
    <p id="assess-box" class="advice-note" hidden></p>
    <input id="assess-load" type="number" inputmode="decimal" min="0" max="1000" step="2.5" placeholder="kg" aria-label="load in kg" hidden>
    <div class="row">
      <button id="assess-start" type="button" class="admin-only">Start step</button>
      <button id="assess-stop" type="button" class="secondary admin-only">Stop step</button>
    </div>
    <div class="row">
      <button id="assess-skip" type="button" class="secondary admin-only">Skip step</button>
      <button id="assess-repeat" type="button" class="secondary admin-only">Repeat step</button>
      <button id="assess-next" type="button" class="secondary admin-only">Next step</button>
    </div>
    <p id="assess-step-state" class="set-state"></p>
    <div class="angles">
      <div data-explain="thigh"><span class="swatch thigh"></span>Thigh<b id="assess-thigh">–</b></div>
      <div data-explain="pelvic_tilt"><span class="swatch tilt"></span>Pelvic tilt<b id="assess-tilt">–</b></div>
      <div data-explain="hip_flexion"><span class="swatch hip"></span>Hip flexion<b id="assess-hip">–</b></div>
    </div>
    <canvas id="assess-chart" class="chart" aria-label="live angles of the step, last 10 s"></canvas>
    <table class="reps"><thead><tr><th>#</th><th data-explain="thigh">thigh</th><th data-explain="hip_flexion">hip</th><th data-explain="wink">wink</th><th data-explain="threshold">flag</th></tr></thead>
      <tbody id="assess-reps"></tbody></table>
    <p id="assess-step-error" class="error" role="alert"></p>
  </div>
  <div class="card">
    <button id="assess-finish" type="button" class="admin-only">Finish: see the report</button>
    <p id="assess-finish-note" class="muted"></p>
  </div>
</div>
<div id="assess-report" class="card" hidden>
  <h2 id="assess-report-title"></h2>
  <p id="assess-summary" class="verdict-summary"></p>
  <table id="assess-verdict" class="grid"></table>
  <h3>Prescription</h3>
  <div id="assess-prescription"></div>
  <h3>Wink onset per step</h3>
  <table class="grid"><thead><tr><th>step</th><th>reps</th><th>winks</th><th data-explain="hip_flexion">onset, hip flexion</th><th data-explain="thigh">onset, thigh</th></tr></thead>
    <tbody id="assess-onsets"></tbody></table>
  <p class="muted">Median over the step's reps, its 95% confidence interval in brackets (from the
  athlete's own rep-to-rep spread). Hip flexion: the angle between pelvis and thigh; thigh angle:
  0° standing, 90° thigh parallel to the floor.</p>
  <ul id="assess-problems" class="findings"></ul>
  <p id="assess-moved" class="muted"></p>
  <img id="assess-figure" class="figure" alt="Pelvic tilt against hip flexion, every step overlaid, and the onset of each step with its 95% CI">
  <div class="row exports">
    <button id="assess-pdf" type="button">PDF</button>
    <button id="assess-html" type="button" class="secondary">Printable page</button>
    <button id="assess-share" type="button" class="secondary">Share</button>
  </div>
  <p id="assess-report-error" class="error" role="alert"></p>
  <div class="row"><button id="assess-back" type="button" class="secondary">Back to the steps</button>
    <button id="assess-new" type="button" class="secondary admin-only">New assessment</button></div>
</div>
<div class="card">
  <h2>Assessments side by side</h2>
  <div id="assess-history" class="scroll-x"></div>
</div>`;

const estimateText = (e) => (!e || e.median === null || e.median === undefined ? "–"
  : `${deg(e.median, 1)} (${e.ci95 ? `${deg(e.ci95[0], 1)}–${deg(e.ci95[1], 1)}` : "no CI"})`);
const stepLabel = (kind) => termLabel("step_kinds", kind);
const currentStep = () => run.steps[run.current];
const recordingStep = () => run.steps.find((s) => s.status === "recording");

export function renderAssessment() {
  const section = $("tab-assess");
  if (!section.dataset.built) { section.innerHTML = TEMPLATE; section.dataset.built = "1"; wire(); }
  const select = $("assess-athlete");
  select.innerHTML = state.athletes.map((a) => `<option value="${a.id}">${escapeHtml(a.name)}</option>`).join("");
  if (state.athleteId) select.value = String(state.athleteId);
  showPhase(run.report ? "report" : run.assessment ? "run" : "pick");
  renderHistory();
}

export function leaveAssessment() { stopRedraw(); }

function wire() {
  $("assess-athlete").addEventListener("change", (event) => followAthlete(Number(event.target.value)));
  $("assess-begin").addEventListener("click", () => once($("assess-begin"), begin));
  $("assess-start").addEventListener("click", () => once($("assess-start"), startStep, renderRun));
  $("assess-stop").addEventListener("click", () => once($("assess-stop"), stopStep, renderRun));
  $("assess-skip").addEventListener("click", skipStep);
  $("assess-repeat").addEventListener("click", () => { currentStep().status = "pending"; renderRun(); });
  $("assess-next").addEventListener("click", () => goTo(nextPending(run.current)));
  $("assess-finish").addEventListener("click", () => once($("assess-finish"), showReport));
  $("assess-back").addEventListener("click", () => { run.report = null; showPhase("run"); });
  $("assess-new").addEventListener("click", () => { Object.assign(run, { assessment: null, steps: [], current: 0, report: null }); showPhase("pick"); });
  $("assess-pdf").addEventListener("click", () => exportReport("pdf"));
  $("assess-html").addEventListener("click", () => exportReport("html"));
  $("assess-share").addEventListener("click", shareReport);
  $("assess-figure").addEventListener("click", (event) => event.target.classList.toggle("zoomed"));  // small on a phone
}

function showPhase(phase) {
  $("assess-pick").hidden = phase !== "pick";
  $("assess-run").hidden = phase !== "run";
  $("assess-report").hidden = phase !== "report";
  if (phase === "run") renderRun();
  if (phase === "report") renderReport();
  if (phase === "run" && recordingStep()) startRedraw(); else stopRedraw();
}

// The header's athlete is the one the live stream follows: choosing here follows them there.
function followAthlete(athleteId) {
  const header = $("athlete");
  if (!athleteId || header.value === String(athleteId)) return;
  header.value = String(athleteId);
  header.dispatchEvent(new Event("change"));
}

// ---------------------------------------------------------------- the run
async function begin() {
  $("assess-error").textContent = "";
  const athleteId = Number($("assess-athlete").value);
  const length = (id) => ($(id).value === "" ? undefined : Number($(id).value));
  try {
    const row = await api("/assessments", { method: "POST", json: { athlete_id: athleteId, femur_cm: length("assess-femur"), shank_cm: length("assess-shank") } });
    followAthlete(athleteId);
    openAssessment(row);
  } catch (error) {
    $("assess-error").textContent = permissionMessage(error);
  }
}

function openAssessment(row) {
  run.assessment = row;
  run.report = null;
  run.boxHint = null;
  const skipped = new Set(row.skipped || []);  // kept by the API: every phone, after a reload
  run.steps = terms("step_kinds").map((t) => ({ kind: t.value, minReps: t.min_reps, status: row.steps[t.value] ? "done" : skipped.has(t.value) ? "skipped" : "pending", setId: row.steps[t.value] || null, reps: [], repsKnown: !row.steps[t.value] }));
  run.current = Math.max(0, run.steps.findIndex((s) => s.status === "pending"));
  showPhase("run");
  for (const step of run.steps.filter((s) => s.setId)) {  // an assessment continued: its recorded reps
    api(`/reps?set_id=${step.setId}&limit=500`).then((page) => {
      step.reps = page.items.sort((x, y) => x.rep - y.rep);
      step.repsKnown = true;
      if (run.assessment === row && !recordingStep()) renderRun();
    }).catch(() => {});
  }
}

function nextPending(from) {
  for (let i = from + 1; i < run.steps.length; i++) if (run.steps[i].status === "pending") return i;
  return -1;
}

function goTo(index) {
  if (recordingStep()) return;
  if (index < 0) { $("assess-finish").focus(); $("assess-finish-note").textContent = "Every step is done or skipped: see the report."; return; }
  run.current = index;
  $("assess-step-error").textContent = "";
  renderRun();
}

function renderRun() {
  const a = run.assessment;
  $("assess-title").textContent = `Assessment of ${athleteName(a.athlete_id)}, ${new Date(a.created_at).toLocaleDateString()}`;
  const settled = run.steps.filter((s) => (s.status === "done" && !tooFewReps(s)) || s.status === "skipped").length;
  $("assess-progress").max = run.steps.length;
  $("assess-progress").value = settled;
  const list = $("assess-steps");
  list.innerHTML = run.steps.map((s, i) => `<li data-step="${i}" class="${s.status}${i === run.current ? " current" : ""}">`
    + `${escapeHtml(stepLabel(s.kind))} <small>${stepStatusText(s)}</small></li>`).join("");
  list.querySelectorAll("li").forEach((item) => item.addEventListener("click", () => goTo(Number(item.dataset.step))));
  const step = currentStep();
  const recording = step.status === "recording";
  $("assess-step-title").textContent = `Step ${run.current + 1} of ${run.steps.length}: ${stepLabel(step.kind)}`;
  $("assess-instructions").textContent = a.instructions[step.kind] || "";
  $("assess-load").hidden = !LOAD_STEPS.has(step.kind);
  $("assess-box").hidden = step.kind !== "box";
  if (step.kind === "box") showBoxHeight();
  $("assess-start").disabled = busy($("assess-start")) || recording || step.status === "done" || Boolean(recordingStep());
  $("assess-stop").disabled = !recording;
  // A recorded step is in the report: repeat it rather than skip it (the API refuses).
  $("assess-skip").disabled = recording || step.kind === REQUIRED_STEP || Boolean(step.setId);
  $("assess-skip").textContent = step.status === "skipped" ? "Undo skip" : "Skip step";
  $("assess-skip").title = step.kind === REQUIRED_STEP ? "the baseline calibrates every other step: it cannot be skipped"
    : step.setId ? "recorded: the report uses it (repeat it instead)" : "";
  $("assess-repeat").disabled = step.status !== "done";
  $("assess-next").disabled = recording || nextPending(run.current) < 0;
  $("assess-step-state").classList.toggle("recording", recording);
  $("assess-step-state").textContent = recording ? `Recording ${stepLabel(step.kind).toLowerCase()}…`
    : step.status === "done" ? `Recorded: ${resultText(step)}` : step.status === "skipped" ? "Skipped." : "Not recorded yet.";
  const baseline = run.steps.find((s) => s.kind === REQUIRED_STEP);
  const baselineDone = baseline.status === "done" && !tooFewReps(baseline);
  $("assess-finish").disabled = !baselineDone || Boolean(recordingStep());
  $("assess-finish-note").textContent = baselineDone ? `${plural(run.steps.filter((s) => s.status === "done").length, "step")} recorded; the report weighs those.`
    : baseline.status === "done" ? "Repeat the baseline: it has too few reps to calibrate the sensors for every other step."
    : "Record the baseline first: it calibrates the sensors for every other step.";
  renderStepReps(step);
  drawStep();
}

function stepStatusText(s) {
  if (s.status === "recording") return "recording";
  if (s.status === "done") return `done, ${plural(s.reps.length, "rep")}${tooFewReps(s) ? " (too few)" : ""}`;
  return s.status === "skipped" ? "skipped" : s.kind === REQUIRED_STEP ? "required" : "";
}

function resultText(step) {
  const reps = step.reps;
  if (!reps.length) return "no reps found (repeat the step?)";
  if (tooFewReps(step)) {
    return `${plural(reps.length, "rep")}: too few to analyse, this step needs at least ${step.minReps} complete reps. Repeat it`
      + (step.kind === REQUIRED_STEP ? " (the report needs the baseline)." : ", or the report leaves it out.");
  }
  const winks = reps.filter((m) => m.butt_wink);
  const deepest = Math.max(...reps.map((m) => m.hip_flexion_max_deg));
  return `${plural(reps.length, "rep")}, ${winks.length} with a wink; deepest hip flexion ${deg(deepest)}.`;
}

async function startStep() {
  const step = currentStep();
  $("assess-step-error").textContent = "";
  const load = LOAD_STEPS.has(step.kind) && $("assess-load").value !== "" ? Number($("assess-load").value) : null;
  try {
    const row = await api(`/assessments/${run.assessment.id}/steps`, { method: "POST", json: { kind: step.kind, load_kg: load } });
    Object.assign(step, { status: "recording", setId: row.id, setKey: row.set_key, reps: [], repsKnown: true });
    renderRun();
    startRedraw();
  } catch (error) {
    $("assess-step-error").textContent = permissionMessage(error);
  }
}

async function stopStep() {
  const step = recordingStep();
  if (!step) return;
  $("assess-step-error").textContent = "";
  try {
    await api(`/sets/${step.setId}/stop`, { method: "POST" });
  } catch (error) {
    if (error.status !== 409) { $("assess-step-error").textContent = permissionMessage(error); return; }  // 409: already stopped
  }
  stopRedraw();
  Object.assign(step, { status: "done", repsKnown: false });
  // The stored reps, with any the stream showed that are not stored yet (the last rep of a
  // step may reach the database a moment after the stop).
  const live = stepLiveReps(step);
  try {
    const stored = (await api(`/reps?set_id=${step.setId}&limit=500`)).items;
    const byRep = new Map(live.map((m) => [m.rep, m]));
    for (const m of stored) byRep.set(m.rep, m);
    step.reps = [...byRep.values()].sort((x, y) => x.rep - y.rep);
  } catch (error) {
    step.reps = live;
    $("assess-step-error").textContent = error.message;
  }
  step.repsKnown = true;
  if (step.kind === REQUIRED_STEP) run.boxHint = null;  // a new baseline changes the prescription
  renderRun();
}

// Skipping (or undoing it) is stored with the assessment, so a reload or another phone
// shows it and the report says "skipped"; the page moves on at once and goes back if the
// API refuses.
async function skipStep() {
  const step = currentStep();
  if (step.kind === REQUIRED_STEP || step.status === "recording" || step.setId) return;
  const undo = step.status === "skipped";
  const assessment = run.assessment;
  $("assess-step-error").textContent = "";
  step.status = undo ? "pending" : "skipped";
  const next = undo ? -1 : nextPending(run.current);
  if (next >= 0) run.current = next;
  renderRun();
  try {
    const row = await api(`/assessments/${assessment.id}/steps/${step.kind}/skip`, { method: undo ? "DELETE" : "POST" });
    if (run.assessment === assessment) run.assessment = { ...assessment, skipped: row.skipped };
  } catch (error) {
    if (run.assessment !== assessment) return;
    step.status = undo ? "skipped" : "pending";
    renderRun();
    $("assess-step-error").textContent = `${stepLabel(step.kind)}: ${permissionMessage(error)}`;
  }
}

// The box step: squat to a box at the height the steps so far prescribe.
async function showBoxHeight() {
  const note = $("assess-box");
  if (run.boxHint) { note.textContent = run.boxHint; return; }
  note.textContent = "Working out the box height from the steps so far…";
  try {
    const report = await api(`/assessments/${run.assessment.id}/report`);
    const p = report.prescription;
    run.boxHint = !report.verdict.winks ? "No wink so far: any box height that gives the depth you want."
      : p.box_height_cm !== null ? `Box height: ${p.box_height_cm.toFixed(0)} cm (the thigh stops at about ${deg(p.depth_ceiling_thigh_deg)}).`
        : `Set the box so the thigh stops at about ${deg(p.depth_ceiling_thigh_deg)} (give femur and shank lengths for a height in cm).`;
  } catch (error) {
    run.boxHint = null;
    note.textContent = `No box height yet: ${error.message}`;
    return;
  }
  note.textContent = run.boxHint;
}

// ---------------------------------------------------------------- live view of the step
function startRedraw() { stopRedraw(); run.timer = setInterval(() => { const s = currentStep(); renderStepReps(s); drawStep(); }, REDRAW_MS); }
function stopRedraw() { clearInterval(run.timer); run.timer = null; }

function stepLiveReps(step) {
  return state.liveReps.filter((r) => (step.setId && r.set_id === step.setId) || (step.setKey && r.set_key === step.setKey)).map((r) => r.metrics);
}

function renderStepReps(step) {
  if (!step) return;
  const reps = step.status === "recording" ? stepLiveReps(step) : step.reps;
  const body = $("assess-reps");
  const html = reps.map((m) => `<tr><td>${m.rep}</td><td>${deg(m.depth_deg)}</td><td>${deg(m.hip_flexion_max_deg)}</td>`
    + `<td>${deg(m.wink_deg, 1)}</td><td>${flagHtml(m)}</td></tr>`).join("")
    || `<tr><td colspan="5" class="muted">${step.status === "recording" ? "Reps appear here as they are completed." : "No reps recorded for this step."}</td></tr>`;
  if (body.dataset.html !== html) { body.innerHTML = html; body.dataset.html = html; }
  if (step.status === "recording") $("assess-step-state").textContent = `Recording ${stepLabel(step.kind).toLowerCase()}: ${plural(reps.length, "rep")} so far`
    + (reps.length < step.minReps ? ` (it needs at least ${step.minReps})` : "");
}

// A recorded step with fewer reps than its analysis needs (the API's step_kinds say how many):
// stopped early, the report could not use it (a baseline: the report could not be made at all).
// Until a continued assessment's reps have loaded, nothing is said.
const tooFewReps = (step) => step.status === "done" && step.repsKnown && step.reps.length < step.minReps;

function drawStep() {
  const step = currentStep();
  const b = state.buffer;
  const live = step && step.status === "recording" && b.setKey && b.setKey === step.setKey;
  const end = live && b.t.length ? b.t[b.t.length - 1] : 0;
  const from = live ? Math.max(0, b.t.findIndex((t) => t >= end - LIVE_WINDOW_S)) : 0;
  const last = (key) => (live && b[key].length ? b[key][b[key].length - 1] : null);
  $("assess-thigh").textContent = deg(last("thigh"));
  $("assess-tilt").textContent = deg(last("tilt"));
  $("assess-hip").textContent = deg(last("hip"));
  const empty = !step || step.status !== "recording" ? "Start the step to see its angles live."
    : !live || !b.t.length ? "Waiting for the sensors: no angles yet (check the Sensors tab if this lasts)." : null;
  lineChart($("assess-chart"), {
    x: live ? b.t.slice(from).map((t) => t - end) : [], xRange: [-LIVE_WINDOW_S, 0], yRange: [-20, 140], xLabel: "s", yLabel: "deg",
    series: ["thigh", "tilt", "hip"].map((key) => ({ y: live ? b[key].slice(from) : [], color: COLORS[key] })),
    emptyText: empty,
  });
}

// ---------------------------------------------------------------- the report
async function showReport() {
  $("assess-finish-note").textContent = "Analysing every step…";
  try {
    run.report = await api(`/assessments/${run.assessment.id}/report`);
  } catch (error) {
    $("assess-finish-note").textContent = `No report: ${error.message}`;
    return;
  }
  showPhase("report");
  renderHistory();
}

function renderReport() {
  const r = run.report, a = run.assessment;
  $("assess-report-title").textContent = `Report: ${athleteName(a.athlete_id)}, ${new Date(a.created_at).toLocaleDateString()}`;
  $("assess-summary").textContent = r.verdict.summary;
  $("assess-verdict").innerHTML = `<thead><tr><th>possible cause</th><th>finding</th></tr></thead><tbody>`
    + terms("verdict_fields").map((f) => `<tr data-cause="${f.value}"><td>${escapeHtml(f.label)}</td>`
      + `<td class="v-${r.verdict[f.value]}">${escapeHtml(termLabel("verdict_values", r.verdict[f.value]))}</td></tr>`).join("") + "</tbody>";
  $("assess-prescription").innerHTML = prescriptionHtml(r);
  $("assess-onsets").innerHTML = Object.entries(r.steps).map(([kind, s]) => `<tr data-step="${kind}"><td>${escapeHtml(stepLabel(kind))}</td>`
    + `<td>${s.reps}</td><td>${s.wink_reps}</td><td class="onset-hip">${estimateText(s.onset_hip_flexion_deg)}</td>`
    + `<td>${kind === "rock_back" ? "–" : estimateText(s.onset_thigh_deg)}</td></tr>`).join("")
    + (r.skipped || []).map((kind) => `<tr data-step="${kind}" class="skipped"><td>${escapeHtml(stepLabel(kind))}</td>`
      + '<td colspan="4" class="muted">skipped</td></tr>').join("");
  $("assess-problems").innerHTML = r.problems.map((p) => `<li>${escapeHtml(p.message)}</li>`).join("");
  $("assess-moved").textContent = r.history.map((h) => `Since #${h.assessment_id} (${new Date(h.created_at).toLocaleDateString()}): `
    + (h.onset_change_since ? `baseline onset ${h.onset_moved} (shift ${deg(h.onset_change_since.shift_deg, 1)}, 95% CI ${deg(h.onset_change_since.ci95[0], 1)}–${deg(h.onset_change_since.ci95[1], 1)})` : h.onset_moved)).join(". ");
  const figure = $("assess-figure");
  figure.removeAttribute("src");
  fetchFile(`/assessments/${a.id}/report.png`).then(({ blob }) => {
    const reader = new FileReader();  // a data: URL (the page's CSP allows no blob: images)
    reader.onload = () => { figure.src = reader.result; };
    reader.readAsDataURL(blob);
  }).catch((error) => { $("assess-report-error").textContent = `No figure: ${error.message}`; });
}

function prescriptionHtml(r) {
  const p = r.prescription;
  if (!r.verdict.winks) return "<p>No wink at any tested depth: no depth limit is needed.</p>";
  if (p.depth_ceiling_thigh_deg === null) return "<p>No depth limit could be set from these steps.</p>";
  const parallel = p.depth_ceiling_thigh_deg >= 90 ? "at or below parallel" : "above parallel";
  return `<p class="advice" data-ceiling-thigh="${p.depth_ceiling_thigh_deg}">Under load, stay above <b>${deg(p.depth_ceiling_thigh_deg)}</b> of thigh angle `
    + `(${parallel}; 90° = thigh parallel to the floor), i.e. <b>${deg(p.depth_ceiling_hip_flexion_deg)}</b> of hip flexion.</p>`
    + (p.box_height_cm !== null ? `<p class="advice">Box squats to a box <b>${p.box_height_cm.toFixed(0)} cm</b> high.</p>`
      : "<p class=\"muted\">Give the femur and shank lengths for a box height in cm.</p>");
}

async function exportReport(format) {
  $("assess-report-error").textContent = "";
  try {
    await saveFile(`/assessments/${run.assessment.id}/report.${format}`, `winkwatch-assessment.${format}`);
  } catch (error) {
    $("assess-report-error").textContent = `Export failed: ${error.message}`;
  }
}

// The phone's share sheet with the PDF where the browser can share files; else a download.
async function shareReport() {
  $("assess-report-error").textContent = "";
  try {
    const { blob, name } = await fetchFile(`/assessments/${run.assessment.id}/report.pdf`, "winkwatch-assessment.pdf");
    const file = new File([blob], name, { type: "application/pdf" });
    if (navigator.canShare && navigator.canShare({ files: [file] })) {
      await navigator.share({ files: [file], title: $("assess-report-title").textContent });
    } else {
      await saveFile(`/assessments/${run.assessment.id}/report.pdf`, name);
      $("assess-report-error").textContent = "This browser cannot share files: the PDF was downloaded instead.";
    }
  } catch (error) {
    if (error.name !== "AbortError") $("assess-report-error").textContent = `Share failed: ${error.message}`;
  }
}

// ---------------------------------------------------------------- history side by side
async function renderHistory() {
  const target = $("assess-history");
  const athleteId = Number($("assess-athlete").value) || state.athleteId;
  if (!athleteId) { target.innerHTML = '<p class="muted">No athlete yet.</p>'; return; }
  let rows;
  try {
    rows = await api(`/assessments?athlete_id=${athleteId}`);
  } catch (error) {
    target.innerHTML = `<p class="error">${escapeHtml(error.message)}</p>`;
    return;
  }
  if (!rows.length) { target.innerHTML = `<p class="muted">${escapeHtml(athleteName(athleteId))} has no assessments yet.</p>`; return; }
  const columns = rows.slice(0, 6);  // newest first
  const head = columns.map((a) => `<th>${new Date(a.created_at).toLocaleDateString()}<br><small>#${a.id}</small></th>`).join("");
  const cell = (a, fn) => `<td>${a.report ? fn(a.report, a) : (Object.keys(a.steps).length ? "not reported" : "no steps")}</td>`;
  const line = (label, fn, key) => `<tr${key ? ` data-row="${key}"` : ""}><th>${escapeHtml(label)}</th>${columns.map((a) => cell(a, fn)).join("")}</tr>`;
  const kinds = terms("step_kinds").map((t) => t.value).filter((k) => columns.some((a) => a.report && a.report.steps[k]));
  const body = [
    line("wink", (r) => (r.verdict.winks ? "yes" : "no"), "winks"),
    ...terms("verdict_fields").map((f) => line(f.label.split(" (")[0], (r) => escapeHtml(termLabel("verdict_values", r.verdict[f.value])), f.value)),
    ...kinds.map((k) => line(`${stepLabel(k)}: onset, hip flexion`, (r, a) => (r.steps[k] ? estimateText(r.steps[k].onset_hip_flexion_deg) : (a.skipped || []).includes(k) ? "skipped" : "not tested"), `onset-${k}`)),
    line("stay above (thigh)", (r) => deg(r.prescription.depth_ceiling_thigh_deg), "ceiling"),
    line("box height", (r) => (r.prescription.box_height_cm === null ? "–" : `${r.prescription.box_height_cm.toFixed(0)} cm`), "box"),
  ].join("");
  const open = `<tr><th></th>${columns.map((a) => `<td><button type="button" class="link-button" data-open="${a.id}">${run.assessment && run.assessment.id === a.id ? "open" : "continue"}</button></td>`).join("")}</tr>`;
  target.innerHTML = `<table class="grid side-by-side"><thead><tr><th></th>${head}</tr></thead><tbody>${body}${open}</tbody></table>`;
  target.querySelectorAll("button[data-open]").forEach((button) => button.addEventListener("click", () => {
    if (recordingStep()) return;
    const row = columns.find((a) => a.id === Number(button.dataset.open));
    followAthlete(row.athlete_id);
    openAssessment(row);
  }));
}
