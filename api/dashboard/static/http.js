// The API with the signed-in token: JSON in and out, readable errors, paged lists.
import { state } from "./state.js";

export class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

export async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${state.token}`, ...(options.headers || {}) };
  if (options.json !== undefined) { headers["Content-Type"] = "application/json"; options.body = JSON.stringify(options.json); }
  let response;
  try {
    response = await fetch(path, { ...options, headers });
  } catch (error) {
    // A network error (a phone's network change aborts every request in flight): a read is
    // tried once more; a write is not (it may have been done).
    if ((options.method || "GET").toUpperCase() !== "GET") throw error;
    response = await fetch(path, { ...options, headers });
  }
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
    if (Array.isArray(detail)) detail = detail.map((problem) => problem.msg).join("; ");  // 422
    if (typeof detail !== "string") detail = JSON.stringify(detail);
    throw new ApiError(response.status, detail);
  }
  return options.raw ? response : response.json();
}

// A list's first `maxPages` pages of 500 (newest first): its items, and `more` when the list
// goes on past them (a view drawing them says so).
export async function pages(path, maxPages = 10) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page++) {
    const sep = path.includes("?") ? "&" : "?";
    const body = await api(`${path}${sep}limit=500${cursor ? `&cursor=${cursor}` : ""}`);
    items.push(...body.items);
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  return { items, more: Boolean(cursor) };
}

export async function allPages(path, maxPages = 10) {
  return (await pages(path, maxPages)).items;
}

export function permissionMessage(error) {
  return error.status === 403
    ? "This token is read-only. Start and stop sets with an admin token (winkwatch token create NAME --role admin)."
    : error.message;
}

// A file from the API (it needs the token in a header): its blob and the name the server gives it.
export async function fetchFile(path, fallbackName = "export") {
  const response = await api(path, { raw: true });
  const disposition = response.headers.get("Content-Disposition") || "";
  const name = (disposition.match(/filename="([^"]+)"/) || [null, fallbackName])[1];
  return { blob: await response.blob(), name };
}

// Hand a file from the API to the browser as a download.
export async function saveFile(path, fallbackName) {
  const { blob, name } = await fetchFile(path, fallbackName);
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url; link.download = name;
  document.body.appendChild(link); link.click(); link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return name;
}
