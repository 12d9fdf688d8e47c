// An invoice: every figure it holds (lines, VAT, totals, the tariff version that priced it, payment), its refunds,
// and links to its session and the driver's receipt. `invoiceLines` and `receiptLink` serve the session page too.
import { api } from "../api.js";
import { chargerLink, facts, h, kwh, link, money, optional, pageHead, problemText, route, section, siteLink, statusBadge, table, when } from "../dom.js";
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

export async function render(main, [invoiceId]) {
  const path = `/invoices/${encodeURIComponent(invoiceId)}`;
  const error = pageHead(main, ["#/invoices", "Invoices"], `Invoice ${invoiceId}`);
  try {
    const [invoice, refunds] = await Promise.all([api(path), api(`${path}/refunds`)]);
    main.querySelector("h1").textContent = `Invoice ${invoiceNumber(invoice)}`;
    main.append(h("p", { class: "muted", text: invoice.id }), info(invoice),
      section("invoice-lines-section", "Lines and totals", invoiceLines("invoice-lines", invoice)),
      section("invoice-refunds-section", "Refunds", refunds.items.length
        ? table("invoice-refunds", "Credit notes", ["Credit note", "Issued", "Amount", "Reason", "Status", "Stripe refunds"],
          refundRows(refunds.items))
        : h("p", { id: "invoice-refunds-none", class: "muted", text: "No refunds." })));
  } catch (failure) {
    error.textContent = problemText(failure);
  }
  return null;
}
