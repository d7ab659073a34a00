// Setup, athletes: create, rename, lengths (femur, shank: for an assessment's box height) and
// a note; archive (every stored set kept) or delete (asked first; stored sets are kept unless
// the coach says to delete them too); swap a pair of sensors put on the wrong way round.
import { once } from "./busy.js";
import { ask } from "./confirm.js";
import { escapeHtml } from "./format.js";
import { allPages, api } from "./http.js";
import { $, state } from "./state.js";
import { placements } from "./vocabulary.js";

let showArchived = false;

// Tells the rest of the page (the athlete menu) that the athletes changed.
export function athletesChanged() {
  window.dispatchEvent(new CustomEvent("winkwatch:athletes-changed"));
}

let drawn = 0;  // the newest redraw: an older one answered late does not overwrite it

// Redraws the list. A form the coach is filling (the add form, an athlete being edited) keeps
// what is typed in it: a redraw can come at any time (the athlete menu loading after sign-in,
// a sensor paired), and used to wipe a half-typed athlete.
export async function renderAthletes() {
  const box = $("setup-athletes");
  const turn = ++drawn;
  try {
    const [active, archived, sensors] = await Promise.all([
      allPages("/athletes"), showArchived ? allPages("/athletes?archived=true") : [], allPages("/sensors")]);
    if (turn !== drawn) return;
    const typed = typedForms(box);
    box.innerHTML = formHtml(null) + `<ul class="list athletes">${active.map((a) => athleteHtml(a, sensors)).join("")
      || '<li class="muted">No athletes yet: add the first one above.</li>'}</ul>`
      + `<label class="muted"><input type="checkbox" id="show-archived" ${showArchived ? "checked" : ""}> Show archived athletes</label>`
      + (showArchived ? `<ul class="list athletes archived">${archived.map((a) => archivedHtml(a)).join("") || '<li class="muted">None archived.</li>'}</ul>` : "");
    restoreTyped(box, typed);
  } catch (error) {
    if (turn === drawn) box.innerHTML = `<p class="error">${escapeHtml(error.message)}</p>`;
  }
}

// The open forms and what is typed in them, by athlete id ("new": the add form); a form saved
// or cancelled is marked closed and not kept.
function typedForms(box) {
  return [...box.querySelectorAll("form.athlete-form:not([data-closed])")].map((form) => ({
    id: form.dataset.id,
    fields: [...form.elements].filter((field) => field.name).map((field) => [field.name, field.value]),
    focused: form.contains(document.activeElement) ? document.activeElement.name : "",
  }));
}

function restoreTyped(box, typed) {
  for (const { id, fields, focused } of typed) {
    let form = box.querySelector(`form.athlete-form[data-id="${id}"]`);
    if (!form) {
      const item = box.querySelector(`ul.athletes:not(.archived) li[data-athlete="${id}"]`);
      if (!item) continue;  // archived or deleted meanwhile
      item.innerHTML = formHtml({ id: Number(id) });
      form = item.querySelector("form");
    }
    for (const [name, typedValue] of fields) form.elements[name].value = typedValue;
    if (focused) form.elements[focused].focus();
  }
}

const capitalised = (text) => text.charAt(0).toUpperCase() + text.slice(1);
const value = (v) => (v === null || v === undefined ? "" : escapeHtml(v));

function formHtml(athlete) {
  const id = athlete ? athlete.id : "new";
  return `<form class="athlete-form" data-id="${id}">`
    + `<input name="name" required maxlength="200" placeholder="Name" aria-label="name" value="${value(athlete?.name)}">`
    + '<div class="row">'
    + `<input name="femur_cm" type="number" inputmode="decimal" min="15" max="80" step="0.5" placeholder="Femur cm" aria-label="femur length in cm" value="${value(athlete?.femur_cm)}">`
    + `<input name="shank_cm" type="number" inputmode="decimal" min="15" max="80" step="0.5" placeholder="Shank cm" aria-label="shank length in cm" value="${value(athlete?.shank_cm)}">`
    + "</div>"
    + `<textarea name="notes" rows="2" maxlength="10000" placeholder="Note (injuries, cues, goals)" aria-label="note">${value(athlete?.notes)}</textarea>`
    + `<div class="row"><button type="submit">${athlete ? "Save" : "Add athlete"}</button>`
    + (athlete ? '<button type="button" class="secondary" data-act="cancel">Cancel</button>' : "") + "</div>"
    + '<p class="error" role="alert"></p></form>';
}

function wornHtml(athlete, sensors) {
  const worn = sensors.filter((s) => s.athlete_id === athlete.id);
  const text = placements().map((p) => {
    const s = worn.find((x) => x.placement === p.value);
    return `${escapeHtml(capitalised(p.label))}: ${s ? escapeHtml(s.name || s.address) : "none"}`;
  }).join(" · ");
  return { text, pair: worn.length === placements().length };
}

