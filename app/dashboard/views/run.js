import { api } from "../api.js";
import { card, el, ms, num, panel, table, usd } from "../dom.js";

function attemptsTable(calls) {
  const rows = calls.flatMap((c) => c.attempts.map((a) => ({ ...a, __key: a.id })));
  return table([
    { label: "node", value: (a) => a.node || "" },
    { label: "model", key: "model", value: (a) => a.model },
    { label: "tier", value: (a) => a.tier },
    { label: "status", key: "status", value: (a) => el("span", { class: `status-${a.status}` }, a.status) },
    { label: "in tok", num: true, value: (a) => num(a.prompt_tokens) },
    { label: "out tok", num: true, value: (a) => num(a.completion_tokens) },
    { label: "cost", key: "cost", num: true, value: (a) => usd(a.cost_usd) },
    { label: "latency", num: true, value: (a) => ms(a.latency_ms) },
    { label: "fallback of", value: (a) => (a.fallback_of ? a.fallback_of.slice(0, 8) : "") },
    { label: "route and reason", wrap: true, value: (a) => `${a.requested} → ${a.model}: ${a.routing_reason}${a.error ? ` (error: ${a.error})` : ""}` },
  ], rows);
}

function stepView(step) {
  const calls = step.tasks.flatMap((t) => t.calls);
  return el("div", { class: "step", "data-step": String(step.step) },
    el("div", {}, el("strong", {}, `step ${step.step}`), ` ${step.nodes.join(", ")} `,
      el("span", { class: "muted" }, `${step.duration_ms == null ? "" : ms(step.duration_ms)} ${usd(step.cost_usd)}`)),
    step.diff ? el("div", { class: "muted" }, `changed: ${Object.keys(step.diff).join(", ") || "nothing"}`) : null,
    step.divergence ? el("div", { class: "status-failed" }, `divergence: ${JSON.stringify(step.divergence)}`) : null,
    calls.length ? attemptsTable(calls) : null);
}

async function branch(runId, kind, body, out) {
  out.textContent = `${kind}…`;
  try {
    const made = await api(`/v1/runs/${runId}/${kind}`, { method: "POST", body });
    out.replaceChildren(`${kind} queued: `, el("a", { href: `#/run/${made.id}`, id: `${kind}-link` }, made.id));
  } catch (error) {
    out.textContent = `${kind} refused: ${error.message}`;
  }
}

export async function run(runId) {
  const [info, timeline, checkpoints] = await Promise.all([
    api(`/v1/runs/${runId}`), api(`/v1/runs/${runId}/timeline`), api(`/v1/runs/${runId}/checkpoints`),
  ]);
  const out = el("span", { id: "action-result" });
  const steps = checkpoints.filter((c) => c.step >= 0).map((c) => c.step);
  const stepSelect = el("select", { id: "fork-step" }, steps.map((s) => el("option", { value: String(s) }, `step ${s}`)));
  const node = el("input", { id: "fork-node", placeholder: "node (optional)" });
  const tier = el("select", { id: "fork-tier" }, ["", "edge", "mid", "frontier"].map((t) => el("option", { value: t }, t || "same models")));
  const fork = () => {
    const body = { step: Number(stepSelect.value) };
    if (node.value && tier.value) body.model_overrides = { [node.value]: { tier: tier.value } };
    branch(runId, "fork", body, out);
  };
  const t = timeline.totals;
  return el("div", {},
    el("h2", {}, `Run ${runId}`),
    el("div", { class: "cards" },
      card("Graph", `${info.graph}@${info.version}`, "graph"),
      card("Status", info.status, "status"),
      card("Cost", usd(info.cost_usd), "cost_usd"),
      card("Calls / attempts", `${t.calls} / ${t.attempts}`, "attempts"),
      card("Tokens in / out", `${num(t.prompt_tokens)} / ${num(t.completion_tokens)}`, "tokens")),
    panel("Actions", el("div", { class: "actions" },
      el("button", { id: "replay", onclick: () => branch(runId, "replay", {}, out) }, "Replay ($0)"),
      el("span", { class: "muted" }, "fork from"), stepSelect, node, tier,
      el("button", { id: "fork", onclick: fork }, "Fork (live)"), out),
      info.replay ? el("p", {}, `replay verdict: ${JSON.stringify(info.replay)}`) : null,
      info.error ? el("p", { class: "status-failed" }, info.error) : null),
    panel("Timeline", el("div", { id: "timeline" }, timeline.steps.map(stepView))),
    panel("Lifecycle", table([
      { label: "#", num: true, value: (e) => e.seq },
      { label: "at", value: (e) => e.at.replace("T", " ").slice(0, 23) },
      { label: "event", value: (e) => e.kind },
      { label: "node", value: (e) => e.node || "" },
    ], timeline.lifecycle)));
}
