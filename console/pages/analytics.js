// Analytics: the charts of `csms analytics report` (local/analytics_report.py) from the named statistics: peak hours
// per site (weekday × hour), utilization by hour of day, energy per day per site with revenue, and the fault rate by
// model; each with its figures in a table. The range and site live in the hash (`#/analytics?from=&to=&site=`).
// With Athena a statistic may answer 202 and a run id: the page polls the run until its rows arrive.
import { all, api } from "../api.js";
import { chartBox, draw } from "../charts.js";
import { attempt, currencyDigits, h, keepInAddress, problemText, section, select, table } from "../dom.js";

const DAY_MS = 86_400_000;
const POLL_MS = 2000;
const POLL_LIMIT = 90;
const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const HOURS = Array.from({ length: 24 }, (_, hour) => String(hour).padStart(2, "0"));
const NO_SITE = "(no site)";
const BASE = { legend: { top: 0, type: "scroll" }, tooltip: { trigger: "axis" }, grid: { left: 50, right: 50, top: 40, bottom: 40, containLabel: true } };

const day = (ms) => new Date(ms).toISOString().slice(0, 10);
const siteOf = (record) => record.site_id || NO_SITE;
const bySite = (a, b) => (a === NO_SITE) - (b === NO_SITE) || a.localeCompare(b);
const percent = (part, whole) => (whole ? Math.round((1000 * part) / whole) / 10 : null);

// Minor units as a number of major units, for a chart's axis (the table keeps the currency).
const major = (minor, currency) => Number(minor) / 10 ** currencyDigits(currency);

// A statistic's rows as records; a 202 is polled at its run until done.
async function statistic(name, search) {
  let answer = await api(`/statistics/${name}?${search}`);
  for (let round = 0; answer.run_id && !answer.rows && round < POLL_LIMIT; round += 1) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    answer = await api(`/statistics/${name}/runs/${encodeURIComponent(answer.run_id)}`);
  }
  if (!answer.rows) throw new Error(`${name} is still running: ask again in a minute`);
  const names = answer.columns.map((column) => column.name);
  return { records: answer.rows.map((row) => Object.fromEntries(names.map((column, i) => [column, row[i]]))), truncated: answer.truncated };
}

function figures(id, caption, headings, rows) {
  return h("details", { class: "figures" }, h("summary", { text: `The figures: ${caption}` }),
    table(id, caption, headings, rows.map((row) => h("tr", {}, row.map((value) =>
      h("td", { text: value === null || value === undefined ? "—" : String(value) }))))));
}

const empty = (id) => h("p", { id: `${id}-empty`, class: "muted no-data", text: "No data for this range." });

// A panel: a chart, a sentence, and its figures; drawn after it is in the page (ECharts measures its box).
function panel(slot, id, label, text, option, headings, rows) {
  const box = chartBox(id, label);
  slot.append(h("p", { class: "muted", text }), box, figures(`${id}-table`, label, headings, rows));
  return draw(box, option);
}

function peakHours(slot, records) {
  const grids = new Map();
  for (const record of records.filter((r) => r.sessions)) {
    const site = siteOf(record);
    if (!grids.has(site)) grids.set(site, DAYS.map(() => HOURS.map(() => 0)));
    grids.get(site)[Number(record.dow) - 1][Number(record.hour)] += Number(record.sessions);
  }
  if (!grids.size) return slot.append(empty("peak-hours"));
  return Promise.all([...grids.keys()].sort(bySite).map((site, index) => {
    const grid = grids.get(site);
    const cells = grid.flatMap((row, d) => row.map((value, hour) => [hour, d, value])).filter(([, , value]) => value);
    const [hour, d, most] = cells.reduce((best, cell) => (cell[2] > best[2] ? cell : best));
    const part = h("div", { class: "panel", "data-site": site }, h("h3", { text: site }));
    slot.append(part);
    return panel(part, `peak-hours-chart-${index + 1}`, `Sessions started per weekday and hour at ${site}`,
      `Sessions started per weekday and hour, in the site's time zone. The busiest: ${DAYS[d]} ${HOURS[hour]}:00 with ${most}.`,
      { tooltip: { position: "top" }, grid: { left: 50, right: 50, top: 10, bottom: 80, containLabel: true },
        xAxis: { type: "category", data: HOURS, name: "hour", splitArea: { show: true } },
        yAxis: { type: "category", data: DAYS, inverse: true, splitArea: { show: true } },
        visualMap: { min: 0, max: Math.max(most, 1), calculable: true, orient: "horizontal", left: "center", bottom: 0 },
        series: [{ type: "heatmap", name: "sessions started", data: cells }] },
      ["day", ...HOURS], grid.map((row, i) => [DAYS[i], ...row]));
  }));
}

