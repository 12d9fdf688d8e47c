// A session: where and with which id tag it ran, its readings, status and flags; its energy and power over time as a
// chart with the figures in a table beside it; and its invoice with the receipt. Refreshed every 5 s while it is
// active or its invoice is still to come.
import { all, api, forbid, may } from "../api.js";
import { chartBox, draw } from "../charts.js";
import { actionForm, chargerLink, facts, firstRead, h, kwh, link, money, optional, pageHead, problemText, route, section, select, siteLink, statusBadge, table, textField, when } from "../dom.js";
import { invoiceLines, receiptLink } from "./invoice.js";
import { invoiceNumber } from "./invoices.js";

const REFRESH_MS = 5000;
const SETTLE = "/sessions/{session_id}/settle";
// How long a completed session's page looks for its invoice (billing issues it from the session's end event).
const INVOICE_WAIT_MS = 120_000;
const ENERGY = "Energy.Active.Import.Register";
const POWER = "Power.Active.Import";
const KILO = { kWh: 1000, kW: 1000 };

// The whole meter's value of `measurand` (Wh or W) among a meter value's samples, else the sum of its phases, as
// the CSMS reads them (services/sessions/periods.py); null without any.
function measured(samples, measurand) {
  let whole = null;
  const phases = new Map();
  for (const sample of samples) {
    if ((sample.measurand || ENERGY) !== measurand || (sample.format && sample.format !== "Raw")) continue;
    const reading = Number(sample.value) * (KILO[sample.unit] || 1);
    if (!Number.isFinite(reading)) continue;
    if (!sample.phase) whole = whole ?? reading;
    else if (["L1", "L2", "L3"].includes(sample.phase.slice(0, 2)) && !phases.has(sample.phase.slice(0, 2))) phases.set(sample.phase.slice(0, 2), reading);
  }
  return whole ?? (phases.size ? [...phases.values()].reduce((sum, value) => sum + value, 0) : null);
}

// Energy since the start (kWh) at the start, each reading and the stop; power (kW) from the charger's
// Power.Active.Import samples, or else each interval's average from the energy between two readings.
export function meterSeries(session) {
  const readings = session.meter_values.map((value) => ({ at: Date.parse(value.timestamp), energy: measured(value.sampled_value, ENERGY),
    power: measured(value.sampled_value, POWER) })).filter((reading) => Number.isFinite(reading.at));
  const firstRegister = readings.find((reading) => reading.energy !== null);
  const base = session.meter_start ?? (firstRegister ? firstRegister.energy : null);
  const energyAt = new Map();
  const put = (at, wh) => {
    if (Number.isFinite(at) && wh !== null && base !== null) energyAt.set(at, (wh - base) / 1000);
  };
  if (session.meter_start !== null && session.meter_start !== undefined) put(Date.parse(session.started_at), session.meter_start);
  for (const reading of readings) put(reading.at, reading.energy);
  if (session.meter_stop !== null && session.meter_stop !== undefined && session.stopped_at) put(Date.parse(session.stopped_at), session.meter_stop);
  const energy = [...energyAt].sort(([a], [b]) => a - b);
  const sampled = readings.filter((reading) => reading.power !== null).map((reading) => [reading.at, reading.power / 1000]);
  const derived = energy.slice(1).map(([at, kwhNow], index) => [at, at > energy[index][0]
    ? (kwhNow - energy[index][1]) / ((at - energy[index][0]) / 3_600_000) : null]).filter(([, kw]) => kw !== null);
  return sampled.length
    ? { energy, power: sampled, powerSource: "from the charger's Power.Active.Import samples", derived: false }
    : { energy, power: derived, powerSource: "derived: each interval's average from the energy between two readings", derived: true };
}

function chartOption(series) {
  const round = (value) => Math.round(value * 1000) / 1000;
  return {
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 56, right: 56, top: 48, bottom: 40 },
    xAxis: { type: "time", axisLabel: { hideOverlap: true } },
    yAxis: [{ type: "value", name: "kWh", min: 0 }, { type: "value", name: "kW", min: 0, position: "right", splitLine: { show: false } }],
    series: [
      { name: "Energy since start (kWh)", type: "line", yAxisIndex: 0, showSymbol: true, data: series.energy.map(([at, value]) => [at, round(value)]) },
      { name: series.derived ? "Power (kW, derived)" : "Power (kW, sampled)", type: "line", yAxisIndex: 1, showSymbol: true,
        step: series.derived ? "start" : false, data: series.power.map(([at, value]) => [at, round(value)]) },
    ],
  };
}

