// A charger: what it told at boot, its connectors (a faulted one links its open incident), its recent sessions and
// incidents, its device model, a link to its uptime, its recent commands, and a command form built from the OCPP
// schema of its version; a sent command is followed until it settles.
import { all, api, canCommand, COMMANDS, forbid } from "../api.js";
import { facts, firstRead, h, keepingFocus, kwh, link, pageHead, problemText, route, section, siteLink, statusBadge, table, when } from "../dom.js";
import { schemaForm } from "../schemaform.js";
import { byUrgency, incidentTable } from "./incidents.js";

const REFRESH_MS = 5000;
const POLL_MS = 1000;
const POLL_LIMIT = 180;
// The API lists a charger's commands oldest first: the newest are on its last page.
const COMMAND_PAGES = 10;
const RECENT = 20;
// The API lists a charger's sessions oldest first too: the latest are on its last page.
const SESSION_PAGES = 10;
const SESSION_DAYS = 30; // the sessions read: those started in the last 30 days (the API lists them oldest first)
const SESSIONS_SHOWN = 10;
const INCIDENTS_SHOWN = 20;
const VARIABLE_PAGES = 20;
const SETTLED = new Set(["accepted", "rejected", "error", "timed_out"]);
let actionsByVersion = null;

async function loadActions() {
  if (!actionsByVersion) actionsByVersion = await (await fetch("./schemas/index.json")).json();
  return actionsByVersion;
}

function info(charger) {
  const pairs = [["Site", siteLink(charger.site_id)],
    ["Connection", statusBadge(charger.connected ? "connected" : "offline")], ["Status", statusBadge(charger.status)],
    ["OCPP version", charger.ocpp_version || "—"], ["Vendor", charger.vendor || "—"], ["Model", charger.model || "—"],
    ["Firmware", charger.firmware_version || "—"], ["Last seen", when(charger.last_seen)],
    ["Registered", when(charger.registered_at)],
    ...Object.entries(charger.boot || {}).filter(([, value]) => value !== null).map(([name, value]) => [`Boot: ${name}`, typeof value === "object" ? JSON.stringify(value) : String(value)])];
  return facts("charger-info", pairs);
}

// The open incident of a connector: its own, else its EVSE's as a whole, else the charger's (the most urgent).
function incidentOf(connector, open) {
  const at = (evse, conn) => open.find((i) => i.evse_id === evse && i.connector_id === conn);
  return at(connector.evse_id, connector.connector_id) || at(connector.evse_id, 0) || at(0, 0) || null;
}

function connectorRows(charger, open = []) {
  return charger.connectors.map((c) => {
    const incident = incidentOf(c, open);
    return h("tr", { "data-evse-id": String(c.evse_id), "data-connector-id": String(c.connector_id) },
      h("td", { text: String(c.evse_id) }), h("td", { text: String(c.connector_id) }),
      h("td", { class: "status" }, statusBadge(c.status)), h("td", { text: c.problem_code || "—" }),
      h("td", { text: when(c.status_since) }),
      h("td", {}, incident ? h("a", { class: "connector-incident", href: route("incidents", incident.id),
        text: `${incident.problem_code} (${incident.severity || "unrated"})` }) : "—"));
  });
}

function sessionRows(sessions) {
  return sessions.map((s) => h("tr", { "data-session-id": s.id },
    h("td", {}, link(route("sessions", s.id), s.id)), h("td", { text: `${s.evse_id}/${s.connector_id}` }),
    h("td", { class: "status" }, statusBadge(s.status)), h("td", { text: when(s.started_at) }),
    h("td", { text: when(s.stopped_at) }), h("td", { text: kwh(s.energy_wh) }), h("td", { text: s.id_tag || "—" })));
}

const VARIABLE_HEADINGS = ["Component", "EVSE/connector", "Variable", "Attribute", "Value", "Unit", "Mutability", "Reported", "Set"];

