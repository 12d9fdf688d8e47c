// An invoice: every figure it holds (lines, VAT, totals, the tariff version that priced it, payment), its refunds,
// and links to its session and the driver's receipt. `invoiceLines` and `receiptLink` serve the session page too.
import { api, forbid, may } from "../api.js";
import { actionForm, attempt, chargerLink, currencyDigits, facts, h, kwh, link, money, optional, pageHead, problemText, route, section, siteLink, statusBadge, table, textField, when } from "../dom.js";
import { invoiceNumber } from "./invoices.js";

const duration = (seconds) => {
  if (seconds === null || seconds === undefined) return "—";
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
};

// Its lines, then its totals in the table's foot.
export function invoiceLines(id, invoice) {
  const amount = (minor) => money(minor, invoice.currency);
  const rows = invoice.lines.map((line) => h("tr", { "data-dimension": line.dimension },
    h("td", { text: line.description || line.dimension }), h("td", { class: "number", text: `${line.quantity} ${line.unit}` }),
    h("td", { class: "number", text: `${line.unit_price_excl_vat} ${invoice.currency}/${line.unit}` }),
    h("td", { class: "number", text: `${line.vat_rate} %` }), h("td", { class: "number", text: amount(line.amount_excl_vat) }),
    h("td", { class: "number", text: amount(line.vat_amount) }), h("td", { class: "number", text: amount(line.amount_incl_vat) })));
  const element = table(id, invoice.lines.length ? "Lines" : "No lines (an unpriced session)",
    ["Line", "Quantity", "Unit price (excl. VAT)", "VAT rate", "Excl. VAT", "VAT", "Incl. VAT"], rows);
  element.querySelector("table").append(h("tfoot", {}, h("tr", {},
    h("th", { scope: "row", colspan: "4", text: "Total" }), h("td", { class: "number", text: amount(invoice.total_excl_vat) }),
    h("td", { class: "number", text: amount(invoice.total_vat) }), h("td", { class: "number total", text: amount(invoice.total_incl_vat) }))));
  return element;
}

// The driver's receipt: a public page (its token is the credential), opened in a new tab without the key.
export function receiptLink(id, invoice) {
  if (!invoice.receipt_url) return h("span", { id, class: "muted", text: "no receipt (an unpriced session)" });
  return h("a", { id, href: invoice.receipt_url, target: "_blank", rel: "noopener noreferrer", text: "Receipt (opens in a new tab)" });
}

function info(invoice) {
  const amount = (minor) => money(minor, invoice.currency);
  return facts("invoice-info", [
    ["Number", invoiceNumber(invoice)], ["Status", statusBadge(invoice.status)], ["Issued", when(invoice.issued_at)],
    ["Session", h("a", { id: "invoice-session", href: route("sessions", invoice.session_id), text: invoice.session_id })],
    ["Receipt", receiptLink("invoice-receipt", invoice)],
    ["Charger", chargerLink(invoice.charge_point_id)], ["EVSE/connector", `${invoice.evse_id}/${invoice.connector_id}`],
    ["Transaction", invoice.transaction_id], ["Id tag", invoice.id_tag], ["Token group", invoice.token_group],
    ["Site", siteLink(invoice.site_id)],
    ["Time zone", invoice.time_zone], ["Started", when(invoice.started_at)], ["Stopped", when(invoice.stopped_at)],
    ["Energy", kwh(invoice.energy_wh)], ["Charging time", duration(invoice.charging_s)], ["Parking time", duration(invoice.parking_s)],
    ["Tariff", invoice.tariff_id ? [link(route("tariffs", invoice.tariff_id), invoice.tariff_id), ` version ${invoice.tariff_version ?? "—"}`] : "none (unpriced)"],
    ["Price shown", invoice.price_text],
    ["Total excl. VAT", amount(invoice.total_excl_vat)], ["VAT", amount(invoice.total_vat)],
    ["Total incl. VAT", amount(invoice.total_incl_vat)], ["Refunded", amount(invoice.amount_refunded)],
    ["Payment", invoice.payment_id], ["Authorization", invoice.authorization ? statusBadge(invoice.authorization) : null],
    ...optional("Authorization note", invoice.authorization_note),
    ...optional("Waived because", invoice.waived_reason),
    ...optional("Payment minimum", invoice.minimum_s !== null && invoice.minimum_s !== undefined
      ? `${duration(invoice.minimum_s)}, ${kwh(invoice.minimum_wh)}` : null),
    ...optional("Voided", invoice.voided_at ? `${when(invoice.voided_at)}: ${invoice.void_reason || ""}` : null),
    ...optional("Settled", invoice.settled_at ? `${when(invoice.settled_at)}${invoice.settle_note ? `: ${invoice.settle_note}` : ""}` : null),
    ["Flags", invoice.flags.length ? invoice.flags.join(", ") : "none"],
  ]);
}