function figureRows(series) {
  const times = [...new Set([...series.energy, ...series.power].map(([at]) => at))].sort((a, b) => a - b);
  const energy = new Map(series.energy);
  const power = new Map(series.power);
  const figure = (value) => (value === undefined ? "—" : value.toFixed(3));
  return times.map((at) => h("tr", {}, h("td", { text: new Date(at).toLocaleString() }),
    h("td", { class: "number", text: figure(energy.get(at)) }), h("td", { class: "number", text: figure(power.get(at)) })));
}

function info(session) {
  const cost = (value) => (value ? `${money(value.total_incl_vat, value.currency)} incl. VAT (${money(value.total_excl_vat, value.currency)} excl.) at ${when(value.at)}` : null);
  const settlement = session.settlement;
  return facts("session-info", [
    ["Charger", chargerLink(session.charge_point_id)], ["EVSE/connector", `${session.evse_id}/${session.connector_id}`],
    ["Transaction", session.transaction_id],
    ["Id tag", session.id_tag ? link(`#/sessions?id_tag=${encodeURIComponent(session.id_tag)}`, session.id_tag) : null],
    ["Id tag status", session.id_tag_status ? statusBadge(session.id_tag_status) : null],
    ["Status", statusBadge(session.status)], ["Started", when(session.started_at)], ["Stopped", when(session.stopped_at)],
    ["Stop reason", session.stop_reason],
    ["Meter start", session.meter_start === null ? null : `${session.meter_start} Wh`],
    ["Meter stop", session.meter_stop === null ? null : `${session.meter_stop} Wh`],
    ["Energy (billed)", kwh(session.energy_wh)],
    ["Flags", (session.flags || []).length ? session.flags.join(", ") : "none"],
    ...optional("Implausible because", (session.implausible_reasons || []).join(", ")),
    ...optional("Settled", settlement ? `${when(settlement.settled_at)}: ${settlement.void ? "void" : "billed"}${settlement.note ? `, ${settlement.note}` : ""}` : null),
    ["Site", siteLink(session.site_id)],
    ["Tariff", session.tariff_id ? [link(route("tariffs", session.tariff_id), session.tariff_id), ` version ${session.tariff_version ?? "—"}`] : "none (unpriced)"],
    ["Price shown", session.price_text], ["Running cost", cost(session.running_cost)], ["Final cost", cost(session.final_cost)],
    ["OCPP version", session.ocpp_version], ["Time zone", session.time_zone], ["Token group", session.token_group],
    ["Account", session.account_id], ["Charging priority", String(session.charging_priority)],
  ]);
}

async function invoiceOf(session) {
  // Issued by the CSMS's clock after the session ended by the charger's, which may be off by hours (or stop before it
  // starts): a day's margin still keeps a busy charger's older invoices out of the read.
  const ended = Math.min(...[session.started_at, session.stopped_at].filter(Boolean).map(Date.parse));
  const from = new Date(ended - 86_400_000).toISOString();
  const invoices = await all(`/invoices?charge_point_id=${encodeURIComponent(session.charge_point_id)}&from=${encodeURIComponent(from)}`);
  return invoices.find((invoice) => invoice.session_id === session.id) || null;
}

function invoicePart(session, invoice, waited) {
  if (!invoice) {
    const why = session.status === "active" ? "The session is still active: its invoice comes when it ends."
      : session.status === "completed" && !waited ? "No invoice yet: billing issues it when the session's end arrives; this page looks again every 5 s for two minutes."
        : `No invoice for this session (${session.status}).`;
    return [h("p", { id: "session-invoice-none", class: "muted", text: why })];
  }
  return [
    facts("session-invoice-facts", [
      ["Invoice", h("a", { id: "session-invoice-link", href: route("invoices", invoice.id), text: invoiceNumber(invoice) })],
      ["Status", statusBadge(invoice.status)], ["Issued", when(invoice.issued_at)],
      ["Total incl. VAT", money(invoice.total_incl_vat, invoice.currency)], ["Receipt", receiptLink("session-receipt", invoice)]]),
    invoiceLines("session-invoice-lines", invoice),
  ];
}

