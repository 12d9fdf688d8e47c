// The REST API as the console calls it: the key lives in sessionStorage only, a 401 signs out.
const KEY = "csms.apiKey";
const CAN_COMMAND = "csms.canCommand";
let base = "";

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
}

export const apiKey = () => sessionStorage.getItem(KEY);

export function signOut() {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(CAN_COMMAND);
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${apiKey() || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const reply = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await reply.text();
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

// The API tells no key its scopes: a command with an empty body is refused with 403 before it is validated when
// the key may not send commands, and is 4xx otherwise without reaching any charger.
export async function signIn(key) {
  sessionStorage.setItem(KEY, key);
  await api("/chargers?limit=1");
  try {
    await api("/chargers/console-scope-probe/commands", { method: "POST", body: {} });
    sessionStorage.setItem(CAN_COMMAND, "true");
  } catch (error) {
    if (error.status === 401) throw error;
    sessionStorage.setItem(CAN_COMMAND, String(error.status !== 403));
  }
}

export const canCommand = () => sessionStorage.getItem(CAN_COMMAND) !== "false";
export const forbidCommands = () => sessionStorage.setItem(CAN_COMMAND, "false");
