// Money: the tariffs (each links its editor), a form that starts a new one, the tariff assignments, and the usage
// report with its parameters in the hash (`#/money?from=&to=&group_by=&period=&tz=`) and its CSV as a download.
import { api, downloadCsv, may } from "../api.js";
import { facts, h, keepInAddress, kwh, link, money, problemText, route, section, select, table, when } from "../dom.js";

const DAY_MS = 86_400_000;
const GROUPS = ["charger", "site", "token", "account"];
const PERIODS = ["day", "week", "month"];
const TARIFF_ID = /^[A-Za-z0-9._-]{1,36}$/;

const midnight = (ms) => `${new Date(ms).toISOString().slice(0, 10)}T00:00:00Z`;

// A price component as text: "ENERGY 0.40 (+19% VAT)"; an element's restrictions follow in brackets.
export function elementText(element) {
  const prices = element.price_components.map((c) => `${c.type} ${c.price}${c.vat ? ` (+${c.vat}% VAT)` : ""}`).join(", ");
  const limits = Object.entries(element.restrictions || {}).filter(([, value]) => value !== null && value !== undefined)
    .map(([name, value]) => `${name} ${Array.isArray(value) ? value.join("/") : value}`);
  return limits.length ? `${prices} [${limits.join(", ")}]` : prices;
}

export const tariffText = (tariff) => (tariff.tariff_alt_text || []).map((text) => text.text).join(" / ") || tariff.type || "—";

function tariffRow(version) {
  return h("tr", { "data-tariff-id": version.id },
    h("td", {}, link(route("tariffs", version.id), version.id)),
    h("td", { text: tariffText(version.tariff) }),
    h("td", { text: version.tariff.currency }),
    h("td", {}, h("ul", { class: "plain" }, version.tariff.elements.map((element) => h("li", { text: elementText(element) })))),
    h("td", { text: version.builtin ? `${version.version} (built-in)` : String(version.version) }),
    h("td", { text: when(version.created_at) }));
}

function assignmentRow(assignment) {
  return h("tr", { "data-assignment-id": assignment.id },
    h("td", {}, h("code", { text: assignment.id })),
    h("td", {}, link(route("tariffs", assignment.tariff_id), assignment.tariff_id)),
    h("td", { text: assignment.scope }), h("td", { text: assignment.target_id || "—" }),
    h("td", { text: when(assignment.valid_from) }), h("td", { text: when(assignment.valid_to) }),
    h("td", { text: when(assignment.created_at) }));
}

const hours = (text) => Number(text).toFixed(2);
const minutes = (seconds) => `${Math.round(seconds / 60)} min`;

function usageRow(row) {
  return h("tr", { "data-period": row.period, "data-group": row.group || "" },
    h("td", { text: row.period }), h("td", { text: row.group || "(none)" }), h("td", { text: row.currency || "unpriced" }),
    h("td", { text: `${row.sessions}${row.unpriced_sessions ? ` (${row.unpriced_sessions} unpriced)` : ""}` }),
    h("td", { text: kwh(Number(row.kwh) * 1000) }), h("td", { text: hours(row.charging_hours) }),
    h("td", { text: hours(row.parking_hours) }), h("td", { text: money(row.revenue_excl_vat, row.currency) }),
    h("td", { text: money(row.revenue_incl_vat, row.currency) }), h("td", { text: minutes(row.average_duration_s) }));
}

