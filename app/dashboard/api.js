// Calls the service's JSON with the API key the page was given (kept in this browser).
const KEY = "routegraph.apiKey";

export function apiKey() {
  return window.localStorage.getItem(KEY) || "";
}

export function setApiKey(value) {
  if (value) window.localStorage.setItem(KEY, value);
  else window.localStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(`${status}: ${detail}`);
    this.status = status;
  }
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { accept: "application/json" };
  const key = apiKey();
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    throw new ApiError(response.status, (data && (data.detail || data.title)) || response.statusText);
  }
  return data;
}

export function rangeQuery(hours) {
  const until = new Date();
  const since = new Date(until.getTime() - hours * 3600 * 1000);
  return `since=${encodeURIComponent(since.toISOString())}&until=${encodeURIComponent(until.toISOString())}`;
}
