// An incident: what and where, the knowledge base's explanation (causes, steps, what to tell drivers), its
// remediation attempts and timeline; and the operator's actions (acknowledge, assign, note, resolve), each a small
// form. After an action the page shows the incident the API answered; a refusal shows the API's message. A key whose
// scope may not act (or that a 403 refused) sees no forms. Refreshed every 10 s.
import { api, forbid, may } from "../api.js";
import { actionForm, chargerLink, facts, firstRead, h, link, pageHead, problemText, route, section, statusBadge, table, textField, when } from "../dom.js";
import { incidentStatus, place, severityBadge } from "./incidents.js";

const REFRESH_MS = 10000;
const ACKNOWLEDGE = ["POST", "/incidents/{incident_id}/acknowledge"];

const minutes = (seconds) => (seconds === null || seconds === undefined ? "—" : `${Math.round(seconds / 60)} min`);

function summary(incident) {
  return facts("incident-info", [
    ["Charger", chargerLink(incident.charge_point_id)],
    ["EVSE/connector", `${place(incident)} (${incident.component})`],
    ["Problem code", h("code", { text: incident.problem_code })],
    ["Vendor code", incident.vendor_code], ["Info", incident.info],
    ["Severity", severityBadge(incident.severity)],
    ["Reported as", incident.reported_severity],
    ["Status", h("span", { id: "incident-status" }, incidentStatus(incident))],
    ["Connector status", incident.connector_status ? statusBadge(incident.connector_status) : null],
    ["Opened", when(incident.opened_at)], ["Latest report", when(incident.last_seen)],
    ["Reports", String(incident.count)], ["Duration", minutes(incident.duration_s)],
    ["Resolved", incident.resolved_at ? `${when(incident.resolved_at)} by ${incident.resolved_by || "—"}` : null],
    ["Acknowledged", incident.acknowledged_at ? `${when(incident.acknowledged_at)} by ${incident.acknowledged_by || "—"}` : null],
    ["Assignee", h("span", { id: "incident-assignee", text: incident.assignee || "—" })],
    ["Escalated", incident.escalated_at ? `${when(incident.escalated_at)}: ${incident.escalation_reason || ""}` : null],
    ["Charging interrupted", incident.charging_interrupted ? "yes" : "no"],
    ["Session", incident.session_id ? link(route("sessions", incident.session_id), incident.session_id) : null],
    ["Charger at the time", [incident.charge_point_vendor, incident.charge_point_model, incident.firmware_version].filter(Boolean).join(" · ")],
  ]);
}

// The incident carries the knowledge base's explanation; an incident explained by no entry asks GET
// /error-codes/{code} for the built-in one of its code, if there is one.
async function explanation(incident) {
  let entry = incident;
  let source = incident.kb_entry_id ? `knowledge base entry ${incident.kb_entry_id} v${incident.kb_version}` : null;
  if (!incident.title && !(incident.causes || []).length) {
    try {
      const known = await api(`/error-codes/${encodeURIComponent(incident.problem_code)}`);
      const builtin = known.builtin.find((e) => e.ocpp_version === "*") || known.builtin[0];
      if (builtin) [entry, source] = [builtin, `knowledge base entry ${builtin.id} v${builtin.version} (the code's built-in one)`];
    } catch (failure) {
      if (failure.status !== 404) throw failure;
    }
  }
  const list = (tag, id, items) => (items && items.length
    ? h(tag, { id }, items.map((text) => h("li", { text }))) : h("p", { id, class: "muted", text: "none given" }));
  const driver = entry.driver_message || {};
  return section("incident-explanation", "Cause and what to do",
    h("p", { id: "incident-title", text: entry.title || "The knowledge base does not explain this code." }),
    source ? h("p", { class: "muted", text: `From ${source}.` }) : null,
    h("h3", { text: "Likely causes (most likely first)" }), list("ul", "incident-causes", entry.causes),
    h("h3", { text: "Steps to take" }), list("ol", "incident-steps", entry.steps),
    facts("incident-remedy", [["Remote action", entry.remote_action || "none"],
      ["Tell drivers", driver.en || null]]));
}

function attemptRows(attempts) {
  return attempts.map((a) => h("tr", {},
    h("td", { text: String(a.attempt) }), h("td", { text: a.remedy }), h("td", { text: a.action }),
    h("td", {}, h("code", { text: JSON.stringify(a.payload || {}) })),
    h("td", { class: "status" }, statusBadge(a.outcome)),
    h("td", { text: when(a.requested_at) }), h("td", { text: when(a.answered_at) }), h("td", { text: when(a.judged_at) })));
}

