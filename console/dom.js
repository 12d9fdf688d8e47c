// Builds elements without innerHTML, so no text from the API is ever read as markup.
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
