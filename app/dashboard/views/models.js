import { api, rangeQuery } from "../api.js";
import { barChart } from "../charts.js";
import { el, ms, num, panel, pct, table, usd } from "../dom.js";

const KINDS = ["error", "invalid_output", "rejected", "lost"];

function columns(first) {
  return [
    ...first,
    { label: "calls", key: "calls", num: true, value: (r) => num(r.calls) },
    { label: "p50 latency", key: "latency_p50_ms", num: true, value: (r) => ms(r.latency_p50_ms) },
    { label: "p95 latency", key: "latency_p95_ms", num: true, value: (r) => ms(r.latency_p95_ms) },
    { label: "p50 TTFT", key: "ttft_p50_ms", num: true, value: (r) => ms(r.ttft_p50_ms) },
    { label: "p95 TTFT", key: "ttft_p95_ms", num: true, value: (r) => ms(r.ttft_p95_ms) },
    { label: "error rate", key: "error_rate", num: true, value: (r) => pct(r.error_rate) },
    ...KINDS.map((k) => ({ label: k, key: `errors_${k}`, num: true, value: (r) => num(r.errors_by_kind[k]) })),
    { label: "spend", key: "spend_usd", num: true, value: (r) => usd(r.spend_usd) },
  ];
}

export async function models(hours) {
  const d = await api(`/v1/dashboard/models?${rangeQuery(hours)}`);
  const byModel = d.models.map((r) => ({ ...r, __key: r.model }));
  const byTier = d.tiers.map((r) => ({ ...r, __key: r.tier }));
  return el("div", {},
    el("h2", {}, "Models and tiers"),
    panel("Per model", table(columns([
      { label: "model", key: "model", value: (r) => r.model },
      { label: "tier", key: "tier", value: (r) => r.tier },
    ]), byModel)),
    panel("Per tier", table(columns([{ label: "tier", key: "tier", value: (r) => r.tier }]), byTier)),
    panel("Spend per model", barChart(d.models.map((r) => ({ label: r.model, value: r.spend_usd, color: r.tier })),
      { format: (v) => `$${v.toFixed(4)}`, title: "spend per model" })),
    panel("p95 latency per model", barChart(d.models.filter((r) => r.latency_p95_ms != null)
      .map((r) => ({ label: r.model, value: r.latency_p95_ms, color: r.tier })),
      { format: (v) => `${v.toFixed(0)} ms`, title: "p95 latency per model" })),
    el("p", { class: "muted" }, "Percentiles come from 10%-wide latency bins: each is the middle of the bin holding the exact value."),
  );
}
