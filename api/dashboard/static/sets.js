// The Sets view: the athlete's sets, one set's reps, summary, findings and exports.
import { escapeHtml, findingsHtml, kg } from "./format.js";
import { allPages, pages, saveFile } from "./http.js";
import { renderRepTable, summaryHtml } from "./reps.js";
import { $, state } from "./state.js";
import { variantLabel } from "./vocabulary.js";

export async function renderSets() {
  const list = $("set-list");
  try {
    const listed = await pages(`/sets?athlete_id=${state.athleteId}`, 2);
    const sets = listed.items.sort((a, b) => b.id - a.id);
    list.innerHTML = (sets.map((s) => `<li data-set="${s.id}">${variantLabel(s.variant)}, ${kg(s.load_kg)}`
      + `<small>${new Date(s.started_at).toLocaleString()} · ${s.status} · ${Math.round(s.recorded_s)} s recorded`
      + `${s.started_without && s.started_without.length ? ` · <span class="warning">started without the ${s.started_without.join(" and ")} sensor</span>` : ""}</small></li>`).join("")
      || '<li class="muted">No sets yet.</li>')
      + (listed.more ? `<li class="muted" data-more>Only the newest ${sets.length} sets are listed.</li>` : "");
    list.querySelectorAll("li[data-set]").forEach((item) => item.addEventListener("click", () =>
      openSet(sets.find((s) => s.id === Number(item.dataset.set)))));
  } catch (error) {
    list.innerHTML = `<li class="error">${escapeHtml(error.message)}</li>`;
  }
}

async function openSet(set) {
  $("set-detail").hidden = false;
  $("set-title").textContent = `${variantLabel(set.variant)}, ${kg(set.load_kg)}, ${new Date(set.started_at).toLocaleString()}`;
  $("export-reps").setAttribute("href", `/export/reps.csv?set_id=${set.id}`);
  $("export-raw").setAttribute("href", `/sets/${set.id}/raw.zip`);
  $("set-findings").innerHTML = findingsHtml(set.findings);
  const reps = (await allPages(`/reps?set_id=${set.id}`)).sort((a, b) => a.rep - b.rep);
  const entries = reps.map((r) => ({ source: "stored", set_id: set.id, set_key: set.set_key, metrics: r }));
  renderRepTable($("set-reps"), entries);
  $("set-summary").innerHTML = summaryHtml(reps);
  $("set-detail").scrollIntoView({ behavior: "smooth" });
}

// Exports need the token in a header, so they are fetched and handed to the browser as a file.
async function download(anchor) {
  try {
    await saveFile(anchor.getAttribute("href"));
  } catch (error) {
    $("set-findings").innerHTML = `<li class="error">Export failed: ${escapeHtml(error.message)}</li>`;
  }
}

export function wireSets() {
  document.querySelectorAll("a[data-download]").forEach((a) => a.addEventListener("click", (event) => { event.preventDefault(); download(a); }));
}
