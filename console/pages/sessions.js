// Sessions: the API's filters as controls kept in the hash query, the loaded pages newest first, "More" for the
// next pages; the rows of active sessions refresh every 5 s. `listPage` is shared with the invoices page.
import { api } from "../api.js";
import { chargerLink, h, keepInAddress, keepingFocus, kwh, link, problemText, route, select, statusBadge, when } from "../dom.js";

const REFRESH_MS = 5000;
// Active rows refreshed per round, one request each.
const LIVE_ROWS = 20;
const LIMIT = 100;
// API pages read per load: a filter by charger answers oldest first, so a few pages make "newest first" mean more.
const PAGES_PER_LOAD = 5;
const STATUSES = ["active", "completed", "implausible", "void"];

// A day (`YYYY-MM-DD`, the date input's value) as the RFC 3339 instant of its local midnight; `after` days later.
function dayStart(day, after = 0) {
  const [year, month, date] = day.split("-").map(Number);
  const start = new Date(year, month - 1, date + after);
  return Number.isNaN(start.getTime()) ? day : start.toISOString();
}

// The API's query from the page's filters: dates become instants, "until" includes its day.
function apiQuery(specs, values) {
  const query = new URLSearchParams();
  for (const spec of specs) {
    const value = values[spec.name];
    if (!value) continue;
    query.set(spec.name, spec.kind === "date" ? dayStart(value, spec.name === "to" ? 1 : 0) : value);
  }
  return query;
}

function control(spec, value) {
  if (spec.kind === "select") return select(spec.id, spec.label, spec.options.map((option) => [option, option]), value);
  return h("div", { class: "field" }, h("label", { for: spec.id, text: spec.label }),
    h("input", { id: spec.id, name: spec.id, type: spec.kind === "date" ? "date" : "search", value, autocomplete: "off" }));
}

// Filters, a count, a table and a "More" button over a list route (`items`, `next_token`). `specs` are the filters
// ({name: the API's query parameter, id, label, kind: text | select | date, options}); `newest` the field sorted on;
// `live` ({active(item), fetch(item)}) refreshes the active items' rows.
export async function listPage(main, { title, hash, path, specs, headings, row, newest, noun, live = null }) {
  const values = Object.fromEntries(specs.map((spec) => [spec.name, spec.query || ""]));
  const error = h("p", { class: "error", role: "alert" });
  const count = h("p", { id: `${noun}-count`, class: "muted", "aria-live": "polite" });
  const body = h("tbody");
  const more = h("button", { id: `${noun}-more`, type: "button", text: "More", hidden: true });
  const controls = h("form", { id: `${noun}-filters`, class: "filters", "aria-label": "Filters" },
    specs.map((spec) => control(spec, values[spec.name])),
    h("div", { class: "field filter-apply" }, h("button", { id: `${noun}-apply`, type: "submit", text: "Apply" })));
  let items = [];
  let token = null;
  let generation = 0;

  function draw() {
    items.sort((a, b) => String(b[newest] || "").localeCompare(String(a[newest] || "")));
    keepingFocus(body, () => body.replaceChildren(...items.map(row)));
    count.textContent = `${title} loaded: ${items.length}, newest first${token ? "; the API has more: More loads them" : ""}`;
    more.hidden = !token;
  }

  async function load(reset) {
    const mine = reset ? (generation += 1) : generation;
    if (reset) {
      items = [];
      token = null;
    }
    more.disabled = true;
    const query = apiQuery(specs, values);
    query.set("limit", String(LIMIT));
    try {
      for (let page = 0; page < PAGES_PER_LOAD; page += 1) {
        if (token) query.set("next_token", token);
        const data = await api(`${path}?${query}`);
        if (mine !== generation) return;
        items.push(...data.items);
        token = data.next_token;
        if (!token) break;
      }
      error.textContent = "";
    } catch (failure) {
      if (mine === generation) error.textContent = problemText(failure);
    } finally {
      if (mine === generation) {
        more.disabled = false;
        draw();
      }
    }
  }

  function apply() {
    for (const spec of specs) values[spec.name] = controls.querySelector(`#${spec.id}`).value.trim();
    keepInAddress(hash, values);
    load(true);
  }

  controls.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  controls.addEventListener("change", (event) => {
    if (event.target.tagName === "SELECT" || event.target.type === "date") apply();
  });
  more.addEventListener("click", () => load(false));

  main.append(h("h1", { text: title }), error, controls, count,
    h("div", { class: "scroll" }, h("table", { id: noun },
      h("caption", { class: "visually-hidden", text: `${title}, one row each, newest first` }),
      h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col", text })))), body)),
    h("p", {}, more));
  await load(true);
  if (!live) return null;
  const timer = setInterval(async () => {
    const active = items.filter(live.active).slice(0, LIVE_ROWS);
    if (!active.length) return;
    try {
      const latest = new Map((await Promise.all(active.map(live.fetch))).map((item) => [item.id, item]));
      items = items.map((item) => latest.get(item.id) || item);
      draw();
    } catch (failure) {
      error.textContent = problemText(failure);
    }
  }, REFRESH_MS);
  return () => clearInterval(timer);
}


function sessionRow(session) {
  return h("tr", { "data-session-id": session.id },
    h("td", {}, link(route("sessions", session.id), session.id)),
    h("td", {}, chargerLink(session.charge_point_id)),
    h("td", { text: `${session.evse_id}/${session.connector_id}` }),
    h("td", { text: session.id_tag || "—" }),
    h("td", { text: when(session.started_at) }),
    h("td", { text: when(session.stopped_at) }),
    h("td", { class: "number", text: kwh(session.energy_wh) }),
    h("td", { class: "status" }, statusBadge(session.status)));
}

// The filters both lists share, as the API names them: charger, status, id tag, and days of `verb` (started, issued).
export function filterSpecs(query, statuses, verb) {
  return [
    { name: "charge_point_id", id: "filter-charger", label: "Charger", kind: "text" },
    { name: "status", id: "filter-status", label: "Status", kind: "select", options: statuses },
    { name: "id_tag", id: "filter-id-tag", label: "Id tag", kind: "text" },
    { name: "from", id: "filter-from", label: `${verb} from (day)`, kind: "date" },
    { name: "to", id: "filter-to", label: `${verb} until (day, inclusive)`, kind: "date" },
  ].map((spec) => ({ ...spec, query: query.get(spec.name) || "" }));
}

export async function render(main, _params, query) {
  const specs = filterSpecs(query, STATUSES, "Started");
  return listPage(main, {
    title: "Sessions", hash: "#/sessions", path: "/sessions", specs, newest: "started_at", noun: "sessions",
    headings: ["Session", "Charger", "EVSE/connector", "Id tag", "Started", "Stopped", "Energy", "Status"],
    row: sessionRow,
    live: { active: (session) => session.status === "active", fetch: (session) => api(`/sessions/${encodeURIComponent(session.id)}`) },
  });
}
