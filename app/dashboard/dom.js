// Small DOM and number helpers: text always goes in as text, never as HTML.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const usd = (v) => (v === null || v === undefined ? "–" : `$${Number(v).toFixed(v !== 0 && Math.abs(v) < 0.01 ? 6 : 4)}`);
export const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`);
export const ms = (v) => (v === null || v === undefined ? "–" : `${Number(v).toFixed(v < 10 ? 1 : 0)} ms`);
export const num = (v) => (v === null || v === undefined ? "–" : Number(v).toLocaleString("en-US"));

export function card(label, value, figure) {
  return el("div", { class: "card" },
    el("div", { class: "label" }, label),
    el("div", { class: "value", "data-figure": figure }, value));
}

export function table(columns, rows) {
  const head = el("tr", {}, columns.map((c) => el("th", { class: c.num ? "num" : "" }, c.label)));
  const body = rows.map((row) => el("tr", { "data-row": row.__key ?? null },
    columns.map((c) => {
      const value = c.value(row);
      return el("td", { class: c.num ? "num" : c.wrap ? "wrap" : "", "data-col": c.key ?? null },
        value instanceof Node ? value : String(value));
    })));
  return el("table", {}, el("thead", {}, head), el("tbody", {}, body));
}

export function panel(title, ...children) {
  return el("section", { class: "panel" }, title ? el("h2", {}, title) : null, ...children);
}
