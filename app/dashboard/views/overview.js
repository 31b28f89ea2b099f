import { api, rangeQuery } from "../api.js";
import { lineChart } from "../charts.js";
import { card, el, num, panel, pct, usd } from "../dom.js";

export async function overview(hours) {
  const d = await api(`/v1/dashboard/overview?${rangeQuery(hours)}`);
  return el("div", {},
    el("h2", {}, "Overview"),
    el("div", { class: "cards" },
      card("Requests", num(d.requests), "requests"),
      card("Successful requests", num(d.successful_requests), "successful_requests"),
      card("Runs", num(d.runs), "runs"),
      card("Spend", usd(d.spend_usd), "spend_usd"),
      card("Cost per successful request", usd(d.cost_per_success_usd), "cost_per_success_usd"),
      card("Saved vs all-frontier", usd(d.savings_usd), "savings_usd"),
      card("Error rate (attempts)", pct(d.error_rate), "error_rate"),
      card("Fallback rate", pct(d.fallback_rate), "fallback_rate"),
      card("Cache hit rate", pct(d.cache_hit_rate), "cache_hit_rate"),
      card("Saved by the cache", usd(d.cache_saved_usd), "cache_saved_usd"),
    ),
    panel("Spend over time",
      lineChart([{ name: "spend", points: d.series.map((p) => ({ at: p.at, value: p.spend_usd })) }],
        { range: d.range, format: (v) => `$${v.toFixed(4)}`, title: "spend" })),
    panel("Calls and errors over time",
      lineChart([
        { name: "calls", points: d.series.map((p) => ({ at: p.at, value: p.calls })) },
        { name: "errors", points: d.series.map((p) => ({ at: p.at, value: p.errors })) },
      ], { range: d.range, format: (v) => v.toFixed(0), title: "calls" })),
    panel("Runs by status",
      el("div", { class: "cards" }, Object.entries(d.runs_by_status).map(([s, n]) => card(s, num(n), `runs_${s}`)))),
  );
}
