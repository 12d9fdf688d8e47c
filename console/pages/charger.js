// A charger: what it told at boot, its connectors, its recent commands, and a command form built from the OCPP
// schema of its version; a sent command is followed until it settles.
import { all, api, canCommand, COMMANDS, forbid } from "../api.js";
import { facts, h, problemText, statusBadge, table, when } from "../dom.js";
import { schemaForm } from "../schemaform.js";

const REFRESH_MS = 5000;
const POLL_MS = 1000;
const POLL_LIMIT = 180;
// The API lists a charger's commands oldest first: the newest are on its last page.
const COMMAND_PAGES = 10;
const RECENT = 20;
const SETTLED = new Set(["accepted", "rejected", "error", "timed_out"]);
let actionsByVersion = null;

async function loadActions() {
  if (!actionsByVersion) actionsByVersion = await (await fetch("./schemas/index.json")).json();
  return actionsByVersion;
}

function info(charger) {
  const pairs = [["Site", charger.site_id ? h("a", { href: `#/fleet?site=${encodeURIComponent(charger.site_id)}`, text: charger.site_id }) : "—"],
    ["Connection", statusBadge(charger.connected ? "connected" : "offline")], ["Status", statusBadge(charger.status)],
    ["OCPP version", charger.ocpp_version || "—"], ["Vendor", charger.vendor || "—"], ["Model", charger.model || "—"],
    ["Firmware", charger.firmware_version || "—"], ["Last seen", when(charger.last_seen)],
    ["Registered", when(charger.registered_at)],
    ...Object.entries(charger.boot || {}).filter(([, value]) => value !== null).map(([name, value]) => [`Boot: ${name}`, typeof value === "object" ? JSON.stringify(value) : String(value)])];
  return facts("charger-info", pairs);
}

function connectorRows(charger) {
  return charger.connectors.map((c) => h("tr", { "data-evse-id": String(c.evse_id), "data-connector-id": String(c.connector_id) },
    h("td", { text: String(c.evse_id) }), h("td", { text: String(c.connector_id) }),
    h("td", { class: "status" }, statusBadge(c.status)), h("td", { text: c.problem_code || "—" }),
    h("td", { text: when(c.status_since) })));
}

function commandRows(commands) {
  return commands.map((c) => h("tr", { "data-command-id": c.command_id },
    h("td", { text: when(c.created_at) }), h("td", { text: c.action }),
    h("td", { class: "status" }, statusBadge(c.status)), h("td", { text: c.source }),
    h("td", {}, h("code", { text: JSON.stringify(c.reply || c.error || {}) }))));
}

function showResult(result, command, extra) {
  result.replaceChildren(h("p", {}, `${command.action}: `, statusBadge(command.status), extra ? ` ${extra}` : ""),
    command.reply || command.error ? h("pre", { text: JSON.stringify(command.reply || command.error, null, 2) }) : null);
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
    if (!action.value) return;
    const schema = await (await fetch(`./schemas/${version}/${action.value}.json`)).json();
    form = schemaForm(schema);
    fields.replaceChildren(form.element);
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
  const error = h("p", { class: "error", role: "alert" });
  main.append(h("p", {}, h("a", { href: "#/fleet", text: "← Fleet" })), h("h1", { text: chargerId }), error);
  let charger;
  try {
    charger = await api(path);
  } catch (failure) {
    error.textContent = problemText(failure);
    return null;
  }
  const infoSlot = h("div", {}, info(charger));
  const connectors = table("connectors", "Connectors", ["EVSE", "Connector", "Status", "Problem", "Since"], connectorRows(charger));
  const commands = table("commands", "Recent commands", ["Created", "Action", "Status", "Source", "Reply"], []);
  async function refresh() {
    try {
      const [latest, commands90Days] = await Promise.all([api(path), all(`${path}/commands`, COMMAND_PAGES)]);
      infoSlot.replaceChildren(info(latest));
      connectors.querySelector("tbody").replaceChildren(...connectorRows(latest));
      const newest = commands90Days.slice(-RECENT).reverse();
      commands.querySelector("tbody").replaceChildren(...commandRows(newest));
      error.textContent = "";
    } catch (failure) {
      error.textContent = problemText(failure);
    }
  }
  main.append(infoSlot,
    h("section", { "aria-labelledby": "connectors-title" }, h("h2", { id: "connectors-title", text: "Connectors" }), connectors),
    await commandSection(charger, refresh),
    h("section", { "aria-labelledby": "commands-title" }, h("h2", { id: "commands-title", text: "Commands" }), commands));
  await refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  return () => clearInterval(timer);
}