function refundRows(notes) {
  return notes.map((note) => h("tr", { "data-credit-note-id": note.id },
    h("td", { text: `No. ${note.number}` }), h("td", { text: when(note.issued_at) }),
    h("td", { class: "number", text: money(note.amount, note.currency) }), h("td", { text: note.reason }),
    h("td", { class: "status" }, statusBadge(note.status)),
    h("td", { text: [...note.refund_ids, ...note.failed_refund_ids.map((id) => `${id} (failed)`)].join(", ") || "—" })));
}

// What may be done to an invoice in its status: void or settle an unpaid one, refund a paid one (docs/invoices.md).
const UNPAID = new Set(["issued", "payment_failed"]);
const PAID = new Set(["paid", "partially_refunded"]);
const ROUTE = "/invoices/{invoice_id}";

// An amount typed in the currency's units ("1.50") in its minor units (150); null for none, NaN for nonsense.
export function minorUnits(text, currency) {
  if (!text.trim()) return null;
  const digits = currencyDigits(currency);
  return /^\d+([.,]\d+)?$/.test(text.trim()) ? Math.round(Number(text.trim().replace(",", ".")) * 10 ** digits) : NaN;
}

function actions(invoice, act) {
  const forms = [];
  if (UNPAID.has(invoice.status) && may("POST", `${ROUTE}/settle`)) {
    forms.push(actionForm("settle-form", "Settle (paid outside Stripe)",
      textField("settle-note", "How it was paid (optional)", "textarea", { maxlength: "500", rows: "2" }),
      { id: "settle", text: "Settle" }, (form) => act("settle", { note: form.elements["settle-note"].value.trim() || null }, "Settled.")));
  }
  if (UNPAID.has(invoice.status) && may("POST", `${ROUTE}/void`)) {
    forms.push(actionForm("void-form", "Void (billed in error)",
      textField("void-reason", "Why", "textarea", { maxlength: "500", rows: "2" }),
      { id: "void", text: "Void" }, (form) => act("void", { reason: form.elements["void-reason"].value.trim() }, "Voided.")));
  }
  if (PAID.has(invoice.status) && may("POST", `${ROUTE}/refunds`)) {
    // One key per form: a retried click refunds once (the API's Idempotency-Key), a new refund gets a new form.
    const key = crypto.randomUUID();
    forms.push(actionForm("refund-form", "Refund",
      [textField("refund-amount", `Amount in ${invoice.currency}, VAT included (empty: all not refunded yet)`, "input",
        { inputmode: "decimal", autocomplete: "off" }),
      textField("refund-reason", "Why (on the credit note)", "textarea", { maxlength: "500", rows: "2" })],
      { id: "refund", text: "Refund" }, (form) => act("refunds", {
        amount: minorUnits(form.elements["refund-amount"].value, invoice.currency), reason: form.elements["refund-reason"].value.trim(),
      }, "Refund requested.", { "Idempotency-Key": key })));
  }
  return forms;
}

export async function render(main, [invoiceId]) {
  const path = `/invoices/${encodeURIComponent(invoiceId)}`;
  const error = pageHead(main, ["#/invoices", "Invoices"], `Invoice ${invoiceId}`);
  const content = h("div", {});
  const result = h("p", { id: "invoice-action-result", role: "status", "aria-live": "polite" });
  const refusal = h("p", { id: "invoice-action-error", class: "error", role: "alert" });
  main.append(content);

  async function show() {
    const [invoice, refunds] = await Promise.all([api(path), api(`${path}/refunds`)]);
    main.querySelector("h1").textContent = `Invoice ${invoiceNumber(invoice)}`;
    const forms = actions(invoice, act);
    content.replaceChildren(h("p", { class: "muted", text: invoice.id }), info(invoice),
      forms.length ? section("invoice-actions-section", "Act on it", h("div", { id: "invoice-actions", class: "cards actions" }, forms)) : "",
      result, refusal,
      section("invoice-lines-section", "Lines and totals", invoiceLines("invoice-lines", invoice)),
      section("invoice-refunds-section", "Refunds", refunds.items.length
        ? table("invoice-refunds", "Credit notes", ["Credit note", "Issued", "Amount", "Reason", "Status", "Stripe refunds"],
          refundRows(refunds.items))
        : h("p", { id: "invoice-refunds-none", class: "muted", text: "No refunds." })));
  }

  async function act(what, body, done, headers = {}) {
    result.textContent = "";
    refusal.textContent = "";
    if (Number.isNaN(body.amount)) {
      refusal.textContent = "The amount is a number in the invoice's currency, like 12.50, or empty for all of it.";
      return false;
    }
    try {
      await api(`${path}/${what}`, { method: "POST", body, headers });
    } catch (failure) {
      if (failure.status === 403) forbid("POST", `${ROUTE}/${what}`);
      refusal.textContent = problemText(failure);
      return false;
    }
    await attempt(error, show);
    result.textContent = done;
    return true;
  }

  await attempt(error, show);
  return null;
}