function details(entry) {
  const parts = [
    entry.status ? `status ${entry.status}` : null, entry.problem_code ? `code ${entry.problem_code}` : null,
    entry.vendor_code ? `vendor code ${entry.vendor_code}` : null, entry.info ? `info ${entry.info}` : null,
    entry.text ? `“${entry.text}”` : null, entry.note ? `why: ${entry.note}` : null,
    entry.assignee ? `to ${entry.assignee}` : null,
    entry.attempt ? `attempt ${entry.attempt}: ${entry.remedy || ""} (${entry.action || ""}) ${entry.outcome || ""}` : null,
    entry.reason ? `reason: ${entry.reason}` : null, entry.by ? `by ${entry.by}` : null];
  return parts.filter(Boolean).join(" · ");
}

function timelineRows(timeline) {
  return timeline.map((entry) => h("tr", { "data-kind": entry.kind },
    h("td", { text: when(entry.at) }), h("td", {}, statusBadge(entry.kind)), h("td", { text: details(entry) || "—" })));
}

export async function render(main, [incidentId]) {
  const path = `/incidents/${encodeURIComponent(incidentId)}`;
  const error = pageHead(main, ["#/incidents", "Incidents"], "Incident ", h("code", { text: incidentId }));
  let incident = await firstRead(error, api(path));
  if (!incident) return null;
  const infoSlot = h("div", {});
  const explanationSlot = h("div", {});
  const attempts = table("incident-attempts", "Automatic remediation attempts, in order",
    ["#", "Remedy", "OCPP action", "Payload", "Outcome", "Requested", "Answered", "Judged"], []);
  const timeline = table("incident-timeline", "Reports and everything done about them",
    ["At", "What", "Details"], []);
  const result = h("p", { id: "action-result", role: "status", "aria-live": "polite" });
  const refusal = h("p", { id: "action-error", class: "error", role: "alert" });
  const actions = h("div", { id: "incident-actions", class: "cards actions" });
  const actionsNote = h("p", { id: "incident-actions-note", class: "muted" });

  async function draw(latest) {
    incident = latest;
    infoSlot.replaceChildren(summary(latest));
    explanationSlot.replaceChildren(await explanation(latest));
    attempts.querySelector("tbody").replaceChildren(...attemptRows(latest.attempts || []));
    timeline.querySelector("tbody").replaceChildren(...timelineRows(latest.timeline || []));
    const readOnly = !may(...ACKNOWLEDGE);
    actions.hidden = readOnly || latest.status !== "open";
    actionsNote.textContent = readOnly
      ? "This API key may not act on incidents; it may only read them. Operator and admin keys may."
      : latest.status !== "open" ? "This incident is resolved: nothing more can be done about it." : "";
  }

  async function act(what, body, done) {
    result.textContent = "";
    refusal.textContent = "";
    try {
      await draw(await api(`${path}/${what}`, { method: "POST", body }));
      result.textContent = done;
      return true;
    } catch (failure) {
      if (failure.status === 403) forbid(...ACKNOWLEDGE);
      refusal.textContent = problemText(failure);
      if (failure.status === 403) await draw(incident);
      return false;
    }
  }

  actions.append(
    actionForm("acknowledge-form", "Acknowledge", h("p", { class: "muted", text: "Say someone has seen it." }),
      { id: "acknowledge", text: "Acknowledge" }, () => act("acknowledge", undefined, "Acknowledged.")),
    actionForm("assign-form", "Assign", textField("assignee", "Assignee (a person, a team, a ticket queue)", "input",
      { maxlength: "200", autocomplete: "off" }), { id: "assign", text: "Assign" },
    (form) => act("assign", { assignee: form.elements.assignee.value }, "Assigned.")),
    actionForm("note-form", "Add a note", textField("note-text", "Note", "textarea", { maxlength: "2000", rows: "3" }),
      { id: "add-note", text: "Add note" }, (form) => act("notes", { text: form.elements["note-text"].value }, "Note added.")),
    actionForm("resolve-form", "Resolve", textField("resolution-note", "Why, or what fixed it (optional)", "textarea",
      { maxlength: "2000", rows: "3" }), { id: "resolve", text: "Resolve" },
    (form) => act("resolve", { note: form.elements["resolution-note"].value || null }, "Resolved.")));

  async function refresh() {
    try {
      await draw(await api(path));
      error.textContent = "";
    } catch (failure) {
      error.textContent = problemText(failure);
    }
  }

  main.append(infoSlot, explanationSlot,
    section("incident-act", "Act on it", actionsNote, actions, result, refusal),
    section("incident-attempts-section", "Remediation attempts", attempts),
    section("incident-timeline-section", "Timeline", timeline));
  try {
    await draw(incident);
  } catch (failure) {
    error.textContent = problemText(failure);
  }
  const timer = setInterval(refresh, REFRESH_MS);
  return () => clearInterval(timer);
}