function utilization(slot, records) {
  const plugged = new Map();
  const service = new Map();
  for (const record of records) {
    const site = siteOf(record);
    if (!service.has(site)) [plugged, service].forEach((map) => map.set(site, HOURS.map(() => 0)));
    plugged.get(site)[Number(record.hour)] += Number(record.plugged_in_s);
    service.get(site)[Number(record.hour)] += Number(record.in_service_s);
  }
  if (!service.size) return slot.append(empty("utilization"));
  const sites = [...service.keys()].sort(bySite);
  const shares = sites.map((site) => HOURS.map((_, hour) => percent(plugged.get(site)[hour], service.get(site)[hour])));
  const sum = (list) => list.reduce((a, b) => a + b, 0);
  const overall = sites.map((site) => `${site} ${percent(sum(plugged.get(site)), sum(service.get(site)))} %`).join(", ");
  return panel(slot, "utilization-chart", "Share of in-service time plugged in, per site and hour of day",
    `The share of in-service time a vehicle was plugged in, per site and hour of the day (site time). Over the range: ${overall}.`,
    { ...BASE, xAxis: { type: "category", data: HOURS, name: "hour" }, yAxis: { type: "value", name: "%", min: 0, max: 100 },
      series: sites.map((site, i) => ({ type: "line", name: site, data: shares[i], connectNulls: true })) },
    ["hour", ...sites], HOURS.map((hour, i) => [hour, ...shares.map((share) => share[i])]));
}

function energyRevenue(slot, records, from, to) {
  const days = [];
  for (let ms = Date.parse(`${from}T00:00:00Z`); ms <= Date.parse(`${to}T00:00:00Z`); ms += DAY_MS) days.push(day(ms));
  const energy = new Map();
  const revenue = new Map();
  const rows = [];
  for (const record of records) {
    const site = siteOf(record);
    const kwh = Number(record.energy_wh || 0) / 1000;
    if (!energy.has(site)) energy.set(site, new Map());
    energy.get(site).set(record.day, (energy.get(site).get(record.day) || 0) + kwh);
    const amount = record.currency && record.revenue_excl_vat !== null ? major(record.revenue_excl_vat, record.currency) : null;
    if (amount !== null) {
      if (!revenue.has(record.currency)) revenue.set(record.currency, new Map());
      revenue.get(record.currency).set(record.day, (revenue.get(record.currency).get(record.day) || 0) + amount);
    }
    rows.push([record.day, site, record.sessions, kwh.toFixed(3), record.currency || "", amount === null ? "" : amount.toFixed(2)]);
  }
  if (!rows.length) return slot.append(empty("energy-revenue"));
  const totalKwh = [...energy.values()].reduce((sum, map) => sum + [...map.values()].reduce((a, b) => a + b, 0), 0);
  const totals = [...revenue].map(([currency, map]) => `${currency} ${[...map.values()].reduce((a, b) => a + b, 0).toFixed(2)}`);
  return panel(slot, "energy-revenue-chart", "Energy per day per site, and revenue per day",
    `Energy of the sessions that ended each day (UTC), per site, and their revenue without VAT. In all: ${totalKwh.toFixed(1)} kWh${totals.length ? `, ${totals.join(", ")}` : ", no revenue"}.`,
    { ...BASE, xAxis: { type: "category", data: days },
      yAxis: [{ type: "value", name: "kWh" }, { type: "value", name: "revenue", splitLine: { show: false } }],
      series: [...[...energy.keys()].sort(bySite).map((site) => ({ type: "bar", stack: "energy", name: `${site} kWh`, data: days.map((d) => Number((energy.get(site).get(d) || 0).toFixed(3))) })),
        ...[...revenue.keys()].sort().map((currency) => ({ type: "line", yAxisIndex: 1, name: `revenue ${currency}`, data: days.map((d) => revenue.get(currency).get(d) || 0) }))] },
    ["day", "site", "sessions", "kWh", "currency", "revenue excl. VAT"], rows);
}

