// The dashboard's router: one view per hash route, data from /v1 with the page's API key.
import { apiKey, ApiError, setApiKey } from "./api.js";
import { budgets } from "./views/budgets.js";
import { classes } from "./views/classes.js";
import { models } from "./views/models.js";
import { overview } from "./views/overview.js";
import { routing } from "./views/routing.js";
import { run } from "./views/run.js";
import { runs } from "./views/runs.js";

const view = document.getElementById("view");
const status = document.getElementById("status");
const range = document.getElementById("range");

function route() {
  const [path, query] = (window.location.hash.slice(1) || "/overview").split("?");
  const parts = path.split("/").filter(Boolean);
  return { name: parts[0] || "overview", arg: parts[1], params: new URLSearchParams(query || "") };
}

async function render() {
  const { name, arg, params } = route();
  const hours = Number(range.value);
  document.querySelectorAll("[data-nav]").forEach((a) =>
    a.classList.toggle("active", a.dataset.nav === (name === "run" ? "runs" : name)));
  const views = {
    overview: () => overview(hours), models: () => models(hours), classes: () => classes(hours),
    budgets: () => budgets(), runs: () => runs(params), run: () => run(arg), routing: () => routing(),
  };
  const make = views[name] || views.overview;
  view.setAttribute("aria-busy", "true");
  status.textContent = "";
  try {
    const content = await make();
    view.replaceChildren(content);
    view.dataset.loaded = name;
  } catch (error) {
    view.replaceChildren();
    view.dataset.loaded = "error";
    status.textContent = error instanceof ApiError && error.status === 401
      ? "This service needs an API key: enter one above."
      : `Could not load: ${error.message}`;
  } finally {
    view.removeAttribute("aria-busy");
  }
}

document.getElementById("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("api-key");
  setApiKey(input.value.trim());
  input.value = "";
  render();
});
document.getElementById("api-key").placeholder = apiKey() ? "key set (enter another)" : "API key (rg-...)";
range.addEventListener("change", render);
window.addEventListener("hashchange", render);
render();