function usageSection(query) {
  const now = Date.now();
  const params = {
    from: query.get("from") || midnight(now - 30 * DAY_MS), to: query.get("to") || midnight(now + DAY_MS),
    group_by: query.get("group_by") || "charger", period: query.get("period") || "day", tz: query.get("tz") || "UTC",
  };
  const input = (id, label, name, hint) => h("div", { class: "field" }, h("label", { for: id, text: label }),
    h("input", { id, name, value: params[name], required: true, "aria-describedby": hint ? `${id}-hint` : null }),
    hint ? h("span", { id: `${id}-hint`, class: "hint", text: hint }) : null);
  const error = h("p", { id: "usage-error", class: "error", role: "alert" });
  const summary = h("p", { id: "usage-summary", class: "muted", "aria-live": "polite" });
  const rows = table("usage-rows", "Usage per group and period", ["Period", "Group", "Currency", "Sessions", "Energy",
    "Charging h", "Parking h", "Revenue excl. VAT", "Revenue incl. VAT", "Average duration"], []);
  const totals = table("usage-totals", "Totals per currency", ["Period", "Group", "Currency", "Sessions", "Energy",
    "Charging h", "Parking h", "Revenue excl. VAT", "Revenue incl. VAT", "Average duration"], []);
  const download = h("button", { id: "usage-download", type: "button", hidden: true, text: "Download CSV" });
  let csvPath = null;
  download.addEventListener("click", () => downloadCsv(csvPath,
    `usage-${params.group_by}-${params.period}-${params.from.slice(0, 10)}-${params.to.slice(0, 10)}.csv`)
    .catch((failure) => { error.textContent = problemText(failure); }));
  const form = h("form", { id: "usage-form", class: "filters" },
    input("usage-from", "From (stopped at or after)", "from", "RFC 3339 with a zone"),
    input("usage-to", "To (stopped before)", "to", "RFC 3339 with a zone"),
    select("usage-group-by", "Group by", GROUPS.map((g) => [g, g]), params.group_by, null),
    select("usage-period", "Period", PERIODS.map((p) => [p, p]), params.period, null),
    input("usage-tz", "Time zone", "tz", "IANA, e.g. Europe/Berlin"),
    h("div", { class: "field field-button" }, h("button", { id: "usage-run", type: "submit", text: "Run report" })));

  async function run() {
    for (const [name, id] of [["from", "usage-from"], ["to", "usage-to"], ["group_by", "usage-group-by"], ["period", "usage-period"], ["tz", "usage-tz"]]) {
      params[name] = form.querySelector(`#${id}`).value.trim();
    }
    const search = new URLSearchParams(params).toString();
    keepInAddress("#/money", params);
    error.textContent = "";
    try {
      const report = await api(`/reports/usage?${search}`);
      rows.querySelector("tbody").replaceChildren(...(report.rows.length ? report.rows.map(usageRow)
        : [h("tr", {}, h("td", { colspan: "10", class: "muted", text: "No session stopped in this range." }))]));
      totals.querySelector("tbody").replaceChildren(...report.totals.map(usageRow));
      summary.textContent = `${report.rows.length} row(s) from ${report.from} to ${report.to}, by ${report.group_by} and ${report.period} in ${report.time_zone}.`;
      csvPath = `/reports/usage?${search}&format=csv`; // the same report, fetched when asked for
      download.hidden = false;
    } catch (failure) {
      error.textContent = problemText(failure);
      download.hidden = true;
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  return { element: section("usage", "Usage report", form, error, summary, download, rows, totals), run };
}

function newTariffForm() {
  const error = h("p", { id: "new-tariff-error", class: "error", role: "alert" });
  const id = h("input", { id: "new-tariff-id", name: "tariff_id", required: true, maxlength: 36, "aria-describedby": "new-tariff-hint" });
  return h("form", { id: "new-tariff", class: "filters", on: { submit: (event) => {
    event.preventDefault();
    const value = id.value.trim();
    if (!TARIFF_ID.test(value)) {
      error.textContent = "A tariff id has 1 to 36 letters, digits, '.', '_' or '-'.";
      return;
    }
    location.hash = route("tariffs", value);
  } } },
  h("div", { class: "field" }, h("label", { for: "new-tariff-id", text: "New tariff id" }), id,
    h("span", { id: "new-tariff-hint", class: "hint", text: "Opens the editor with a template to fill in" })),
  h("div", { class: "field field-button" }, h("button", { id: "create-tariff", type: "submit", text: "New tariff" })), error);
}

export async function render(main, _params, query) {
  const error = h("p", { class: "error", role: "alert" });
  const tariffs = table("tariffs", "Tariffs, their current version", ["Tariff", "Text", "Currency", "Elements", "Version", "Written"], []);
  const assignments = table("tariff-assignments", "Tariff assignments", ["Assignment", "Tariff", "Scope", "Target", "Valid from", "Valid to", "Created"], []);
  const counts = h("div", {});
  const usage = usageSection(query);
  main.append(h("h1", { text: "Money" }), error, counts,
    section("tariffs-section", "Tariffs", may("PUT", "/tariffs/{tariff_id}") ? newTariffForm() : null, tariffs),
    section("assignments-section", "Tariff assignments", assignments), usage.element);
  try {
    const tariffList = await api("/tariffs");
    const assignmentList = await api("/tariff-assignments");
    tariffList.items.sort((a, b) => a.id.localeCompare(b.id));
    tariffs.querySelector("tbody").replaceChildren(...tariffList.items.map(tariffRow));
    assignments.querySelector("tbody").replaceChildren(...(assignmentList.items.length ? assignmentList.items.map(assignmentRow)
      : [h("tr", {}, h("td", { colspan: "7", class: "muted", text: "No assignment: sessions are priced by the tariff `default`." }))]));
    counts.replaceChildren(facts("money-counts", [["Tariffs", String(tariffList.items.length)], ["Assignments", String(assignmentList.items.length)]]));
  } catch (failure) {
    error.textContent = problemText(failure);
  }
  await usage.run();
  return null;
}