function faultRate(slot, records) {
  if (!records.length) return slot.append(empty("fault-rate"));
  const rate = (r) => (r.incidents_per_1000_port_hours === null ? null : Math.round(Number(r.incidents_per_1000_port_hours) * 100) / 100);
  const rows = [...records].sort((a, b) => (rate(a) === null) - (rate(b) === null) || (rate(b) || 0) - (rate(a) || 0));
  const labels = rows.map((r) => {
    const name = [r.vendor, r.model].filter(Boolean).join(" ") || "(model not known)";
    return r.firmware_version ? `${name} (${r.firmware_version})` : name;
  });
  return panel(slot, "fault-rate-chart", "Incidents per 1,000 port-hours per charger model",
    "Incidents opened per 1,000 port-hours of each charger model and firmware (port-hours: the hours its connectors were in service).",
    { legend: { show: false }, tooltip: { trigger: "axis", axisPointer: { type: "shadow" } }, grid: BASE.grid,
      xAxis: { type: "value", name: "incidents per 1,000 port-hours", nameLocation: "middle", nameGap: 30 },
      yAxis: { type: "category", data: labels, inverse: true },
      series: [{ type: "bar", name: "incidents per 1,000 port-hours", data: rows.map(rate) }] },
    ["model", "incidents", "port-hours", "incidents per 1,000 port-hours"], rows.map((r, i) => [labels[i], r.incidents, r.port_hours, rate(r)]));
}

const CHARTS = [
  ["peak_hours", "peak-hours", "Peak hours", peakHours],
  ["utilization", "utilization", "Utilization by hour of day", utilization],
  ["energy_revenue_daily", "energy-revenue", "Energy and revenue per day", energyRevenue],
  ["fault_rate", "fault-rate", "Fault rate by model", faultRate],
];

export async function render(main, _params, query) {
  const now = Date.now();
  const range = { from: query.get("from") || day(now - 29 * DAY_MS), to: query.get("to") || day(now), site: query.get("site") || "" };
  const error = h("p", { class: "error", role: "alert" });
  main.append(h("h1", { text: "Analytics" }), error);
  let sites = [];
  try {
    sites = await all("/sites");
  } catch (failure) {
    error.textContent = problemText(failure);
  }
  const dateField = (id, label, value) => h("div", { class: "field" }, h("label", { for: id, text: label }), h("input", { id, name: id, type: "date", required: true, value }));
  const form = h("form", { id: "analytics-form", class: "filters" },
    dateField("analytics-from", "From (UTC date)", range.from), dateField("analytics-to", "To (UTC date, inclusive)", range.to),
    select("analytics-site", "Site", sites.map((s) => [s.site_id, s.name ? `${s.name} (${s.site_id})` : s.site_id]), range.site, "every site"),
    h("div", { class: "field field-button" }, h("button", { id: "analytics-run", type: "submit", text: "Show" })));
  const status = h("p", { id: "analytics-status", class: "muted", role: "status", "aria-live": "polite" });
  const slots = Object.fromEntries(CHARTS.map(([, id]) => [id, h("div", { id: `${id}-panels` })]));
  main.append(form, status, ...CHARTS.map(([, id, title]) => section(id, title, slots[id])));
  let generation = 0;

  async function show() {
    const mine = (generation += 1);
    const search = new URLSearchParams({ from: range.from, to: range.to, ...(range.site ? { site_id: range.site } : {}) }).toString();
    status.textContent = "Running the queries…";
    for (const slot of Object.values(slots)) slot.replaceChildren();
    const results = await Promise.allSettled(CHARTS.map(([name]) => statistic(name, search)));
    if (mine !== generation) return;
    const failed = results.filter((result) => result.status === "rejected");
    await Promise.all(CHARTS.map(([, id, , chart], i) => {
      const result = results[i];
      if (result.status === "rejected") return slots[id].append(h("p", { class: "error", role: "alert", text: problemText(result.reason) }));
      if (result.value.truncated) slots[id].append(h("p", { class: "muted", text: "Incomplete: the query had more rows than it answers; choose a shorter range or one site." }));
      return chart(slots[id], result.value.records, range.from, range.to);
    }));
    status.textContent = `From ${range.from} to ${range.to}, ${range.site || "every site"}${failed.length ? `; ${failed.length} quer${failed.length === 1 ? "y" : "ies"} failed` : ""}.`;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    range.from = form.querySelector("#analytics-from").value;
    range.to = form.querySelector("#analytics-to").value;
    range.site = form.querySelector("#analytics-site").value;
    keepInAddress("#/analytics", range);
    attempt(error, show);
  });
  await attempt(error, show);
  return () => {
    generation += 1;
  };
}
