// A tariff: its current version, and its OCPI 2.2.1 Tariff object edited as JSON; Save writes the next version
// (PUT /tariffs/{id}) and the API's validation message is shown beside the form. An id that has no tariff yet opens
// the editor with a template: saving it creates version 1. A preview tells which tariff a charger's next session
// would be priced by.
import { api, forbid, may } from "../api.js";
import { facts, h, link, pageHead, problemText, route, section, statusBadge, when } from "../dom.js";
import { elementText, tariffText } from "./money.js";

const PUT_TARIFF = ["PUT", "/tariffs/{tariff_id}"];

const TEMPLATE = {
  currency: "EUR", type: "REGULAR",
  tariff_alt_text: [{ language: "en", text: "0.40 EUR/kWh plus 19% VAT" }],
  elements: [{ price_components: [{ type: "ENERGY", price: "0.40", vat: "19", step_size: 1 }] }],
};

function info(version) {
  if (!version) return facts("tariff-info", [["Version", "new: saving creates version 1"]]);
  return facts("tariff-info", [["Version", h("span", { id: "tariff-version", text: String(version.version) })],
    ["Written", when(version.created_at)], ["Built-in default", version.builtin ? "yes (saving makes it the operator's)" : "no"],
    ["Currency", version.tariff.currency], ["Text", tariffText(version.tariff)],
    ["Elements", h("ol", { id: "tariff-elements", class: "plain" }, version.tariff.elements.map((e) => h("li", { text: elementText(e) })))]]);
}

// The problem's detail and, when it has more than the one its detail already says, each per-field error
// ("body.elements.0.price_components.0.price: ...").
function problem(failure) {
  const errors = (failure.problem && failure.problem.errors) || [];
  return [h("span", { text: problemText(failure) }),
    errors.length > 1 ? h("ul", { id: "tariff-error-fields" }, errors.map((e) => h("li", {}, h("code", { text: e.path || "(body)" }), `: ${e.message}`))) : ""];
}

function previewSection(tariffId) {
  const charger = h("input", { id: "quote-charger", name: "charge_point_id", required: true });
  const result = h("div", { id: "quote-result", role: "status", "aria-live": "polite" });
  return section("quote", "Which tariff a session would get",
    h("form", { class: "filters", on: { submit: async (event) => {
      event.preventDefault();
      try {
        const found = await api(`/tariff-resolutions?charge_point_id=${encodeURIComponent(charger.value.trim())}`);
        result.replaceChildren(h("p", {}, found.priced
          ? [link(route("tariffs", found.tariff_id), `${found.tariff_id} v${found.version}`), ` by ${found.scope}`,
            found.tariff_id === tariffId ? " (this tariff)" : ""]
          : statusBadge("unpriced"), `: ${found.reason}`));
      } catch (failure) {
        result.replaceChildren(h("p", { class: "error", role: "alert" }, problem(failure)));
      }
    } } },
    h("div", { class: "field" }, h("label", { for: "quote-charger", text: "Charger id" }), charger),
    h("div", { class: "field field-button" }, h("button", { id: "quote-run", type: "submit", text: "Resolve" }))), result);
}

export async function render(main, [tariffId]) {
  const path = `/tariffs/${encodeURIComponent(tariffId)}`;
  const loadError = pageHead(main, ["#/money", "Money"], `Tariff ${tariffId}`);
  let version = null;
  try {
    version = await api(path);
  } catch (failure) {
    if (failure.status !== 404) {
      loadError.textContent = problemText(failure);
      return null;
    }
  }
  const infoSlot = h("div", {}, info(version));
  const text = h("textarea", { id: "tariff-json", name: "tariff", rows: 22, spellcheck: "false", "aria-describedby": "tariff-json-hint tariff-error" });
  text.value = JSON.stringify(version ? version.tariff : TEMPLATE, null, 2);
  const error = h("div", { id: "tariff-error", class: "error", role: "alert" });
  const saved = h("p", { id: "tariff-saved", role: "status", "aria-live": "polite" });
  const save = h("button", { id: "tariff-save", type: "submit", text: version ? "Save as the next version" : "Create" });
  const form = h("form", { id: "tariff-form", class: "card", on: { submit: async (event) => {
    event.preventDefault();
    error.replaceChildren();
    saved.textContent = "";
    let body;
    try {
      body = JSON.parse(text.value);
    } catch (failure) {
      error.replaceChildren(`The JSON does not parse: ${failure.message}`);
      return;
    }
    save.disabled = true;
    try {
      version = await api(path, { method: "PUT", body });
      infoSlot.replaceChildren(info(version));
      text.value = JSON.stringify(version.tariff, null, 2);
      save.textContent = "Save as the next version";
      saved.textContent = `Saved: version ${version.version}.`;
    } catch (failure) {
      if (failure.status === 403) forbid(...PUT_TARIFF);
      error.replaceChildren(...problem(failure));
    } finally {
      save.disabled = false;
    }
  } } },
  h("div", { class: "field" }, h("label", { for: "tariff-json", text: "OCPI 2.2.1 Tariff (JSON)" }), text,
    h("span", { id: "tariff-json-hint", class: "hint", text: "currency (ISO 4217), elements with price_components (ENERGY per kWh, TIME and PARKING_TIME per hour, FLAT per session; price excluding VAT, vat in %, step_size) and optional restrictions; tariff_alt_text is what drivers are shown." })),
  error, save, saved);
  const editable = may(...PUT_TARIFF);
  const readOnly = h("p", { id: "tariff-read-only", class: "muted", hidden: editable,
    text: "This API key may not change tariffs (operator and admin keys may): the tariff is shown, not editable." });
  text.readOnly = !editable;
  save.hidden = !editable;
  main.append(infoSlot, section("tariff-edit", editable ? "Edit" : "Its JSON", readOnly, form), previewSection(tariffId));
  return null;
}
