// Invoices: the API's filters (status, charger, id tag, issue days) kept in the hash query, newest issued first.
import { chargerLink, h, link, money, route, statusBadge, when } from "../dom.js";
import { filterSpecs, listPage } from "./sessions.js";

const INVOICE_STATUSES = ["issued", "paid", "payment_failed", "settled", "refunded", "partially_refunded", "waived",
  "void", "unpriced"];

export const invoiceNumber = (invoice) => (invoice.number === null || invoice.number === undefined ? "(unnumbered)" : `No. ${invoice.number}`);

function invoiceRow(invoice) {
  return h("tr", { "data-invoice-id": invoice.id },
    h("td", {}, link(route("invoices", invoice.id), invoiceNumber(invoice))),
    h("td", {}, link(route("sessions", invoice.session_id), invoice.session_id)),
    h("td", {}, chargerLink(invoice.charge_point_id)),
    h("td", { text: when(invoice.issued_at) }),
    h("td", { class: "number", text: money(invoice.total_incl_vat, invoice.currency) }),
    h("td", { class: "status" }, statusBadge(invoice.status)));
}

export async function render(main, _params, query) {
  const specs = filterSpecs(query, INVOICE_STATUSES, "Issued");
  return listPage(main, {
    title: "Invoices", hash: "#/invoices", path: "/invoices", specs, newest: "issued_at", noun: "invoices",
    headings: ["Invoice", "Session", "Charger", "Issued", "Total (incl. VAT)", "Status"], row: invoiceRow,
  });
}
