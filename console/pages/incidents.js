// Incidents: open ones first, the most severe first, then the newest; filters (status, severity, charger, site) in
// the hash, refreshed every 10 s. The API filters by charger or by status; severity and site are filtered here
// (a charger's site from GET /chargers). Also the order and the badges the incident and charger pages share.
import { all } from "../api.js";
import { attempt, chargerLink, h, keepInAddress, keepingFocus, link, route, select, statusBadge, table, when } from "../dom.js";

const REFRESH_MS = 10000;
const PAGES = 10;
const SEVERITIES = ["critical", "high", "medium", "low", "info"];
const FILTERS = { status: "filter-incident-status", severity: "filter-severity", charger: "filter-charger", site: "filter-incident-site" };

const rank = (severity) => {
  const index = SEVERITIES.indexOf(severity);
  return index < 0 ? SEVERITIES.length : index;
};

// Open first, then by severity (highest first), then newest opened first.
export function byUrgency(a, b) {
  return (a.status === "open" ? 0 : 1) - (b.status === "open" ? 0 : 1)
    || rank(a.severity) - rank(b.severity)
    || String(b.opened_at).localeCompare(String(a.opened_at));
}

// A severity as text and colour: `severity-<level>` names the colour.
export function severityBadge(severity) {
  const text = severity || "unrated";
  return h("span", { class: `badge severity-${text}`, text });
}

// Open, open and acknowledged, or resolved (by whom).
export function incidentStatus(incident) {
  if (incident.status !== "open") return [statusBadge(incident.status), incident.resolved_by ? ` by ${incident.resolved_by}` : ""];
  return [statusBadge("open"), incident.acknowledged_at ? [" ", statusBadge("acknowledged")] : null];
}

export const place = (incident) => (incident.evse_id === 0 && incident.connector_id === 0
  ? "charger" : `${incident.evse_id}/${incident.connector_id}`);

function row(incident) {
  return h("tr", { "data-incident-id": incident.id },
    h("td", {}, link(route("incidents", incident.id), incident.id)),
    h("td", {}, chargerLink(incident.charge_point_id)),
    h("td", { text: place(incident) }),
    h("td", {}, h("code", { text: incident.problem_code }), incident.title ? h("div", { class: "muted", text: incident.title }) : null),
    h("td", { class: "severity" }, severityBadge(incident.severity)),
    h("td", { class: "status" }, incidentStatus(incident)),
    h("td", { text: when(incident.opened_at) }),
    h("td", { text: incident.assignee || "—" }));
}

export const incidentTable = (id, caption, incidents) => table(id, caption,
  ["Incident", "Charger", "EVSE/connector", "Problem", "Severity", "Status", "Opened", "Assignee"], incidents.map(row));

export async function render(main, _params, query) {
  const filters = Object.fromEntries(Object.keys(FILTERS).map((name) => [name, query.get(name) || ""]));
  const error = h("p", { class: "error", role: "alert" });
  const shown = h("p", { id: "incident-count", class: "muted", "aria-live": "polite" });
  const controls = h("form", { id: "incident-filters", class: "filters", on: { submit: (event) => event.preventDefault() } });
  const slot = h("div", {}, incidentTable("incidents", "Incidents, open and most severe first", []));
  let incidents = [];
  let chargers = [];

  function drawControls() {
    const sites = [...new Set(chargers.map((c) => c.site_id).filter(Boolean))].sort();
    controls.replaceChildren(
      select(FILTERS.status, "Status", [["open", "open"], ["resolved", "resolved"]], filters.status),
      select(FILTERS.severity, "Severity", SEVERITIES.map((s) => [s, s]), filters.severity),
      select(FILTERS.charger, "Charger", chargers.map((c) => [c.charge_point_id, c.charge_point_id]), filters.charger),
      select(FILTERS.site, "Site", sites.map((s) => [s, s]), filters.site));
  }

  function draw() {
    const siteOf = new Map(chargers.map((c) => [c.charge_point_id, c.site_id]));
    const visible = incidents.filter((i) => (!filters.status || i.status === filters.status)
      && (!filters.severity || i.severity === filters.severity)
      && (!filters.charger || i.charge_point_id === filters.charger)
      && (!filters.site || siteOf.get(i.charge_point_id) === filters.site)).sort(byUrgency);
    keepingFocus(slot, () => slot.replaceChildren(incidentTable("incidents", "Incidents, open and most severe first", visible)));
    const open = visible.filter((i) => i.status === "open").length;
    shown.textContent = `${visible.length} shown (${open} open) of ${incidents.length} incidents`;
  }

  async function refresh() {
    // One server-side filter: the charger's incidents, or those of a status (both read an index in order).
    const path = filters.charger ? `/incidents?charge_point_id=${encodeURIComponent(filters.charger)}`
      : filters.status ? `/incidents?status=${encodeURIComponent(filters.status)}` : "/incidents";
    await attempt(error, async () => {
      [incidents, chargers] = await Promise.all([all(path, PAGES), all("/chargers")]);
      chargers.sort((a, b) => a.charge_point_id.localeCompare(b.charge_point_id));
      if (!controls.contains(document.activeElement)) drawControls();
      draw();
    });
  }

  controls.addEventListener("change", (event) => {
    const name = Object.keys(FILTERS).find((key) => FILTERS[key] === event.target.id);
    const serverSide = name === "charger" || (name === "status" && !filters.charger);
    filters[name] = event.target.value;
    keepInAddress("#/incidents", filters);
    if (serverSide) refresh();
    else draw();
  });

  main.append(h("h1", { text: "Incidents" }), error,
    h("p", { class: "muted", text: "Faults the chargers reported, explained by the knowledge base. Open ones first, the most severe first, then the newest." }),
    controls, shown, slot);
  drawControls();
  await refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  return () => clearInterval(timer);
}