// An implausible session is billed only once an operator settles it: the energy to bill, or void (never billed).
function settleForm(session, onSettled) {
  const refusal = h("p", { id: "session-settle-error", class: "error", role: "alert" });
  const form = actionForm("session-settle-form", "Settle this implausible session", [
    select("settle-outcome", "Outcome", [["bill", "bill this energy"], ["void", "void: never bill it"]], "bill", null),
    textField("settle-energy", "Energy to bill (Wh)", "input", { type: "number", min: "0", step: "1", inputmode: "numeric" }),
    textField("settle-session-note", "Why (optional)", "textarea", { maxlength: "500", rows: "2" })],
  { id: "settle-session", text: "Settle" }, async (element) => {
    refusal.textContent = "";
    const voided = element.elements["settle-outcome"].value === "void";
    const energy = element.elements["settle-energy"].value.trim();
    const body = { ...(voided ? { void: true } : { energy_wh: energy === "" ? null : Number(energy) }),
      note: element.elements["settle-session-note"].value.trim() || null };
    try {
      await api(`/sessions/${encodeURIComponent(session.id)}/settle`, { method: "POST", body });
    } catch (failure) {
      if (failure.status === 403) forbid("POST", SETTLE);
      refusal.textContent = problemText(failure);
      return false;
    }
    await onSettled();
    return true;
  });
  return [h("p", { class: "muted", text: `Why it is implausible: ${(session.implausible_reasons || []).join(", ") || "—"}.` }), form, refusal];
}

export async function render(main, [sessionId]) {
  const path = `/sessions/${encodeURIComponent(sessionId)}`;
  const error = pageHead(main, ["#/sessions", "Sessions"], `Session ${sessionId}`);
  let session = await firstRead(error, api(path));
  if (!session) return null;
  const infoSlot = h("div", {}, info(session));
  const box = chartBox("session-chart", "Energy since the start (kWh) and power (kW) over time; the figures are in the table beside it");
  const note = h("p", { id: "session-chart-note", class: "muted" });
  const figures = table("session-figures", "Energy and power over time", ["Time", "Energy since start (kWh)", "Power (kW)"], []);
  const invoiceSlot = h("div", { id: "session-invoice", "aria-live": "polite" });
  const opened = Date.now();
  let invoice = null;

  async function show() {
    const series = meterSeries(session);
    infoSlot.replaceChildren(info(session));
    note.textContent = series.energy.length || series.power.length
      ? `${series.energy.length} energy points; power ${series.powerSource}.`
      : "No meter values yet.";
    figures.querySelector("tbody").replaceChildren(...figureRows(series));
    await draw(box, chartOption(series));
  }

  async function refresh(reload = true) {
    try {
      if (reload) session = await api(path);
      if (!invoice && session.status !== "active") invoice = await invoiceOf(session);
      await show();
      if (!settleSlot.contains(document.activeElement)) drawSettle();
      invoiceSlot.replaceChildren(...invoicePart(session, invoice, Date.now() - opened > INVOICE_WAIT_MS));
      error.textContent = "";
    } catch (failure) {
      error.textContent = problemText(failure);
    }
  }

  const settleSlot = h("div", {});
  const drawSettle = () => settleSlot.replaceChildren(...(session.status === "implausible" && may("POST", SETTLE)
    ? [section("session-settle", "Settle", settleForm(session, () => refresh()))] : []));
  main.append(infoSlot, settleSlot,
    section("session-meter", "Energy and power", note, h("div", { class: "session-chart-pair" }, box, figures)),
    section("session-invoice-section", "Invoice", invoiceSlot));
  await refresh(false);
  const timer = setInterval(() => {
    if (session.status === "active" || (!invoice && session.status === "completed" && Date.now() - opened <= INVOICE_WAIT_MS)) refresh();
  }, REFRESH_MS);
  return () => clearInterval(timer);
}
