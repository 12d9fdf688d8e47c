// Load: a site under load management (`#/load?site=<id>`): its grid limit and each node's load per phase, each
// EVSE's allocation, as charts with their tables; the recent allocation runs; and its curtailment windows, with a
// form that adds one and a button that cancels one. Refreshed every 5 s.
import { all, api, may } from "../api.js";
import { chartBox, draw } from "../charts.js";
import { chargerLink, facts, h, keepingFocus, link, problemText, route, section, select, statusBadge, table, when } from "../dom.js";

const REFRESH_MS = 5000;
const RUNS = 10;
const HOUR_MS = 3_600_000;
const LIMITS = [["current_a", "Current per phase (A)"], ["power_w", "Power, whole connection (W)"], ["reduction_percent", "Reduction of the static limit (%)"]];
const OPEN = new Set(["scheduled", "active"]);

const amps = (value) => (value === null || value === undefined ? "—" : `${Number(value).toFixed(1)} A`);
const evseName = (evse) => `${evse.charge_point_id}/${evse.evse_id}`;

function limitFacts(allocation) {
  const grid = allocation.grid || {};
  return facts("load-limit", [
    ["Limit now (per phase)", h("strong", { id: "load-effective-limit", text: amps(allocation.effective_limit_a) })],
    ["Grid connection", [grid.max_current_a ? `${grid.max_current_a} A per phase` : null, grid.max_power_w ? `${grid.max_power_w} W` : null].filter(Boolean).join(", ")],
    ["Phases / voltage", `${grid.phases || 3} × ${grid.voltage || 230} V`],
    ["Chargers", allocation.chargers.map((c) => [chargerLink(c.charge_point_id), " ",
      statusBadge(c.excluded ? "excluded" : c.connected ? "connected" : "offline"), " "])],
    ["Latest run", allocation.last_run_at ? when(allocation.last_run_at) : "none yet"]]);
}

// Each node (the grid connection, its circuits) per phase: fixed load and allocation stacked, the limit a line.
function nodeOption(nodes) {
  const names = nodes.map((n) => `${n.node_id} ${n.phase}`);
  return {
    legend: { top: 0 }, tooltip: { trigger: "axis" }, grid: { left: 50, right: 20, top: 40, bottom: 40, containLabel: true },
    xAxis: { type: "category", data: names }, yAxis: { type: "value", name: "A" },
    series: [
      { type: "bar", stack: "load", name: "fixed load", data: nodes.map((n) => Number(n.fixed_a)) },
      { type: "bar", stack: "load", name: "allocated", data: nodes.map((n) => Number(n.allocated_a)) },
      { type: "line", name: "limit", step: "middle", data: nodes.map((n) => Number(n.limit_a)) },
    ],
  };
}

// Each EVSE's allocation and what it draws per phase; the site's limit now as a marked line.
function evseOption(evses, limit) {
  const phases = [...new Set(evses.flatMap((e) => Object.keys(e.draw_a || {})))].sort();
  return {
    legend: { top: 0 }, tooltip: { trigger: "axis" }, grid: { left: 50, right: 20, top: 40, bottom: 40, containLabel: true },
    xAxis: { type: "category", data: evses.map(evseName) }, yAxis: { type: "value", name: "A per phase" },
    series: [
      { type: "bar", name: "allocated", data: evses.map((e) => (e.allocated_a === null ? null : Number(e.allocated_a))),
        markLine: limit === null ? undefined : { symbol: "none", data: [{ yAxis: limit, name: "site limit" }], label: { formatter: `limit ${limit} A` } } },
      ...phases.map((phase) => ({ type: "bar", name: `drawn ${phase}`, data: evses.map((e) => (e.draw_a[phase] === undefined ? null : Number(e.draw_a[phase]))) })),
    ],
  };
}

const nodeRows = (nodes) => nodes.map((n) => h("tr", { "data-node": `${n.node_id}-${n.phase}` },
  h("td", { text: n.node_id }), h("td", { text: n.phase }), h("td", { text: amps(n.limit_a) }),
  h("td", { text: amps(n.fixed_a) }), h("td", { text: amps(n.allocated_a) })));

