import { api, rangeQuery } from "../api.js";
import { stackedBars } from "../charts.js";
import { el, num, panel, table } from "../dom.js";

const TIERS = ["edge", "mid", "frontier"];

export async function classes(hours) {
  const d = await api(`/v1/dashboard/task-classes?${rangeQuery(hours)}`);
  const charts = d.classes.map((c) => {
    const buckets = new Map();
    for (const p of d.mix.filter((m) => m.task_class === c.task_class)) {
      const b = buckets.get(p.at) || { at: p.at, parts: {} };
      b.parts[p.tier] = (b.parts[p.tier] || 0) + p.calls;
      buckets.set(p.at, b);
    }
    const tiers = [...new Set([...TIERS, ...Object.keys(c.requests_by_tier)])].filter((t) => c.requests_by_tier[t]);
    return panel(`Routing mix: ${c.task_class}`,
      stackedBars([...buckets.values()], tiers, { range: d.range, title: `mix ${c.task_class}` }));
  });
  return el("div", {},
    el("h2", {}, "Task classes"),
    panel("Requests per tier", table([
      { label: "task class", key: "task_class", value: (r) => r.task_class },
      { label: "requests", key: "requests", num: true, value: (r) => num(r.requests) },
      ...TIERS.map((t) => ({ label: t, key: t, num: true, value: (r) => num(r.requests_by_tier[t] || 0) })),
    ], d.classes.map((r) => ({ ...r, __key: r.task_class })))),
    ...charts,
    panel("Quality from feedback", d.quality.length ? table([
      { label: "task class", value: (r) => r.task_class },
      { label: "model", value: (r) => r.model },
      { label: "source", value: (r) => r.source },
      { label: "events", key: "events", num: true, value: (r) => num(r.events) },
      { label: "mean score", key: "mean_score", num: true, value: (r) => r.mean_score.toFixed(3) },
    ], d.quality.map((r) => ({ ...r, __key: `${r.task_class}/${r.model}/${r.source}` })))
      : el("p", { class: "muted" }, "no feedback in this range")),
  );
}
