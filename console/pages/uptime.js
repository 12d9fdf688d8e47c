// Uptime: NEVI's µ for a site or a charger over a window (30 days by default), per charger and per port, with each
// port's outages; a chart of each port's µ per day; and the quarter's NEVI report as a CSV download.
//
// GET /uptime answers totals for the window and every outage (from, to, minutes, excluded minutes), so the per-day
// figures are computed here from those outages, from one request: a day's µ is its port-minutes (since the port's
// registration, until the window's end) less its outage minutes, the excluded part of an outage counted pro rata
// (the API says how much of an outage is excluded, not when), over its port-minutes.
import { all, api, downloadCsv } from "../api.js";
import { chargerLink, facts, h, keepInAddress, link, problemText, section, table, when } from "../dom.js";
import { chartBox, draw } from "../charts.js";

const DAY_MS = 86400000;
const DEFAULT_DAYS = 30;
const FILTERS = { site: "uptime-site", charger: "uptime-charger", from: "uptime-from", to: "uptime-to" };

const percent = (value) => (value === null || value === undefined ? "—" : `${value.toFixed(4)} %`);
const mins = (value) => (value === null || value === undefined ? "—" : `${Number(value).toFixed(1)} min`);
const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);

// Each port's µ per UTC day of the window, from its outages; null before its registration.
export function daily(report) {
  const start = Date.parse(report.from);
  const end = Date.parse(report.to);
  const days = [];
  for (let day = Math.floor(start / DAY_MS) * DAY_MS; day < end; day += DAY_MS) days.push(day);
  const overlap = (a0, a1, b0, b1) => Math.max(0, Math.min(a1, b1) - Math.max(a0, b0)) / 60000;
  const ports = report.ports.map((port) => {
    const born = Math.max(Date.parse(port.registered_at), start);
    const values = days.map((day) => {
      const minutes = overlap(day, day + DAY_MS, born, end);
      if (minutes <= 0) return null;
      const down = port.outages.reduce((sum, o) => {
        const counted = o.minutes > 0 ? 1 - o.excluded_minutes / o.minutes : 1;
        return sum + overlap(day, day + DAY_MS, Date.parse(o.from), Date.parse(o.to)) * counted;
      }, 0);
      return Math.round(((minutes - down) / minutes) * 1e6) / 1e4;
    });
    return { name: `${port.charge_point_id} EVSE ${port.evse_id}`, values };
  });
  return { days: days.map(isoDay), ports };
}

const currentQuarter = () => {
  const now = new Date();
  return `${now.getUTCFullYear()}Q${Math.floor(now.getUTCMonth() / 3) + 1}`;
};

function portRows(ports) {
  return ports.map((p) => h("tr", { "data-charger-id": p.charge_point_id, "data-evse-id": String(p.evse_id) },
    h("td", {}, chargerLink(p.charge_point_id)), h("td", { text: String(p.evse_id) }),
    h("td", { class: "uptime-percent", text: percent(p.uptime_percent) }), h("td", { text: mins(p.minutes) }),
    h("td", { text: mins(p.outage_minutes) }), h("td", { text: mins(p.excluded_minutes) }),
    h("td", { text: String(p.outages.length) }), h("td", { text: when(p.registered_at) })));
}

function chargerRows(chargers) {
  return chargers.map((c) => h("tr", { "data-charger-id": c.charge_point_id },
    h("td", {}, link(`#/uptime?charger=${encodeURIComponent(c.charge_point_id)}`, c.charge_point_id)),
    h("td", { class: "uptime-percent", text: percent(c.uptime_percent) }), h("td", { text: mins(c.minutes) }),
    h("td", { text: mins(c.outage_minutes) }), h("td", { text: mins(c.excluded_minutes) })));
}

