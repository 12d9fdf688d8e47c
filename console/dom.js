// Builds elements without innerHTML, so no text from the API is ever read as markup; and the small pieces every
// page shares (tables, facts, selects, dates, money), so pages look and read alike.
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "on") for (const [event, handler] of Object.entries(value)) element.addEventListener(event, handler);
    else if (name === "text") element.textContent = value;
    else if (name in element && typeof value !== "string") element[name] = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  element.append(...children.flat(Infinity).filter((child) => child !== undefined && child !== null && child !== false));
  return element;
}

// A status as text and colour: the class names the colour, the text says it for those who cannot see it.
export function statusBadge(status) {
  const text = status || "unknown";
  return h("span", { class: `badge status-${text.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`, text });
}

export function problemText(error) {
  return error && error.detail ? error.detail : String(error && error.message ? error.message : error);
}

export const when = (text) => (text ? new Date(text).toLocaleString() : "—");

export const link = (href, text) => h("a", { href, text });

// A route's address with its ids percent-encoded: `route("chargers", id)` is `#/chargers/<id>`.
export const route = (...parts) => `#/${parts.map(encodeURIComponent).join("/")}`;

// How many digits a currency's minor units have: 2 for EUR (cents), 0 for JPY.
export const currencyDigits = (currency) =>
  new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;

// Minor units (cents) as the currency's amount, e.g. 1234 EUR as "€12.34".
export function money(minor, currency) {
  if (minor === null || minor === undefined) return "—";
  if (!currency) return String(minor);
  return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(minor / 10 ** currencyDigits(currency));
}

export const kwh = (wh) => (wh === null || wh === undefined ? "—" : `${(wh / 1000).toFixed(2)} kWh`);

export function table(id, caption, headings, rows) {
  return h("div", { class: "scroll" }, h("table", { id },
    h("caption", { text: caption }),
    h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col", text })))),
    h("tbody", {}, rows)));
}

// Terms and their values; a value may be an element (a badge, a link).
export function facts(id, pairs) {
  return h("dl", { id, class: "facts" }, pairs.map(([term, value]) =>
    h("div", {}, h("dt", { text: term }), h("dd", {}, value === null || value === undefined || value === "" ? "—" : value))));
}

// A labelled select whose first option is "any" (value ""): `options` are [value, text] pairs.
export function select(id, label, options, value, anyText = "any") {
  const element = h("select", { id, name: id }, anyText === null ? null : h("option", { value: "", text: anyText }),
    options.map(([optionValue, text]) => h("option", { value: optionValue, text, selected: optionValue === value })));
  return h("div", { class: "field" }, h("label", { for: id, text: label }), element);
}

export function section(id, title, ...children) {
  return h("section", { id, "aria-labelledby": `${id}-title` }, h("h2", { id: `${id}-title`, text: title }), children);
}

// A detail page's head: a link back to its list, its title, and the alert its errors go to (answered).
export function pageHead(main, [href, text], ...title) {
  const error = h("p", { class: "error", role: "alert" });
  main.append(h("p", {}, link(href, `← ${text}`)), h("h1", {}, title), error);
  return error;
}

// A page's first read: the API's answer, or null with its refusal shown in `error`.
export async function firstRead(error, request) {
  try {
    return await request;
  } catch (failure) {
    error.textContent = problemText(failure);
    return null;
  }
}

// A page's refresh: its alert cleared when `work` succeeds, the API's refusal shown in it when not.
export async function attempt(error, work) {
  try {
    await work();
    error.textContent = "";
  } catch (failure) {
    error.textContent = problemText(failure);
  }
}

const FOCUSABLE = "a[href], button, input, select, textarea, summary";
const identity = (element) => `${element.tagName}${JSON.stringify({ ...element.dataset })}`;

// Runs `redraw` (which replaces rows or cards inside `container`) and keeps the keyboard's place: the focused
// control is found again in its row by the row's data-* identity, so a refresh never throws a keyboard user back to
// the top of the page.
export function keepingFocus(container, redraw) {
  const focused = document.activeElement;
  const holder = focused && container.contains(focused) ? focused.closest("tr, li") : null;
  const key = holder && container.contains(holder) ? identity(holder) : null;
  const index = key ? [...holder.querySelectorAll(FOCUSABLE)].indexOf(focused) : -1;
  redraw();
  if (key === null || focused.isConnected) return;
  const again = [...container.querySelectorAll("tr, li")].find((candidate) => identity(candidate) === key);
  again?.querySelectorAll(FOCUSABLE)[index]?.focus();
}

export const chargerLink = (id) => link(route("chargers", id), id);

// A site's fleet, filtered to it; null for none (facts show "—").
export const siteLink = (id) => (id ? link(`#/fleet?site=${encodeURIComponent(id)}`, id) : null);

// A fact only when it has a value: `[...optional("Note", x)]` in a list of facts.
export const optional = (term, value) => (value === null || value === undefined || value === "" ? [] : [[term, value]]);

// Keeps a page's filters in its address (`#/fleet?site=depot`), without a new history entry: a link or a bookmark
// opens the page filtered the same way.
export function keepInAddress(page, filters) {
  const kept = new URLSearchParams(Object.entries(filters).filter(([, value]) => value)).toString();
  history.replaceState(null, "", `${page}${kept ? `?${kept}` : ""}`);
}

// An action as a small form: its fields, a button, and `act(form)`, which answers whether it was done; the form is
// cleared only then (a refused note stays to be fixed), and the button is off while the request runs (one a click).
export function actionForm(id, title, fields, button, act) {
  const submit = h("button", { id: button.id, type: "submit", text: button.text });
  const form = h("form", { id, class: "card action", "aria-labelledby": `${id}-title` },
    h("h3", { id: `${id}-title`, text: title }), fields, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      if (await act(form)) form.reset(); // a refused note stays to be fixed
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export const textField = (id, label, tag, attrs = {}) => h("div", { class: "field" }, h("label", { for: id, text: label }),
  h(tag, { id, name: id, ...attrs }));
