// The REST API as the console calls it: the key lives in sessionStorage only, a 401 signs out.
const KEY = "csms.apiKey";
const SCOPE = "csms.scope";
const REFUSED = "csms.refused";
let base = "";
let routes = {};

export class ApiError extends Error {
  constructor(status, detail, problem) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.problem = problem;
  }
}

export async function configure() {
  const reply = await fetch("./config.json", { cache: "no-cache" });
  if (reply.ok) base = ((await reply.json()).api_url || "").replace(/\/$/, "");
  const scopes = await fetch("./routes.json", { cache: "no-cache" });
  if (scopes.ok) routes = await scopes.json();
}

export const apiKey = () => sessionStorage.getItem(KEY);

export function signOut() {
  for (const name of [KEY, SCOPE, REFUSED]) sessionStorage.removeItem(name);
}

// The answer's JSON, or its text with `as: "text"` (a CSV); an error answer throws an ApiError with its detail.
// `headers` adds to the request's (an Idempotency-Key).
export async function api(path, { method = "GET", body, as = "json", headers: extra = {} } = {}) {
  const headers = { ...extra, Authorization: `Bearer ${apiKey() || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const reply = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await reply.text();
  if (reply.ok && as === "text") return text;
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (reply.ok) return data;
  const detail = (data && (data.detail || data.title)) || `${reply.status} ${reply.statusText}`;
  if (reply.status === 401) {
    signOut();
    if (location.hash !== "#/sign-in") location.hash = "#/sign-in";
  }
  throw new ApiError(reply.status, detail, data);
}

// A CSV the API answers, saved as a file: its route needs the key, so it is fetched, not linked, and handed to the
// browser through a blob: URL (a download, which the console's CSP allows).
export async function downloadCsv(path, filename) {
  const csv = await api(path, { as: "text" });
  const url = URL.createObjectURL(new Blob([csv], { type: "text/csv" }));
  const anchor = Object.assign(document.createElement("a"), { href: url, download: filename, hidden: true });
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// Every page of a list route (`items` and `next_token`), up to `pages` pages.
export async function all(path, pages = 20) {
  const items = [];
  let token = null;
  for (let page = 0; page < pages; page += 1) {
    const separator = path.includes("?") ? "&" : "?";
    const data = await api(`${path}${separator}limit=100${token ? `&next_token=${encodeURIComponent(token)}` : ""}`);
    items.push(...data.items);
    token = data.next_token;
    if (!token) break;
  }
  return items;
}

// A key's scope as the console knows it: the API tells no key its scopes, so at sign-in the console posts an empty
// body to a route that `support` may call and to one that only `operator` and `admin` may: a key refused with 403
// before anything is validated lacks that scope, any other gets a 4xx for the empty body and nothing happens.
// `operator` here may be `admin` too: the console offers nothing only `admin` may do without a 403 to tell it.
const PROBES = [["support", "/chargers/console-scope-probe/commands"], ["operator", "/curtailments"]];

async function allowed(path) {
  try {
    await api(path, { method: "POST", body: {} });
    return true;
  } catch (error) {
    if (error.status === 401) throw error;
    return error.status !== 403;
  }
}

export async function signIn(key) {
  sessionStorage.setItem(KEY, key);
  let answers;
  try {
    await api("/chargers?limit=1");
    answers = await Promise.all(PROBES.map(([, path]) => allowed(path)));
  } catch (error) {
    signOut(); // a key that could not sign in is not kept
    throw error;
  }
  const held = PROBES.filter((_, index) => answers[index]).map(([scope]) => scope);
  sessionStorage.setItem(SCOPE, held.at(-1) || "read-only");
  sessionStorage.removeItem(REFUSED);
}

export const scope = () => sessionStorage.getItem(SCOPE) || "read-only";
const refused = () => JSON.parse(sessionStorage.getItem(REFUSED) || "[]");

// Whether the key may call a route (`may("POST", "/incidents/{incident_id}/acknowledge")`), by the scopes the route
// allows (routes.json, from the OpenAPI) and any 403 the API already answered for it: a page hides or disables what
// it may not do.
export function may(method, template) {
  const route = `${method} ${template}`;
  const scopes = routes[route];
  if (refused().includes(route)) return false;
  return !scopes || scopes.includes(scope()) || (scope() === "operator" && scopes.includes("admin"));
}

// The API answered 403 for a route: the console stops offering it for this sign-in.
export function forbid(method, template) {
  sessionStorage.setItem(REFUSED, JSON.stringify([...new Set([...refused(), `${method} ${template}`])]));
}

export const COMMANDS = ["POST", "/chargers/{charge_point_id}/commands"];
export const canCommand = () => may(...COMMANDS);