const evseRows = (evses) => evses.map((e) => h("tr", { "data-evse": evseName(e) },
  h("td", {}, link(route("chargers", e.charge_point_id), evseName(e))),
  h("td", {}, e.transaction_id ? e.transaction_id : "idle"), h("td", { text: amps(e.allocated_a) }),
  h("td", { text: Object.entries(e.draw_a || {}).map(([phase, a]) => `${phase} ${amps(a)}`).join(", ") || "—" }),
  h("td", {}, e.charging_state ? statusBadge(e.charging_state) : "—"),
  h("td", {}, e.profiles.map((p) => [h("span", { class: "connector" }, `${p.target} ${amps(p.limit_a)} `, statusBadge(p.status)), " "]))));

// What a run decided, counted: "2 sessions, 1 idle, 3 nodes, 2 profiles".
const outputsText = (outputs) => Object.entries(outputs || {}).filter(([, value]) => Array.isArray(value))
  .map(([name, value]) => `${value.length} ${name}`).join(", ");

const runRows = (runs) => runs.map((run) => h("tr", { "data-run-id": run.run_id },
  h("td", { text: when(run.at) }), h("td", { text: run.cause }), h("td", { text: outputsText(run.outputs) }),
  h("td", { text: ((run.outputs && run.outputs.profiles) || []).map((p) => `${p.charge_point_id} ${p.target} ${amps(p.limit_a)} ${p.status}`).join("; ") || "—" })));

function capText(curtailment) {
  if (curtailment.reduction_percent) return `−${curtailment.reduction_percent} %`;
  const limit = curtailment.limit || {};
  return limit.current_a !== null && limit.current_a !== undefined ? `${limit.current_a} A per phase` : `${limit.power_w} W`;
}

function curtailmentRows(windows, onCancel) {
  return windows.map((w) => h("tr", { "data-curtailment-id": w.curtailment_id },
    h("td", { text: when(w.effective_start) }), h("td", { text: when(w.end) }), h("td", { text: capText(w) }),
    h("td", { class: "status" }, statusBadge(w.status)), h("td", { text: `${w.source}${w.reference ? ` (${w.reference})` : ""}` }),
    h("td", {}, OPEN.has(w.status) && may("DELETE", "/curtailments/{curtailment_id}")
      ? h("button", { type: "button", class: "secondary", "data-cancel": w.curtailment_id, "aria-label": `Cancel the window from ${when(w.effective_start)}`, text: "Cancel", on: { click: (event) => onCancel(w, event.currentTarget) } })
      : "—")));
}

// A moment as a `datetime-local` input shows it: in the browser's zone (the form sends UTC).
const localValue = (ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 16);

function curtailmentForm(siteId, onAdded) {
  const now = Date.now();
  const error = h("p", { id: "curtailment-error", class: "error", role: "alert" });
  const field = (id, label, attrs) => h("div", { class: "field" }, h("label", { for: id, text: label }), h("input", { id, name: id, ...attrs }));
  const form = h("form", { id: "curtailment-form", class: "card" },
    h("div", { class: "filters" },
      field("curtailment-start", "Start (your time)", { type: "datetime-local", required: true, value: localValue(now + 5 * 60_000) }),
      field("curtailment-end", "End (your time)", { type: "datetime-local", required: true, value: localValue(now + HOUR_MS) }),
      select("curtailment-kind", "Cap as", LIMITS, "current_a", null),
      field("curtailment-value", "Value", { type: "number", required: true, min: "0", step: "any", value: "10" }),
      field("curtailment-source", "Source", { required: true, value: "operator", maxlength: "128" }),
      field("curtailment-reference", "Reference (optional)", { maxlength: "256" })),
    h("button", { id: "curtailment-add", type: "submit", text: "Add window" }), error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const value = (id) => form.querySelector(`#${id}`).value.trim();
    const kind = value("curtailment-kind");
    const amount = Number(value("curtailment-value"));
    const body = { site_id: siteId, source: value("curtailment-source"), reference: value("curtailment-reference") || null };
    try {
      body.start = new Date(value("curtailment-start")).toISOString();
      body.end = new Date(value("curtailment-end")).toISOString();
    } catch {
      error.textContent = "Give a start and an end.";
      return;
    }
    if (kind === "reduction_percent") body.reduction_percent = amount;
    else body.limit = { [kind]: amount };
    const add = form.querySelector("#curtailment-add");
    add.disabled = true; // one window per click
    try {
      await api("/curtailments", { method: "POST", body });
      await onAdded();
    } catch (failure) {
      error.textContent = problemText(failure);
    } finally {
      add.disabled = false;
    }
  });
  return form;
}

