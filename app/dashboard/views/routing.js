import { api } from "../api.js";
import { el, panel, table } from "../dom.js";

export async function routing() {
  const d = await api("/v1/routing/stats");
  const cells = d.cells;
  return el("div", {},
    el("h2", {}, `Learned routing table (${cells.length} cells with feedback)`),
    panel(null, cells.length ? table([
      { label: "scope", value: (r) => r.scope },
      { label: "class", value: (r) => r.task_class },
      { label: "cluster", value: (r) => r.cluster },
      { label: "arm", key: "arm", value: (r) => r.arm },
      { label: "condition", value: (r) => r.condition || "-" },
      { label: "prior band", value: (r) => r.band },
      { label: "events", key: "events", num: true, value: (r) => r.events },
      { label: "by source", value: (r) => Object.entries(r.events_by_source).map(([s, n]) => `${s} ${n}`).join(", ") },
      { label: "success", key: "success", num: true, value: (r) => r.success.toFixed(2) },
      { label: "prior", num: true, value: (r) => r.prior.toFixed(2) },
    ], cells.map((r, i) => ({ ...r, __key: String(i) })))
      : el("p", { class: "muted" }, "no feedback yet: auto routes on the classifier's predictions alone")),
  );
}
