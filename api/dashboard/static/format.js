// Numbers and text as the dashboard shows them.

export const deg = (v, digits = 0) => {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  const text = Number(v).toFixed(digits);
  return `${Number(text) === 0 ? (0).toFixed(digits) : text}°`;  // never "-0°"
};

// "1 sample", "3 samples".
export const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

// Findings as list items, each distinct message once ("(3 times)" when repeated).
export function findingsHtml(findings) {
  const counts = new Map();
  for (const f of findings) counts.set(f.message, (counts.get(f.message) || 0) + 1);
  return [...counts].map(([message, n]) => `<li>${escapeHtml(message)}${n > 1 ? ` <small>(${n} times)</small>` : ""}</li>`).join("");
}

export const kg = (v) => (v === null || v === undefined ? "bodyweight" : `${Number(v)} kg`);

export const median = (values) => {
  const v = values.filter((x) => x !== null && isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
};

export const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
