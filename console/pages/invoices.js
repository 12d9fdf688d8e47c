// Invoices: the API's filters (status, charger, id tag, issue days) kept in the hash query, newest issued first.
import { h, link, money, route, statusBadge, when } from "../dom.js";
import { chargerLink, listPage } from "./sessions.js";

export const INVOICE_STATUSES = ["issued", "paid", "payment_failed", "settled", "refunded", "partially_refunded", "waived",
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

export function render(main, _params, query) {
  const specs = [
    { name: "status", id: "filter-status", label: "Status", kind: "select", options: INVOICE_STATUSES },
    { name: "charge_point_id", id: "filter-charger", label: "Charger", kind: "text" },
    { name: "id_tag", id: "filter-id-tag", label: "Id tag", kind: "text" },
    { name: "from", id: "filter-from", label: "Issued from (day)", kind: "date" },
    { name: "to", id: "filter-to", label: "Issued until (day, inclusive)", kind: "date" },
  ].map((spec) => ({ ...spec, query: query.get(spec.name) || "" }));
  return listPage(main, {
    title: "Invoices", hash: "#/invoices", path: "/invoices", specs, newest: "issued_at", noun: "invoices",
    headings: ["Invoice", "Session", "Charger", "Issued", "Total (incl. VAT)", "Status"], row: invoiceRow,
  });
}
