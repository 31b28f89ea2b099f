// Charts drawn as inline SVG: a line chart over time, stacked bars, horizontal bars.
import { el } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
const PALETTE = ["#2f6fd6", "#c8553d", "#2a9d8f", "#e9a23b", "#7b5ea7", "#5c946e", "#d16ba5", "#8d6e63"];
export const TIER_COLORS = { edge: "#2a9d8f", mid: "#e9a23b", frontier: "#c8553d" };

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

export function colorFor(name, index) {
  return TIER_COLORS[name] || PALETTE[index % PALETTE.length];
}

function legend(names) {
  return el("div", { class: "legend" }, names.map((n, i) =>
    el("span", {}, el("span", { class: "swatch", style: `background:${colorFor(n, i)}` }), n)));
}

function shortTime(at, unit) {
  const d = new Date(at);
  return unit === "day" ? d.toISOString().slice(5, 10) : d.toISOString().slice(11, 16);
}

const W = 720, H = 200, PAD = { l: 56, r: 10, t: 10, b: 24 };

function frame(max, format) {
  const g = svg("g");
  for (let i = 0; i <= 4; i++) {
    const y = PAD.t + (H - PAD.t - PAD.b) * (1 - i / 4);
    g.append(svg("line", { x1: PAD.l, x2: W - PAD.r, y1: y, y2: y, stroke: "#eef0f3" }));
    g.append(svg("text", { x: PAD.l - 6, y: y + 4, "text-anchor": "end" }, format((max * i) / 4)));
  }
  return g;
}

// Every bucket start (ms) of a range {since, until, bucket}: the x axis, empty buckets too.
export function bucketsOf(range) {
  const step = range.bucket === "day" ? 86400000 : 3600000;
  const out = [];
  for (let t = Date.parse(range.since); t < Date.parse(range.until) && out.length < 1000; t += step) {
    out.push(range.bucket === "day" ? t - (t % 86400000) : t);
  }
  return [...new Set(out)];
}

// series: [{name, points: [{at, value}]}] over the range's buckets (missing ones are 0).
export function lineChart(series, { range, format = (v) => v.toFixed(2), title = "" } = {}) {
  const unit = range.bucket;
  const xs = bucketsOf(range);
  const max = Math.max(1e-9, ...series.flatMap((s) => s.points.map((p) => p.value)));
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", "aria-label": title });
  chart.append(frame(max, format));
  const x = (i) => PAD.l + (xs.length <= 1 ? (W - PAD.l - PAD.r) / 2 : (i * (W - PAD.l - PAD.r)) / (xs.length - 1));
  const y = (v) => PAD.t + (H - PAD.t - PAD.b) * (1 - v / max);
  series.forEach((s, si) => {
    const byAt = new Map(s.points.map((p) => [Date.parse(p.at), p.value]));
    const coords = xs.map((at, i) => [x(i), y(byAt.get(at) || 0)]);
    const color = colorFor(s.name, si);
    chart.append(svg("polyline", { points: coords.map((c) => c.join(",")).join(" "), fill: "none", stroke: color, "stroke-width": 2 }));
    xs.forEach((at, i) => {
      if (!byAt.has(at)) return;
      chart.append(svg("circle", { cx: coords[i][0], cy: coords[i][1], r: 2.5, fill: color },
        svg("title", {}, `${s.name} ${new Date(at).toISOString()}: ${format(byAt.get(at))}`)));
    });
  });
  const step = Math.max(1, Math.ceil(xs.length / 8));
  xs.forEach((at, i) => {
    const anchor = x(i) > W - 40 ? "end" : "middle"; // the last label stays inside
    if (i % step === 0) chart.append(svg("text", { x: x(i), y: H - 6, "text-anchor": anchor }, shortTime(at, unit)));
  });
  return el("figure", { class: "chart", "data-chart": title }, chart, legend(series.map((s) => s.name)));
}

// buckets: [{at, parts: {category: value}}]: one stacked bar per bucket of the range.
export function stackedBars(given, categories, { range, title = "" } = {}) {
  const unit = range.bucket;
  const byAt = new Map(given.map((b) => [Date.parse(b.at), b]));
  const buckets = bucketsOf(range).map((at) => byAt.get(at) || { at, parts: {} });
  const totals = buckets.map((b) => categories.reduce((sum, c) => sum + (b.parts[c] || 0), 0));
  const max = Math.ceil(Math.max(1, ...totals) / 4) * 4; // whole numbers on the axis
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", "aria-label": title });
  chart.append(frame(max, (v) => v.toFixed(0)));
  const slot = (W - PAD.l - PAD.r) / Math.max(1, buckets.length);
  const scale = (H - PAD.t - PAD.b) / max;
  buckets.forEach((b, i) => {
    let top = H - PAD.b;
    categories.forEach((c, ci) => {
      const h = (b.parts[c] || 0) * scale;
      if (h <= 0) return;
      top -= h;
      chart.append(svg("rect", { x: PAD.l + i * slot + slot * 0.15, y: top, width: slot * 0.7, height: h, fill: colorFor(c, ci) },
        svg("title", {}, `${c} ${b.at}: ${b.parts[c]}`)));
    });
    if (i % Math.max(1, Math.ceil(buckets.length / 8)) === 0) {
      chart.append(svg("text", { x: PAD.l + (i + 0.5) * slot, y: H - 6, "text-anchor": "middle" }, shortTime(b.at, unit)));
    }
  });
  return el("figure", { class: "chart", "data-chart": title }, chart, legend(categories));
}

// rows: [{label, value}] as horizontal bars.
export function barChart(rows, { format = (v) => String(v), title = "" } = {}) {
  const max = Math.max(1e-9, ...rows.map((r) => r.value));
  const rowH = 22, labelW = 150, width = 720;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${rows.length * rowH + 4}`, width: "100%", role: "img", "aria-label": title });
  rows.forEach((r, i) => {
    const w = ((width - labelW - 90) * r.value) / max;
    chart.append(svg("text", { x: labelW - 6, y: i * rowH + 15, "text-anchor": "end" }, r.label));
    chart.append(svg("rect", { x: labelW, y: i * rowH + 4, width: Math.max(0, w), height: rowH - 8, fill: colorFor(r.color || r.label, i) }));
    chart.append(svg("text", { x: labelW + w + 6, y: i * rowH + 15 }, format(r.value)));
  });
  return el("figure", { class: "chart", "data-chart": title }, chart);
}
