// The console's pure pieces under node's test runner (no browser): the figures a page charts and the order it lists.
import assert from "node:assert/strict";
import { test } from "node:test";

import { money } from "../../../console/dom.js";
import { summary } from "../../../console/pages/fleet.js";
import { byUrgency } from "../../../console/pages/incidents.js";
import { meterSeries } from "../../../console/pages/session.js";
import { minorUnits } from "../../../console/pages/invoice.js";
import { daily } from "../../../console/pages/uptime.js";

const energy = (at, kwh) => ({ timestamp: at, sampled_value: [{ value: String(kwh), measurand: "Energy.Active.Import.Register", unit: "kWh" }] });

test("a session's energy counts from its meter start and its power is derived when the charger sent none", () => {
  const series = meterSeries({
    meter_start: 1000, meter_stop: 3000, started_at: "2026-03-01T10:00:00Z", stopped_at: "2026-03-01T10:20:00Z",
    meter_values: [energy("2026-03-01T10:10:00Z", 3)],
  });
  assert.deepEqual(series.energy.map(([, kwh]) => kwh), [0, 2, 2]);
  assert.equal(series.derived, true);
  assert.deepEqual(series.power.map(([, kw]) => kw), [12, 0]); // 2 kWh in 10 minutes, then nothing
});

test("a session's power is the charger's own samples when it sent them", () => {
  const sample = { timestamp: "2026-03-01T10:10:00Z", sampled_value: [
    { value: "7400", measurand: "Power.Active.Import", unit: "W" }, { value: "1500", measurand: "Energy.Active.Import.Register", unit: "Wh" }] };
  const series = meterSeries({ meter_start: null, meter_stop: null, started_at: "2026-03-01T10:00:00Z", stopped_at: null,
    meter_values: [sample] });
  assert.equal(series.derived, false);
  assert.deepEqual(series.power, [[Date.parse("2026-03-01T10:10:00Z"), 7.4]]);
  assert.deepEqual(series.energy.map(([, kwh]) => kwh), [0]); // no meter start: the first reading is the base
});

test("uptime per day: none before the port existed, an outage across midnight counted on both days, exclusions pro rata", () => {
  const { days, ports } = daily({
    from: "2026-03-01T00:00:00Z", to: "2026-03-04T00:00:00Z",
    ports: [{ charge_point_id: "CP", evse_id: 1, registered_at: "2026-03-02T00:00:00Z", outages: [
      { from: "2026-03-02T23:00:00Z", to: "2026-03-03T01:00:00Z", minutes: 120, excluded_minutes: 60 }] }],
  });
  assert.deepEqual(days, ["2026-03-01", "2026-03-02", "2026-03-03"]);
  const halfAnHourDown = Math.round(((1440 - 30) / 1440) * 1e6) / 1e4;
  assert.deepEqual(ports[0].values, [null, halfAnHourDown, halfAnHourDown]);
  assert.equal(ports[0].name, "CP EVSE 1");
});

test("incidents: open before resolved, then the most severe, then the newest", () => {
  const incidents = [
    { id: "resolved-critical", status: "resolved", severity: "critical", opened_at: "2026-03-03T00:00:00Z" },
    { id: "open-low", status: "open", severity: "low", opened_at: "2026-03-03T00:00:00Z" },
    { id: "open-high-old", status: "open", severity: "high", opened_at: "2026-03-01T00:00:00Z" },
    { id: "open-high-new", status: "open", severity: "high", opened_at: "2026-03-02T00:00:00Z" },
    { id: "open-unrated", status: "open", severity: null, opened_at: "2026-03-04T00:00:00Z" },
  ];
  assert.deepEqual(incidents.sort(byUrgency).map((i) => i.id),
    ["open-high-new", "open-high-old", "open-low", "open-unrated", "resolved-critical"]);
});

test("a site's overview counts a charger once per state, whichever connector is in it", () => {
  const counts = summary([
    { connected: true, status: "Available", connectors: [{ status: "Charging" }, { status: "Faulted" }] },
    { connected: false, status: null, connectors: [{ status: "Available" }] },
  ]);
  assert.deepEqual(counts, { up: 1, charging: 1, faulted: 1, offline: 1 });
});

test("money is in the currency's minor units", () => {
  assert.match(money(1234, "EUR"), /12\.34/);
  assert.match(money(1234, "JPY"), /1,234/);
  assert.equal(money(null, "EUR"), "—");
});

test("a refund typed in the currency's units is sent in its minor units; empty is all of it", () => {
  assert.equal(minorUnits("1.50", "EUR"), 150);
  assert.equal(minorUnits("2,5", "EUR"), 250);
  assert.equal(minorUnits("300", "JPY"), 300);
  assert.equal(minorUnits("  ", "EUR"), null);
  assert.ok(Number.isNaN(minorUnits("-1", "EUR")));
  assert.ok(Number.isNaN(minorUnits("12 EUR", "EUR")));
});
