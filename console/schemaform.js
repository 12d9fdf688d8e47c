// A form from an OCPP request's JSON schema: a field per property (ids `cmd-<path>`, the path joined by "-"),
// enums as selects, objects as fieldsets, arrays and untyped values as JSON text. `read()` answers the payload,
// leaving out what was left empty; the API validates the rest and says what to fix.
import { h } from "./dom.js";

const SKIPPED = new Set(["customData"]); // 2.0.1's vendor extension point on every type: noise in a form

function resolve(node, root) {
  let resolved = node;
  while (resolved && resolved.$ref) {
    resolved = resolved.$ref.replace(/^#\//, "").split("/").reduce((at, key) => at[key], root);
  }
  return resolved || {};
}

function labelFor(id, name, node, required) {
  return h("label", { for: id }, name, required ? h("abbr", { class: "required", title: "required", text: " *" }) : null);
}

function hint(id, node) {
  const parts = [node.description && node.description.trim(), node.format && `format ${node.format}`,
    node.maxLength && `at most ${node.maxLength} characters`].filter(Boolean);
  return parts.length ? h("small", { id: `${id}-hint`, class: "hint", text: parts.join("; ") }) : null;
}

function scalar(id, name, node, required) {
  const described = hint(id, node);
  const common = { id, name: id, "aria-required": String(required), "aria-describedby": described ? `${id}-hint` : null };
  let input;
  let read;
  if (node.enum || node.type === "boolean") {
    const values = node.enum || ["true", "false"];
    input = h("select", common, h("option", { value: "", text: required ? "choose…" : "(none)" }),
      values.map((value) => h("option", { value: String(value), text: String(value) })));
    read = () => (input.value === "" ? undefined : node.type === "boolean" ? input.value === "true" : input.value);
  } else if (node.type === "integer" || node.type === "number") {
    input = h("input", { ...common, type: "number", step: node.type === "integer" ? "1" : "any",
      min: node.minimum, max: node.maximum });
    read = () => (input.value === "" ? undefined : Number(input.value));
  } else if (node.type === "string") {
    input = h("input", { ...common, type: "text", maxlength: node.maxLength,
      placeholder: node.format === "date-time" ? "2026-01-31T12:00:00Z" : null });
    read = () => (input.value === "" ? undefined : input.value);
  } else {
    input = h("textarea", { ...common, rows: "3", placeholder: node.type === "array" ? "a JSON array, e.g. [ ]" : "JSON" });
    read = () => {
      if (input.value.trim() === "") return undefined;
      try {
        return JSON.parse(input.value);
      } catch {
        throw new Error(`${name}: not JSON (${input.value.slice(0, 40)})`);
      }
    };
  }
  return { element: h("div", { class: "field" }, labelFor(id, name, node, required), input, described), read };
}

function field(path, name, node, required, root) {
  const resolved = resolve(node, root);
  const id = ["cmd", ...path].join("-");
  if (resolved.type !== "object" || !resolved.properties) return scalar(id, name, resolved, required);
  const fields = properties(path, resolved, root);
  const element = h("fieldset", { id, class: "nested" },
    h("legend", {}, name, required ? h("abbr", { class: "required", title: "required", text: " *" }) : null),
    fields.map((f) => f.element));
  const read = () => {
    const value = collect(fields);
    return Object.keys(value).length || required ? value : undefined;
  };
  return { element, read };
}

function properties(path, node, root) {
  const required = new Set(node.required || []);
  return Object.entries(node.properties || {}).filter(([name]) => !SKIPPED.has(name))
    .map(([name, child]) => ({ name, ...field([...path, name], name, child, required.has(name), root) }));
}

function collect(fields) {
  const value = {};
  for (const f of fields) {
    const read = f.read();
    if (read !== undefined) value[f.name] = read;
  }
  return value;
}

export function schemaForm(schema) {
  const fields = properties([], schema, schema);
  const element = h("div", { class: "schema-form" },
    fields.length ? fields.map((f) => f.element) : h("p", { class: "muted", text: "This action takes no fields." }));
  return { element, read: () => collect(fields) };
}
