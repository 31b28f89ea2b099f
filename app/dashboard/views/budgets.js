import { api } from "../api.js";
import { card, el, panel, pct, table, usd } from "../dom.js";

function meter(share) {
  if (share === null || share === undefined) return el("span", { class: "muted" }, "no budget");
  const width = Math.min(100, share * 100);
  return el("div", { class: "meter", title: pct(share) },
    el("span", { class: share >= 1 ? "over" : "", style: `width:${width}%` }));
}

export async function budgets() {
  const d = await api("/v1/dashboard/budgets");
  const t = d.tenant;
  return el("div", {},
    el("h2", {}, `Budgets: tenant ${t.tenant_id}`),
    el("div", { class: "cards" },
      card(`Spent in ${t.month}`, usd(t.spent_usd), "tenant_spent_usd"),
      card("Budget (its keys', per month)", usd(t.budget_usd), "tenant_budget_usd"),
      card("Burn rate (last 24 h)", `${usd(t.burn_usd_per_hour)}/h`, "tenant_burn"),
      card("Spent by runs this month", usd(t.spent_by_runs_usd), "tenant_runs_usd")),
    panel("API keys", d.keys.length ? table([
      { label: "key", value: (r) => `${r.prefix}…${r.name ? ` (${r.name})` : ""}` },
      { label: "period", value: (r) => r.period || "–" },
      { label: "spent", key: "spent_usd", num: true, value: (r) => usd(r.spent_usd) },
      { label: "budget", key: "budget_usd", num: true, value: (r) => usd(r.budget_usd) },
      { label: "used", value: (r) => meter(r.used_share) },
      { label: "burn / h", key: "burn", num: true, value: (r) => usd(r.burn_usd_per_hour) },
      { label: "hours left", num: true, value: (r) => (r.hours_left == null ? "–" : r.hours_left.toFixed(1)) },
    ], d.keys.map((r) => ({ ...r, __key: r.id }))) : el("p", { class: "muted" }, "this tenant has no API keys")),
  );
}