export async function render(main, _params, query) {
  const error = h("p", { class: "error", role: "alert" });
  main.append(h("h1", { text: "Load" }), error);
  let sites;
  try {
    sites = (await all("/sites")).filter((site) => site.grid);
  } catch (failure) {
    error.textContent = problemText(failure);
    return null;
  }
  const siteId = query.get("site") || "";
  const picker = select("load-site", "Site (with a grid connection)", sites.map((s) => [s.site_id, `${s.name} (${s.site_id})`]), siteId, "choose a site…");
  picker.querySelector("select").addEventListener("change", (event) => {
    location.hash = event.target.value ? `#/load?site=${encodeURIComponent(event.target.value)}` : "#/load";
  });
  main.append(h("form", { class: "filters", on: { submit: (event) => event.preventDefault() } }, picker));
  if (!siteId) {
    main.append(h("p", { id: "load-choose", class: "muted", text: sites.length ? "Choose a site to see its load." : "No site has a grid connection: PUT /sites/{id} with a `grid` puts it under load management." }));
    return null;
  }
  const limitSlot = h("div", { id: "load-limit-slot" });
  const nodeChart = chartBox("load-chart", "Each node's load per phase: fixed load and allocation against its limit");
  const nodeTable = table("load-nodes", "Nodes per phase", ["Node", "Phase", "Limit", "Fixed load", "Allocated"], []);
  const evseChart = chartBox("evse-chart", "Each EVSE's allocation and draw per phase against the site's limit");
  const evseTable = table("load-evses", "EVSEs", ["EVSE", "Session", "Allocated", "Drawn", "State", "Profiles"], []);
  const evseEmpty = h("p", { id: "evse-empty", class: "muted", text: "No EVSE known at this site yet (chargers' connectors appear once they connect)." });
  const runs = table("allocation-runs", "Recent allocation runs, newest first", ["When", "Cause", "Outputs", "Profiles"], []);
  const windows = table("curtailments", "Curtailment windows", ["From", "To", "Cap", "Status", "Source", "Action"], []);
  const cancelError = h("p", { id: "curtailment-cancel-error", class: "error", role: "alert" });
  const site = encodeURIComponent(siteId);

  async function cancel(curtailment, button) {
    cancelError.textContent = "";
    button.disabled = true;
    try {
      await api(`/curtailments/${encodeURIComponent(curtailment.curtailment_id)}`, { method: "DELETE" });
      await refresh();
    } catch (failure) {
      cancelError.textContent = problemText(failure);
    }
  }

  async function refresh() {
    try {
      const [allocation, runPage, windowList] = await Promise.all([api(`/allocations/${site}`),
        api(`/allocation-runs?site_id=${site}&limit=${RUNS}`), all(`/curtailments?site_id=${site}`, 5)]);
      windowList.sort((a, b) => b.effective_start.localeCompare(a.effective_start));
      keepingFocus(main, () => {
        limitSlot.replaceChildren(limitFacts(allocation));
        nodeTable.querySelector("tbody").replaceChildren(...nodeRows(allocation.nodes));
        evseTable.querySelector("tbody").replaceChildren(...evseRows(allocation.evses));
        runs.querySelector("tbody").replaceChildren(...runRows(runPage.items));
        windows.querySelector("tbody").replaceChildren(...curtailmentRows(windowList, cancel));
      });
      evseEmpty.hidden = allocation.evses.length > 0;
      error.textContent = "";
      const limit = allocation.effective_limit_a === null ? null : Number(allocation.effective_limit_a);
      await Promise.all([draw(nodeChart, nodeOption(allocation.nodes)), draw(evseChart, evseOption(allocation.evses, limit))]);
    } catch (failure) {
      error.textContent = problemText(failure);
    }
  }

  main.append(limitSlot,
    section("load-nodes-section", "Limit and load per phase", nodeChart, nodeTable),
    section("load-evses-section", "Allocation per EVSE", evseChart, evseEmpty, evseTable),
    section("curtailments-section", "Curtailment windows", cancelError, windows,
      may("POST", "/curtailments") ? curtailmentForm(siteId, refresh) : h("p", { class: "muted", text: "This API key may not add windows." })),
    section("runs-section", "Allocation runs", runs));
  await refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  return () => clearInterval(timer);
}
