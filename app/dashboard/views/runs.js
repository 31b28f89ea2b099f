import { api } from "../api.js";
import { el, panel, table, usd } from "../dom.js";

const STATUSES = ["", "queued", "running", "succeeded", "failed", "cancelled", "budget_exceeded"];

function toIso(local) {
  return local ? new Date(local).toISOString() : "";
}

export async function runs(params) {
  const query = new URLSearchParams();
  for (const name of ["status", "graph", "since", "until", "cursor"]) {
    if (params.get(name)) query.set(name, params.get(name));
  }
  query.set("limit", "50");
  const page = await api(`/v1/runs?${query}`);
  const status = el("select", { id: "filter-status" }, STATUSES.map((s) =>
    el("option", { value: s, ...(s === (params.get("status") || "") ? { selected: "" } : {}) }, s || "any")));
  const graph = el("input", { id: "filter-graph", value: params.get("graph") || "", placeholder: "any graph" });
  const since = el("input", { id: "filter-since", type: "datetime-local" });
  const until = el("input", { id: "filter-until", type: "datetime-local" });
  const apply = (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    if (status.value) next.set("status", status.value);
    if (graph.value) next.set("graph", graph.value);
    if (since.value) next.set("since", toIso(since.value));
    if (until.value) next.set("until", toIso(until.value));
    window.location.hash = `#/runs?${next}`;
  };
  const filters = el("form", { class: "filters", id: "run-filters", onsubmit: apply },
    el("label", {}, "status", status), el("label", {}, "graph", graph),
    el("label", {}, "created after", since), el("label", {}, "created before", until),
    el("button", { type: "submit" }, "Filter"));
  const rows = page.items.map((r) => ({ ...r, __key: r.id }));
  const more = page.next_cursor
    ? el("a", { href: `#/runs?${new URLSearchParams({ ...Object.fromEntries(params), cursor: page.next_cursor })}` }, "older runs →")
    : null;
  return el("div", {},
    el("h2", {}, "Runs"),
    filters,
    panel(null, rows.length ? table([
      { label: "run", key: "id", value: (r) => el("a", { href: `#/run/${r.id}` }, r.id.slice(0, 8)) },
      { label: "graph", key: "graph", value: (r) => `${r.graph}@${r.version}` },
      { label: "status", key: "status", value: (r) => el("span", { class: `status-${r.status}` }, r.status) },
      { label: "created", value: (r) => r.created_at.replace("T", " ").slice(0, 19) },
      { label: "cost", key: "cost", num: true, value: (r) => usd(r.cost_usd) },
      { label: "replay of", value: (r) => (r.replay_of ? el("a", { href: `#/run/${r.replay_of}` }, r.replay_of.slice(0, 8)) : "") },
    ], rows) : el("p", { class: "muted", id: "no-runs" }, "no runs match")),
    more);
}
