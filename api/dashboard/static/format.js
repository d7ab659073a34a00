// Numbers and text as the dashboard shows them.

export const deg = (v, digits = 0) => {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  const text = Number(v).toFixed(digits);
  return `${Number(text) === 0 ? (0).toFixed(digits) : text}°`;  // never "-0°"
};

export const kg = (v) => (v === null || v === undefined ? "bodyweight" : `${Number(v)} kg`);

export const median = (values) => {
  const v = values.filter((x) => x !== null && isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
};

export const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