function outageRows(ports) {
  return ports.flatMap((p) => p.outages.map((o) => h("tr", {},
    h("td", { text: `${p.charge_point_id} EVSE ${p.evse_id}` }), h("td", { text: when(o.from) }), h("td", { text: when(o.to) }),
    h("td", { text: o.cause }), h("td", { text: mins(o.minutes) }),
    h("td", { text: o.excluded ? "wholly" : mins(o.excluded_minutes) }))));
}

export async function render(main, _params, query) {
  const today = isoDay(Date.now());
  const filters = {
    site: query.get("site") || "", charger: query.get("charger") || "",
    from: query.get("from") || isoDay(Date.now() - (DEFAULT_DAYS - 1) * DAY_MS), to: query.get("to") || today,
  };
  const error = h("p", { class: "error", role: "alert" });
  const controls = h("form", { id: "uptime-filters", class: "filters", on: { submit: (event) => event.preventDefault() } });
  const results = h("div", { id: "uptime-results", "aria-live": "polite" });
  const nevi = h("form", { id: "nevi-form", class: "filters" });
  const neviError = h("p", { id: "nevi-error", class: "error", role: "alert" });
  let chargers = [];
  let sites = [];

  const choice = (id, label, options, value) => h("div", { class: "field" }, h("label", { for: id, text: label }),
    h("select", { id, name: id }, h("option", { value: "", text: "choose…" }),
      options.map((option) => h("option", { value: option, text: option, selected: option === value }))));
  const day = (id, label, value) => h("div", { class: "field" }, h("label", { for: id, text: label }),
    h("input", { id, name: id, type: "date", value, max: today }));

  function drawControls() {
    controls.replaceChildren(
      choice(FILTERS.site, "Site", sites.map((s) => s.site_id), filters.site),
      choice(FILTERS.charger, "or charger", chargers.map((c) => c.charge_point_id), filters.charger),
      day(FILTERS.from, "From (UTC day)", filters.from), day(FILTERS.to, "To (UTC day, included)", filters.to));
  }

  let generation = 0; // the latest load: an earlier one still waiting on the API draws nothing

  async function load() {
    const mine = (generation += 1);
    error.textContent = "";
    const target = filters.site ? ["site_id", filters.site] : filters.charger ? ["charge_point_id", filters.charger] : null;
    if (!target) {
      results.replaceChildren(h("p", { class: "muted", text: "Choose a site or a charger." }));
      return;
    }
    try {
      await show(target, mine);
    } catch (failure) {
      if (mine === generation) error.textContent = problemText(failure);
    }
  }

  async function show(target, mine) {
    const to = new Date(Date.parse(filters.to) + DAY_MS).toISOString(); // a bookmark's bad day throws: shown
    const from = new Date(Date.parse(filters.from)).toISOString();
    const report = await api(`/uptime?${target[0]}=${encodeURIComponent(target[1])}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
    if (mine !== generation) return;
    results.replaceChildren();
    const whole = report.site || (report.chargers.length === 1 ? report.chargers[0] : null);
    const figure = whole ? percent(whole.uptime_percent) : "—";
    results.append(
      h("p", { id: "uptime-figure", class: "card" }, h("strong", { text: `µ = ${figure}` }),
        ` for ${target[1]} from ${when(report.from)} to ${when(report.to)}`),
      whole ? facts("uptime-summary", [["Port-minutes", mins(whole.minutes)], ["Outage (D)", mins(whole.outage_minutes)],
        ["Excluded", mins(whole.excluded_minutes)], ["µ (NEVI)", percent(whole.uptime_percent)]]) : "");
    const perDay = daily(report);
    const box = chartBox("uptime-chart", `Uptime per day and port of ${target[1]}, percent`);
    results.append(section("uptime-chart-section", "µ per day and port", box,
      h("p", { class: "muted", text: "Per UTC day, from the window's outages (excluded minutes pro rata); the table below has the figures." }),
      h("details", { id: "uptime-daily-details" }, h("summary", { text: "The figures per day" }),
        table("uptime-daily", "µ per day (%)", ["Day", ...perDay.ports.map((p) => p.name)],
          perDay.days.map((dayText, index) => h("tr", {}, h("td", { text: dayText }),
            perDay.ports.map((p) => h("td", { text: p.values[index] === null ? "—" : p.values[index].toFixed(4) }))))))),
    section("uptime-chargers-section", "Per charger", table("uptime-chargers", "µ per charger",
      ["Charger", "µ", "Port-minutes", "Outage", "Excluded"], chargerRows(report.chargers))),
    section("uptime-ports-section", "Per port", table("uptime-ports", "µ per port (EVSE)",
      ["Charger", "EVSE", "µ", "Port-minutes", "Outage", "Excluded", "Outages", "Registered"], portRows(report.ports))),
    section("uptime-outages-section", "Outages", table("uptime-outages", "Outages in the window",
      ["Port", "From", "To", "Cause", "Minutes", "Excluded"], outageRows(report.ports))));
    await draw(box, {
      legend: { type: "scroll", top: 0 }, grid: { left: 56, right: 16, top: 40, bottom: 40 },
      xAxis: { type: "category", data: perDay.days },
      yAxis: { type: "value", name: "µ %", max: 100, min: (value) => Math.max(0, Math.floor(value.min - 1)) },
      tooltip: { trigger: "axis" },
      series: perDay.ports.map((p) => ({ type: "line", name: p.name, data: p.values, connectNulls: false, showSymbol: true })),
    });
  }

  controls.addEventListener("change", (event) => {
    const name = Object.keys(FILTERS).find((key) => FILTERS[key] === event.target.id);
    filters[name] = event.target.value;
    if (name === "site" && filters.site) filters.charger = "";
    if (name === "charger" && filters.charger) filters.site = "";
    if (!filters.from) filters.from = isoDay(Date.now() - (DEFAULT_DAYS - 1) * DAY_MS);
    if (!filters.to) filters.to = today;
    keepInAddress("#/uptime", filters);
    drawControls();
    document.getElementById(event.target.id)?.focus();
    load();
  });

  const quarter = h("input", { id: "nevi-quarter", name: "nevi-quarter", value: currentQuarter(), size: "8", "aria-describedby": "nevi-hint" });
  nevi.append(h("div", { class: "field" }, h("label", { for: "nevi-quarter", text: "Quarter" }), quarter,
    h("span", { id: "nevi-hint", class: "hint", text: "YYYYQn, e.g. 2026Q4" })),
  h("div", { class: "field" }, h("span", { "aria-hidden": "true", text: " " }),
    h("button", { id: "nevi-download", type: "submit", text: "Download the NEVI report (CSV)" })));
  nevi.addEventListener("submit", async (event) => {
    event.preventDefault();
    neviError.textContent = "";
    const target = filters.site ? ["site_id", filters.site] : filters.charger ? ["charge_point_id", filters.charger] : null;
    if (!target) {
      neviError.textContent = "Choose a site or a charger first: the report is one site's or one charger's.";
      return;
    }
    try {
      await downloadCsv(`/uptime/nevi-report?quarter=${encodeURIComponent(quarter.value)}&${target[0]}=${encodeURIComponent(target[1])}`,
        `nevi-${target[1]}-${quarter.value}.csv`);
    } catch (failure) {
      neviError.textContent = problemText(failure);
    }
  });

  main.append(h("h1", { text: "Uptime" }),
    h("p", { class: "muted", text: "NEVI's µ (23 CFR 680.116(b)): port-minutes less outages not excluded, over port-minutes since each port's registration." }),
    error, controls, results,
    section("nevi-section", "NEVI quarterly report", nevi, neviError));
  try {
    [chargers, sites] = await Promise.all([all("/chargers"), all("/sites")]);
    chargers.sort((a, b) => a.charge_point_id.localeCompare(b.charge_point_id));
  } catch (failure) {
    error.textContent = problemText(failure);
  }
  drawControls();
  await load();
  return null;
}