function variableRows(variables) {
  const named = (name, instance) => (instance ? `${name} (${instance})` : name);
  return variables.map((v) => h("tr", {},
    h("td", { text: named(v.component, v.component_instance) }),
    h("td", { text: v.evse_id === null || v.evse_id === undefined ? "—" : `${v.evse_id}/${v.connector_id ?? "—"}` }),
    h("td", { text: named(v.variable, v.variable_instance) }), h("td", { text: v.attribute_type }),
    h("td", {}, h("code", { text: v.value ?? "—" })), h("td", { text: v.unit || "—" }), h("td", { text: v.mutability || "—" }),
    h("td", { text: when(v.generated_at) }), h("td", { text: when(v.set_at) })));
}

// The device model (2.0.1's NotifyReport), read once: it can be long, so it is folded.
async function deviceModel(path) {
  const body = h("div", {}, h("p", { class: "muted", text: "Loading…" }));
  const folded = h("details", { id: "device-model" }, h("summary", { text: "Device model (reported variables)" }), body);
  try {
    const variables = await all(`${path}/variables`, VARIABLE_PAGES);
    body.replaceChildren(variables.length
      ? table("variables", `${variables.length} variables, in component order`, VARIABLE_HEADINGS, variableRows(variables))
      : h("p", { class: "muted", text: "None reported (a 2.0.1 charger reports them with NotifyReport; 1.6 has no device model)." }));
  } catch (failure) {
    body.replaceChildren(h("p", { class: "error", role: "alert", text: problemText(failure) }));
  }
  return section("device-model-section", "Device model", folded);
}

function commandRows(commands) {
  return commands.map((c) => h("tr", { "data-command-id": c.command_id },
    h("td", { text: when(c.created_at) }), h("td", { text: c.action }),
    h("td", { class: "status" }, statusBadge(c.status)), h("td", { text: c.source }),
    h("td", {}, h("code", { text: JSON.stringify(c.reply || c.error || {}) }))));
}

function showResult(result, command, extra) {
  result.replaceChildren(h("p", {}, `${command.action}: `, statusBadge(command.status), extra ? ` ${extra}` : ""),
    command.reply || command.error ? h("pre", { text: JSON.stringify(command.reply || command.error, null, 2) }) : "");
}

async function follow(chargerId, command, result) {
  const path = `/chargers/${encodeURIComponent(chargerId)}/commands/${encodeURIComponent(command.command_id)}`;
  let latest = command;
  for (let round = 0; round < POLL_LIMIT && !SETTLED.has(latest.status); round += 1) {
    showResult(result, latest, "(waiting for the charger)");
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    latest = await api(path);
  }
  showResult(result, latest);
}

async function commandSection(charger, onSent) {
  const section = h("section", { id: "command-section", "aria-labelledby": "command-title" }, h("h2", { id: "command-title", text: "Send a command" }));
  if (!canCommand()) {
    section.append(h("p", { id: "command-forbidden", class: "muted", text: "This API key may not send commands (read-only keys only read; see docs/rest.md, Scopes)." }));
    return section;
  }
  const version = charger.ocpp_version || "ocpp1.6";
  const actions = (await loadActions())[version] || [];
  const action = h("select", { id: "command-action" }, h("option", { value: "", text: "choose an action…" }),
    actions.map((name) => h("option", { value: name, text: name })));
  const fields = h("div", { id: "command-form", "aria-live": "polite" });
  const send = h("button", { id: "send-command", type: "submit", text: "Send", disabled: true });
  const result = h("div", { id: "command-result", role: "status", "aria-live": "polite" });
  let form = null;
  action.addEventListener("change", async () => {
    form = null;
    fields.replaceChildren();
    send.disabled = !action.value;
    const chosen = action.value;
    if (!chosen) return;
    try {
      const schema = await (await fetch(`./schemas/${version}/${chosen}.json`)).json();
      if (chosen !== action.value) return; // another action was chosen meanwhile: its form is the one to show
      form = schemaForm(schema);
      fields.replaceChildren(form.element);
    } catch (failure) {
      fields.replaceChildren(h("p", { class: "error", role: "alert", text: `The form of ${chosen} could not be loaded: ${problemText(failure)}` }));
    }
  });
  section.append(h("form", { class: "card", on: { submit: async (event) => {
    event.preventDefault();
    if (!form) return;
    send.disabled = true;
    try {
      const payload = form.read();
      const command = await api(`/chargers/${encodeURIComponent(charger.charge_point_id)}/commands`, { method: "POST", body: { action: action.value, payload } });
      onSent();
      await follow(charger.charge_point_id, command, result);
      onSent();
    } catch (failure) {
      if (failure.status === 403) forbid(...COMMANDS);
      result.replaceChildren(h("p", { class: "error", role: "alert", text: problemText(failure) }));
    } finally {
      send.disabled = !action.value;
    }
  } } },
  h("p", { class: "muted", text: `Actions of ${version}; fields marked * are required.` }),
  h("div", { class: "field" }, h("label", { for: "command-action", text: "Action" }), action), fields, send, result));
  return section;
}