function athleteHtml(a, sensors) {
  const worn = wornHtml(a, sensors);
  const lengths = [a.femur_cm && `femur ${a.femur_cm} cm`, a.shank_cm && `shank ${a.shank_cm} cm`].filter(Boolean).join(", ");
  return `<li data-athlete="${a.id}"><b>${escapeHtml(a.name)}</b>`
    + `<small>${lengths || "no lengths yet"}${a.notes ? ` · ${escapeHtml(a.notes)}` : ""}</small>`
    + `<small>${worn.text}</small>`
    + '<div class="row actions">'
    + '<button type="button" class="secondary" data-act="edit">Edit</button>'
    + (worn.pair ? '<button type="button" class="secondary" data-act="swap">Swap sensors</button>' : "")
    + '<button type="button" class="secondary" data-act="archive">Archive</button>'
    + '<button type="button" class="secondary danger" data-act="delete">Delete</button></div></li>';
}

function archivedHtml(a) {
  return `<li data-athlete="${a.id}" data-name="${escapeHtml(a.name)}"><b>${escapeHtml(a.name)}</b><small>archived, stored sets kept</small>`
    + '<div class="row actions"><button type="button" class="secondary" data-act="restore">Restore</button>'
    + '<button type="button" class="secondary danger" data-act="delete">Delete</button></div></li>';
}

function formBody(form) {
  const data = new FormData(form);
  const number = (name) => (data.get(name) === "" ? null : Number(data.get(name)));
  return { name: data.get("name").trim(), notes: data.get("notes"), femur_cm: number("femur_cm"), shank_cm: number("shank_cm") };
}

async function submit(form) {
  const body = formBody(form);
  const error = form.querySelector(".error");
  try {
    if (form.dataset.id === "new") {
      const made = await api("/athletes", { method: "POST", json: body });
      state.athleteId = state.athleteId || made.id;
    } else {
      await api(`/athletes/${form.dataset.id}`, { method: "PATCH", json: body });
    }
  } catch (problem) {
    error.textContent = problem.message;
    return;
  }
  if (form.dataset.id === "new") form.reset(); else form.dataset.closed = "";
  athletesChanged();  // the Setup view redraws the list on this event
}

async function archive(id, name) {
  const choice = await ask(`Archive ${name}?`,
    `${name} leaves the athlete lists. Every stored set is kept, and you can restore ${name} later. Their sensors are unassigned.`,
    [{ label: "Archive", value: "archive", primary: true }]);
  if (choice) await act(() => api(`/athletes/${id}/archive`, { method: "PUT", json: { archived: true } }));
}

async function remove(id, name) {
  if (!await ask(`Delete ${name}?`, "This cannot be undone.", [{ label: "Delete", value: "delete", danger: true }])) return;
  try {
    await api(`/athletes/${id}`, { method: "DELETE", raw: true });
  } catch (error) {
    if (error.status !== 409) { $("setup-error").textContent = error.message; return; }
    // The server refused: the athlete has stored sets. Keep them unless told otherwise.
    const choice = await ask(`${name} has stored sets`, `${error.message}.`, [
      { label: "Archive instead (keep the sets)", value: "archive", primary: true },
      { label: `Delete ${name} and the sets`, value: "purge", danger: true }]);
    if (choice === "archive") await act(() => api(`/athletes/${id}/archive`, { method: "PUT", json: { archived: true } }));
    if (choice === "purge") await act(() => api(`/athletes/${id}?delete_sets=true`, { method: "DELETE", raw: true }));
    return;
  }
  athletesChanged();  // the Setup view redraws the list on this event
}

async function act(request) {
  $("setup-error").textContent = "";
  try { await request(); } catch (error) { $("setup-error").textContent = error.message; }
  athletesChanged();  // the Setup view redraws the list on this event
}

export function wireAthletes() {
  const box = $("setup-athletes");
  box.addEventListener("submit", (event) => {
    event.preventDefault();
    once(event.submitter || event.target.querySelector("button[type=submit]"), () => submit(event.target));
  });
  box.addEventListener("change", (event) => {
    if (event.target.id === "show-archived") { showArchived = event.target.checked; renderAthletes(); }
  });
  box.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-act]");
    if (!button) return;
    const item = button.closest("li[data-athlete]");
    const id = item ? Number(item.dataset.athlete) : null;
    const name = item ? item.querySelector("b").textContent : "";
    const act_ = button.dataset.act;
    if (act_ === "cancel") { button.closest("form").dataset.closed = ""; renderAthletes(); return; }
    if (act_ === "edit") {
      const athlete = await api(`/athletes/${id}`);
      item.innerHTML = formHtml(athlete);
      item.querySelector("input[name=name]").focus();
    }
    if (act_ === "swap") await once(button, () => act(() => api("/sensors/swap", { method: "POST", json: { athlete_id: id } })));
    if (act_ === "archive") await archive(id, name);
    if (act_ === "restore") await act(() => api(`/athletes/${id}/archive`, { method: "PUT", json: { archived: false } }));
    if (act_ === "delete") await remove(id, name);
  });
}
