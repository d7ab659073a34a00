// Small canvas charts for the dashboard (no library: works offline, nothing to vendor).
// lineChart: y series against a shared x; xyChart: one path of (x, y) points (tilt vs thigh).

const AXIS = "#5b6675", GRID = "#2a323e", TEXT = "#9aa5b4";
const PAD = { left: 34, right: 8, top: 8, bottom: 20 };

function setup(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 300, height = canvas.clientHeight || 180;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.font = "10px system-ui, sans-serif";
  return { ctx, width, height };
}

function niceStep(span, count) {
  const raw = span / Math.max(count, 1);
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
}

function extent(arrays, fallback) {
  let lo = Infinity, hi = -Infinity;
  for (const values of arrays) for (const v of values) if (v !== null && isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (!isFinite(lo)) return fallback;
  if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
  return [lo, hi];
}

function frame(ctx, box, xr, yr, xLabel, yLabel, integerX) {
  const sx = (x) => box.left + ((x - xr[0]) / (xr[1] - xr[0])) * box.width;
  const sy = (y) => box.top + (1 - (y - yr[0]) / (yr[1] - yr[0])) * box.height;
  ctx.strokeStyle = GRID; ctx.fillStyle = TEXT; ctx.lineWidth = 1;
  const ys = niceStep(yr[1] - yr[0], 4);
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  for (let y = Math.ceil(yr[0] / ys) * ys; y <= yr[1]; y += ys) {
    ctx.beginPath(); ctx.moveTo(box.left, sy(y)); ctx.lineTo(box.left + box.width, sy(y)); ctx.stroke();
    ctx.fillText(String(Math.round(y)), box.left - 4, sy(y));
  }
  const xs = integerX ? Math.max(1, Math.ceil(niceStep(xr[1] - xr[0], 6))) : niceStep(xr[1] - xr[0], 5);
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  for (let x = Math.ceil(xr[0] / xs) * xs; x <= xr[1]; x += xs) {
    ctx.fillText(String(Math.round(x * 10) / 10), sx(x), box.top + box.height + 4);
  }
  ctx.strokeStyle = AXIS; ctx.strokeRect(box.left, box.top, box.width, box.height);
  if (yLabel) { ctx.textAlign = "left"; ctx.textBaseline = "top"; ctx.fillText(yLabel, box.left + 3, box.top + 2); }
  if (xLabel) { ctx.textAlign = "right"; ctx.textBaseline = "bottom"; ctx.fillText(xLabel, box.left + box.width - 3, box.top + box.height - 2); }
  return { sx, sy };
}

function path(ctx, xs, ys, sx, sy, color, width, dots, labels, dash) {
  ctx.strokeStyle = color; ctx.fillStyle = color; ctx.lineWidth = width ?? 2;
  ctx.setLineDash(dash || []);
  ctx.beginPath();
  let pen = false;
  for (let i = 0; i < xs.length; i++) {
    if (ys[i] === null || !isFinite(ys[i])) { pen = false; continue; }
    const X = sx(xs[i]), Y = sy(ys[i]);
    if (pen) ctx.lineTo(X, Y); else ctx.moveTo(X, Y);
    pen = true;
  }
  if ((width ?? 2) > 0) ctx.stroke();
  ctx.setLineDash([]);
  if (dots) for (let i = 0; i < xs.length; i++) {
    if (ys[i] === null || !isFinite(ys[i])) continue;
    ctx.beginPath(); ctx.arc(sx(xs[i]), sy(ys[i]), 4, 0, 2 * Math.PI); ctx.fill();
    if (labels && labels[i]) { ctx.textAlign = "center"; ctx.textBaseline = "bottom"; ctx.fillText(labels[i], sx(xs[i]), sy(ys[i]) - 6); }
  }
}

// opts: {x: [...], series: [{y: [...], color, dots}], xRange, yRange, xLabel, yLabel,
//        spans: [{from, to, color}], marks: [{x, color, label}], emptyText}
// `emptyText`: why there is nothing to draw, written across the chart (an empty chart says why).
export function lineChart(canvas, opts) {
  const { ctx, width, height } = setup(canvas);
  const box = { left: PAD.left, top: PAD.top, width: width - PAD.left - PAD.right, height: height - PAD.top - PAD.bottom };
  const xr = opts.xRange || extent([opts.x], [0, 1]);
  const yr = opts.yRange || extent(opts.series.map((s) => s.y), [0, 1]);
  const pad = (yr[1] - yr[0]) * 0.05;
  const { sx, sy } = frame(ctx, box, xr, [yr[0] - pad, yr[1] + pad], opts.xLabel, opts.yLabel, opts.integerX);
  ctx.save(); ctx.beginPath(); ctx.rect(box.left, box.top, box.width, box.height); ctx.clip();
  for (const span of opts.spans || []) {
    ctx.fillStyle = span.color; ctx.fillRect(sx(span.from), box.top, sx(span.to) - sx(span.from), box.height);
  }
  for (const s of opts.series) path(ctx, s.x || opts.x, s.y, sx, sy, s.color, s.width, s.dots, s.labels);
  for (const mark of opts.marks || []) {
    ctx.strokeStyle = mark.color; ctx.fillStyle = mark.color; ctx.setLineDash([4, 3]);
    ctx.beginPath(); ctx.moveTo(sx(mark.x), box.top); ctx.lineTo(sx(mark.x), box.top + box.height); ctx.stroke();
    ctx.setLineDash([]);
    if (mark.label) { ctx.textAlign = "left"; ctx.textBaseline = "top"; ctx.fillText(mark.label, sx(mark.x) + 3, box.top + 12); }
  }
  ctx.restore();
  if (opts.emptyText) writeAcross(ctx, box, opts.emptyText);
  canvas.dataset.empty = opts.emptyText || "";  // what the chart says, for tests and screen readers
  canvas.setAttribute("aria-description", opts.emptyText || "");
}

// Centred text, wrapped to the box's width.
function writeAcross(ctx, box, text) {
  ctx.save();
  ctx.font = "13px system-ui, sans-serif"; ctx.fillStyle = TEXT; ctx.textAlign = "center"; ctx.textBaseline = "middle";
  const lines = [];
  for (const word of text.split(" ")) {
    const last = lines[lines.length - 1];
    if (last !== undefined && ctx.measureText(`${last} ${word}`).width <= box.width - 16) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  const middle = box.top + box.height / 2, step = 17;
  lines.forEach((line, i) => ctx.fillText(line, box.left + box.width / 2, middle + (i - (lines.length - 1) / 2) * step));
  ctx.restore();
}

// opts: {x, y, split (index where the ascent starts), colors: [descent, ascent], marks: [{x, y, color, label}]}
export function xyChart(canvas, opts) {
  const { ctx, width, height } = setup(canvas);
  const box = { left: PAD.left, top: PAD.top, width: width - PAD.left - PAD.right, height: height - PAD.top - PAD.bottom };
  const xr = extent([opts.x], [0, 1]), yr = extent([opts.y], [0, 1]);
  const px = (xr[1] - xr[0]) * 0.05, py = (yr[1] - yr[0]) * 0.08;
  const { sx, sy } = frame(ctx, box, [xr[0] - px, xr[1] + px], [yr[0] - py, yr[1] + py], opts.xLabel, opts.yLabel);
  const split = Math.min(Math.max(opts.split ?? opts.x.length, 1), opts.x.length);
  // Ascent dashed over the descent: where a clean rep retraces its way down, both show.
  path(ctx, opts.x.slice(0, split), opts.y.slice(0, split), sx, sy, opts.colors[0], 2);
  path(ctx, opts.x.slice(split - 1), opts.y.slice(split - 1), sx, sy, opts.colors[1], 2, false, null, [6, 4]);
  for (const mark of opts.marks || []) {
    ctx.fillStyle = mark.color; ctx.beginPath(); ctx.arc(sx(mark.x), sy(mark.y), 5, 0, 2 * Math.PI); ctx.fill();
    if (mark.label) { ctx.textAlign = "right"; ctx.textBaseline = "bottom"; ctx.fillText(mark.label, sx(mark.x) - 6, sy(mark.y) - 4); }
  }
}