export async function render(main, [chargerId]) {
  const path = `/chargers/${encodeURIComponent(chargerId)}`;
  const error = pageHead(main, ["#/fleet", "Fleet"], chargerId);
  const charger = await firstRead(error, api(path));
  if (!charger) return null;
  const infoSlot = h("div", {}, info(charger));
  const connectors = table("connectors", "Connectors", ["EVSE", "Connector", "Status", "Problem", "Since", "Open incident"], connectorRows(charger));
  const commands = table("commands", "Recent commands", ["Created", "Action", "Status", "Source", "Reply"], []);
  const sessions = table("charger-sessions", `Latest ${SESSIONS_SHOWN} sessions of the last ${SESSION_DAYS} days`, ["Session", "EVSE/connector", "Status", "Started", "Stopped", "Energy", "Id tag"], []);
  const incidentsSlot = h("div", {}, incidentTable("charger-incidents", "Incidents, open and most severe first", []));
  const quoted = encodeURIComponent(chargerId);
  async function refresh() {
    try {
      const [latest, commands90Days, sessionList, incidentList] = await Promise.all([api(path),
        all(`${path}/commands`, COMMAND_PAGES), all(`/sessions?charge_point_id=${quoted}&from=${encodeURIComponent(new Date(Date.now() - SESSION_DAYS * 86_400_000).toISOString())}`, SESSION_PAGES),
        all(`/incidents?charge_point_id=${quoted}`)]);
      const ordered = incidentList.sort(byUrgency);
      const newest = commands90Days.slice(-RECENT).reverse();
      keepingFocus(main, () => {
        infoSlot.replaceChildren(info(latest));
        connectors.querySelector("tbody").replaceChildren(...connectorRows(latest, ordered.filter((i) => i.status === "open")));
        commands.querySelector("tbody").replaceChildren(...commandRows(newest));
        sessions.querySelector("tbody").replaceChildren(...sessionRows(sessionList.slice(-SESSIONS_SHOWN).reverse()));
        incidentsSlot.replaceChildren(incidentTable("charger-incidents", "Incidents, open and most severe first", ordered.slice(0, INCIDENTS_SHOWN)));
      });
      error.textContent = "";
    } catch (failure) {
      error.textContent = problemText(failure);
    }
  }
  main.append(infoSlot,
    h("p", {}, h("a", { id: "uptime-link", href: `#/uptime?charger=${quoted}`, text: "Uptime (NEVI µ) of this charger" }), " · ",
      h("a", { id: "sessions-link", href: `#/sessions?charge_point_id=${quoted}`, text: "All its sessions" }), " · ",
      h("a", { id: "incidents-link", href: `#/incidents?charger=${quoted}`, text: "All its incidents" })),
    h("section", { "aria-labelledby": "connectors-title" }, h("h2", { id: "connectors-title", text: "Connectors" }), connectors),
    section("charger-incidents-section", "Incidents", incidentsSlot),
    section("charger-sessions-section", "Sessions", sessions),
    await deviceModel(path),
    await commandSection(charger, refresh),
    h("section", { "aria-labelledby": "commands-title" }, h("h2", { id: "commands-title", text: "Commands" }), commands));
  await refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  return () => clearInterval(timer);
}
