// Fleet: a site overview and every charger, filtered in the page (the filters live in the hash, so links keep
// them), refreshed every 5 s.
import { all } from "../api.js";
import { attempt, chargerLink, h, keepInAddress, keepingFocus, select, siteLink, statusBadge } from "../dom.js";

const REFRESH_MS = 5000;
const VERSIONS = ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"];
const STATUSES = ["Available", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing", "Reserved",
  "Occupied", "Unavailable", "Faulted"];
const FILTERS = { site: "filter-site", status: "filter-status", connected: "filter-connected", version: "filter-version" };
const NO_SITE = "(none)";

const statuses = (charger) => [charger.status, ...charger.connectors.map((connector) => connector.status)].filter(Boolean);

export function summary(chargers) {
  const count = (test) => chargers.filter(test).length;
  return {
    up: count((c) => c.connected),
    charging: count((c) => statuses(c).includes("Charging")),
    faulted: count((c) => statuses(c).includes("Faulted")),
    offline: count((c) => !c.connected),
  };
}

function matches(charger, filters) {
  return (!filters.site || (charger.site_id || NO_SITE) === filters.site)
    && (!filters.status || statuses(charger).includes(filters.status))
    && (!filters.connected || String(charger.connected) === filters.connected)
    && (!filters.version || charger.ocpp_version === filters.version);
}

function siteCard(site, chargers) {
  const counts = summary(chargers);
  return h("li", { class: "card site", "data-site-id": site },
    h("h3", {}, siteLink(site)),
    h("dl", { class: "counts" }, Object.entries(counts).map(([name, value]) =>
      h("div", { class: `count count-${name}` }, h("dt", { text: name }), h("dd", { text: String(value) })))));
}

function row(charger) {
  return h("tr", { "data-charger-id": charger.charge_point_id },
    h("td", {}, chargerLink(charger.charge_point_id)),
    h("td", {}, siteLink(charger.site_id) || "—"),
    h("td", { text: charger.ocpp_version || "—" }),
    h("td", { class: "connected" }, statusBadge(charger.connected ? "connected" : "offline")),
    h("td", { class: "status" }, charger.connectors.length
      ? charger.connectors.map((c) => [h("span", { class: "connector" }, `${c.evse_id}/${c.connector_id} `, statusBadge(c.status)), " "])
      : statusBadge(charger.status || "unknown")));
}

export async function render(main, _params, query) {
  const filters = Object.fromEntries(Object.keys(FILTERS).map((name) => [name, query.get(name) || ""]));
  const overview = h("ul", { id: "sites", class: "cards", "aria-label": "Sites" });
  const body = h("tbody");
  const error = h("p", { class: "error", role: "alert" });
  const shown = h("p", { id: "fleet-count", class: "muted", "aria-live": "polite" });
  const controls = h("form", { id: "filters", class: "filters", on: { submit: (event) => event.preventDefault() } });
  let chargers = [];
  let sites = [];

  function drawControls() {
    const siteIds = [...new Set([...sites.map((s) => s.site_id), ...chargers.map((c) => c.site_id || NO_SITE)])].sort();
    controls.replaceChildren(
      select(FILTERS.site, "Site", siteIds.map((id) => [id, id]), filters.site),
      select(FILTERS.status, "Status", STATUSES.map((s) => [s, s]), filters.status),
      select(FILTERS.connected, "Connected", [["true", "connected"], ["false", "offline"]], filters.connected),
      select(FILTERS.version, "OCPP version", VERSIONS.map((v) => [v, v]), filters.version));
  }

  function draw() {
    const bySite = new Map(sites.map((s) => [s.site_id, []]));
    for (const charger of chargers) {
      const site = charger.site_id || NO_SITE;
      bySite.set(site, [...(bySite.get(site) || []), charger]);
    }
    const visible = chargers.filter((charger) => matches(charger, filters));
    keepingFocus(main, () => {
      overview.replaceChildren(...[...bySite].map(([site, members]) => siteCard(site, members)));
      body.replaceChildren(...visible.map(row));
    });
    shown.textContent = `${visible.length} of ${chargers.length} chargers`;
  }

  controls.addEventListener("change", (event) => {
    const name = Object.keys(FILTERS).find((key) => FILTERS[key] === event.target.id);
    filters[name] = event.target.value;
    keepInAddress("#/fleet", filters);
    draw();
  });

  async function refresh() {
    await attempt(error, async () => {
      [chargers, sites] = await Promise.all([all("/chargers"), all("/sites")]);
      chargers.sort((a, b) => a.charge_point_id.localeCompare(b.charge_point_id));
      if (!controls.contains(document.activeElement)) drawControls();
      draw();
    });
  }

  main.append(h("h1", { text: "Fleet" }), error,
    h("section", { "aria-labelledby": "sites-title" }, h("h2", { id: "sites-title", text: "Sites" }), overview),
    h("section", { "aria-labelledby": "chargers-title" }, h("h2", { id: "chargers-title", text: "Chargers" }), controls, shown,
      h("div", { class: "scroll" }, h("table", { id: "chargers" },
        h("caption", { class: "visually-hidden", text: "Chargers, one row each" }),
        h("thead", {}, h("tr", {}, ["Charger", "Site", "OCPP", "Connection", "Connectors (EVSE/connector status)"]
          .map((text) => h("th", { scope: "col", text })))), body))));
  drawControls();
  await refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  return () => clearInterval(timer);
}
